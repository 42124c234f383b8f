"""Cultivation-pool admission: the facts the diagram asks for and the outcome it leaves.

``assess`` is what the pool_admission diagram's script calls (through the script helpers):
it reads the enterprise from the registry and runs the DMN decisions. ``on_completed`` applies
the finished instance's result to the registry and tells the enterprise's service officer, in
the transaction that completed the instance.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import WorkflowFailed
from engine.identity.org import DISPATCHER_DEPARTMENT
from engine.policy.pool import scope
from engine.policy.pool.eligibility import Decisions, Inputs, decide, industries
from engine.storage.models import Enterprise, EnterpriseChange, ProcessInstance, User

POOL_VALIDITY_YEARS = 3  # for instances started before the diagram carried pool_validity_years


def _enterprise(session: Session, code: str) -> Enterprise:
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == code.strip().upper()))
    if enterprise is None:
        raise WorkflowFailed(f"企业 {code} 不在企业库中")
    return enterprise


def inputs_of(e: Enterprise, today: date) -> Inputs:
    """What the decision reads of a registry record (also the 拟培育库's gaps)."""
    return Inputs(as_of=today, registered_on=e.registered_on, in_district=e.in_district,
                  independent_legal_person=e.independent_legal_person, industry=e.industry, employees=e.employees,
                  sector=e.sector, financial_type=e.financial_type,
                  years={y.year: {"revenue": y.revenue, "rd_expense": y.rd_expense, "net_profit": y.net_profit,
                                  "total_assets": y.total_assets, "total_liabilities": y.total_liabilities}
                         for y in e.years})


def assess(session: Session, decisions: Decisions, code: str, today: date) -> dict:
    e = _enterprise(session, code)
    result = decide(inputs_of(e, today), decisions)
    department = next((i["department"] for i in industries() if i["name"] == e.industry), DISPATCHER_DEPARTMENT)
    # Only JSON-friendly values go into the workflow's data.
    criteria = [{k: c[k] for k in ("id", "label", "mandatory", "passed", "threshold", "message")} for c in
                result["criteria"]]
    return {"eligible": result["eligible"], "sme_class": result["sme_class"], "summary": result["summary"],
            "criteria": criteria, "enterprise": e.name, "review_department": department,
            "last_year": result["last_year"], "sector": e.sector,
            # 重点支持 is shown beside the result, never decides it (行动计划二（一）: 重点支持, not 仅限)
            "key_field_mark": f"重点支持领域：{e.key_field}" if scope.key_supported(e.key_field) else None}


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years) - timedelta(days=1)
    except ValueError:
        return day.replace(year=day.year + years, day=28) - timedelta(days=1)


def make_completion_handler(notifier, tz, base_url: str):
    from notifications.outbox import Notice

    def on_completed(session: Session, instance: ProcessInstance, data: dict, now: datetime) -> None:
        result = data.get("admission_result")
        if result is None:
            return
        enterprise = _enterprise(session, data["enterprise_uscc"])
        today = now.astimezone(tz).date()
        if result == "admitted":  # validity: the diagram's property pool_validity_years (a district setting)
            years = int(data.get("pool_validity_years") or POOL_VALIDITY_YEARS)
            changes = {"in_pool": [enterprise.in_pool, True],
                       "pool_since": [_iso(enterprise.pool_since), today.isoformat()],
                       "pool_valid_until": [_iso(enterprise.pool_valid_until),
                                            _plus_years(today, years).isoformat()]}
            enterprise.in_pool = True
            enterprise.pool_since = today
            enterprise.pool_valid_until = _plus_years(today, years)
            session.add(EnterpriseChange(enterprise_id=enterprise.id, at=now, actor="system", source="admission",
                                         changes={**changes, "instance": [None, instance.business_key]}))
        recipients = []
        if enterprise.service_officer_id:
            recipients.append(session.get(User, enterprise.service_officer_id))
        if instance.started_by and instance.started_by != "system":
            starter = session.scalar(select(User).where(User.username == instance.started_by))
            if starter is not None and starter not in recipients:
                recipients.append(starter)
        context = {"enterprise": enterprise.name, "business_key": instance.business_key, "result": result,
                   "valid_until": enterprise.pool_valid_until.isoformat() if enterprise.pool_valid_until else "",
                   "reasons": data.get("admission_reasons") or []}
        notice = Notice(key=f"admission:{instance.id}", template="admission_result", context=context,
                        link=f"{base_url.rstrip('/')}/items/{instance.id}",
                        data={"enterprise": enterprise.uscc, "result": result})
        notifier.notify(session, notice, recipients, None, now)
        if (instance.started_by or "").startswith("enterprise:"):  # applied in the portal: its contact too
            from engine.policy.pool.portal import tell_applicant

            tell_applicant(session, notifier, instance.id, context, now)

    return on_completed


def _iso(value):
    return value.isoformat() if value else None


def make_removal_handler(notifier, base_url: str):
    """pool_data_update: an enterprise that missed its yearly update may be removed from the pool."""
    from notifications.outbox import Notice

    def on_completed(session: Session, instance: ProcessInstance, data: dict, now: datetime) -> None:
        if not data.get("removed_from_pool"):
            return
        enterprise = _enterprise(session, data["enterprise_uscc"])
        if enterprise.in_pool:
            enterprise.in_pool = False
            session.add(EnterpriseChange(enterprise_id=enterprise.id, at=now, actor="system", source="removal",
                                         changes={"in_pool": [True, False],
                                                  "reason": [None, data.get("removal_reason")],
                                                  "instance": [None, instance.business_key]}))
        officer = session.get(User, enterprise.service_officer_id) if enterprise.service_officer_id else None
        context = {"enterprise": enterprise.name, "business_key": instance.business_key, "result": "removed",
                   "valid_until": "", "reasons": [data.get("removal_reason") or "逾期未更新年度数据"]}
        notifier.notify(session, Notice(key=f"removal:{instance.id}", template="admission_result", context=context,
                                        link=f"{base_url.rstrip('/')}/items/{instance.id}"),
                        [officer] if officer else [], None, now)

    return on_completed
