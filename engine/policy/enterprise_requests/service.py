"""What an enterprise does with its own problems (诉求) in the enterprise portal: submit one, and rate the answer
the dispatcher released to it.

A submission is a problem_dispatch item registered through intake (engine.policy.dispatch.intake) with the
source 企业自主提交, linked to the signed-in enterprise's registry record, its files stored as the item's
attachments (engine.runtime.items' checks and storage), in the one transaction that starts it; the dispatcher
is told of the 研判 task at once, as for every item. The rating completes the item's 回访评价 task on the
enterprise's behalf (visit_method 企业自评, rated_by enterprise), so 不满意 reopens the item exactly as the
service officer's 回访 does. The enterprise acts as ``enterprise:<registry id>``, a name no staff account can
have (user names are letters, digits and underscores): the figures tell its ratings apart by it.

The files it sends are the item's attachments naming the contact who sent them and no staff account
(engine.runtime.items.store with ``contact_id``): that is how the portal tells them from staff files.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, InstanceNotFound, ValidationFailed
from engine.identity.authz import Actor
from engine.runtime import items as attachments
from engine.runtime.projection import OPEN_STATUSES
from engine.storage.models import AuditRecord, Enterprise, HumanTask, ItemLink, ProcessInstance

PROCESS = "problem_dispatch"
SOURCE = "企业自主提交"
ACTOR_PREFIX = "enterprise:"
METHOD = "企业自评"
RATED_BY = "enterprise"
MAX_FILES = 5
SOLVED = ("已解决", "部分解决", "未解决")
SATISFIED = ("满意", "基本满意", "不满意")
RELEASED = "answer_released"  # the audit record of an answer the dispatcher's 审核通过 released to the enterprise


@dataclass(frozen=True)
class Requester:
    """Who acts in the portal: the signed-in enterprise (its registry id) and contact person."""
    enterprise_id: int
    contact_name: str
    account_id: int | None = None
    contact_id: int | None = None


def actor_of(who: Requester) -> Actor:
    """The runtime's actor for the enterprise: it may start the item and complete its rating (the portal's
    own checks come first), recorded as ``enterprise:<id>``."""
    return Actor(username=f"{ACTOR_PREFIX}{who.enterprise_id}", is_system=True)


def by_enterprise(actor: str | None) -> bool:
    """Whether an audit record's actor is an enterprise in the portal."""
    return bool(actor) and str(actor).startswith(ACTOR_PREFIX)


def own_item(session: Session, who: Requester, instance_id) -> ProcessInstance:
    """The enterprise's own problem item, or InstanceNotFound (another's item is not there for it)."""
    if not isinstance(instance_id, int) or isinstance(instance_id, bool) or not 0 < instance_id <= attachments.MAX_ID:
        raise InstanceNotFound(instance_id)
    link = session.get(ItemLink, instance_id)
    instance = session.get(ProcessInstance, instance_id) if link is not None else None
    if instance is None or link.enterprise_id != who.enterprise_id or instance.version.definition.key != PROCESS:
        raise InstanceNotFound(instance_id)
    return instance


def rating_task(session: Session, instance_id: int) -> HumanTask | None:
    """The item's open 回访评价 task, if it waits for a rating."""
    return session.scalar(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.kind == "bpmn", HumanTask.stage == "rating",
        HumanTask.status.in_(OPEN_STATUSES)).order_by(HumanTask.id.desc()).limit(1))


