"""SpiffWorkflow (de)serialization with the spec kept apart from the instance state.

The instance row stores ``to_dict(workflow)`` minus ``spec`` and ``subprocess_specs`` (these live
once per process version) plus the serializer format in its own column. Loading re-attaches
the version's spec and runs the library's format migration when the stored format is older.

A version's spec objects are restored once per process (:class:`ParsedSpec`) and shared by the
workflows loaded from it: SpiffWorkflow's task specs hold no per-instance state. The exceptions are
specs the library changes while running — event sub-processes (``trigger_wf`` connects them to the
start task) and ad-hoc conditional paths — which are restored fresh for every load. Multi-instance
merge callbacks, which the library connects on first use, are connected when the spec is restored,
so concurrent threads never race to connect them twice.
"""
from __future__ import annotations

import json
import sys
import threading

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.bytecache import MB, ByteLRU

FORMAT_VERSION = VERSION


class _StateConverter(BpmnWorkflowConverter):
    """The library's workflow converter without ``spec``/``subprocess_specs`` in ``to_dict``: the
    instance row never stores them, so converting them on every save would be wasted work."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
state_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateConverter}))
_VERSION_KEY = serializer.VERSION_KEY


def dump_state(workflow: BpmnWorkflow) -> str:
    dct = state_serializer.to_dict(workflow)
    dct.pop(_VERSION_KEY, None)
    return json.dumps(dct, ensure_ascii=False, separators=(",", ":"))


class ParsedSpec:
    """A version's spec JSON, with its restored spec objects when they can be shared."""

    def __init__(self, spec_json: str):
        self.spec_json = spec_json
        specs = json.loads(spec_json)
        spec = serializer.from_dict(specs["spec"])
        subs = {k: serializer.from_dict(v) for k, v in specs["subprocess_specs"].items()}
        self.shareable = all(_shareable(s) for s in (spec, *subs.values()))
        if self.shareable:
            for process_spec in (spec, *subs.values()):
                _connect_merges(process_spec)
        self.spec, self.subprocess_specs = spec, subs

    def objects(self):
        """(spec, subprocess specs) for one workflow."""
        if self.shareable:
            return self.spec, dict(self.subprocess_specs)
        specs = json.loads(self.spec_json)
        return (serializer.from_dict(specs["spec"]),
                {k: serializer.from_dict(v) for k, v in specs["subprocess_specs"].items()})


def _shareable(process_spec) -> bool:
    if getattr(process_spec, "conditional_paths", None):
        return False
    return not any(getattr(ts, "trigger_specs", None) for ts in process_spec.task_specs.values())


def _connect_merges(process_spec) -> None:
    from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

    for ts in process_spec.task_specs.values():
        if isinstance(ts, LoopTask) and ts.task_spec in process_spec.task_specs:
            child = process_spec.task_specs[ts.task_spec]
            if not child.completed_event.is_connected(ts.merge_child):
                child.completed_event.connect(ts.merge_child)


# Parsed specs kept per process. Restored spec objects take 4.6-5.5 bytes per character of their
# JSON (measured on processes/*.bpmn), the JSON itself is kept too: an entry is estimated at its
# JSON's size plus 8 bytes per character when the objects are kept (ParsedSpec.shareable).
SPEC_CACHE_BYTES = 64 * MB
SPEC_OBJECT_BYTES_PER_CHAR = 8


def _spec_size(_key, parsed: ParsedSpec) -> int:
    objects = SPEC_OBJECT_BYTES_PER_CHAR * len(parsed.spec_json) if parsed.shareable else 0
    return sys.getsizeof(parsed.spec_json) + objects


class SpecCache:
    """Parsed specs by key (a version's id and content hash): versions never change."""

    def __init__(self, budget: int = SPEC_CACHE_BYTES):
        self._items: ByteLRU[object, ParsedSpec] = ByteLRU("runtime.process_specs", budget, _spec_size)
        self._lock = threading.Lock()

    def get(self, key, load_json) -> ParsedSpec:
        parsed = self._items.get(key)
        if parsed is None:
            with self._lock:  # one thread restores a version; the others wait and share its objects
                parsed = self._items.get_or_build(key, lambda: ParsedSpec(load_json()))
        return parsed


def load_state(state_json: str, format_version: str, spec: str | ParsedSpec, script_engine) -> BpmnWorkflow:
    dct = json.loads(state_json)
    if isinstance(spec, ParsedSpec):
        # restore() passes objects through unchanged, so the shared spec objects go straight in
        dct["spec"], dct["subprocess_specs"] = spec.objects()
    else:
        specs = json.loads(spec)
        dct["spec"] = specs["spec"]
        dct["subprocess_specs"] = specs["subprocess_specs"]
    if format_version != FORMAT_VERSION:
        dct[_VERSION_KEY] = format_version
        serializer.migrate(dct)  # pops the version key
    workflow = serializer.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(spec: str | ParsedSpec, script_engine) -> BpmnWorkflow:
    if isinstance(spec, ParsedSpec):
        spec, subs = spec.objects()
    else:
        specs = json.loads(spec)
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
