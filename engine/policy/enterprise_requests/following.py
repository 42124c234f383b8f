"""What an enterprise reads of its own problems in the portal: each item linked to it (the registry link,
indexed), newest first, with its status in plain words, the lead unit, the lead unit's deadline (Beijing
date) and the answer once the dispatcher's 审核通过 released it (the audit record ``answer_released``).

Only what is written here reaches the enterprise: never the workflow data, comments, heads' comments,
drafts, co-handlers' parts, staff names nor files staff attached (the enterprise sees the files it sent).
"""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines.calendar_store import calendar_of
from engine.errors import NotFound
from engine.policy.enterprise_requests.service import (
    PROCESS,
    RELEASED,
    SATISFIED,
    SOLVED,
    Requester,
    by_enterprise,
    own_item,
    rating_task,
)
from engine.runtime import items as attachments
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models import (
    Attachment,
    AuditRecord,
    Department,
    EnterpriseContact,
    HumanTask,
    ItemLink,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
)

LIST_LIMIT = 100
LEAD_STEPS = ("sign", "handle", "rework")
# item_status → (what the enterprise reads, what happens next)
PLAIN = {
    "待研判": ("已提交，等待受理", "区经济信息委将在 1 个工作日内研判是否受理，受理后交办承办单位。"),
    "待交办": ("已受理，正在交办", "区经济信息委正在确定承办单位和办理期限。"),
    "办理中": ("办理中", "承办单位正在办理，办结答复经区经济信息委审核后发布给您。"),
    "主办汇总": ("办理中", "承办单位正在办理，办结答复经区经济信息委审核后发布给您。"),
    "待审核": ("答复审核中", "承办单位已答复，区经济信息委审核通过后发布给您。"),
    "退办整改": ("办理中", "承办单位正在办理，办结答复经区经济信息委审核后发布给您。"),
    "重办": ("重新办理中", "根据您的评价，承办单位正在重新办理，新的答复审核后发布给您。"),
    "待回访评价": ("已答复，请评价", "请查看答复并评价：满意或基本满意即办结；不满意将重新办理。"),
    "已办结": ("已办结", "本事项已办结。如有新的问题，请重新提交诉求。"),
    "已办结（未回访）": ("已办结", "本事项已办结（回访期内未收到评价）。如有新的问题，请重新提交诉求。"),
    "不予受理": ("不予受理", "本事项未予受理。如有疑问，请联系您企业的服务专员。"),
    "已合并，随主件办理": ("合并办理中", "您的问题与同类问题合并办理，办结时一并告知您。"),
    "已随主件办结": ("已办结", "您的问题已随同类问题一并办结。"),
}
OTHER = ("办理中", "承办单位正在办理，办结答复经区经济信息委审核后发布给您。")


def plain(item_status: str | None, status: str) -> tuple[str, str]:
    if item_status in PLAIN:
        return PLAIN[item_status]
    return ("已办结", "本事项已办结。") if status == "completed" else OTHER


