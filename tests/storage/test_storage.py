"""Storage on SQLite and PostgreSQL: the migrated schema, optimistic concurrency, no half-writes."""
from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, select
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Conflict, ValidationFailed, WorkflowFailed
from engine.storage.models import AuditRecord, Base, HumanTask, ProcessInstance
from tests.helpers import Item, liaison
from tests.helpers import counts as _counts

LEAD = "区科技局"


def test_migrations_create_exactly_the_models_schema(zjtx):
    with zjtx.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_changes_nothing(zjtx):
    zjtx.init_db()
    zjtx.seed()
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count()).select_from(HumanTask)) == 0


def test_two_users_completing_the_same_task_at_once_one_wins(zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    sign = item.task("sign")
    before = _counts(zjtx, item.id)
    # Hold both transactions just before commit so they really overlap. On SQLite the second
    # writer cannot begin until the first commits (BEGIN IMMEDIATE): the barrier then times out
    # for the first and the second sees the task already done.
    barrier = threading.Barrier(2, timeout=3)

    def hold(_session):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    event.listen(zjtx.db._write, "before_commit", hold)
    outcomes: list = []

    def sign_as(user, decision):
        try:
            zjtx.workflows.complete(sign["id"], decision, user)
            outcomes.append(("ok", user))
        except Conflict as exc:
            outcomes.append(("conflict", exc.message))

    threads = [
        threading.Thread(target=sign_as, args=(liaison(LEAD), {"sign_decision": "sign"})),
        threading.Thread(target=sign_as, args=(f"{liaison(LEAD)[:-8]}_head",
                                               {"sign_decision": "return", "return_reason": "非本单位职责"})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    event.remove(zjtx.db._write, "before_commit", hold)
    assert sorted(o[0] for o in outcomes) == ["conflict", "ok"], outcomes
    winner = next(o[1] for o in outcomes if o[0] == "ok")
    tasks, audits, revision = _counts(zjtx, item.id)
    # Exactly one step's worth of rows was written: one new task, one completion, one creation record.
    assert (tasks, audits, revision) == (before[0] + 1, before[1] + 2, before[2] + 1)
    expected_next = "handle" if winner == liaison(LEAD) else "redispatch"
    assert [t["task"] for t in item.open_tasks()] == [expected_next]


def test_a_stale_instance_revision_is_refused(zjtx):
    item = Item(zjtx)
    with zjtx.db.read() as session:
        stale = session.get(ProcessInstance, item.id)
        session.expunge(stale)  # what a slow request read before someone else moved on
    item.accept()
    with pytest.raises(StaleDataError), zjtx.db.write() as session:
        session.add(stale)
        stale.state_json = "{}"
        session.flush()
    assert [t["task"] for t in item.open_tasks()] == ["dispatch"]


def test_a_refused_step_writes_nothing(zjtx):
    item = Item(zjtx)
    triage = item.task("triage")
    before = _counts(zjtx, item.id)
    with pytest.raises(ValidationFailed):
        zjtx.workflows.complete(triage["id"], {"triage_decision": "accept", "extra": 1}, "dispatcher")
    assert _counts(zjtx, item.id) == before


def test_a_script_failing_mid_step_writes_nothing(zjtx):
    from tests.helpers import MINIMAL, USER_TASK

    broken = MINIMAL.format(lane="区科技局", task=USER_TASK).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="e"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="boom"/>'
        '<bpmn:scriptTask id="boom" name="出错的脚本"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
        '<bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f3" sourceRef="boom" targetRef="e"/>').replace(
        '<bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>', '<bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>')
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"broken.bpmn": broken.encode()}, trusted=True)
    started = zjtx.workflows.start("tiny", {}, actor="admin")
    before = _counts(zjtx, started["id"])
    with pytest.raises(WorkflowFailed) as caught:
        zjtx.workflows.complete(started["open_tasks"][0]["id"], {}, "admin")
    assert "出错的脚本" in caught.value.message and "boom" in caught.value.message
    assert _counts(zjtx, started["id"]) == before
    assert [t["status"] for t in zjtx.queries.tasks(instance_id=started["id"])] == ["in_progress"]


