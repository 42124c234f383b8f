"""Named operations: the only way a diagram causes an effect outside its own data.

Diagram code (scripts, conditions, DMN entries) is pure: it reads and writes the task's data and
calls pure helpers. Drafting, saving and publishing a circular and recording a measure report are
effects; a diagram asks for one with a service task whose operator names the operation
(``<spiffworkflow:serviceTaskOperator id="publish_circular">``). The engine stops the step at
that task, and in the transaction that saves the step runs the operation, after checking that

* the process version was marked trusted by an administrator (the bundled processes are; a
  diagram uploaded in the designer is not, until an administrator has looked at it), and
* the user whose action reached the task holds one of the operation's roles (or, for a step the
  scheduler runs, that the operation may run unattended).

The result is kept with the task and handed to it when the step goes on. README: "Sandbox".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, ValidationFailed


@dataclass(frozen=True)
class OperationContext:
    """What an operation may use: the saving transaction, who acted, the instance, the clock."""
    session: Session
    actor: Any  # engine.identity.authz.Actor
    instance_id: int | None
    now: datetime
    services: Any  # the services container (engine.bootstrap.Services), for the procedures' own services


@dataclass(frozen=True)
class Operation:
    name: str
    label: str
    roles: frozenset[str]        # roles of the acting user that may trigger it
    unattended: bool             # may run in a step the scheduler takes (no user)
    params: tuple[str, ...]
    run: Callable[[OperationContext, dict], object]
    returns: str


# name → Operation: filled by the procedures' registration (engine.runtime.extensions, engine/policy).
OPERATIONS: dict[str, Operation] = {}


def register(operation: Operation) -> None:
    OPERATIONS[operation.name] = operation


def day_param(params: dict, name: str) -> date:
    try:
        return date.fromisoformat(str(params[name]))
    except (KeyError, ValueError):
        raise ValidationFailed({name: f"参数「{name}」应为日期 YYYY-MM-DD，收到 {params.get(name)!r}"}) from None


def int_param(params: dict, name: str) -> int:
    try:
        return int(params[name])
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed({name: f"参数「{name}」应为整数，收到 {params.get(name)!r}"}) from None


def check_allowed(operation: Operation, element: str, trusted: bool, actor, element_name: str | None = None) -> None:
    """Raise PermissionDenied (Chinese, naming the element) unless this step may run the operation."""
    where = f"服务任务「{element_name or element}」（{element}）调用操作 {operation.name}（{operation.label}）"
    if not trusted:
        raise PermissionDenied(f"{where}：该流程版本未经系统管理员标记为可信，不能执行有外部效果的操作")
    if getattr(actor, "is_system", False):
        if not operation.unattended:
            raise PermissionDenied(f"{where}：该操作须由有权限的用户办理时触发，不能由定时任务自动执行")
        return
    if not (set(getattr(actor, "roles", ())) & operation.roles):
        from engine.identity.org import ROLES

        names = "、".join(ROLES.get(r, r) for r in sorted(operation.roles))
        raise PermissionDenied(f"{where}：当前用户无权触发（需要角色：{names}）")


def run(name: str, element: str, trusted: bool, ctx: OperationContext, params: dict,
        element_name: str | None = None):
    """Check and run one operation; its result must be JSON data (it is kept in the task)."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise ValidationFailed({element: f"服务任务「{element_name or element}」（{element}）调用了不存在的操作「{name}」"})
    check_allowed(operation, element, trusted, ctx.actor, element_name)
    return operation.run(ctx, params)
