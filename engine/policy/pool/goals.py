"""The policy's goals (section 一 of the policy) against the enterprise registry."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.storage.models import Enterprise

GRADED = ("innovative", "specialized", "little_giant")  # the tiers of 梯度培育


def goals_in(session: Session) -> list[dict]:
    """The goals against the registry, read in the caller's transaction."""
    count = {tier: session.scalar(select(func.count(Enterprise.id)).where(Enterprise.tier == tier)) or 0
             for tier in GRADED}
    in_pool = session.scalar(select(func.count(Enterprise.id)).where(Enterprise.in_pool.is_(True))) or 0
    new_2022 = session.scalar(select(func.count(Enterprise.id)).where(
        Enterprise.tier.in_(GRADED),
        Enterprise.tier_since >= date(2022, 1, 1), Enterprise.tier_since <= date(2022, 12, 31))) or 0
    tiered = sum(count.values())
    return [
        {"goal": "到2022年底新培育“专精特新”企业10家以上", "target": 10, "actual": new_2022, "deadline": "2022-12-31"},
        {"goal": "到2025年市级“专精特新”中小企业50家以上", "target": 50, "actual": count["specialized"],
         "deadline": "2025-12-31"},
        {"goal": "到2025年国家专精特新“小巨人”企业1—2家", "target": 1, "actual": count["little_giant"],
         "deadline": "2025-12-31"},
        {"goal": "梯度培育企业（创新型、专精特新、小巨人）合计", "target": None, "actual": tiered, "deadline": None},
        {"goal": "培育库在库企业", "target": None, "actual": in_pool, "deadline": None},
    ]