def test_upgrading_a_database_with_data_from_the_first_schema_keeps_it(database_url):
    """An installation made with the first release upgrades in place (SQLite copies tables for that)."""
    from engine.bootstrap import bootstrap
    from engine.config import PROCESSES_DIR, Settings
    from engine.storage.schema import upgrade

    services = bootstrap(Settings(database_url=database_url, processes_dir=PROCESSES_DIR))
    upgrade(services.db, "0001")
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO department (id, name, short_code, leading_group_member, sort_order) "
                             "VALUES (1, '区科技局', 'science_tech_bureau', true, 0)")
        conn.exec_driver_sql("INSERT INTO process_definition (id, key, name, created_at) VALUES "
                             "(1, 'p', 'P', '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO process_version (id, definition_id, version, content_hash, spec_json, "
                             "sources, forms, deployed_at) VALUES (1, 1, 1, 'h', '{}', '{}', '{}', '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO process_instance (id, version_id, business_key, status, state_json, "
                             "serializer_version, revision, started_at, updated_at) VALUES "
                             "(1, 1, 'K-1', 'running', '{}', '1.5', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO human_task (id, instance_id, spiff_task_id, bpmn_id, name, department_id, "
                             "roles, status, created_at) VALUES (1, 1, 'x', 'sign', '签收', 1, 'liaison', 'to_sign', "
                             "'2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO audit_record (id, instance_id, task_id, action, at) VALUES "
                             "(1, 1, 1, 'task_created', '2026-01-01 00:00:00')")
    services.init_db()
    with services.db.read() as session:
        task = session.get(HumanTask, 1)
        assert (task.name, task.kind, task.escalation_level) == ("签收", "bpmn", 0)
        assert session.get(AuditRecord, 1).task_id == 1
        # states written as plain JSON text read back unchanged; saving compresses them
        assert session.get(ProcessInstance, 1).state_json == "{}"
    state = '{"tasks":{},"data":{"企业":"' + "重庆某某科技有限公司" * 50 + '"}}'
    with services.db.write() as session:
        session.get(ProcessInstance, 1).state_json = state
    with services.db.engine.connect() as conn:
        stored = bytes(conn.exec_driver_sql("SELECT state_json FROM process_instance WHERE id = 1").scalar())
        assert stored[:1] == b"x" and len(stored) < len(state.encode()) / 5
        assert dict(conn.exec_driver_sql("SELECT kind, generation FROM reference_generation").all()) == {
            "org": 1, "calendar": 1}
    with services.db.read() as session:
        assert session.get(ProcessInstance, 1).state_json == state
    services.close()


def test_upgrading_moves_the_portals_files_off_its_stand_in_account(database_url):
    """Files an enterprise sent before 0026 named the stand-in account qiye_portal: they name no account after
    (which is how the portal tells them from staff files), staff files keep theirs, the stand-in is gone."""
    from engine.bootstrap import bootstrap
    from engine.config import PROCESSES_DIR, Settings
    from engine.storage.schema import upgrade

    services = bootstrap(Settings(database_url=database_url, processes_dir=PROCESSES_DIR))
    upgrade(services.db, "0025")
    at = "'2026-11-01 00:00:00'"
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO department (id, name, short_code, leading_group_member, sort_order) "
                             "VALUES (1, '区经济信息委', 'economy_commission', true, 0)")
        for uid, name in ((1, "dispatcher"), (2, "qiye_portal")):
            conn.exec_driver_sql("INSERT INTO app_user (id, username, display_name, password_hash, department_id, "
                                 f"active, created_at, session_generation) VALUES ({uid}, '{name}', '{name}', '!', 1, "
                                 f"{'true' if uid == 1 else 'false'}, {at}, 0)")
        conn.exec_driver_sql(f"INSERT INTO process_definition (id, key, name, created_at) VALUES (1, 'p', 'P', {at})")
        conn.exec_driver_sql("INSERT INTO process_version (id, definition_id, version, content_hash, spec_json, "
                             f"sources, forms, deployed_at) VALUES (1, 1, 1, 'h', '{{}}', '{{}}', '{{}}', {at})")
        conn.exec_driver_sql("INSERT INTO process_instance (id, version_id, business_key, status, state_json, "
                             f"serializer_version, revision, started_at, updated_at) VALUES (1, 1, 'K-1', 'running', "
                             f"'{{}}', '1.5', 1, {at}, {at})")
        for fid, uid in ((1, 1), (2, 2)):
            conn.exec_driver_sql("INSERT INTO attachment (id, instance_id, user_id, filename, content_type, size, "
                                 f"sha256, at) VALUES ({fid}, 1, {uid}, 'f{fid}.pdf', 'application/pdf', 1, 'x', {at})")
    services.init_db()
    with services.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id, user_id, contact_id FROM attachment ORDER BY id").all() == [
            (1, 1, None), (2, None, None)]
        # 0027: the district every row from before belongs to
        assert conn.exec_driver_sql("SELECT id, code, name FROM district").all() == [(1, "500114", "黔江区")]
        assert conn.exec_driver_sql("SELECT district_id FROM department").all() == [(1,)]
        assert [r[0] for r in conn.exec_driver_sql("SELECT username FROM app_user")] == ["dispatcher"]
    services.close()


