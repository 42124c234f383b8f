"""The escalation ladder as data (engine/deadlines/ladder.py): a fourth level is one entry, one
template and one colour, and works end to end; the figures count problem_dispatch's steps only."""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from jinja2 import ChoiceLoader, FileSystemLoader
from openpyxl import load_workbook
from sqlalchemy import select

from engine.config import PROCESSES_DIR
from engine.deadlines import ladder
from engine.deadlines.ladder import STANDARD, Colour, Ladder, Level, Moment
from engine.identity.org import DEMO_PASSWORD, get_user
from engine.policy.circulars.service import draft_text, table_columns
from engine.policy.dispatch.figures import compute, overdue_items
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import AuditRecord, Escalation, HumanTask, InboxMessage
from tests.helpers import Item, head, liaison

BJ = ZoneInfo("Asia/Shanghai")
LEAD = "区科技局"
PURPLE = Colour("紫", "#7b3fb5", "#f3ecfa")
# 约谈: two working days after 督办 (the task's supervise_after_working_days, plus 2), to the same people.
INTERVIEW = Level(4, "interview", "约谈", "已约谈", PURPLE, Moment("after", days_from="supervise_after", days=2),
                  ("handlers", "heads", "office"), "escalation_interview", "interviewed",
                  "期内对本单位启动的约谈次数")
