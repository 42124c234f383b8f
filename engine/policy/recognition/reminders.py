"""Six months before a recognition ends its enterprise's service officer is told, once per recognition.

Found by the indexed ``tier_valid_until`` (the recognitions ending between today and six months on, a
handful), told once: ``tier_reminded_for`` keeps the end reminded of and the notice's key names it."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select

from engine.localtime import today as local_today
from engine.policy.recognition.outcomes import TIER_LABELS
from engine.storage.models import Enterprise, User

REMIND_MONTHS = 6


def months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def _due(day: date):
    return (select(Enterprise.id)
            .where(Enterprise.tier_valid_until.is_not(None), Enterprise.tier_valid_until >= day,
                   Enterprise.tier_valid_until <= months_later(day, REMIND_MONTHS), Enterprise.tier != "none",
                   or_(Enterprise.tier_reminded_for.is_(None),
                       Enterprise.tier_reminded_for != Enterprise.tier_valid_until)))


def due_probe(services, now: datetime):
    """A query with a row when some recognition ends within six months and its officer was not told."""
    return _due(local_today(lambda: now, services.workflows.tz))


def remind_due(services, limit: int) -> int:
    """Tell the officers of up to ``limit`` recognitions ending within six months; returns how many."""
    from notifications.outbox import Notice

    now = services.workflows.clock()
    day = local_today(lambda: now, services.workflows.tz)
    base_url = services.settings.base_url.rstrip("/")
    with services.db.write() as session:
        ids = list(session.scalars(_due(day).order_by(Enterprise.tier_valid_until, Enterprise.id).limit(limit)))
        for enterprise in session.scalars(select(Enterprise).where(Enterprise.id.in_(ids))):
            enterprise.tier_reminded_for = enterprise.tier_valid_until
            officer = session.get(User, enterprise.service_officer_id) if enterprise.service_officer_id else None
            until = enterprise.tier_valid_until.isoformat()
            context = {"enterprise": enterprise.name, "tier": TIER_LABELS.get(enterprise.tier, enterprise.tier),
                       "valid_until": until}
            services.notifier.notify(session, Notice(key=f"recognition_expiry:{enterprise.id}:{until}",
                                                     template="recognition_expiry", context=context,
                                                     link=f"{base_url}/enterprises/{enterprise.id}",
                                                     data={"enterprise": enterprise.uscc, "valid_until": until}),
                                     [officer] if officer else [], None, now)
    return len(ids)