def test_the_organisation_and_the_registry_belong_to_the_first_district(zjtx):
    from engine.storage.models import Department, District, Enterprise
    from tests.helpers import register

    enterprise_id = register(zjtx)
    with zjtx.db.read() as session:
        [district] = session.scalars(select(District))
        assert (district.code, district.name, district.kind) == ("500114", "黔江区", "区")
        assert set(session.scalars(select(Department.district_id))) == {district.id}
        assert session.get(Enterprise, enterprise_id).district_id == district.id


def _kill_pooled_connections(zjtx) -> int:
    """Terminate, from another connection, every server connection idle in the engine's pool (what a
    database restart does to them); returns how many."""
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    pool = zjtx.db.engine.pool
    held = [zjtx.db.engine.connect() for _ in range(max(pool.checkedin(), 1))]
    pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar() for conn in held]
    for conn in held:
        conn.close()
    admin = make_url(str(zjtx.db.url.render_as_string(hide_password=False))).set(drivername="postgresql", query={})
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


@pytest.mark.postgres
def test_requests_survive_the_database_dropping_its_connections(zjtx, monkeypatch):
    """PostgreSQL connections in steady use are not pinged before each request (a round trip each);
    when the server has dropped them, the request's unit of work runs again on a fresh connection and
    the user sees nothing. Connections idle for a while are pinged and replaced before use."""
    from engine.identity.accounts import issue_token
    from engine.identity.org import get_user
    from engine.storage import db as dbmodule
    from web import create_app

    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD)
    with zjtx.db.write() as session:
        token = issue_token(session, get_user(session, liaison(LEAD)).id, "t")
    client = create_app(services=zjtx).test_client()
    headers = {"Authorization": f"Bearer {token}"}

    # 1. Through the API: the token check meets the dead connection first.
    sign = item.task("sign")
    assert _kill_pooled_connections(zjtx) >= 1
    response = client.post(f"/api/v1/tasks/{sign['id']}/complete", json={"sign_decision": "sign"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    # 2. The step itself meets it.
    handle = item.task("handle")
    before = _counts(zjtx, item.id)
    _kill_pooled_connections(zjtx)
    zjtx.workflows.complete(handle["id"], {"handle_action": "answer", "answer": "已协调解决并答复企业"}, liaison(LEAD))
    tasks, audits, revision = _counts(zjtx, item.id)
    assert revision == before[2] + 1 and tasks > before[0] and audits > before[1]
    # 3. A read that meets a dead connection (no retry there) is refused with a clear message, not a
    # server error, and the next request has a fresh connection.
    monkeypatch.setattr(dbmodule, "retry_on_disconnect", lambda work: work())
    _kill_pooled_connections(zjtx)
    response = client.get(f"/api/v1/instances/{item.id}", headers=headers)
    assert response.status_code == 503 and "数据库连接中断" in response.get_json()["message"]
    assert client.get(f"/api/v1/instances/{item.id}", headers=headers).status_code == 200
    # 4. With every connection counted as idle, the ping replaces it before anything is sent: this
    # works with the retry switched off.
    monkeypatch.setattr(dbmodule, "PING_AFTER_IDLE_SECONDS", 0.0)
    _kill_pooled_connections(zjtx)
    response = client.get(f"/api/v1/instances/{item.id}", headers=headers)
    assert response.status_code == 200 and response.get_json()["id"] == item.id
