"""After login the user goes back to where they were, on this site only (issue 15: next=/%09/evil.example
answered Location //evil.example, next=/%0a/x answered 500)."""
from __future__ import annotations

import pytest

from engine.identity.org import DEMO_PASSWORD
from tests.helpers import Browser
from web import create_app

pytestmark = pytest.mark.sqlite_only


def _login_to(zjtx, next_value: str) -> str:
    b = Browser(create_app(services=zjtx, config={"TESTING": True}))
    b.get("/login")
    response = b.client.post(f"/login?next={next_value}",
                             data={"csrf_token": b.token, "username": "dispatcher", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.mark.parametrize("next_value", ["/%09/evil.example/phish", "/%0a/x", "/%0d%0aSet-Cookie:%20a=b", "//evil.example",
                                        "/\\evil.example", "https://evil.example/", "/%20/evil.example",
                                        "/%7f/evil.example", "javascript:alert(1)"])
def test_a_next_off_this_site_goes_to_the_inbox(zjtx, next_value):
    location = _login_to(zjtx, next_value)
    assert location in ("/", "http://localhost/"), location


def test_a_next_on_this_site_is_kept(zjtx):
    assert _login_to(zjtx, "/tasks/5%3Fx%3D1").endswith("/tasks/5?x=1")
    assert _login_to(zjtx, "/enterprises/").endswith("/enterprises/")


def _comment_from(zjtx, referrer: str | None) -> str:
    # An empty comment is refused with a message; the answer goes back to the page the form was on.
    b = Browser(create_app(services=zjtx, config={"TESTING": True}))
    b.login("dispatcher")
    b.get("/")  # the token of the signed-in session
    headers = {"Referer": referrer} if referrer is not None else {}
    response = b.client.post("/items/1/comments", data={"csrf_token": b.token, "text": ""}, headers=headers)
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.mark.parametrize("referrer", ["https://evil.example/items/1", "http://evil.example/", "//evil.example/x",
                                      "javascript:alert(1)", "http://localhost.evil.example/items/1",
                                      "http://localhost/\t/evil.example", "ftp://localhost/items/1", ""])
def test_a_form_posted_from_off_this_site_returns_to_the_inbox(zjtx, referrer):
    assert _comment_from(zjtx, referrer) in ("/", "http://localhost/")


def test_a_form_returns_to_the_page_it_was_posted_from(zjtx):
    assert _comment_from(zjtx, "http://localhost/items/1?tab=comments").endswith("/items/1?tab=comments")
    assert _comment_from(zjtx, None) in ("/", "http://localhost/")
