"""`make bench` / `zjtx bench`: what the product costs as its work grows, against SpiffWorkflow itself.

Instances are generated in bulk by copying one real dispatch instance (state, task rows) with new
keys, so 100k instances take seconds, not hours. Every figure is a median and p95 of repeated runs.
"""
from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy import delete, insert, select

from engine.models import AuditRecord, HumanTask, ProcessInstance


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 3), "p95_ms": round(p95 * 1000, 3),
            "runs": len(ordered)}


def _timed(fn, repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return _stats(samples)


class Bench:
    def __init__(self, engine):
        self.engine = engine
        self.workflows = engine.workflows

    def _dispatched(self, lead="区科技局") -> dict:
        w = self.workflows
        item = w.start("problem_dispatch", {"enterprise_name": "基准测试企业", "category": "用地",
                                            "description": "基准测试用的企业问题", "source": "企业"}, actor="dispatcher")
        triage = item["open_tasks"][0]["id"]
        dispatch = w.complete(triage, {"triage_decision": "accept"}, "dispatcher")["instance"]["open_tasks"][0]["id"]
        return w.complete(dispatch, {"lead_department": lead, "lead_due_working_days": 5}, "dispatcher")["instance"]

    def populate(self, total: int, departments: list[int]) -> None:
        """Bring the number of waiting dispatch instances up to ``total`` by copying a real one."""
        template = self._dispatched()
        with self.engine.db.write() as session:
            have = session.query(ProcessInstance).count()
            source = session.get(ProcessInstance, template["id"])
            task = session.scalar(select(HumanTask).where(HumanTask.instance_id == source.id,
                                                          HumanTask.status == "to_sign"))
            future = self.workflows.clock() + timedelta(days=365)
            columns = {c: getattr(source, c) for c in ("version_id", "title", "subject", "category", "status",
                                                        "item_status", "state_json", "serializer_version",
                                                        "started_by", "started_at", "updated_at")}
            next_id = (session.query(ProcessInstance.id).order_by(ProcessInstance.id.desc()).first()[0]) + 1
            batch, tasks = [], []
            for offset in range(max(total - have, 0)):
                new_id = next_id + offset
                batch.append({**columns, "id": new_id, "business_key": f"BENCH-{uuid.uuid4().hex[:12]}",
                              "revision": 1, "next_timer_at": future})
                tasks.append({"instance_id": new_id, "kind": "bpmn", "spiff_task_id": str(uuid.uuid4()),
                              "bpmn_id": task.bpmn_id, "name": task.name, "stage": task.stage,
                              "department_id": departments[offset % len(departments)], "roles": task.roles,
                              "form": task.form, "status": "to_sign", "created_at": task.created_at,
                              "due_at": task.due_at, "deadline_confirmed": True, "escalation_level": 0,
                              "next_escalation_at": future})
                if len(batch) >= 5000:
                    session.execute(insert(ProcessInstance), batch)
                    session.execute(insert(HumanTask), tasks)
                    batch, tasks = [], []
            if batch:
                session.execute(insert(ProcessInstance), batch)
                session.execute(insert(HumanTask), tasks)

    def submit(self, repeat: int) -> dict:
        """P1: completing a sign task through the JSON API vs raw SpiffWorkflow on the same state."""
        from engine.accounts import issue_token
        from engine.org import get_user
        from engine.serialization import dump_state, load_state, serializer
        from web import create_app

        client = create_app(engine=self.engine).test_client()
        with self.engine.db.write() as session:
            token = issue_token(session, get_user(session, "science_tech_bureau_liaison").id, "bench")
        headers = {"Authorization": f"Bearer {token}"}
        tasks = [self._dispatched()["open_tasks"][0]["id"] for _ in range(repeat)]
        api = []
        for task_id in tasks:
            started = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"sign_decision": "sign"}, headers=headers)
            api.append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_json()
        instance = self._dispatched()
        with self.engine.db.read() as session:
            row = session.get(ProcessInstance, instance["id"])
            state, fmt, spec = row.state_json, row.serializer_version, row.version.spec_json
            spiff_id = session.scalar(select(HumanTask.spiff_task_id).where(HumanTask.instance_id == row.id,
                                                                            HumanTask.status == "to_sign"))
        # The library's own round trip: the instance as BpmnWorkflowSerializer writes it (spec included).
        full_json = serializer.serialize_json(load_state(state, fmt, spec, self.workflows.script_engine))

        def library() -> None:
            workflow = serializer.deserialize_json(full_json)
            workflow.script_engine = self.workflows.script_engine
            step(workflow)
            serializer.serialize_json(workflow)

        # The same with the spec stored apart (what this product stores), parsed afresh every time.
        def split() -> None:
            workflow = load_state(state, fmt, spec, self.workflows.script_engine)
            step(workflow)
            dump_state(workflow)

        def step(workflow) -> None:
            task = workflow.get_task_from_id(UUID(spiff_id))
            task.data.update({"sign_decision": "sign", "return_reason": None})
            task.run()
            workflow.do_engine_steps()

        return {"api": _stats(api), "raw": _timed(library, repeat), "raw_split": _timed(split, repeat)}

    def tick(self, repeat: int) -> dict:
        from engine.scheduler import Scheduler

        scheduler = Scheduler(self.engine)
        return _timed(scheduler.tick, repeat)

    def inbox(self, repeat: int) -> dict:
        from engine.authz import actor_for
        from engine.queries import InboxFilter

        with self.engine.db.read() as session:
            actor = actor_for(session, "science_tech_bureau_liaison")
        return _timed(lambda: self.engine.queries.inbox(actor, InboxFilter(tab="to_sign", category="用地", page=2)),
                      repeat)

    def bytes_per_instance(self) -> float:
        instance = self._dispatched()
        with self.engine.db.read() as session:
            row = session.get(ProcessInstance, instance["id"])
            size = len(row.state_json.encode())
            for t in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id)):
                size += sum(len(str(getattr(t, c) or "").encode()) for c in ("spiff_task_id", "bpmn_id", "name",
                                                                              "roles", "form", "deadline_key")) + 64
            for a in session.scalars(select(AuditRecord).where(AuditRecord.instance_id == row.id)):
                size += len(json.dumps(a.data or {}, ensure_ascii=False).encode()) + 48
        return size / 1024


