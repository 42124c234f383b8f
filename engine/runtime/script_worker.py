"""The process that runs diagram code: ``python -m engine.runtime.script_worker FD MEMORY_MB``.

It holds no database connection, no settings and no secrets, only a socket to the engine. The
kernel enforces its limits, so no script can switch them off: an address-space limit (an
allocation past it fails with MemoryError), and for each evaluation a CPU-time timer whose signal
(SIGPROF, default action: terminate) ends the process even inside a single long C call. The
engine also kills it when its wall-time limit passes, and starts another.

Messages are length-prefixed pickles. What comes from the engine is trusted; what goes back is
read by the engine with :func:`engine.runtime.sandbox.safe_loads`, which builds only plain data.
"""
from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import sys
import time
import types
from datetime import date, datetime, timedelta, timezone
from multiprocessing.connection import Connection

from engine.runtime import sandbox

NATIVE = {"date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone}
SPIN_SECONDS = 0.0002
SKIPPED_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)


class HelperError(ValueError):
    """A helper refused its arguments (the engine's message, in Chinese)."""


def _virtual_memory_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _limit_memory(memory_mb: int) -> None:
    limit = _virtual_memory_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Worker:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.poller = select.poll()
        if conn is not None:
            self.poller.register(conn.fileno(), select.POLLIN)

    def receive(self) -> bytes:
        """The next message; a short spin first (see engine.runtime.script_pool: _Worker.readable)."""
        spin_until = time.perf_counter() + SPIN_SECONDS
        while time.perf_counter() < spin_until and not self.poller.poll(0):
            pass
        return self.conn.recv_bytes()

    def send(self, message) -> None:
        self.conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def helper(self, name: str):
        def call(*args, **kwargs):
            self.send(("call", name, args, kwargs))
            kind, value = pickle.loads(self.receive())
            if kind == "ok":
                return value
            if kind == "violation":
                raise sandbox.SandboxViolation(value)
            raise HelperError(value)
        call.__name__ = name
        return call

    def namespace(self, helpers: list[str], context: dict, external: dict | None) -> dict:
        namespace = {"__builtins__": sandbox.SAFE_BUILTINS, **sandbox.GUARDS}
        for name in helpers:
            namespace[name] = NATIVE[name] if name in NATIVE else self.helper(name)
        namespace.update(external or {})
        namespace.update(context)
        return namespace

    def run(self, kind: str, code: str, helpers: list[str], context: dict, external: dict | None):
        namespace = self.namespace(helpers, context, external)
        if kind == "eval":
            return eval(sandbox.compile_eval(code), namespace)
        fixed = {"__builtins__", *sandbox.GUARDS, *helpers, *(external or {})}
        before = set(namespace)
        exec(sandbox.compile_exec(code), namespace)
        return {k: v for k, v in namespace.items()
                if k not in fixed and not k.startswith("_") and not (k not in before and isinstance(v, SKIPPED_TYPES))}

    def serve(self) -> None:
        self.send(("ready", os.getpid()))
        while True:
            try:
                kind, code, helpers, context, external, cpu_seconds = pickle.loads(self.receive())
            except (EOFError, OSError):
                return  # the engine went away
            signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
            try:
                reply = ("ok", self.run(kind, code, helpers, context, external))
            except MemoryError:
                reply = ("memory", None)
            except sandbox.SandboxViolation as exc:
                reply = ("violation", str(exc))
            except RecursionError:
                reply = ("error", ("RecursionError", "递归层次过深", None))
            except BaseException as exc:  # the script's own error, reported with its line
                tb, line = exc.__traceback__, None
                while tb is not None:
                    if tb.tb_frame.f_code.co_filename == "<string>":
                        line = tb.tb_lineno
                    tb = tb.tb_next
                reply = ("error", (type(exc).__name__, str(exc)[:2000], line))
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            try:
                self.send(reply)
            except MemoryError:
                self.send(("memory", None))
            except Exception as exc:  # a value that cannot leave the sandbox (a class, a lambda)
                self.send(("violation", f"脚本结果中有无法保存的值：{exc}"[:500]))
            if reply[0] == "memory":
                return  # start afresh rather than go on in a fragmented heap


def main(argv: list[str]) -> None:
    fd, memory_mb = int(argv[1]), int(argv[2])
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is for the engine
    try:
        os.nice(5)  # a runaway script yields the CPU to the requests of everyone else
    except OSError:
        pass
    _limit_memory(memory_mb)
    Worker(Connection(fd)).serve()


if __name__ == "__main__":
    main(sys.argv)
