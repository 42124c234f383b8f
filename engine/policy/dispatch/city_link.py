"""市区联动: a district escalates a problem it cannot solve alone to the city (issue 20, docs/districts.md).

The district's 区经济信息委 (交办员 or 领导小组办公室) asks for the city's coordination with a reason. The city gets an
item of its own, registered like any other (source 区县提请, the district's division code and item number as its
reference, so asking twice makes one city item): 市经济信息委 accepts it and dispatches it to city departments, or
declines it back to the district with its reason — the city's own procedure. The district's item goes on as it
was; its page shows the city item's state and, once there, the city's answer. The city view counts each district's
escalations still open.

Asking is three short transactions, each in its own district's scope: the district's item read, the city's item
registered (idempotent by its reference), the district's item's history written. The city's answer is one: when
the city's item ends, the transaction that ends it also writes, as the asking district (``district.writing_for``),
the answer on the district's item's history and the notice to its 交办员 and to whoever asked — so the district
hears at once, with a link to its item, and never hears of an answer that was not given.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.identity import authz
from engine.identity.authz import Actor
from engine.identity.districts import CITY_KIND
from engine.policy.dispatch.intake import PROCESS, AlreadyRegistered
from engine.storage import district
from engine.storage.models import (
    AuditRecord,
    District,
    ItemLink,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    User,
    UserRole,
)

SOURCE = "区县提请"
ESCALATED = "escalated_to_city"
ANSWERED = "city_answered"
ROLES = frozenset({"dispatcher", "leading_group_office"})
REASON = (5, 500)


class CityLinks:
    def __init__(self, db, intake, queries, clock: Callable[[], datetime]):
        self.db = db
        self.intake = intake
        self.queries = queries
        self.clock = clock

    def _districts(self) -> tuple[int | None, District | None]:
        """(the city's id, the current district's row)."""
        here = district.current()
        with district.across(), self.db.read() as session:
            city = session.scalar(select(District.id).where(District.kind == CITY_KIND, District.active.is_(True)))
            return city, session.get(District, here)

    def may_escalate(self, actor: Actor | None) -> bool:
        if actor is None or not (actor.is_admin or actor.roles & ROLES):
            return False
        city, here = self._districts()
        return city is not None and here is not None and here.id != city

    def escalate(self, actor: Actor, instance_id: int, reason: str | None) -> dict:
        """The city's item for this district's problem item (made now, or the one made when it was asked before)."""
        if not (actor.is_admin or actor.roles & ROLES):
            raise PermissionDenied("只有区经济信息委交办员或领导小组办公室可以提请市级协调")
        item = self._item(instance_id)  # first: another district's item is not there at all
        text = (reason or "").strip()
        if not REASON[0] <= len(text) <= REASON[1]:
            raise ValidationFailed({"reason": f"「提请理由」请写明需要市级协调的事项，{REASON[0]}—{REASON[1]} 个字"})
        city, here = self._districts()
        if city is None or here is None or here.id == city:
            raise ValidationFailed({"reason": "本部署没有重庆市本级（或您就在市本级），无法提请市级协调"})
        data = {"enterprise_name": item["data"].get("enterprise_name") or item["subject"] or "（未填写）",
                "category": item["data"].get("category") or "其他", "contact": item["data"].get("contact"),
                "source": SOURCE, "enterprise_uscc": item["data"].get("enterprise_uscc"),
                "description": f"【{here.name}提请市级协调】{text}\n原问题（{here.name} {item['key']}）："
                               f"{item['data'].get('description') or ''}"[:2000]}
        reference = f"{here.code}-{item['key']}"
        with district.scope(city):
            try:
                made = self.intake.register(authz.SYSTEM, data, external_source=SOURCE, external_ref=reference)
                city_key = made["business_key"]
            except AlreadyRegistered as exc:
                city_key = exc.details["business_key"]
        with self.db.write() as session:
            session.add(AuditRecord(instance_id=instance_id, action=ESCALATED, actor=actor.username, at=self.clock(),
                                    data={"city_key": city_key, "reason": text}))
        return {"city_key": city_key, "reference": reference}

    def _item(self, instance_id: int) -> dict:
        with self.db.read() as session:
            row = session.execute(
                select(ProcessInstance).join(ProcessVersion, ProcessInstance.version_id == ProcessVersion.id)
                .join(ProcessDefinition).where(ProcessInstance.id == instance_id, ProcessDefinition.key == PROCESS)
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"事项 {instance_id} 不存在或不是企业问题交办事项")
            if row.status != "running":
                raise Conflict(f"事项 {row.business_key} 已办结，无需提请市级协调")
            asked = session.scalar(select(AuditRecord.data).where(AuditRecord.instance_id == instance_id,
                                                                  AuditRecord.action == ESCALATED).limit(1))
            if asked:
                raise Conflict(f"事项 {row.business_key} 已提请市级协调（市级事项 {asked.get('city_key')}）")
            key, subject = row.business_key, row.subject
        return {"key": key, "subject": subject, "data": self.queries.show(instance_id)["data"]}

    def status(self, instance_id: int) -> dict | None:
        """The city's item for this district item, as the district's item page shows it; None if never escalated."""
        with self.db.read() as session:
            asked = session.execute(select(AuditRecord.data, AuditRecord.at).where(
                AuditRecord.instance_id == instance_id, AuditRecord.action == ESCALATED).limit(1)).first()
            key = session.scalar(select(ProcessInstance.business_key).where(ProcessInstance.id == instance_id))
        if asked is None:
            return None
        city, here = self._districts()
        found = None
        if city is not None and here is not None:
            with district.scope(city), self.db.read() as session:
                found = session.execute(
                    select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.item_status,
                           ProcessInstance.status).join(ItemLink, ItemLink.instance_id == ProcessInstance.id)
                    .where(ItemLink.external_source == SOURCE, ItemLink.external_ref == f"{here.code}-{key}")).first()
        answer = None
        if found is not None and found[3] == "completed":
            with district.scope(city):
                done = self.queries.show(found[0])["data"]
            answer = done.get("item_answer") or done.get("triage_reason")
        return {"city_key": asked[0].get("city_key"), "asked_at": asked[1], "reason": asked[0].get("reason"),
                "item_status": found[2] if found else None, "done": bool(found and found[3] == "completed"),
                "answer": answer}

    def open_by_district(self) -> Counter:
        """The city's escalated items not yet done, by the asking district's division code (the city view)."""
        city, _ = self._districts()
        if city is None:
            return Counter()
        with district.scope(city), self.db.read() as session:
            refs = session.scalars(select(ItemLink.external_ref).join(
                ProcessInstance, ProcessInstance.id == ItemLink.instance_id)
                .where(ItemLink.external_source == SOURCE, ProcessInstance.status == "running"))
            return Counter((ref or "").split("-", 1)[0] for ref in refs)



def answered(notifier, base_url: str, tz):
    """The completion handler of problem_dispatch: a city item asked for by a district (source 区县提请) tells that
    district its answer, in the completing transaction."""
    from engine.runtime.notices import matter_of
    from notifications.outbox import Notice

    def handler(session, instance: ProcessInstance, data: dict, now: datetime) -> None:
        reference = session.scalar(select(ItemLink.external_ref).where(ItemLink.instance_id == instance.id,
                                                                       ItemLink.external_source == SOURCE))
        code, _, key = (reference or "").partition("-")
        asking = session.scalar(select(District.id).where(District.code == code)) if key else None
        if asking is None or asking == district.current():
            return
        answer = str(data.get("item_answer") or data.get("triage_reason") or "")[:2000]
        city_key, status = instance.business_key, instance.item_status or "已办结"
        with district.writing_for(session, asking):
            item = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == key))
            if item is None:
                return
            asker = session.scalar(select(AuditRecord.actor).where(AuditRecord.instance_id == item.id,
                                                                   AuditRecord.action == ESCALATED).limit(1))
            users = session.scalars(select(User).join(UserRole).where(
                User.active.is_(True), or_(UserRole.role == "dispatcher", User.username == asker))
                .distinct().order_by(User.id)).all()
            context = {"matter": matter_of(item), "business_key": item.business_key, "city_key": city_key,
                       "city_status": status, "answer": answer,
                       "closed_on": now.astimezone(tz).strftime("%Y-%m-%d %H:%M")}
            told = notifier.notify(session, Notice(
                key=f"{ANSWERED}:{instance.id}", template=ANSWERED, context=context,
                link=f"{base_url}/items/{item.id}",
                data={"event": ANSWERED, "business_key": item.business_key, "city_key": city_key,
                      "city_status": status}), list(users), None, now)
            session.add(AuditRecord(instance_id=item.id, action=ANSWERED, actor="system", at=now,
                                    data={"city_key": city_key, "status": status, "answer": answer, "told": told}))
    return handler
