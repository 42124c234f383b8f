"""One engine step of a workflow: the library's ``do_engine_steps`` with a budget, a stop at named
operations, and every failure turned into a Chinese ``WorkflowFailed`` naming the element.

Nothing here touches the database: the service layer computes a step with this, then writes it.
"""
from __future__ import annotations

import copy
import json
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.errors import EngineError, WorkflowFailed
from engine.runtime.sandbox import SandboxViolation

log = logging.getLogger("zjtx.steps")
# Where a service task keeps the result of its operation between the transaction that ran the
# operation and the step that hands the result to the task.
OPERATION_KEY = "zjtx_operation"


@dataclass(frozen=True)
class StepBudget:
    max_tasks: int = 1000       # tasks the engine may run in one step (recursion, runaway loops)
    max_seconds: float = 15.0   # wall time of one step, diagram code included
    max_depth: int = 30         # sub-processes within sub-processes (a call activity calling itself)


@dataclass
class PendingOperation:
    """A service task reached in this step: the engine runs its operation when it saves the step."""
    task: Any  # SpiffWorkflow Task, READY
    name: str
    params: dict

    @property
    def element(self) -> str:
        return self.task.task_spec.bpmn_id

    @property
    def element_name(self) -> str:
        return self.task.task_spec.bpmn_name or self.task.task_spec.bpmn_id


class _Pause(Exception):
    def __init__(self, pending: PendingOperation):
        super().__init__(pending.name)
        self.pending = pending


def where(task) -> str:
    spec = task.task_spec
    name = spec.bpmn_name
    if not name:  # the inner task of a multi-instance activity has no name of its own
        specs = getattr(getattr(task.workflow, "spec", None), "task_specs", {}) or {}
        name = next((ts.bpmn_name for ts in specs.values()
                     if getattr(ts, "bpmn_id", None) == spec.bpmn_id and getattr(ts, "bpmn_name", None)), None)
    return f"任务「{name or spec.bpmn_id}」（{spec.bpmn_id}）"


def workflow_error(exc: SpiffWorkflowException) -> WorkflowFailed:
    task = getattr(exc, "task", None)
    place = where(task) if task is not None else ""
    line = getattr(exc, "line_number", None)
    if line:
        place += f"第 {line} 行"
    message = str(exc).strip().rstrip(".").strip()
    inner = getattr(exc, "__cause__", None) or getattr(exc, "__context__", None)
    if isinstance(inner, SandboxViolation) and str(inner) not in message:
        message = f"{message}：{inner}"
    return WorkflowFailed(f"流程执行出错：{place}{'：' if place else ''}{message}",
                          task=task.task_spec.bpmn_id if task is not None else None)


def operation_result(task) -> str:
    """``call_service`` for the engine's script engine: the stored result of the task's operation."""
    stored = task.internal_data.get(OPERATION_KEY)
    if stored is None:
        raise WorkflowFailed(f"流程执行出错：{where(task)}的操作尚未执行", task=task.task_spec.bpmn_id)
    return json.dumps(stored.get("result"))


def _params(task) -> dict:
    """The operation's parameters as the task would compute them: after its pre-script, which runs
    here on a copy of the data (it runs for real when the task runs, with the result in hand)."""
    spec, original = task.task_spec, task.data
    task.data = copy.deepcopy(original)
    try:
        if getattr(spec, "prescript", None):
            spec.execute_script(task, spec.prescript)
        return {k: v.get("value") for k, v in spec.evaluate_params(task).items()}
    finally:
        task.data = original


def _failing_task(exc: BaseException):
    """The task the library was working on when it failed: the innermost frame that has one."""
    from SpiffWorkflow.task import Task

    found, tb = None, exc.__traceback__
    while tb is not None:
        for name in ("my_task", "task"):
            value = tb.tb_frame.f_locals.get(name)
            if isinstance(value, Task):
                found = value
                break
        tb = tb.tb_next
    return found


def run(workflow, budget: StepBudget, first=None) -> PendingOperation | None:
    """Run ``first`` (the user's task, if any) and then the engine's tasks until only user tasks,
    waiting timers or a service task whose operation has not run yet are left. Returns that
    operation, or None. Raises WorkflowFailed; the workflow object is then to be discarded."""
    count = 0
    started = time.monotonic()
    current = [first]

    def will(task):
        current[0] = task
        spec = task.task_spec
        name = getattr(spec, "operation_name", None)
        if name is not None and OPERATION_KEY not in task.internal_data:
            raise _Pause(PendingOperation(task, name, _params(task)))

    def did(task):
        nonlocal count
        count += 1
        if count > budget.max_tasks:
            raise WorkflowFailed(f"流程执行出错：一次推进超过 {budget.max_tasks} 个步骤，已停止"
                                 f"（可能是循环调用或无终止的循环），停在{where(task)}", task=task.task_spec.bpmn_id)
        if getattr(task.workflow, "depth", 0) > budget.max_depth:
            raise WorkflowFailed(f"流程执行出错：子流程嵌套超过 {budget.max_depth} 层，已停止（可能是调用活动循环调用自身），"
                                 f"停在{where(task)}", task=task.task_spec.bpmn_id)
        if time.monotonic() - started > budget.max_seconds:
            raise WorkflowFailed(f"流程执行出错：一次推进超过 {budget.max_seconds:g} 秒，已停止，停在{where(task)}",
                                 task=task.task_spec.bpmn_id)

    try:
        if first is not None:
            first.run()
        workflow.do_engine_steps(will_complete_task=will, did_complete_task=did)
    except _Pause as pause:
        return pause.pending
    except EngineError:
        raise
    except SpiffWorkflowException as exc:
        raise workflow_error(exc) from None
    except SandboxViolation as exc:
        task = current[0]
        raise WorkflowFailed(f"流程执行出错：{where(task) + '：' if task is not None else ''}{exc}",
                             task=task.task_spec.bpmn_id if task is not None else None) from None
    except RecursionError:
        task = current[0]
        raise WorkflowFailed(f"流程执行出错：{where(task) + '：' if task is not None else ''}嵌套层次过深，已停止",
                             task=task.task_spec.bpmn_id if task is not None else None) from None
    except Exception as exc:  # the library's own failure on a diagram it accepted: keep the detail
        task = _failing_task(exc) or current[0]
        detail = traceback.format_exc()
        log.error("engine step failed: %s", detail)
        failed = WorkflowFailed(f"流程执行出错：{where(task) + '：' if task is not None else ''}"
                                f"流程引擎无法执行该步骤（{type(exc).__name__}），详情已记录，请联系系统管理员",
                                task=task.task_spec.bpmn_id if task is not None else None)
        failed.detail = detail
        raise failed from None
    errored = workflow.get_tasks(state=TaskState.ERROR)
    if errored:
        raise WorkflowFailed(f"流程执行出错：{where(errored[0])}失败", task=errored[0].task_spec.bpmn_id)
    return None
