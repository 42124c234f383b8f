"""Every figure of a crafted month's circular lists exactly the items it counts (worked out by hand below);
a published circular keeps those lists, and recomputing the period months later, after more activity,
gives the same figures and lists. The development section on a crafted registry, worked out by hand."""
from __future__ import annotations

import io
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import time_machine
from docx import Document
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.authz import actor_for
from engine.policy.circulars import development
from engine.policy.circulars.evidence import freeze
from engine.policy.dispatch.figures import RATE_PARTS, compute, figure_list
from engine.storage.models import Circular, Enterprise, EnterpriseChange
from tests.helpers import OCTOBER_CO, OCTOBER_LEAD, OCTOBER_WRONG, Item, at, crafted_october, liaison, uscc

BJ = ZoneInfo("Asia/Shanghai")
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
LEAD, CO, WRONG = OCTOBER_LEAD, OCTOBER_CO, OCTOBER_WRONG
A, B, C, D = (f"ZJTX-2026-0000{n}" for n in range(1, 5))  # the crafted month's items (tests.helpers)
# By hand from crafted_october: what each figure counts (a rate: numerator, denominator); every other
# figure of these units counts nothing.
EXPECTED = {
    LEAD: {"received": [A, B], "extension_requests": [B], "due": [A, B], "closed": [A, B], "closed_on_time": [A, B],
           "on_time_rate": ([A, B], [A, B]), "first_time_rate": ([A], [A, B]),  # B was sent back once
           "satisfaction_rate": ([A, B], [A, B]), "solved_rate": ([A], [A, B])},  # B: 部分解决
    CO: {"received": [C, D], "due": [C], "closed": [C], "on_time_rate": ([], [C]), "overdue_now": [D],
         "first_time_rate": ([C], [C]), "satisfaction_rate": ([C], [C]), "solved_rate": ([C], [C]),
         "urged": [D], "supervised": [D]},  # C answered late; D never signed for
    WRONG: {"received": [C], "returns": [C]},
}


def expected(department: str, figure: str) -> list[list[str]]:
    found = EXPECTED[department].get(figure)
    if figure in RATE_PARTS:
        return [list(x) for x in found] if found else [[], []]
    return [found or []]


def keys(result: dict) -> list[list[str]]:
    return [[m["business_key"] for m in part["members"]] for part in result["lists"]]


def check_every_figure(zjtx, circular_id: int) -> None:
    """Each figure of each unit of the circular's table: its lists are the hand-derived ones, and its value is
    their length (a rate: their ratio)."""
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
        table = {r["department"]: r for r in session.get(Circular, circular_id).figures["table"]}
    assert set(table) == set(EXPECTED)
    for department in EXPECTED:
        for figure in (f.id for f in figure_list()):
            result = zjtx.evidence.of_circular(dispatcher, circular_id, True, department, figure)
            assert keys(result) == expected(department, figure), (department, figure)
            assert result["value"] == table[department][figure]
            sizes = [sum(m["amount"] for m in part["members"]) for part in result["lists"]]
            if figure in RATE_PARTS:
                assert result["value"] == (round(100.0 * sizes[0] / sizes[1], 1) if sizes[1] else None)
            else:
                assert [result["value"]] == sizes


def draft_october(zjtx) -> int:
    with time_machine.travel(at("2026-11-06 10:00"), tick=False), zjtx.db.write() as session:
        draft = zjtx.circulars.draft_in(session, *OCTOBER)
        draft_id = draft.id
    return draft_id


