"""The units the leading-group office named for the circular (在通报中点名), by period: closing a 督办 item
the clock raised, or lifting a 挂牌督办. One indexed range query on ``circular_naming.named_at``."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage.models import CircularNaming, Department, ProcessInstance

SOURCES = {"supervision": "督办", "listed": "挂牌督办"}


def named_in(session: Session, start: date, end: date, tz: ZoneInfo) -> list[dict]:
    """The namings of the period [start, end] (Beijing dates), oldest first: the unit, the item, its matter,
    the office's reason and slip colour, how it came (督办 / 挂牌督办) and the day."""
    lo, hi = datetime.combine(start, time(0), tz), datetime.combine(end + timedelta(days=1), time(0), tz)
    rows = session.execute(
        select(CircularNaming, Department.name, ProcessInstance.business_key)
        .join(Department, CircularNaming.department_id == Department.id)
        .outerjoin(ProcessInstance, CircularNaming.item_id == ProcessInstance.id)
        .where(CircularNaming.named_at >= lo, CircularNaming.named_at < hi)
        .order_by(CircularNaming.named_at, CircularNaming.id)).all()
    return [{"department": department, "business_key": key or "", "matter": n.matter, "reason": n.reason,
             "colour": n.colour, "source": SOURCES.get(n.source, n.source),
             "day": n.named_at.astimezone(tz).date().isoformat()} for n, department, key in rows]


def departments(named: list[dict]) -> list[str]:
    """The named units, each once, in the order they were named."""
    return list(dict.fromkeys(n["department"] for n in named))
