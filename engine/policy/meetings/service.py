"""联席会议 as the pages, the tests and the command line use it: dispatch a held meeting's decisions as problem
items (each started through the workflow service with source 联席会议, its decision linked to the new item in
the start's transaction), the archive (/meetings) with each meeting's decisions and their items' states, where
an item came from (the item page's 「来自联席会议〔2026〕第N次」), and the minutes as a Word document.
The central roles (global view) see the meetings; the dispatcher (or an administrator) dispatches."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, PermissionDenied
from engine.identity import authz
from engine.localtime import chinese_date
from engine.policy.meetings import minutes_doc
from engine.policy.meetings.agenda import KINDS
from engine.policy.meetings.minutes import STATUS_LABELS, number_of
from engine.storage.models import Department, JointMeeting, MeetingDecision, ProcessInstance

ITEM_PROCESS = "problem_dispatch"
DISPATCHERS = frozenset({"dispatcher", "admin"})
PAGE = 50


class MeetingNotFound(NotFound):
    code = "meeting_not_found"

    def __init__(self, meeting_id):
        super().__init__(f"联席会议 {meeting_id} 不存在，或您无权查看")


class MeetingService:
    def __init__(self, db, workflows, tz, clock):
        self.db, self.workflows, self.tz, self.clock = db, workflows, tz, clock

    @classmethod
    def of(cls, services) -> MeetingService:
        return cls(services.db, services.workflows, services.workflows.tz, services.workflows.clock)

    def _meeting(self, session: Session, who: authz.Actor, meeting_id: int) -> JointMeeting:
        meeting = session.get(JointMeeting, meeting_id) if 0 < meeting_id < 2**31 else None
        if meeting is None or not who.sees_all:
            raise MeetingNotFound(meeting_id)
        return meeting

    def can_dispatch(self, actor: authz.Actor) -> bool:
        return actor.is_admin or bool(actor.roles & DISPATCHERS)

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, actor, meeting_id: int) -> list[dict]:
        """Start a problem item for each of the held meeting's decisions not yet dispatched; their summaries."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            meeting = self._meeting(session, who, meeting_id)
            if not self.can_dispatch(who):
                raise PermissionDenied("只有区经济信息委调度员可以交办联席会议议定事项")
            if meeting.status != "held":
                raise Conflict("会议纪要尚未记录，不能交办议定事项")
            number = number_of(meeting)
            pending = [(d.id, self._registration(session, d, number)) for d in session.scalars(
                select(MeetingDecision).where(MeetingDecision.meeting_id == meeting_id,
                                              MeetingDecision.item_id.is_(None)).order_by(MeetingDecision.position))]
        return [self._start(who, decision_id, data) for decision_id, data in pending]

    @staticmethod
    def _registration(session: Session, decision: MeetingDecision, number: str) -> dict:
        lead = session.get(Department, decision.lead_department_id).name
        return {"enterprise_name": decision.enterprise_name, "category": decision.category, "source": "联席会议",
                "description": f"{decision.text}（联席会议{number}议定：主办单位{lead}，"
                               f"于{chinese_date(decision.due_date)}前办结）"}

    def _start(self, who: authz.Actor, decision_id: int, data: dict) -> dict:
        def link(session: Session, instance: ProcessInstance, _cleaned: dict) -> None:
            decision = session.get(MeetingDecision, decision_id, with_for_update=True)
            if decision.item_id is not None:
                raise Conflict("该议定事项已交办")  # undoes this start
            decision.item_id, decision.dispatched_at = instance.id, self.clock()
            session.flush()

        return self.workflows.start(ITEM_PROCESS, data, actor=who, on_write=link)

    # -- reading ----------------------------------------------------------------------------
    def archive(self, actor) -> list[dict]:
        """The latest meetings, newest first, each with its decisions and their items' states."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            if not who.sees_all:
                raise PermissionDenied("只有区经济信息委、领导小组办公室和区领导可以查看联席会议")
            meetings = list(session.scalars(select(JointMeeting).order_by(JointMeeting.id.desc()).limit(PAGE)))
            decisions = self._decisions(session, [m.id for m in meetings])
            return [self._row(m, decisions.get(m.id, [])) for m in meetings]

    def detail(self, actor, meeting_id: int) -> dict:
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            meeting = self._meeting(session, who, meeting_id)
            row = self._row(meeting, self._decisions(session, [meeting.id]).get(meeting.id, []))
            row["can_dispatch"] = self.can_dispatch(who) and meeting.status == "held" and any(
                d["item_id"] is None for d in row["decisions"])
            return row

    @staticmethod
    def _decisions(session: Session, meeting_ids: list[int]) -> dict[int, list[dict]]:
        if not meeting_ids:
            return {}
        rows = session.execute(
            select(MeetingDecision, Department.name, ProcessInstance)
            .join(Department, Department.id == MeetingDecision.lead_department_id)
            .outerjoin(ProcessInstance, ProcessInstance.id == MeetingDecision.item_id)
            .where(MeetingDecision.meeting_id.in_(meeting_ids))
            .order_by(MeetingDecision.meeting_id, MeetingDecision.position))
        out: dict[int, list[dict]] = {}
        for d, lead, item in rows:
            out.setdefault(d.meeting_id, []).append({
                "id": d.id, "position": d.position, "topic": d.topic, "text": d.text, "lead_unit": lead,
                "enterprise_name": d.enterprise_name, "category": d.category, "due_date": d.due_date.isoformat(),
                "item_id": d.item_id, "item_key": item.business_key if item else None,
                "item_status": (item.item_status or item.status) if item else "未交办",
                "item_done": bool(item and item.status == "completed")})
        return out

    def _row(self, meeting: JointMeeting, decisions: list[dict]) -> dict:
        return {"id": meeting.id, "instance_id": meeting.instance_id, "number": number_of(meeting),
                "status": meeting.status, "status_label": STATUS_LABELS.get(meeting.status, meeting.status),
                "held_on": meeting.held_on.isoformat() if meeting.held_on else None, "place": meeting.place,
                "chair": meeting.chair, "attendance": meeting.attendance or [], "topics": meeting.topics or [],
                "agenda": [{**t, "kind_label": KINDS.get(t.get("kind"), "")} for t in meeting.agenda or []],
                "decisions": decisions}

    def origin(self, actor, item_id: int) -> dict | None:
        """The meeting an item was decided at (through the decision's unique item_id), for who may see it."""
        with self.db.read() as session:
            found = session.execute(select(MeetingDecision, JointMeeting)
                                    .join(JointMeeting, JointMeeting.id == MeetingDecision.meeting_id)
                                    .where(MeetingDecision.item_id == item_id)).first()
            if found is None:
                return None
            decision, meeting = found
            return {"meeting_id": meeting.id, "number": number_of(meeting), "label": f"来自联席会议 {number_of(meeting)}",
                    "decision": decision.text, "due_date": decision.due_date.isoformat(),
                    "lead_unit": session.get(Department, decision.lead_department_id).name}

    def dispatch_prefill(self, item_id: int) -> dict:
        """For the item's 交办 step: the decision's lead unit and its deadline as working days from today (1 to
        60, the form's bounds), or nothing for an item that came from no meeting."""
        with self.db.read() as session:
            decision = session.scalar(select(MeetingDecision).where(MeetingDecision.item_id == item_id))
            if decision is None:
                return {}
            today = self.clock().astimezone(self.tz).date()
            days = self.workflows.planner(session).calendar.working_days_between(today, decision.due_date)
            return {"lead_department": session.get(Department, decision.lead_department_id).name,
                    "lead_due_working_days": min(60, max(1, days))}

    def minutes(self, actor, meeting_id: int) -> tuple[str, bytes]:
        """(file name, .docx) of a held meeting's minutes (会议纪要) in the 公文 layout."""
        with self.db.read() as session:
            who = authz.actor_for(session, actor)
            meeting = self._meeting(session, who, meeting_id)
            if meeting.status != "held":
                raise MeetingNotFound(meeting_id)
            row = self._row(meeting, self._decisions(session, [meeting.id]).get(meeting.id, []))
            return f"联席会议纪要{row['number']}.docx", minutes_doc.render(row, meeting.held_on)
