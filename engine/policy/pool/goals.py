"""The policy's goals (section 一 of the action plan) counted from the enterprise registry as at a day.

Who counts, in the plan's words: 「创新型中小企业、“专精特新”中小企业、国家专精特新“小巨人”企业（以下统称
“专精特新”企业）」. The tiers are cumulative: a 小巨人 is also a 市级“专精特新”中小企业 (it is recognised from
among them), and every tier is a “专精特新”企业 of goal 1. A recognition counts from ``tier_since`` through
``tier_valid_until`` (none recorded: no expiry); an expired one does not count. A 科技型企业 counts while the
flag 区科技局 keeps (``tech_since`` … ``tech_valid_until``, engine.policy.pool.tech) is valid on the day.

The two 2022 goals are counted on 2022-12-31 once that day is past (new recognitions of any tier in 2022; the
科技型企业 flag valid then), from the registry as it stood at the day asked for: a recognition entered later with
an earlier date counts once entered. The 2025 goals count on the day asked for (a circular of 2026 shows where
the district stands). A firm recognised in 2022 and upgraded since still counts as 新培育 in 2022 when the
registry knew its 2022 recognition at 2022's end (the change log keeps it); one entered later with only its
newer recognition cannot be told apart. Four queries, whatever the registry's size.

As at a past day the registry is its current rows rolled back through the change log written after that
day (``EnterpriseChange.changes`` holds ``[old, new]`` per field, newest undone first); an enterprise whose
``created`` record is later was not in the registry then.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage.models import Enterprise, EnterpriseChange

GRADED = ("innovative", "specialized", "little_giant")  # the tiers of 梯度培育, lowest first
RANK = {"none": 0, **{tier: rank for rank, tier in enumerate(GRADED, 1)}}
_FIELDS = ("tier", "tier_since", "tier_valid_until", "in_pool", "tech_since", "tech_valid_until")
_DATES = ("tier_since", "tier_valid_until", "tech_since", "tech_valid_until")
NEW_IN_2022 = (date(2022, 1, 1), date(2022, 12, 31))


@dataclass
class Standing:
    """An enterprise's recognition and pool membership at some moment."""

    tier: str
    tier_since: date | None
    tier_valid_until: date | None
    in_pool: bool
    tech_since: date | None = None
    tech_valid_until: date | None = None

    def recognised(self, day: date) -> bool:
        """A tier held and valid on ``day``."""
        return (RANK.get(self.tier, 0) > 0 and (self.tier_since is None or self.tier_since <= day)
                and (self.tier_valid_until is None or self.tier_valid_until >= day))

    def tech(self, day: date) -> bool:
        """A 科技型企业 on ``day``: flagged by 区科技局 and not expired."""
        return (self.tech_since is not None and self.tech_since <= day
                and (self.tech_valid_until is None or self.tech_valid_until >= day))

    def holds(self, tier: str, day: date) -> bool:
        """``tier`` or a higher one, valid on ``day``."""
        return self.recognised(day) and RANK.get(self.tier, 0) >= RANK[tier]

    def undo(self, changes: dict) -> None:
        for field in _FIELDS:
            pair = changes.get(field)
            if isinstance(pair, list) and pair:
                old = pair[0]
                if field in _DATES:
                    old = date.fromisoformat(old) if old else None
                elif field == "tier":
                    old = old or "none"
                elif field == "in_pool":
                    old = bool(old)
                setattr(self, field, old)


def standings_at(session: Session, day: date, tz: ZoneInfo) -> list[Standing]:
    """Each enterprise in the registry at the end of ``day`` (in ``tz``), as it stood then."""
    return list(_standings(session, day, tz).values())


def _standings(session: Session, day: date, tz: ZoneInfo) -> dict[int, Standing]:
    after = datetime.combine(day + timedelta(days=1), time(0), tz)
    rows = session.execute(select(Enterprise.id, Enterprise.tier, Enterprise.tier_since, Enterprise.tier_valid_until,
                                  Enterprise.in_pool, Enterprise.tech_since, Enterprise.tech_valid_until))
    standings = {i: Standing(tier or "none", since, until, bool(in_pool), tech, tech_until)
                 for i, tier, since, until, in_pool, tech, tech_until in rows}
    later = session.execute(select(EnterpriseChange.enterprise_id, EnterpriseChange.changes)
                            .where(EnterpriseChange.at >= after)
                            .order_by(EnterpriseChange.id.desc()))  # undone in the reverse order of writing
    gone: set[int] = set()
    for enterprise_id, changes in later:
        standing = standings.get(enterprise_id)
        if standing is None or enterprise_id in gone:
            continue
        if "created" in (changes or {}):
            gone.add(enterprise_id)
        else:
            standing.undo(changes or {})
    return {i: s for i, s in standings.items() if i not in gone}


def goals_in(session: Session, day: date, tz: ZoneInfo) -> list[dict]:
    """The goals as at the end of ``day`` (a circular's period end, or today), in the caller's transaction."""
    return [{k: v for k, v in g.items() if k != "members"} for g in goals_with_members(session, day, tz)]


def goals_with_members(session: Session, day: date, tz: ZoneInfo) -> list[dict]:
    """:func:`goals_in` with each goal's ``members``, the ids of the enterprises it counts (``actual`` is
    their number): the one definition of who counts, which a circular's drill-down lists."""
    by_id = _standings(session, day, tz)
    first, last = NEW_IN_2022[0], min(NEW_IN_2022[1], day)
    # 新培育 in 2022: recognised then by what the registry knows on the day, or by the registry as it stood at
    # 2022's end (a firm upgraded since has a later tier_since now; the change log keeps its 2022 one).
    then = by_id if day <= last else _standings(session, last, tz)
    new_2022 = {i for known in (by_id, then) for i, s in known.items() if s.recognised(last)
                and s.tier_since is not None and first <= s.tier_since <= last}

    def having(test) -> set[int]:
        return {i for i, s in by_id.items() if test(s)}

    rows = [
        ("new_2022", "到2022年底新培育“专精特新”企业10家以上", 10, new_2022, "2022-12-31"),
        ("specialized_2025", "到2025年市级“专精特新”中小企业50家以上（含“小巨人”）", 50,
         having(lambda s: s.holds("specialized", day)), "2025-12-31"),
        ("little_giant_2025", "到2025年国家专精特新“小巨人”企业1—2家", 1,
         having(lambda s: s.holds("little_giant", day)), "2025-12-31"),
        ("tiered", "梯度培育企业（创新型、专精特新、小巨人）合计", None, having(lambda s: s.recognised(day)), None),
        ("in_pool", "培育库在库企业", None, having(lambda s: s.in_pool), None),
        # Appended, so readers of the rows above by position keep them: counted from 区科技局's flag.
        ("tech_2022", "到2022年底科技型企业40家以上", 40, having(lambda s: s.tech(last)), "2022-12-31"),
        ("tech_2025", "到2025年全区科技型企业达到600家", 600, having(lambda s: s.tech(day)), "2025-12-31"),
    ]
    return [{"id": key, "goal": goal, "target": target, "actual": len(members), "deadline": deadline,
             "members": members} for key, goal, target, members, deadline in rows]
