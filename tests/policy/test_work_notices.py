"""Everyone who has new work hears of it at once: each moment of problem_dispatch (and the circular's
approval, and a 督办), driven through the real process, tells exactly the people who can act on the new
task — not the one who acted, not other departments — what happened, what to do, by when, with a link
to the task built from the configured base URL."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from engine.identity.accounts import create_user
from engine.identity.org import get_user
from engine.scheduling.scheduler import Scheduler
from engine.storage.models import HumanTask, InboxMessage
from tests.helpers import REGISTRATION, Item, at, head, liaison, visit

BASE = "https://zjtx.example.gov.cn"
LEAD, CO, OTHER = "区科技局", "区人力社保局", "区财政局"
ENTERPRISE = REGISTRATION["enterprise_name"]


@pytest.fixture
def engine(database_url, make_engine, clock):
    """An engine whose links point at the deployment's address, at Wednesday 2026-11-04 10:00 Beijing."""
    services = make_engine(database_url, base_url=BASE + "/")
    yield services
    services.close()


def inbox(zjtx, username: str) -> list[InboxMessage]:
    with zjtx.db.read() as session:
        user = get_user(session, username)
        return list(session.scalars(select(InboxMessage).where(InboxMessage.user_id == user.id)
                                    .order_by(InboxMessage.id)))


def about(zjtx, task_id: int) -> dict[str, InboxMessage]:
    """The messages about one task, by the user name they went to."""
    from engine.storage.models import User

    with zjtx.db.read() as session:
        rows = session.execute(select(User.username, InboxMessage).join(User, User.id == InboxMessage.user_id)
                               .where(InboxMessage.key.like(f"task:{task_id}:%"))).all()
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), f"one message per user: {names}"
    return {name: message for name, message in rows}


def second_liaison(zjtx, department: str) -> str:
    with zjtx.db.write() as session:
        create_user(session, "second_liaison", f"{department}第二联络员", department, ["liaison"], "second-pass-2026",
                    email="second@zjtx.qianjiang.example")
    return "second_liaison"


def test_dispatching_tells_each_departments_liaisons_and_nobody_else(engine):
    item = Item(engine, actor="officer")
    [triage] = item.open_tasks()
    told = about(engine, triage["id"])
    assert set(told) == {"dispatcher"}  # the officer registered it: the dispatcher研判s
    assert told["dispatcher"].title == f"新登记问题：{ENTERPRISE}「用地问题」，请于 11月5日（周四）23:59 前研判"
    item.accept()
    assert about(engine, item.task("dispatch")["id"]) == {}  # the dispatcher carries on with it
    item.dispatch(LEAD, days=5, co={CO: 3})
    lead_sign, co_sign = item.task("sign", LEAD), item.task("sign", CO)
    lead_told, co_told = about(engine, lead_sign["id"]), about(engine, co_sign["id"])
    assert set(lead_told) == {liaison(LEAD)} and set(co_told) == {liaison(CO)}  # heads, OTHER, the dispatcher: no
    message = lead_told[liaison(LEAD)]
    assert message.title == f"新交办：{ENTERPRISE}「用地问题」，请于 11月5日（周四）23:59 前签收"
    assert message.link == f"/tasks/{lead_sign['id']}"  # the inbox links within the site (any host or port)
    assert f"去办理：/tasks/{lead_sign['id']}" in message.body  # (email and WeCom: the deployment's address)
    assert "环节：签收（主办）" in message.body and "办理期限：2026-11-05 23:59（周四）前（还有 1 个工作日）" in message.body
    assert "已交由区人力社保局协办" in co_told[liaison(CO)].body
    assert not inbox(engine, liaison(OTHER)) and not inbox(engine, head(LEAD))


def test_a_return_tells_the_dispatcher_with_the_reason(engine):
    item = Item(engine)
    item.accept()
    item.dispatch(OTHER)
    item.do("sign", {"sign_decision": "return", "return_reason": "不属于本单位职责"}, liaison(OTHER), OTHER)
    redispatch = item.task("redispatch")
    told = about(engine, redispatch["id"])
    assert set(told) == {"dispatcher"}
    assert told["dispatcher"].title == f"退回：{ENTERPRISE}「用地问题」，请于 11月5日（周四）23:59 前重新交办"
    assert "区财政局（区财政局联络员）退回了" in told["dispatcher"].body
    assert "退回理由：不属于本单位职责" in told["dispatcher"].body
    item.do("redispatch", {"new_department": LEAD, "new_due_working_days": 2}, "dispatcher")
    assert set(about(engine, item.task("sign", LEAD)["id"])) == {liaison(LEAD)}


