"""``zjtx loadtest``: several nodes on one database, a scheduler killed mid-way, and a checker.

Everything runs on loopback, is started by this command and stopped by it (bounded in time and count):

- a fresh database: on PostgreSQL a dedicated schema (``--schema``, dropped and re-created; every
  connection carries ``options=-csearch_path=<schema>``, as the tests do), on SQLite a fresh file;
  ``zjtx init-db``, ``zjtx seed`` and ``zjtx deploy processes/*.bpmn processes/*.dmn`` run in it and
  API tokens are issued for the users the clients act as;
- a local SMTP server (aiosmtpd, in this process) that records every message with its ``X-ZJTX-Key``;
- ``gunicorn -w 2 wsgi:app`` and two ``zjtx scheduler`` processes, pointed at that server
  (``ZJTX_SMTP_HOST``/``ZJTX_SMTP_PORT``) with a short delivery lease (``ZJTX_DELIVERY_LEASE_SECONDS``);
- N client threads using the JSON API as the dispatcher and the departments' liaisons and heads do:
  register, triage, dispatch (lead and co-handlers), sign or return, answer or ask for an extension,
  re-dispatch, decide extensions, review, rate;
- time compression (:class:`Compressor`): a share of the department tasks gets a deadline seconds away,
  so that 催办 escalations and their e-mails fall due during the run;
- half-way through, SIGKILL of one scheduler, chosen while it is in the middle of sending an e-mail
  when possible; the other one must take over (escalations, and the killed one's leased messages once
  the lease has run out).

After ``--seconds`` the clients stop, the surviving scheduler finishes what is due (bounded wait), the
servers are stopped (SIGTERM), and :func:`check` proves from the database and the SMTP record that no
completion was lost or applied twice, every due escalation fired once, every e-mail arrived once and
nothing was left locked. The figures go to the JSON output; the exit status is 1 if a check failed.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from engine.config import PROCESSES_DIR, PROJECT_ROOT

DISPATCH_DEPARTMENT = "区经济信息委"
DEPARTMENT_STEPS = ("sign", "handle", "rework")
DISPATCHER_STEPS = ("triage", "dispatch", "redispatch", "decide_extension", "review", "rating")
# The demo departments of README.md first, then the others in their seed order.
PREFERRED_DEPARTMENTS = ["区人力社保局", "区规划自然资源局", "区科技局", "正阳工业园区管委会", "区金融办"]
ENTERPRISES = ["重庆黔江某新材料科技有限公司", "黔江某精密制造有限公司", "重庆某生物医药有限公司", "黔江某食品加工有限公司",
               "重庆某智能装备有限公司", "黔江某电子科技有限公司"]
# The problem categories of the bundled registration form (defined there, once).
CATEGORIES = json.loads((PROCESSES_DIR / "forms" / "register.schema.json").read_text(encoding="utf-8")
                        )["properties"]["category"]["enum"]
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Options:
    seconds: float = 120.0
    clients: int = 8
    workers: int = 2
    schedulers: int = 2
    schema: str = "loadtest"
    keep_schema: bool = True
    lease_seconds: float = 10.0
    due_share: float = 0.2  # share of new department tasks whose deadline is compressed into the run
    kill_at: float = 0.5  # fraction of --seconds at which a scheduler is killed (0: none)
    smtp_delay: float = 0.05  # the SMTP server answers RCPT after this long (a real server is not instant)
    max_items: int = 5000
    seed: int | None = None
    log_dir: Path | None = None
    districts: int = 1  # districts active at once: each gets the same clients, its own accounts and items


# -- processes, sockets -----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _venv_command(name: str, module: str) -> list[str]:
    """``.venv/bin/<name>`` next to this interpreter, else ``python -m <module>``."""
    candidate = Path(sys.executable).parent / name
    return [str(candidate)] if candidate.exists() else [sys.executable, "-m", module]


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _inode_of_connection(local_port: int, remote_port: int) -> str | None:
    """The inode of the established IPv4 TCP socket from ``local_port`` to ``remote_port`` (Linux /proc;
    closed sockets in TIME_WAIT with the same port numbers have inode 0 and are skipped)."""
    local, remote = f":{local_port:04X}", f":{remote_port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(local) and parts[2].endswith(remote) and parts[3] == "01" and parts[9] != "0":
                    return parts[9]
    except OSError:
        return None
    return None


# -- the SMTP server ----------------------------------------------------------------------------

class SmtpRecorder:
    """A real SMTP server on loopback that records every message it accepts, with the process that
    sent it (from the client socket's owner in /proc, where available)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.senders: dict[int, str] = {}  # pid → label, set once the schedulers run
        self.active: dict[tuple, int | None] = {}  # peer → sending pid, between MAIL and the end of DATA
        self.port = 0
        self._controller = None

    def owner(self, peer) -> int | None:
        inode = _inode_of_connection(peer[1], self.port) if peer else None
        if inode is None:
            return None
        for pid in list(self.senders):
            if inode in _socket_inodes(pid):
                return pid
        return None

    def sending_pids(self) -> set[int]:
        with self.lock:
            return {pid for pid in self.active.values() if pid is not None}

    def start(self) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:  # a development dependency (setup.cfg [dev])
            raise click.ClickException("压力测试需要 aiosmtpd（pip install -e '.[dev]'）") from None
        import email
        from email import policy

        recorder = self

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, mail_options):
                pid = recorder.owner(session.peer)
                with recorder.lock:
                    recorder.active[session.peer] = pid
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 OK"

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if recorder.delay:
                    await asyncio.sleep(recorder.delay)
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(envelope.content, policy=policy.default)
                with recorder.lock:
                    pid = recorder.active.pop(session.peer, None)
                    recorder.messages.append({
                        "key": message["X-ZJTX-Key"], "to": list(envelope.rcpt_tos), "subject": str(message["Subject"]),
                        "message_id": message["Message-ID"], "at": utcnow(), "pid": pid,
                        "sender": recorder.senders.get(pid) if pid else None})
                return "250 OK"

        self.port = _free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# -- the nodes ----------------------------------------------------------------------------------

class Cluster:
    """gunicorn (one master, ``workers`` workers) and ``schedulers`` scheduler processes."""

    def __init__(self, env: dict, log_dir: Path, workers: int, schedulers: int):
        self.env = env
        self.log_dir = log_dir
        self.workers = workers
        self.scheduler_count = schedulers
        self.port = _free_port()
        self.web: subprocess.Popen | None = None
        self.schedulers: list[subprocess.Popen] = []
        self.labels: dict[int, str] = {}
        self._logs: list = []

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.log_dir / log_name, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60.0) -> None:
        self.web = self._spawn([*_venv_command("gunicorn", "gunicorn"), "-w", str(self.workers), "-b",
                                f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "20", "wsgi:app"],
                               "gunicorn.log")
        for i in range(self.scheduler_count):
            process = self._spawn([*_venv_command("zjtx", "engine.cli"), "scheduler"], f"scheduler-{i + 1}.log")
            self.schedulers.append(process)
            self.labels[process.pid] = f"scheduler-{i + 1}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise click.ClickException(f"gunicorn 未能启动，见 {self.log_dir / 'gunicorn.log'}")
            for p in self.schedulers:
                if p.poll() is not None:
                    raise click.ClickException(f"调度器未能启动，见 {self.log_dir}")
            if self._healthy() and all("调度器运行中" in self.log(self.labels[p.pid] + ".log") for p in self.schedulers):
                return
            time.sleep(0.2)
        raise click.ClickException("网页服务或调度器在限定时间内未就绪")

    def _healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        path = self.log_dir / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @staticmethod
    def _terminate(process: subprocess.Popen, grace: float) -> dict:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return {"pid": process.pid, "signal": "SIGKILL after SIGTERM timed out", "returncode": process.returncode}
        return {"pid": process.pid, "signal": "SIGTERM", "returncode": process.returncode}

    def stop(self) -> dict:
        result = {}
        if self.web is not None:
            result["gunicorn"] = self._terminate(self.web, 30)
        for p in self.schedulers:
            result[self.labels[p.pid]] = self._terminate(p, 15) if p.returncode is None else {
                "pid": p.pid, "signal": "already exited", "returncode": p.returncode}
        for log in self._logs:
            log.close()
        self._logs = []
        return result


