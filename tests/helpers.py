"""What several test modules share (no test module imports another): driving the problem-dispatch
process through the service layer as the users would, small diagrams, a logged-in test client, a
headless browser window, enterprise records, the crafted month of October 2026 and outbox helpers.

Fixtures are in conftest.py; these are plain functions, classes and constants.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from engine.identity.org import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[1]
BJ = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = json.loads((ROOT / "engine" / "data" / "departments.json").read_text(encoding="utf-8"))
SHORT_CODES = {d["name"]: d["short_code"] for d in DEPARTMENTS}

REGISTRATION = {
    "enterprise_name": "重庆黔江某精密制造有限公司",
    "category": "用地",
    "description": "二期厂房扩建缺少建设用地指标，需协调规划和园区解决。",
    "source": "服务专员",
}


def liaison(department: str) -> str:
    return f"{SHORT_CODES[department]}_liaison"


def head(department: str) -> str:
    return f"{SHORT_CODES[department]}_head"


class Item:
    """One enterprise problem walked through the engine. Every call loads the instance from the database."""

    def __init__(self, zjtx, registration: dict | None = None, actor: str = "dispatcher"):
        self.services = zjtx
        started = self.services.workflows.start("problem_dispatch", registration or dict(REGISTRATION), actor=actor)
        self.id = started["id"]
        self.key = started["business_key"]

    def open_tasks(self) -> list[dict]:
        return self.services.queries.tasks(instance_id=self.id)

    def task(self, bpmn_id: str, department: str | None = None) -> dict:
        found = [t for t in self.open_tasks()
                 if t["task"] == bpmn_id and (department is None or t["department"] == department)]
        assert len(found) == 1, f"expected one open {bpmn_id} for {department}, got {self.open_tasks()}"
        return found[0]

    def do(self, bpmn_id: str, data: dict, actor: str, department: str | None = None) -> dict:
        return self.services.workflows.complete(self.task(bpmn_id, department)["id"], data, actor)

    def show(self) -> dict:
        return self.services.queries.show(self.id)

    def data(self) -> dict:
        return self.show()["data"]

    # The usual steps, named as the users name them.
    def accept(self):
        return self.do("triage", {"triage_decision": "accept"}, "dispatcher")

    def dispatch(self, lead: str, days: int = 5, co: dict[str, int] | None = None):
        co_handlers = [{"department": d, "due_working_days": n} for d, n in (co or {}).items()]
        return self.do("dispatch", {"lead_department": lead, "lead_due_working_days": days,
                                    "co_handlers": co_handlers}, "dispatcher")

    def sign(self, department: str):
        return self.do("sign", {"sign_decision": "sign"}, liaison(department), department)

    def answer(self, department: str, text: str, sign_off: bool = True):
        """The department's answer (or co-handler's part), and its head's sign-off when the diagram asks."""
        result = self.do("handle", {"handle_action": "answer", "answer": text}, liaison(department), department)
        return self.sign_off(department) or result if sign_off else result

    def sign_off(self, department: str) -> dict | None:
        """The department head approves the answer waiting for them (负责人审核), if one is."""
        waiting = [t for t in self.open_tasks()
                   if t["task"] in ("head_review_slot", "head_review") and t["department"] == department]
        if not waiting:
            return None
        return self.do(waiting[0]["task"], {"head_decision": "approve"}, head(department), department)

    def consolidate(self, lead: str, text: str):
        """The lead unit answers once for all (主办汇总), signed off by its head."""
        self.do("consolidate", {"consolidate_action": "answer", "consolidated_answer": text}, liaison(lead), lead)
        return self.sign_off(lead)

    def rework(self, department: str, text: str):
        """The lead unit's rework answer, signed off by its head."""
        self.do("rework", {"rework_answer": text}, liaison(department), department)
        return self.sign_off(department)

    def to_review(self, lead: str, co: dict[str, int] | None = None):
        self.accept()
        self.dispatch(lead, co=co)
        for department in [lead, *(co or {})]:
            self.sign(department)
        for department in [lead, *(co or {})]:
            self.answer(department, f"{department}已办理完毕")
        if co:
            self.consolidate(lead, f"{lead}已办理完毕")