def test_an_extension_request_goes_to_the_dispatcher_and_the_decision_to_the_liaison_who_asked(engine):
    other = second_liaison(engine, LEAD)
    item = Item(engine)
    item.accept()
    item.dispatch(LEAD, days=2)
    assert set(about(engine, item.task("sign", LEAD)["id"])) == {liaison(LEAD), other}
    item.sign(LEAD)
    item.do("handle", {"handle_action": "request_extension", "extension_reason": "需市级审批",
                       "extension_due_date": "2026-11-12"}, liaison(LEAD), LEAD)
    decide = item.task("decide_extension")
    told = about(engine, decide["id"])
    assert set(told) == {"dispatcher"} and told["dispatcher"].title.startswith(f"延期申请：{ENTERPRISE}")
    assert "申请延至：2026-11-12" in told["dispatcher"].body and "延期理由：需市级审批" in told["dispatcher"].body
    item.do("decide_extension", {"extension_approved": True, "extension_comment": "同意"}, "dispatcher")
    handle = item.task("handle", LEAD)
    told = about(engine, handle["id"])
    assert set(told) == {liaison(LEAD)}  # who asked, not the department's other liaison
    assert told[liaison(LEAD)].title == f"延期已批准：{ENTERPRISE}「用地问题」，请于 11月12日（周四）23:59 前办理答复"
    assert "审批意见：同意" in told[liaison(LEAD)].body and told[liaison(LEAD)].link == f"/tasks/{handle['id']}"


def test_a_refused_extension_says_so(engine):
    item = Item(engine)
    item.accept()
    item.dispatch(LEAD, days=2)
    item.sign(LEAD)
    item.do("handle", {"handle_action": "request_extension", "extension_reason": "需市级审批",
                       "extension_due_date": "2026-11-12"}, liaison(LEAD), LEAD)
    item.do("decide_extension", {"extension_approved": False, "extension_comment": "请按期办结"}, "dispatcher")
    [message] = about(engine, item.task("handle", LEAD)["id"]).values()
    assert message.title == f"延期未获批准：{ENTERPRISE}「用地问题」，请于 11月6日（周五）23:59 前办理答复"


def test_answers_go_to_the_dispatcher_and_a_send_back_to_the_lead_departments_liaisons(engine):
    other = second_liaison(engine, LEAD)
    item = Item(engine)
    item.to_review(LEAD, co={CO: 3})
    review = item.task("review")
    told = about(engine, review["id"])
    assert set(told) == {"dispatcher"}
    assert told["dispatcher"].title == f"答复待审核：{ENTERPRISE}「用地问题」，请于 11月6日（周五）23:59 前审核"
    item.do("review", {"review_decision": "send_back", "review_reason": "请补充时间表"}, "dispatcher")
    rework = item.task("rework")
    told = about(engine, rework["id"])
    assert set(told) == {liaison(LEAD), other}  # the lead department's liaisons; not the co-handler, not heads
    assert told[other].title == f"退办整改：{ENTERPRISE}「用地问题」，请于 11月11日（周三）23:59 前整改答复"
    assert "退办理由：请补充时间表" in told[other].body
    item.do("rework", {"rework_answer": "已补充时间表"}, other)
    sign_off = about(engine, item.task("head_review", LEAD)["id"])  # the lead's head signs the rework off
    assert set(sign_off) == {head(LEAD)} and sign_off[head(LEAD)].title.startswith("答复待负责人审核：")
    item.sign_off(LEAD)
    again = about(engine, item.task("review")["id"])
    assert set(again) == {"dispatcher"} and again["dispatcher"].title.startswith("整改答复待审核：")  # not a first answer
    assert "整改答复已经承办单位负责人审核同意报出" in again["dispatcher"].body


def test_an_accepted_answer_asks_for_the_follow_up_and_dissatisfaction_reopens_with_a_notice(engine):
    item = Item(engine)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    rating = item.task("rating")
    told = about(engine, rating["id"])
    assert set(told) == {"officer"}  # dispatcher or service officer, as the step says; the dispatcher acted
    assert told["officer"].title == f"待回访：{ENTERPRISE}「用地问题」，请于 11月11日（周三）23:59 前回访企业并评价"
    item.do("rating", visit("不满意", "未解决", "用地指标仍未落实"), "officer")
    [message] = about(engine, item.task("rework")["id"]).values()
    assert message.title.startswith("重办：") and "企业意见：用地指标仍未落实" in message.body


