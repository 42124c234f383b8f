"""Pre-started worker processes that run diagram code under hard limits (engine.runtime.script_worker).

Why processes: a limit checked by the evaluating code (a trace function, a signal handler) can be
caught, switched off or never reached inside one long C call; the Global Interpreter Lock and
shared memory make a thread no better. A separate process can be killed, and the kernel can hold
it to a CPU-time and address-space limit. The cost is one round trip over a socket per evaluation
(tens of microseconds; ``make bench`` reports it), and only for code that can run long: bounded
expressions (comparisons of data, ``len``) are evaluated in the engine itself
(:func:`engine.runtime.sandbox.is_bounded`).

While a worker runs, the engine's thread waits on its socket; helper calls from the script come
back over the same socket and run in the engine (they read through the caller's session).
"""
from __future__ import annotations

import atexit
import logging
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from engine.config import PROJECT_ROOT
from engine.runtime import sandbox

log = logging.getLogger("zjtx.sandbox")
MAX_REPLY_BYTES = 64 * 1024 * 1024
SPIN_SECONDS = 0.0005


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 1.0        # CPU time of one evaluation (kernel timer in the worker)
    wall_seconds: float = 3.0       # wall time of one evaluation (the engine kills the worker)
    memory_mb: int = 256            # address space a worker may add to what it needs at start
    helper_calls: int = 10_000      # helper calls one evaluation may make
    idle_workers: int = 2           # workers kept started and waiting


class _Worker:
    def __init__(self, limits: Limits):
        mine, theirs = socket.socketpair()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.runtime.script_worker", str(theirs.fileno()), str(limits.memory_mb)],
            pass_fds=(theirs.fileno(),), env=env, cwd=str(PROJECT_ROOT), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.conn = Connection(mine.detach())
        self.poller = select.poll()
        self.poller.register(self.conn.fileno(), select.POLLIN)
        self.ready = False

    def readable(self, timeout: float) -> bool:
        """Wait for a message. Most evaluations answer within microseconds: a short spin first
        saves the two wake-ups of a blocking wait, which cost more than the evaluation itself."""
        spin_until = time.perf_counter() + SPIN_SECONDS
        while time.perf_counter() < spin_until:
            if self.poller.poll(0):
                return True
        return bool(self.poller.poll(max(0.0, timeout) * 1000))

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            self.kill()
            raise RuntimeError("脚本进程未能启动")
        kind, _pid = pickle.loads(self.conn.recv_bytes())
        self.ready = kind == "ready"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()


