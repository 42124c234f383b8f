"""The one place where the script engine for diagrams is made: every script, condition, timer and
DMN entry runs in the sandbox (:mod:`engine.runtime.sandbox`, :mod:`engine.runtime.script_pool`), whoever wrote
the diagram. Helpers are pure: they compute from their arguments and read (never write) through
the caller's session; effects go through named operations (:mod:`engine.runtime.operations`)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.runtime.sandbox import (
    GUARDS,
    SAFE_BUILTINS,
    SandboxViolation,
    ScriptError,
    compile_eval,
    compile_exec,
    is_bounded,
)
from engine.runtime.script_pool import Limits, ScriptPool, pool_for

# Values visible to scripts and expressions of every diagram; the same classes exist in the worker.
SCRIPT_GLOBALS = {
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
}


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs every script and expression of a diagram in the sandbox."""

    def __init__(self, helpers: dict | None = None, limits: Limits | None = None, pool: ScriptPool | None = None):
        super().__init__(dict(helpers or {}))
        self.pool = pool or pool_for(limits or Limits())
        self._natives = tuple(n for n, v in self.globals.items() if SCRIPT_GLOBALS.get(n) is v)
        self._helpers = {n: v for n, v in self.globals.items() if n not in self._natives}

    def evaluate(self, expression, context, external_context=None):
        code = compile_eval(expression)
        if is_bounded(expression):
            namespace = {"__builtins__": SAFE_BUILTINS, **GUARDS, **self.globals}
            namespace.update(external_context or {})
            namespace.update(context)
            return eval(code, namespace)
        return self.pool.run("eval", expression, context, external_context, self._helpers, self._natives)

    def execute(self, script, context, external_context=None):
        clash = (set(self.globals) | set(external_context or {})) & set(context)
        if clash:
            raise ValueError(f"流程数据中的变量与内置函数同名，请改名：{'、'.join(sorted(clash))}")
        compile_exec(script)
        namespace = self.pool.run("exec", script, context, external_context, self._helpers, self._natives)
        for key in list(context):
            if key not in namespace:  # the script deleted it
                del context[key]
        context.update(namespace)
        return True

    def call_service(self, context, **kwargs):
        # The engine runs named operations itself (WorkflowService); reaching this is a bug.
        raise SandboxViolation(f"服务任务的操作「{kwargs.get('operation_name')}」只能由引擎执行")


class SandboxedScriptEngine(PythonScriptEngine):
    """Spiff's engine with errors from the worker reported with their own type and line, and a
    ``call_service`` that hands service tasks to the engine's named operations."""

    def __init__(self, environment: SandboxedEnvironment, services=None):
        super().__init__(environment=environment)
        self.services = services  # callable(task, operation_name, operation_params) -> JSON text

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as se:
            se.add_note(f"Error evaluating expression '{expression}'")
            raise se
        except ScriptError as e:
            raise WorkflowTaskException(f"表达式「{expression}」出错：{e}", task=task, exception=e) from None
        except Exception as e:
            raise WorkflowTaskException(f"表达式「{expression}」出错：{e}", task=task, exception=e) from None

    def create_task_exec_exception(self, task, script, err):
        if isinstance(err, ScriptError):
            line = err.line or 0
            error_line = script.splitlines()[line - 1] if 0 < line <= len(script.splitlines()) else ""
            return WorkflowTaskException(str(err), task=task, exception=err, line_number=line or None,
                                         error_line=error_line)
        return super().create_task_exec_exception(task, script, err)

    def call_service(self, task, **kwargs):
        if self.services is None:
            raise WorkflowTaskException(f"服务任务的操作「{kwargs.get('operation_name')}」只能由引擎执行", task=task)
        return self.services(task, kwargs.get("operation_name"), kwargs.get("operation_params") or {})


def create_script_engine(helpers: dict | None = None, limits: Limits | None = None,
                         services=None) -> PythonScriptEngine:
    """``helpers``: pure functions bound to the caller's transaction (working-day calendar, today);
    ``services``: how service tasks reach the engine's named operations."""
    return SandboxedScriptEngine(SandboxedEnvironment({**SCRIPT_GLOBALS, **(helpers or {})}, limits), services)
