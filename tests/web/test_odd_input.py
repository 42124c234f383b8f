"""Ids and page numbers beyond what the database stores (issue 15: 99999999999999999999 gave 500s):
routes answer 404, query numbers are clamped, posted ids are "not found" — never a server error."""
from __future__ import annotations

import pytest

from tests.helpers import Browser
from web import create_app

pytestmark = pytest.mark.sqlite_only
HUGE = "99999999999999999999"
BIG = str(2**63)  # one past the largest BIGINT


@pytest.fixture
def admin(zjtx):
    b = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert b.login("admin").status_code == 302
    b.get("/")  # the signed-in session's CSRF token
    return b


@pytest.mark.parametrize("number", [HUGE, BIG])
@pytest.mark.parametrize("url", ["/tasks/{}", "/items/{}", "/items/{}/diagram.bpmn", "/attachments/{}",
                                 "/enterprises/{}", "/circulars/{}", "/circulars/{}.docx", "/admin/users/{}",
                                 "/admin/incidents/{}", "/api/v1/tasks/{}"])
def test_an_id_past_the_largest_is_not_found(admin, url, number):
    assert admin.get(url.format(number)).status_code == 404


def test_posting_to_a_huge_id_is_not_found(admin):
    assert admin.post(f"/api/v1/notifications/{HUGE}/read").status_code == 404
    assert admin.post(f"/tasks/{HUGE}/complete", data={}).status_code == 404


@pytest.mark.parametrize("query", [f"page={HUGE}", "page=-5", "page=abc", "page=1e9", f"page={BIG}"])
@pytest.mark.parametrize("url", ["/", "/enterprises/", "/admin/incidents"])
def test_odd_page_numbers_still_show_the_page(admin, url, query):
    assert admin.get(f"{url}?{query}").status_code == 200


def test_odd_api_paging_is_clamped(admin):
    response = admin.get(f"/api/v1/tasks?limit={HUGE}&offset={HUGE}")
    assert response.status_code == 200 and isinstance(response.get_json(), (list, dict))
    assert admin.get(f"/api/v1/enterprises?page={HUGE}&per_page=-1").status_code in (200, 404)


def test_a_huge_posted_id_is_refused_without_a_server_error(admin):
    assert admin.post("/admin/outbox", data={"id": HUGE}).status_code in (200, 302)
    assert admin.post("/notifications/read", data={"id": HUGE}).status_code in (200, 302, 404)
