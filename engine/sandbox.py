"""The sandbox for scripts and expressions in diagrams (script tasks, conditions, timers,
multi-instance expressions, DMN entries).

RestrictedPython compiles the code (no names starting with "_", no imports), attribute and item
access go through guards, only an explicit list of builtins and our helper functions is
visible, multiplication and powers that would build huge values are refused, ``range`` is capped,
and a time limit stops endless loops. A refusal raises PermissionError with a Chinese message,
which ends the step with a clear error on the task; nothing is written and the server runs on.
"""
from __future__ import annotations

import ast
import builtins
import math
import sys
import time
import types
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

MAX_SEQUENCE = 1_000_000   # items or characters one multiplication or range may produce
MAX_POWER_BITS = 100_000   # size of an integer power
TIME_LIMIT_SECONDS = 1.0
ALLOWED_BUILTINS = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int", "isinstance", "len",
    "list", "map", "max", "min", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
    "ValueError", "KeyError", "TypeError", "Exception",
)
# Attributes that lead from a value to frames, code or globals: refused whatever the object.
BLOCKED_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "ag_frame", "ag_code", "f_back", "f_globals",
    "f_locals", "f_builtins", "f_code", "tb_frame", "tb_next", "func_globals", "func_code", "mro", "format",
    "format_map",
})
OPAQUE_TYPES = (types.FrameType, types.TracebackType, types.CodeType, types.GeneratorType, types.CoroutineType,
                types.AsyncGeneratorType, types.ModuleType, types.FunctionType, types.MethodType)


class SandboxViolation(PermissionError):
    """A script tried something the sandbox does not allow."""


class ScriptTimeout(SandboxViolation):
    pass


def _guarded_getattr(obj, name, default=None):
    if name in BLOCKED_ATTRIBUTES or isinstance(obj, OPAQUE_TYPES):
        raise SandboxViolation(f"脚本不允许访问属性「{name}」")
    return safer_getattr(obj, name, default)


def _size(value) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _mul(a, b):
    for seq, n in ((a, b), (b, a)):
        size = _size(seq)
        if size is not None and isinstance(n, int) and size * max(n, 0) > MAX_SEQUENCE:
            raise SandboxViolation(f"脚本试图生成过大的数据（超过 {MAX_SEQUENCE} 项）")
    return a * b


def _pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b > 0 \
            and b * math.log2(abs(a)) > MAX_POWER_BITS:
        raise SandboxViolation("脚本试图计算过大的乘方")
    return a ** b


def _range(*args):
    result = range(*args)
    if len(result) > MAX_SEQUENCE:
        raise SandboxViolation(f"range 不能超过 {MAX_SEQUENCE} 项")
    return result


def _inplacevar(op, x, y):
    if op == "*=":
        return _mul(x, y)
    if op == "**=":
        return _pow(x, y)
    operations = {"+=": lambda: x + y, "-=": lambda: x - y, "/=": lambda: x / y, "//=": lambda: x // y,
                  "%=": lambda: x % y, "|=": lambda: x | y, "&=": lambda: x & y}
    if op not in operations:
        raise SandboxViolation(f"脚本不允许运算 {op}")
    return operations[op]()


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus: no imports, and * and ** go through size checks."""

    def visit_Import(self, node):
        self.error(node, "不允许 import")
        return node

    def visit_ImportFrom(self, node):
        self.error(node, "不允许 import")
        return node

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        helper = {ast.Mult: "_mul_", ast.Pow: "_pow_"}.get(type(node.op))
        if helper is None:
            return node
        call = ast.Call(func=ast.copy_location(ast.Name(helper, ast.Load()), node), args=[node.left, node.right],
                        keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _forbidden(name):
    def refuse(*_args, **_kwargs):
        raise SandboxViolation(f"脚本不允许使用 {name}")
    return refuse


FORBIDDEN_BUILTINS = ("open", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "getattr", "setattr",
                      "delattr", "hasattr", "type", "object", "input", "breakpoint", "help", "memoryview",
                      "bytearray", "classmethod", "staticmethod", "property", "super", "id", "exit", "quit")
SAFE_BUILTINS = {name: _forbidden(name) for name in FORBIDDEN_BUILTINS}
SAFE_BUILTINS.update({name: getattr(builtins, name) for name in ALLOWED_BUILTINS})
SAFE_BUILTINS.update({"range": _range, "None": None, "True": True, "False": False})
GUARDS = {
    "_getattr_": _guarded_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard, "_inplacevar_": _inplacevar, "_mul_": _mul, "_pow_": _pow,
}


def _refusal(errors) -> SandboxViolation:
    text = "；".join(str(e) for e in errors)
    text = text.replace("is an invalid variable name because it starts with \"_\"", "：不允许使用以下划线开头的名称")
    text = text.replace("is an invalid attribute name because it starts with \"_\"", "：不允许访问以下划线开头的属性")
    return SandboxViolation(f"脚本被沙箱拒绝：{text}")


@lru_cache(maxsize=2048)
def _compile_eval(expression: str):
    result = compile_restricted_eval(expression, policy=_Policy)
    if result.errors:
        raise _refusal(result.errors)
    return result.code


@lru_cache(maxsize=1024)
def _compile_exec(script: str):
    result = compile_restricted_exec(script, policy=_Policy)
    if result.errors:
        raise _refusal(result.errors)
    return result.code


def _run_limited(fn, limit: float):
    deadline = time.monotonic() + limit

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise ScriptTimeout(f"脚本运行超过 {limit:g} 秒，已停止（可能是死循环）")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return fn()
    finally:
        sys.settrace(previous)


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Runs every script and expression of a diagram in the sandbox."""

    def __init__(self, helpers: dict | None = None, time_limit: float = TIME_LIMIT_SECONDS):
        super().__init__(dict(helpers or {}))
        self.time_limit = time_limit

    def _namespace(self, context: dict, external_context: dict | None) -> dict:
        namespace = {"__builtins__": SAFE_BUILTINS, **GUARDS, **self.globals}
        namespace.update(external_context or {})
        namespace.update(context)
        return namespace

    def evaluate(self, expression, context, external_context=None):
        code = _compile_eval(expression)
        namespace = self._namespace(context, external_context)
        return _run_limited(lambda: eval(code, namespace), self.time_limit)

    def execute(self, script, context, external_context=None):
        clash = (set(self.globals) | set(external_context or {})) & set(context)
        if clash:
            raise ValueError(f"流程数据中的变量与内置函数同名，请改名：{'、'.join(sorted(clash))}")
        code = _compile_exec(script)
        namespace = self._namespace(context, external_context)
        before = set(namespace)
        _run_limited(lambda: exec(code, namespace), self.time_limit)
        fixed = {"__builtins__", *GUARDS, *self.globals, *(external_context or {})}
        for key in list(context):
            if key not in namespace:  # the script deleted it
                del context[key]
        for key, value in namespace.items():
            if key in fixed or key.startswith("_") or (key not in before and callable(value)):
                continue
            context[key] = value
        return True
