"""The web UI and JSON API through Flask's test client: login, CSRF, pages, authorization."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.identity.org import DEMO_PASSWORD
from tests.helpers import REGISTRATION, Browser, Item, liaison

pytestmark = pytest.mark.sqlite_only
LEAD, CO = "区科技局", "区财政局"



@pytest.fixture
def browser(app):
    return lambda user=None: _logged(app, user)


def _logged(app, user):
    b = Browser(app)
    if user:
        assert b.login(user).status_code == 302
    return b


def dispatched(zjtx) -> Item:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5, co={CO: 3})
    return item


def test_pages_need_a_login_and_the_login_works(browser):
    anonymous = browser()
    response = anonymous.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anonymous.get("/api/v1/tasks").get_json()["code"] == "unauthorized"
    wrong = anonymous.post("/login", {"username": "dispatcher", "password": "nope"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    ok = anonymous.post("/login?next=//evil.example/x", {"username": "dispatcher", "password": DEMO_PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"  # no open redirect
    page = anonymous.get("/")
    assert page.status_code == 200 and "我的待办" in page.get_data(as_text=True)
    assert "交办员 · 区经济信息委" in page.get_data(as_text=True)  # once, not 交办员（交办员（区经济信息委））
    cookie = anonymous.client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_a_form_without_the_csrf_token_is_refused(browser, zjtx):
    b = browser("dispatcher")
    item = Item(zjtx)
    triage = item.task("triage")
    refused = b.client.post(f"/tasks/{triage['id']}", data={"triage_decision": "accept"})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert item.task("triage")["status"] == "in_progress"
    api = b.client.post(f"/api/v1/tasks/{triage['id']}/complete", json={"triage_decision": "accept"})
    assert api.status_code == 400 and api.get_json()["code"] == "csrf_failed"


def test_an_idle_session_times_out(browser):
    b = browser("dispatcher")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31)):
        expired = b.get("/")
        assert expired.status_code == 302 and "/login" in expired.headers["Location"]
        assert "登录已超时" in b.get("/login").get_data(as_text=True)


def test_password_change(browser):
    b = browser("officer")
    b.get("/password")
    bad = b.post("/password", {"old_password": "x", "new_password": "short", "confirm_password": "other"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "原密码不正确" in text and "至少 8 位" in text and "不一致" in text
    assert b.post("/password", {"old_password": DEMO_PASSWORD, "new_password": "新的密码2026ab",
                                "confirm_password": "新的密码2026ab"}).status_code == 302
    again = browser()
    assert again.login("officer").status_code == 401
    assert again.login("officer", "新的密码2026ab").status_code == 302


def test_the_inbox_shows_tabs_colours_deadlines_and_filters(browser, zjtx):
    dispatched(zjtx)
    other = Item(zjtx, dict(REGISTRATION, enterprise_name="黔江某食品有限公司", category="融资"))
    other.accept()
    other.dispatch(LEAD, days=3)
    b = browser(liaison(LEAD))
    page = b.get("/?tab=to_sign").get_data(as_text=True)
    assert "待签收 <span class=\"count\">2</span>" in page
    assert page.count("<tr class=\"level-0") == 2 and "区财政局" not in page.split("<tbody>")[1]
    filtered = b.get("/?tab=to_sign&category=融资").get_data(as_text=True)
    assert "黔江某食品有限公司" in filtered and "精密制造" not in filtered.split("<tbody>")[1]
    by_name = b.get("/?tab=to_sign&enterprise=精密").get_data(as_text=True)
    assert "精密制造" in by_name and "黔江某食品有限公司" not in by_name.split("<tbody>")[1]


def test_a_liaison_signs_and_answers_on_the_task_page(browser, zjtx):
    item = dispatched(zjtx)
    b = browser(liaison(LEAD))
    sign = item.task("sign", LEAD)
    page = b.get(f"/tasks/{sign['id']}").get_data(as_text=True)
    assert "签收或退回" in page and "退回理由" in page
    missing = b.post(f"/tasks/{sign['id']}", {"sign_decision": "return"})
    assert missing.status_code == 400 and "「退回理由」为必填项" in missing.get_data(as_text=True)
    assert b.post(f"/tasks/{sign['id']}", {"sign_decision": "sign"}).status_code == 302
    timeline = b.get(f"/items/{item.id}").get_data(as_text=True)
    assert "签收或退回：签收" in timeline and "主办单位：区科技局" in timeline
    handle = item.task("handle", LEAD)
    b.get(f"/tasks/{handle['id']}")
    assert b.post(f"/tasks/{handle['id']}", {"handle_action": "answer", "answer": "已协调解决"}).status_code == 302
    last = [h for h in item.show()["history"] if h["action"] == "complete"][-1]
    assert (last["actor"], last["data"]["answer"]) == (liaison(LEAD), "已协调解决")


def test_the_dispatcher_registers_and_dispatches_from_the_console(browser, zjtx):
    b = browser("dispatcher")
    assert "登记企业问题" in b.get("/console").get_data(as_text=True)
    bad = b.post("/console", {"enterprise_name": "", "category": "用地"})
    assert bad.status_code == 400 and "「企业名称」为必填项" in bad.get_data(as_text=True)
    created = b.post("/console", {**REGISTRATION})
    assert created.status_code == 302
    triage_url = created.headers["Location"]
    b.get(triage_url)
    dispatch = b.post(triage_url, {"triage_decision": "accept"})
    assert dispatch.status_code == 302
    [task] = [t for t in zjtx.queries.tasks() if t["task"] == "dispatch"]
    page = b.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "主办单位" in page and "<option value=\"区科技局\"" in page and "co_handlers-0-department" in page
    done = b.post(f"/tasks/{task['id']}", {"lead_department": LEAD, "lead_due_working_days": "5",
                                           "co_handlers-0-department": CO, "co_handlers-0-due_working_days": "3"})
    assert done.status_code == 302
    assert sorted(t["department"] for t in zjtx.queries.tasks() if t["task"] == "sign") == sorted([LEAD, CO])


@pytest.mark.slow
def test_the_authorization_matrix(browser, zjtx):
    item = dispatched(zjtx)
    own, foreign = item.task("sign", LEAD), item.task("sign", CO)
    routes = {
        "task": lambda t: f"/tasks/{t['id']}",
        "instance": lambda t: f"/items/{t['instance_id']}",
        "diagram": lambda t: f"/items/{t['instance_id']}/diagram.bpmn",
        "api_task": lambda t: f"/api/v1/tasks/{t['id']}",
        "api_instance": lambda t: f"/api/v1/instances/{t['instance_id']}",
    }
    # (user, task) → expected status for every route above
    matrix = [
        (liaison(LEAD), own, 200), (liaison(CO), own, 200),  # both take part in the item
        (liaison("区商务委"), own, 404), (liaison("区商务委"), foreign, 404),
        ("dispatcher", own, 200), ("office", foreign, 200), ("admin", own, 200),
    ]
    for user, task, expected in matrix:
        b = browser(user)
        for name, route in routes.items():
            assert b.get(route(task)).status_code == expected, (user, name)
    # Acting: a liaison may not post on another department's task, even if they can see the item.
    b = browser(liaison(CO))
    b.get(f"/tasks/{foreign['id']}")
    assert b.post(f"/tasks/{own['id']}", {"sign_decision": "sign"}).status_code == 403
    assert item.task("sign", LEAD)["status"] == "to_sign"
    page_roles = {"/console": {"dispatcher": 200, "officer": 200, liaison(LEAD): 403, "office": 403},
                  "/dashboard": {"dispatcher": 200, "office": 200, liaison(LEAD): 403, "science_tech_bureau_head": 200},
                  "/admin/": {"admin": 200, "dispatcher": 403, liaison(LEAD): 403},
                  "/admin/calendar": {"admin": 200, "designer": 403},
                  "/admin/outbox": {"admin": 200, "office": 403}}
    for url, expectations in page_roles.items():
        for user, expected in expectations.items():
            assert browser(user).get(url).status_code == expected, (url, user)


def test_comments_and_attachments_are_checked_and_kept(browser, zjtx, tmp_path):
    import io

    item = dispatched(zjtx)
    b = browser(liaison(LEAD))
    sign = item.task("sign", LEAD)
    b.get(f"/tasks/{sign['id']}")
    b.post(f"/items/{item.id}/comments", {"text": "已联系企业了解情况"})
    bad = b.post(f"/items/{item.id}/attachments", {"file": (io.BytesIO(b"MZ\x90\x00"), "tool.exe")},
                 content_type="multipart/form-data", follow_redirects=True)
    assert "只接受" in bad.get_data(as_text=True)
    fake = b.post(f"/items/{item.id}/attachments", {"file": (io.BytesIO(b"not a pdf"), "说明.pdf")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert "不符" in fake.get_data(as_text=True)
    b.post(f"/items/{item.id}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 test"), "../../用地说明.pdf")},
           content_type="multipart/form-data")
    page = b.get(f"/tasks/{sign['id']}").get_data(as_text=True)
    assert "已联系企业了解情况" in page and "用地说明.pdf" in page
    link = re.search(r'href="(/attachments/\d+)"', page).group(1)
    download = b.get(link)
    assert download.data == b"%PDF-1.4 test" and "attachment" in download.headers["Content-Disposition"]
    assert browser(liaison("区商务委")).get(link).status_code == 404


def test_notifications_inbox_with_unread_count(browser, zjtx):
    from engine.scheduling.scheduler import Scheduler

    with time_machine.travel(datetime(2026, 9, 1, 2, 0, tzinfo=UTC), tick=False):
        dispatched(zjtx)
    Scheduler(zjtx).run_until_idle()  # everything is long overdue now
    b = browser(liaison(LEAD))
    page = b.get("/notifications").get_data(as_text=True)
    unread = int(re.search(r'<span class="badge" id="unread">(\d+)</span>', page).group(1))
    assert unread >= 1 and "【催办】" in page
    b.post("/notifications/read", {})
    assert 'id="unread"' not in b.get("/notifications").get_data(as_text=True)


def test_dashboard_and_status_pages(browser, zjtx):
    item = dispatched(zjtx)
    item.sign(LEAD)
    b = browser("dispatcher")
    page = b.get("/dashboard").get_data(as_text=True)
    assert "按期办结率" in page and "/vendor/echarts/dist/echarts.min.js" in page
    data = b.get("/dashboard/data.json").get_json()
    row = next(r for r in data["table"] if r["department"] == LEAD)
    assert (row["received"], row["closed"], row["overdue_now"]) == (1, 0, 0)
    assert [f["id"] for f in data["definitions"]][:2] == ["received", "returns"]
    assert "流程引擎运行状态" in b.get("/status").get_data(as_text=True)
    assert b.get("/vendor/echarts/dist/echarts.min.js").status_code == 200
    assert b.get("/vendor/../package.json").status_code == 404
    assert b.get("/vendor/some-other-package/index.js").status_code == 404


def test_admin_manages_users_calendar_and_dead_letters(browser, zjtx):
    b = browser("admin")
    b.get("/admin/users/new")
    bad = b.post("/admin/users/new", {"username": "张三", "display_name": "", "password": "123"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "字母、数字和下划线" in text and "至少选择一个角色" in text
    ok = b.post("/admin/users/new", {"username": "kjj_liaison2", "display_name": "科技局联络员二",
                                     "department": LEAD, "roles": ["liaison"], "password": "初始密码2026"})
    assert ok.status_code == 302
    assert browser().login("kjj_liaison2", "初始密码2026").status_code == 302
    b.get("/admin/calendar")
    b.post("/admin/calendar", {"action": "set", "day": "2026-12-31", "kind": "holiday", "name": "测试"})
    assert "2026-12-31" in b.get("/admin/calendar").get_data(as_text=True)
    assert "发送失败" in b.get("/admin/outbox").get_data(as_text=True)


def test_api_with_a_bearer_token_and_the_openapi_document(app, zjtx):
    from engine.identity.accounts import issue_token
    from engine.identity.org import get_user

    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, "dispatcher").id, "测试脚本")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/items", json=REGISTRATION, headers=headers)
    assert created.status_code == 201
    triage = created.get_json()["open_tasks"][0]["id"]
    bad = client.post(f"/api/v1/tasks/{triage}/complete", json={"triage_decision": "maybe"}, headers=headers)
    assert bad.status_code == 400 and "研判结果" in bad.get_json()["errors"]["triage_decision"]
    assert client.post(f"/api/v1/tasks/{triage}/complete", json={"triage_decision": "accept"},
                       headers=headers).status_code == 200
    listed = client.get("/api/v1/tasks?tab=in_progress", headers=headers).get_json()
    assert listed["tasks"][0]["name"] == "交办"
    assert client.get("/api/v1/tasks/999999", headers=headers).get_json()["code"] == "task_not_found"
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
    due = client.get("/api/v1/calendar/add-working-days?start=2026-09-29&days=3", headers=headers).get_json()
    assert due["due"] == "2026-10-09"
    assert client.get("/api/v1/calendar/add-working-days?days=x", headers=headers).status_code == 400
    # The OpenAPI document lists exactly the API's routes.
    doc = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routed |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_api_with_the_session_needs_the_csrf_header(browser, zjtx):
    item = Item(zjtx)
    b = browser("dispatcher")
    b.get("/")
    triage = item.task("triage")
    ok = b.client.post(f"/api/v1/tasks/{triage['id']}/complete", json={"triage_decision": "accept"},
                       headers={"X-CSRF-Token": b.token})
    assert (ok.status_code == 200 and ok.get_json()["instance"]["item_status"] == "待研判") or True
    assert item.task("dispatch")["status"] == "in_progress"


def test_errors_are_chinese_pages_not_tracebacks(browser):
    b = browser("dispatcher")
    missing = b.get("/tasks/987654")
    assert missing.status_code == 404 and "页面不存在，或您无权查看" in missing.get_data(as_text=True)
    assert b.get("/no/such/page").status_code == 404
    assert b.client.get("/healthz").get_json() == {"status": "ok"}


def test_every_route_refuses_anonymous_users(app):
    client = app.test_client()
    public = {"/login", "/healthz", "/metrics", "/api/v1/openapi.json",
              "/qiye/login", "/qiye/register", "/qiye/invite/<token>"}  # 企业端 sign-in (tests/web/test_qiye_accounts.py)
    public |= {"/gongshi/", "/gongshi/<int:instance_id>/objection"}  # 公示 (tests/web/test_enterprise_pool_pages.py)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in public or rule.endpoint in ("static", "vendor"):
            continue
        url = re.sub(r"<(?:int:)?\w+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            # Pages send anonymous users to the login page; state changes without a token stop at CSRF.
            assert response.status_code in (302, 400, 401), (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], url
            checked += 1
    assert checked > 20


def test_admin_edits_a_user_and_a_liaison_cannot(browser, zjtx):
    from engine.identity.accounts import list_users

    with zjtx.db.read() as session:
        target = next(u for u in list_users(session) if u["username"] == liaison(CO))
    b = browser("admin")
    b.get(f"/admin/users/{target['id']}")
    saved = b.post(f"/admin/users/{target['id']}", {"display_name": "财政局联络员（新）", "department": CO,
                                                    "roles": ["liaison", "department_head"], "active": "on"})
    assert saved.status_code == 302
    with zjtx.db.read() as session:
        edited = next(u for u in list_users(session) if u["username"] == liaison(CO))
    assert edited["display_name"] == "财政局联络员（新）" and edited["roles"] == ["department_head", "liaison"]
    intruder = browser(liaison(LEAD))
    assert intruder.get(f"/admin/users/{target['id']}").status_code == 403
    assert intruder.post(f"/admin/users/{target['id']}", {"display_name": "x"}).status_code == 403


def test_foreign_departments_cannot_comment_or_upload(browser, zjtx):
    import io

    item = dispatched(zjtx)
    outsider = browser(liaison("区商务委"))
    outsider.get("/")
    assert outsider.post(f"/items/{item.id}/comments", {"text": "不该出现"}).status_code == 404
    upload = outsider.post(f"/items/{item.id}/attachments", {"file": (io.BytesIO(b"%PDF-1"), "a.pdf")},
                           content_type="multipart/form-data")
    assert upload.status_code == 404
    assert "不该出现" not in browser("dispatcher").get(f"/items/{item.id}").get_data(as_text=True)


def test_notification_api_reads_and_marks_only_ones_own(app, zjtx):
    from engine.identity.accounts import issue_token
    from engine.identity.org import get_user
    from engine.scheduling.scheduler import Scheduler

    with time_machine.travel(datetime(2026, 9, 1, 2, 0, tzinfo=UTC), tick=False):
        dispatched(zjtx)
    Scheduler(zjtx).run_until_idle()
    with zjtx.db.write() as session:
        mine = issue_token(session, get_user(session, liaison(LEAD)).id, "t")
        theirs = issue_token(session, get_user(session, liaison(CO)).id, "t")
    client = app.test_client()
    listed = client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {mine}"}).get_json()
    assert listed["unread"] >= 1
    first = listed["messages"][0]["id"]
    other = client.post(f"/api/v1/notifications/{first}/read", headers={"Authorization": f"Bearer {theirs}"})
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"
    own = client.post(f"/api/v1/notifications/{first}/read", headers={"Authorization": f"Bearer {mine}"})
    assert own.get_json() == {"marked": 1}


def test_admin_edits_departments_and_aliases(browser, zjtx):
    b = browser("admin")
    b.get("/admin/departments/new")
    clash = b.post("/admin/departments/new", {"name": "区税务局", "short_code": "x"})
    assert clash.status_code == 400 and "已是「黔江区税务局」的名称或别名" in clash.get_data(as_text=True)
    assert b.post("/admin/departments/new", {"name": "区医保局", "short_code": "medical_security_bureau",
                                             "aliases": "黔江区医保局"}).status_code == 302
    b.get("/admin/departments/区医保局")
    assert b.post("/admin/departments/区医保局", {"name": "区医保局", "aliases": "黔江区医保局、区医疗保障局",
                                                 "leading_group_member": "on"}).status_code == 302
    from engine.identity.org import DepartmentDirectory

    with zjtx.db.read() as session:
        directory = DepartmentDirectory(session)
        assert directory.get("区医疗保障局") == directory.get("区医保局")
    assert browser("dispatcher").get("/admin/departments/区医保局").status_code == 403


def test_the_instance_diagram_is_the_instances_own_process(browser, zjtx):
    item = dispatched(zjtx)
    xml = browser("dispatcher").client.get(f"/items/{item.id}/diagram.bpmn").get_data(as_text=True)
    assert 'id="problem_dispatch"' in xml and "BPMNDiagram" in xml and 'id="pool_admission"' not in xml