def run(engine, sizes: list[int], repeat: int, output: Path) -> dict:
    bench = Bench(engine)
    with engine.db.read() as session:
        from engine.models import Department

        departments = [d.id for d in session.query(Department).order_by(Department.id)]
    results = {"sizes": {}, "database": engine.db.dialect}
    submit = bench.submit(repeat)
    for size in sizes:
        bench.populate(size, departments)
        results["sizes"][size] = {"tick": bench.tick(repeat), "inbox": bench.inbox(repeat)}
    first, last = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
    kib = bench.bytes_per_instance()
    rows = [
        ("P1", "提交一个任务（JSON API，含投影、审计） / 纯 SpiffWorkflow", submit["api"]["median_ms"] /
         max(submit["raw"]["median_ms"], 1e-6), "≤ 2.0×", lambda v: v <= 2.0,
         f"{submit['api']['median_ms']} ms / {submit['raw']['median_ms']} ms"),
        ("P2", f"调度器一次检查：{sizes[-1]} / {sizes[0]} 个等待中的实例",
         last["tick"]["median_ms"] / max(first["tick"]["median_ms"], 1e-6), "≤ 1.5×", lambda v: v <= 1.5,
         f"{last['tick']['median_ms']} ms / {first['tick']['median_ms']} ms"),
        ("P3", f"部门待办页（筛选+分页）：{sizes[-1]} / {sizes[0]} 个在办任务",
         last["inbox"]["median_ms"] / max(first["inbox"]["median_ms"], 1e-6), "≤ 1.5×", lambda v: v <= 1.5,
         f"{last['inbox']['median_ms']} ms / {first['inbox']['median_ms']} ms"),
        ("P5", "每个交办实例（办理中）占用存储", kib, "≤ 10 KB", lambda v: v <= 10, f"{kib:.1f} KiB"),
    ]
    results["table"] = [{"id": r[0], "figure": r[1], "value": round(r[2], 2), "target": r[3], "holds": r[4](r[2]),
                         "detail": r[5]} for r in rows]
    results["submit"] = submit
    output.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return results


def cleanup(engine) -> None:
    with engine.db.write() as session:
        ids = select(ProcessInstance.id).where(ProcessInstance.business_key.like("BENCH-%"))
        session.execute(delete(HumanTask).where(HumanTask.instance_id.in_(ids)))
        session.execute(delete(ProcessInstance).where(ProcessInstance.business_key.like("BENCH-%")))