class EnterpriseItems:
    def __init__(self, db, tz: ZoneInfo, storage_dir: Path):
        self.db, self.tz, self.storage_dir = db, tz, storage_dir

    def sent_file(self, enterprise_id: int, attachment_id) -> tuple[str, str, bytes]:
        """A file the enterprise itself sent (with a problem or an application to the pool): name, type, bytes.
        NotFound for any other: another enterprise's, or one staff attached."""
        valid = isinstance(attachment_id, int) and not isinstance(attachment_id, bool) and \
            0 < attachment_id <= attachments.MAX_ID
        with self.db.read() as session:
            row = session.get(Attachment, attachment_id) if valid else None
            link = session.get(ItemLink, row.instance_id) if row is not None and row.user_id is None else None
            if row is None or link is None or link.enterprise_id != enterprise_id:
                raise NotFound(f"附件 {attachment_id} 不存在")
            return attachments.read_stored(self.storage_dir, row)

    def contact_line(self, who: Requester) -> str:
        """The signed-in contact as the submission form prefills 联系人及电话: name, mobile, email."""
        with self.db.read() as session:
            contact = session.get(EnterpriseContact, who.contact_id) if who.contact_id else None
            parts = [contact.name, contact.mobile, contact.email] if contact is not None else [who.contact_name]
            return " ".join(p for p in parts if p)[:100]

    def items(self, who: Requester) -> list[dict]:
        """The enterprise's items, newest first (at most LIST_LIMIT)."""
        with self.db.read() as session:
            rows = list(session.scalars(
                select(ProcessInstance).join(ItemLink, ItemLink.instance_id == ProcessInstance.id)
                .join(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
                .join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
                .where(ItemLink.enterprise_id == who.enterprise_id, ProcessDefinition.key == PROCESS)
                .order_by(ProcessInstance.id.desc()).limit(LIST_LIMIT)))
            leads = self._leads(session, [r.lead_department_id for r in rows])
            deadlines = self._deadlines(session, rows)
            return [self._summary(r, leads, deadlines) for r in rows]

    def item(self, who: Requester, instance_id: int) -> dict:
        """One of the enterprise's items as it may read it (InstanceNotFound for any other)."""
        with self.db.read() as session:
            instance = own_item(session, who, instance_id)
            leads = self._leads(session, [instance.lead_department_id])
            shown = self._summary(instance, leads, self._deadlines(session, [instance]))
            start = session.scalar(select(AuditRecord).where(
                AuditRecord.instance_id == instance.id, AuditRecord.action == "start").limit(1))
            registered = (start.data if start is not None else None) or {}
            released = list(session.scalars(select(AuditRecord).where(
                AuditRecord.instance_id == instance.id, AuditRecord.action == RELEASED).order_by(AuditRecord.id)))
            ratings = [a for a in session.scalars(select(AuditRecord).join(
                HumanTask, AuditRecord.task_id == HumanTask.id).where(
                AuditRecord.instance_id == instance.id, AuditRecord.action == "complete",
                HumanTask.stage == "rating").order_by(AuditRecord.id))]
            files = session.scalars(select(Attachment).where(  # the files it sent, never those staff attached
                Attachment.instance_id == instance.id, Attachment.user_id.is_(None))
                .order_by(Attachment.id))
            waiting = rating_task(session, instance.id) is not None and bool(released)
            if instance.item_status == "待回访评价" and not released:  # reviewed before answers were released
                shown.update(status="已答复", next="服务专员将与您联系，回访您对答复的评价。")
            return {**shown, "description": registered.get("description") or "",
                    "contact": registered.get("contact") or "",
                    "answers": [self._answer(a) for a in released],
                    "ratings": [self._rating(a) for a in ratings if (a.data or {}).get("visit_reached") == "reached"],
                    "files": [{"id": f.id, "filename": f.filename, "size": f.size} for f in files],
                    "may_rate": waiting, "solved_choices": list(SOLVED), "satisfied_choices": list(SATISFIED)}

    def _summary(self, instance: ProcessInstance, leads: dict, deadlines: dict) -> dict:
        words, next_step = plain(instance.item_status, instance.status)
        return {"id": instance.id, "business_key": instance.business_key, "category": instance.category or "",
                "title": instance.title or "", "status": words, "next": next_step,
                "submitted_at": f"{instance.started_at.astimezone(self.tz):%Y-%m-%d %H:%M}",
                "closed_on": f"{instance.completed_at.astimezone(self.tz):%Y-%m-%d}" if instance.completed_at else "",
                "lead_department": leads.get(instance.lead_department_id, ""),
                "deadline": deadlines.get(instance.id, "")}

    @staticmethod
    def _leads(session: Session, ids) -> dict[int, str]:
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        return dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(wanted))).all())

    def _deadlines(self, session: Session, rows: list[ProcessInstance]) -> dict[int, str]:
        """The lead unit's handling deadline per item (Beijing date) while it handles; none once it answered.
        Its open 办理 or 重办 step carries it; before the unit has signed (签收, due the next working day) it is
        the one the dispatch set: that many working days from the dispatch's day, as the diagram counts it."""
        leads = {r.id: r.lead_department_id for r in rows if r.lead_department_id is not None and r.status != "completed"}
        if not leads:
            return {}
        out: dict[int, str] = {}
        signing: list[int] = []
        for t in session.scalars(select(HumanTask).where(
                HumanTask.instance_id.in_(sorted(leads)), HumanTask.stage.in_(LEAD_STEPS),
                HumanTask.status.in_(OPEN_STATUSES), HumanTask.due_at.is_not(None)).order_by(HumanTask.id)):
            if t.department_id != leads[t.instance_id]:
                continue
            if t.stage == "sign":
                signing.append(t.instance_id)
            else:
                out[t.instance_id] = f"{t.due_at.astimezone(self.tz):%Y-%m-%d}"
        out.update(self._dispatched_deadlines(session, [i for i in signing if i not in out]))
        return out

    def _dispatched_deadlines(self, session: Session, instance_ids: list[int]) -> dict[int, str]:
        if not instance_ids:
            return {}
        latest: dict[int, AuditRecord] = {}
        for record in session.scalars(select(AuditRecord).join(HumanTask, AuditRecord.task_id == HumanTask.id).where(
                AuditRecord.instance_id.in_(sorted(instance_ids)), AuditRecord.action == "complete",
                HumanTask.stage == "dispatch").order_by(AuditRecord.id)):
            if "lead_due_working_days" in (record.data or {}):  # the last dispatch counts (a re-dispatch's)
                latest[record.instance_id] = record
        calendar = calendar_of(session)
        out = {}
        for instance_id, record in latest.items():
            days = (record.data or {}).get("lead_due_working_days")
            if isinstance(days, int) and not isinstance(days, bool) and 0 < days <= 366:
                out[instance_id] = calendar.add_working_days(record.at.astimezone(self.tz).date(), days).isoformat()
        return out

    def _answer(self, record: AuditRecord) -> dict:
        data = record.data or {}
        return {"at": f"{record.at.astimezone(self.tz):%Y-%m-%d %H:%M}", "text": data.get("answer") or "",
                "lead_department": data.get("lead_department") or ""}

    def _rating(self, record: AuditRecord) -> dict:
        data = record.data or {}
        return {"at": f"{record.at.astimezone(self.tz):%Y-%m-%d %H:%M}", "solved": data.get("solved") or "",
                "satisfied": data.get("satisfied") or "", "comment": data.get("rating_comment") or "",
                "by_enterprise": by_enterprise(record.actor)}
