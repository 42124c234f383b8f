"""The circular's goals count the registry as it stood at the period's end, from its change log:
tiers cumulative as the action plan means them (a 小巨人 is also a 专精特新中小企业), expired
recognitions left out, enterprises registered later left out. Values worked out by hand below."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import event

from engine.identity.authz import actor_for
from engine.policy.pool.goals import goals_in
from engine.storage.models import Circular, Enterprise, EnterpriseChange
from tests.helpers import uscc

BJ = ZoneInfo("Asia/Shanghai")
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
LITTLE, SPECIALIZED, INNOVATIVE = "专精特新“小巨人”企业", "专精特新中小企业", "创新型中小企业"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def save(zjtx, key: str, tier: str, since: str, until: str, enterprise_id: int | None = None) -> int:
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    record = {"name": f"重庆黔江{key}科技有限公司", "uscc": uscc(f"91500114MA5U8{key}0"), "registered_on": "2019-05-20",
              "in_district": "是", "independent_legal_person": True, "industry": "工业", "employees": 120,
              "tier": tier, "tier_since": since, "tier_valid_until": until}
    return zjtx.enterprises.save(dispatcher, record, enterprise_id=enterprise_id)


def crafted_registry(zjtx) -> None:
    """Eight enterprises, as at 2026-10-31 (end of day, Beijing) and as on 2026-12-15:

    A  创新型 in September; 专精特新 since 10-10, upgraded 10-31 23:30 (in the period)   专精特新 | 专精特新, in the pool 11-10
    B  专精特新 since 2025; 小巨人 since 11-15, upgraded 11-01 00:30 (after it)         专精特新 | 小巨人
    C  小巨人 since 2024, valid to 2027-06-30                                            小巨人   | 小巨人
    D  专精特新, valid to 2026-10-20 (expired in the period)                             —        | —
    E  专精特新, valid to 2026-11-30 (expires after the period)                          专精特新 | —
    F  专精特新 since 08-01, registered 11-05 (after the period)                         absent   | 专精特新
    G  专精特新, registered 12-01                                                        absent   | 专精特新
    H  创新型 since 2022-05-01, valid to 2025-04-30 (new in 2022, expired since)         —        | —
    """
    with time_machine.travel(at("2026-09-10 10:00"), tick=False) as clock:
        a = save(zjtx, "AAA", INNOVATIVE, "2026-06-01", "2029-05-31")
        b = save(zjtx, "BBB", SPECIALIZED, "2025-04-01", "2028-03-31")
        save(zjtx, "CCC", LITTLE, "2024-07-01", "2027-06-30")
        save(zjtx, "DDD", SPECIALIZED, "2023-10-21", "2026-10-20")
        save(zjtx, "EEE", SPECIALIZED, "2023-12-01", "2026-11-30")
        save(zjtx, "HHH", INNOVATIVE, "2022-05-01", "2025-04-30")
        clock.move_to(at("2026-10-31 23:30"))
        save(zjtx, "AAA", SPECIALIZED, "2026-10-10", "2029-10-09", enterprise_id=a)
        clock.move_to(at("2026-11-01 00:30"))  # still October 31 in UTC: after the period all the same
        save(zjtx, "BBB", LITTLE, "2026-11-15", "2029-11-14", enterprise_id=b)
        clock.move_to(at("2026-11-05 10:00"))
        save(zjtx, "FFF", SPECIALIZED, "2026-08-01", "2029-07-31")
        clock.move_to(at("2026-11-10 10:00"))
        with zjtx.db.write() as session:  # as the admission's handler writes it (engine.policy.pool.admission)
            session.get(Enterprise, a).in_pool = True
            session.add(EnterpriseChange(enterprise_id=a, at=at("2026-11-10 10:00"), actor="system",
                                         source="admission", changes={"in_pool": [False, True]}))
        clock.move_to(at("2026-12-01 10:00"))
        save(zjtx, "GGG", SPECIALIZED, "2026-11-20", "2029-11-19")


def actual(goals: list[dict]) -> list[int]:
    return [g["actual"] for g in goals]


# New in 2022, 专精特新 (小巨人 included), 小巨人, all tiers, in the pool:
# then 科技型企业 at the end of 2022 and on the day (none flagged here: tests/policy/test_scope_and_goals.py):
AT_OCTOBER_END = [1, 4, 1, 4, 0, 0, 0]  # H | A B C E | C | A B C E | none | none | none
ON_DECEMBER_15 = [1, 5, 2, 5, 1, 0, 0]  # H | A B C F G | B C | A B C F G | A | none | none


def test_the_goals_as_at_the_period_end_are_rolled_back_from_the_change_log(zjtx):
    crafted_registry(zjtx)
    statements: list[str] = []

    def record(_conn, _cursor, sql, *_args):
        statements.append(sql)

    with time_machine.travel(at("2026-12-15 10:00"), tick=False):
        with zjtx.db.read() as session:
            event.listen(zjtx.db.engine, "before_cursor_execute", record)
            try:
                october = goals_in(session, OCTOBER[1], BJ)
            finally:
                event.remove(zjtx.db.engine, "before_cursor_execute", record)
        today = zjtx.enterprises.goals()
    assert actual(october) == AT_OCTOBER_END
    # Not one per enterprise: the registry as at the day, and as at 2022's end for the 2022 goal's upgraded firms.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 4
    assert actual(today) == ON_DECEMBER_15  # the registry as it is now differs


def test_the_circular_of_a_past_period_shows_the_goals_as_at_its_end(zjtx):
    crafted_registry(zjtx)
    with time_machine.travel(at("2026-12-15 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        with zjtx.db.read() as session:
            circular = session.get(Circular, zjtx.queries.show(started["id"])["data"]["circular_id"])
            goals, text = circular.figures["goals"], circular.text
    assert actual(goals) == AT_OCTOBER_END
    section = text.split("培育目标进展")[1]
    assert section.startswith("\n截至2026年10月31日：\n")
    assert "到2025年市级“专精特新”中小企业50家以上（含“小巨人”）：4 家（目标 50 家）" in section
    assert "到2025年国家专精特新“小巨人”企业1—2家：1 家（目标 1 家）" in section
    assert "培育库在库企业：0 家" in section