# -- the clients --------------------------------------------------------------------------------

class Stats:
    """What the clients saw: every 200 completion, every 409, latencies, unexpected answers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.completions: list[dict] = []
        self.conflicts: list[dict] = []
        self.errors: list[dict] = []
        self.unknown: list[dict] = []  # completions whose outcome the client never learnt (transport error)
        self.items: list[int] = []
        self.closed: set[int] = set()

    def request(self, kind: str, status: int | None, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.statuses[f"{kind} {status}"] += 1


class World:
    """State shared by the clients and the compressor (all in this process)."""

    def __init__(self, departments: list[str], options: Options):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.departments = departments
        self.max_items = options.max_items
        self.max_in_flight = max(12, 8 * options.clients)
        self.instance_departments: dict[int, set[str]] = {}
        self.reopened: set[int] = set()
        self.share = options.due_share
        self.salt = random.Random(options.seed).randrange(1000)
        self.decisions: dict[int, str] = {}  # reserved task id → "held" | "parked" | "declined" (see Compressor)
        self.held: dict[int, dict] = {}  # task id → its compressed deadline
        self.created = 0
        self.finished = 0

    def in_flight(self) -> int:
        return self.created - self.finished

    def free_departments(self, instance_id: int) -> list[str]:
        with self.lock:
            used = self.instance_departments.get(instance_id)
            if used is None:
                return []
            return [d for d in self.departments if d not in used]

    def reserved(self, task_id: int) -> bool:
        """Whether a department task is one whose deadline the compressor decides on (a fixed share,
        chosen by id so that clients and compressor agree without talking)."""
        return (task_id * 2654435761 + self.salt) % 1000 < self.share * 1000

    def is_held(self, task: dict) -> bool:
        """Clients leave a reserved task alone until the compressor has decided on it and, if it was
        given a compressed deadline, until its 催办 (level 2) has gone out: so every compressed
        deadline really falls due while the task is open."""
        if not self.reserved(task["id"]):
            return False
        decision = self.decisions.get(task["id"])
        if decision is None or decision == "parked":
            return True
        return decision == "held" and (task.get("escalation_level") or 0) < 2


class Api:
    def __init__(self, port: int, username: str, token: str, stats: Stats):
        self.port = port
        self.username = username
        self.token = token
        self.stats = stats
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, kind: str, body: dict | None = None) -> tuple[int | None, dict | None]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
            if response.will_close:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            self.stats.request(kind, None, time.perf_counter() - started)
            with self.stats.lock:
                self.stats.errors.append({"kind": kind, "path": path, "actor": self.username, "status": None,
                                          "error": f"{type(exc).__name__}: {exc}", "at": utcnow().isoformat()})
            return None, None
        self.stats.request(kind, status, time.perf_counter() - started)
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = {"raw": raw[:300].decode("utf-8", "replace")}
        return status, data

    def complete(self, world: World, task: dict, data: dict) -> dict | None:
        """POST …/complete; records the 200 (the completion the checker must find) or the 409."""
        status, body = self.call("POST", f"/api/v1/tasks/{task['id']}/complete", "complete", data)
        record = {"task_id": task["id"], "instance_id": task["instance_id"], "step": task["task"],
                  "actor": self.username, "at": utcnow().isoformat()}
        with self.stats.lock:
            if status == 200:
                self.stats.completions.append(record)
            elif status == 409:
                self.stats.conflicts.append({**record, "code": (body or {}).get("code")})
            elif status is None:
                self.stats.unknown.append(record)
            else:
                self.stats.errors.append({**record, "kind": "complete", "status": status, "data": data,
                                          "answer": body})
        if status != 200:
            return None
        if body["instance"]["status"] == "completed":
            with world.lock:
                world.finished += 1
                world.instance_departments.pop(task["instance_id"], None)
            with self.stats.lock:
                self.stats.closed.add(task["instance_id"])
        return body


def _list(api: Api, path: str, steps: tuple[str, ...], role: str) -> list[dict] | None:
    status, body = api.call("GET", path, "list")
    if status != 200:
        if status is not None:
            with api.stats.lock:
                api.stats.errors.append({"kind": "list", "path": path, "actor": api.username, "status": status,
                                         "answer": body})
        return None
    return [t for t in body["tasks"] if t["task"] in steps and role in t["roles"]]


def _register(api: Api, world: World, rng: random.Random) -> None:
    with world.lock:
        if world.created >= world.max_items:
            return
        world.created += 1
    registration = {"enterprise_name": rng.choice(ENTERPRISES), "category": rng.choice(CATEGORIES),
                    "description": "压力测试登记的企业困难问题，需要协调相关部门解决。",
                    "source": rng.choice(["服务专员", "联席会议", "企业"])}
    status, body = api.call("POST", "/api/v1/items", "register", registration)
    if status == 201:
        with api.stats.lock:
            api.stats.items.append(body["id"])
        return
    with world.lock:
        world.created -= 1
    if status is not None:
        with api.stats.lock:
            api.stats.errors.append({"kind": "register", "status": status, "actor": api.username, "answer": body})


def _dispatcher_data(task: dict, world: World, rng: random.Random) -> tuple[dict, Callable[[], None]]:
    """The form data for one of the dispatcher's steps, and what to remember if it succeeds."""
    iid = task["instance_id"]
    step = task["task"]
    nothing = lambda: None  # noqa: E731
    if step == "triage":
        if rng.random() < 0.05:
            return {"triage_decision": "reject", "triage_reason": "不属于企业困难问题，不予受理。"}, nothing
        return {"triage_decision": "accept"}, nothing
    if step == "dispatch":
        departments = world.departments
        lead = rng.choice(departments)
        others = [d for d in departments if d != lead]
        k = min(len(others), rng.choice([0, 0, 1, 1, 2]))
        co = rng.sample(others, k)
        data = {"lead_department": lead, "lead_due_working_days": rng.randint(3, 10),
                "co_handlers": [{"department": d, "due_working_days": rng.randint(2, 8)} for d in co]}

        def remember():
            with world.lock:
                world.instance_departments[iid] = {lead, *co}
        return data, remember
    if step == "redispatch":
        free = world.free_departments(iid) or [d for d in world.departments]
        new = rng.choice(free)

        def remember():
            with world.lock:
                world.instance_departments.setdefault(iid, set()).add(new)
        return {"new_department": new, "new_due_working_days": rng.randint(2, 6),
                "redispatch_note": "改由该单位办理。"}, remember
    if step == "decide_extension":
        if rng.random() < 0.7:
            return {"extension_approved": True, "extension_comment": "同意延期。"}, nothing
        return {"extension_approved": False, "extension_comment": "请按原期限办理。"}, nothing
    if step == "review":
        if rng.random() < 0.1:
            return {"review_decision": "send_back", "review_reason": "答复不够具体，请补充办理措施。"}, nothing
        return {"review_decision": "accept"}, nothing
    # rating: 不满意 at most once per item (twice would send it to the leading-group office)
    if iid not in world.reopened and rng.random() < 0.08:
        def reopen():
            with world.lock:
                world.reopened.add(iid)
        return {"rating_value": "不满意", "rating_comment": "问题尚未真正解决。"}, reopen
    return {"rating_value": rng.choice(["满意", "满意", "基本满意"])}, nothing


