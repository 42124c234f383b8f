"""Process-wide caches: reference data (departments, calendar) checked per transaction, shared specs."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete

from engine.deadlines.calendar_store import calendar_of, set_day
from engine.identity.org import DepartmentDirectory, save_department
from engine.runtime.serialization import ParsedSpec, load_state, serializer
from engine.storage.models import DistrictCalendarDay
from tests.helpers import Item


def test_the_directory_is_shared_until_a_department_changes(zjtx):
    with zjtx.db.read() as session:
        first = DepartmentDirectory.of(session)
    with zjtx.db.read() as session:
        assert DepartmentDirectory.of(session) is first  # no rebuild: nothing changed
    with zjtx.db.write() as session:
        save_department(session, "区科学技术局", ["区科技局", "科技局"], True, original="区科技局")
        # the transaction that made the change sees it at once
        assert DepartmentDirectory.of(session).find("科技局").name == "区科学技术局"
    with zjtx.db.read() as session:
        after = DepartmentDirectory.of(session)
        assert after is not first and after.find("区科技局").name == "区科学技术局"


def test_another_node_sees_a_change_within_the_check_interval(zjtx, monkeypatch):
    """Another node's change arrives as a committed row plus a generation bump (written here with
    plain SQL, so this process's own invalidation does not come into play). The cache's clock is
    driven by hand: no real interval to race."""
    import time
    from types import SimpleNamespace

    from engine.storage import refcache

    now = [time.monotonic()]
    monkeypatch.setattr(refcache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    with zjtx.db.read() as session:
        assert DepartmentDirectory.of(session).find("区科技局") is not None
    with zjtx.db.write_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE department SET name = '区科学技术局' WHERE name = '区科技局'")
        conn.exec_driver_sql("UPDATE reference_generation SET generation = generation + 1 WHERE kind = 'org'")
    with zjtx.db.read() as session:  # within the interval the checked generation is reused
        assert DepartmentDirectory.of(session).find("区科技局") is not None
    now[0] += refcache.CHECK_SECONDS * 0.9
    with zjtx.db.read() as session:  # still within it
        assert DepartmentDirectory.of(session).find("区科技局") is not None
    now[0] += refcache.CHECK_SECONDS * 0.2
    with zjtx.db.read() as session:
        directory = DepartmentDirectory.of(session)
        assert directory.find("区科技局") is None and directory.find("区科学技术局") is not None


def test_pending_changes_are_seen_by_their_own_transaction(zjtx):
    from engine.storage.models import Department

    with zjtx.db.read() as session:
        DepartmentDirectory.of(session)  # the process cache is warm
    with zjtx.db.write() as session:
        session.query(Department).filter_by(name="区科技局").one().name = "区科学技术局"  # not flushed yet
        assert DepartmentDirectory.of(session).find("区科学技术局") is not None


def test_a_rolled_back_change_is_not_cached(zjtx):
    with pytest.raises(RuntimeError), zjtx.db.write() as session:
        save_department(session, "区科技局", ["临时别名"], True, original="区科技局")
        assert DepartmentDirectory.of(session).find("临时别名") is not None
        raise RuntimeError("rollback")
    with zjtx.db.read() as session:
        assert DepartmentDirectory.of(session).find("临时别名") is None


def test_calendar_changes_by_object_and_by_bulk_statement_are_seen(zjtx):
    day = date(2026, 12, 7)  # a Monday
    with zjtx.db.read() as session:
        assert calendar_of(session).is_workday(day)
    with zjtx.db.write() as session:
        set_day(session, day, False, "临时停工")
    with zjtx.db.read() as session:
        assert not calendar_of(session).is_workday(day)
    with zjtx.db.write() as session:
        session.execute(delete(DistrictCalendarDay).where(DistrictCalendarDay.day == day))  # an ORM bulk statement
    with zjtx.db.read() as session:
        assert calendar_of(session).is_workday(day)


def test_deadlines_follow_a_calendar_change_made_after_the_cache_was_filled(zjtx):
    item = Item(zjtx)
    item.accept()
    first = item.dispatch("区科技局", days=3)["instance"]["open_tasks"][0]  # fills the calendar cache
    with zjtx.db.write() as session:
        for d in range(1, 32):
            set_day(session, date(2027, 1, d), False, "测试停工")
    with zjtx.db.read() as session:
        assert calendar_of(session).add_working_days(date(2026, 12, 31), 1) == date(2027, 2, 1)
    assert first["due_at"]


def test_specs_shared_between_instances_keep_each_instance_apart(zjtx):
    """Two items with co-handlers (a multi-instance step) advanced in turns on the shared spec."""
    a, b = Item(zjtx), Item(zjtx)
    plans = {a: ("区科技局", {"区财政局": 5}), b: ("区财政局", {"区科技局": 5, "区人力社保局": 5})}
    for item in (a, b):
        item.accept()
    for item in (a, b):
        item.dispatch(plans[item][0], co=plans[item][1])
    departments = {item: [plans[item][0], *plans[item][1]] for item in (a, b)}
    for round_ in range(3):  # signing and answering interleaved between the two items
        for item in (a, b):
            if round_ < len(departments[item]):
                item.sign(departments[item][round_])
    for round_ in range(3):
        for item in (a, b):
            if round_ < len(departments[item]):
                item.answer(departments[item][round_], f"{departments[item][round_]}已办理")
    for item in (a, b):
        answered = {o["department"] for o in item.data()["outcomes"]}
        assert answered == set(departments[item])
        # co-handlers' parts reached the lead unit, which consolidates (主办汇总); alone, the answer is for review
        assert {t["task"] for t in item.open_tasks()} == ({"consolidate"} if plans[item][1] else {"review"})


EVENT_SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="m" name="催报"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="u"/>
    <bpmn:userTask id="u"/><bpmn:sequenceFlow id="f2" sourceRef="u" targetRef="e"/>
    <bpmn:endEvent id="e"/>
    <bpmn:subProcess id="esp" triggeredByEvent="true">
      <bpmn:startEvent id="es" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>
      <bpmn:sequenceFlow id="f3" sourceRef="es" targetRef="ee"/><bpmn:endEvent id="ee"/>
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>"""