def signed(zjtx, lead: str = "区科技局", days: int = 5) -> Item:
    """An item accepted, dispatched to ``lead`` alone for ``days`` working days and signed for by it."""
    item = Item(zjtx)
    item.accept()
    item.dispatch(lead, days=days)
    item.sign(lead)
    return item


def visit(satisfied: str = "满意", solved: str = "已解决", comment: str | None = None) -> dict:
    """The service officer's 回访 record of an enterprise reached by phone."""
    return {"visit_reached": "reached", "visit_method": "电话", "visit_at": "2026-10-20 09:30",
            "visit_person": "企业联系人张经理", "solved": solved, "satisfied": satisfied, "rating_comment": comment}


def short_extension(item: Item, department: str) -> str:
    """A date two days past the department's handling deadline: an extension the dispatcher decides."""
    from datetime import timedelta

    due = datetime.fromisoformat(item.task("handle", department)["due_at"]).astimezone(BJ).date()
    return (due + timedelta(days=2)).isoformat()


def at(text: str) -> datetime:
    """A Beijing wall-clock moment: ``at("2026-10-09 10:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def wait_for(condition, timeout: float = 30.0, interval: float = 0.02):
    """Wait until ``condition()`` is true and return its value; fail after ``timeout`` seconds of real
    time (generous: the deadline is for a hung test, not a measure of speed)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {getattr(condition, '__doc__', None) or condition}")
        time.sleep(interval)
    return value


def counts(services, instance_id: int) -> tuple:
    """(open and closed tasks, audit records, revision) of an instance: what a refused step must not change."""
    from engine.storage.models import AuditRecord, HumanTask, ProcessInstance

    with services.db.read() as session:
        return (
            session.scalar(select(func.count(HumanTask.id)).where(HumanTask.instance_id == instance_id)),
            session.scalar(select(func.count(AuditRecord.id)).where(AuditRecord.instance_id == instance_id)),
            session.scalar(select(ProcessInstance.revision).where(ProcessInstance.id == instance_id)),
        )


# -- diagrams -------------------------------------------------------------------------------------

BPMN = (ROOT / "processes" / "problem_dispatch.bpmn").read_text(encoding="utf-8")  # the bundled diagram
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "miwg-reference"

# One process with one step {task} in the lane {lane}.
MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="tiny" name="小流程" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="{lane}"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>t1</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t1"/>
    {task}
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
USER_TASK = ('<bpmn:userTask id="t1" name="办理"><bpmn:incoming>f1</bpmn:incoming>'
             '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>')

# A step answered within two hours, or a boundary timer moves it to 超时说明.
TIMER_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="timed" name="限时答复" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>answer</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>late</bpmn:flowNodeRef><bpmn:flowNodeRef>e1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e2</bpmn:flowNodeRef><bpmn:flowNodeRef>timeout</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="answer"/>
    <bpmn:userTask id="answer" name="答复"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="timeout" name="两小时未答复" attachedToRef="answer">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="e1"/>
    <bpmn:endEvent id="e1"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="timeout" targetRef="late"/>
    <bpmn:userTask id="late" name="超时说明"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="e2"/>
    <bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def deploy(zjtx, files: dict[str, str], trusted=False):
    """Deploy diagrams given as {file name: text}."""
    with zjtx.db.write() as session:
        return zjtx.registry.deploy(session, {k: v.encode() for k, v in files.items()}, trusted=trusted)


def deploy_timed(zjtx):
    deploy(zjtx, {"timed.bpmn": TIMER_PROCESS})


# -- the web UI -----------------------------------------------------------------------------------

