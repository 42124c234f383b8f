"""Deploying diagrams: immutable numbered versions, safe parsing, per-element problems."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import DeploymentError, ProcessNotFound
from engine.storage.models import ProcessVersion
from tests.helpers import BPMN, CONFORMANCE, MINIMAL, USER_TASK, Item, deploy

SCRIPT_TASK = ('<bpmn:scriptTask id="t1" name="算一算"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
               '<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>')


def problems_of(zjtx, files, trusted=False) -> list[dict]:
    with pytest.raises(DeploymentError) as caught:
        deploy(zjtx, files, trusted)
    return caught.value.problems


def test_identical_content_is_not_deployed_twice(zjtx):
    again = {r.key: r for r in zjtx.deploy_bundled()}
    assert (again["problem_dispatch"].version, again["problem_dispatch"].created) == (1, False)
    assert (again["pool_admission"].version, again["pool_admission"].created) == (1, False)
    assert (again["pool_data_update"].version, again["pool_data_update"].created) == (1, False)
    with zjtx.db.read() as session:
        assert len(session.scalars(select(ProcessVersion)).all()) == len(again) >= 5


def test_a_changed_diagram_becomes_a_new_version_and_running_instances_keep_theirs(zjtx):
    old = Item(zjtx)
    old.accept()
    changed = BPMN.replace('name="交办"', 'name="交办（新版）"')
    [result] = deploy(zjtx, {"problem_dispatch.bpmn": changed}, trusted=True)
    assert (result.version, result.created) == (2, True)
    new = Item(zjtx)
    assert zjtx.queries.show(new.id)["version"] == 2
    assert zjtx.queries.show(old.id)["version"] == 1
    assert old.task("dispatch")["name"] == "交办"
    new.accept()
    assert new.task("dispatch")["name"] == "交办（新版）"
    old.dispatch("区科技局")  # the old version still runs on
    assert old.task("sign")["department"] == "区科技局"


def test_a_diagram_is_deployed_with_the_lane_as_its_department(zjtx):
    [result] = deploy(zjtx, {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=USER_TASK)})
    assert (result.key, result.name, result.version) == ("tiny", "小流程", 1)
    started = zjtx.workflows.start("tiny", {}, actor="admin")
    assert [t["department"] for t in started["open_tasks"]] == ["区科技局"]


def test_unknown_process_cannot_be_started(zjtx):
    with pytest.raises(ProcessNotFound) as caught:
        zjtx.workflows.start("nope", {})
    assert caught.value.message == "流程「nope」尚未部署"


def test_malformed_xml_is_reported_with_file_and_line(zjtx):
    [problem] = problems_of(zjtx, {"broken.bpmn": "<bpmn:definitions>\n<oops>\n</bpmn:definitions>"})
    assert problem["file"] == "broken.bpmn" and problem["line"] in (1, 2, 3)
    assert "XML 格式错误" in problem["message"]


def test_external_entities_are_refused(zjtx):
    xxe = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           + MINIMAL.split("?>", 1)[1].replace('name="小流程"', 'name="&x;"'))
    [problem] = problems_of(zjtx, {"xxe.bpmn": xxe.format(lane="区科技局", task=USER_TASK)})
    assert "DOCTYPE" in problem["message"]
    billion = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    [problem] = problems_of(zjtx, {"lol.bpmn": billion})
    assert "DOCTYPE" in problem["message"]


def test_a_lane_that_is_no_department_is_reported_by_element(zjtx):
    [problem] = problems_of(zjtx, {"tiny.bpmn": MINIMAL.format(lane="某某办公室", task=USER_TASK)})
    assert problem["element"] == "t1" and problem["element_name"] == "办理"
    assert "泳道「某某办公室」不对应任何部门" in problem["message"]


def test_missing_form_and_unknown_role_are_reported(zjtx):
    task = USER_TASK.replace('name="办理">', 'name="办理"><bpmn:extensionElements><spiffworkflow:properties>'
                             '<spiffworkflow:property name="formJsonSchemaFilename" value="nope.schema.json"/>'
                             '<spiffworkflow:property name="roles" value="liaison,boss"/>'
                             '</spiffworkflow:properties></bpmn:extensionElements>')
    messages = [p["message"] for p in problems_of(zjtx, {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=task)})]
    assert any("nope.schema.json 不存在" in m for m in messages)
    assert any("未知角色：boss" in m for m in messages)


def test_uploaded_scripts_are_deployed_and_run_in_the_sandbox(zjtx):
    files = {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=SCRIPT_TASK)}
    assert deploy(zjtx, files)[0].created  # the sandbox (engine/runtime/sandbox.py) makes scripts safe to accept
    assert zjtx.workflows.start("tiny", {}, actor="admin")["status"] == "completed"


def test_nothing_is_written_when_a_deployment_fails(zjtx):
    good = {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=USER_TASK)}
    bad = {"bad.bpmn": MINIMAL.format(lane="无此部门", task=USER_TASK).replace('id="tiny"', 'id="tiny2"')}
    problems_of(zjtx, {**good, **bad})
    with pytest.raises(ProcessNotFound):
        zjtx.workflows.start("tiny", {})


@pytest.mark.sqlite_only
@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance 不存在")
@pytest.mark.parametrize("name", sorted(p.name for p in CONFORMANCE.glob("*.bpmn")) if CONFORMANCE.is_dir() else [])
def test_conformance_files_deploy_or_get_a_report_never_a_crash(zjtx, name):
    content = (CONFORMANCE / name).read_text(encoding="utf-8")
    try:
        deploy(zjtx, {name: content})
    except DeploymentError as exc:
        assert exc.problems and all(p["message"] for p in exc.problems)


def test_two_uploads_validated_at_once_keep_their_own_reports(zjtx):
    """One registry serves every request of the threaded server: the state of a parse is the thread's own."""
    import threading

    def bad(lane: str, padding: int) -> bytes:
        # The same element id at a different line in each file: mixed state would give the wrong line.
        return MINIMAL.format(lane=lane, task="\n" * padding + USER_TASK).encode()

    reports: dict[int, list] = {}
    started = threading.Barrier(2)

    def check(padding: int) -> None:
        started.wait()
        for _ in range(20):
            with zjtx.db.read() as session:
                problems = zjtx.registry.validate(session, {f"p{padding}.bpmn": bad("不存在的单位", padding)})
            reports.setdefault(padding, []).append({(p.get("file"), p.get("line")) for p in problems
                                                    if p.get("element") == "t1"})
    threads = [threading.Thread(target=check, args=(n,)) for n in (1, 40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for padding, runs in reports.items():
        assert all(run == runs[0] for run in runs) and runs[0], runs
        [(file, _line)] = runs[0]
        assert file == f"p{padding}.bpmn"
    assert reports[1][0] != reports[40][0]


def test_the_inbox_categories_follow_the_deployed_registration_form(zjtx):
    import json

    from engine.config import PROCESSES_DIR

    form = json.loads((PROCESSES_DIR / "forms" / "register.schema.json").read_text(encoding="utf-8"))
    assert zjtx.workflows.categories() == form["properties"]["category"]["enum"]
    form["properties"]["category"]["enum"].append("物流")  # a designer adds a category to the form
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {
            "problem_dispatch.bpmn": (PROCESSES_DIR / "problem_dispatch.bpmn").read_bytes(),
            "register.schema.json": json.dumps(form, ensure_ascii=False).encode()})
    assert zjtx.workflows.categories()[-1] == "物流"
