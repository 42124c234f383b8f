"""The JSON API fuzzed against its own OpenAPI document (schemathesis, through WSGI: no network).

For every operation of /api/v1/openapi.json, schemathesis generates requests from the document's
parameters and bodies (valid ones and, in its negative phase, invalid ones), sends them as the
dispatcher with a Bearer token (and without it, to see 401), and checks each answer: no 5xx, a status
the document lists, a body that matches the schema listed for that status, a content type it lists,
405 for methods it does not list, invalid input refused. Bounded: a few dozen examples per operation.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from tests.helpers import Item
from web import create_app
from web.openapi import document

pytestmark = [pytest.mark.sqlite_only, pytest.mark.slow]
EXAMPLES = 50


@pytest.fixture
def api(zjtx):
    """The app with a little of everything the API shows (an item at each stage of signing, a message)
    and the dispatcher's token."""
    for _ in range(2):
        item = Item(zjtx)
        item.accept()
        item.dispatch("区科技局", co={"区财政局": 3})
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, "dispatcher").id, "模糊测试")
    return create_app(services=zjtx, config={"TESTING": True}), token


OPERATIONS = [(path, method) for path, ops in document()["paths"].items() for method in ops]
# What has neither parameters nor a body has no invalid request to make.
NEGATIVE = [(path, method) for path, method in OPERATIONS
            if document()["paths"][path][method]["parameters"] or "requestBody" in document()["paths"][path][method]]


# schemathesis.pytest's fixture loader reads a pytest attribute that pytest 9 no longer has, so each
# operation's strategy is driven by hypothesis here (the same generation and the same checks).
@pytest.mark.parametrize(("path", "method", "mode"), [(*op, GenerationMode.POSITIVE) for op in OPERATIONS]
                         + [(*op, GenerationMode.NEGATIVE) for op in NEGATIVE])
def test_the_api_answers_as_its_document_says(api, path, method, mode):
    app, token = api
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method.upper()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def answers(case):
        # identity: the WSGI transport hands schemathesis the bytes as sent, and it does not decompress them
        case.call_and_validate(headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"})

    answers()