def test_every_figure_lists_the_items_it_counts_and_publishing_freezes_them(zjtx):
    IDS.clear()
    crafted_october(zjtx)
    circular_id = draft_october(zjtx)
    check_every_figure(zjtx, circular_id)  # the draft: computed live
    with zjtx.db.read() as session:
        assert "evidence" not in session.get(Circular, circular_id).figures
    with time_machine.travel(at("2026-11-09 10:00"), tick=False), zjtx.db.write() as session:
        zjtx.circulars.publish_in(session, circular_id, "office")
    with zjtx.db.read() as session:
        published = session.get(Circular, circular_id)
        frozen = published.figures
        # What the overdue list and the overdue figure count is one thing.
        assert [o["business_key"] for o in frozen["overdue_items"]] == [
            m["business_key"] for m in frozen["evidence"][CO]["overdue_now"]]
    check_every_figure(zjtx, circular_id)
    overdue = zjtx.evidence.of_circular(actor_for_name(zjtx, "office"), circular_id, False, CO, "overdue_now")
    assert overdue["frozen"] and overdue["lists"][0]["members"][0]["step"] == "签收"
    assert overdue["lists"][0]["members"][0]["at"] == "2026-10-21 23:59"  # its deadline, Beijing time

    # Months later: D signed for and answered, a new item for the lead unit, registry changes; then the
    # period recomputed gives the same figures and lists as frozen.
    with time_machine.travel(at("2027-01-20 10:00"), tick=False):
        d = existing(zjtx, D)
        d.sign(CO)
        d.answer(CO, "已协调解决")
        e = Item(zjtx)
        e.accept()
        e.dispatch(LEAD, days=3)
        e.sign(LEAD)
        e.answer(LEAD, "已办理")
        crafted_registry_later(zjtx)
        with zjtx.db.read() as session:
            circular = session.get(Circular, circular_id)
            again = freeze(session, circular, BJ)
            table = compute(session, *OCTOBER, BJ)["table"]
    assert again == frozen and table == frozen["table"]
    # and the published circular's page still reads the frozen lists: it shows what was stored, not a recount
    check_every_figure(zjtx, circular_id)
    with zjtx.db.write() as session:
        stored = session.get(Circular, circular_id)
        figures = {**stored.figures, "evidence": {**stored.figures["evidence"], CO: {
            **stored.figures["evidence"][CO], "overdue_now": [{**frozen["evidence"][CO]["overdue_now"][0],
                                                              "note": "发布时固定的清单"}]}}}
        stored.figures = figures
    shown = zjtx.evidence.of_circular(actor_for_name(zjtx, "office"), circular_id, False, CO, "overdue_now")
    assert shown["lists"][0]["members"][0]["note"] == "发布时固定的清单"


def actor_for_name(zjtx, username: str):
    with zjtx.db.read() as session:
        return actor_for(session, username)


def existing(zjtx, key: str) -> Item:
    """An item of the crafted month, to walk on."""
    item = Item.__new__(Item)
    item.services, item.key = zjtx, key
    item.id = next(t["instance_id"] for t in zjtx.queries.tasks() if t.get("business_key") == key)
    return item


def test_a_liaison_reads_only_their_own_units_lists(zjtx):
    crafted_october(zjtx)
    circular_id = draft_october(zjtx)
    own = actor_for_name(zjtx, liaison(CO))
    with time_machine.travel(at("2026-11-09 10:00"), tick=False), zjtx.db.write() as session:
        zjtx.circulars.publish_in(session, circular_id, "office")
    assert keys(zjtx.evidence.of_circular(own, circular_id, False, CO, "received")) == [[C, D]]
    with pytest.raises(PermissionDenied):
        zjtx.evidence.of_circular(own, circular_id, False, LEAD, "received")
    with pytest.raises(ValidationFailed) as bad:
        zjtx.evidence.of_circular(own, circular_id, False, CO, "no_such_figure")
    assert "「指标」" in bad.value.message
    with pytest.raises(ValidationFailed) as bad:
        zjtx.evidence.of_circular(own, circular_id, False, "不存在的单位", "received")
    assert "「单位」" in bad.value.message


# -- the development section ------------------------------------------------------------------------

INNOVATIVE, SPECIALIZED, LITTLE = "创新型中小企业", "专精特新中小企业", "专精特新“小巨人”企业"
NO_TIER = "无"


def save(zjtx, key: str, tier: str = NO_TIER, since: str | None = None, years=(), enterprise_id=None) -> int:
    with zjtx.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
    record = {"name": f"重庆黔江{key}科技有限公司", "uscc": uscc(f"91500114MA5U8{key}0"), "registered_on": "2019-05-20",
              "in_district": "是", "independent_legal_person": True, "industry": "工业", "employees": 120,
              "tier": tier, "tier_since": since, "tier_valid_until": None}
    return zjtx.enterprises.save(dispatcher, record, years=list(years), enterprise_id=enterprise_id)


