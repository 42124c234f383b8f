"""The enterprises' development (企业发展情况) in a circular, as the action plan's goals ask, with the
enterprises behind every figure.

Everything is as at the period's end: the registry's rows rolled back through the change log written after
it (as engine.policy.pool.goals does), the yearly figures too — a save logs each changed yearly figure as
``"2025.revenue": [old, new]``, and an old value of none means the figure was not there yet. The R&D ratio
and revenue growth read the latest full year before the period's year (Y = the period end's year − 1) and
the year before it, of the firms in the pool at the period's end. The goals are goals_in's, as at the
period's end, beside their values at the previous period's end (the day before the period starts).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.policy.pool.goals import Standing, goals_in, goals_with_members
from engine.storage.models import Enterprise, EnterpriseChange, EnterpriseYear

TIERS = (("innovative", "创新型中小企业"), ("specialized", "“专精特新”中小企业"), ("little_giant", "专精特新“小巨人”企业"))
TIER_NAMES = dict(TIERS)
_YEAR_FIGURES = ("revenue", "rd_expense")
DEFINITIONS = {
    "pool": "期末培育库在库企业数",
    "recognised": "认定日期落在期内、期末仍记为该梯度的企业数（按期末的企业库）",
    "rd_ratio": "期末在库企业上一完整年度研发投入 ÷ 营业收入的平均值（%）；缺该年数据的企业不计",
    "revenue_growth": "期末在库企业上一完整年度营业收入合计较前一年度的增长（%）；两年均有营业收入的企业计入",
}


@dataclass
class Firm:
    id: int
    name: str
    uscc: str
    standing: Standing
    years: dict[int, dict[str, float | None]] = field(default_factory=dict)

    def ref(self, detail: str = "") -> dict:
        return {"enterprise_id": self.id, "name": self.name, "uscc": self.uscc, "detail": detail}


def firms_at(session: Session, day: date, tz: ZoneInfo) -> list[Firm]:
    """The registry at the end of ``day``: standings and yearly revenue and R&D (three queries)."""
    after = datetime.combine(day + timedelta(days=1), time(0), tz)
    firms = {i: Firm(i, name, uscc, Standing(tier or "none", since, until, bool(in_pool)))
             for i, name, uscc, tier, since, until, in_pool in session.execute(
                 select(Enterprise.id, Enterprise.name, Enterprise.uscc, Enterprise.tier, Enterprise.tier_since,
                        Enterprise.tier_valid_until, Enterprise.in_pool).order_by(Enterprise.id))}
    for enterprise_id, year, revenue, rd in session.execute(
            select(EnterpriseYear.enterprise_id, EnterpriseYear.year, EnterpriseYear.revenue, EnterpriseYear.rd_expense)):
        if enterprise_id in firms:
            firms[enterprise_id].years[year] = {"revenue": revenue, "rd_expense": rd}
    gone: set[int] = set()
    for enterprise_id, changes in session.execute(
            select(EnterpriseChange.enterprise_id, EnterpriseChange.changes).where(EnterpriseChange.at >= after)
            .order_by(EnterpriseChange.id.desc())):  # undone newest first
        firm, changes = firms.get(enterprise_id), changes or {}
        if firm is None or enterprise_id in gone:
            continue
        if "created" in changes:
            gone.add(enterprise_id)
            continue
        firm.standing.undo(changes)
        for key, pair in changes.items():
            year, _, figure = key.partition(".")
            if year.isdigit() and figure in _YEAR_FIGURES and isinstance(pair, list) and pair:
                firm.years.setdefault(int(year), {})[figure] = pair[0]
    return [f for i, f in firms.items() if i not in gone]


def _detail(goal: str, standing: Standing) -> str:
    """What the list says of an enterprise a goal counts (goals.goals_with_members decides who counts)."""
    if goal == "new_2022":
        return f"{standing.tier_since} 认定" if standing.tier_since else ""
    if goal.startswith("tech_"):
        return f"科技型企业 {standing.tech_since} 起" if standing.tech_since else "科技型企业"
    return "" if goal == "in_pool" else TIER_NAMES.get(standing.tier, standing.tier)


def _trend(now: int, before: int) -> str:
    return "↑" if now > before else "↓" if now < before else "—"


def _pct(value: float) -> float:
    return round(100.0 * value, 2)


def _year_figures(pool: list[Firm], year: int) -> list[dict]:
    """R&D ratio and revenue growth of the pool's firms for ``year``, each firm listed with its figures."""
    ratios: list[dict] = []
    grown: list[dict] = []
    totals = [0.0, 0.0]  # revenue in year, in the year before
    for f in pool:
        this, last = f.years.get(year, {}), f.years.get(year - 1, {})
        revenue, rd, before = this.get("revenue"), this.get("rd_expense"), last.get("revenue")
        if revenue and rd is not None:
            ratios.append({**f.ref(f"{year} 年研发投入 {rd / 10000:,.2f} 万元，营业收入 {revenue / 10000:,.2f} 万元"),
                           "value": _pct(rd / revenue)})
        if revenue is not None and before:
            totals[0], totals[1] = totals[0] + revenue, totals[1] + before
            grown.append({**f.ref(f"营业收入 {year - 1} 年 {before / 10000:,.2f} 万元 → {year} 年 "
                                  f"{revenue / 10000:,.2f} 万元"), "value": _pct(revenue / before - 1)})
    average = round(sum(r["value"] for r in ratios) / len(ratios), 2) if ratios else None
    return [
        {"id": "rd_ratio", "label": f"在库企业 {year} 年平均研发投入强度", "unit": "%", "value": average,
         "members": ratios, "definition": DEFINITIONS["rd_ratio"]},
        {"id": "revenue_growth", "label": f"在库企业 {year} 年营业收入增长", "unit": "%",
         "value": _pct(totals[0] / totals[1] - 1) if totals[1] else None, "members": grown,
         "definition": DEFINITIONS["revenue_growth"]},
    ]