def dispatcher_client(api: Api, world: World, rng: random.Random) -> None:
    path = f"/api/v1/tasks?department={quote(DISPATCH_DEPARTMENT)}&limit=100"
    while not world.stop.is_set():
        room = world.in_flight() < world.max_in_flight and world.created < world.max_items
        if room and rng.random() < 0.4:
            _register(api, world, rng)
            continue
        tasks = _list(api, path, DISPATCHER_STEPS, "dispatcher")
        if not tasks:
            if room and tasks is not None:
                _register(api, world, rng)
            else:
                world.stop.wait(0.2)
            continue
        task = rng.choice(tasks[:4])
        data, remember = _dispatcher_data(task, world, rng)
        if api.complete(world, task, data) is not None:
            remember()


def department_client(api: Api, world: World, rng: random.Random, tz: ZoneInfo, department: str) -> None:
    while not world.stop.is_set():
        tasks = _list(api, "/api/v1/tasks?limit=50", DEPARTMENT_STEPS, "liaison")
        tasks = [t for t in tasks or [] if not world.is_held(t)]
        if not tasks:
            world.stop.wait(0.2)
            continue
        task = rng.choice(tasks[:4])
        step = task["task"]
        after = None
        if step == "sign":
            free = world.free_departments(task["instance_id"])
            if free and rng.random() < 0.08:
                data = {"sign_decision": "return", "return_reason": "不属于本单位职责，请改派。"}

                def after(iid=task["instance_id"]):
                    with world.lock:
                        world.instance_departments.get(iid, set()).discard(department)
            else:
                data = {"sign_decision": "sign"}
        elif step == "handle":
            due = datetime.fromisoformat(task["due_at"]) if task.get("due_at") else None
            if not world.reserved(task["id"]) and due and due > utcnow() + timedelta(hours=1) and rng.random() < 0.08:
                later = (utcnow().astimezone(tz).date() + timedelta(days=rng.randint(10, 20))).isoformat()
                data = {"handle_action": "request_extension", "extension_reason": "需要协调市级部门，申请延期。",
                        "extension_due_date": later}
            else:
                data = {"handle_action": "answer", "answer": f"{department}已办理：已协调解决企业反映的问题。"}
        else:
            data = {"rework_answer": f"{department}已按要求整改并补充办理措施。"}
        if api.complete(world, task, data) is not None and after is not None:
            after()


# -- time compression ---------------------------------------------------------------------------

class Compressor(threading.Thread):
    """The load test's time compression.

    Real deadlines are working days away (签收 1 working day, 办理 as dispatched), so nothing would
    fall due in a two-minute run. A fixed share (``due_share``) of the department tasks the clients'
    work creates (签收 / 办理答复 / 整改答复) is reserved (``World.reserved``, by task id); for each
    of them this thread moves the deadline into the run: it sets ``human_task.due_at`` and
    ``next_escalation_at`` to a moment 3–20 s ahead and ``warn_before_days`` to 0, so that the task's
    ladder (engine.deadlines.planner.ladder) is 催办 at ``due_at`` (no 预警: it would lie in the past) and 督办
    days later. The next level due is therefore the 催办 (level 2) at ``due_at``, fired by whichever
    scheduler claims it, exactly as for a real deadline. Clients leave a reserved task alone until its
    催办 has gone out (``World.is_held``), so that every compressed deadline falls due while the task
    is open. Reserved tasks seen too late to fall due before the clients stop are declined (the
    clients then handle them normally).

    Before the scheduler kill, reserved tasks are parked for a while and then all made due at one
    moment just before the kill, so that the schedulers are busy firing and e-mailing when one of
    them is killed.

    Every compressed deadline is recorded (task, step, due moment, when it was set) for the checker.
    """

    BURST = 15

    def __init__(self, db, world: World, rng: random.Random, t_end: float, t_kill: float | None):
        super().__init__(name="loadtest-compressor", daemon=True)
        self.db = db
        self.world = world
        self.rng = rng
        self.t_end, self.t_kill = t_end, t_kill
        self.last_id = 0
        self.parked: list[tuple[int, str]] = []
        self.burst_done = t_kill is None
        self.error: str | None = None

    def hold(self, task_id: int, step: str, due: datetime, burst: bool = False) -> bool:
        from engine.runtime.projection import OPEN_STATUSES
        from engine.storage.models import HumanTask

        with self.db.write() as session:
            changed = session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status.in_(OPEN_STATUSES), HumanTask.kind == "bpmn",
                       HumanTask.escalation_level == 0)
                .values(due_at=due, next_escalation_at=due, warn_before_days=0)
                .execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            self.world.decisions[task_id] = "declined"
            return False
        self.world.held[task_id] = {"task_id": task_id, "step": step, "due_at": due, "made_at": utcnow(),
                                    "burst": burst}
        self.world.decisions[task_id] = "held"
        return True

    def run(self) -> None:
        from engine.storage import district

        try:
            with district.across():  # the compressed deadlines of every district's tasks
                self._run()
        except Exception as exc:  # reported by the checker
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            for task_id, _ in self.parked:  # (only if the loop ended early)
                self.world.decisions[task_id] = "declined"

    def _run(self) -> None:
        from engine.runtime.projection import OPEN_STATUSES
        from engine.storage.models import HumanTask

        latest_due = self.t_end - 2.0
        while not self.world.stop.is_set():
            now_m = time.monotonic()
            parking = not self.burst_done and self.t_kill - 12.0 <= now_m < self.t_kill - 4.0
            if not self.burst_done and now_m >= self.t_kill - 4.0:
                self.burst_done = True
                due = utcnow() + timedelta(seconds=max(0.5, self.t_kill - 1.0 - now_m))
                for task_id, step in self.parked:
                    self.hold(task_id, step, due, burst=True)
                self.parked = []
            with self.db.read() as session:
                rows = session.execute(
                    select(HumanTask.id, HumanTask.bpmn_id)
                    .where(HumanTask.id > self.last_id, HumanTask.kind == "bpmn",
                           HumanTask.bpmn_id.in_(DEPARTMENT_STEPS), HumanTask.status.in_(OPEN_STATUSES))
                    .order_by(HumanTask.id)).all()
            for row in rows:
                self.last_id = max(self.last_id, row.id)
                if not self.world.reserved(row.id) or row.id in self.world.decisions:
                    continue
                if parking and len(self.parked) < self.BURST:
                    self.parked.append((row.id, row.bpmn_id))
                    self.world.decisions[row.id] = "parked"
                    continue
                room = latest_due - time.monotonic()
                if room < 3.0:
                    self.world.decisions[row.id] = "declined"
                    continue
                self.hold(row.id, row.bpmn_id, utcnow() + timedelta(seconds=self.rng.uniform(3.0, min(20.0, room))))
            self.world.stop.wait(0.5)


