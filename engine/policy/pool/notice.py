"""The public notice (公示) of admissions to the cultivation pool, and objections anyone may file against one.

An admission is in its notice while its instance runs with item_status 公示中 (its 公示期满 timer pending, or
stopped while the office weighs a registered objection): the list reads pool_admission's running instances by
their indexed version and status columns, never every instance. What is shown is the notice itself — name, credit code,
industry and the last day — nothing else of the admission. An objection is kept against the admission and
区经济信息委 (the dispatchers) is told at once, in the same transaction; the dispatcher decides whether to
register it on the admission's 公示期异议登记 step, in one click from the item page (:meth:`PublicNotices.register`
writes its number, who raised it, when, and why), so a public form alone never stops a notice.
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity.authz import Actor
from engine.policy.pool.standing import NOTICE_STATUS, admission_versions, notice_end
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models import AuditRecord, Enterprise, HumanTask, ProcessInstance, User, UserRole
from engine.storage.models.pool_portal import NoticeObjection

LIMITS = {"name": (2, 100, "姓名或单位"), "contact": (5, 100, "联系方式"), "reason": (10, 2000, "异议理由")}
CONTACT = re.compile(r"^[0-9+\-() ]{5,30}$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LISTED = 200
REGISTERED = "〔公众异议第 {} 号〕"


def clean_objection(raw: dict) -> dict:
    out, errors = {}, {}
    for field, (least, most, label) in LIMITS.items():
        value = str(raw.get(field) or "").strip()
        if not value:
            errors[field] = f"「{label}」不能为空"
        elif len(value) < least:
            errors[field] = f"「{label}」至少 {least} 个字"
        elif len(value) > most:
            errors[field] = f"「{label}」不能超过 {most} 个字"
        elif field == "contact" and not CONTACT.match(value):
            errors[field] = "「联系方式」应为电话号码或电子邮箱"
        out[field] = value
    if errors:
        raise ValidationFailed(errors, "异议内容有误")
    return out


def _in_notice():
    """Admissions in their notice: its 公示期满 timer pending, or, while the office weighs an objection that
    was registered (the timer stopped), still listed as under check: the public sees the notice go on."""
    return select(ProcessInstance, Enterprise).join(Enterprise, Enterprise.uscc == ProcessInstance.subject).where(
        ProcessInstance.version_id.in_(admission_versions()), ProcessInstance.status == "running",
        ProcessInstance.item_status == NOTICE_STATUS)


def registered_text(o: NoticeObjection, tz) -> str:
    """What registering a public objection writes on 公示期异议登记: its number first (how the list below tells
    which were registered), who raised it and when, and the reason, as the office reads it."""
    return (f"{REGISTERED.format(o.id)}{o.name}（{o.contact}）于 {o.raised_at.astimezone(tz):%Y-%m-%d %H:%M} "
            f"提出：{o.reason}")[:2000]


class PublicNotices:
    def __init__(self, db, notifier, clock, tz, base_url: str, workflows=None):
        self.db, self.notifier, self.clock, self.tz, self.base_url = db, notifier, clock, tz, base_url.rstrip("/")
        self.workflows = workflows

    @staticmethod
    def _shown(instance: ProcessInstance, e: Enterprise, tz) -> dict:
        until = notice_end(instance, tz)
        return {"id": instance.id, "enterprise": e.name, "uscc": e.uscc, "industry": e.industry or "—",
                "notice_until": until, "under_check": until is None}

    def current(self) -> list[dict]:
        """The admissions in their public notice now, the one ending first at the top."""
        with self.db.read() as session:
            rows = session.execute(_in_notice().order_by(ProcessInstance.next_timer_at.is_(None),
                                                         ProcessInstance.next_timer_at, ProcessInstance.id)
                                   .limit(MAX_LISTED))
            return [self._shown(i, e, self.tz) for i, e in rows]

    def one(self, instance_id: int) -> dict:
        """One admission in its notice; anything else (another process, a finished one) is NotFound."""
        with self.db.read() as session:
            return self._shown(*self._find(session, instance_id), self.tz)

    @staticmethod
    def _find(session: Session, instance_id: int) -> tuple[ProcessInstance, Enterprise]:
        row = session.execute(_in_notice().where(ProcessInstance.id == instance_id)).first() \
            if 0 < instance_id < 2**63 else None
        if row is None:
            raise NotFound(f"公示 {instance_id} 不存在或公示期已结束")
        return row[0], row[1]

    def object(self, instance_id: int, raw: dict, address: str | None = None) -> int:
        """Record an objection against an admission in its notice and tell the dispatchers at once."""
        data = clean_objection(raw if isinstance(raw, dict) else {})
        now = self.clock()
        with self.db.write() as session:
            instance, e = self._find(session, instance_id)
            row = NoticeObjection(instance_id=instance.id, name=data["name"], contact=data["contact"],
                                  reason=data["reason"], address=(address or "")[:64] or None, raised_at=now)
            session.add(row)
            session.flush()
            session.add(AuditRecord(instance_id=instance.id, action="public_objection", actor="公众", at=now,
                                    data={"objection": row.id, "name": row.name}))
            self._tell_dispatchers(session, instance, e, row, now)
            return row.id

    def _tell_dispatchers(self, session: Session, instance: ProcessInstance, e: Enterprise, row: NoticeObjection,
                          now: datetime) -> None:
        from notifications.outbox import Notice

        dispatchers = list(session.scalars(select(User).join(UserRole).where(
            UserRole.role == "dispatcher", User.active.is_(True)).order_by(User.id)).unique())
        notice = Notice(key=f"notice_objection:{row.id}", template="notice_objection",
                        context={"enterprise": e.name, "uscc": e.uscc, "business_key": instance.business_key,
                                 "name": row.name, "contact": row.contact, "reason": row.reason},
                        link=f"{self.base_url}/items/{instance.id}",
                        data={"event": "notice_objection", "business_key": instance.business_key})
        self.notifier.notify(session, notice, dispatchers, None, now)

    def objections(self, actor: Actor, instance_id: int) -> list[dict]:
        """The public's objections to an admission, for the central roles on its item page (else none): each
        says whether it was registered on 公示期异议登记, and whether it may be now (the step is open)."""
        if not actor.sees_all:
            return []
        with self.db.read() as session:
            texts = [str((a.data or {}).get("objection") or "") for a in session.scalars(
                select(AuditRecord).join(HumanTask, AuditRecord.task_id == HumanTask.id).where(
                    AuditRecord.instance_id == instance_id, AuditRecord.action == "complete",
                    HumanTask.bpmn_id == NOTICE_STEP))]
            open_step = _notice_step(session, instance_id) is not None
            out = []
            for o in session.scalars(select(NoticeObjection).where(NoticeObjection.instance_id == instance_id)
                                     .order_by(NoticeObjection.id)):
                registered = any(t.startswith(REGISTERED.format(o.id)) for t in texts)
                out.append({"id": o.id, "name": o.name, "contact": o.contact, "reason": o.reason,
                            "raised_at": o.raised_at, "registered": registered,
                            "may_register": open_step and not registered})
            return out

    def register(self, actor: Actor, instance_id: int, objection_id: int) -> dict:
        """Register a public objection on the admission's open 公示期异议登记 step (the dispatcher's): the
        notice stops and the office weighs it. Conflict when the step is not open (the notice ended, or another
        objection is being weighed) or it was registered already."""
        with self.db.read() as session:
            row = session.get(NoticeObjection, objection_id) if 0 < objection_id < 2**63 else None
            if row is None or row.instance_id != instance_id:
                raise NotFound(f"异议 {objection_id} 不存在")
            text = registered_text(row, self.tz)
            task = _notice_step(session, instance_id)
        if any(o["id"] == objection_id and o["registered"] for o in self.objections(actor, instance_id)):
            raise Conflict(f"公众异议第 {objection_id} 号已登记")
        if task is None:
            raise Conflict("该入库申请当前不在公示期异议登记环节（公示已结束，或已登记的异议正在处理），不能登记")
        self.workflows.complete(task, {"objection": text}, actor)
        return {"id": objection_id, "text": text}


NOTICE_STEP = "public_notice"  # pool_admission's 公示期异议登记


def _notice_step(session: Session, instance_id: int) -> int | None:
    """The admission's open 公示期异议登记 task, if its notice runs."""
    return session.scalar(select(HumanTask.id).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == NOTICE_STEP,
        HumanTask.status.in_(OPEN_STATUSES)).limit(1))