class EnterpriseRequests:
    def __init__(self, db, workflows, intake, storage_dir, clock, tz: ZoneInfo):
        self.db, self.workflows, self.intake = db, workflows, intake
        self.storage_dir, self.clock, self.tz = storage_dir, clock, tz

    def categories(self) -> list[str]:
        """The problem categories of problem_dispatch's deployed start form, in its order."""
        with self.db.read() as session:
            version = self.workflows.registry.latest(session, PROCESS)
            form = self.workflows.versions.forms_of(version)
            start: dict = next((f for f in form.values() if f.get("x-category")), {})
            enum = ((start.get("properties") or {}).get(start.get("x-category") or "") or {}).get("enum") or []
            return [c for c in enum if isinstance(c, str)]

    # -- submit ----------------------------------------------------------------------------------
    def submit(self, who: Requester, category, description, contact, files: list[tuple[str, bytes]] | None = None) -> dict:
        """Register the enterprise's problem for 研判. ``files``: (file name, bytes), each checked as any
        attachment is; nothing is written when one is refused."""
        files = [f for f in files or [] if f[0] or f[1]]
        if len(files) > MAX_FILES:
            raise ValidationFailed({"file": f"「附件」至多 {MAX_FILES} 个"})
        checked = [attachments.checked_file(name, content) for name, content in files]
        if category not in self.categories():
            raise ValidationFailed({"category": "「问题类别」请从列表中选择"})
        if not isinstance(contact, str) or len(contact.strip()) < 2:
            raise ValidationFailed({"contact": "「联系人及电话」为必填项：办理进度通过它告知您"})
        with self.db.read() as session:
            enterprise = session.get(Enterprise, who.enterprise_id)
            if enterprise is None:
                raise ValidationFailed({"enterprise_id": "您的企业不在企业库中，请联系服务专员"})
            name, code = enterprise.name, enterprise.uscc
        text = description.strip() if isinstance(description, str) else description
        data = {"enterprise_id": who.enterprise_id, "enterprise_name": name, "enterprise_uscc": code,
                "category": category, "description": text, "source": SOURCE, "contact": contact.strip()}
        actor = actor_of(who)

        def also(session: Session, instance: ProcessInstance, _cleaned: dict) -> None:
            now = self.clock()
            stored = [attachments.store(session, self.storage_dir, instance.id, None, actor, file, now,
                                        who.contact_id)
                      for file in checked]
            session.add(AuditRecord(instance_id=instance.id, action="enterprise_submitted", actor=actor.username,
                                    at=now, data={"account_id": who.account_id, "contact_id": who.contact_id,
                                                  "contact_name": who.contact_name, "attachments": stored}))

        summary = self.intake.register(actor, data, also=also)
        return {"id": summary["id"], "business_key": summary["business_key"]}

    # -- rate ------------------------------------------------------------------------------------
    def rate(self, who: Requester, instance_id: int, solved, satisfied, comment) -> dict:
        """The enterprise's own 回访: completes the open 回访评价 task of a released answer."""
        with self.db.read() as session:
            own_item(session, who, instance_id)
            task = rating_task(session, instance_id)
            released = session.scalar(select(AuditRecord.id).where(
                AuditRecord.instance_id == instance_id, AuditRecord.action == RELEASED).limit(1))
            if task is None or released is None:
                raise Conflict("该事项当前没有待评价的答复（答复发布后才能评价）", id=instance_id)
            task_id = task.id
        errors = {}
        if solved not in SOLVED:
            errors["solved"] = "「问题是否解决」请选择 已解决、部分解决 或 未解决"
        if satisfied not in SATISFIED:
            errors["satisfied"] = "「是否满意」请选择 满意、基本满意 或 不满意"
        text = comment.strip() if isinstance(comment, str) else ""
        if satisfied == "不满意" and len(text) < 2:
            errors["rating_comment"] = "「意见」不满意时请写明哪里没有解决（至少 2 个字）"
        if errors:
            raise ValidationFailed(errors)
        now: datetime = self.clock()
        person = who.contact_name.strip() if len(who.contact_name.strip()) >= 2 else f"企业联系人{who.contact_name}"
        data = {"visit_reached": "reached", "visit_method": METHOD, "visit_at": f"{now.astimezone(self.tz):%Y-%m-%d %H:%M}",
                "visit_person": person[:100], "solved": solved, "satisfied": satisfied,
                "rating_comment": text or None, "rated_by": RATED_BY}
        self.workflows.complete(task_id, data, actor_of(who))
        return {"id": instance_id, "satisfied": satisfied, "reopened": satisfied == "不满意"}
