"""The services the pages call decide who may act on the server, whatever the page checked, and keep
the audit record in the transaction of the change."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied
from engine.identity.authz import Actor, actor_for
from engine.identity.org import DEMO_PASSWORD, DepartmentDirectory
from engine.storage.models import AuditRecord, DistrictCalendarDay, OutboxMessage
from tests.helpers import liaison

pytestmark = pytest.mark.sqlite_only
SCIENCE = "区科技局"


def as_user(zjtx, username: str) -> Actor:
    with zjtx.db.read() as session:
        return actor_for(session, username)


def audits(zjtx, action: str) -> list[tuple[str, dict]]:
    with zjtx.db.read() as session:
        return [(r.actor, r.data) for r in session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id))]


def test_administration_is_for_administrators_whatever_the_page_checked(zjtx):
    clerk = as_user(zjtx, liaison(SCIENCE))
    for call in (lambda: zjtx.identity.users(clerk),
                 lambda: zjtx.identity.save_user(clerk, {"username": "x"}, None),
                 lambda: zjtx.identity.save_department(clerk, {"name": "新部门", "aliases": [],
                                                               "leading_group_member": False}),
                 lambda: zjtx.calendars.set_day(clerk, date(2027, 1, 4), False, "停工"),
                 lambda: zjtx.calendars.import_notice(clerk, b"{}", "notice.json"),
                 lambda: zjtx.outbox.list(clerk),
                 lambda: zjtx.outbox.retry(clerk, 1),
                 lambda: zjtx.repository.deploy(clerk, {"x.bpmn": b"<x/>"}),
                 lambda: zjtx.repository.set_trusted(clerk, "problem_dispatch", 1, True)):
        with pytest.raises(PermissionDenied):
            call()
    with zjtx.db.read() as session:
        assert session.get(DistrictCalendarDay, {"district_id": 1, "day": date(2027, 1, 4)}) is None
    assert zjtx.repository.catalogue(as_user(zjtx, "designer"))["catalogue"]  # designers may use the designer


def test_changes_by_administrators_are_audited(zjtx):
    admin = as_user(zjtx, "admin")
    user_id = zjtx.identity.save_user(admin, {"username": "new_clerk", "display_name": "新联络员",
                                              "department": SCIENCE, "roles": ["liaison"],
                                              "password": "a-long-password", "email": ""})
    zjtx.identity.save_user(admin, {"display_name": "新联络员", "department": SCIENCE, "roles": ["liaison"],
                                    "active": False}, user_id)
    zjtx.calendars.set_day(admin, date(2027, 1, 4), False, "停工")
    assert [(a, d["user_id"], d["active"]) for a, d in audits(zjtx, "user_created") + audits(zjtx, "user_changed")] \
        == [("admin", user_id, True), ("admin", user_id, False)]
    assert "a-long-password" not in str(audits(zjtx, "user_created"))  # never the password itself
    assert audits(zjtx, "calendar_day_set") == [("admin", {"day": "2027-01-04", "workday": False, "name": "停工"})]


def test_a_clerk_changes_only_their_own_password_and_it_is_audited(zjtx):
    clerk = as_user(zjtx, liaison(SCIENCE))
    zjtx.identity.change_password(clerk, DEMO_PASSWORD, "another-password", "another-password")
    assert zjtx.identity.login(liaison(SCIENCE), "another-password", "127.0.0.1").user_id == clerk.user_id
    assert audits(zjtx, "password_changed") == [(liaison(SCIENCE), {"user_id": clerk.user_id})]


def test_a_dead_letter_requeued_by_hand_is_audited(zjtx):
    with zjtx.db.write() as session:
        message = OutboxMessage(key="k:email:1", channel="email", address="x@example.org", subject="测试通知",
                                body="正文", status="dead", attempts=6, next_attempt_at=zjtx.workflows.clock())
        session.add(message)
        session.flush()
        message_id = message.id
    admin = as_user(zjtx, "admin")
    assert zjtx.outbox.retry(admin, message_id) == {"requeued": True, "incident": None}
    assert zjtx.outbox.retry(admin, message_id) == {"requeued": False, "incident": None}  # no longer dead
    assert audits(zjtx, "message_retried") == [("admin", {"message_id": message_id})]
    assert [m["status"] for m in zjtx.outbox.list(admin)] == ["pending"]


def test_a_department_user_gets_their_own_departments_ledger_whatever_they_ask(zjtx):
    from engine.policy.ledger_service import LedgerService

    clerk = as_user(zjtx, liaison(SCIENCE))
    with zjtx.db.read() as session:
        directory = DepartmentDirectory.of(session)
        assert LedgerService._department(directory, clerk, "区财政局").name == SCIENCE
        assert LedgerService._department(directory, as_user(zjtx, "office"), "区财政局").name == "区财政局"
    title, content = zjtx.ledgers.workbook(clerk, "problems", department="区财政局")
    assert title == "问题台账" and content[:2] == b"PK"
