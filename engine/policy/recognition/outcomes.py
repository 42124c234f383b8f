"""What a recognition batch leaves in the registry when it completes, and what its diagram's scripts check.

A recognition writes the enterprise's tier, tier_since and tier_valid_until through the registry's change log
(source ``recognition``, the batch's business key with it) and the batch's audit trail records each outcome
(``recognition_recorded``), so the goals (engine.policy.pool.goals) count it
from the moment it was recorded; the service officer is told of each outcome, recognised or not."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.org import DISPATCHER_DEPARTMENT
from engine.policy.pool.admission import _plus_years
from engine.policy.pool.eligibility import industries
from engine.storage.models import AuditRecord, Enterprise, EnterpriseChange, ProcessInstance, User

DEFAULT_VALIDITY_YEARS = 3  # the process property recognition_validity_years overrides it
TIER_LABELS = {"specialized": "市级专精特新中小企业", "little_giant": "专精特新“小巨人”企业"}


def department_of(industry: str | None) -> str:
    """The enterprise's 行业主管部门 (engine/data/industries.json)."""
    return next((i["department"] for i in industries() if i["name"] == industry), DISPATCHER_DEPARTMENT)


def proposing_departments(session: Session) -> list[str]:
    """The industry departments of the pool's enterprises, one proposal task each."""
    found = session.scalars(select(Enterprise.industry).where(Enterprise.in_pool.is_(True)).distinct())
    return sorted({department_of(industry) for industry in found})


def _by_code(session: Session, codes: list[str]) -> dict[str, Enterprise]:
    wanted = [str(c).strip().upper()[:18] for c in codes][:200]
    return {e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(wanted)))} if wanted else {}


def outside_pool(session: Session, proposals: list, department: str, tier: str | None, today: date) -> str:
    """Why the proposals cannot go forward, naming each enterprise ("" when they can): each must be in the
    cultivation pool and of the department's industries, and for 小巨人 a 市级专精特新中小企业 recognised and
    valid ``today`` (the city recognises 小巨人 from among them)."""
    codes = [str(p.get("enterprise_uscc", "")).strip().upper() for p in proposals or []]
    found = _by_code(session, codes)
    problems = []
    for code in codes:
        e = found.get(code)
        if e is None:
            problems.append(f"统一社会信用代码 {code or '（空）'} 不在企业库中")
        elif not e.in_pool:
            problems.append(f"「{e.name}」未入培育库")
        elif department_of(e.industry) != department:
            problems.append(f"「{e.name}」属{e.industry or '未填行业'}，不是本部门主管的行业")
        elif tier == "little_giant" and not _specialized_on(e, today):
            problems.append(f"「{e.name}」不是有效期内的市级专精特新中小企业，不能推荐申报“小巨人”")
    if not problems:
        return ""
    return "；".join(problems) + "。推荐企业须为本部门主管行业的培育库在库企业"


def _specialized_on(e: Enterprise, day: date) -> bool:
    return (e.tier in ("specialized", "little_giant") and (e.tier_since is None or e.tier_since <= day)
            and (e.tier_valid_until is None or e.tier_valid_until >= day))


def proposal_rows(session: Session, proposals: list, department: str) -> list[dict]:
    """The proposals as the review shows them: code, name, industry, department, reason."""
    found = _by_code(session, [str(p.get("enterprise_uscc", "")) for p in proposals or []])
    rows = []
    for p in proposals or []:
        e = found.get(str(p.get("enterprise_uscc", "")).strip().upper())
        if e is not None:
            rows.append({"enterprise_uscc": e.uscc, "enterprise_name": e.name, "industry": e.industry or "",
                         "department": department, "reason": p.get("reason") or ""})
    return rows


def _recognise(session: Session, enterprise: Enterprise, tier: str, since: date, until: date,
               instance: ProcessInstance, now: datetime) -> None:
    changes = {"tier": [enterprise.tier, tier],
               "tier_since": [_iso(enterprise.tier_since), since.isoformat()],
               "tier_valid_until": [_iso(enterprise.tier_valid_until), until.isoformat()]}
    enterprise.tier, enterprise.tier_since, enterprise.tier_valid_until = tier, since, until
    enterprise.tier_reminded_for = None  # a new recognition: its own reminder
    session.add(EnterpriseChange(enterprise_id=enterprise.id, at=now, actor="system", source="recognition",
                                 changes={**changes, "instance": [None, instance.business_key]}))


def make_completion_handler(notifier, base_url: str):
    from notifications.outbox import Notice

    def on_completed(session: Session, instance: ProcessInstance, data: dict, now: datetime) -> None:
        tier = data.get("tier")
        years = int(data.get("validity_years") or DEFAULT_VALIDITY_YEARS)
        outcomes = data.get("outcomes") or []
        found = _by_code(session, [o.get("enterprise_uscc", "") for o in outcomes])
        for outcome in outcomes:
            enterprise = found.get(str(outcome.get("enterprise_uscc", "")).strip().upper())
            if enterprise is None or tier not in TIER_LABELS:
                continue
            recognised = bool(outcome.get("recognised"))
            if recognised:
                since = date.fromisoformat(outcome["recognised_on"])
                until = (date.fromisoformat(outcome["valid_until"]) if outcome.get("valid_until")
                         else _plus_years(since, years))
                _recognise(session, enterprise, tier, since, until, instance, now)
            session.add(AuditRecord(instance_id=instance.id, action="recognition_recorded", actor="system", at=now,
                                    task_name="登记认定结果",
                                    data={"enterprise": enterprise.uscc, "name": enterprise.name, "tier": tier,
                                          "recognised": recognised, "tier_since": _iso(enterprise.tier_since),
                                          "tier_valid_until": _iso(enterprise.tier_valid_until),
                                          "city_reason": outcome.get("city_reason")}))
            officer = session.get(User, enterprise.service_officer_id) if enterprise.service_officer_id else None
            context = {"enterprise": enterprise.name, "tier": TIER_LABELS[tier], "recognised": recognised,
                       "valid_until": _iso(enterprise.tier_valid_until) or "", "business_key": instance.business_key,
                       "reason": outcome.get("city_reason") or ""}
            notifier.notify(session, Notice(key=f"recognition:{instance.id}:{enterprise.id}",
                                            template="recognition_result", context=context,
                                            link=f"{base_url.rstrip('/')}/items/{instance.id}",
                                            data={"enterprise": enterprise.uscc, "recognised": recognised}),
                            [officer] if officer else [], None, now)

    return on_completed


def _iso(value):
    return value.isoformat() if value else None
