"""Merged duplicates follow their master (合并件随主件办理).

The triage's 合并为重复问题 names the master (``duplicate_of``, a business key the dispatcher types or
picks from :func:`candidates`). The diagram's service task 关联主件 runs :func:`link_master`: the master is
checked (an open problem item, not merged itself, not the item itself) and the link stored in
``item_link.master_instance_id`` in the transaction that saves the triage; a refusal names the field and
undoes the triage. The merged item then waits (等待主件办结, a message catch event).

When the master's process completes, whatever its end (已办结, 已办结（未回访）…), :func:`close_merged` runs in
its completing transaction: each open merged item, found by the index, is sent the message
``master_closed`` with the master's outcome (engine.runtime.messages: durable, delivered in the merged
item's own step with its revision checked). The merged item copies the outcome (随主件办结) and its service
task 告知企业合并件办结 runs :func:`tell_enterprise`: the enterprise's service officer and, when the
registration gave one, the enterprise's contact (email, mobile) are told, and the close is audited.
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from engine.errors import ValidationFailed
from engine.runtime.notices import matter_of
from engine.runtime.operations import OperationContext
from engine.storage.models import AuditRecord, ItemLink, ProcessDefinition, ProcessInstance, ProcessVersion

PROCESS = "problem_dispatch"
MESSAGE = "master_closed"
MESSAGE_LABEL = "主件办结（合并件随主件办结）"
WAITING, FOLLOWED = "已合并，随主件办理", "已随主件办结"
FIELD, TITLE = "duplicate_of", "「重复的问题编号」"
CANDIDATES = 10
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def _dispatch_versions():
    return (select(ProcessVersion.id).join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
            .where(ProcessDefinition.key == PROCESS))


def master_of(session: Session, instance_id: int) -> ProcessInstance | None:
    link = session.get(ItemLink, instance_id)
    return session.get(ProcessInstance, link.master_instance_id) if link and link.master_instance_id else None


def _refusal(session: Session, item: ProcessInstance, key, master: ProcessInstance | None) -> str | None:
    """Why the item cannot be merged into ``master``, the item ``key`` names (None: it can)."""
    if not isinstance(key, str) or not key.strip():
        return f"{TITLE}为必填项：请填写或选择主件的事项编号"
    key = key.strip()
    if master is None:
        return f"{TITLE}中的问题编号「{key}」不存在"
    if master.id == item.id:
        return f"{TITLE}「{key}」是本事项自身，不能合并到自己；请填写另一件相同问题的事项编号"
    if master.version_id not in set(session.scalars(_dispatch_versions())):
        return f"{TITLE}「{key}」不是企业问题交办事项，只能合并到企业问题交办事项"
    above = master_of(session, master.id)
    if above is not None or master.item_status == WAITING:
        shown = f"，请合并到其主件 {above.business_key}" if above is not None else ""
        return f"{TITLE}「{key}」本身已合并到其他事项{shown}"
    if master.status != "running":
        state = master.item_status or "已结束"
        return f"{TITLE}「{key}」已办结（{state}），不能合并到已办结的事项；请受理本事项并交办"
    return None


def link_master(ctx: OperationContext, params: dict) -> dict:
    """The triage's merge: check the master and store the link, audited on both items (the triage's transaction)."""
    session = ctx.session
    item = session.get(ProcessInstance, ctx.instance_id)
    key = params.get("master")
    # The master's row is locked (PostgreSQL; SQLite writes one at a time): a master completing at this moment
    # either has ended when it is read here (refused) or finds this link when its end closes its merged items.
    master = session.execute(select(ProcessInstance).where(ProcessInstance.business_key == key.strip())
                             .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none() \
        if isinstance(key, str) and key.strip() else None
    problem = _refusal(session, item, key, master)
    if problem:
        raise ValidationFailed({FIELD: problem})
    assert master is not None
    link = session.get(ItemLink, item.id)
    if link is None:
        session.add(ItemLink(instance_id=item.id, master_instance_id=master.id))
    else:
        link.master_instance_id = master.id
    who = getattr(ctx.actor, "username", None)
    session.add(AuditRecord(instance_id=item.id, action="merged_into", actor=who, at=ctx.now,
                            data={"master": master.business_key, "title": master.title}))
    session.add(AuditRecord(instance_id=master.id, action="merged_item_added", actor=who, at=ctx.now,
                            data={"item": item.business_key, "title": item.title}))
    return {"id": master.id, "business_key": master.business_key, "title": master.title or ""}


def candidates(session: Session, instance_id: int, limit: int = CANDIDATES) -> list[dict]:
    """Open problem items the item may be a duplicate of: those of the same registry enterprise or the same
    enterprise name, not merged themselves, newest first (indexed reads: the enterprise link, the subject)."""
    item = session.get(ProcessInstance, instance_id)
    if item is None:
        return []
    own = session.get(ItemLink, instance_id)
    same = [ProcessInstance.subject == item.subject] if item.subject else []
    if own is not None and own.enterprise_id is not None:
        linked = select(ItemLink.instance_id).where(ItemLink.enterprise_id == own.enterprise_id)
        same.append(ProcessInstance.id.in_(linked))
    if not same:
        return []
    theirs = aliased(ItemLink)
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.title, ProcessInstance.item_status)
        .outerjoin(theirs, theirs.instance_id == ProcessInstance.id)
        .where(ProcessInstance.status == "running", ProcessInstance.id != instance_id, or_(*same),
               theirs.master_instance_id.is_(None), ProcessInstance.version_id.in_(_dispatch_versions()))
        .order_by(ProcessInstance.id.desc()).limit(limit))
    return [{"id": i, "business_key": k, "title": t or "", "item_status": s or "",
             "label": f"{k} {t or ''}（{s or '办理中'}）"} for i, k, t, s in rows if s != WAITING]


def related(session: Session, instance_id: int) -> dict:
    """The item's master (if merged) and the items merged into it, for its page."""
    master = master_of(session, instance_id)
    merged = session.execute(
        select(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.title, ProcessInstance.item_status)
        .join(ItemLink, ItemLink.instance_id == ProcessInstance.id)
        .where(ItemLink.master_instance_id == instance_id).order_by(ProcessInstance.id)).all()
    return {"master": None if master is None else {"id": master.id, "business_key": master.business_key,
                                                   "title": master.title or "", "item_status": master.item_status},
            "merged": [{"id": i, "business_key": k, "title": t or "", "item_status": s} for i, k, t, s in merged]}


