"""What a procedure brings to the runtime, registered at start-up.

The runtime knows how to run any diagram; it knows nothing of the policy. Each procedure of the
policy (engine/policy/<name>/procedure.py) describes itself as a :class:`Procedure`: the pure helpers
its diagram code may call, the named operations its service tasks may ask for, what happens when one
of its processes completes, and its default schedules. The one wiring place (engine/bootstrap.py)
installs them; the runtime asks :class:`Extensions` for them and never imports engine.policy.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.deadlines.workcalendar import WorkCalendar
from engine.runtime import messages, operations


@dataclass(frozen=True)
class HelperContext:
    """What a helper factory may use: the step's transaction, its working calendar, the clock and zone,
    the services container (for a procedure's own services; opaque to the runtime) and the process
    properties of the version being run."""
    session: Session
    calendar: WorkCalendar
    now: Callable[[], datetime]
    tz: ZoneInfo
    services: Any
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DefaultSchedule:
    """A periodic start created once when the bundled processes are deployed (then the office's to edit)."""
    name: str
    process: str
    rule: str
    data: Mapping = field(default_factory=dict)
    clause: str = ""  # the plan's clause the periodic start carries out (engine.plan), for the policy page


@dataclass(frozen=True)
class Job:
    """Periodic work of a procedure the scheduler's tick does: ``probe(services, now)`` a query with a row
    when some is due (on an indexed column), ``run(services, limit)`` does up to ``limit`` of it and says how
    many (a reminder before a recognition ends)."""
    name: str
    probe: Callable[[Any, datetime], Any]
    run: Callable[[Any, int], int]


# A completion handler: (session, instance, final data, now) → None, in the completing transaction.
CompletionHandler = Callable[[Session, object, dict, datetime], None]
# A step handler: (session, instance, the task just completed, its submitted answer, the instance's data after
# the step, the actor's user name, now) → None, in the completing transaction: what a procedure records of a
# decision and whom outside the system it tells (the enterprise told its answer was released).
StepHandler = Callable[[Session, object, object, dict, dict, str, datetime], None]
# A schedule's fan-out (its data's ``for_each``): (session, the schedule's data, the planned Beijing date)
# → the data of each start.
FanOut = Callable[[Session, dict, date], list[dict]]
# Who else hears of a change to a task's clock (a pause, a resumption) of the procedure's processes, beside
# the dispatcher: (session, instance, the task's data) → users (the enterprise's service officer).
Watchers = Callable[[Session, Any, dict], list]


@dataclass(frozen=True)
class Procedure:
    key: str
    label: str
    processes: tuple[str, ...] = ()
    # HelperContext → {name: pure function}: names diagram code may call (bounded arguments only).
    helpers: Callable[[HelperContext], Mapping[str, Callable]] | None = None
    operations: tuple[operations.Operation, ...] = ()
    # services → {process key: handler}: outcomes a process applies when it completes (every procedure's
    # handler for a process runs, in the order the procedures were installed).
    completion_handlers: Callable[[object], Mapping[str, CompletionHandler]] | None = None
    # services → {process key: handler}: what a process's instance leaves behind when an administrator
    # cancels it (a failed instance given up, engine.monitoring.incidents): it did not complete.
    cancel_handlers: Callable[[object], Mapping[str, CompletionHandler]] | None = None
    # services → {process key: handler}: what a procedure does when a user task of the process is completed.
    step_handlers: Callable[[object], Mapping[str, StepHandler]] | None = None
    schedules: tuple[DefaultSchedule, ...] = ()
    fan_outs: Mapping[str, FanOut] = field(default_factory=dict)
    watchers: Watchers | None = None
    # name → meaning: the messages the procedure sends to instances waiting for them (engine.runtime.messages).
    messages: Mapping[str, str] = field(default_factory=dict)
    jobs: tuple[Job, ...] = ()


class Extensions:
    """The installed procedures, as the runtime sees them."""

    def __init__(self, procedures: Iterable[Procedure] = ()):
        self.procedures: list[Procedure] = []
        self.services: Any = None
        self._handlers: dict[str, CompletionHandler] = {}
        self._cancel_handlers: dict[str, CompletionHandler] = {}
        self._step_handlers: dict[str, StepHandler] = {}
        for procedure in procedures:
            self.install(procedure)

    def install(self, procedure: Procedure) -> None:
        if any(p.key == procedure.key for p in self.procedures):
            return
        self.procedures.append(procedure)
        for operation in procedure.operations:
            operations.register(operation)
        for name, label in procedure.messages.items():
            messages.register(name, label)

    def bind(self, services: object) -> None:
        """Give the procedures the built services (their completion handlers and helpers use them)."""
        self.services = services
        self._handlers, self._cancel_handlers = {}, {}
        self._step_handlers = {}
        for procedure in self.procedures:
            for key, step in (procedure.step_handlers(services) if procedure.step_handlers else {}).items():
                self._step_handlers[key] = _chained_steps(self._step_handlers[key], step) \
                    if key in self._step_handlers else step
            for factory, handlers in ((procedure.completion_handlers, self._handlers),
                                      (procedure.cancel_handlers, self._cancel_handlers)):
                for key, handler in (factory(services) if factory is not None else {}).items():
                    # Several procedures may act on one process's end (挂牌督办 ends with its item): all run, in order.
                    handlers[key] = _chained(handlers[key], handler) if key in handlers else handler

    def helpers(self, context: HelperContext) -> dict[str, Callable]:
        out: dict[str, Callable] = {}
        for procedure in self.procedures:
            if procedure.helpers is not None:
                out.update(procedure.helpers(context))
        return out

    def completion_handler(self, process_key: str) -> CompletionHandler | None:
        return self._handlers.get(process_key)

    def cancel_handler(self, process_key: str) -> CompletionHandler | None:
        return self._cancel_handlers.get(process_key)

    def step_handler(self, process_key: str) -> StepHandler | None:
        return self._step_handlers.get(process_key)

    def fan_out(self, kind: str) -> FanOut | None:
        return next((p.fan_outs[kind] for p in self.procedures if kind in p.fan_outs), None)

    def watchers(self, session: Session, process_key: str, instance, data: dict) -> list:
        """The users the procedures of ``process_key`` want told of a change to a task's clock."""
        return [user for p in self.procedures if p.watchers is not None and process_key in p.processes
                for user in p.watchers(session, instance, data)]

    def jobs(self) -> list[Job]:
        return [j for p in self.procedures for j in p.jobs]

    def schedules(self) -> list[DefaultSchedule]:
        return [s for p in self.procedures for s in p.schedules]


def _chained(first: CompletionHandler, then: CompletionHandler) -> CompletionHandler:
    def both(session: Session, instance, data: dict, now: datetime) -> None:
        first(session, instance, data, now)
        then(session, instance, data, now)
    return both


def _chained_steps(first: StepHandler, then: StepHandler) -> StepHandler:
    def both(session: Session, instance, task, answer: dict, data: dict, actor: str, now: datetime) -> None:
        first(session, instance, task, answer, data, actor, now)
        then(session, instance, task, answer, data, actor, now)
    return both
