"""The enterprise portal's pool part (issue 19): the enterprise checks itself against the cultivation criteria,
submits last year's figures for its service officer to confirm, applies to the pool and follows its admission.

The enterprise is the one the portal's session names; every method reads or writes that enterprise's records
only. The self-check is ``admission.assess`` on the registry's figures — the decision and the per-criterion
explanation the admission itself records — and changes nothing. Confirmed figures go into the registry through
its own save (``EnterpriseService.apply_in``: the change log, the 拟培育库's gap), with source ``enterprise``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import localtime
from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.policy.pool.admission import assess
from engine.policy.pool.eligibility import FIGURES, DecisionFailed
from engine.policy.pool.enterprises import clean_year
from engine.policy.pool.standing import admissions_of, running_admission
from engine.runtime import items as attachments
from engine.storage.models import Attachment, AuditRecord, Enterprise, ItemLink, User, UserRole
from engine.storage.models.pool_portal import EnterpriseYearUpdate
from notifications.channels import Contact

ADMISSION = "pool_admission"
FIELDS = {"revenue": "营业收入（元）", "rd_expense": "研发投入（元）", "net_profit": "净利润（元）",
          "total_assets": "资产总额（元）", "total_liabilities": "负债总额（元）", "employees": "从业人员"}
UPDATE_LABELS = {"pending": "待服务专员确认", "confirmed": "已确认，已写入企业库", "refused": "未通过确认"}
ALL_ENTERPRISES = {"dispatcher", "admin"}  # decide any enterprise's update; a service officer: their own
MAX_REASON = 500
MAX_FILES = 5


@dataclass(frozen=True)
class PortalUser:
    """Who acts in the portal: the enterprise and the contact person signed in for it."""

    enterprise_id: int
    contact_id: int | None
    contact_name: str


def enterprise_actor(enterprise_id: int) -> Actor:
    """The enterprise acting for itself: ``enterprise:<registry id>`` (no staff user name has a colon), the
    name the portal's problems use too; it may start its admission, the portal's own checks coming first."""
    return Actor(username=f"enterprise:{enterprise_id}", is_system=True)


def _enterprise(session: Session, enterprise_id: int, lock: bool = False) -> Enterprise:
    query = select(Enterprise).where(Enterprise.id == enterprise_id)
    enterprise = session.scalar(query.with_for_update() if lock else query)
    if enterprise is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    return enterprise


def clean_figures(raw: dict, year: int) -> dict:
    """Last year's figures as the enterprise types them: every one required (net profit may be negative)."""
    cleaned, errors = clean_year({**{k: raw.get(k) for k in FIGURES}, "year": year})
    for field in FIGURES:
        if cleaned.get(field) is None and field not in errors:
            errors[field] = f"「{FIELDS[field]}」不能为空"
    text = str(raw.get("employees") if raw.get("employees") is not None else "").strip()
    if not text.isdigit() or len(text) > 9:
        errors["employees"] = "「从业人员」应为非负整数（人）"
    if errors:
        raise ValidationFailed(errors, "年度数据有误")
    return {**{k: cleaned[k] for k in FIGURES}, "employees": int(text)}


def contact_of(session: Session, contact_id: int) -> Contact | None:
    """The portal contact's verified addresses (an unverified one is never written to)."""
    from engine.storage.models.portal import EnterpriseContact

    contact = session.get(EnterpriseContact, contact_id)
    if contact is None or not contact.active:
        return None
    email = contact.email if contact.email_verified else None
    mobile = contact.mobile if contact.mobile_verified else None
    return Contact(label=contact.name, email=email, mobile=mobile) if email or mobile else None


def tell_applicant(session: Session, notifier, instance_id: int, context: dict, now: datetime) -> None:
    """An admission the enterprise applied for in the portal has ended: its contact is told the result and the
    reasons (admission.on_completed calls this in the completing transaction)."""
    from notifications.outbox import Notice

    applied = session.scalar(select(AuditRecord).where(AuditRecord.instance_id == instance_id,
                                                       AuditRecord.action == "enterprise_applied").limit(1))
    contact_id = (applied.data or {}).get("contact_id") if applied is not None else None
    contact = contact_of(session, contact_id) if isinstance(contact_id, int) else None
    if contact is not None:
        notifier.notify_contact(session, Notice(key=f"admission:{instance_id}:contact", template="admission_result_contact",
                                                context=context, data={"event": "admission_result",
                                                                       "result": context["result"]}), contact, now)


