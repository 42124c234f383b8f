"""Districts (issue 20, docs/districts.md): two districts in one database, each seeing only its own rows, through
the service layer's filter and, on PostgreSQL, through row-level security when that filter is taken away."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from engine.errors import NotFound, UserNotFound, ValidationFailed
from engine.identity import districts
from engine.identity.org import DepartmentDirectory, load_departments_data
from engine.storage import district
from engine.storage.models import Department, HumanTask, ProcessInstance
from engine.storage.models.base import SCOPE_FILTER
from tests.helpers import REGISTRATION, Item, liaison

LEAD = "区科技局"


def second_district(zjtx) -> int:
    """彭水县 with 黔江区's unit names: a lookup by name must still stay in its district."""
    return zjtx.create_district("500243", "彭水县", units=load_departments_data(), demo_prefix="ps_")


def start_in(zjtx, prefix: str) -> dict:
    """An item registered and accepted by the district's dispatcher, dispatched to its 区科技局."""
    started = zjtx.workflows.start("problem_dispatch", dict(REGISTRATION), actor=f"{prefix}dispatcher")
    tasks = zjtx.queries.tasks(instance_id=started["id"])
    zjtx.workflows.complete(tasks[0]["id"], {"triage_decision": "accept"}, f"{prefix}dispatcher")
    dispatch = zjtx.queries.tasks(instance_id=started["id"])[0]
    zjtx.workflows.complete(dispatch["id"], {"lead_department": LEAD, "lead_due_working_days": 5, "co_handlers": []},
                            f"{prefix}dispatcher")
    return started


@pytest.fixture
def two(zjtx):
    """黔江区 (the seeded district, 1) with an item, and 彭水县 (2) with units of the same names and an item."""
    first = Item(zjtx)
    first.accept()
    first.dispatch(LEAD)
    second = second_district(zjtx)
    with district.scope(second):
        other = start_in(zjtx, "ps_")
    return first, second, other


def test_each_district_sees_and_acts_on_its_own_rows_only(zjtx, two):
    first, second, other = two
    mine = {t["instance_id"] for t in zjtx.queries.tasks()}
    assert first.id in mine and other["id"] not in mine
    with pytest.raises(NotFound):
        zjtx.queries.show(other["id"])
    foreign_sign = first.task("sign")["id"]
    with district.scope(second):
        theirs = zjtx.queries.tasks()
        assert {t["instance_id"] for t in theirs} == {other["id"]}
        with pytest.raises(NotFound):
            zjtx.queries.show(first.id)
        with pytest.raises(NotFound):  # by id, as if it did not exist: nothing tells of the other district
            zjtx.workflows.complete(foreign_sign, {"sign_decision": "sign"}, f"ps_{liaison(LEAD)}")
        with pytest.raises(UserNotFound):  # 黔江区's accounts are not 彭水县's
            zjtx.queries.tasks(actor=liaison(LEAD))
        sign = next(t for t in theirs if t["task"] == "sign")
        zjtx.workflows.complete(sign["id"], {"sign_decision": "sign"}, f"ps_{liaison(LEAD)}")
    assert first.task("sign")["department"] == LEAD  # untouched by the other district's signing


def test_a_unit_name_means_the_unit_of_the_district_asking(zjtx, two):
    _, second, _ = two
    with zjtx.db.read() as session:
        here = DepartmentDirectory.of(session).get(LEAD).id
    with district.scope(second), zjtx.db.read() as session:
        there = DepartmentDirectory.of(session).get(LEAD).id
    with zjtx.db.read() as session:  # the cached directory of one district is never the other's
        assert DepartmentDirectory.of(session).get(LEAD).id == here
    assert here != there


def test_work_across_districts_reads_all_and_writes_only_a_named_district(zjtx, two):
    first, _, other = two
    with district.scope(district.ALL), zjtx.db.read() as session:
        ids = set(session.scalars(select(ProcessInstance.id)))
    assert {first.id, other["id"]} <= ids
    with pytest.raises(StatementError, match="必须指明区县"), district.scope(district.ALL), zjtx.db.write() as session:
        session.add(Department(name="某单位", short_code="some_unit"))


def test_a_new_district_is_checked_and_leaves_nothing_when_refused(zjtx):
    with pytest.raises(ValidationFailed) as refused:
        zjtx.create_district("500114", "黔江区")
    assert set(refused.value.errors) == {"code", "name"}
    with pytest.raises(ValidationFailed) as refused:
        zjtx.create_district("12345", "彭水", demo_prefix="PS")
    assert set(refused.value.errors) == {"code", "name", "prefix"}
    with zjtx.db.read() as session:
        assert [d.code for d in districts.rows(session)] == ["500114"]


def test_a_county_gets_units_of_its_own_names_that_the_shipped_procedures_still_find(zjtx):
    second = zjtx.create_district("500243", "彭水县", full_name="重庆市彭水苗族土家族自治县", demo_prefix="ps_")
    with district.scope(second):
        with zjtx.db.read() as session:
            directory = DepartmentDirectory.of(session)
            assert directory.get("区经济信息委").name == "县经济信息委"
            assert directory.get("重庆市彭水苗族土家族自治县人民政府办公室").name == "县政府办"
        item = start_in(zjtx, "ps_")
        sign = next(t for t in zjtx.queries.tasks(instance_id=item["id"]) if t["task"] == "sign")
        assert sign["department"] == "县科技局"