# -- preparing the database -------------------------------------------------------------------------

def prepare_database(base_url: str, schema: str, app_name: str) -> str:
    """A fresh, empty database for the run; returns the URL every process uses."""
    url = make_url(base_url)
    if url.get_backend_name() == "postgresql":
        import psycopg
        from psycopg import sql

        if not SCHEMA_NAME.match(schema):
            raise click.BadParameter("模式名只能含小写字母、数字和下划线", param_hint="--schema")
        conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return url.update_query_dict({"options": f"-csearch_path={schema}", "application_name": app_name}
                                     ).render_as_string(hide_password=False)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or url.database == ":memory:":
            raise click.BadParameter("SQLite 需要一个文件（多个进程共用）", param_hint="--database-url")
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        return base_url
    raise click.BadParameter("只支持 PostgreSQL 或 SQLite", param_hint="--database-url")


def drop_schema(base_url: str, schema: str) -> None:
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        return
    import psycopg
    from psycopg import sql

    conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _with_app_name(url: str, name: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def _zjtx(args: list[str], env: dict) -> str:
    done = subprocess.run([*_venv_command("zjtx", "engine.cli"), *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise click.ClickException(f"zjtx {' '.join(args[:1])} 失败：{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _pick_departments(session, count: int) -> list:
    from engine.storage.models import Department

    rows = list(session.scalars(select(Department).order_by(Department.sort_order)))
    by_name = {d.name: d for d in rows}
    ordered = [by_name[n] for n in PREFERRED_DEPARTMENTS if n in by_name]
    ordered += [d for d in rows if d not in ordered and d.name != DISPATCH_DEPARTMENT]
    return ordered[:count]


# -- the checker --------------------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Check:
    id: str
    zh: str
    en: str
    status: str  # pass | fail | note (true, and worth saying: e.g. an at-least-once re-send after SIGKILL)
    detail: str
    evidence: dict = field(default_factory=dict)


def check(db, engine_factory, stats: Stats, world: World, recorder: SmtpRecorder, kill: dict,
          run_info: dict) -> tuple[list[Check], dict]:
    """Prove from the database and the SMTP record what the run did. Returns the checks and the figures."""
    from SpiffWorkflow.util.task import TaskState

    from engine.runtime.projection import OPEN_STATUSES, ready_user_tasks
    from engine.runtime.serialization import load_state
    from engine.storage.models import AuditRecord, Escalation, HumanTask, OutboxMessage, ProcessInstance, ProcessVersion

    checks: list[Check] = []
    now = utcnow()
    with db.read() as session:
        audits = Counter(dict(session.execute(
            select(AuditRecord.task_id, func.count(AuditRecord.id))
            .where(AuditRecord.action == "complete").group_by(AuditRecord.task_id)).all()))
        tasks = {t.id: t for t in session.scalars(select(HumanTask))}
        escalations = list(session.scalars(select(Escalation).order_by(Escalation.id)))
        escalation_audits = session.scalar(select(func.count(AuditRecord.id))
                                           .where(AuditRecord.action.like("escalation_%")))
        outbox = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        instances = list(session.scalars(select(ProcessInstance)))
        overdue_open = list(session.execute(
            select(HumanTask.id, HumanTask.next_escalation_at)
            .where(HumanTask.status.in_(OPEN_STATUSES), HumanTask.next_escalation_at <= now)).all())

    # 1. completions: none lost, none applied twice
    ok_by_task = Counter(c["task_id"] for c in stats.completions)
    lost = [t for t in ok_by_task if audits.get(t, 0) == 0 or tasks.get(t) is None or tasks[t].status != "completed"]
    twice_db = sorted(t for t, n in audits.items() if n > 1)
    twice_client = sorted(t for t, n in ok_by_task.items() if n > 1)
    completed_rows = {t.id for t in tasks.values() if t.status == "completed"}
    unknown = {u["task_id"] for u in stats.unknown}
    without_200 = sorted(t for t in completed_rows if t not in ok_by_task and t not in unknown)
    checks.append(Check(
        "C1", "客户端收到 200 的办理无一丢失", "no completion lost (every 200 is an audit record and a completed task)",
        "pass" if not lost else "fail",
        f"{len(ok_by_task)} 个任务办理成功；丢失 {len(lost)}", {"lost": lost[:50]}))
    checks.append(Check(
        "C2", "无重复办理", "no completion applied twice",
        "pass" if not twice_db and not twice_client and sum(audits.values()) == len(completed_rows) else "fail",
        f"complete 审计记录 {sum(audits.values())} 条 = 已完成任务 {len(completed_rows)} 个；同一任务多条记录 {len(twice_db)}；"
        f"同一任务两次 200 {len(twice_client)}；无 200 而已完成 {len(without_200)}（结果未知 {len(unknown)}）",
        {"twice_db": twice_db[:50], "twice_client": twice_client[:50], "completed_without_200": without_200[:50]}))

    # instance states: the open task rows are exactly the state's READY user tasks
    services = engine_factory()
    mismatched, completed_mismatch, not_in_tree = [], [], 0
    try:
        rows_by_instance = defaultdict(list)
        for t in tasks.values():
            if t.kind == "bpmn":
                rows_by_instance[t.instance_id].append(t)
        with services.db.read() as session:
            versions = {v.id: v for v in session.scalars(select(ProcessVersion))}
            specs = {vid: services.workflows.parsed_spec(v) for vid, v in versions.items()}
        for instance in instances:
            workflow = load_state(instance.state_json, instance.serializer_version, specs[instance.version_id],
                                  services.workflows.script_engine)
            ready = {str(t.id) for t in ready_user_tasks(workflow)} if not workflow.is_completed() else set()
            rows = rows_by_instance[instance.id]
            open_rows = {r.spiff_task_id for r in rows if r.status in OPEN_STATUSES}
            if ready != open_rows or workflow.is_completed() != (instance.status == "completed"):
                mismatched.append({"instance": instance.id, "ready": sorted(ready), "open_rows": sorted(open_rows),
                                   "status": instance.status})
            for r in rows:
                if r.status != "completed":
                    continue
                spiff = workflow.get_task_from_id(UUID(r.spiff_task_id))
                if spiff is None:
                    not_in_tree += 1
                elif spiff.state != TaskState.COMPLETED:
                    completed_mismatch.append({"task": r.id, "state": TaskState.get_name(spiff.state)})
    finally:
        services.close()
    checks.append(Check(
        "C3", "实例状态一致", "instance states consistent (open task rows = the state's READY user tasks)",
        "pass" if not mismatched and not completed_mismatch else "fail",
        f"{len(instances)} 个实例；不一致 {len(mismatched)}；已完成任务在状态中未完成 {len(completed_mismatch)}"
        f"（状态树中已不存在 {not_in_tree}）",
        {"mismatched": mismatched[:20], "completed_mismatch": completed_mismatch[:20], "not_in_tree": not_in_tree}))

    # 2. escalations: each compressed deadline urged exactly once
    held = world.held
    outcomes = Counter()
    missing, double, wrong_due, before_due = [], [], [], []
    lateness = []
    for task_id, entry in held.items():
        due = entry["due_at"]
        fired = [e for e in escalations if e.task_id == task_id and e.level == 2]
        row = tasks.get(task_id)
        if len(fired) > 1:
            double.append(task_id)
            outcomes["fired more than once"] += 1
        elif len(fired) == 1:
            if abs((fired[0].due_at - due).total_seconds()) > 1:
                wrong_due.append(task_id)
            lateness.append((fired[0].fired_at - fired[0].scheduled_at).total_seconds())
            outcomes["fired once"] += 1
        elif row is not None and row.completed_at is not None and row.completed_at < due:
            # finished before its deadline, so rightly never urged (clients leave reserved tasks alone,
            # so this should not happen; counted, not failed)
            before_due.append(task_id)
            outcomes["finished before its deadline"] += 1
        else:
            missing.append(task_id)
            outcomes["not fired"] += 1
    unexpected = [{"task": e.task_id, "level": e.level, "due_at": e.due_at.isoformat()} for e in escalations
                  if e.task_id not in held or e.level != 2]
    checks.append(Check(
        "E1", "每个到期的催办恰好触发一次", "every due escalation fired exactly once",
        "pass" if not (missing or double or wrong_due or unexpected) and escalation_audits == len(escalations) else "fail",
        f"压缩期限 {len(held)} 个：触发一次 {outcomes['fired once']}，期限前已办结 {outcomes['finished before its deadline']}，"
        f"未触发 {len(missing)}，重复 {len(double)}，期限不符 {len(wrong_due)}；其他升级 {len(unexpected)}；"
        f"升级审计记录 {escalation_audits}，升级 {len(escalations)}",
        {"missing": missing[:50], "double": double[:50], "wrong_due": wrong_due[:50], "unexpected": unexpected[:50],
         "finished_before_deadline": before_due[:50]}))
    checks.append(Check(
        "E2", "无逾期未处理的升级", "no open task with next_escalation_at in the past",
        "pass" if not overdue_open else "fail", f"{len(overdue_open)} 个",
        {"tasks": [r.id for r in overdue_open][:50]}))

    # 3. e-mail: every outbox row sent, received exactly once
    emails = [m for m in outbox if m.channel == "email"]
    received = Counter(m["key"] for m in recorder.messages)
    keys = {m.key for m in emails}
    not_sent = [{"id": m.id, "key": m.key, "status": m.status, "attempts": m.attempts, "error": m.last_error}
                for m in emails if m.status != "sent"]
    never_received = sorted(k for k in keys if received[k] == 0)
    strangers = sorted(k for k in received if k not in keys)
    duplicates = {k: n for k, n in received.items() if n > 1}
    in_flight_at_kill = set(kill.get("sending_keys") or [])
    killed_pid = kill.get("pid")
    explained, unexplained = {}, {}
    for key, n in duplicates.items():
        copies = [m for m in recorder.messages if m["key"] == key]
        first = copies[0]
        by_killed = first["pid"] == killed_pid if first["pid"] else first["at"] <= kill.get("at_utc", now)
        (explained if key in in_flight_at_kill and by_killed else unexplained)[key] = {
            "copies": n, "senders": [c["sender"] for c in copies], "at": [c["at"].isoformat() for c in copies]}
    address_mismatch = []
    by_key = {m.key: m for m in emails}
    for m in recorder.messages:
        row = by_key.get(m["key"])
        if row is not None and m["to"] != [row.address]:
            address_mismatch.append(m["key"])
    late_finishes = run_info.get("late_finishes", 0)  # deliverer: "sent after its lease had run out"
    ok = not not_sent and not never_received and not strangers and not unexplained and not address_mismatch
    status = "fail" if not ok else ("note" if explained else "pass")
    detail = (f"邮件发件箱 {len(emails)} 条：已发送 {len(emails) - len(not_sent)}；SMTP 收到 {len(recorder.messages)} 封；"
              f"未收到 {len(never_received)}；重复 {len(duplicates)}（其中 SIGKILL 所致的至少一次重发 {len(explained)}）；"
              f"无对应发件箱的邮件 {len(strangers)}；租约过期后才发完 {late_finishes}")
    if explained:
        detail += "；重发的邮件与首封同一 Message-ID/X-ZJTX-Key，收件方可据此去重"
    checks.append(Check(
        "N1", "每条通知恰好投递一次", "every e-mail notification delivered exactly once", status, detail,
        {"not_sent": not_sent[:50], "never_received": never_received[:50], "strangers": strangers[:50],
         "duplicates_after_sigkill": explained, "duplicates_unexplained": unexplained,
         "address_mismatch": address_mismatch[:20], "sent_after_lease_ran_out": late_finishes}))

    # 4. nothing left locked
    sending = [m.key for m in outbox if m.status == "sending"]
    lock_rows, sessions_left, idle_in_tx = [], [], []
    if db.dialect == "postgresql":
        with db.read() as session:
            lock_rows = [dict(r._mapping) for r in session.execute(text(
                "SELECT l.pid, l.mode, l.granted, c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND l.pid <> pg_backend_pid()"))]
            sessions_left = [dict(r._mapping) for r in session.execute(text(
                "SELECT pid, state, application_name, left(query, 120) AS query FROM pg_stat_activity "
                "WHERE application_name = :app AND pid <> pg_backend_pid()"), {"app": run_info["app_name"]})]
            idle_in_tx = [dict(r._mapping) for r in session.execute(text(
                "SELECT pid, state, application_name, left(query, 120) AS query FROM pg_stat_activity "
                "WHERE state LIKE 'idle in transaction%' AND application_name LIKE :app AND pid <> pg_backend_pid()"),
                {"app": run_info["app_name"] + "%"})]
    stuck = not sending and not lock_rows and not sessions_left and not idle_in_tx
    checks.append(Check(
        "L1", "无遗留锁定", "nothing left locked (no outbox row 'sending'; no locks, sessions or idle transactions left)",
        "pass" if stuck else "fail",
        f"发送中 {len(sending)}；本模式表上的锁 {len(lock_rows)}；服务进程遗留会话 {len(sessions_left)}；"
        f"事务中空闲 {len(idle_in_tx)}"
        + ("" if db.dialect == "postgresql" else "（SQLite：只检查发件箱）"),
        {"sending": sending[:50], "locks": lock_rows[:20], "sessions": sessions_left[:20], "idle_in_transaction": idle_in_tx}))

    # 5. the scheduler kill and the takeover
    if kill.get("pid"):
        after = [m for m in recorder.messages if m["at"] > kill["at_utc"]]
        survivor_after = [m for m in after if m["pid"] != kill["pid"]]
        fired_after = [e for e in escalations if e.fired_at > kill["at_utc"]]
        leased = kill.get("sending_rows") or []
        taken_over, after_lease = [], []
        for r in leased:
            row = by_key.get(r["key"])
            if row is not None and row.status == "sent":
                taken_over.append(r)
                if r["lease_until"] and row.sent_at >= datetime.fromisoformat(r["lease_until"]):
                    after_lease.append({"key": r["key"], "lease_until": r["lease_until"], "sent_at": row.sent_at.isoformat(),
                                        "copies_received": received[r["key"]]})
        kill_ok = bool(fired_after) and bool(survivor_after) and len(taken_over) == len(leased) and not any(
            m["pid"] == kill["pid"] for m in after)
        kill["survivor"] = {
            "escalations_fired_after_kill": len(fired_after),
            "first_escalation_after_kill": min((e.fired_at for e in fired_after), default=None),
            "emails_received_after_kill": len(survivor_after),
            "leased_rows_at_kill": len(leased), "leased_rows_sent_later": len(taken_over),
            "sent_by_survivor_after_lease_expired": after_lease}
        checks.append(Check(
            "K1", "调度器被杀后由另一个接管", "after the SIGKILL the other scheduler took over",
            "pass" if kill_ok else "fail",
            f"{kill['label']} 于第 {kill['at_seconds']:.1f} 秒被杀（{'正在发送邮件' if kill['mid_delivery'] else '未在发送'}）；"
            f"此后另一调度器触发升级 {len(fired_after)} 次、发出邮件 {len(survivor_after)} 封；被杀时处于租约中的邮件 "
            f"{len(leased)} 条，后来全部发出 {len(taken_over)} 条，其中租约过期后被接手 {len(after_lease)} 条",
            kill["survivor"]))

    # 6. the clients saw no unexpected answers, the logs show no exceptions
    errors = stats.errors
    tracebacks = run_info.get("tracebacks", {})
    checks.append(Check(
        "H1", "无意外错误", "no unexpected HTTP answers (5xx, 4xx other than 409, transport errors) or exceptions in logs",
        "pass" if not errors and not any(tracebacks.values()) and not run_info.get("compressor_error") else "fail",
        f"意外应答 {len(errors)}；日志中的异常 {sum(tracebacks.values())}"
        + (f"；时间压缩线程出错：{run_info['compressor_error']}" if run_info.get("compressor_error") else ""),
        {"errors": errors[:20], "tracebacks": tracebacks}))

    # figures
    seconds = run_info["client_seconds"]
    requests = sum(len(v) for v in stats.latency.values())
    fired_lateness = sorted(lateness)
    sent = [m for m in emails if m.sent_at]
    figures = {
        "items_created": len(stats.items),
        "items_closed": len(stats.closed),
        "completions": len(stats.completions),
        "completions_by_step": dict(Counter(c["step"] for c in stats.completions)),
        "conflicts_409": len(stats.conflicts),
        "conflicts_by_code": dict(Counter(c["code"] for c in stats.conflicts)),
        "conflicts_by_step": dict(Counter(c["step"] for c in stats.conflicts)),
        "unknown_outcomes": len(stats.unknown),
        "unexpected_errors": len(stats.errors),
        "deadlines_compressed": len(held),
        "escalations_fired": len(escalations),
        "escalations_by_level": dict(Counter(str(e.level) for e in escalations)),
        "escalation_lateness_ms": {"median": _ms(statistics.median(fired_lateness)) if fired_lateness else None,
                                   "p95": _ms(_pct(fired_lateness, 0.95)),
                                   "max": _ms(max(fired_lateness)) if fired_lateness else None},
        "email_outbox_rows": len(emails),
        "emails_received": len(recorder.messages),
        "emails_by_sender": dict(Counter(m["sender"] or "unknown" for m in recorder.messages)),
        "email_delivery_ms": {
            "median": _ms(statistics.median([(m.sent_at - m.created_at).total_seconds() for m in sent])) if sent else None,
            "p95": _ms(_pct([(m.sent_at - m.created_at).total_seconds() for m in sent], 0.95)),
            "max": _ms(max((m.sent_at - m.created_at).total_seconds() for m in sent)) if sent else None},
        "email_attempts": dict(Counter(str(m.attempts) for m in emails)),
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1) if seconds else None,
        "completions_per_second": round(len(stats.completions) / seconds, 2) if seconds else None,
        "latency_ms": {kind: {"count": len(v), "median": _ms(statistics.median(v)), "p95": _ms(_pct(v, 0.95)),
                              "max": _ms(max(v))} for kind, v in sorted(stats.latency.items()) if v},
        "statuses": dict(stats.statuses),
    }
    all_latency = [x for v in stats.latency.values() for x in v]
    figures["latency_ms"]["all"] = {"count": len(all_latency), "median": _ms(statistics.median(all_latency)) if all_latency
                                    else None, "p95": _ms(_pct(all_latency, 0.95)),
                                    "max": _ms(max(all_latency)) if all_latency else None}
    return checks, figures


# -- the run --------------------------------------------------------------------------------------------

def _kill_one(cluster: Cluster, recorder: SmtpRecorder, db, window: float) -> dict:
    """SIGKILL one scheduler: the first one seen in the middle of sending an e-mail within ``window``
    seconds, else the first one. Then note which outbox rows were leased ('sending') at that moment."""
    from engine.storage.models import OutboxMessage

    pids = {p.pid: p for p in cluster.schedulers}
    deadline = time.monotonic() + window
    chosen = None
    while time.monotonic() < deadline and chosen is None:
        busy = recorder.sending_pids() & set(pids)
        if busy:
            chosen = sorted(busy)[0]
            break
        time.sleep(0.002)
    mid = chosen is not None
    if chosen is None:
        chosen = cluster.schedulers[0].pid
    at = utcnow()
    os.kill(chosen, signal.SIGKILL)
    pids[chosen].wait(10)
    with db.read() as session:
        leased = [{"id": m.id, "key": m.key, "lease_until": m.lease_until.isoformat() if m.lease_until else None}
                  for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sending"))]
    return {"label": cluster.labels[chosen], "pid": chosen, "at_utc": at, "mid_delivery": mid,
            "returncode": pids[chosen].returncode, "sending_rows": leased, "sending_keys": [r["key"] for r in leased]}


def _drain(db, limit: float, progress) -> dict:
    """Wait until nothing is due: no open task with a past next_escalation_at, no e-mail pending or sending."""
    from engine.runtime.projection import OPEN_STATUSES
    from engine.storage.models import HumanTask, OutboxMessage

    started = time.monotonic()
    quiet = 0
    due = busy = None
    while time.monotonic() - started < limit:
        now = utcnow()
        with db.read() as session:
            due = session.scalar(select(func.count(HumanTask.id)).where(
                HumanTask.status.in_(OPEN_STATUSES), HumanTask.next_escalation_at <= now))
            busy = session.scalar(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.channel == "email", OutboxMessage.status.in_(["pending", "sending"])))
        quiet = quiet + 1 if not due and not busy else 0
        if quiet >= 3:
            break
        time.sleep(0.5)
    waited = time.monotonic() - started
    progress(f"收尾：等待 {waited:.1f} 秒（到期升级 {due}，待发邮件 {busy}）")
    return {"seconds": round(waited, 1), "timed_out": quiet < 3, "due_escalations_left": due, "emails_left": busy}


def run(options: Options, database_url: str, output: Path, progress: Callable[[str], None] = lambda m: None) -> dict:
    from engine.bootstrap import bootstrap
    from engine.config import Settings
    from engine.identity.accounts import issue_token
    from engine.identity.org import get_user
    from engine.storage.db import Database
    from engine.storage.models import User

    rng = random.Random(options.seed)
    app_name = f"zjtx-loadtest-{options.schema}"
    run_url = prepare_database(database_url, options.schema, app_name)
    ctl_url = _with_app_name(run_url, f"{app_name}-ctl")
    log_dir = options.log_dir or PROJECT_ROOT / "instance" / "loadtest" / options.schema
    log_dir.mkdir(parents=True, exist_ok=True)
    recorder = SmtpRecorder(options.smtp_delay)
    recorder.start()
    env = {**os.environ, "DATABASE_URL": run_url, "ZJTX_SMTP_HOST": "127.0.0.1", "ZJTX_SMTP_PORT": str(recorder.port),
           "ZJTX_SMTP_SECURITY": "none", "ZJTX_DELIVERY_LEASE_SECONDS": str(options.lease_seconds),
           "ZJTX_DELIVERY_BACKOFF_SECONDS": "2", "ZJTX_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1"}
    for name in ("ZJTX_SMTP_USER", "ZJTX_SMTP_PASSWORD", "ZJTX_TICK_SECONDS"):
        env.pop(name, None)
    cluster = None
    db = None
    world = None
    try:
        progress(f"准备数据库：{make_url(run_url).render_as_string(hide_password=True)}")
        _zjtx(["init-db"], env)
        _zjtx(["seed"], env)
        files = sorted(str(p) for p in PROCESSES_DIR.glob("*.bpmn")) + sorted(str(p) for p in PROCESSES_DIR.glob("*.dmn"))
        _zjtx(["deploy", *files], env)
        from engine.identity.districts import CHONGQING
        from engine.storage import district

        units = str(PROJECT_ROOT / "engine" / "data" / "departments.json")  # 黔江区's names: the clients' own
        prefixes = [""] + [f"d{n}_" for n in range(1, options.districts)]
        for (code, name), prefix in zip(CHONGQING[1:], prefixes[1:], strict=False):
            _zjtx(["district", "create", code, name, "--units", units, "--demo-prefix", prefix], env)
        db = Database(ctl_url)
        dispatchers = 1 if options.clients < 6 else 2
        dept_clients = max(1, options.clients - dispatchers)
        k = max(1, math.ceil(dept_clients * 2 / 3))
        with db.write() as session:
            departments = _pick_departments(session, k)
        with district.across(), db.write() as session:
            for user in session.scalars(select(User).where(User.email.is_(None))):
                user.email = f"{user.username}@loadtest.invalid"  # so that escalations produce e-mail
            homes = dict(session.execute(select(User.username, User.district_id)).all())
        one = [("dispatcher", None)] * dispatchers
        for i in range(dept_clients):
            dep = departments[i % len(departments)]
            one.append((f"{dep.short_code}_{'liaison' if i < len(departments) else 'head'}", dep.name))
        plan = [(prefix + u, d) for prefix in prefixes for u, d in one]  # the same clients in every district
        tokens = {}
        for username in {u for u, _ in plan}:
            with district.scope(homes[username]), db.write() as session:
                tokens[username] = issue_token(session, get_user(session, username).id, "loadtest")
        world = World([d.name for d in departments], options)

        cluster = Cluster(env, log_dir, options.workers, options.schedulers)
        progress(f"启动 gunicorn（{options.workers} 个工作进程，端口 {cluster.port}）和 {options.schedulers} 个调度器；"
                 f"SMTP 127.0.0.1:{recorder.port}；日志 {log_dir}")
        cluster.start()
        recorder.senders = dict(cluster.labels)

        stats = Stats()
        tz = ZoneInfo(Settings().timezone)
        t0 = time.monotonic()
        t_end = t0 + options.seconds
        t_kill = t0 + options.seconds * options.kill_at if options.kill_at and options.schedulers > 1 else None
        compressor = Compressor(db, world, random.Random(rng.random()), t_end, t_kill)
        threads = []
        for i, (username, department) in enumerate(plan):
            api = Api(cluster.port, username, tokens[username], stats)
            client_rng = random.Random(rng.random())
            if department is None:
                target, args = dispatcher_client, (api, world, client_rng)
            else:
                target, args = department_client, (api, world, client_rng, tz, department)
            threads.append(threading.Thread(target=target, args=args, name=f"client-{i}-{username}", daemon=True))
        started_at = utcnow()
        progress(f"{len(plan)} 个客户端运行 {options.seconds:g} 秒：" + "、".join(u for u, _ in plan))
        compressor.start()
        for t in threads:
            t.start()
        kill: dict = {}
        if t_kill is not None:
            time.sleep(max(0.0, t_kill - time.monotonic()))
            kill = _kill_one(cluster, recorder, db, window=min(10.0, max(2.0, t_end - time.monotonic() - 2)))
            kill["at_seconds"] = time.monotonic() - t0
            progress(f"第 {kill['at_seconds']:.1f} 秒 SIGKILL {kill['label']}（pid {kill['pid']}，"
                     f"{'正在发送邮件' if kill['mid_delivery'] else '未在发送'}；租约中的邮件 {len(kill['sending_rows'])} 条）")
        time.sleep(max(0.0, t_end - time.monotonic()))
        world.stop.set()
        for t in threads:
            t.join(70)
        compressor.join(10)
        client_seconds = time.monotonic() - t0
        progress(f"客户端已停止：办理 {len(stats.completions)} 次，冲突 409 {len(stats.conflicts)} 次，"
                 f"登记 {len(stats.items)} 件")
        drain = _drain(db, options.lease_seconds + 30, progress)
        stopped = cluster.stop()
        progress("服务与调度器已停止")
        logs = {name: cluster.log(name) for name in ["gunicorn.log", *[f"{label}.log" for label in cluster.labels.values()]]}
        run_info = {"app_name": app_name, "client_seconds": client_seconds, "compressor_error": compressor.error,
                    "tracebacks": {name: content.count("Traceback") for name, content in logs.items()},
                    "late_finishes": sum(content.count("after its lease had run out") for content in logs.values())}
        with district.across():  # every district's work
            checks, figures = check(db, lambda: bootstrap(Settings(database_url=ctl_url, processes_dir=PROCESSES_DIR)),
                                    stats, world, recorder, kill, run_info)
            checks.append(_every_district_worked(db, len(prefixes)))
        with db.read() as session:
            server = session.execute(text("SELECT version()")).scalar() if db.dialect == "postgresql" else "SQLite"
        results = {
            "command": "zjtx loadtest",
            "started_at": started_at.isoformat(),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
            "machine": {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                        "platform": platform.platform(), "python": platform.python_version(), "database": server,
                        "database_url": make_url(run_url).render_as_string(hide_password=True)},
            "clients": [{"user": u, "department": d or DISPATCH_DEPARTMENT} for u, d in plan],
            "ok": not any(c.status == "fail" for c in checks),
            "checks": [asdict(c) for c in checks],
            "figures": figures,
            "kill": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in kill.items()},
            "drain": drain,
            "shutdown": stopped,
            "compressed_deadlines": [{**e, "due_at": e["due_at"].isoformat(), "made_at": e["made_at"].isoformat()}
                                     for e in sorted(world.held.values(), key=lambda e: e["due_at"])],
            # every completion a client got 200 for, and every 409: [task id, instance id, step(, code)]
            "completions": [[c["task_id"], c["instance_id"], c["step"]] for c in stats.completions],
            "conflicts": [[c["task_id"], c["instance_id"], c["step"], c["code"]] for c in stats.conflicts],
            "errors": stats.errors[:100],
            "logs": str(log_dir),
        }
        output.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return results
    finally:
        if world is not None:
            world.stop.set()  # (after an error: the client threads end)
        if cluster is not None:
            cluster.stop()
        recorder.stop()
        if db is not None:
            db.dispose()
        if not options.keep_schema:
            drop_schema(database_url, options.schema)


def _every_district_worked(db, districts: int) -> Check:
    """D1: with several districts active at once, each completed work of its own (none starved or refused)."""
    from engine.storage.models import AuditRecord

    with db.read() as session:
        done = dict(session.execute(select(AuditRecord.district_id, func.count(AuditRecord.id))
                                    .where(AuditRecord.action == "complete").group_by(AuditRecord.district_id)).all())
    ok = len(done) == districts and all(n > 0 for n in done.values())
    return Check("D1", "每个区县都完成了本区县的办理", "every district completed work of its own",
                 "pass" if ok else "fail", f"{districts} 个区县，各区县办理次数 {sorted(done.values())}")


def print_table(results: dict, echo: Callable[[str], None] = click.echo) -> None:
    marks = {"pass": "通过 PASS", "fail": "失败 FAIL", "note": "说明 NOTE"}
    echo("")
    echo(f"{'#':<3} {'检查 / check':<44} {'结果':<10} 说明 / detail")
    for c in results["checks"]:
        echo(f"{c['id']:<3} {c['zh']:<24} {marks[c['status']]:<10} {c['detail']}")
        echo(f"{'':<3} ({c['en']})")
    f = results["figures"]
    lat = f["latency_ms"]
    echo("")
    echo(f"事项 items: 登记 created {f['items_created']}，办结 closed {f['items_closed']}；"
         f"办理 completions {f['completions']}（{f['completions_per_second']}/s）；冲突 409 conflicts {f['conflicts_409']}")
    echo(f"升级 escalations: 压缩期限 {f['deadlines_compressed']}，触发 fired {f['escalations_fired']}，"
         f"延迟 lateness 中位 {f['escalation_lateness_ms']['median']} ms / p95 {f['escalation_lateness_ms']['p95']} ms / "
         f"最大 {f['escalation_lateness_ms']['max']} ms")
    echo(f"邮件 e-mail: 发件箱 {f['email_outbox_rows']}，收到 received {f['emails_received']}，按发送者 {f['emails_by_sender']}")
    echo(f"请求 requests: {f['requests']}（{f['requests_per_second']}/s）；延迟 latency 中位 median {lat['all']['median']} ms，"
         f"p95 {lat['all']['p95']} ms")
    for kind, v in lat.items():
        if kind != "all":
            echo(f"    {kind:<9} n={v['count']:<6} 中位 {v['median']} ms  p95 {v['p95']} ms  最大 {v['max']} ms")
    kill = results.get("kill") or {}
    if kill:
        survivor = kill.get("survivor") or {}
        echo(f"SIGKILL: {kill['label']}（pid {kill['pid']}）第 {kill['at_seconds']:.1f} 秒（{kill['at_utc']}），"
             f"{'正在发送邮件' if kill['mid_delivery'] else '未在发送邮件'}；此后另一调度器：升级 "
             f"{survivor.get('escalations_fired_after_kill')} 次（首次 {survivor.get('first_escalation_after_kill')}），"
             f"邮件 {survivor.get('emails_received_after_kill')} 封；租约中 {survivor.get('leased_rows_at_kill')} 条，"
             f"租约过期后接手 {len(survivor.get('sent_by_survivor_after_lease_expired') or [])} 条")
    echo(f"机器 machine: nproc={results['machine']['nproc']}；数据库 {results['machine']['database']}")


@click.command("loadtest")
@click.option("--database-url", required=True, help="PostgreSQL（在其中新建专用模式）或 SQLite 文件")
@click.option("--seconds", default=120.0, show_default=True, type=click.FloatRange(5, 3600), help="客户端运行时长")
@click.option("--clients", default=8, show_default=True, type=click.IntRange(2, 64), help="并发客户端数")
@click.option("--output", default="loadtest-results.json", show_default=True, type=click.Path(path_type=Path))
@click.option("--schema", default="loadtest", show_default=True, help="PostgreSQL 专用模式（先删除再新建）")
@click.option("--drop-schema", is_flag=True, help="结束后删除该模式（缺省保留以便查看）")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16), help="gunicorn 工作进程数")
@click.option("--schedulers", default=2, show_default=True, type=click.IntRange(1, 8), help="调度器进程数")
@click.option("--lease", "lease_seconds", default=10.0, show_default=True, type=click.FloatRange(1, 600),
              help="邮件发送租约（秒），被杀调度器的租约过期后由他人接手")
