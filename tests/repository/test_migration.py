"""Moving running instances to a new version: preview, migrate, refuse with reasons."""
from __future__ import annotations

import pytest

from engine.errors import Conflict
from tests.helpers import BPMN, Item, deploy

pytestmark = pytest.mark.sqlite_only


def test_a_running_instance_moves_to_the_new_version(zjtx):
    item = Item(zjtx)
    item.accept()
    deploy(zjtx, {"problem_dispatch.bpmn": BPMN.replace('name="交办"', 'name="交办（新版）"')}, trusted=True)
    preview = zjtx.migrations.preview(item.id)
    assert preview["possible"] is True and (preview["from"], preview["to"]) == (1, 2)
    assert "交办（新版）" in preview["changes"]["changed"] or preview["changes"]["changed"]
    result = zjtx.migrations.migrate(item.id, "designer")
    assert result["to"] == 2
    assert zjtx.queries.show(item.id)["version"] == 2
    assert item.task("dispatch")["name"] == "交办（新版）"
    assert any(h["action"] == "migrated" for h in item.show()["history"])
    item.dispatch("区科技局")  # it runs on in the new version
    assert item.task("sign")["department"] == "区科技局"


def without_dispatch_step() -> str:
    """The dispatch diagram with its 交办 user task removed (研判 leads straight to 分解任务)."""
    import re

    flow = '<bpmn:sequenceFlow id="flow_dispatch_build" sourceRef="dispatch" targetRef="build_assignments"/>'
    s = BPMN[:BPMN.index('    <bpmn:userTask id="dispatch" name="交办">')] + BPMN[BPMN.index(flow) + len(flow):]
    s = s.replace('targetRef="dispatch"', 'targetRef="build_assignments"').replace(
        "<bpmn:incoming>flow_dispatch_build</bpmn:incoming>", "<bpmn:incoming>flow_accept</bpmn:incoming>")
    s = re.sub(r'<bpmndi:BPMN(Shape|Edge) id="(dispatch|flow_dispatch_build)_di".*?</bpmndi:BPMN(Shape|Edge)>', "", s,
               flags=re.S)
    return s.replace("<bpmn:flowNodeRef>dispatch</bpmn:flowNodeRef>", "")


def test_migration_is_refused_when_the_current_step_was_removed(zjtx):
    item = Item(zjtx)
    item.accept()
    deploy(zjtx, {"problem_dispatch.bpmn": without_dispatch_step()}, trusted=True)
    preview = zjtx.migrations.preview(item.id)
    assert preview["possible"] is False and any("「交办」在新版本中已删除" in r for r in preview["reasons"])
    with pytest.raises(Conflict):
        zjtx.migrations.migrate(item.id, "designer")
    assert zjtx.queries.show(item.id)["version"] == 1 and item.task("dispatch")
