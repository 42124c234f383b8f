"""Fixtures of the web tests: the app over the test's services, and signed-in clients."""
from __future__ import annotations

import pytest

from tests.helpers import Browser
from web import create_app


@pytest.fixture
def app(zjtx):
    return create_app(services=zjtx, config={"TESTING": True})


@pytest.fixture
def pages(app):
    """``pages(username)``: a logged-in test client (one per user)."""
    clients: dict[str, Browser] = {}

    def get(username: str) -> Browser:
        if username not in clients:
            clients[username] = Browser.signed_in(app, username)
        return clients[username]
    return get


@pytest.fixture
def browser(app):
    """A fresh signed-in client per call (unlike ``pages``, which keeps one per user)."""
    return lambda user: Browser.signed_in(app, user)