def outcome(master: ProcessInstance, data: dict, now: datetime, tz) -> dict:
    """What a merged item copies from its master when the master closes."""
    status = data.get("item_status") or master.item_status or "已办结"
    answer = data.get("item_answer")
    if not answer and data.get("triage_decision") == "reject":
        answer = f"主件不予受理：{data.get('triage_reason') or ''}".rstrip("：")
    return {"master_id": master.id, "master_key": master.business_key, "master_title": master.title or "",
            "master_status": status, "answer": answer or "", "lead_department": data.get("lead_department"),
            "co_answers": data.get("co_answers") or [], "closed_on": now.astimezone(tz).date().isoformat(),
            "closed_at": now.isoformat()}


def close_merged(tz):
    """The completion handler of problem_dispatch: the master's outcome to each of its open merged items."""
    from engine.runtime import messages

    def handler(session: Session, master: ProcessInstance, data: dict, now: datetime) -> None:
        merged = list(session.execute(
            select(ProcessInstance.id, ProcessInstance.business_key).join(ItemLink, ItemLink.instance_id == ProcessInstance.id)
            .where(ItemLink.master_instance_id == master.id, ProcessInstance.status == "running")
            .order_by(ProcessInstance.id)))
        if not merged:
            return
        payload = outcome(master, data, now, tz)
        sent = [key for item_id, key in merged
                if messages.send(session, item_id, MESSAGE, payload, f"{MESSAGE}:{master.id}:{item_id}", now, master.id)]
        session.add(AuditRecord(instance_id=master.id, action="merged_items_closing", actor="system", at=now,
                                data={"items": sent, "status": payload["master_status"]}))
    return handler