def into_pool(zjtx, enterprise_id: int, when: str) -> None:
    """As the admission's handler writes it (engine.policy.pool.admission)."""
    with zjtx.db.write() as session:
        session.get(Enterprise, enterprise_id).in_pool = True
        session.add(EnterpriseChange(enterprise_id=enterprise_id, at=at(when), actor="system", source="admission",
                                     changes={"in_pool": [False, True]}))


def year(y: int, revenue: int, rd: int | None = None) -> dict:
    return {"year": y, "revenue": revenue, **({"rd_expense": rd} if rd is not None else {})}


IDS: dict[str, int] = {}


def crafted_registry(zjtx) -> None:
    """As at 2026-10-31 (and 09-30):
    PPA  in the pool (09-10); 创新型 since 10-15; 2024 revenue 2,000 万, 2025 2,500 万, R&D 100 万 (4%)
    PPB  in the pool; 专精特新 since 2025-04-01; 2024 3,000 万, 2025 3,000 万, R&D 60 万 (2%)
    PPC  in the pool; no tier; 2025 1,000 万, R&D 30 万 (3%); no 2024 figures (left out of the growth)
    QQA  not in the pool; registered 10-20 as 小巨人 since 10-20
    """
    with time_machine.travel(at("2026-09-10 10:00"), tick=False) as clock:
        IDS["PPA"] = save(zjtx, "PPA", years=[year(2024, 20_000_000), year(2025, 25_000_000, 1_000_000)])
        IDS["PPB"] = save(zjtx, "PPB", SPECIALIZED, "2025-04-01",
                          years=[year(2024, 30_000_000), year(2025, 30_000_000, 600_000)])
        IDS["PPC"] = save(zjtx, "PPC", years=[year(2025, 10_000_000, 300_000)])
        for key in ("PPA", "PPB", "PPC"):
            into_pool(zjtx, IDS[key], "2026-09-10 10:00")
        clock.move_to(at("2026-10-15 10:00"))
        save(zjtx, "PPA", INNOVATIVE, "2026-10-15", enterprise_id=IDS["PPA"])
        clock.move_to(at("2026-10-20 10:00"))
        IDS["QQA"] = save(zjtx, "QQA", LITTLE, "2026-10-20")


def crafted_registry_later(zjtx) -> None:
    """After the period: PPB's 2025 R&D corrected to 150 万, PPC's 2024 figures added and a tier, RRR registered
    and admitted, QQB recognised 专精特新 on 11-03. None of it changes the October section."""
    with time_machine.travel(at("2026-11-03 10:00"), tick=False) as clock:
        if "PPB" in IDS:
            save(zjtx, "PPB", SPECIALIZED, "2025-04-01", years=[year(2025, 30_000_000, 1_500_000)],
                 enterprise_id=IDS["PPB"])
            save(zjtx, "PPC", INNOVATIVE, "2026-11-03", years=[year(2024, 8_000_000)], enterprise_id=IDS["PPC"])
        save(zjtx, "QQB", SPECIALIZED, "2026-11-03")
        clock.move_to(at("2026-11-10 10:00"))
        into_pool(zjtx, save(zjtx, "RRR", years=[year(2024, 10_000_000), year(2025, 50_000_000, 5_000_000)]),
                  "2026-11-10 10:00")


def names(figure: dict) -> list[str]:
    return sorted(m["name"][4:7] for m in figure["members"])


