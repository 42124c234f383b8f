"""Intake of problem items: registration with the item's links (the registry enterprise, the measures it
concerns, another system's reference), the registry search behind the registration form, the links as
the item and task pages show them, and the item lookup by another system's reference.

The links are written in the transaction that starts the item (WorkflowService.start's ``on_write``):
an enterprise added to the registry, the measures and the reference come with the item or not at all.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.identity import authz
from engine.identity.authz import Actor
from engine.policy.dispatch import merging
from engine.policy.pool import uscc
from engine.policy.pool.enterprises import EDIT_ROLES, EnterpriseService
from engine.storage.models import (
    AuditRecord,
    Enterprise,
    EnterpriseChange,
    ItemLink,
    ItemMeasure,
    Measure,
    ProcessInstance,
)

PROCESS = "problem_dispatch"
SEARCH_LIMIT = 10
MAX_QUERY = 50
# A source system's name (12345, 渝快办…) and its own reference: letters, digits, CJK and - _ . / #
SOURCE = re.compile(r"^[0-9A-Za-z_\-\u4e00-\u9fff]{1,32}$")
REFERENCE = re.compile(r"^[0-9A-Za-z_\-./#\u4e00-\u9fff]{1,100}$")
NO_CODE = "未填写统一社会信用代码，企业未加入企业库（企业库按统一社会信用代码登记），事项保留所填企业名称"
NOT_EDITOR = "您无权修改企业库，企业未加入企业库，事项保留所填企业名称"


class EnterpriseNotFound(NotFound):
    """The registration names a registry enterprise that is not there (or not for this actor)."""

    code = "enterprise_not_found"

    def __init__(self, enterprise_id):
        super().__init__(f"「企业库中的企业」{enterprise_id} 不存在，请重新查找选择", field="enterprise_id")


class AlreadyRegistered(Conflict):
    """Another system sent a reference it sent before: the answer names the item made the first time."""

    def __init__(self, instance_id: int, business_key: str, source: str, ref: str):
        super().__init__(f"{source} 编号「{ref}」已登记为事项 {business_key}，未重复登记",
                         id=instance_id, business_key=business_key)


def _external(source, ref) -> tuple[str, str] | None:
    """The (source, reference) pair, both or neither, each in its format."""
    if source in (None, "") and ref in (None, ""):
        return None
    errors = {}
    if not isinstance(source, str) or not SOURCE.match(source.strip()):
        errors["external_source"] = "「来源系统」应为 1 到 32 个字母、数字或汉字（如 12345）"
    if not isinstance(ref, str) or not REFERENCE.match(ref.strip()):
        errors["external_ref"] = "「来源系统编号」应为 1 到 100 个字母、数字、汉字或 - _ . / #"
    if errors:
        raise ValidationFailed(errors)
    return source.strip(), ref.strip()


def _may_edit_registry(actor: Actor) -> bool:
    return actor.is_admin or bool(actor.roles & EDIT_ROLES)


class IntakeService:
    def __init__(self, db, workflows, clock):
        self.db = db
        self.workflows = workflows
        self.clock = clock

    # -- search ------------------------------------------------------------------------------
    def search(self, actor: Actor, q: str | None) -> list[dict]:
        """Registry enterprises whose name contains ``q`` or whose credit code starts with it, those whose
        name starts with it first; at most SEARCH_LIMIT, among the industries the actor may see. An exact
        code is found through its unique index; LIKE wildcards in ``q`` are literal."""
        if not q or len(q) > MAX_QUERY:
            raise ValidationFailed({"q": f"「查询」应为 1 到 {MAX_QUERY} 个字（企业名称或统一社会信用代码）"})
        text = q.strip()
        if not text:
            return []
        with self.db.read() as session:
            visible = EnterpriseService.visible_industries(session, actor)
            code = text.upper()
            matches = [Enterprise.name.contains(text, autoescape=True), Enterprise.uscc == code]
            if code.isascii() and code.isalnum():
                matches.append(Enterprise.uscc.startswith(code, autoescape=True))
            query = select(Enterprise.id, Enterprise.name, Enterprise.uscc, Enterprise.industry).where(or_(*matches))
            if visible is not None:
                query = query.where(Enterprise.industry.in_(sorted(visible)))
            first = case((Enterprise.uscc == code, 0), (Enterprise.name.startswith(text, autoescape=True), 1), else_=2)
            rows = session.execute(query.order_by(first, Enterprise.name, Enterprise.id).limit(SEARCH_LIMIT))
            return [{"id": i, "name": n, "uscc": c, "industry": ind, "label": f"{n}（{c}）"} for i, n, c, ind in rows]

    # -- registration ------------------------------------------------------------------------
    def register(self, actor: Actor, data: dict, *, add_enterprise: bool = False, external_source=None,
                 external_ref=None, also: Callable[[Session, ProcessInstance, dict], None] | None = None) -> dict:
        """Register a problem item with its links. The enterprise: the registry's by ``enterprise_id``, else
        the one with the typed credit code (or the only one with the typed name), else with
        ``add_enterprise`` a new registry record (for those who may edit the registry, with a valid code),
        else none (the item keeps the typed name; ``enterprise_note`` says why). A reference another
        system sent before answers AlreadyRegistered (409) with that item. ``add_enterprise`` and the
        The reference is a pair of fields of the registration form (kept in the item's data too); the
        arguments set them. Adding to the registry is the console's (a person's) choice, not another system's.
        ``also(session, instance, cleaned data)``: what the caller writes with the item (the enterprise portal's
        files), in the same transaction."""
        if not isinstance(data, dict):
            raise ValidationFailed({"表单": "提交的数据必须是一个对象（JSON object）"})
        data = dict(data)
        given = {"external_source": external_source, "external_ref": external_ref}
        data.update({k: v for k, v in given.items() if v is not None})
        if isinstance(data.get("enterprise_uscc"), str):  # codes are read in capitals
            data["enterprise_uscc"] = uscc.normalise(data["enterprise_uscc"]) or None
        external = _external(data.get("external_source"), data.get("external_ref"))
        if external is not None:
            data.update(external_source=external[0], external_ref=external[1])
        note = None
        with self.db.read() as session:
            if external is not None:
                self._check_new(session, *external)
            picked = self._resolve(session, actor, data)
        new = None
        if picked is None and add_enterprise:
            new, note = self._new_enterprise(actor, data)
        linked: dict = {}

        def link(session: Session, instance: ProcessInstance, cleaned: dict) -> None:
            enterprise_id = self._add(session, actor, instance, *new) if new else picked
            nos = self._measures(session, cleaned.get("measures"))
            if enterprise_id is not None or external is not None:
                session.add(ItemLink(instance_id=instance.id, enterprise_id=enterprise_id,
                                     external_source=external[0] if external else None,
                                     external_ref=external[1] if external else None))
            session.add_all(ItemMeasure(instance_id=instance.id, measure_no=n) for n in nos)
            session.flush()  # a reference sent twice at once: the unique constraint, here
            linked.update(enterprise_id=enterprise_id, measures=nos)
            if also is not None:
                also(session, instance, cleaned)

        try:
            summary = self.workflows.start(PROCESS, data, actor=actor, on_write=link)
        except IntegrityError:
            if external is None:
                raise
            with self.db.read() as session:
                self._check_new(session, *external)
            raise
        return {**summary, "enterprise_id": linked.get("enterprise_id"), "measures": linked.get("measures", []),
                "external_source": external[0] if external else None,
                "external_ref": external[1] if external else None, "enterprise_note": note}

    @staticmethod
    def _check_new(session: Session, source: str, ref: str) -> None:
        found = session.execute(select(ProcessInstance.id, ProcessInstance.business_key).join(
            ItemLink, ItemLink.instance_id == ProcessInstance.id).where(
            ItemLink.external_source == source, ItemLink.external_ref == ref)).first()
        if found is not None:
            raise AlreadyRegistered(found[0], found[1], source, ref)

    @staticmethod
    def _resolve(session: Session, actor: Actor, data: dict) -> int | None:
        """The registry enterprise the registration names; its name and code replace the typed ones."""
        visible = EnterpriseService.visible_industries(session, actor)
        chosen, code, name = data.get("enterprise_id"), data.get("enterprise_uscc"), data.get("enterprise_name")
        found = None
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            found = session.get(Enterprise, chosen)
            if found is None or (visible is not None and found.industry not in visible):
                raise EnterpriseNotFound(chosen)
        elif chosen is not None:
            return None  # the form reports the type
        elif isinstance(code, str) and code.strip():
            found = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc.normalise(code)))
        elif isinstance(name, str) and name.strip():
            same = session.scalars(select(Enterprise).where(Enterprise.name == name.strip()).limit(2)).all()
            found = same[0] if len(same) == 1 else None
        if found is None or (visible is not None and found.industry not in visible):
            return None
        data.update(enterprise_id=found.id, enterprise_name=found.name, enterprise_uscc=found.uscc)
        return found.id

    @staticmethod
    def _new_enterprise(actor: Actor, data: dict) -> tuple[tuple[str, str] | None, str | None]:
        """(name, code) to add to the registry, or None and why not."""
        if not _may_edit_registry(actor):
            return None, NOT_EDITOR
        code = data.get("enterprise_uscc")
        if code in (None, ""):
            return None, NO_CODE
        problem = uscc.problem(code) if isinstance(code, str) else "统一社会信用代码应为文本"
        if problem:
            raise ValidationFailed({"enterprise_uscc": problem})
        name = data.get("enterprise_name")
        if not isinstance(name, str) or len(name.strip()) < 2:
            raise ValidationFailed({"enterprise_name": "「企业名称」至少需要 2 个字"})
        return (name.strip(), uscc.normalise(code)), None

    def _add(self, session: Session, actor: Actor, instance: ProcessInstance, name: str, code: str) -> int:
        existing = session.scalar(select(Enterprise.id).where(Enterprise.uscc == code))
        if existing is not None:  # added meanwhile by someone else
            return existing
        now: datetime = self.clock()
        enterprise = Enterprise(name=name, uscc=code, tier="none", in_pool=False, updated_at=now)
        session.add(enterprise)
        session.flush()
        session.add(EnterpriseChange(enterprise_id=enterprise.id, at=now, actor=actor.username, source="intake",
                                     changes={"created": [None, name], "uscc": [None, code],
                                              "instance": [None, instance.business_key]}))
        return enterprise.id

    @staticmethod
    def _measures(session: Session, value) -> list[int]:
        nos = sorted({n for n in value or [] if isinstance(n, int) and not isinstance(n, bool)})
        known = set(session.scalars(select(Measure.no).where(Measure.no.in_(nos)))) if nos else set()
        missing = [n for n in nos if n not in known]
        if missing:
            raise ValidationFailed({"measures": f"「涉及措施」中没有第 {missing[0]} 项措施"})
        return nos

    # -- after registration ------------------------------------------------------------------
    def set_measures(self, actor: Actor, instance_id: int, value) -> list[int]:
        """The dispatcher changes the measures an item concerns (the item page)."""
        if not (actor.is_admin or "dispatcher" in actor.roles):
            raise PermissionDenied("只有区经济信息委交办员可以修改事项涉及的措施")
        if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
            raise ValidationFailed({"measures": "「涉及措施」应为措施序号的列表"})
        with self.db.write() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None or instance.version.definition.key != PROCESS:
                raise NotFound(f"事项 {instance_id} 不存在")
            nos = self._measures(session, value)
            before = sorted(session.scalars(select(ItemMeasure.measure_no).where(ItemMeasure.instance_id == instance_id)))
            if before == nos:
                return nos
            for row in session.scalars(select(ItemMeasure).where(ItemMeasure.instance_id == instance_id)):
                session.delete(row)
            session.flush()
            session.add_all(ItemMeasure(instance_id=instance_id, measure_no=n) for n in nos)
            session.add(AuditRecord(instance_id=instance_id, action="measures_tagged", actor=actor.username,
                                    at=self.clock(), data={"measures": [before, nos]}))
            return nos

    def measure_choices(self) -> list[tuple[int, str]]:
        with self.db.read() as session:
            return [(no, f"{no}. {title}") for no, title in session.execute(
                select(Measure.no, Measure.title).order_by(Measure.no))]

    def links(self, actor: Actor, instance_id: int) -> dict | None:
        """What the item is linked to, as its pages show it (None: not an item the actor may see).
        ``enterprise.can_view``: the actor may open the registry record (its industry is visible); ``master``
        and ``merged``: the item it was merged into, those merged into it (each ``can_view`` by the same rule)."""
        with self.db.read() as session:
            if not self._may_see(session, actor, instance_id):
                return None
            link = session.get(ItemLink, instance_id)
            enterprise = session.get(Enterprise, link.enterprise_id) if link and link.enterprise_id else None
            visible = EnterpriseService.visible_industries(session, actor)
            measures = session.execute(select(Measure.no, Measure.title).join(
                ItemMeasure, ItemMeasure.measure_no == Measure.no).where(ItemMeasure.instance_id == instance_id)
                .order_by(Measure.no)).all()
            merges = merging.related(session, instance_id)
            for other in [merges["master"], *merges["merged"]]:
                if other is not None:
                    other["can_view"] = self._may_see(session, actor, other["id"])
            return {
                **merges,
                "enterprise": None if enterprise is None else {
                    "id": enterprise.id, "name": enterprise.name, "uscc": enterprise.uscc,
                    "can_view": visible is None or enterprise.industry in visible},
                "measures": [{"no": no, "title": title} for no, title in measures],
                "external_source": link.external_source if link else None,
                "external_ref": link.external_ref if link else None}

    def merge_candidates(self, actor: Actor, instance_id: int) -> list[tuple[str, str]]:
        """The open items a triage may merge this item into (business key, label), for the district roles
        who triage (engine.policy.dispatch.merging.candidates); none for anyone else."""
        if not actor.sees_all:
            return []
        with self.db.read() as session:
            return [(c["business_key"], c["label"]) for c in merging.candidates(session, instance_id)]

    def lookup(self, actor: Actor, source: str | None, ref: str | None) -> list[dict]:
        """The item another system's reference names, if the actor may see it (an empty list otherwise)."""
        external = _external(source, ref)
        if external is None:
            raise ValidationFailed({"external_ref": "「来源系统编号」为必填项"})
        with self.db.read() as session:
            row = session.execute(select(ProcessInstance).join(ItemLink, ItemLink.instance_id == ProcessInstance.id)
                                  .where(ItemLink.external_source == external[0],
                                         ItemLink.external_ref == external[1])).scalar_one_or_none()
            if row is None or not self._may_see(session, actor, row.id):
                return []
            link = session.get(ItemLink, row.id)
            return [{"id": row.id, "business_key": row.business_key, "title": row.title or "",
                     "item_status": row.item_status, "status": row.status,
                     "external_source": external[0], "external_ref": external[1],
                     "enterprise_id": link.enterprise_id if link else None}]

    @staticmethod
    def _may_see(session: Session, actor: Actor, instance_id: int) -> bool:
        """The item pages' rule (engine.queries.views): district roles, or a department with a step in it."""
        if actor.sees_all:
            return session.get(ProcessInstance, instance_id) is not None
        return authz.may_see_item(session, actor, instance_id)
