"""Intake and links on the web (issue 17, point 7): POST /api/v1/items with another system's reference
(409 with the first item when sent again), the item lookup, the registry search behind the registration
form, the console's enterprise choice and measures, and the item and task pages showing the links."""
from __future__ import annotations

import re

import pytest

from engine.identity.accounts import issue_token
from engine.identity.authz import actor_for
from engine.identity.org import get_user
from tests.helpers import GOOD, RECORD, REGISTRATION, Browser, liaison, uscc

NEW_CODE = uscc("91500114MA5U9WEB0")



@pytest.fixture
def bearer(zjtx):
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, "dispatcher").id, "12345 对接")
    return {"Authorization": f"Bearer {token}"}


def enterprise(zjtx) -> int:
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    return zjtx.enterprises.save(dispatcher, dict(RECORD), years=[])


def browser(app, user="dispatcher") -> Browser:
    b = Browser(app)
    assert b.login(user).status_code == 302
    return b


def test_a_work_order_is_registered_once_with_its_reference(zjtx, app, bearer):
    client = app.test_client()
    order = dict(REGISTRATION, source="12345热线", external_source="12345", external_ref="GD20261203-0007",
                 measures=[3])
    first = client.post("/api/v1/items", json=order, headers=bearer)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["external_source"], body["external_ref"], body["measures"]) == ("12345", "GD20261203-0007", [3])
    again = client.post("/api/v1/items", json=order, headers=bearer)
    assert again.status_code == 409
    assert again.get_json()["id"] == body["id"] and again.get_json()["business_key"] == body["business_key"]
    assert "已登记为事项" in again.get_json()["message"]
    found = client.get("/api/v1/items?external_source=12345&external_ref=GD20261203-0007", headers=bearer)
    assert [i["id"] for i in found.get_json()["items"]] == [body["id"]]
    assert client.get("/api/v1/items?external_source=12345&external_ref=nope", headers=bearer).get_json() == \
        {"items": []}
    missing = client.get("/api/v1/items?external_source=12345", headers=bearer)
    assert missing.status_code == 400 and "来源系统编号" in missing.get_json()["errors"]["external_ref"]
    half = client.post("/api/v1/items", json=dict(REGISTRATION, external_ref="X-1"), headers=bearer)
    assert half.status_code == 400 and "external_source" in half.get_json()["errors"]
    page = browser(app).get(f"/items/{body['id']}").get_data(as_text=True)
    assert "来源系统编号" in page and "12345：GD20261203-0007" in page


def test_another_system_links_to_the_registry_but_adds_nothing_to_it(zjtx, app, bearer):
    own, client = enterprise(zjtx), app.test_client()
    linked = client.post("/api/v1/items", json=dict(REGISTRATION, enterprise_uscc=GOOD.lower()), headers=bearer)
    assert linked.status_code == 201 and linked.get_json()["enterprise_id"] == own
    unknown = client.post("/api/v1/items", json=dict(REGISTRATION, enterprise_id=own + 100), headers=bearer)
    assert unknown.status_code == 404 and "企业库中的企业" in unknown.get_json()["message"]
    adding = client.post("/api/v1/items", json=dict(REGISTRATION, add_enterprise=True), headers=bearer)
    assert adding.status_code == 400 and "add_enterprise" in adding.get_json()["errors"]["add_enterprise"]


