"""SpiffWorkflow (de)serialization with the spec kept apart from the instance state.

The instance row stores ``to_dict(workflow)`` minus ``spec`` and ``subprocess_specs`` (these live
once per process version) plus the serializer format in its own column. Loading re-attaches
the version's spec and runs the library's format migration when the stored format is older.
"""
from __future__ import annotations

import json

from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

FORMAT_VERSION = VERSION
serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
_VERSION_KEY = serializer.VERSION_KEY


def dump_state(workflow: BpmnWorkflow) -> str:
    dct = serializer.to_dict(workflow)
    dct.pop("spec", None)
    dct.pop("subprocess_specs", None)
    dct.pop(_VERSION_KEY, None)
    return json.dumps(dct, ensure_ascii=False, separators=(",", ":"))


def load_state(state_json: str, format_version: str, spec_json: str, script_engine) -> BpmnWorkflow:
    dct = json.loads(state_json)
    specs = json.loads(spec_json)
    dct["spec"] = specs["spec"]
    dct["subprocess_specs"] = specs["subprocess_specs"]
    if format_version != FORMAT_VERSION:
        dct[_VERSION_KEY] = format_version
        serializer.migrate(dct)  # pops the version key
    workflow = serializer.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(spec_json: str, script_engine) -> BpmnWorkflow:
    specs = json.loads(spec_json)
    spec = serializer.from_dict(specs["spec"])
    subs = {k: serializer.from_dict(v) for k, v in specs["subprocess_specs"].items()}
    return BpmnWorkflow(spec, subs, script_engine=script_engine)


TIMER_EVENTS = ("TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition")


def next_timer(workflow: BpmnWorkflow):
    """The earliest moment one of the workflow's waiting timers falls due (aware UTC), or None."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    moments = []
    for event in workflow.waiting_events():
        if event.event_type not in TIMER_EVENTS or not event.value:
            continue
        try:
            moment = TimerEventDefinition.get_datetime(event.value)
        except (TypeError, ValueError):
            continue
        if moment.tzinfo is None:
            continue
        moments.append(moment)
    return min(moments) if moments else None
