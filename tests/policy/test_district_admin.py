"""区县管理 (issue 20): the city's administrators create a district from a chosen set of the city's templates, with
its units and first administrator; a mistake leaves nothing behind; nobody else may."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.accounts import actor_by_id
from engine.identity.districts import CITY_CODE, CITY_NAME
from engine.identity.org import get_user
from engine.storage import district
from engine.storage.models import AuditRecord, District, ProcessSchedule, User
from tests.helpers import Browser, deploy
from tests.repository.test_templates import RENAMED

ADMIN = {"admin_username": "wz_admin", "admin_display_name": "万州区管理员", "admin_password": "a-long-password"}


def _actor(zjtx, district_id: int, username: str):
    with district.scope(district_id), zjtx.db.read() as session:
        return actor_by_id(session, get_user(session, username).id)


@pytest.fixture
def city(zjtx):
    """重庆市 with the shipped processes, then a second version of its dispatch template (签收 renamed)."""
    city_id = zjtx.create_district(CITY_CODE, CITY_NAME, demo_prefix="cq_")
    with district.scope(city_id):
        deploy(zjtx, {"problem_dispatch.bpmn": RENAMED})
    return city_id


def _versions(zjtx, district_id: int) -> dict[str, tuple[int, int | None, str]]:
    """key → (version number, the template version id it came from, its dispatch's sign task name)."""
    from engine.storage.models import ProcessDefinition, ProcessVersion

    with district.scope(district_id), zjtx.db.read() as session:
        rows = session.execute(select(ProcessDefinition.key, ProcessVersion.version,
                                      ProcessVersion.derived_from_version_id).join(ProcessDefinition)).all()
        sign = zjtx.registry.source(session, "problem_dispatch", None)[1]
    return {key: (number, derived, "签收登记" if "签收登记" in sign else "签收") for key, number, derived in rows}


def test_a_district_made_from_chosen_templates_starts_from_them_and_ships_the_rest(zjtx, city):
    officer = _actor(zjtx, city, "cq_admin")
    made = zjtx.district_admin.create(officer, {"code": "500101", "name": "万州区", **ADMIN,
                                                "templates": ["problem_dispatch"]})
    versions = _versions(zjtx, made["id"])
    template = _versions(zjtx, city)
    assert versions["problem_dispatch"][0] == 1 and versions["problem_dispatch"][2] == "签收登记"
    assert versions["problem_dispatch"][1] is not None  # recorded as made from the city's second version
    assert set(versions) == set(template)  # the rest shipped
    assert all(derived is None for key, (_, derived, _) in versions.items() if key != "problem_dispatch")
    with district.scope(made["id"]):
        offers = {t["key"]: t["state"] for t in zjtx.templates.offers(_actor(zjtx, made["id"], "wz_admin"))["templates"]}
        assert offers["problem_dispatch"] == "current" and offers["pool_admission"] == "new"
        with zjtx.db.read() as session:
            assert session.scalar(select(func.count(ProcessSchedule.id))) > 0  # the procedures' schedules too
    with district.scope(city), zjtx.db.read() as session:
        audit = session.scalar(select(AuditRecord).where(AuditRecord.action == "district_created"))
        assert audit.actor == "cq_admin" and audit.data["templates"] == ["problem_dispatch"]
    # the new administrator signs in to the new district
    with district.across(), zjtx.db.read() as session:
        assert session.scalar(select(User.district_id).where(User.username == "wz_admin")) == made["id"]


def test_all_templates_from_the_command_line_api(zjtx, city):
    made = zjtx.create_district("500102", "涪陵区", demo_prefix="fl_", templates=["*"])
    assert all(derived is not None for _, derived, _ in _versions(zjtx, made).values())


@pytest.mark.parametrize(("form", "field"), [
    ({"code": "500101", "name": "万州区", **ADMIN, "templates": ["no_such_process"]}, "templates"),
    ({"code": "123", "name": "万州区", **ADMIN}, "code"),
    ({"code": "500101", "name": "万州", **ADMIN}, "name"),
    ({"code": "500101", "name": "万州区", **ADMIN, "admin_password": "short"}, "admin_password"),
    ({"code": "500101", "name": "万州区", **ADMIN, "admin_username": "cq_admin"}, "admin_username"),
    ({"code": "500101", "name": "万州区", **ADMIN, "admin_username": "管理员"}, "admin_username"),
    ({"code": "500101", "name": "万州区", **ADMIN, "units": "[{\"name\": \"县科技局\"}]"}, "第 1 个单位"),
    ({"code": "500101", "name": "万州区", **ADMIN, "units": "不是 JSON"}, "units"),
])
def test_a_mistake_names_its_field_and_leaves_nothing(zjtx, city, form, field):
    with pytest.raises(ValidationFailed) as refused:
        zjtx.district_admin.create(_actor(zjtx, city, "cq_admin"), form)
    assert field in refused.value.errors
    with district.across(), zjtx.db.read() as session:
        assert session.scalar(select(District.id).where(District.code == "500101")) is None
        assert session.scalar(select(User.id).where(User.username == "wz_admin")) is None


def test_only_the_citys_administrators_manage_districts(zjtx, city):
    county = zjtx.create_district("500243", "彭水县", demo_prefix="ps_")
    for district_id, username in ((district.FIRST_DISTRICT, "admin"), (county, "ps_admin"), (city, "cq_dispatcher")):
        who = _actor(zjtx, district_id, username)
        assert not zjtx.district_admin.may(who)
        with pytest.raises(PermissionDenied):
            zjtx.district_admin.create(who, {"code": "500101", "name": "万州区", **ADMIN})
        with pytest.raises(PermissionDenied):
            zjtx.district_admin.overview(who)


def test_the_district_page_creates_one_and_says_what_is_wrong(zjtx, city):
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})
    officer = Browser.signed_in(app, "cq_admin")
    assert "区县管理" in officer.get("/").get_data(as_text=True)
    page = officer.get("/city/districts").get_data(as_text=True)
    assert 'data-district="500114"' in page and 'value="problem_dispatch" checked' in page
    wrong = officer.post("/city/districts", {"code": "500101", "name": "万州区", **ADMIN, "admin_password": "tiny7",
                                             "templates": ["problem_dispatch"]})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "「管理员初始密码」至少 8 位" in text and 'value="万州区"' in text
    assert "tiny7" not in text  # the password is not sent back
    made = officer.post("/city/districts", {"code": "500101", "name": "万州区", **ADMIN,
                                            "templates": ["problem_dispatch"]})
    assert made.status_code == 302
    assert 'data-district="500101"' in officer.get("/city/districts").get_data(as_text=True)
    newcomer = Browser(app)
    assert newcomer.login("wz_admin", ADMIN["admin_password"]).status_code == 302
    assert "万州区" in newcomer.get("/").get_data(as_text=True)
    for username in ("admin", "cq_dispatcher"):
        other = Browser.signed_in(app, username)
        assert other.get("/city/districts").status_code == 403
        assert "区县管理" not in other.get("/").get_data(as_text=True)