def section(session: Session, start: date, end: date, tz: ZoneInfo) -> dict:
    """The section's figures as at the end of the period, each with the enterprises it counts."""
    firms = firms_at(session, end, tz)
    pool = [f for f in firms if f.standing.in_pool]
    figures = [{"id": "pool", "label": "培育库在库企业", "unit": "家", "value": len(pool),
                "members": [f.ref() for f in pool], "definition": DEFINITIONS["pool"]}]
    for tier, label in TIERS:
        found = [f.ref(f"{f.standing.tier_since} 认定") for f in firms if f.standing.tier == tier
                 and f.standing.tier_since is not None and start <= f.standing.tier_since <= end]
        figures.append({"id": f"recognised_{tier}", "label": f"期内新认定{label}", "unit": "家", "value": len(found),
                        "members": found, "definition": DEFINITIONS["recognised"]})
    year = end.year - 1
    figures += _year_figures(pool, year)
    previous = {g["goal"]: g["actual"] for g in goals_in(session, start - timedelta(days=1), tz)}
    by_id = {f.id: f for f in firms}
    goals = []
    for i, g in enumerate(goals_with_members(session, end, tz)):
        before = previous.get(g["goal"], 0)
        members = [by_id[e].ref(_detail(g["id"], by_id[e].standing)) for e in sorted(g["members"]) if e in by_id]
        goals.append({**g, "key": g["id"], "id": f"goal_{i}", "previous": before,
                      "trend": _trend(g["actual"], before), "members": members})
    return {"as_of": end.isoformat(), "previous_end": (start - timedelta(days=1)).isoformat(), "year": year,
            "figures": figures, "goals": goals}


def find(development: dict, figure: str) -> dict | None:
    """A figure or goal of the section by id."""
    return next((f for f in [*development.get("figures", []), *development.get("goals", [])] if f["id"] == figure),
                None)


def _value(f: dict) -> str:
    return "—" if f["value"] is None else f"{f['value']}{'%' if f['unit'] == '%' else ' 家'}"


def text_lines(development: dict, heading: str, as_of: str) -> list[str]:
    """The section in the circular's text: the figures in one paragraph, then the goals with their trend."""
    f = {x["id"]: x for x in development["figures"]}
    lines = [heading, f"截至{as_of}：", f"培育库在库企业 {_value(f['pool'])}；期内新认定"
             + "、".join(f"{label} {f['recognised_' + tier]['value']} 家" for tier, label in TIERS) + "；"
             f"{f['rd_ratio']['label']} {_value(f['rd_ratio'])}（{len(f['rd_ratio']['members'])} 家有数据），"
             f"{f['revenue_growth']['label']} {_value(f['revenue_growth'])}"
             f"（{len(f['revenue_growth']['members'])} 家两年均有数据）。"]
    lines += [f"{g['goal']}：{g['actual']} 家" + (f"（目标 {g['target']} 家）" if g["target"] else "")
              + f"，上期末 {g['previous']} 家 {g['trend']}" for g in development["goals"]]
    return lines