def _spec_json(path: Path | None = None, text: str | None = None) -> str:
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    parser = SpiffBpmnParser()
    if text is not None:
        parser.add_bpmn_str(text.encode("utf-8"))
    else:
        parser.add_bpmn_file(str(path))
    pid = parser.get_process_ids()[0]
    spec, subs = parser.get_spec(pid), parser.get_subprocess_specs(pid)
    return json.dumps({"spec": serializer.to_dict(spec),
                       "subprocess_specs": {k: serializer.to_dict(v) for k, v in subs.items()}})


@pytest.mark.sqlite_only
def test_specs_the_library_changes_while_running_are_not_shared():
    with_event_subprocess = ParsedSpec(_spec_json(text=EVENT_SUBPROCESS))
    assert not with_event_subprocess.shareable
    assert with_event_subprocess.objects()[0] is not with_event_subprocess.objects()[0]
    plain = ParsedSpec(_spec_json(text=EVENT_SUBPROCESS.replace('triggeredByEvent="true"', 'triggeredByEvent="false"')
                                  .replace(' isInterrupting="false"', "")
                                  .replace('<bpmn:messageEventDefinition messageRef="m"/>', "")))
    assert plain.shareable and plain.objects()[0] is plain.objects()[0]


def test_a_shared_spec_loads_the_same_state_as_a_fresh_one(zjtx):
    from engine.storage.models import ProcessInstance

    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局", co={"区财政局": 5})
    with zjtx.db.read() as session:
        row = session.get(ProcessInstance, item.id)
        state, fmt, spec = row.state_json, row.serializer_version, row.version.spec_json
    parsed = ParsedSpec(spec)
    shared = load_state(state, fmt, parsed, zjtx.workflows.script_engine)
    fresh = load_state(state, fmt, spec, zjtx.workflows.script_engine)
    assert serializer.to_dict(shared) == serializer.to_dict(fresh)