def test_the_development_section_as_at_the_period_end(zjtx):
    IDS.clear()
    crafted_registry(zjtx)
    with time_machine.travel(at("2026-10-22 10:00"), tick=False):  # 区科技局 flags PPC a 科技型企业 in October
        zjtx.enterprises.tech.set_flag(actor_for_name(zjtx, "science_tech_bureau_liaison"),
                                       {"uscc": uscc("91500114MA5U8PPC0"), "tech_since": "2026-10-22"})
    crafted_registry_later(zjtx)
    with time_machine.travel(at("2026-12-15 10:00"), tick=False), zjtx.db.write() as session:
        section = development.section(session, *OCTOBER, BJ)
        circular = zjtx.circulars.draft_in(session, *OCTOBER)
        text, circular_id = circular.text, circular.id
        zjtx.circulars.publish_in(session, circular_id, "office")
    f = {x["id"]: x for x in section["figures"]}
    assert (f["pool"]["value"], names(f["pool"])) == (3, ["PPA", "PPB", "PPC"])
    assert (f["recognised_innovative"]["value"], names(f["recognised_innovative"])) == (1, ["PPA"])
    assert (f["recognised_specialized"]["value"], f["recognised_little_giant"]["value"]) == (0, 1)
    assert names(f["recognised_little_giant"]) == ["QQA"]
    assert (f["rd_ratio"]["value"], names(f["rd_ratio"])) == (3.0, ["PPA", "PPB", "PPC"])  # (4 + 2 + 3) / 3
    # (2,500 + 3,000) / (2,000 + 3,000) − 1 = 10%; PPC had no 2024 figures at the period end.
    assert (f["revenue_growth"]["value"], names(f["revenue_growth"])) == (10.0, ["PPA", "PPB"])
    goals = {g["goal"][:12]: g for g in section["goals"]}
    specialized = next(g for g in section["goals"] if g["goal"].startswith("到2025年市级"))
    little = next(g for g in section["goals"] if "小巨人”企业1" in g["goal"])
    assert (specialized["actual"], specialized["previous"], specialized["trend"]) == (2, 1, "↑")  # PPB QQA | PPB
    assert sorted(m["name"][4:7] for m in specialized["members"]) == ["PPB", "QQA"]
    assert (little["actual"], little["previous"], little["trend"], len(little["members"])) == (1, 0, "↑", 1)
    tech = next(g for g in section["goals"] if g["goal"].startswith("到2025年全区科技型企业"))
    assert (tech["actual"], tech["previous"], names(tech)) == (1, 0, ["PPC"])  # 区科技局's flag, drilled down
    assert all(len(g["members"]) == g["actual"] for g in section["goals"])  # every goal lists whom it counts
    pool_goal = goals["培育库在库企业"]
    assert (pool_goal["actual"], pool_goal["previous"], pool_goal["trend"]) == (3, 3, "—")
    assert "截至2026年10月31日：\n培育库在库企业 3 家；期内新认定创新型中小企业 1 家" in text
    assert "在库企业 2025 年平均研发投入强度 3.0%（3 家有数据），在库企业 2025 年营业收入增长 10.0%（2 家两年均有数据）" in text
    assert "到2025年市级“专精特新”中小企业50家以上（含“小巨人”）：2 家（目标 50 家），上期末 1 家 ↑" in text
    # Frozen with the circular; and drilled down to the enterprises.
    office = actor_for_name(zjtx, "office")
    with zjtx.db.read() as session:
        stored = session.get(Circular, circular_id)
        assert stored.figures["development"] == section
        word = [p.text for p in Document(io.BytesIO(zjtx.circulars.docx(stored))).paragraphs]
    assert "到2025年国家专精特新“小巨人”企业1—2家：1 家（目标 1 家），上期末 0 家 ↑" in word  # the Word document too
    drilled = zjtx.evidence.of_circular(office, circular_id, False, None, "rd_ratio")
    assert drilled["frozen"] and [m["value"] for m in drilled["lists"][0]["members"]] == [4.0, 2.0, 3.0]
    with time_machine.travel(at("2027-03-01 10:00"), tick=False), zjtx.db.read() as session:
        assert development.section(session, *OCTOBER, BJ) == section  # recomputed later: the same
        assert session.scalar(select(Circular.status).where(Circular.id == circular_id)) == "published"


def test_the_dashboard_lists_a_goals_enterprises_as_of_today(zjtx):
    IDS.clear()
    crafted_registry(zjtx)
    office = actor_for_name(zjtx, "office")
    with time_machine.travel(at("2026-10-25 10:00"), tick=False):
        goals = zjtx.enterprises.goals()
        index = next(i for i, g in enumerate(goals) if g["goal"].startswith("到2025年市级"))
        shown = zjtx.evidence.of_dashboard(office, None, f"goal_{index}")
        with pytest.raises(ValidationFailed):
            zjtx.evidence.of_dashboard(office, None, "goal_99")
    assert shown["value"] == goals[index]["actual"] == 2
    assert sorted(m["name"][4:7] for m in shown["lists"][0]["members"]) == ["PPB", "QQA"]
