"""Messages the engine delivers to an instance that waits for them (a BPMN message catch event).

A diagram waits with an intermediate catch (or boundary) event whose ``messageRef`` names a
``bpmn:message`` of a name the engine delivers: the procedures register those names (and what they
mean) at start-up, and the designer's check refuses any other message, which nothing would ever send.
The payload lands in the event's ``spiffworkflow:messageVariable``.

Delivery is durable and goes through the ordinary step: :func:`send` writes an ``instance_message`` row
in the sender's transaction and makes the instance due at once (``next_timer_at``, its revision bumped so
a round computed before the message cannot save over it); the next round of the instance (right after the
sender's commit, else the scheduler's) catches every pending message its workflow waits for, runs on,
and marks them delivered in the transaction that saves the instance with its revision checked. A crash
anywhere in between leaves the message pending and the instance due.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.runtime.steps import PendingOperation
from engine.storage.models import InstanceMessage, ProcessInstance

# name → what the message means (Chinese): filled by the procedures' registration (engine.runtime.extensions).
DELIVERED: dict[str, str] = {}
# Session.info key: the instances a transaction sent messages to, to go on with after its commit.
SENT = "zjtx.messages_sent"


def register(name: str, label: str) -> None:
    DELIVERED[name] = label


def available() -> str:
    """The deliverable messages, for the designer's report."""
    return "、".join(f"{name}（{label}）" for name, label in DELIVERED.items()) or "（无）"


@dataclass(frozen=True)
class Pending:
    id: int
    name: str
    payload: dict | None


def send(session: Session, instance_id: int, name: str, payload: dict | None, key: str, now: datetime,
         sender_instance_id: int | None = None) -> bool:
    """Queue ``name`` for the instance in the caller's transaction (once per ``key``) and make the instance
    due now. Returns False when that key was sent before or the instance is not running."""
    if name not in DELIVERED:
        raise ValueError(f"message {name!r} is not registered")
    if session.scalar(select(InstanceMessage.id).where(InstanceMessage.key == key)) is not None:
        return False
    bumped = session.execute(
        update(ProcessInstance).where(ProcessInstance.id == instance_id, ProcessInstance.status == "running")
        .values(next_timer_at=now, revision=ProcessInstance.revision + 1)
        .execution_options(synchronize_session=False))
    if bumped.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(InstanceMessage(key=key[:200], instance_id=instance_id, name=name, payload=payload,
                                sender_instance_id=sender_instance_id, sent_at=now))
    session.info.setdefault(SENT, []).append(instance_id)
    return True


def pending(session: Session, instance_id: int) -> list[Pending]:
    """The instance's messages not yet delivered, oldest first (an indexed read)."""
    rows = session.execute(select(InstanceMessage.id, InstanceMessage.name, InstanceMessage.payload)
                           .where(InstanceMessage.instance_id == instance_id, InstanceMessage.delivered_at.is_(None))
                           .order_by(InstanceMessage.id))
    return [Pending(i, n, p) for i, n, p in rows]


def awaited(workflow) -> dict[str, MessageEventDefinition]:
    """The messages the workflow waits for now, by name, with the waiting event's definition."""
    out: dict[str, MessageEventDefinition] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition):
            out.setdefault(definition.name, definition)
    return out


def waiting_one_sent(session: Session, instance_id: int, workflow) -> bool:
    """Whether the workflow now waits for a message already sent to it (a user's step reached the wait
    after the message came): the instance is then due at once. Nothing is read when it waits for none."""
    names = list(awaited(workflow))
    return bool(names) and session.scalar(
        select(InstanceMessage.id).where(InstanceMessage.instance_id == instance_id, InstanceMessage.delivered_at.is_(None),
                                         InstanceMessage.name.in_(names)).limit(1)) is not None


def deliver(workflow, messages: list[Pending]) -> list[int]:
    """Catch each pending message the workflow waits for (one catch per message); the ids caught."""
    caught: list[int] = []
    if not messages:
        return caught
    for message in messages:
        definition = awaited(workflow).get(message.name)
        if definition is None:
            continue  # not waited for (yet): it stays pending
        workflow.catch(BpmnEvent(definition, dict(message.payload or {})))
        caught.append(message.id)
    return caught


def run_with_messages(session: Session, instance_id: int, workflow,
                      run_steps: Callable[[Any], PendingOperation | None]) -> tuple[PendingOperation | None, list[Pending], bool]:
    """A round's steps with the instance's pending messages caught: those awaited now, then any the steps
    reach a wait for. Returns (the operation the steps stopped at or None, the messages caught, whether a
    message left pending is awaited now: the instance is due again at once)."""
    waiting = pending(session, instance_id)
    caught = deliver(workflow, waiting)
    operation = run_steps(workflow)
    while operation is None:
        more = deliver(workflow, [m for m in waiting if m.id not in caught])
        if not more:
            break
        caught += more
        operation = run_steps(workflow)
    left = {m.name for m in waiting if m.id not in caught}
    return operation, [m for m in waiting if m.id in caught], bool(left & set(awaited(workflow)))


def mark_delivered(session: Session, audits, instance_id: int, caught: list[Pending], now: datetime) -> None:
    """In the transaction that saves the round: the caught messages delivered, each audited."""
    if not caught:
        return
    session.execute(update(InstanceMessage).where(InstanceMessage.id.in_([m.id for m in caught]))
                    .values(delivered_at=now).execution_options(synchronize_session=False))
    for message in caught:
        audits.add(instance_id=instance_id, action="message_delivered", actor="system", at=now,
                   data={"message": message.name, "label": DELIVERED.get(message.name, message.name)})


def sent_by(session: Session) -> list[int]:
    """The instances this transaction sent messages to (each once), taken from the session."""
    return list(dict.fromkeys(session.info.pop(SENT, ())))
