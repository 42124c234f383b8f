"""Who may see and act on what. Checked on the server for every call of the service layer.

A liaison or department head sees and acts on their own department's tasks only. Dispatcher,
leading-group office and service officers work across departments; they may act on a task
only when the task lists their role. Admins and the command line's system actor may do all.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, TaskNotFound
from engine.identity.colleagues import HANDLER
from engine.identity.org import GLOBAL_ROLES, ROLES, get_user
from engine.storage.models import HumanTask


@dataclass(frozen=True)
class Actor:
    username: str
    user_id: int | None = None
    department_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    is_system: bool = False
    # The user's session generation when this actor was read for a session (sign-in, each request).
    session_generation: int | None = field(default=None, compare=False, repr=False)
    # The user's district (docs/districts.md): the web layer works in it for the whole request.
    district_id: int | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.is_system or "admin" in self.roles

    @property
    def sees_all(self) -> bool:
        return self.is_system or bool(self.roles & GLOBAL_ROLES)


SYSTEM = Actor(username="system", is_system=True)


def actor_for(session: Session, username: str | Actor | None) -> Actor:
    """The actor for a user name; an Actor already resolved for this request is used as it is."""
    if username is None:
        return SYSTEM
    if isinstance(username, Actor):
        return username
    user = get_user(session, username)
    return Actor(username=user.username, user_id=user.id, department_id=user.department_id,
                 roles=frozenset(user.role_names))


def on_item(department_id, instance_id, task=HumanTask):
    """The department has (or had) a step in the item: the clause by which a department's users may see an item
    (``instance_id`` a value or, correlated, a column; ``task`` an alias of the tasks when the query reads tasks
    itself). Found by the item's tasks (a handful), never by the unit's (thousands): ``+ 0`` keeps SQLite's
    planner, which has no statistics to tell the two apart, off the unit's index."""
    return exists().where(task.instance_id == instance_id, task.department_id + 0 == department_id)


def may_see_item(session: Session, actor: Actor, instance_id: int) -> bool:
    """The item pages' rule: the central roles, or a department with a step in it."""
    return actor.sees_all or bool(session.scalar(select(on_item(actor.department_id, instance_id))))


def task_roles(task: HumanTask) -> set[str]:
    return {r.strip() for r in (task.roles or "").split(",") if r.strip()}


def can_see_task(actor: Actor, task: HumanTask) -> bool:
    return actor.sees_all or task.department_id == actor.department_id


def check_can_act(actor: Actor, task: HumanTask) -> None:
    """Raise TaskNotFound for tasks the actor may not even see, PermissionDenied otherwise."""
    if actor.is_admin:
        return
    if not can_see_task(actor, task):
        raise TaskNotFound(task.id)
    allowed = task_roles(task)
    mine = actor.roles & allowed
    if not mine:
        names = "、".join(ROLES.get(r, r) for r in sorted(allowed)) or "（未设置）"
        raise PermissionDenied(f"任务「{task.name}」只能由以下角色办理：{names}", task_id=task.id)
    if not (mine & GLOBAL_ROLES) and task.department_id != actor.department_id:
        raise TaskNotFound(task.id)
    if not assigned_to_other(task, actor.user_id, mine):
        return
    raise PermissionDenied(f"任务「{task.name}」已转办给指定的承办人，由其办理（部门联络员、分管负责人也可办理）",
                           task_id=task.id)


def can_act(actor: Actor, task: HumanTask) -> bool:
    """:func:`check_can_act` as a yes or no."""
    try:
        check_can_act(actor, task)
    except (TaskNotFound, PermissionDenied):
        return False
    return True


def assigned_to_other(task: HumanTask, user_id: int | None, roles: set[str] | frozenset[str]) -> bool:
    """A task assigned to a named 承办人 (转办) is theirs: another 承办人 of the department may not act on it;
    the department's liaison and head still may (to stand in or assign it again)."""
    return task.handler_id is not None and user_id != task.handler_id and not (set(roles) - {HANDLER})


def check_can_start(actor: Actor, roles: set[str], process_name: str) -> None:
    if actor.is_admin or not roles or actor.roles & roles:
        return
    names = "、".join(ROLES.get(r, r) for r in sorted(roles))
    raise PermissionDenied(f"发起「{process_name}」需要以下角色之一：{names}")


def visible_task_filter(actor: Actor):
    """A WHERE clause restricting human_task rows to what the actor may see (None: no limit)."""
    if actor.sees_all:
        return None
    return HumanTask.department_id == (actor.department_id if actor.department_id is not None else -1)


__all__ = [
    "SYSTEM",
    "Actor",
    "actor_for",
    "assigned_to_other",
    "can_see_task",
    "check_can_act",
    "check_can_start",
    "visible_task_filter",
]
