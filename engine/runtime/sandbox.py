"""The sandbox for scripts and expressions in diagrams (script tasks, conditions, timers,
multi-instance expressions, DMN entries).

Two layers. RestrictedPython compiles the code (no names starting with "_", no imports),
attribute and item access go through guards, only an explicit list of builtins and our helper
functions is visible, and obviously huge multiplications, powers and ranges are refused early with
a clear message. Then the code runs in a worker process (:mod:`engine.runtime.script_pool`) whose CPU
time, wall time and memory the kernel and the engine limit from outside, whatever the code does.
Expressions that cannot run long or allocate (comparisons of data, ``len``; see
:func:`is_bounded`) are evaluated in the engine itself. A refusal or a limit raises
PermissionError with a Chinese message, which ends the step with a clear error on the task;
nothing is written and the server runs on.
"""
from __future__ import annotations

import ast
import builtins
import io
import math
import pickle
import types

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

from engine.bytecache import MB, byte_cached

MAX_SEQUENCE = 1_000_000   # items or characters one multiplication or range may produce
MAX_POWER_BITS = 100_000   # size of an integer power
# Compiled code kept per process (the engine's and each worker's: inside the worker these count
# against its memory limit). A code object takes 2-6 times its script's length besides the script
# (the key); 16 MB holds thousands of ordinary scripts, and a script too big for the budget is
# compiled on each use instead of pushing everything else out (engine.bytecache).
COMPILE_EXEC_BYTES = 16 * MB
COMPILE_EVAL_BYTES = 8 * MB
BOUNDED_BYTES = 2 * MB  # is_bounded keeps a bool per expression: the expression is the cost
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
    """The CPU-time or wall-time limit was reached."""


class ScriptMemoryExceeded(SandboxViolation):
    """The memory limit was reached."""


class ScriptError(Exception):
    """The script's own error (a NameError, a KeyError …), raised in the worker: its type name,
    message and line, for the step's error message."""

    def __init__(self, type_name: str, message: str, line: int | None):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message, self.line = type_name, message, line


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


@byte_cached("sandbox.compile_eval", COMPILE_EVAL_BYTES)
def compile_eval(expression: str):
    result = compile_restricted_eval(expression, policy=_Policy)
    if result.errors:
        raise _refusal(result.errors)
    return result.code


@byte_cached("sandbox.compile_exec", COMPILE_EXEC_BYTES)
def compile_exec(script: str):
    result = compile_restricted_exec(script, policy=_Policy)
    if result.errors:
        raise _refusal(result.errors)
    return result.code


_compile_eval, _compile_exec = compile_eval, compile_exec  # the names engine.repository.validation uses

# -- expressions that need no worker --------------------------------------------------------
# No loops, comprehensions, f-strings, multiplication, powers, shifts or formatting, and no calls
# but len() and bool(): their cost is bounded by the size of the data they compare, which is
# already in memory. Everything else goes to a worker.
_BOUNDED_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or,
                  ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple,
                  ast.List, ast.Set, ast.Dict, ast.BinOp, ast.Add, ast.Sub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE,
                  ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn)
_BOUNDED_CALLS = frozenset({"len", "bool"})


@byte_cached("sandbox.is_bounded", BOUNDED_BYTES)
def is_bounded(expression: str) -> bool:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _BOUNDED_CALLS and not node.keywords
                    and all(not isinstance(a, ast.Starred) for a in node.args)):
                return False
        elif isinstance(node, ast.Name) and node.id in _BOUNDED_CALLS:
            continue
        elif not isinstance(node, _BOUNDED_NODES):
            return False
    return True


# -- what may come back from a worker ---------------------------------------------------------
_SAFE_CLASSES = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "range"), ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"),
    ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"), ("collections", "OrderedDict"),
    ("builtins", "bytearray"),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _SAFE_CLASSES:
            return super().find_class(module, name)
        raise SandboxViolation(f"脚本结果中有不允许的值类型 {module}.{name}")


def safe_loads(data: bytes):
    """Unpickle a worker's message, building nothing but plain data."""
    return _PlainUnpickler(io.BytesIO(data)).load()