def test_the_console_adds_an_unknown_enterprise(zjtx, app):
    b = browser(app)
    b.get("/console")
    answer = b.post("/console", {"enterprise_name": "黔江某新企业", "enterprise_uscc": NEW_CODE.lower(),
                                 "add_enterprise": "1", "category": "用工", "source": "企业吹哨",
                                 "description": "招工难，需要人社部门协助组织专场招聘。"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    found = b.client.get(f"/api/v1/enterprises/search?q={NEW_CODE}").get_json()["enterprises"]
    assert [e["name"] for e in found] == ["黔江某新企业"]
    assert f'href="/enterprises/{found[0]["id"]}"' in b.get(answer.headers["Location"]).get_data(as_text=True)


def test_the_registry_search_endpoint(zjtx, app, bearer):
    own = enterprise(zjtx)
    client = app.test_client()
    by_name = client.get("/api/v1/enterprises/search?q=精密", headers=bearer).get_json()["enterprises"]
    assert by_name == [{"id": own, "name": RECORD["name"], "uscc": GOOD, "industry": "工业",
                        "label": f"{RECORD['name']}（{GOOD}）"}]
    assert client.get(f"/api/v1/enterprises/search?q={GOOD[:10]}", headers=bearer).get_json()["enterprises"][0]["id"] \
        == own
    assert client.get("/api/v1/enterprises/search?q=%20", headers=bearer).get_json() == {"enterprises": []}
    missing = client.get("/api/v1/enterprises/search", headers=bearer)
    assert missing.status_code == 400 and "查询" in missing.get_json()["errors"]["q"]
    assert client.get("/api/v1/enterprises/search?q=精密").status_code == 401
    # A department reviewing another industry finds nothing (区商务委 reviews 批发业, not 工业).
    shop = browser(app, liaison("区商务委")).client.get("/api/v1/enterprises/search?q=精密")
    assert shop.status_code == 200 and shop.get_json()["enterprises"] == []


def test_the_console_links_the_enterprise_and_the_measures(zjtx, app):
    own = enterprise(zjtx)
    b = browser(app)
    page = b.get("/console").get_data(as_text=True)
    assert 'list="enterprise-choices"' in page and "intake.js" in page and 'name="measures" value="30"' in page
    assert "12345热线" in page and "企业吹哨" in page and 'name="add_enterprise"' in page
    found = b.post("/console", {"enterprise_name": "精密制造", "find": "1"}).get_data(as_text=True)
    assert f'name="enterprise_id" value="{own}"' in found and GOOD in found
    answer = b.client.post("/console", data={
        "csrf_token": b.token, "enterprise_name": "随便写的", "enterprise_id": str(own), "category": "用地",
        "description": REGISTRATION["description"], "source": "走访", "measures": ["3", "11"]})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    task = b.get(answer.headers["Location"]).get_data(as_text=True)
    assert f'href="/enterprises/{own}"' in task and "涉及措施" in task
    item_id = int(re.search(r'/items/(\d+)', task).group(1))
    item = b.get(f"/items/{item_id}").get_data(as_text=True)
    assert f'href="/enterprises/{own}"' in item and "3. " in item and "11. " in item
    assert "修改涉及措施" in item
    assert b.post(f"/items/{item_id}/measures", {"measures": "5"}).status_code == 302
    shown = b.get(f"/items/{item_id}").get_data(as_text=True)
    assert "5. " in shown and "11. " not in shown.split("修改涉及措施")[0]
    refused = b.post(f"/items/{item_id}/measures", {"measures": "31"})
    assert refused.status_code == 302 and "没有第 31 项措施" in b.get(f"/items/{item_id}").get_data(as_text=True)
    assert "5. " in b.get(f"/items/{item_id}").get_data(as_text=True)  # the refused change changed nothing


def test_the_console_keeps_what_was_typed_when_a_code_is_wrong(zjtx, app):
    b = browser(app)
    b.get("/console")
    answer = b.post("/console", {"enterprise_name": "黔江某新企业", "enterprise_uscc": NEW_CODE[:17] + "Y",
                                 "add_enterprise": "1", "category": "用工", "source": "渝快办",
                                 "description": "招工难，需要人社部门协助组织专场招聘。", "measures": "7"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "统一社会信用代码校验位错误" in page
    assert 'value="黔江某新企业"' in page and "招工难" in page and 'name="measures" value="7" checked' in page


def test_a_department_sees_the_enterprise_without_a_registry_link_it_may_not_open(zjtx, app):
    own = enterprise(zjtx)  # 工业: reviewed by 区经济信息委, not by 区商务委
    b = browser(app)
    b.get("/console")
    started = zjtx.intake.register(b_actor(zjtx), dict(REGISTRATION, enterprise_id=own))
    item = zjtx.queries.tasks(instance_id=started["id"])[0]
    zjtx.workflows.complete(item["id"], {"triage_decision": "accept"}, "dispatcher")
    dispatch = zjtx.queries.tasks(instance_id=started["id"])[0]
    zjtx.workflows.complete(dispatch["id"], {"lead_department": "区商务委", "lead_due_working_days": 5,
                                             "co_handlers": []}, "dispatcher")
    sign = next(t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "sign")
    page = browser(app, liaison("区商务委")).get(f"/tasks/{sign['id']}").get_data(as_text=True)
    assert RECORD["name"] in page and GOOD in page and f'href="/enterprises/{own}"' not in page


def b_actor(zjtx):
    with zjtx.db.read() as session:
        return actor_for(session, "dispatcher")