def test_row_level_security_refuses_other_districts_rows_without_the_service_filter(zjtx, two):
    """The issue's proof: the service layer's filter removed, PostgreSQL alone keeps 彭水县 from 黔江区's rows —
    for reads by id, lists, hand-written SQL, updates and inserts alike."""
    if zjtx.db.dialect != "postgresql":
        pytest.skip("SQLite 没有行级安全：嵌入式默认部署只有一个区县，隔离由服务层过滤保证")
    first, second, other = two
    event.remove(Session, "do_orm_execute", SCOPE_FILTER)
    try:
        with district.scope(second):
            with zjtx.db.read() as session:
                assert session.get(ProcessInstance, first.id) is None
                assert set(session.scalars(select(HumanTask.instance_id))) == {other["id"]}
                assert session.scalar(text("SELECT count(*) FROM process_instance")) == 1
                assert session.scalar(select(func.count()).select_from(Department)) == \
                    session.scalar(text("SELECT count(*) FROM department WHERE district_id = :d"), {"d": second})
            with pytest.raises(NotFound):
                zjtx.queries.show(first.id)
            with zjtx.db.write() as session:
                changed = session.execute(update(ProcessInstance).where(ProcessInstance.id == first.id)
                                          .values(title="改写").execution_options(synchronize_session=False))
                assert changed.rowcount == 0
            with pytest.raises(DBAPIError, match="row-level security"), zjtx.db.write() as session:
                session.add(Department(name="越界单位", short_code="intruder", district_id=district.FIRST_DISTRICT))
        with zjtx.db.read() as session:  # and the rows asked for are still there for their own district
            assert session.get(ProcessInstance, first.id).title != "改写"
    finally:
        event.listen(Session, "do_orm_execute", SCOPE_FILTER)


def test_every_district_table_is_under_row_level_security(zjtx):
    """Every table of a district's data (a DistrictScoped model, whichever migration made it) has the policy,
    enabled and forced, so a table added later cannot be left open on PostgreSQL."""
    from engine.storage.models import Base
    from engine.storage.models.base import DistrictScoped

    if zjtx.db.dialect != "postgresql":
        pytest.skip("SQLite 没有行级安全：嵌入式默认部署只有一个区县")
    scoped = {m.class_.__tablename__ for m in Base.registry.mappers if issubclass(m.class_, DistrictScoped)}
    with zjtx.db.as_owner() as conn:
        policies: dict[str, set] = {}
        for name, enabled, forced, policy, roles in conn.execute(text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.polname, "
                "array(SELECT rolname FROM pg_roles WHERE oid = ANY (p.polroles) ORDER BY rolname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
                "JOIN pg_policy p ON p.polrelid = c.oid WHERE c.relkind = 'r'")):
            if enabled and forced:
                policies.setdefault(name, set()).add((policy, tuple(roles)))
    assert "district_calendar_day" in scoped and len(scoped) > 40
    expected = {("district_isolation", ("zjtx_app",)), ("city_wide", ("zjtx_city",))}
    assert {table for table in scoped if policies.get(table) != expected} == set()


def test_the_application_role_sees_no_district_without_one_and_the_city_role_sees_all(zjtx, two):
    """A district's connection with no district, or with the old city-wide value 0, sees nothing: only the city
    role (which engine/storage/db.py takes for the city-wide scope) reads across districts."""
    if zjtx.db.dialect != "postgresql":
        pytest.skip("SQLite 没有行级安全")
    with zjtx.db.as_owner() as conn:  # (a connection of its own, closed after)
        conn.exec_driver_sql("SET ROLE zjtx_app")
        for setting in ("", "0", "-1"):
            conn.exec_driver_sql(f"SELECT set_config('zjtx.district', '{setting}', false)")
            assert conn.exec_driver_sql("SELECT count(*) FROM process_instance").scalar() == 0
        conn.exec_driver_sql("SET ROLE zjtx_city")
        assert conn.exec_driver_sql("SELECT count(*) FROM process_instance").scalar() == 2
    with district.across(), zjtx.db.read() as session:
        assert session.scalar(text("SELECT current_user")) == "zjtx_city"
        assert session.scalar(text("SELECT count(DISTINCT district_id) FROM process_instance")) == 2
    with zjtx.db.read() as session:
        assert session.scalar(text("SELECT current_user")) == "zjtx_app"


def test_a_shared_measures_units_are_each_districts_own(zjtx):
    """The 30 measures are the city's; which units lead each is a district's — loading a measure's units in one
    district (seeding another district clears and writes its own) leaves the other district's as they were."""
    from engine.storage.models import Measure, MeasureUnit

    def units() -> dict[int, int]:
        with district.scope(district.ALL), zjtx.db.read() as session:
            return dict(session.execute(select(MeasureUnit.district_id, func.count(MeasureUnit.id))
                                        .group_by(MeasureUnit.district_id)).all())

    before = units()[district.FIRST_DISTRICT]
    second = second_district(zjtx)
    after = units()
    assert after[district.FIRST_DISTRICT] == before and after[second] == before
    with district.scope(second), zjtx.db.read() as session:
        measure = session.get(Measure, 1)
        assert {u.district_id for u in measure.units} == {second}
