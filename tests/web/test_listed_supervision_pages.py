"""挂牌督办 on the pages: the item page's 「挂牌督办」 button for the office and the district leaders only, its
form, the item page's panel (slip, letter number, 批示, deadline, next report due, reports), the 督办函 for
whoever sees the item, the API's call, and the administrator giving the leaders' roles."""
from __future__ import annotations

import io

import pytest
from docx import Document

from engine.identity.accounts import list_users
from tests.helpers import liaison, signed

pytestmark = pytest.mark.sqlite_only
LEAD, OTHER = "区科技局", "区交通局"
BUTTON = "/listed-supervision\">挂牌督办</a>"





def test_the_office_lists_an_item_from_its_page_and_the_lead_unit_downloads_the_letter(zjtx, clock, pages):
    item = signed(zjtx)
    office, lead, other = pages("office"), pages(liaison(LEAD)), pages(liaison(OTHER))
    assert BUTTON in office.get(f"/items/{item.id}").get_data(as_text=True)
    assert BUTTON not in lead.get(f"/items/{item.id}").get_data(as_text=True)  # the lead unit sees, cannot list
    assert lead.get(f"/items/{item.id}/listed-supervision").status_code == 403
    form = office.get(f"/items/{item.id}/listed-supervision").get_data(as_text=True)
    assert "督办事由" in form and "黄色督办单（进度缓慢或质量不高）" in form and "新的办理期限" in form
    refused = office.post(f"/items/{item.id}/listed-supervision", {
        "listing_reason": "企业反映久拖未决", "slip_colour": "黄", "new_deadline": "2026-11-21"})  # a Saturday
    assert refused.status_code == 400 and "须为今天之后的工作日" in refused.get_data(as_text=True)
    done = office.post(f"/items/{item.id}/listed-supervision", {
        "listing_reason": "企业反映久拖未决", "slip_colour": "黄", "new_deadline": "2026-11-20",
        "report_every_working_days": "3", "ask_instruction": "false"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/items/{item.id}")
    page = office.get(f"/items/{item.id}").get_data(as_text=True)
    assert "挂牌督办中" in page and "黄色督办单" in page and "黔江专精特新督〔2026〕1号" in page
    assert "2026-11-20" in page and "2026-11-09" in page and "尚无督办回复" in page
    assert BUTTON not in page  # one listing at a time
    [listing] = zjtx.listings.of_item("office", item.id)
    letter = f"/listed-supervisions/{listing['id']}/letter.docx"
    assert letter in lead.get(f"/items/{item.id}").get_data(as_text=True)
    word = lead.client.get(letter)
    assert word.status_code == 200 and word.mimetype.endswith("wordprocessingml.document")
    assert "黔江专精特新督〔2026〕1号" in [p.text for p in Document(io.BytesIO(word.data)).paragraphs]
    assert other.client.get(letter).status_code == 404  # a unit with no part in the item
    assert other.get(f"/items/{item.id}/listed-supervision").status_code == 404


def test_the_leader_writes_the_instruction_and_the_page_shows_it(zjtx, clock, pages):
    item = signed(zjtx)
    office = pages("office")
    asked = office.post(f"/items/{item.id}/listed-supervision", {"listing_reason": "问题严重", "slip_colour": "红",
                                                                 "new_deadline": "2026-11-20", "ask_instruction": "true"})
    assert asked.status_code == 302
    assert "督办函签发中" in office.get(f"/items/{item.id}").get_data(as_text=True)
    leader = pages("leader")
    [instruct] = [t for t in zjtx.queries.tasks() if t["task"] == "instruct"]
    assert "领导批示" in leader.get("/").get_data(as_text=True)
    leader.get(f"/tasks/{instruct['id']}")
    assert leader.post(f"/tasks/{instruct['id']}", {"instruction": "限期解决，办结后报我"}).status_code == 302
    page = leader.get(f"/items/{item.id}").get_data(as_text=True)
    assert "领导小组组长：限期解决，办结后报我" in page and "红色督办单" in page and "黔江专精特新督〔2026〕1号" in page


def test_the_api_lists_an_item_for_the_office_only(zjtx, clock, pages):
    item = signed(zjtx)
    body = {"listing_reason": "企业反映久拖未决", "slip_colour": "蓝", "new_deadline": "2026-11-20"}
    lead = pages(liaison(LEAD))
    assert lead.client.post(f"/api/v1/items/{item.id}/listed-supervision", json=body,
                            headers={"X-CSRF-Token": lead.token}).status_code == 403
    office = pages("office")
    made = office.client.post(f"/api/v1/items/{item.id}/listed-supervision", json=body,
                              headers={"X-CSRF-Token": office.token})
    assert made.status_code == 201, made.get_json()
    listing = made.get_json()["listing"]
    assert (listing["colour"], listing["number"], listing["next_report_due"]) == ("蓝", "黔江专精特新督〔2026〕1号",
                                                                                 "2026-11-11")
    again = office.client.post(f"/api/v1/items/{item.id}/listed-supervision", json=body,
                               headers={"X-CSRF-Token": office.token})
    assert again.status_code == 400 and "item_key" in again.get_json()["errors"]
    assert lead.client.get(f"/api/v1/items/{item.id}/listed-supervision").get_json()["listings"][0]["id"] == listing["id"]
    assert pages(liaison(OTHER)).client.get(f"/api/v1/items/{item.id}/listed-supervision").status_code == 404


def test_the_administrator_gives_the_leading_groups_roles(zjtx, pages):
    admin = pages("admin")
    form = admin.get("/admin/users/new").get_data(as_text=True)
    assert 'value="group_leader"' in form and "领导小组组长" in form and 'value="deputy_group_leader"' in form
    with zjtx.db.read() as session:
        target = next(u for u in list_users(session) if u["username"] == liaison(OTHER))
    saved = admin.post(f"/admin/users/{target['id']}", {"display_name": target["display_name"], "department": "区政府办",
                                                        "roles": ["deputy_group_leader"], "active": "on"})
    assert saved.status_code == 302
    with zjtx.db.read() as session:
        edited = next(u for u in list_users(session) if u["username"] == liaison(OTHER))
    assert edited["roles"] == ["deputy_group_leader"] and edited["department"] == "区政府办"
    promoted = pages(liaison(OTHER))  # a district leader now: sees and lists any item
    item = signed(zjtx)
    assert BUTTON in promoted.get(f"/items/{item.id}").get_data(as_text=True)


def test_the_dashboard_shows_the_units_the_office_named_this_month(zjtx, clock, pages):
    item = signed(zjtx)
    zjtx.listings.start("office", item.id, {"listing_reason": "久拖未决", "slip_colour": "红", "new_deadline": "2026-11-20"})
    [report] = [t for t in zjtx.queries.tasks() if t["task"] == "report"]
    zjtx.workflows.complete(report["id"], {"report_progress": "进展滞后", "report_text": "仍在协调"}, liaison(LEAD))
    [review] = [t for t in zjtx.queries.tasks() if t["task"] == "review"]
    zjtx.workflows.complete(review["id"], {"review_decision": "lift", "name_in_circular": True,
                                           "review_comment": "推进不力，予以点名"}, "office")
    page = pages("leader").get("/dashboard").get_data(as_text=True)  # the district leaders see it too
    assert "领导小组办公室点名" in page and "推进不力，予以点名" in page and f"<strong>{LEAD}</strong>" in page
    assert "红色" in page and "挂牌督办" in page