class Browser:
    """A test client that logs in like a user and posts forms with the page's CSRF token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = None

    def get(self, url, **kw):
        response = self.client.get(url, **kw)
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, **kw):
        if self.token is None:
            self.get("/login")
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)

    def login(self, username, password=DEMO_PASSWORD):
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})

    @classmethod
    def signed_in(cls, app, username: str) -> Browser:
        """A client signed in as ``username``, holding its session's CSRF token."""
        browser = cls(app)
        assert browser.login(username).status_code == 302
        browser.get("/notifications")
        return browser


# Browser tests: Debian's chromium (never a downloaded browser); screenshots go to test-output/browser/.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SHOTS = ROOT / "test-output" / "browser"


class User:
    """One person's browser window; records every request the pages make."""

    def __init__(self, chromium, base: str, username: str, viewport: dict | None = None):
        self.base = base
        self.context = chromium.new_context(locale="zh-CN", viewport=viewport or {"width": 1366, "height": 900},
                                            has_touch=bool(viewport and viewport["width"] < 700))
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{base}/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{base}/")
        self.name = username

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def open_task(self, tab: str, step: str) -> None:
        self.page.goto(f"{self.base}/?tab={tab}")
        self.page.click(f"table.tasks tr:has(td:text-is('{step}')) a")
        self.page.wait_for_selector("form.task-form")

    def record_visit(self, satisfied: str = "满意", solved: str = "已解决") -> None:
        """Fill the 回访 form on the open task page: reached by phone, the two answers."""
        page = self.page
        page.check("input[name=visit_method][value=电话]")
        page.fill("input[name=visit_at]", "2026-10-20 09:30")
        page.fill("input[name=visit_person]", "企业联系人张经理")
        page.check(f"input[name=solved][value={solved}]")
        page.check(f"input[name=satisfied][value={satisfied}]")
        page.click("button[name=visit_reached][value=reached]")
        page.wait_for_load_state()

    def submit(self) -> None:
        self.page.click("form.task-form button[type=submit]")
        self.page.wait_for_load_state()

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith("data:"))]


# -- enterprises and the cultivation pool ---------------------------------------------------------

def uscc(body: str) -> str:
    """A unified social credit code: the 17 characters given and their check digit."""
    from engine.policy.pool.uscc import check_digit

    return body + check_digit(body)


GOOD = uscc("91500114MA5U8XXX7")
RECORD = {"name": "重庆黔江某精密制造有限公司", "uscc": GOOD, "registered_on": "2019-05-20", "in_district": "是",
          "independent_legal_person": True, "industry": "工业", "employees": 180, "tier": "创新型中小企业",
          "tier_since": "2025-03-01", "tier_valid_until": "2028-02-28", "service_officer": "officer",
          "sector": "工业"}  # in the plan's scope (二（一）): admission refuses an enterprise with none recorded
ROW_A = ["黔江某新材料科技有限公司", GOOD, "2020-03-15", "是", "是", "工业", 120, "无", None, None, "officer"]
YEARS = [{"year": 2023, "revenue": 18_000_000, "net_profit": 1_200_000},
         {"year": 2024, "revenue": 21_000_000, "net_profit": 1_300_000},
         {"year": 2025, "revenue": 26_000_000, "rd_expense": 780_000, "net_profit": 1_500_000,
          "total_assets": 40_000_000, "total_liabilities": 22_000_000}]


def workbook(enterprises: list[list], years: list[list]) -> bytes:
    """An import workbook: the 企业 sheet and the 年度数据 sheet with their Chinese headers."""
    from openpyxl import Workbook

    from engine.policy.pool.enterprises import ENTERPRISE_COLUMNS, YEAR_COLUMNS

    book = Workbook()
    sheet = book.active
    sheet.title = "企业"
    sheet.append([t for _, t in ENTERPRISE_COLUMNS])
    for row in enterprises:
        sheet.append(row)
    second = book.create_sheet("年度数据")
    second.append([t for _, t in YEAR_COLUMNS])
    for row in years:
        second.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def register(zjtx, industry="批发业", years=YEARS, **changes):
    """The enterprise GOOD, saved by the dispatcher (a wholesaler with three years of figures)."""
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    return zjtx.enterprises.save(dispatcher, {**RECORD, "industry": industry, "tier": "无", "tier_since": None,
                                              **changes}, years=years)