def _next_steps(result: dict) -> list[str]:
    if result["eligible"] is True:
        return ["按现有数据符合培育入库条件，可以申请入库。"]
    if result["eligible"] is None:
        missing = [c["message"] for c in result["criteria"] if c["passed"] is None]
        return ["以下条件因缺少数据无法判定，请补充：上年财务数据和从业人员可在本页报送（服务专员确认后生效），"
                "其他信息请联系服务专员：", *missing]
    failed = [c["message"] for c in result["criteria"] if c["passed"] is False]
    return ["按现有数据暂不符合培育入库条件，现在申请将被判定为不符合：", *failed]


class PoolPortal:
    def __init__(self, db, workflows, enterprises, decisions, notifier, clock, tz, base_url: str, storage_dir):
        self.db, self.workflows, self.enterprises, self.decisions = db, workflows, enterprises, decisions
        self.notifier, self.clock, self.tz, self.base_url = notifier, clock, tz, base_url.rstrip("/")
        # An application's files are the admission's attachments, stored and checked as every attachment
        # (engine.runtime.items), naming the contact who sent them and no staff account.
        self.storage_dir = storage_dir
        self.contact_of: Callable[[Session, int], Contact | None] = contact_of  # whom a decision is told

    def _today(self) -> date:
        return localtime.today(self.clock, self.tz)

    # -- self-check (read-only) ---------------------------------------------------------------
    def self_check(self, enterprise_id: int) -> dict:
        """The admission's decision on the registry's figures, what to do next and whether it may apply."""
        today = self._today()
        with self.db.read() as session:
            e = _enterprise(session, enterprise_id)
            running = running_admission(session, e.uscc)
            try:
                result = assess(session, self.decisions.current(session), e.uscc, today)
            except DecisionFailed as exc:
                result = {"eligible": None, "criteria": [], "last_year": today.year - 1,
                          "summary": f"{exc.message}。请联系服务专员。"}
            years = {y.year: {k: getattr(y, k) for k in FIGURES} for y in e.years if y.year >= today.year - 3}
            update = session.scalar(select(EnterpriseYearUpdate).where(EnterpriseYearUpdate.enterprise_id == e.id)
                                    .order_by(EnterpriseYearUpdate.id.desc()).limit(1))
            blocked = ("贵企业已在培育库中" + (f"（有效期至 {e.pool_valid_until}）" if e.pool_valid_until else "")
                       if e.in_pool else f"入库申请 {running.business_key} 正在办理" if running else None)
            return {**result, "next_steps": [] if blocked else _next_steps(result),
                    "may_apply": blocked is None and result["eligible"] is True, "blocked": blocked,
                    "enterprise": e.name, "uscc": e.uscc, "employees": e.employees, "years": years,
                    "latest_update": self._update_view(update) if update else None}

    @staticmethod
    def _update_view(row: EnterpriseYearUpdate) -> dict:
        return {"id": row.id, "year": row.year, "figures": row.figures, "status": row.status,
                "status_label": UPDATE_LABELS[row.status], "submitted_at": row.submitted_at,
                "decided_at": row.decided_at, "reason": row.reason}

    # -- yearly figures ------------------------------------------------------------------------
    def submit_year(self, who: PortalUser, raw: dict) -> int:
        """Last year's figures, pending until the service officer decides; the officer is told at once."""
        year = self._today().year - 1
        figures = clean_figures(raw if isinstance(raw, dict) else {}, year)
        now = self.clock()
        with self.db.write() as session:
            e = _enterprise(session, who.enterprise_id, lock=True)  # one pending update at a time
            if session.scalar(select(EnterpriseYearUpdate.id).where(EnterpriseYearUpdate.enterprise_id == e.id,
                                                                    EnterpriseYearUpdate.status == "pending")):
                raise Conflict("贵企业报送的年度数据正待服务专员确认，确认或退回后才能再次报送")
            row = EnterpriseYearUpdate(enterprise_id=e.id, year=year, figures=figures, status="pending",
                                       contact_id=who.contact_id, submitted_by=who.contact_name[:100],
                                       submitted_at=now)
            session.add(row)
            session.flush()
            session.add(AuditRecord(instance_id=None, action="year_update_submitted", actor=enterprise_actor(e.id).username,
                                    at=now, data={"update": row.id, "enterprise": e.uscc, "year": year}))
            self._tell_officers(session, e, row, now)
            return row.id

    def _tell_officers(self, session: Session, e: Enterprise, row: EnterpriseYearUpdate, now: datetime) -> None:
        from notifications.outbox import Notice

        officer = session.get(User, e.service_officer_id) if e.service_officer_id else None
        officers = [officer] if officer is not None and officer.active else list(session.scalars(
            select(User).join(UserRole).where(UserRole.role == "service_officer", User.active.is_(True))
            .order_by(User.id)).unique())
        lines = [f"{FIELDS[k].split('（')[0]}：{row.figures[k]:,.2f} 元" if k != "employees" else
                 f"从业人员：{row.figures[k]} 人" for k in FIELDS]
        notice = Notice(key=f"year_update:{row.id}", template="year_update_submitted",
                        context={"enterprise": e.name, "contact": row.submitted_by, "year": row.year, "lines": lines},
                        link=f"{self.base_url}/enterprises/year-updates",
                        data={"event": "year_update_submitted", "enterprise": e.uscc, "year": row.year})
        self.notifier.notify(session, notice, officers, None, now)

    @staticmethod
    def _pending_query(actor: Actor):
        """A service officer's own enterprises' pending updates; the dispatcher's (admin's) all."""
        if not (actor.is_admin or actor.roles & (ALL_ENTERPRISES | {"service_officer"})):
            raise PermissionDenied("只有服务专员和区经济信息委可以确认企业报送的年度数据")
        query = (select(EnterpriseYearUpdate, Enterprise).join(Enterprise, Enterprise.id ==
                                                              EnterpriseYearUpdate.enterprise_id)
                 .where(EnterpriseYearUpdate.status == "pending"))
        if not (actor.is_admin or actor.roles & ALL_ENTERPRISES):
            query = query.where(Enterprise.service_officer_id == actor.user_id)
        return query

    def pending_update_count(self, actor: Actor) -> int:
        """How many updates wait for this officer (a count, for the registry page)."""
        query = self._pending_query(actor)
        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def pending_updates(self, actor: Actor) -> list[dict]:
        """Staff list: the pending updates beside the registry's current figures, oldest first."""
        query = self._pending_query(actor)
        with self.db.read() as session:
            out = []
            for row, e in session.execute(query.order_by(EnterpriseYearUpdate.submitted_at).limit(200)):
                current = next((y for y in e.years if y.year == row.year), None)
                out.append({**self._update_view(row), "enterprise": e.name, "uscc": e.uscc,
                            "enterprise_id": e.id, "submitted_by": row.submitted_by,
                            "current": {k: getattr(current, k) if current else None for k in FIGURES}
                            | {"employees": e.employees}})
            return out

    def decide_update(self, actor: Actor, update_id: int, confirm: bool, reason: str | None = None) -> None:
        """Confirm (into the registry, source ``enterprise``) or refuse with a reason; the contact is told."""
        reason = (reason or "").strip()
        if not confirm and not reason:
            raise ValidationFailed({"reason": "「退回理由」不能为空"})
        if len(reason) > MAX_REASON:
            raise ValidationFailed({"reason": f"「退回理由」不能超过 {MAX_REASON} 个字"})
        now = self.clock()
        with self.db.write() as session:
            row = session.scalar(select(EnterpriseYearUpdate).where(EnterpriseYearUpdate.id == update_id)
                                 .with_for_update()) if 0 < update_id < 2**63 else None
            e = session.get(Enterprise, row.enterprise_id) if row is not None else None
            mine = e is not None and (actor.is_admin or bool(actor.roles & ALL_ENTERPRISES) or (
                "service_officer" in actor.roles and e.service_officer_id == actor.user_id))
            if row is None or e is None or not mine:
                raise NotFound(f"年度数据报送 {update_id} 不存在")
            if row.status != "pending":
                raise Conflict(f"该年度数据报送已{UPDATE_LABELS[row.status]}，不能再次处理")
            if confirm:
                officer = session.get(User, e.service_officer_id) if e.service_officer_id else None
                data = {"service_officer": officer.username if officer else None,
                        "employees": row.figures.get("employees", e.employees)}
                year = {"year": row.year, **{k: row.figures[k] for k in FIGURES}}
                self.enterprises.apply_in(session, e, data, [year], actor.username, "enterprise")
            row.status, row.decided_by, row.decided_at = ("confirmed" if confirm else "refused"), actor.username, now
            row.reason = None if confirm else reason
            session.add(AuditRecord(instance_id=None, action="year_update_decided", actor=actor.username, at=now,
                                    data={"update": row.id, "enterprise": e.uscc, "status": row.status,
                                          "reason": row.reason}))
            self._tell_contact(session, e, row, now)

    def _tell_contact(self, session: Session, e: Enterprise, row: EnterpriseYearUpdate, now: datetime) -> None:
        from notifications.outbox import Notice

        contact = self.contact_of(session, row.contact_id) if row.contact_id is not None else None
        if contact is None:
            return
        notice = Notice(key=f"year_update:{row.id}:{row.status}", template="year_update_decided",
                        context={"enterprise": e.name, "year": row.year, "confirmed": row.status == "confirmed",
                                 "reason": row.reason or ""},
                        data={"event": "year_update_decided", "status": row.status, "year": row.year})
        self.notifier.notify_contact(session, notice, contact, now)

    # -- applying to the pool -------------------------------------------------------------------
    def apply(self, who: PortalUser, note: str | None = None, files: list[tuple[str, bytes]] | None = None) -> dict:
        """Start pool_admission for the enterprise (channel application), linked to it, its materials
        (``files``: name, bytes) attached. Refused in Chinese when it is in the pool already or one of its
        admissions is running; nothing is written when a file is refused."""
        note = (note or "").strip() or None
        if note is not None and len(note) > 2000:
            raise ValidationFailed({"apply_note": "「申请说明」不能超过 2000 个字"})
        files = [f for f in files or [] if f[0] or f[1]]
        if len(files) > MAX_FILES:
            raise ValidationFailed({"file": f"「申请材料」至多 {MAX_FILES} 个"})
        checked = [attachments.checked_file(name, content) for name, content in files]
        with self.db.read() as session:
            e = _enterprise(session, who.enterprise_id)
            self._check_may_apply(session, e)
            code, enterprise_id = e.uscc, e.id
        actor = enterprise_actor(enterprise_id)

        def link(session: Session, instance, cleaned: dict) -> None:
            # Checked again in the writing transaction, the enterprise's row locked: two submissions, one start.
            self._check_may_apply(session, _enterprise(session, enterprise_id, lock=True), instance.id)
            session.add(ItemLink(instance_id=instance.id, enterprise_id=enterprise_id))
            now = self.clock()
            stored = [attachments.store(session, self.storage_dir, instance.id, None, actor, file, now,
                                        who.contact_id)
                      for file in checked]
            session.add(AuditRecord(instance_id=instance.id, action="enterprise_applied", actor=actor.username,
                                    at=now, data={"contact": who.contact_name, "contact_id": who.contact_id,
                                                  "note": note, "attachments": stored}))

        data = {"enterprise_uscc": code, "channel": "application", "apply_note": note}
        return self.workflows.start(ADMISSION, data, actor=actor, on_write=link)

    @staticmethod
    def _check_may_apply(session: Session, e: Enterprise, started: int | None = None) -> None:
        if e.in_pool:
            until = f"（有效期至 {e.pool_valid_until}）" if e.pool_valid_until else ""
            raise Conflict(f"贵企业已在培育库中{until}，无需再次申请")
        running = running_admission(session, e.uscc, started)
        if running is not None:
            raise Conflict(f"贵企业的入库申请 {running.business_key} 正在办理中，请勿重复申请")

    def admissions(self, enterprise_id: int, limit: int = 20) -> list[dict]:
        """The enterprise's admissions, newest first, in plain words (no staff names, no internal notes); each
        finished one reads its instance's state, so ask for no more than are shown."""
        with self.db.read() as session:
            e = _enterprise(session, enterprise_id)
            return admissions_of(session, self.workflows, e, self.tz, limit)

    def admission(self, enterprise_id: int, instance_id: int) -> dict:
        """One of the enterprise's own admissions; another's is NotFound."""
        found = next((a for a in self.admissions(enterprise_id) if a["id"] == instance_id), None)
        if found is None:
            raise NotFound(f"入库申请 {instance_id} 不存在")
        with self.db.read() as session:  # the materials it sent (user_id NULL), never files staff attached
            found["files"] = [{"id": a.id, "filename": a.filename, "size": a.size} for a in session.scalars(
                select(Attachment).where(Attachment.instance_id == instance_id, Attachment.user_id.is_(None))
                .order_by(Attachment.id))]
        return found
