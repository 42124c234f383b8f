"""Driving the problem-dispatch process through the service layer, as the users would."""
from __future__ import annotations

import json
from pathlib import Path

DEPARTMENTS = json.loads((Path(__file__).resolve().parents[1] / "engine" / "data" / "departments.json")
                         .read_text(encoding="utf-8"))
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

    def answer(self, department: str, text: str):
        return self.do("handle", {"handle_action": "answer", "answer": text}, liaison(department), department)

    def to_review(self, lead: str, co: dict[str, int] | None = None):
        self.accept()
        self.dispatch(lead, co=co)
        for department in [lead, *(co or {})]:
            self.sign(department)
        for department in [lead, *(co or {})]:
            self.answer(department, f"{department}已办理完毕")
