"""企业端 首页 (issue 19): it tells the contact what waits for them (an answer to rate, figures sent back) with a
link to do it, the problems under way with their lead unit and deadline, and where the enterprise stands for
the pool; nothing of another enterprise."""
from __future__ import annotations

import re

import pytest

from engine.identity.authz import actor_for
from tests.helpers import enterprise_session, register, uscc
from tests.web.test_enterprise_request_pages import LEAD, Submitted, submit, text

pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("clock")]
OTHER = uscc("91500114MA5U7HPM8")
FIGURES = {"revenue": "26000000", "rd_expense": "780000", "net_profit": "1500000", "total_assets": "40000000",
           "total_liabilities": "22000000", "employees": "185"}


def made(response) -> int:
    return int(re.search(r"/qiye/items/(\d+)", response.headers["Location"]).group(1))


def section(page: str, name: str) -> str:
    return page.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]


def test_the_home_page_says_what_waits_and_what_is_under_way(app, zjtx):
    client = enterprise_session(app, zjtx)
    page = text(client.get("/qiye/"))
    assert "目前没有需要您处理的事项" in section(page, "todo") and "没有办理中的诉求" in section(page, "under-way")
    assert "符合培育入库条件" in section(page, "pool-standing") and "去申请入库" in section(page, "pool-standing")

    answered, under_way = Submitted(zjtx, made(submit(client))), Submitted(zjtx, made(submit(client)))
    answered.to_review(LEAD)
    answered.do("review", {"review_decision": "accept"}, "dispatcher")
    under_way.accept()
    under_way.dispatch(LEAD, days=5)
    assert under_way.task("sign", LEAD)["due_at"].startswith("2026-11-05")  # 签收 the next working day
    due = "2026-11-11"  # handled within 5 working days from the dispatch's day (Wednesday 2026-11-04)
    page = text(client.get("/qiye/"))
    todo, going = section(page, "todo"), section(page, "under-way")
    assert f"{answered.key} 已答复，请查看并评价" in todo and f"/qiye/items/{answered.id}#rating" in todo
    assert under_way.key in going and answered.key not in going
    assert f"主办单位 {LEAD}" in going and f"办理期限 {due}" in going

    assert client.post("/qiye/pool/figures", FIGURES).status_code == 302
    with zjtx.db.read() as session:
        officer = actor_for(session, "officer")
    update = zjtx.pool_portal.pending_updates(officer)[0]
    zjtx.pool_portal.decide_update(officer, update["id"], False, "营业收入与报表不一致")
    assert client.post("/qiye/pool/apply", {}).status_code == 302
    page = text(client.get("/qiye/"))
    assert "2025 年度数据未通过服务专员确认（营业收入与报表不一致），请核对后重新报送" in section(page, "todo")
    assert "行业主管部门审核中" in section(page, "pool-standing")

    register(zjtx, uscc=OTHER, name="重庆黔江另一家企业有限公司")
    theirs = text(enterprise_session(app, zjtx, uscc=OTHER).get("/qiye/"))
    assert answered.key not in theirs and under_way.key not in theirs and "目前没有需要您处理的事项" in theirs
