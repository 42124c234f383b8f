"""Before the office approves a circular, each member unit in its table checks its own row within a window
(default 2 working days): it confirms, or contests figures of its own row; 区经济信息委 resolves each objection
(accepted with the corrected value in the published circular, text and Word document; or refused with a
reason, the unit told); a unit that lets the window pass is taken as having confirmed. After publishing, each
unit named submits a rectification report the office reviews: sent back with a comment and a new deadline, or
closed (已整改，销号)."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from docx import Document
from sqlalchemy import select

from engine.errors import Conflict, TaskNotFound, ValidationFailed
from engine.identity.org import get_user
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import AuditRecord, Circular, CircularObjection, Escalation, HumanTask, InboxMessage
from tests.helpers import OCTOBER_CO, OCTOBER_LEAD, OCTOBER_WRONG, crafted_october, liaison

BJ = ZoneInfo("Asia/Shanghai")
LEAD, CO, WRONG = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def tasks(zjtx, step):
    return [t for t in zjtx.queries.tasks() if t["task"] == step]


def data(zjtx, instance_id):
    return zjtx.queries.show(instance_id)["data"]  # read back from the stored state each time


def inbox(zjtx, username):
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)))


def drafted(zjtx) -> int:
    """October's circular started and its draft finished on 2026-11-06 (a Friday): the window opens."""
    crafted_october(zjtx)
    with time_machine.travel(at("2026-11-06 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        [draft] = tasks(zjtx, "draft")
        zjtx.workflows.complete(draft["id"], {"circular_text": data(zjtx, started["id"])["circular_text"]},
                                "dispatcher")
    return started["id"]


def check_task(zjtx, department):
    return next(t for t in tasks(zjtx, "check_figures") if t["department"] == department)


def test_a_contested_figure_is_corrected_before_approval_and_published_with_the_note(zjtx):
    instance_id = drafted(zjtx)
    assert {t["department"] for t in tasks(zjtx, "check_figures")} == {LEAD, CO, WRONG}
    assert tasks(zjtx, "approve") == []  # the office waits for the window
    with time_machine.travel(at("2026-11-09 09:30"), tick=False):
        # A unit checks its own row only: another unit's task is not its to answer.
        with pytest.raises(TaskNotFound):
            zjtx.workflows.complete(check_task(zjtx, LEAD)["id"], {"check_result": "objected", "objections": [
                {"figure": "on_time_rate", "claimed": 50, "reason": "区科技局的数据也应核减"}]}, liaison(CO))
        # A figure that is no figure of the table, and a value equal to the circular's, are refused by field.
        with pytest.raises(ValidationFailed) as bad:
            zjtx.workflows.complete(check_task(zjtx, CO)["id"], {"check_result": "objected", "objections": [
                {"figure": "rank", "claimed": 1, "reason": "名次有误"}]}, liaison(CO))
        assert "objections[0].figure" in bad.value.errors
        with pytest.raises(ValidationFailed) as same:
            zjtx.workflows.complete(check_task(zjtx, CO)["id"], {"check_result": "objected", "objections": [
                {"figure": "overdue_now", "claimed": 1, "reason": "与通报一致"}]}, liaison(CO))
        assert "与通报中的数值（1）相同" in same.value.errors["objections[0].claimed"]
        zjtx.workflows.complete(check_task(zjtx, CO)["id"], {"check_result": "objected", "objections": [
            {"figure": "on_time_rate", "claimed": 100, "reason": "ZJTX-2026-00004 已于期限内书面答复，系统漏记"}]},
            liaison(CO))
        zjtx.workflows.complete(check_task(zjtx, LEAD)["id"], {"check_result": "objected", "objections": [
            {"figure": "first_time_rate", "claimed": 100, "reason": "退办系企业补充材料所致"}]}, liaison(LEAD))
        assert tasks(zjtx, "resolve_objections") == []  # 区商务委 has not answered yet
        zjtx.workflows.complete(check_task(zjtx, WRONG)["id"], {"check_result": "confirmed"}, liaison(WRONG))
    [resolve] = tasks(zjtx, "resolve_objections")
    prepared = data(zjtx, instance_id)
    by_unit = {o["department"]: o for o in prepared["open_objections"]}
    assert (by_unit[CO]["computed"], by_unit[CO]["claimed"]) == ("0.0%", "100.0%")
    assert [r["objection_id"] for r in prepared["resolutions"]] == [by_unit[CO]["id"], by_unit[LEAD]["id"]]
    with time_machine.travel(at("2026-11-10 10:00"), tick=False):
        with pytest.raises(ValidationFailed) as no_reason:  # a refusal needs its reason
            zjtx.workflows.complete(resolve["id"], {"resolutions": [
                {"objection_id": by_unit[CO]["id"], "decision": "accepted", "note": "经核实，按期答复"},
                {"objection_id": by_unit[LEAD]["id"], "decision": "refused"}]}, "dispatcher")
        assert "resolutions[1].note" in no_reason.value.errors
        with pytest.raises(ValidationFailed) as missing:  # every objection is resolved
            zjtx.workflows.complete(resolve["id"], {"resolutions": [
                {"objection_id": by_unit[CO]["id"], "decision": "accepted"}]}, "dispatcher")
        assert "还有异议未处理" in missing.value.errors["resolutions"]
        zjtx.workflows.complete(resolve["id"], {"resolutions": [
            {"objection_id": by_unit[CO]["id"], "decision": "accepted", "note": "经核实，按期答复"},
            {"objection_id": by_unit[LEAD]["id"], "decision": "refused", "note": "退办系答复不完整，不属补充材料"}]},
            "dispatcher")
    # Each unit is told of its objection's resolution.
    assert any(t.startswith("【通报数据异议】已采纳") for t in inbox(zjtx, liaison(CO)))
    assert any(t.startswith("【通报数据异议】未采纳") for t in inbox(zjtx, liaison(LEAD)))
    with zjtx.db.read() as session:
        rows = {o.department_id: o for o in session.scalars(select(CircularObjection))}
        audited = [a.data for a in session.scalars(select(AuditRecord).where(AuditRecord.action == "objection_resolved"))]
    assert sorted((o.status, o.corrected, o.resolution_note) for o in rows.values()) == [
        ("accepted", 100.0, "经核实，按期答复"), ("refused", None, "退办系答复不完整，不属补充材料")]
    assert {a["decision"] for a in audited} == {"accepted", "refused"}
    # The office's approval: refused while an objection is open (one raised by another path), then granted.
    [approve] = tasks(zjtx, "approve")
    assert "经核对更正" in data(zjtx, instance_id)["circular_text"]  # the draft the office reads
    circular_id = data(zjtx, instance_id)["circular_id"]
    with zjtx.db.write() as session:
        stray = CircularObjection(circular_id=circular_id, department_id=next(iter(rows.values())).department_id,
                                  figure="returns", figure_label="退回", computed=0, claimed=1, reason="补报",
                                  status="open", raised_by=liaison(LEAD), raised_at=at("2026-11-10 11:00"))
        session.add(stray)
    with time_machine.travel(at("2026-11-10 14:00"), tick=False):
        with pytest.raises(ValidationFailed) as refused:
            zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
        assert "尚有成员单位对通报数据的异议未处理" in refused.value.errors["circular_approved"]
        with zjtx.db.write() as session, pytest.raises(Conflict):
            zjtx.circulars.publish_in(session, circular_id, "office")
        with zjtx.db.write() as session:
            session.delete(session.get(CircularObjection, stray.id))
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
    with zjtx.db.read() as session:
        circular = session.get(Circular, circular_id)
    assert circular.status == "published"
    row = next(r for r in circular.figures["table"] if r["department"] == CO)
    assert row["on_time_rate"] == 100.0
    assert circular.figures["corrections"][0] | {"objection_id": 0} == {
        "department": CO, "figure": "on_time_rate", "label": "按期办结率", "computed": 0.0, "corrected": 100.0,
        "note": "经核实，按期答复", "objection_id": 0}
    note = "1. 区财政局「按期办结率」：系统统计为 0.0%，经核对更正为 100.0%（经核实，按期答复）。"
    assert "经核对更正：\n" + note in circular.text
    assert "按期办结率 100.0%" in circular.text.split("二、")[1].split(CO)[1].split("\n")[0]  # regenerated line
    document = Document(io.BytesIO(zjtx.circulars.docx(circular)))
    assert note in [p.text for p in document.paragraphs]
    header = [c.text for c in document.tables[0].rows[0].cells]
    co_row = next([c.text for c in r.cells] for r in document.tables[0].rows if r.cells[1].text == CO)
    assert co_row[header.index("按期办结率")] == "100.0%（更正）"
    assert [(o["department"], o["status_label"]) for o in zjtx.circulars.objections(circular_id)] == [
        (CO, "已采纳，经核对更正"), (LEAD, "未采纳")]


def test_a_unit_that_lets_the_window_pass_is_taken_as_having_confirmed(zjtx):
    instance_id = drafted(zjtx)
    [task] = [t for t in tasks(zjtx, "check_figures") if t["department"] == WRONG]
    assert task["due_at"] == "2026-11-10T15:59:59+00:00"  # 2 working days after Friday 11-06, end of day (Beijing)
    with time_machine.travel(at("2026-11-09 10:00"), tick=False) as clock:
        zjtx.workflows.complete(check_task(zjtx, LEAD)["id"], {"check_result": "confirmed"}, liaison(LEAD))
        zjtx.workflows.complete(check_task(zjtx, CO)["id"], {"check_result": "objected", "objections": [
            {"figure": "urged", "claimed": 0, "reason": "催办系系统误发"}]}, liaison(CO))
        Scheduler(zjtx).run_until_idle()
        assert [t["department"] for t in tasks(zjtx, "check_figures")] == [WRONG]  # the window is still open
        clock.move_to(at("2026-11-10 23:59:30"))  # the window closes a minute before the deadline's 催办
        Scheduler(zjtx).run_until_idle()
        clock.move_to(at("2026-11-11 00:00:05"))
        Scheduler(zjtx).run_until_idle()
    assert tasks(zjtx, "check_figures") == []
    with zjtx.db.read() as session:
        levels = session.scalars(select(Escalation.level).join(HumanTask, Escalation.task_id == HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.bpmn_id == "check_figures")).all()
    assert levels == [1]  # 区商务委's 预警 at 09:00 the day before; no 催办 for a window that lapsed
    with zjtx.db.read() as session:
        lapsed = [a.data for a in session.scalars(select(AuditRecord).where(
            AuditRecord.instance_id == instance_id, AuditRecord.action == "circular_check_lapsed"))]
        open_rows = list(session.scalars(select(CircularObjection).where(CircularObjection.status == "open")))
    assert lapsed == [{"department": WRONG, "note": "逾期未核对，视为无异议"}]
    assert [(o.figure, o.claimed) for o in open_rows] == [("urged", 0.0)]
    assert len(tasks(zjtx, "resolve_objections")) == 1  # CO's objection still goes to 区经济信息委
    assert data(zjtx, instance_id)["item_status"] == "待处理数据异议"
    assert any(t.startswith("通报数据异议：2026-10-01 至 2026-10-31 的通报") for t in inbox(zjtx, "dispatcher"))


def published_with_co_named(zjtx) -> int:
    """October's circular with every unit confirming, approved on 2026-11-09: 区财政局 is named (督办)."""
    instance_id = drafted(zjtx)
    with time_machine.travel(at("2026-11-09 10:00"), tick=False):
        for unit in (LEAD, CO, WRONG):
            zjtx.workflows.complete(check_task(zjtx, unit)["id"], {"check_result": "confirmed"}, liaison(unit))
        [approve] = tasks(zjtx, "approve")  # no objection: straight to the office
        assert any(t.startswith("通报待审批：") for t in inbox(zjtx, "office"))
        with zjtx.db.read() as session:
            body = session.scalar(select(InboxMessage.body).where(InboxMessage.title.startswith("通报待审批：")))
        assert "已经成员单位核对，无数据异议" in body
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
    return instance_id


def test_a_rectification_report_sent_back_once_and_then_closed_by_the_office(zjtx):
    instance_id = published_with_co_named(zjtx)
    [rectify] = tasks(zjtx, "rectify")
    assert (rectify["department"], rectify["due_at"]) == (CO, "2026-11-23T15:59:59+00:00")  # 10 working days
    with zjtx.db.read() as session:
        row = session.get(HumanTask, rectify["id"])
        assert (row.warn_before_days, row.supervise_after_days) == (2, 3) and row.next_escalation_at is not None
    with time_machine.travel(at("2026-11-12 10:00"), tick=False):
        zjtx.workflows.complete(rectify["id"], {"rectification_report": "已对逾期事项逐项核查并约谈承办人，建立周调度机制。"},
                                liaison(CO))
        [review] = tasks(zjtx, "review_rectification")
        assert any(t.startswith("整改报告待审核：") for t in inbox(zjtx, "office"))
        with pytest.raises(ValidationFailed) as bare:
            zjtx.workflows.complete(review["id"], {"rectification_closed": False}, "office")
        assert {"rectification_comment", "revise_working_days"} <= set(bare.value.errors)
        zjtx.workflows.complete(review["id"], {"rectification_closed": False, "rectification_comment": "请补充整改时限和责任人",
                                               "revise_working_days": 5}, "office")
    [again] = tasks(zjtx, "rectify")
    assert (again["department"], again["due_at"]) == (CO, "2026-11-19T15:59:59+00:00")  # 5 working days from 11-12
    assert any(t.startswith("整改报告退回：") for t in inbox(zjtx, liaison(CO)))
    assert data(zjtx, instance_id)["rectification_comment"] == "请补充整改时限和责任人"
    with time_machine.travel(at("2026-11-16 10:00"), tick=False):
        zjtx.workflows.complete(again["id"], {"rectification_report": "补充：责任人为分管副局长，12 月底前办结全部逾期事项。"},
                                liaison(CO))
        [review] = tasks(zjtx, "review_rectification")
        zjtx.workflows.complete(review["id"], {"rectification_closed": True, "rectification_comment": "已整改，销号"},
                                "office")
    shown = zjtx.queries.show(instance_id)
    assert shown["status"] == "completed" and tasks(zjtx, "rectify") == []
    assert shown["data"]["rectifications"] == [{"department": CO, "closed": True, "rounds": 2}]


def test_an_instance_of_the_version_before_the_window_still_finishes(zjtx):
    """Running instances keep their version (moving them is an administrator's choice, engine.repository.
    migration): one started on the diagram before the window, with its one-step 整改, finishes after the new
    version is deployed, with the same operations."""
    from pathlib import Path

    from tests.helpers import deploy

    before = (Path(__file__).parent / "data" / "evaluation_circular_before_objections.bpmn").read_text(encoding="utf-8")
    current = (zjtx.settings.processes_dir / "evaluation_circular.bpmn").read_text(encoding="utf-8")
    crafted_october(zjtx)
    deploy(zjtx, {"evaluation_circular.bpmn": before}, trusted=True)
    with time_machine.travel(at("2026-11-06 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        old_version = zjtx.queries.show(started["id"])["version"]
        deploy(zjtx, {"evaluation_circular.bpmn": current}, trusted=True)  # the window's version, now the newest
        [draft] = tasks(zjtx, "draft")
        zjtx.workflows.complete(draft["id"], {"circular_text": data(zjtx, started["id"])["circular_text"]},
                                "dispatcher")
        assert tasks(zjtx, "check_figures") == []  # no window for it: straight to the office, as before
        [approve] = tasks(zjtx, "approve")
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
        [rectify] = tasks(zjtx, "rectify")
        zjtx.workflows.complete(rectify["id"], {"rectification_report": "已逐项整改逾期事项，建立周调度机制。"}, liaison(CO))
    shown = zjtx.queries.show(started["id"])
    assert shown["status"] == "completed" and old_version and shown["version"] == old_version


def test_a_corrected_count_moves_the_rate_the_ranking_and_who_is_named(zjtx):
    """区财政局 (rank 2, named for its one 督办) shows the 督办 was sent in error and its late answer on time;
    区科技局 reports one more closed task, late. Accepted: 区科技局's on-time rate follows its corrected count,
    区财政局 ranks first and is no longer named, so no rectification report is asked of it."""
    instance_id = drafted(zjtx)
    with time_machine.travel(at("2026-11-09 09:30"), tick=False):
        zjtx.workflows.complete(check_task(zjtx, CO)["id"], {"check_result": "objected", "objections": [
            {"figure": "supervised", "claimed": 0, "reason": "督办系交办单位误发，已撤回"},
            {"figure": "on_time_rate", "claimed": 100, "reason": "ZJTX-2026-00003 已于期限内书面答复"}]}, liaison(CO))
        zjtx.workflows.complete(check_task(zjtx, LEAD)["id"], {"check_result": "objected", "objections": [
            {"figure": "closed", "claimed": 3, "reason": "另有一件线下交办事项已逾期办结，应计入"}]}, liaison(LEAD))
        zjtx.workflows.complete(check_task(zjtx, WRONG)["id"], {"check_result": "confirmed"}, liaison(WRONG))
    [resolve] = tasks(zjtx, "resolve_objections")
    ids = [r["objection_id"] for r in data(zjtx, instance_id)["resolutions"]]
    with time_machine.travel(at("2026-11-10 10:00"), tick=False):
        zjtx.workflows.complete(resolve["id"], {"resolutions": [
            {"objection_id": i, "decision": "accepted", "note": "经核实"} for i in ids]}, "dispatcher")
        zjtx.workflows.complete(tasks(zjtx, "approve")[0]["id"], {"circular_approved": True}, "office")
    with zjtx.db.read() as session:
        circular = session.get(Circular, data(zjtx, instance_id)["circular_id"])
    rows = {r["department"]: r for r in circular.figures["table"]}
    assert (rows[CO]["supervised"], rows[CO]["on_time_rate"], rows[CO]["rank"]) == (0, 100.0, 1)
    assert (rows[LEAD]["closed"], rows[LEAD]["closed_on_time"], rows[LEAD]["on_time_rate"]) == (3, 2, 66.7)
    assert [r["department"] for r in circular.figures["table"]] == [CO, LEAD, WRONG]
    assert circular.figures["named_for_criticism"] == [] and "予以通报批评" not in circular.text
    assert tasks(zjtx, "rectify") == []
