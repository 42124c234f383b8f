"""挂起 on the pages and the API: the handling page's forms pause and resume the clock (CSRF-protected), the
page, the inbox and the item page show 「已挂起」 with the reason, since when and by whom and the history of
pauses; the API pauses and resumes with a Bearer token (no CSRF token) and answers refusals as JSON."""
from __future__ import annotations

import re

import pytest

from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from tests.helpers import Browser, Item, at, liaison

pytestmark = pytest.mark.sqlite_only
LEAD = "区科技局"
REASON = "等待企业补充提供环评批复文件"



def signed(zjtx) -> tuple[Item, int]:
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5)
    item.sign(LEAD)
    return item, item.task("handle", LEAD)["id"]


def logged_in(app, username: str) -> Browser:
    b = Browser(app)
    assert b.login(username).status_code == 302
    return b


def page(b: Browser, url: str) -> str:
    response = b.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def panel(html: str) -> str:
    found = re.search(r'<section class="card pause-panel.*?</section>', html, re.S)
    assert found, "no pause panel"
    return found.group(0)


def test_the_handling_page_pauses_and_resumes_and_every_page_says_so(zjtx, app, clock):
    item, task_id = signed(zjtx)
    b = logged_in(app, liaison(LEAD))
    html = page(b, f"/tasks/{task_id}")
    assert f'action="/tasks/{task_id}/pause"' in panel(html) and 'name="handle_action"' in html
    response = b.post(f"/tasks/{task_id}/pause", {"reason": REASON, "expected_resume_on": "2026-11-10"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{task_id}")
    html = page(b, f"/tasks/{task_id}")
    assert "已挂起：办理期限暂停计算" in html  # the flash
    shown = panel(html)
    name = zjtx.identity.profile(_actor(zjtx, liaison(LEAD)))["display_name"]
    for text in ("已挂起", REASON, "2026-11-04 10:00", name, "2026-11-10", f'action="/tasks/{task_id}/resume"'):
        assert text in shown, text
    assert 'name="handle_action"' not in html and "挂起期间不能提交" in html  # no answer while paused
    assert "已挂起，期限暂停计算" in html  # the matter card's deadline
    inbox = page(b, "/?tab=all")
    assert 'class="paused-badge' in inbox and "已挂起，暂停计时" in inbox
    item_page = page(logged_in(app, "dispatcher"), f"/items/{item.id}")
    assert "挂起记录" in item_page and REASON in item_page and 'class="paused-badge"' in item_page
    dispatcher_view = page(logged_in(app, "dispatcher"), f"/tasks/{task_id}")
    shown = panel(dispatcher_view)  # the dispatcher may end the unit's pause, saying why; not answer for it
    assert REASON in shown and "代承办单位结束挂起" in shown and re.search(r'<textarea name="note"[^>]*required', shown)
    assert 'name="handle_action"' not in dispatcher_view
    clock.move_to(at("2026-11-06 10:00"))
    b = logged_in(app, liaison(LEAD))  # two days later: a new session and its token
    page(b, f"/tasks/{task_id}")
    response = b.post(f"/tasks/{task_id}/resume", {"note": "企业已补充环评批复"})
    assert response.status_code == 302
    html = page(b, f"/tasks/{task_id}")
    assert "已恢复办理" in html and 'name="handle_action"' in html
    shown = panel(html)
    assert "恢复办理：企业已补充环评批复" in shown and "挂起 2 个工作日，期限顺延 2 个工作日" in shown
    timeline = html[html.index("办理记录"):]
    assert "挂起（暂停计时）" in timeline and f"挂起原因：{REASON}" in timeline and "期限顺延（工作日）：2" in timeline
    assert "2026-11-13" in html  # the moved deadline on the matter card


def test_a_refused_pause_says_why_and_the_form_needs_its_csrf_token(zjtx, app, clock):
    _, task_id = signed(zjtx)
    b = logged_in(app, liaison(LEAD))
    page(b, f"/tasks/{task_id}")
    response = b.post(f"/tasks/{task_id}/pause", {"reason": ""})
    assert response.status_code == 302
    assert "请填写挂起原因" in page(b, f"/tasks/{task_id}")
    refused = b.client.post(f"/tasks/{task_id}/pause", data={"reason": REASON})  # no csrf_token
    assert refused.status_code == 400
    assert zjtx.pause_views.task_view(_actor(zjtx, liaison(LEAD)), task_id)["active"] is None
    other = logged_in(app, "dispatcher")
    page(other, f"/tasks/{task_id}")
    assert other.post(f"/tasks/{task_id}/pause", {"reason": REASON}).status_code == 403


def _actor(zjtx, username: str):
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        return actor_for(session, username)


def _bearer(zjtx, username: str) -> dict:
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, username).id, "测试")
    return {"Authorization": f"Bearer {token}"}


def test_the_api_pauses_and_resumes_with_a_token_and_answers_refusals_as_json(zjtx, app, clock):
    item, task_id = signed(zjtx)
    client, headers = app.test_client(), _bearer(zjtx, liaison(LEAD))
    bad = client.post(f"/api/v1/tasks/{task_id}/pause", json={"reason": " "}, headers=headers)
    assert bad.status_code == 400 and "挂起原因" in bad.get_json()["errors"]["reason"]
    done = client.post(f"/api/v1/tasks/{task_id}/pause", json={"reason": REASON}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["paused"] is True and done.get_json()["reason"] == REASON
    view = client.get(f"/api/v1/tasks/{task_id}/pauses", headers=headers).get_json()
    assert view["active"]["reason"] == REASON and view["can_resume"] and not view["can_pause"]
    again = client.post(f"/api/v1/tasks/{task_id}/pause", json={"reason": REASON}, headers=headers)
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"
    complete = client.post(f"/api/v1/tasks/{task_id}/complete", json={"handle_action": "answer", "answer": "完毕"},
                           headers=headers)
    assert complete.status_code == 409 and "请先恢复办理" in complete.get_json()["message"]
    foreign = client.post(f"/api/v1/tasks/{task_id}/resume", json={}, headers=_bearer(zjtx, liaison("区财政局")))
    assert foreign.status_code == 404
    session_client = Browser(app)
    assert session_client.login(liaison(LEAD)).status_code == 302
    no_csrf = session_client.client.post(f"/api/v1/tasks/{task_id}/resume", json={})
    assert no_csrf.status_code == 400 and no_csrf.get_json()["code"] == "csrf_failed"
    clock.move_to(at("2026-11-05 16:00"))
    resumed = client.post(f"/api/v1/tasks/{task_id}/resume", json={"note": "已补充"}, headers=headers)
    assert resumed.status_code == 200 and resumed.get_json()["working_days"] == 1
    assert resumed.get_json()["due_at"] == "2026-11-12T15:59:59+00:00"
    assert item.data()["assignment"]["due_date"] == "2026-11-12"