def contact_of(text) -> tuple[str | None, str | None]:
    """(email, mobile) found in the registration's 企业联系人及电话."""
    if not isinstance(text, str):
        return None, None
    email, mobile = _EMAIL.search(text), _MOBILE.search(text)
    return (email.group(0) if email else None), (mobile.group(1) if mobile else None)


def tell_enterprise(ctx: OperationContext, params: dict) -> dict:
    """A merged item closed with its master: its enterprise's service officer and its contact are told, and the
    close is audited (the merged item's step)."""
    from engine.policy.dispatch.procedure import service_officers
    from notifications.channels import Contact
    from notifications.outbox import Notice

    notice = params.get("notice") if isinstance(params.get("notice"), dict) else {}
    result = notice.get("outcome") if isinstance(notice.get("outcome"), dict) else {}
    item = ctx.session.get(ProcessInstance, ctx.instance_id)
    services = ctx.services
    context = {"matter": matter_of(item), "business_key": item.business_key, "master_key": result.get("master_key", ""),
               "master_title": result.get("master_title", ""), "master_status": result.get("master_status", ""),
               "answer": result.get("answer") or "", "lead_department": result.get("lead_department") or "",
               "closed_on": result.get("closed_on") or ""}
    link = f"{services.settings.base_url.rstrip('/')}/items/{item.id}"
    key = f"merged_closed:{item.id}:{result.get('master_id')}"
    data = {"event": "merged_closed", "business_key": item.business_key, "master": context["master_key"]}
    officers = service_officers(ctx.session, item.id, notice.get("enterprise_uscc"))
    services.notifier.notify(ctx.session, Notice(key=key, template="merged_closed", context=context, link=link,
                                                 data=data), officers, None, ctx.now)
    email, mobile = contact_of(notice.get("contact"))
    reached: list[dict] = []
    if email or mobile:
        contact = Contact(label=str(notice.get("contact")), email=email, mobile=mobile)
        reached = services.notifier.notify_contact(
            ctx.session, Notice(key=f"{key}:contact", template="merged_closed_contact", context=context, data=data),
            contact, ctx.now)
    record = {"master": context["master_key"], "master_status": context["master_status"],
              "officers": [u.username for u in officers], "contact": [r["to"] for r in reached],
              "contact_unreached": bool(email or mobile) and not reached}
    ctx.session.add(AuditRecord(instance_id=item.id, action="merged_closed", actor="system", at=ctx.now, data=record))
    return record


def release_merged(tz):
    """The cancel handler of problem_dispatch: a master given up (an administrator cancelled it after it
    failed) resolves nothing, so its open merged items are unlinked and sent back to 研判 (the message carries
    ``cancelled``), each audited; the master records whom it released."""
    from engine.runtime import messages

    def handler(session: Session, master: ProcessInstance, _data: dict, now: datetime) -> None:
        links = list(session.scalars(
            select(ItemLink).join(ProcessInstance, ItemLink.instance_id == ProcessInstance.id)
            .where(ItemLink.master_instance_id == master.id, ProcessInstance.status == "running")
            .order_by(ItemLink.instance_id)))
        if not links:
            return
        payload = {"cancelled": True, "master_id": master.id, "master_key": master.business_key,
                   "master_title": master.title or "", "master_status": "已撤销", "answer": "",
                   "lead_department": None, "co_answers": [], "closed_on": now.astimezone(tz).date().isoformat(),
                   "closed_at": now.isoformat()}
        released = []
        for link in links:
            link.master_instance_id = None
            item = session.get(ProcessInstance, link.instance_id)
            if messages.send(session, link.instance_id, MESSAGE, payload, f"{MESSAGE}:{master.id}:{link.instance_id}",
                             now, master.id):
                released.append(item.business_key)
                session.add(AuditRecord(instance_id=item.id, action="merge_released", actor="system", at=now,
                                        data={"master": master.business_key}))
        session.add(AuditRecord(instance_id=master.id, action="merged_items_released", actor="system", at=now,
                                data={"items": released}))
    return handler
