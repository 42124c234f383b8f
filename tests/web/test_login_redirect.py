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
