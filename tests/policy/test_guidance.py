"""拟培育库 (issue 18 point 5): the yearly data update re-runs the cultivation decision; an enterprise one
criterion short of the standard is listed for its industry department with the gap; the department
records guidance visits, audited; another department neither sees nor records."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from engine.errors import NotFound, ValidationFailed
from engine.identity.authz import actor_for
from engine.storage.models import AuditRecord, Enterprise, GuidanceGap
from tests.helpers import GOOD, RECORD, YEARS, liaison, register

BJ = ZoneInfo("Asia/Shanghai")
COMMERCE, TRANSPORT = "区商务委", "区交通局"  # 批发业 is reviewed by 区商务委


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def actor(zjtx, username):
    with zjtx.db.read() as session:
        return actor_for(session, username)


def update(zjtx, enterprise_id, years):
    """The registry's save of new figures for the enterprise (as the service officer's yearly update does)."""
    record = {**RECORD, "industry": "批发业", "tier": "无", "tier_since": None}
    return zjtx.enterprises.save(actor(zjtx, "dispatcher"), record, years, enterprise_id)


def with_2025(**figures):
    return [*YEARS[:2], {**YEARS[2], **figures}]


def test_an_enterprise_below_the_standard_at_its_yearly_update_goes_to_removal_review(zjtx):
    with time_machine.travel(at("2027-03-01 10:00"), tick=False) as clock:
        enterprise_id = register(zjtx)  # in 2027 the decision reads 2026's figures: none yet
        with zjtx.db.write() as session:
            session.scalar(select(Enterprise).where(Enterprise.uscc == GOOD)).in_pool = True
        started = zjtx.workflows.start("pool_data_update", {"enterprise_uscc": GOOD, "update_year": 2027},
                                       actor="dispatcher")
        # The service officer enters 2026: revenue 9,000,000 (900万元 < 1000万元) and R&D 1% of it.
        update(zjtx, enterprise_id, [*YEARS, {"year": 2026, "revenue": 9_000_000, "rd_expense": 90_000,
                                           "net_profit": 1_600_000, "total_assets": 40_000_000,
                                           "total_liabilities": 20_000_000}])
        clock.shift(3600)
        [task] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "update_data"]
        zjtx.workflows.complete(task["id"], {"data_updated": True}, "officer")
        shown = zjtx.queries.show(started["id"])
        assert shown["item_status"] == "不再符合培育条件，待移出审查"
        [review] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "removal_review"]
        zjtx.workflows.complete(review["id"], {"remove_from_pool": True,
                                               "removal_reason": "2026年营业收入、研发投入比重均未达培育条件"},
                                "dispatcher")
    with zjtx.db.read() as session:
        enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == GOOD))
        assert enterprise.in_pool is False
        # Two mandatory criteria missed: not one short, so not on the guidance list either.
        assert session.scalar(select(GuidanceGap).where(GuidanceGap.enterprise_id == enterprise.id)) is None


@pytest.mark.usefixtures("clock")  # November 2026: the decision reads 2025's figures
def test_an_enterprise_still_meeting_the_standard_stays_after_its_update(zjtx):
    register(zjtx)
    started = zjtx.workflows.start("pool_data_update", {"enterprise_uscc": GOOD, "update_year": 2027},
                                   actor="dispatcher")
    [task] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "update_data"]
    zjtx.workflows.complete(task["id"], {"data_updated": True}, "officer")
    assert zjtx.queries.show(started["id"])["item_status"] == "已更新"


@pytest.mark.usefixtures("clock")
def test_one_criterion_short_is_listed_with_the_gap_and_leaves_the_list_when_met(zjtx):
    # R&D 416,000 of revenue 26,000,000 = 1.6% (standard ≥ 2%): short by 0.4 points; all else passes.
    enterprise_id = register(zjtx, years=with_2025(rd_expense=416_000))
    rows, total = zjtx.guidance.list(actor(zjtx, liaison(COMMERCE)))
    assert total == 1
    [row] = rows
    assert (row["enterprise_id"], row["department"], row["criterion"]) == (enterprise_id, COMMERCE, "rd_ratio")
    assert row["gaps"][0]["value"] == 1.6 and row["gaps"][0]["shortfall"] == 0.4
    assert row["summary"] == "上年研发投入占营业收入比重：1.60%，标准 ≥ 2%，差 0.40%"
    # Revenue 8,500,000 (850万元 vs 1000万元) with R&D exactly 2%: now the revenue is the one criterion.
    update(zjtx, enterprise_id, with_2025(revenue=8_500_000, rd_expense=170_000))
    [row] = zjtx.guidance.list(actor(zjtx, liaison(COMMERCE)))[0]
    assert row["criterion"] == "revenue_min"
    assert row["summary"] == "上年营业收入不低于1000万元：850.00万元，标准 ≥ 1000 万元，差 150.00万元"
    update(zjtx, enterprise_id, YEARS)  # the standard met again: off the list
    assert zjtx.guidance.list(actor(zjtx, liaison(COMMERCE))) == ([], 0)


@pytest.mark.usefixtures("clock")
def test_the_department_records_a_visit_audited_and_another_department_cannot(zjtx):
    enterprise_id = register(zjtx, years=with_2025(rd_expense=416_000))
    visit = {"visited_on": "2026-11-03", "visitors": "区商务委 张三、李四",
             "advice": "研发投入占比1.6%，建议将委托研发费用归集入账", "next_step": "12月底前复核研发费用台账"}
    other = actor(zjtx, liaison(TRANSPORT))
    assert zjtx.guidance.list(other) == ([], 0)
    with pytest.raises(NotFound):
        zjtx.guidance.record_visit(other, enterprise_id, visit)
    with pytest.raises(ValidationFailed) as caught:
        zjtx.guidance.record_visit(actor(zjtx, liaison(COMMERCE)), enterprise_id, {**visit, "advice": " "})
    assert "指导内容" in caught.value.errors["advice"]
    zjtx.guidance.record_visit(actor(zjtx, liaison(COMMERCE)), enterprise_id, visit)
    [row] = zjtx.guidance.list(actor(zjtx, liaison(COMMERCE)))[0]
    [recorded] = row["visits"]
    assert (recorded["visitors"], recorded["next_step"], recorded["recorded_by"]) == \
        (visit["visitors"], visit["next_step"], liaison(COMMERCE))
    assert str(recorded["visited_on"]) == "2026-11-03"
    with zjtx.db.read() as session:
        [audit] = session.scalars(select(AuditRecord).where(AuditRecord.action == "guidance_visit")).all()
        assert audit.actor == liaison(COMMERCE) and audit.data["department"] == COMMERCE
        assert audit.data["advice"] == visit["advice"]


@pytest.mark.usefixtures("clock")
def test_the_guidance_page_shows_the_department_its_list_only(zjtx):
    from tests.helpers import Browser
    from web import create_app

    enterprise_id = register(zjtx, years=with_2025(rd_expense=416_000))
    app = create_app(zjtx, {"TESTING": True})
    own, other = Browser(app), Browser(app)
    assert own.login(liaison(COMMERCE)).status_code == 302 and other.login(liaison(TRANSPORT)).status_code == 302
    page = own.get("/enterprises/guidance/").get_data(as_text=True)
    assert "重庆黔江某精密制造有限公司" in page and "差 0.40%" in page
    assert "重庆黔江某精密制造有限公司" not in other.get("/enterprises/guidance/").get_data(as_text=True)
    visit = {"visited_on": "2026-11-03", "visitors": "张三", "advice": "归集研发费用", "next_step": "月底复核"}
    assert other.post(f"/enterprises/guidance/{enterprise_id}/visits", visit).status_code == 404
    assert own.post(f"/enterprises/guidance/{enterprise_id}/visits", visit).status_code == 302
    assert "归集研发费用" in own.get("/enterprises/guidance/").get_data(as_text=True)
    assert "归集研发费用" not in other.get("/enterprises/guidance/").get_data(as_text=True)


def test_the_command_lists_enterprises_saved_before_the_list_existed(zjtx):
    with time_machine.travel(at("2026-11-04 10:00"), tick=False):
        enterprise_id = register(zjtx, years=with_2025(rd_expense=416_000))
        with zjtx.db.write() as session:  # as a record saved before this change: no gap row
            session.execute(GuidanceGap.__table__.delete())
        assert zjtx.guidance.list(actor(zjtx, liaison(COMMERCE)))[1] == 0
        assert zjtx.guidance.refresh_all(batch=1) == 1
        [row] = zjtx.guidance.list(actor(zjtx, liaison(COMMERCE)))[0]
        assert row["enterprise_id"] == enterprise_id and row["criterion"] == "rd_ratio"
