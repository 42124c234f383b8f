"""The enterprise portal's pool pages (issue 19): /qiye/pool for the signed-in enterprise only (its own
admissions; another's is 404; a staff session refused), the public 公示 without sign-in, its objection form
(CSRF, Chinese errors naming the field, a rate limit) and the objections on the admission's item page."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from engine.policy.pool.portal import PortalUser
from engine.storage.models import AuditRecord, Enterprise, EnterpriseYear
from engine.storage.models.pool_portal import NoticeObjection
from tests.helpers import GOOD, Browser, enterprise_session, register, uscc

pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("clock")]
OTHER = uscc("91500114MA5U8YYY7")
REASON = "该企业2025年研发投入数据与实际不符"


def open_task(zjtx, instance_id, bpmn_id):
    [task] = [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]
    return task


def in_notice(zjtx, enterprise_id) -> dict:
    started = zjtx.pool_portal.apply(PortalUser(enterprise_id, None, "张经理"))
    zjtx.workflows.complete(open_task(zjtx, started["id"], "industry_review")["id"], {"review_approved": True},
                            "commerce_commission_liaison")
    zjtx.workflows.complete(open_task(zjtx, started["id"], "commission_review")["id"], {"review_approved": True},
                            "dispatcher")
    return started


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_public_notice_needs_no_sign_in_and_shows_the_notice_only(app, zjtx, pages):
    started = in_notice(zjtx, register(zjtx))
    other = register(zjtx, uscc=OTHER, name="重庆黔江某另一家有限公司")
    zjtx.pool_portal.apply(PortalUser(other, None, "王经理"))  # in its reviews: not in notice
    for client in (Browser(app), pages("officer")):  # anyone on the network, signed in or not
        page = client.get("/gongshi/")
        assert page.status_code == 200
        body = text(page)
        assert "重庆黔江某精密制造有限公司" in body and GOOD in body and "批发业" in body and "2026-11-11" in body
        assert "另一家" not in body and f"/gongshi/{started['id']}/objection" in body
        assert started["business_key"] not in body and "张经理" not in body  # nothing of the admission beyond it
    zjtx.workflows.complete(open_task(zjtx, started["id"], "public_notice")["id"],
                            {"objection": "张三（13800001111）：研发投入数据不实"}, "dispatcher")
    body = text(Browser(app).get("/gongshi/"))  # the office weighs a registered objection: still listed
    assert "重庆黔江某精密制造有限公司" in body and "公示期间收到异议，正在核查" in body and "2026-11-11" not in body
    assert "研发投入数据不实" not in body


def test_the_objection_form_names_the_field_and_the_dispatcher_sees_it_on_the_item(app, zjtx, pages):
    started = in_notice(zjtx, register(zjtx))
    public = Browser(app)
    url = f"/gongshi/{started['id']}/objection"
    assert public.get(url).status_code == 200
    refused = public.client.post(url, data={"name": "张三", "contact": "13800001111", "reason": REASON})
    assert refused.status_code == 400 and "CSRF" in text(refused)  # no token, nothing recorded
    bad = public.post(url, {"name": "", "contact": "13800001111", "reason": "不实"})
    assert bad.status_code == 400
    assert "「姓名或单位」不能为空" in text(bad) and "「异议理由」至少 10 个字" in text(bad)
    assert public.post(url, {"name": "张三", "contact": "13800001111", "reason": REASON}).status_code == 200
    item = text(pages("dispatcher").get(f"/items/{started['id']}"))
    assert 'id="notice-objections"' in item and REASON in item and "13800001111" in item
    assert public.get("/gongshi/999999/objection").status_code == 404


def test_the_dispatcher_registers_a_public_objection_from_the_item_page_in_one_click(app, zjtx, pages):
    started = in_notice(zjtx, register(zjtx))
    public = Browser(app)
    url = f"/gongshi/{started['id']}/objection"
    public.get(url)
    for reason in (REASON, "该企业从业人员人数与社保缴纳人数不符"):
        assert public.post(url, {"name": "张三", "contact": "13800001111", "reason": reason}).status_code == 200
    with zjtx.db.read() as session:
        first, second = session.scalars(select(NoticeObjection.id).where(NoticeObjection.instance_id == started["id"])
                                        .order_by(NoticeObjection.id))
    office = text(pages("office").get(f"/items/{started['id']}"))  # sees them, registering is the dispatcher's
    assert "待交办员登记" in office and f"/objections/{started['id']}/{first}/register" not in office
    assert pages("office").post(f"/gongshi/objections/{started['id']}/{first}/register").status_code == 403
    assert open_task(zjtx, started["id"], "public_notice")  # refused: nothing registered
    dispatcher = pages("dispatcher")
    item = text(dispatcher.get(f"/items/{started['id']}"))
    assert f"/gongshi/objections/{started['id']}/{first}/register" in item
    done = dispatcher.post(f"/gongshi/objections/{started['id']}/{first}/register")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/items/{started['id']}#notice-objections")
    task = open_task(zjtx, started["id"], "resolve_objection")  # the office weighs it, with its text
    with zjtx.db.read() as session:
        written = session.scalars(select(AuditRecord.data).where(AuditRecord.instance_id == started["id"],
                                                                 AuditRecord.action == "complete"))
        assert any(str((d or {}).get("objection", "")).startswith(f"〔公众异议第 {first} 号〕张三（13800001111）于 ")
                   for d in written)
    item = text(dispatcher.get(f"/items/{started['id']}"))
    row = item.split(f'id="objection-{first}"', 1)[1].split("</tr>", 1)[0]
    assert "已登记" in row and "已登记公众异议第" in item
    other = item.split(f'id="objection-{second}"', 1)[1].split("</tr>", 1)[0]
    assert "未登记" in other and "register" not in other  # one at a time: the step is closed while weighed
    again = dispatcher.post(f"/gongshi/objections/{started['id']}/{second}/register")
    assert again.status_code == 302 and "不在公示期异议登记环节" in text(dispatcher.get(f"/items/{started['id']}"))
    assert dispatcher.post(f"/gongshi/objections/{started['id']}/999/register").status_code == 404
    zjtx.workflows.complete(task["id"], {"objection_upheld": False, "objection_resolution": "经核查属实"}, "office")
    other = text(dispatcher.get(f"/items/{started['id']}")).split(f'id="objection-{second}"', 1)[1].split("</tr>")[0]
    assert f"/objections/{started['id']}/{second}/register" in other  # the notice goes on: the next one may be


def test_the_objection_form_is_rate_limited(app, zjtx):
    started = in_notice(zjtx, register(zjtx))
    public = Browser(app)
    url = f"/gongshi/{started['id']}/objection"
    public.get(url)
    answers = [public.post(url, {"name": "", "contact": "", "reason": ""}).status_code for _ in range(6)]
    assert answers[:5] == [400] * 5 and answers[5] == 429


def test_the_enterprise_sees_its_self_check_and_its_own_admissions_only(app, zjtx, pages):
    mine = enterprise_session(app, zjtx)
    page = mine.get("/qiye/pool")
    assert page.status_code == 200
    body = text(page)
    assert "符合培育入库条件" in body and "上年研发投入占营业收入比重" in body and "提交入库申请" in body
    bad = mine.post("/qiye/pool/figures", {"revenue": "", "rd_expense": "1", "net_profit": "1",
                                           "total_assets": "1", "total_liabilities": "1", "employees": "1"})
    assert bad.status_code == 400 and "「营业收入（元）」不能为空" in text(bad)
    materials = b"%PDF-1.4 the enterprise's materials"
    applied = mine.post("/qiye/pool/apply", {"apply_note": "申请入库", "file": [(io.BytesIO(materials), "申报材料.pdf")]},
                        content_type="multipart/form-data")
    assert applied.status_code == 302
    instance_id = int(re.search(r"/qiye/pool/admissions/(\d+)", applied.headers["Location"]).group(1))
    shown = text(mine.get(f"/qiye/pool/admissions/{instance_id}"))
    assert "行业主管部门审核中" in shown and "下一步：审核通过后进行公示" in shown and "（北京时间）" in shown
    [link] = re.findall(r'href="(/qiye/files/\d+)">申报材料.pdf<', shown)  # the materials it sent, downloadable
    assert mine.get(link).data == materials
    again = mine.post("/qiye/pool/apply", {})
    assert again.status_code == 302 and "正在办理中" in text(mine.get("/qiye/pool"))
    register(zjtx, uscc=OTHER, name="重庆黔江某另一家有限公司")
    theirs = enterprise_session(app, zjtx, uscc=OTHER)
    assert theirs.get(f"/qiye/pool/admissions/{instance_id}").status_code == 404
    assert theirs.get(link).status_code == 404
    assert pages("officer").get("/qiye/pool").status_code == 403  # a staff session is refused


def test_the_service_officer_confirms_or_refuses_the_enterprises_figures_on_the_list(app, zjtx, pages):
    mine = enterprise_session(app, zjtx)
    figures = {"revenue": "27000000", "rd_expense": "800000", "net_profit": "1600000", "total_assets": "41000000",
               "total_liabilities": "21000000", "employees": "190"}
    assert mine.post("/qiye/pool/figures", figures).status_code == 302
    assert "待服务专员确认" in text(mine.get("/qiye/pool"))
    assert pages("commerce_commission_liaison").get("/enterprises/year-updates/").status_code == 403
    pending = text(pages("officer").get("/enterprises/")).split('id="portal-pending"', 1)[1].split("</p>", 1)[0]
    assert "企业报送的年度数据 <strong>1</strong> 件" in pending and "/enterprises/year-updates/" in pending
    assert 'id="portal-pending"' not in text(pages("commerce_commission_liaison").get("/enterprises/"))
    listed = text(pages("officer").get("/enterprises/year-updates/"))
    update_id = int(re.search(r'id="update-(\d+)"', listed).group(1))
    assert "27,000,000.00" in listed and "26,000,000.00" in listed  # submitted beside the registry's
    empty = pages("officer").post(f"/enterprises/year-updates/{update_id}/refuse", {"reason": ""})
    assert empty.status_code == 400 and "「退回理由」不能为空" in text(empty)
    assert pages("officer").post(f"/enterprises/year-updates/{update_id}/confirm").status_code == 302
    assert "已确认，已写入企业库" in text(mine.get("/qiye/pool"))
    with zjtx.db.read() as session:  # in the registry
        assert session.scalar(select(EnterpriseYear.revenue).join(Enterprise).where(
            Enterprise.uscc == GOOD, EnterpriseYear.year == 2025)) == 27_000_000
