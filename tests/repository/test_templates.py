"""City templates (issue 20): the city's processes are every district's templates — used as they are or edited, the
version's origin and differences shown, a newer template offered to a district and adopted only by its choice."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.accounts import actor_by_id
from engine.identity.org import get_user
from engine.storage import district
from tests.helpers import Browser, deploy

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = (ROOT / "processes" / "problem_dispatch.bpmn").read_text(encoding="utf-8")
RENAMED = DISPATCH.replace('<bpmn:userTask id="sign" name="签收">', '<bpmn:userTask id="sign" name="签收登记">')


def _actor(zjtx, district_id: int, username: str):
    with district.scope(district_id), zjtx.db.read() as session:
        return actor_by_id(session, get_user(session, username).id)


def _latest(zjtx, district_id: int, key: str = "problem_dispatch"):
    with district.scope(district_id), zjtx.db.read() as session:
        return zjtx.registry.latest(session, key)


def _offer(zjtx, who, key: str = "problem_dispatch") -> dict:
    return next(t for t in zjtx.templates.offers(who)["templates"] if t["key"] == key)


@pytest.fixture
def city(zjtx):
    """重庆市 (its designer cq_designer) and 彭水县 (ps_designer), each with the shipped processes deployed."""
    return (zjtx.create_district("500000", "重庆市", demo_prefix="cq_"),
            zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_"))


def test_a_newer_template_is_offered_with_its_differences_and_adopted_only_by_the_districts_choice(zjtx, city):
    city_id, county = city
    designer = _actor(zjtx, county, "ps_designer")
    with district.scope(county):
        offer = _offer(zjtx, designer)
        assert (offer["state"], offer["own_version"], offer["based_on"]) == ("new", 1, None)
        adopted = zjtx.templates.adopt(designer, "problem_dispatch")  # the same content: now known to be based on it
        assert not adopted.created and _offer(zjtx, designer)["state"] == "current"
    with district.scope(city_id):
        assert deploy(zjtx, {"problem_dispatch.bpmn": RENAMED})[0].version == 2  # the city publishes a new template
    with district.scope(county):
        offer = _offer(zjtx, designer)
        assert (offer["state"], offer["template_version"], offer["based_on"]) == ("newer", 2, 1)
        diff = zjtx.templates.difference(designer, "problem_dispatch")
        assert diff["own_changes"] == {"added": [], "removed": [], "changed": []}
        assert diff["template_changes"]["changed"] == [{"id": "sign", "kind": "用户任务", "name": "签收登记", "was": "签收"}]
        assert not diff["template_changes"]["added"] and not diff["template_changes"]["removed"]
    assert _latest(zjtx, county).version == 1  # offered, not imposed
    with district.scope(county):
        adopted = zjtx.templates.adopt(designer, "problem_dispatch")
        assert adopted.created and adopted.version == 2
        assert _offer(zjtx, designer)["state"] == "current"
    mine = _latest(zjtx, county)
    assert mine.note == "采用全市模板第 2 版" and mine.derived_from_version_id == _latest(zjtx, city_id).id
    assert _latest(zjtx, district.FIRST_DISTRICT).version == 1  # 黔江区 adopted nothing: its version is its own


def test_a_districts_own_edit_of_a_template_keeps_its_origin_and_shows_what_it_changed(zjtx, city):
    _, county = city
    designer = _actor(zjtx, county, "ps_designer")
    with district.scope(county):
        zjtx.templates.adopt(designer, "problem_dispatch")
        edited = DISPATCH.replace('<bpmn:userTask id="sign" name="签收">', '<bpmn:userTask id="sign" name="县级签收">')
        zjtx.repository.deploy(designer, {"problem_dispatch.bpmn": edited.encode()}, note="本县的签收名称")
        diff = zjtx.templates.difference(designer, "problem_dispatch")
    assert (diff["own_version"], diff["based_on"]) == (2, 1)
    assert diff["own_changes"]["changed"] == [{"id": "sign", "kind": "用户任务", "name": "县级签收", "was": "签收"}]


def test_only_designers_use_templates_and_the_city_adopts_nothing(zjtx, city):
    city_id, county = city
    with district.scope(county), pytest.raises(PermissionDenied):
        zjtx.templates.offers(_actor(zjtx, county, "ps_dispatcher"))
    with district.scope(city_id):
        city_designer = _actor(zjtx, city_id, "cq_designer")
        assert zjtx.templates.offers(city_designer) == {"city": True, "templates": []}
        with pytest.raises(ValidationFailed):
            zjtx.templates.adopt(city_designer, "problem_dispatch")


def test_the_designer_page_offers_the_template_and_its_difference(zjtx, city):
    from web import create_app

    city_id, _ = city
    with district.scope(city_id):
        deploy(zjtx, {"problem_dispatch.bpmn": RENAMED})
    app = create_app(services=zjtx, config={"TESTING": True})
    county = Browser.signed_in(app, "ps_designer")
    page = county.get("/designer/").get_data(as_text=True)
    assert 'data-template="problem_dispatch" data-state="new"' in page and "采用第 2 版" in page
    diff = county.get("/designer/templates/problem_dispatch/diff").get_data(as_text=True)
    assert "签收登记" in diff and "原为「签收」" in diff
    assert county.post("/designer/templates/problem_dispatch/adopt").status_code == 302
    assert 'data-template="problem_dispatch" data-state="current"' in county.get("/designer/").get_data(as_text=True)
    local = Browser.signed_in(app, "designer")  # 黔江区's designer: the same offer, its own choice
    assert 'data-template="problem_dispatch" data-state="new"' in local.get("/designer/").get_data(as_text=True)
    assert Browser.signed_in(app, "ps_dispatcher").get("/designer/").status_code == 403