# The level's notification template. It lives in the test's directory rather than among the shipped
# templates, so that the system ships no template for a level it does not have.
INTERVIEW_TEMPLATE = """【约谈】{{ title }}：{{ department }}「{{ task_name }}」逾期 {{ overdue_days }} 个工作日
{{ department }}负责人：

事项「{{ title }}」（编号 {{ business_key }}）的「{{ task_name }}」已于 {{ due_local }} 到期，
经督办仍未办结，领导小组办公室将约谈单位负责人。

地址：{{ link }}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


@pytest.fixture
def interview(zjtx, tmp_path, monkeypatch):
    """The standard ladder plus 约谈, with its template; the standard ladder is back afterwards."""
    (tmp_path / f"{INTERVIEW.template}.txt").write_text(INTERVIEW_TEMPLATE, encoding="utf-8")
    templates = zjtx.notifier.templates
    monkeypatch.setattr(templates, "loader", ChoiceLoader([templates.loader, FileSystemLoader(tmp_path)]))
    with ladder.installed(STANDARD.with_level(INTERVIEW)) as extended:
        yield extended
    assert ladder.current() is STANDARD


def dispatched_before_national_day(zjtx) -> tuple[Item, int]:
    """Handling due 2026-10-09 (3 working days from 09-29); 督办 at the end of 10-13, 约谈 at the end of 10-15."""
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=3)
    item.sign(LEAD)
    return item, item.task("handle", LEAD)["id"]


def fired(zjtx) -> list[tuple[int, str]]:
    with zjtx.db.read() as session:
        return [(e.level, e.fired_at.astimezone(BJ).strftime("%m-%d %H:%M"))
                for e in session.scalars(select(Escalation).order_by(Escalation.id))]


def inbox(zjtx, username: str) -> list[str]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage.title).where(InboxMessage.user_id == user.id)
                                    .order_by(InboxMessage.id)))


def logged_in(zjtx, username: str):
    from web import create_app

    client = create_app(services=zjtx, config={"TESTING": True}).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.sqlite_only  # the pages, like tests/web/test_web.py
def test_a_fourth_level_is_one_entry_and_works_end_to_end(zjtx, interview):
    scheduler = Scheduler(zjtx)
    with time_machine.travel(at("2026-09-29 10:00"), tick=False) as clock:
        item, handle_id = dispatched_before_national_day(zjtx)
        for moment in ("2026-10-08 09:30", "2026-10-10 01:00", "2026-10-14 01:00", "2026-10-15 23:59"):
            clock.move_to(at(moment))
            scheduler.run_until_idle()
        assert [level for level, _ in fired(zjtx)] == [1, 2, 3]
        for moment in ("2026-10-16 00:00:01", "2026-10-16 09:00", "2026-10-20 09:00", "2026-11-02 09:00"):
            clock.move_to(at(moment))
            for _ in range(3):
                scheduler.tick()
        assert fired(zjtx) == [(1, "10-08 09:30"), (2, "10-10 01:00"), (3, "10-14 01:00"), (4, "10-16 00:00")]
        with zjtx.db.read() as session:
            handle = session.get(HumanTask, handle_id)
            assert (handle.escalation_level, handle.next_escalation_at) == (4, None)
            actions = list(session.scalars(select(AuditRecord.action).where(AuditRecord.task_id == handle_id)))
            assert actions.count("escalation_4") == 1
        for user in (liaison(LEAD), head(LEAD), "office"):  # its audience, with its template, once each
            assert [t for t in inbox(zjtx, user) if t.startswith("【约谈】")] == [
                f"【约谈】{item.show()['title']}：{LEAD}「办理答复」逾期 6 个工作日"]

        # Its label and its colour on the pages: the task list, the task, the item's timeline.
        clock.move_to(at("2026-10-20 10:00"))
        page = logged_in(zjtx, liaison(LEAD)).get("/?tab=overdue").get_data(as_text=True)
        assert '<tr class="level-4 overdue">' in page and '<span class="level-badge">约谈</span>' in page
        assert "tr.level-4 { background: #f3ecfa; }" in page and "solid #7b3fb5" in page
        assert '<span class="level-4">紫：已约谈</span>' in page
        task_page = logged_in(zjtx, liaison(LEAD)).get(f"/tasks/{handle_id}").get_data(as_text=True)
        assert 'class="matter-due level-4 overdue"' in task_page and "<b>约谈</b>" in task_page
        assert re.search(r'<li class="escalation_4"><time>[^<]+</time> <b>[^<]+</b> 约谈 办理答复', task_page)
        assert "ol.timeline li.escalation_4 { border-color: #7b3fb5; }" in task_page

        # It counts in the figures, the dashboard, the circular and the ledger.
        with zjtx.db.read() as session:
            figures = compute(session, date(2026, 10, 1), date(2026, 10, 31), BJ)
            figures["overdue_items"] = overdue_items(session, date(2026, 10, 1), date(2026, 10, 31), BJ)
        [row] = [r for r in figures["table"] if r["department"] == LEAD]
        assert (row["warned"], row["urged"], row["supervised"], row["interviewed"]) == (1, 1, 1, 1)
        assert figures["definitions"][-1] == {"id": "interviewed", "label": "约谈", "definition": "期内对本单位启动的约谈次数"}
        figures["goals"] = []
        assert "预警 1 次、催办 1 次、督办 1 次、约谈 1 次。" in draft_text("通报", figures)
        assert table_columns(figures)[-4:] == ["warned", "urged", "supervised", "interviewed"]
        dispatcher = logged_in(zjtx, "dispatcher")
        dashboard = dispatcher.get("/dashboard/data.json").get_json()
        assert dashboard["levels"][-1] == {"number": 4, "label": "约谈", "colour": "#7b3fb5", "count": 1}
        assert "本月预警、催办、督办、约谈" in dispatcher.get("/dashboard").get_data(as_text=True)
        sheet = load_workbook(io.BytesIO(dispatcher.get("/ledgers/problems.xlsx").data)).active
        headers, values = (list(r) for r in sheet.iter_rows(values_only=True))
        first = headers.index("预警")  # the level columns, whatever columns follow them
        assert headers[first:first + 5] == ["预警", "催办", "督办", "约谈", "企业评价"]
        assert values[first:first + 4] == [1, 1, 1, 1]


def test_the_standard_ladder_and_its_checks():
    assert [(lv.number, lv.key, lv.label) for lv in STANDARD.levels] == [(1, "warn", "预警"), (2, "urge", "催办"),
                                                                          (3, "supervise", "督办")]
    assert STANDARD.supervision.label == "督办" and STANDARD.label(0) == "" and STANDARD.label(3) == "督办"
    assert STANDARD.action_labels() == {"escalation_1": "预警", "escalation_2": "催办", "escalation_3": "督办"}
    with pytest.raises(ValueError, match="share a number"):
        STANDARD.with_level(Level(3, "again", "再督办", "已再督办", PURPLE, Moment("after", days=9), ("office",),
                                  "escalation_again", "again", ""))
    with pytest.raises(ValueError, match="opens the 督办 item"):
        Ladder(STANDARD.levels[:2])
    with pytest.raises(ValueError, match="parameter"):
        Moment("after", days_from="interview_after")
    with pytest.raises(ValueError, match="colour"):
        Colour("紫", "purple", "#fff")


OTHER_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="member_report" name="成员单位报送" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>sign</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>handle</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>
    <bpmn:userTask id="sign" name="签收">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="sign.schema.json"/>
        <spiffworkflow:property name="roles" value="liaison,department_head"/>
        <spiffworkflow:property name="stage" value="sign"/>
        <spiffworkflow:property name="due_working_days" value="1"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="sign" targetRef="handle"/>
    <bpmn:userTask id="handle" name="办理答复">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="handle.schema.json"/>
        <spiffworkflow:property name="roles" value="liaison,department_head"/>
        <spiffworkflow:property name="stage" value="handle"/>
        <spiffworkflow:property name="due_working_days" value="2"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="handle" targetRef="e"/>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_another_process_with_a_sign_step_does_not_change_the_figures(zjtx):
    october = (date(2026, 10, 1), date(2026, 10, 31))

    def figures():
        with zjtx.db.read() as session:
            return compute(session, *october, BJ), overdue_items(session, *october, BJ)

    with time_machine.travel(at("2026-10-12 10:00"), tick=False) as clock:
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD, days=2)
        item.sign(LEAD)
        item.answer(LEAD, "已解决")
        late = Item(zjtx)  # never signed: overdue at the end of the month
        late.accept()
        late.dispatch(LEAD, days=2)
        before = figures()
        forms = {name: (PROCESSES_DIR / "forms" / name).read_bytes() for name in ("sign.schema.json",
                                                                                 "handle.schema.json")}
        with zjtx.db.write() as session:
            zjtx.registry.deploy(session, {"member_report.bpmn": OTHER_PROCESS.encode(), **forms})
        # The other process's 签收 (stage sign, element id sign), returned; its 办理答复 answered in time.
        returned = zjtx.workflows.start("member_report", {}, actor="admin")
        zjtx.workflows.complete(returned["open_tasks"][0]["id"],
                                {"sign_decision": "return", "return_reason": "不属本单位职责"}, liaison(LEAD))
        with zjtx.db.read() as session:
            [handle] = session.scalars(select(HumanTask.id).where(HumanTask.instance_id == returned["id"],
                                                                  HumanTask.stage == "handle"))
        zjtx.workflows.complete(handle, {"handle_action": "answer", "answer": "已报送"}, liaison(LEAD))
        zjtx.workflows.start("member_report", {}, actor="admin")  # left open: overdue by the month's end
        clock.move_to(at("2026-10-13 10:00"))
        with zjtx.db.read() as session:
            stages = sorted(session.scalars(select(HumanTask.stage).where(HumanTask.instance_id == returned["id"])))
        assert stages == ["handle", "sign"]
    with time_machine.travel(at("2026-11-02 10:00"), tick=False):
        after = figures()
    assert after == before
    [row] = [r for r in after[0]["table"] if r["department"] == LEAD]
    assert (row["received"], row["returns"], row["closed"], row["overdue_now"]) == (2, 0, 1, 1)


def test_the_migration_gives_rework_rows_of_earlier_diagrams_their_stage(zjtx):
    """Under the earlier diagram 整改答复 had stage handle; migration 0010 restages those rows."""
    from alembic import command

    from engine.storage import schema

    item = Item(zjtx)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "send_back", "review_reason": "请补充时间表"}, "dispatcher")
    rework_id = item.task("rework")["id"]
    with zjtx.db.write() as session:
        session.get(HumanTask, rework_id).stage = "handle"
    schema.downgrade(zjtx.db, "0010")  # the later migrations undone (as upgrades run them), then 0010 as if never run
    cfg = schema.alembic_config(zjtx.db.url.render_as_string(hide_password=False))
    with zjtx.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "0009")
    zjtx.init_db()
    with zjtx.db.read() as session:
        assert session.get(HumanTask, rework_id).stage == "rework"
        assert session.scalar(select(HumanTask.stage).where(HumanTask.bpmn_id == "handle")) == "handle"
