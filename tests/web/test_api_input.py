"""What fuzzing the API against its OpenAPI document found (tests/web/test_api_fuzz.py), one case each:
every answer is a status the document lists, with a Chinese message naming the parameter."""
from __future__ import annotations

import pytest

from engine.identity.accounts import issue_token
from engine.identity.org import get_user
from tests.helpers import Item
from web import create_app

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def get(zjtx):
    Item(zjtx)
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, "dispatcher").id, "测试")
    client = create_app(services=zjtx, config={"TESTING": True}).test_client()
    return lambda url: client.get(url, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("ref", ["²", "١", "99999999999999999999", "0"])
def test_an_instance_ref_of_odd_digits_is_not_found(get, ref):
    # "²".isdigit() is true and int("²") fails; 20 digits overflow the driver: both were 500s
    response = get(f"/api/v1/instances/{ref}")
    assert response.status_code == 404 and response.get_json()["code"] == "instance_not_found"


@pytest.mark.parametrize("query", ["limit=abc", "offset=1.5", "page=", "per_page=x&tab=to_sign", "limit=１０"])
def test_a_paging_number_that_is_not_an_integer_is_refused(get, query):
    response = get(f"/api/v1/tasks?{query}")
    name = query.split("=")[0]
    assert response.status_code == 400 and name in response.get_json()["errors"]


def test_an_integer_out_of_range_is_clamped(get):
    assert len(get("/api/v1/tasks?limit=-1").get_json()["tasks"]) == 1  # the 500-row cap is not skipped
    assert get("/api/v1/tasks?limit=99999999999999999999999999999999999&offset=-3").status_code == 200


@pytest.mark.parametrize("query", ["department=不存在的局", "status=whatever", "tab=to_sign&status=whatever", "tab=", "tab=nope",
                                   "tab=to_sign&department=不存在的局"])
def test_an_unknown_filter_value_is_refused_naming_it(get, query):
    response = get(f"/api/v1/tasks?{query}")
    name = query.split("&")[-1].split("=")[0]
    assert response.status_code == 400 and name in response.get_json()["errors"], response.get_json()


def test_a_department_filter_takes_a_name_or_an_alias(get):
    assert get("/api/v1/tasks?department=区税务局").status_code == 200  # an alias of 黔江区税务局


@pytest.mark.parametrize(("query", "field"), [("days=3&start=", "start"), ("days=3&start=2026-13-01", "start"),
                                              ("days=٣", "days"), ("days=0", "days"), ("start=2026-10-09", "days")])
def test_a_bad_deadline_question_is_refused_naming_the_parameter(get, query, field):
    response = get(f"/api/v1/calendar/add-working-days?{query}")
    assert response.status_code == 400 and list(response.get_json()["errors"]) == [field]


def test_the_document_is_openapi_3_1_with_the_deployed_registration_form(get, zjtx):
    doc = get("/api/v1/openapi.json").get_json()
    form = zjtx.repository.latest_forms("problem_dispatch")["register.schema.json"]
    assert doc["openapi"] == "3.1.0"
    assert doc["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"] == form
    department = next(p for p in doc["paths"]["/tasks"]["get"]["parameters"] if p["name"] == "department")
    assert {"区科技局", "区税务局", "黔江区税务局"} <= set(department["schema"]["enum"])