def apply(zjtx):
    """The service officer applies for GOOD's admission to the cultivation pool."""
    return zjtx.workflows.start("pool_admission", {"enterprise_uscc": GOOD, "channel": "application"}, actor="officer")


# -- the crafted month ----------------------------------------------------------------------------

OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG = "区科技局", "区财政局", "区商务委"


def crafted_october(zjtx):
    """Four items in October 2026 (figures worked out by hand in test_circulars)."""
    import time_machine

    from engine.scheduling.scheduler import Scheduler

    lead, co, wrong = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG
    with time_machine.travel(at("2026-10-09 10:00"), tick=False) as clock:
        a = Item(zjtx)                                       # A: answered exactly at its deadline
        a.accept()
        a.dispatch(lead, days=3)                              # due 10-13 (10-10 is a make-up Saturday)
        a.sign(lead)
        clock.move_to(at("2026-10-13 23:59:59"))
        a.answer(lead, "已解决")
        a.do("review", {"review_decision": "accept"}, "dispatcher")
        a.do("rating", visit("满意", "已解决"), "officer")

        clock.move_to(at("2026-10-12 10:00"))
        b = Item(zjtx)                                       # B: approved extension, sent back once
        b.accept()
        b.dispatch(lead, days=2)                              # due 10-14
        b.sign(lead)
        b.do("handle", {"handle_action": "request_extension", "extension_reason": "需市级审批",
                        "extension_due_date": "2026-10-20"}, liaison(lead), lead)
        b.do("decide_extension", {"extension_approved": True}, "dispatcher")
        c = Item(zjtx)                                       # C: returned, re-dispatched, answered late
        c.accept()
        c.dispatch(wrong, days=2)
        c.do("sign", {"sign_decision": "return", "return_reason": "不属本单位职责"}, liaison(wrong), wrong)
        c.do("redispatch", {"new_department": co, "new_due_working_days": 2}, "dispatcher")  # due 10-14
        c.sign(co)
        clock.move_to(at("2026-10-16 11:00"))
        c.answer(co, "已办理")
        c.do("review", {"review_decision": "accept"}, "dispatcher")
        c.do("rating", visit("满意", "已解决"), "officer")
        clock.move_to(at("2026-10-19 15:00"))
        b.answer(lead, "已协调")
        b.do("review", {"review_decision": "send_back", "review_reason": "请补充时间表"}, "dispatcher")
        b.rework(lead, "已补充")
        b.do("review", {"review_decision": "accept"}, "dispatcher")
        b.do("rating", visit("基本满意", "部分解决"), "officer")

        clock.move_to(at("2026-10-20 10:00"))
        d = Item(zjtx)                                       # D: never signed: urged and supervised
        d.accept()
        d.dispatch(co, days=5)
        clock.move_to(at("2026-10-27 10:00"))
        Scheduler(zjtx).run_until_idle()


# -- notifications --------------------------------------------------------------------------------

NOTICE_CONTEXT = {"title": "某公司：用地问题", "business_key": "ZJTX-2026-00001", "task_name": "办理答复",
                  "department": "区科技局", "due_local": "2026年10月09日", "days_left": 1, "overdue_days": 0}


def notify(zjtx, key: str, usernames: list[str], department: str | None = "区科技局") -> list[dict]:
    """An escalation notice (level 2) to these users and to the department's webhooks, now."""
    from engine.identity.org import DepartmentDirectory, get_user
    from notifications.outbox import Notice

    with zjtx.db.write() as session:
        users = [get_user(session, u) for u in usernames]
        dep = DepartmentDirectory(session).get(department).id if department else None
        return zjtx.notifier.notify(session, Notice(key=key, template="escalation_2", context=NOTICE_CONTEXT,
                                                    link="http://127.0.0.1:5000/tasks/1", data={"level": 2}),
                                    users, dep, datetime.now(UTC))