def test_a_user_with_two_of_the_steps_roles_gets_one_message_per_channel(engine):
    with engine.db.write() as session:
        create_user(session, "both", "交办员兼服务专员", "区经济信息委", ["dispatcher", "service_officer"],
                    "both-pass-2026", email="both@zjtx.qianjiang.example")
    item = Item(engine)
    item.to_review(LEAD)
    item.do("review", {"review_decision": "accept"}, "dispatcher")
    rating = item.task("rating")
    assert set(about(engine, rating["id"])) == {"officer", "both"}
    with engine.db.read() as session:
        keys = list(session.scalars(select(InboxMessage.key).where(InboxMessage.key.like(f"task:{rating['id']}:%"))))
    assert sorted(keys) == sorted(f"task:{rating['id']}:inbox:{user_id(engine, u)}" for u in ("officer", "both"))


def user_id(zjtx, username: str) -> int:
    with zjtx.db.read() as session:
        return get_user(session, username).id


def test_a_circular_to_approve_goes_to_the_leading_group_office(engine):
    started = engine.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                             "period_end": "2026-10-31"}, actor="dispatcher")
    [draft] = [t for t in engine.queries.tasks(instance_id=started["id"]) if t["task"] == "draft"]
    text = engine.queries.show(started["id"])["data"]["circular_text"]
    engine.workflows.complete(draft["id"], {"circular_text": text}, "dispatcher")
    [approve] = [t for t in engine.queries.tasks(instance_id=started["id"]) if t["task"] == "approve"]
    told = about(engine, approve["id"])
    assert set(told) == {"office"}
    assert told["office"].title.startswith("通报待审批：") and "请于 11月6日（周五）23:59 前审批" in told["office"].title
    assert "区经济信息委（区经济信息委交办员）已起草" in told["office"].body and told["office"].link == f"/tasks/{approve['id']}"


def test_a_failing_step_writes_no_message(engine):
    from notifications.channels.base import Channel

    class Broken(Channel):
        name, label = "broken", "坏的渠道"

        @classmethod
        def from_settings(cls, settings):
            return cls()

        def recipients(self, session, message, users, department_id):
            raise RuntimeError("the outbox cannot be written")

    item = Item(engine)
    item.accept()
    engine.notifier.channels.append(Broken())
    try:
        with pytest.raises(RuntimeError):
            item.dispatch(LEAD)
    finally:
        engine.notifier.channels.pop()
    assert [t["task"] for t in item.open_tasks()] == ["dispatch"]  # the step did not happen …
    with engine.db.read() as session:
        assert session.scalar(select(func.count(HumanTask.id)).where(HumanTask.bpmn_id == "sign")) == 0
    assert not inbox(engine, liaison(LEAD))  # … and no message tells of it
    item.dispatch(LEAD)
    assert len(inbox(engine, liaison(LEAD))) == 1


def test_a_supervised_task_sends_the_department_to_its_task_and_the_office_to_the_item(engine):
    item = Item(engine)
    item.accept()
    item.dispatch(LEAD, days=1)
    sign = item.task("sign", LEAD)
    with time_machine.travel(at("2026-11-11 10:00"), tick=False):  # 3 working days after its deadline
        Scheduler(engine).run_until_idle()
    with engine.db.read() as session:
        [supervision] = session.scalars(select(HumanTask).where(HumanTask.kind == "supervision")).all()
        supervision_id = supervision.id
    [supervised] = [m for m in inbox(engine, head(LEAD)) if m.title.startswith("【督办】")]
    assert supervised.link == f"/tasks/{sign['id']}" and f"/tasks/{sign['id']}" in supervised.body
    assert [m.link for m in inbox(engine, liaison(LEAD)) if m.title.startswith("【督办】")] == [supervised.link]
    [office] = [m for m in inbox(engine, "office") if m.title.startswith("【督办】")]
    assert office.link == f"/tasks/{supervision_id}"
    assert not [m for m in inbox(engine, "office") if m.key.startswith(f"task:{supervision_id}:")]  # told once


def test_the_liaison_is_emailed_the_new_task_with_its_link(database_url, make_engine, smtp, clock):
    zjtx = make_engine(database_url, base_url=BASE, smtp_host="127.0.0.1", smtp_port=smtp.port)
    try:
        item = Item(zjtx)
        item.accept()
        item.dispatch(LEAD)
        sign = item.task("sign", LEAD)
        clock.shift(timedelta(seconds=1))
        Scheduler(zjtx).run_until_idle()
    finally:
        zjtx.close()
    [mail] = [m for r, m in smtp.messages if f"{liaison(LEAD)}@zjtx.qianjiang.example" in r]
    assert mail["Subject"] == f"新交办：{ENTERPRISE}「用地问题」，请于 11月5日（周四）23:59 前签收"
    text = mail.get_content()
    assert f"去办理：{BASE}/tasks/{sign['id']}" in text and "办理期限：2026-11-05 23:59（周四）前" in text
    assert not smtp.subjects_to(f"{head(LEAD)}@zjtx.qianjiang.example")