class ScriptPool:
    """Hands out workers, one caller at a time each; replaces any that was killed or died."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._refilling = False
        self.runs = 0  # evaluations sent to a worker (make bench: isolation per step)

    # -- workers -------------------------------------------------------------------------
    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # inherited from a parent process (gunicorn): not ours to use
            self._idle, self._pid, self._lock = [], os.getpid(), threading.Lock()

    def warm(self) -> None:
        """Start the idle workers now (at boot), so the first evaluation waits for none."""
        self._check_fork()
        started: list[_Worker] = []
        with self._lock:
            while len(self._idle) + len(started) < self.limits.idle_workers:
                started.append(_Worker(self.limits))
        for worker in started:
            worker.wait_ready()
        with self._lock:
            self._idle.extend(started)

    def _take(self) -> _Worker:
        self._check_fork()
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    break
                worker.kill()
            else:
                worker = None
        if worker is None:
            worker = _Worker(self.limits)
        worker.wait_ready()
        if len(self._idle) < self.limits.idle_workers:
            self._refill_later()
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < self.limits.idle_workers * 2:
                self._idle.append(worker)
                return
        worker.kill()

    def _refill_later(self) -> None:
        with self._lock:
            if self._refilling:
                return
            self._refilling = True

        def refill():
            try:
                self.warm()
            except Exception:
                log.exception("could not start a script worker")
            finally:
                self._refilling = False
        threading.Thread(target=refill, name="zjtx-script-workers", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    # -- running -------------------------------------------------------------------------
    def run(self, kind: str, code: str, context: dict, external: dict | None,
            helpers: dict[str, Callable] | None = None, natives: tuple[str, ...] = ()):
        """Evaluate (``kind="eval"``) or execute (``"exec"``) ``code``; returns the value, or the
        script's namespace of data. Raises SandboxViolation subclasses for refusals and limits,
        ScriptError for the script's own errors."""
        helpers = helpers or {}
        self.runs += 1
        message = (kind, code, [*natives, *helpers], context, external, self.limits.cpu_seconds)
        try:
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise sandbox.SandboxViolation(f"流程数据中有无法交给脚本的值：{exc}"[:300]) from None
        worker = self._take()
        healthy = False
        try:
            try:
                worker.conn.send_bytes(payload)
            except OSError:  # an idle worker that died: take a fresh one
                worker.kill()
                worker = _Worker(self.limits)
                worker.wait_ready()
                worker.conn.send_bytes(payload)
            result = self._serve(worker, helpers)
            healthy = True
            return result
        finally:
            if healthy:
                self._give_back(worker)
            else:
                worker.kill()
                self._refill_later()

    def _serve(self, worker: _Worker, helpers: dict[str, Callable]):
        limits = self.limits
        deadline = time.monotonic() + limits.wall_seconds
        calls = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not worker.readable(remaining):
                raise sandbox.ScriptTimeout(f"脚本运行超过 {limits.wall_seconds:g} 秒，已停止（可能是死循环）")
            try:
                raw = worker.conn.recv_bytes(MAX_REPLY_BYTES)
            except (EOFError, OSError):
                raise self._death(worker) from None
            kind, value, *rest = sandbox.safe_loads(raw)
            if kind == "call":
                calls += 1
                if calls > limits.helper_calls:
                    raise sandbox.SandboxViolation(f"脚本调用辅助函数超过 {limits.helper_calls} 次，已停止")
                answer = self._call(helpers, value, *rest)
                try:
                    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:
                    data = pickle.dumps(("error", f"{value}：返回值无法交给脚本"))
                try:
                    worker.conn.send_bytes(data)
                except OSError:  # it was stopped meanwhile (its CPU time ran out)
                    raise self._death(worker) from None
                continue
            if kind == "ok":
                return value
            if kind == "memory":
                raise sandbox.ScriptMemoryExceeded(f"脚本占用内存超过 {limits.memory_mb} MB，已停止")
            if kind == "violation":
                raise sandbox.SandboxViolation(value)
            name, text, line = value
            raise sandbox.ScriptError(name, text, line)

    def _death(self, worker: _Worker) -> Exception:
        try:
            code = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code == -signal.SIGPROF:
            return sandbox.ScriptTimeout(f"脚本占用 CPU 超过 {self.limits.cpu_seconds:g} 秒，已停止（可能是死循环）")
        if code in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGKILL):
            return sandbox.ScriptMemoryExceeded("脚本进程异常终止（可能超出内存或栈限制）")
        return sandbox.SandboxViolation(f"脚本进程意外退出（退出码 {code}）")

    @staticmethod
    def _call(helpers: dict[str, Callable], name: str, args, kwargs) -> tuple:
        function = helpers.get(name)
        if function is None:
            return ("violation", f"脚本不允许调用「{name}」")
        try:
            return ("ok", function(*args, **kwargs))
        except sandbox.SandboxViolation as exc:
            return ("violation", str(exc))
        except Exception as exc:  # the helper refused its arguments: the script sees a ValueError
            return ("error", f"{name}：{exc}"[:500])


_pools: dict[Limits, ScriptPool] = {}
_pools_lock = threading.Lock()


def pool_for(limits: Limits) -> ScriptPool:
    """One pool per set of limits in this process."""
    with _pools_lock:
        found = _pools.get(limits)
        if found is None:
            found = _pools[limits] = ScriptPool(limits)
        return found


@atexit.register
def _close_all() -> None:
    for pool in list(_pools.values()):
        pool.close()
