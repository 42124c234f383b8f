"""Demo data for a new installation (``zjtx demo``), showing every feature: enterprise problems at
different steps; overdue and escalated steps of each level (预警, 催办, 督办 with its 督办 item), dispatched
in the past so that the ladder has fired by now; a published circular; an admission in 公示; measure
reports; a 挂牌督办 with its 批示 and 督办函; a step paused (挂起) for the enterprise's papers;
this quarter's 联席会议 with its agenda. Only into a database without instances (a second run does nothing)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from engine import localtime
from engine.deadlines.calendar_store import load_calendar
from engine.deadlines.periods import previous_month, previous_quarter
from engine.identity.authz import actor_for
from engine.identity.org import load_departments_data
from engine.policy.pool.demo import load_registry
from engine.policy.pool.uscc import check_digit
from engine.storage.models import ProcessInstance

DEMO_ITEMS = [
    {"enterprise_name": "重庆黔江某精密制造有限公司", "category": "用地", "source": "服务专员",
     "description": "二期厂房扩建缺少建设用地指标，需协调规划和园区解决。"},
    {"enterprise_name": "黔江某新材料科技有限公司", "category": "用工", "source": "联席会议",
     "description": "新产线投产需招聘熟练技工约60人，本地招聘困难。"},
    {"enterprise_name": "重庆某绿色食品有限公司", "category": "融资", "source": "企业",
     "description": "技改项目资金缺口约800万元，希望对接专精特新专属信贷产品。"},
    {"enterprise_name": "黔江某智能装备有限公司", "category": "用能", "source": "服务专员",
     "description": "扩产后用电负荷不足，需增容变压器。"},
]
LATE_ITEMS = [  # (item, lead department, how late the answer is: working days from today to its deadline)
    ({"enterprise_name": "黔江某电子科技有限公司", "category": "人才", "source": "企业",
      "description": "申报市级企业技术中心需要区级推荐意见。"}, "区科技局", 0),  # due today: 预警
    ({"enterprise_name": "重庆黔江某木业有限公司", "category": "其他", "source": "服务专员",
      "description": "希望参加区内重点项目采购对接会。"}, "区商务委", -1),  # one working day late: 催办
    ({"enterprise_name": "黔江某生物医药有限公司", "category": "融资", "source": "联席会议",
      "description": "技术改造补助资金迟迟未拨付。"}, "区财政局", -5),  # five late: 督办, with its 督办 item
]
LATE_DAYS = 3  # the dispatch's deadline, in working days
DEMO_USCC = "91500114MA5U6DEM3"  # 17 characters; the check digit is computed


def _liaison(name: str) -> str:
    codes = {d["name"]: d["short_code"] for d in load_departments_data()}
    return f"{codes[name]}_liaison"


class _Demo:
    def __init__(self, services):
        self.services = services
        self.workflows, self.queries = services.workflows, services.queries
        self.tz = services.workflows.tz
        self.today = localtime.today(services.workflows.clock, self.tz)
        self.late_items: dict[str, int] = {}  # lead department → the late item's instance id

    def step(self, instance_id: int, bpmn_id: str, data: dict, actor: str | None = None,
             department: str | None = None) -> dict:
        for task in self.queries.tasks(instance_id=instance_id):
            if task["task"] == bpmn_id and department in (None, task["department"]):
                return self.workflows.complete(task["id"], data, actor or _liaison(task["department"]))
        raise LookupError(bpmn_id)

    @contextmanager
    def at(self, day: date) -> Iterator[None]:
        """The workflow engine's clock at 10:00 Beijing time on ``day`` (the items' past)."""
        moment = datetime.combine(day, time(10, 0), self.tz)
        real = self.workflows.clock
        self.workflows.clock = lambda: moment
        try:
            yield
        finally:
            self.workflows.clock = real

    def problems(self) -> int:
        """Four items at different steps: waiting to be signed, being handled, closed, waiting for triage."""
        land, labour, finance, _energy = [self.workflows.start("problem_dispatch", dict(item), actor="dispatcher")
                                          for item in DEMO_ITEMS]
        self.step(labour["id"], "triage", {"triage_decision": "accept"}, "dispatcher")
        self.step(labour["id"], "dispatch", {"lead_department": "区人力社保局", "lead_due_working_days": 10,
                                             "co_handlers": [{"department": "正阳工业园区管委会", "due_working_days": 5}]},
                  "dispatcher")
        self.step(land["id"], "triage", {"triage_decision": "accept"}, "dispatcher")
        self.step(land["id"], "dispatch", {"lead_department": "区规划自然资源局", "lead_due_working_days": 15}, "dispatcher")
        self.step(land["id"], "sign", {"sign_decision": "sign"})
        handle = next(t for t in self.queries.tasks(instance_id=land["id"]) if t["task"] == "handle")
        with self.services.db.read() as session:  # waiting for the enterprise's papers: the clock stopped (挂起)
            resume_on = load_calendar(session).add_working_days(self.today, 5)
        self.services.pauses.pause(handle["id"], _liaison("区规划自然资源局"), "等待企业补充提供项目用地红线图",
                                   resume_on.isoformat())
        self.step(finance["id"], "triage", {"triage_decision": "accept"}, "dispatcher")
        self.step(finance["id"], "dispatch", {"lead_department": "区金融办", "lead_due_working_days": 7}, "dispatcher")
        self.step(finance["id"], "sign", {"sign_decision": "sign", "handler": "financial_affairs_office_handler"})
        self.step(finance["id"], "handle", {"handle_action": "answer", "answer": "已对接两家银行，授信600万元已审批。"},
                  "financial_affairs_office_handler")
        self.step(finance["id"], "head_review_slot", {"head_decision": "approve"}, "financial_affairs_office_head")
        self.step(finance["id"], "review", {"review_decision": "accept"}, "dispatcher")
        self.step(finance["id"], "rating", {"visit_reached": "reached", "visit_method": "电话",
                                            "visit_at": f"{self.today.isoformat()} 10:00", "visit_person": "企业负责人",
                                            "solved": "已解决", "satisfied": "满意"}, "officer")
        return len(DEMO_ITEMS)

    def dispatch_day(self, late: int) -> date:
        """The working day from which LATE_DAYS working days end ``late`` working days from today."""
        with self.services.db.read() as session:
            calendar = load_calendar(session)
        due = self.today
        while not calendar.is_workday(due):
            due += timedelta(days=1)
        for _ in range(abs(late)):
            due -= timedelta(days=1)
            while not calendar.is_workday(due):
                due -= timedelta(days=1)
        day = due - timedelta(days=1)
        while not (calendar.is_workday(day) and calendar.add_working_days(day, LATE_DAYS) == due):
            day -= timedelta(days=1)
        return day

    def late(self) -> int:
        """Items dispatched in the past and signed, whose answers are due today or late: the escalation
        ladder then fires by the present clock (预警, 催办, 督办 and its 督办 item)."""
        for item, lead, late in LATE_ITEMS:
            with self.at(self.dispatch_day(late)):
                started = self.workflows.start("problem_dispatch", dict(item), actor="dispatcher")
                self.step(started["id"], "triage", {"triage_decision": "accept"}, "dispatcher")
                self.step(started["id"], "dispatch", {"lead_department": lead, "lead_due_working_days": LATE_DAYS},
                          "dispatcher")
                self.step(started["id"], "sign", {"sign_decision": "sign"})
                self.late_items[lead] = started["id"]
        while self.services.escalations.fire_due(limit=50):
            pass
        return len(LATE_ITEMS)

    def listing(self) -> int:
        """The late 区商务委 item listed for supervision by the office (a yellow slip), the 组长's 批示 written,
        its 督办函 issued and the first 督办回复 due."""
        item = self.late_items.get("区商务委")
        if item is None:
            return 0
        with self.services.db.read() as session:
            deadline = load_calendar(session).add_working_days(self.today, 10)
        started = self.services.listings.start("office", item, {
            "listing_reason": "企业多次反映，已催办仍未答复", "slip_colour": "黄", "new_deadline": deadline.isoformat(),
            "ask_instruction": True})
        self.step(started["id"], "instruct", {"instruction": "请区商务委抓紧对接，按期办结并报告"}, "leader")
        return 1

    def circular(self) -> int:
        """Last month's circular, drafted, approved and published."""
        start, end = previous_month(self.today)
        started = self.workflows.start("evaluation_circular", {"period": None, "period_start": start.isoformat(),
                                                               "period_end": end.isoformat()}, actor="dispatcher")
        text = self.queries.show(started["id"])["data"]["circular_text"]
        self.step(started["id"], "draft", {"circular_text": text}, "dispatcher")
        for task in self.queries.tasks(instance_id=started["id"]):  # each member unit checks its row
            if task["task"] == "check_figures":
                self.workflows.complete(task["id"], {"check_result": "confirmed"}, _liaison(task["department"]))
        self.step(started["id"], "approve", {"circular_approved": True}, "office")
        return 1

    def admission(self) -> int:
        """An enterprise applying for the cultivation pool, reviewed and now in its public notice (公示)."""
        code = DEMO_USCC + check_digit(DEMO_USCC)
        year = self.today.year
        with self.services.db.read() as session:
            dispatcher = actor_for(session, "dispatcher")
        self.services.enterprises.save(dispatcher, {
            "name": "重庆黔江某商贸有限公司", "uscc": code, "registered_on": "2019-05-20", "in_district": "是",
            "independent_legal_person": True, "industry": "批发业", "employees": 180, "tier": "无",
            "service_officer": "officer", "sector": "批发经纪代理服务", "key_field": "无"}, years=[
            {"year": year - 3, "revenue": 18_000_000, "net_profit": 1_200_000},
            {"year": year - 2, "revenue": 21_000_000, "net_profit": 1_300_000},
            {"year": year - 1, "revenue": 26_000_000, "rd_expense": 780_000, "net_profit": 1_500_000,
             "total_assets": 40_000_000, "total_liabilities": 22_000_000}])
        load_registry(self.services, self.today)  # more registry records: the goals and the 科技型企业 page
        started = self.workflows.start("pool_admission", {"enterprise_uscc": code, "channel": "application"},
                                       actor="officer")
        self.step(started["id"], "industry_review", {"review_approved": True})
        self.step(started["id"], "commission_review", {"review_approved": True}, "dispatcher")
        return 1

    def measures(self) -> int:
        """Last quarter's reports: measure 2 reported by its units and assessed 推进中; measure 11 滞后, its
        follow-up open."""
        start, end = previous_quarter(self.today)
        period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        two = self.workflows.start("measure_supervision", {"measure_no": 2, **period}, actor="dispatcher")
        for task in self.queries.tasks(instance_id=two["id"]):
            if task["task"] == "contribute":
                self.step(two["id"], "contribute", {"contribution_text": f"{task['department']}：本季度完成平台建设任务"},
                          department=task["department"])
        self.step(two["id"], "consolidate", {"progress_report": "本季度新建孵化平台两个，运营良好。"})
        self.step(two["id"], "assess", {"assessment": "推进中", "assessment_comment": "按计划推进"}, "dispatcher")
        eleven = self.workflows.start("measure_supervision", {"measure_no": 11, **period}, actor="dispatcher")
        self.step(eleven["id"], "consolidate", {"progress_report": "银企对接活动尚未开展。"})
        self.step(eleven["id"], "assess", {"assessment": "滞后", "assessment_comment": "未按计划开展",
                                           "follow_up_working_days": 10}, "dispatcher")
        return 2


    def meeting(self) -> int:
        """This quarter's 联席会议, its agenda built from the items under supervision and the 滞后 measure,
        waiting for the dispatcher to prepare it."""
        label = f"{self.today.year}年第{(self.today.month - 1) // 3 + 1}季度"
        self.workflows.start("joint_meeting", {"meeting_label": label}, actor="dispatcher")
        return 1


def load_demo(services) -> int:
    """Load the demo unless the database already holds instances. Returns how many processes started."""
    with services.db.read() as session:
        if session.scalar(select(func.count(ProcessInstance.id))):
            return 0
        deployed = services.registry.deployed_keys(session)
    demo = _Demo(services)
    parts = [("problem_dispatch", demo.problems), ("problem_dispatch", demo.late), ("evaluation_circular", demo.circular),
             ("pool_admission", demo.admission), ("measure_supervision", demo.measures),
             ("listed_supervision", demo.listing), ("joint_meeting", demo.meeting)]
    return sum(part() for process, part in parts if process in deployed)  # what is deployed, of the demo
