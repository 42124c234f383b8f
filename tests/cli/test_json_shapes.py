"""The README's stable ``--json`` outputs have the keys of their typed shapes (engine.runtime.summaries,
engine.identity.org, engine.repository.registry and .dmn), each of the declared type: a renamed or dropped key,
in the code or in the shape, fails here."""
from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.identity.org import DepartmentRow, MeasureRow
from engine.repository.dmn import DecisionSummary, ValidationReport
from engine.repository.registry import DeployEntry
from engine.runtime.summaries import CompletionResult, HistoryEntry, InstanceSummary, InstanceView, TaskSummary

pytestmark = pytest.mark.sqlite_only
BPMN = Path(__file__).resolve().parents[2] / "processes" / "problem_dispatch.bpmn"
DMN = BPMN.with_name("cultivation_criteria.dmn")


def _conforms(value, shape) -> list[str]:
    """What in ``value`` does not fit the TypedDict ``shape`` (missing keys, values of another type)."""
    hints = typing.get_type_hints(shape)
    wrong = [f"missing {k}" for k in hints if k not in value]
    for key, hint in hints.items():
        if key in value and not _fits(value[key], hint):
            wrong.append(f"{key}={value[key]!r} is not {hint}")
    return wrong


def _fits(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.is_typeddict(hint):
        return isinstance(value, dict) and not _conforms(value, hint)
    if origin is list:
        (item,) = typing.get_args(hint) or (typing.Any,)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is typing.Any:
        return True
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


@pytest.fixture
def run_json(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, [str(a) for a in args] + ["--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    runner.invoke(main, ["init-db"], catch_exceptions=False)
    runner.invoke(main, ["seed"], catch_exceptions=False)
    return run


def test_every_stable_output_has_its_shape(run_json):
    deployed = run_json("deploy", BPMN)
    assert deployed and all(not _conforms(d, DeployEntry) for d in deployed), [_conforms(d, DeployEntry) for d in deployed]
    validated = run_json("validate", DMN)
    assert _conforms(validated, ValidationReport) == [] and validated["decisions"]
    assert all(not _conforms(d, DecisionSummary) for d in validated["decisions"])
    started = run_json("start", "problem_dispatch", "--as", "dispatcher", "--data", json.dumps(
        {"enterprise_name": "黔江某新材料科技有限公司", "category": "用工", "source": "联席会议",
         "description": "新产线投产需招聘熟练技工约60人。"},
        ensure_ascii=False))
    assert _conforms(started, InstanceSummary) == []
    [triage] = started["open_tasks"]
    assert _conforms(triage, TaskSummary) == []
    completed = run_json("complete", triage["id"], "--as", "dispatcher", "--data", '{"triage_decision": "accept"}')
    assert _conforms(completed, CompletionResult) == []
    tasks = run_json("tasks")
    assert tasks and all(not _conforms(t, TaskSummary) for t in tasks)
    shown = run_json("show", started["business_key"])
    assert _conforms(shown, InstanceView) == []
    assert shown["history"] and all(not _conforms(h, HistoryEntry) for h in shown["history"])
    measures = run_json("measures")
    assert len(measures) == 30 and all(not _conforms(m, MeasureRow) for m in measures)
    departments = run_json("departments")
    assert departments and all(not _conforms(d, DepartmentRow) for d in departments)


def test_the_check_catches_a_renamed_key_and_a_wrong_type():
    task = {k: None for k in typing.get_type_hints(TaskSummary)}
    assert "missing id" not in _conforms(task, TaskSummary)
    del task["business_key"]
    assert "missing business_key" in _conforms(task, TaskSummary)
    assert any(w.startswith("id=") for w in _conforms({**task, "id": "7"}, TaskSummary))
