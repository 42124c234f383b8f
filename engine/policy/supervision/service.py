"""挂牌督办 as the pages, the API and the command line use it: list an item (start listed_supervision on it),
the item page's panel (the listings with their slip, letter number, 批示, deadline, next report due and
reports), the 督办函 as a Word document. Everyone who may see the item sees its listings and letters."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.identity import authz
from engine.identity.org import LEADER_ROLES
from engine.policy.supervision import letter
from engine.policy.supervision.listing import DECISIONS, OPEN, PROCESS, STATUS_LABELS, is_item, open_listing
from engine.storage.models import (
    AuditRecord,
    Department,
    ListedSupervision,
    ProcessInstance,
    SupervisionReport,
    User,
)

# Who lists an item (the start event's roles in listed_supervision.bpmn say the same; the engine checks them).
LISTERS = frozenset({"leading_group_office", *LEADER_ROLES})


class ListingNotFound(NotFound):
    code = "listing_not_found"

    def __init__(self, listing_id):
        super().__init__(f"挂牌督办 {listing_id} 不存在，或您无权查看")


def _may_see(session: Session, actor: authz.Actor, instance_id: int) -> bool:
    """The item page's rule (engine.queries.views): the central roles, or a department that has a task in it."""
    return authz.may_see_item(session, actor, instance_id)


class ListedSupervisionService:
    def __init__(self, db, workflows, tz, clock):
        self.db, self.workflows, self.tz, self.clock = db, workflows, tz, clock

    def start(self, actor, item_ref: int | str, values: dict) -> dict:
        """List the item ``item_ref`` (its id or business key) for supervision with the start form's ``values``
        (the item's key is filled in). NotFound for an item one may not see; the engine refuses a role that may
        not list (the start event's roles) and what the listing's rules refuse (ValidationFailed)."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            key = self._item(session, who, item_ref).business_key
        started = self.workflows.start(PROCESS, {**(values or {}), "item_key": key}, actor=who)
        with self.db.read() as session:
            listing = session.scalar(select(ListedSupervision).where(ListedSupervision.instance_id == started["id"]))
            return {**started, "listing": self._row(session, listing) if listing is not None else None}

    @staticmethod
    def _item(session: Session, who: authz.Actor, ref: int | str) -> ProcessInstance:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit() and len(ref) < 10):
            number = int(ref)
            item = session.get(ProcessInstance, number) if 0 < number < 2**31 else None
        else:
            item = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == str(ref)[:64]))
        if item is None or not is_item(session, item) or not _may_see(session, who, item.id):
            raise NotFound(f"事项 {ref} 不存在，或您无权查看")
        return item

    def can_list(self, actor: authz.Actor) -> bool:
        return actor.is_admin or bool(actor.roles & LISTERS)

    def panel(self, actor: authz.Actor, item_id: int) -> dict | None:
        """The item page's 挂牌督办 panel: whether the viewer may list it now, and its listings (newest first);
        None for an item that is no problem item or that the viewer may not see."""
        with self.db.read() as session:
            item = session.get(ProcessInstance, item_id)
            if item is None or not is_item(session, item) or not _may_see(session, actor, item_id):
                return None
            listings = list(session.scalars(select(ListedSupervision).where(ListedSupervision.item_id == item_id)
                                            .order_by(ListedSupervision.id.desc())))
            return {"can_list": self.can_list(actor) and item.status == "running" and item.lead_department_id is not None
                    and open_listing(session, item_id) is None,
                    "listings": [self._row(session, listing) for listing in listings]}

    def of_item(self, actor, item_ref: int | str) -> list[dict]:
        """The item's listings, newest first (the API, the command line); NotFound for an item one may not see."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            item_id = self._item(session, who, item_ref).id
        return self.panel(who, item_id)["listings"]

    def _row(self, session: Session, listing: ListedSupervision) -> dict:
        names = self._names(session)
        reports = session.scalars(select(SupervisionReport).where(SupervisionReport.listing_id == listing.id)
                                  .order_by(SupervisionReport.id))
        due = listing.next_report_due
        return {
            "id": listing.id, "item_id": listing.item_id, "instance_id": listing.instance_id,
            "status": listing.status, "status_label": STATUS_LABELS.get(listing.status, listing.status),
            "open": listing.status in OPEN, "colour": listing.colour, "reason": listing.reason,
            "lead_unit": session.get(Department, listing.lead_department_id).name,
            "deadline": listing.deadline.isoformat(), "report_every": listing.report_every,
            "next_report_due": due.isoformat() if due else None, "number": listing.number,
            "instruction": listing.instruction, "instruction_by": names.get(listing.instruction_by, listing.instruction_by),
            "started_by": names.get(listing.started_by, listing.started_by),
            "started_at": self._moment(listing.started_at), "issued_at": self._moment(listing.issued_at),
            "ended_at": self._moment(listing.ended_at), "end_note": listing.end_note,
            "named_in_circular": listing.named_in_circular,
            "reports": [{"due_date": r.due_date.isoformat(), "submitted_at": self._moment(r.submitted_at),
                         "submitted_by": names.get(r.submitted_by, r.submitted_by), "progress": r.progress,
                         "text": r.text, "decision": DECISIONS.get(r.decision or "", "待审阅"), "colour": r.colour,
                         "review_comment": r.review_comment} for r in reports],
        }

    def _moment(self, moment) -> str | None:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if moment else None

    @staticmethod
    def _names(session: Session) -> dict[str, str]:
        return dict(session.execute(select(User.username, User.display_name)).all())

    def letter(self, actor, listing_id: int) -> tuple[str, bytes]:
        """(file name, .docx) of a listing's 督办函, for whoever may see its item."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            listing = session.get(ListedSupervision, listing_id) if 0 < listing_id < 2**31 else None
            if listing is None or listing.number is None or not _may_see(session, who, listing.item_id):
                raise ListingNotFound(listing_id)
            item = session.get(ProcessInstance, listing.item_id)
            start = session.scalar(select(AuditRecord.data).where(AuditRecord.instance_id == item.id,
                                                                  AuditRecord.action == "start").limit(1)) or {}
            leader = session.scalar(select(User.display_name).where(User.username == listing.instruction_by)) \
                if listing.instruction_by else None
            lead = session.get(Department, listing.lead_department_id).name
            content = letter.render(listing, item, lead, start.get("description"), leader, self.tz)
            return f"{listing.number}.docx", content
