"""Beijing dates and times on every page, at 00:30 Beijing time, when the UTC date is still yesterday's."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import localtime
from tests.helpers import YEARS, Browser, Item, deploy_timed, liaison, register

pytestmark = pytest.mark.sqlite_only

# Thursday 2026-11-05 00:30 in Beijing is Wednesday 2026-11-04 16:30 in UTC.
HALF_PAST_MIDNIGHT = datetime(2026, 11, 4, 16, 30, tzinfo=UTC)
SHOWN = "2026-11-05 00:30"


@pytest.fixture
def at_half_past_midnight(clock):
    clock.move_to(HALF_PAST_MIDNIGHT)
    return clock


@pytest.fixture
def browser(zjtx):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})

    def make(user):
        b = Browser(app)
        assert b.login(user).status_code == 302
        return b
    return make


def test_today_is_the_beijing_day(at_half_past_midnight):
    assert datetime.now(UTC).date() == date(2026, 11, 4)
    assert localtime.today(lambda: datetime.now(UTC), "Asia/Shanghai") == date(2026, 11, 5)
    assert localtime.shown(HALF_PAST_MIDNIGHT, "Asia/Shanghai") == SHOWN
    assert localtime.shown(HALF_PAST_MIDNIGHT.replace(tzinfo=None), "Asia/Shanghai") == SHOWN  # naive = UTC
    assert localtime.chinese_date(HALF_PAST_MIDNIGHT) == "2026年11月5日"


def test_the_dispatch_preview_and_the_liaisons_deadline_agree(zjtx, browser, at_half_past_midnight):
    from engine.storage.models import HumanTask

    preview = browser("dispatcher").get("/api/v1/calendar/add-working-days?days=3").get_json()
    # Thursday 5th + 3 working days counted from the next day: Mon 9th, Tue 10th (Fri 6th first) → 10th
    assert preview["start"] == "2026-11-05" and preview["due"] == "2026-11-10"
    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局", days=3)
    item.sign("区科技局")
    handle = item.task("handle", "区科技局")
    with zjtx.db.read() as session:
        due_at = session.get(HumanTask, handle["id"]).due_at
    assert localtime.local(due_at, "Asia/Shanghai").date().isoformat() == preview["due"]
    page = browser(liaison("区科技局")).get(f"/tasks/{handle['id']}").get_data(as_text=True)
    assert preview["due"] in page


def test_a_circulars_publication_time_is_beijing_time(zjtx, browser, at_half_past_midnight):
    from engine.storage.models import Circular

    with zjtx.db.write() as session:
        session.add(Circular(period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), title="十月通报",
                             status="published", year=2026, seq=1, number="黔江专精特新通报〔2026〕1号",
                             figures={"table": []}, text="十月通报\n正文", published_at=HALF_PAST_MIDNIGHT,
                             published_by="office"))
    page = browser("dispatcher").get("/circulars/").get_data(as_text=True)
    assert SHOWN in page and "2026-11-04" not in page


def test_the_designers_deployment_time_is_beijing_time(zjtx, browser, at_half_past_midnight):
    deploy_timed(zjtx)
    page = browser("designer").get("/designer/").get_data(as_text=True)
    assert SHOWN in page and "2026-11-04 16:30" not in page


def test_the_change_log_reads_in_beijing_time_and_in_words(zjtx, browser, at_half_past_midnight):
    enterprise_id = register(zjtx, years=YEARS[:1], service_officer="officer")
    at_half_past_midnight.shift(timedelta(hours=10))
    page = browser("dispatcher").get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert f"<time>{SHOWN}</time>" in page
    assert "服务专员：— → 服务专员（officer）" in page
    assert "2023 年营业收入：— → 1,800.00 万元" in page and "2023 年净利润：— → 120.00 万元" in page
    assert "service_officer_id" not in page and "2023.revenue" not in page and "18000000" not in page
    assert "梯度：— → 无" in page or "梯度" not in page.split("变更记录")[1]


def test_an_admission_is_logged_by_the_system_in_words(zjtx):
    from engine.storage.models import Enterprise, EnterpriseChange

    enterprise_id = register(zjtx)
    with zjtx.db.write() as session:
        session.add(EnterpriseChange(enterprise_id=enterprise_id, at=HALF_PAST_MIDNIGHT, actor="system",
                                     source="admission", changes={"in_pool": [False, True],
                                                                  "pool_since": [None, "2026-11-05"]}))
        assert session.scalar(select(Enterprise.id).where(Enterprise.id == enterprise_id))
    record = zjtx.enterprises.get(enterprise_id)
    admission = record["history"][0]
    assert admission["actor_name"] == "系统"
    assert [(c["label"], c["old"], c["new"]) for c in admission["described"]] == [
        ("培育库", "未入库", "在库"), ("入库日期", "—", "2026-11-05")]