@click.option("--due-share", default=0.2, show_default=True, type=click.FloatRange(0, 1),
              help="期限被压缩到运行期内的部门任务比例")
@click.option("--kill-at", default=0.5, show_default=True, type=click.FloatRange(0, 0.9),
              help="在运行时长的该比例处 SIGKILL 一个调度器（0 为不杀）")
@click.option("--smtp-delay", default=0.05, show_default=True, type=click.FloatRange(0, 30),
              help="本地 SMTP 服务器每个收件人应答前的延迟（秒）")
@click.option("--max-items", default=5000, show_default=True, type=click.IntRange(1, 1_000_000), help="最多登记事项数")
@click.option("--seed", type=int, help="随机数种子（可复现客户端的选择）")
@click.option("--districts", default=1, show_default=True, type=click.IntRange(1, 38),
              help="同时运行的区县数：每个区县有同样的客户端、各自的账号和事项")
def loadtest_command(database_url, seconds, clients, output, schema, drop_schema, workers, schedulers, lease_seconds,
                     due_share, kill_at, smtp_delay, max_items, seed, districts):
    """多节点压力测试：gunicorn 与两个调度器同库运行，中途杀掉一个调度器，最后逐项核对并输出结果表。"""
    options = Options(seconds=seconds, clients=clients, workers=workers, schedulers=schedulers, schema=schema,
                      keep_schema=not drop_schema, lease_seconds=lease_seconds, due_share=due_share, kill_at=kill_at,
                      smtp_delay=smtp_delay, max_items=max_items, seed=seed, districts=districts)
    results = run(options, database_url, output, progress=lambda m: click.echo(m, err=True))
    print_table(results)
    click.echo(f"结果已写入 {output}")
    if not results["ok"]:
        sys.exit(1)