def outbox(zjtx) -> list:
    """Every outbox message, oldest first."""
    from engine.storage.models import OutboxMessage

    with zjtx.db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def remove_notice(monkeypatch, *years: int) -> None:
    """Make ``years`` what the ``holidays`` package computes for a year before the State Council's notice
    for it ships: its statutory days only, no make-up working days, unconfirmed. Tests that need a year
    without a notice make one with this instead of relying on what the installed package lacks (the day it
    carries 2027, those tests would fail with no change to the code)."""
    from engine.deadlines import workcalendar

    real = workcalendar._package_year

    def package_year(year: int):
        known = real(year)
        if year not in years:
            return known
        statutory = {day: (workday, name) for day, (workday, name) in known.days.items()
                     if not workday and not name.startswith(workcalendar._SUBSTITUTED_PREFIX)}
        return workcalendar._Year(False, statutory)

    monkeypatch.setattr(workcalendar, "_package_year", package_year)


# -- 企业端: an enterprise signed in ------------------------------------------------------------------

INVITE_LINK = re.compile(r"/qiye/invite/([A-Za-z0-9_-]+)")
LOGIN_CODE = re.compile(r"验证码 (\d{6})")


def queue_email(zjtx) -> None:
    """Let the notifier write email rows even when the test's engine has no mail server (the plain ``zjtx``):
    the rows stay in the outbox unsent, which is where the enterprise helpers read links and codes."""
    from notifications.channels import EmailChannel

    if not any(c.name == "email" for c in zjtx.notifier.channels):
        zjtx.notifier.channels.append(EmailChannel("127.0.0.1", 9, "none", zjtx.settings.mail_sender))


def newest_to(zjtx, address: str, pattern: re.Pattern) -> str:
    """The first group of ``pattern`` in the newest outbox message to ``address`` that has it."""
    for message in reversed(outbox(zjtx)):
        found = pattern.search(f"{message.subject}\n{message.body}") if message.address == address else None
        if found:
            return found.group(1)
    raise AssertionError(f"no message to {address} matching {pattern.pattern}")


def enterprise_session(app, zjtx, uscc: str = GOOD, email: str | None = None, contact_name: str = "张经理",
                       invited_by: str = "dispatcher") -> Browser:
    """A test client signed in as a contact of the enterprise ``uscc`` the way a contact signs in: invited
    (by the dispatcher, by email), the invitation link followed and accepted, a code asked for at /qiye/login
    and typed in from the outbox. The enterprise GOOD is registered first if it is not in the registry; another
    ``uscc`` must be. Each call adds a contact (``email``, by default one per credit code: call once per
    enterprise, or give another address). The client holds the session's CSRF token (``post`` sends it)."""
    from engine.policy.portal import EnterpriseAccounts
    from engine.storage.models import Enterprise

    with zjtx.db.read() as session:
        enterprise_id = session.scalar(select(Enterprise.id).where(Enterprise.uscc == uscc))
    if enterprise_id is None:
        assert uscc == GOOD, f"enterprise {uscc} is not in the registry"
        enterprise_id = register(zjtx)
    email = email or f"contact-{uscc[-6:].lower()}@example.com"
    queue_email(zjtx)
    EnterpriseAccounts.of(zjtx).invite(invited_by, enterprise_id, {"contact_name": contact_name, "email": email})
    token = newest_to(zjtx, email, INVITE_LINK)
    client = Browser(app)
    client.get(f"/qiye/invite/{token}")
    assert client.post(f"/qiye/invite/{token}").status_code == 302
    client.get("/qiye/login")
    assert client.post("/qiye/login", {"identifier": email}).status_code == 302
    code = newest_to(zjtx, email, LOGIN_CODE)
    assert client.post("/qiye/login/code", {"code": code}).status_code == 302
    assert client.get("/qiye/").status_code == 200  # and the new session's CSRF token
    return client
