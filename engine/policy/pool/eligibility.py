"""Cultivation-pool eligibility (policy 二(二)) decided by the DMN tables in processes/.

Python derives the figures the tables need (years registered, ratios, growth) from an
enterprise's raw data; the tables (sme_classification, cultivation_criteria,
cultivation_decision) decide, so a designer changes thresholds by editing the DMN, not code.
Every criterion comes back with its value, threshold and pass/fail — or "无法判定" naming the
missing figure, never a silent fail.

Derivations (documented in README): "last year" is the last full calendar year before
``as_of``; R&D ratio and asset-liability ratio use last year's figures; the two-year average
growth is the mean of the two year-on-year growth rates (last year over the year before, and
that year over the one before), computed for revenue and for net profit (a base ≤ 0 has no
growth rate); the better of the two counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import EngineError, ValidationFailed
from engine.policy.pool import scope
from engine.repository.xmlsafe import parse_xml
from engine.runtime.sandbox import SandboxViolation

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DECISION_FILES = ("sme_classification", "cultivation_criteria", "cultivation_decision")
FIGURES = ("revenue", "rd_expense", "net_profit", "total_assets", "total_liabilities")
FIGURE_LABELS = {"revenue": "营业收入", "rd_expense": "研发投入", "net_profit": "净利润", "total_assets": "资产总额",
                 "total_liabilities": "负债总额"}
ADDED_INPUTS = {"sme_classification": {"financial_type": None}, "cultivation_criteria": {"sector": None}}
FINANCIAL_SME_LABEL = "符合《金融业企业划型标准规定》（银发〔2015〕309号）的中型、小型、微型企业"
SME_LABELS = {"medium": "中型", "small": "小型", "micro": "微型", "not_sme": "不属于中小企业"}
CRITERIA = {  # id → (Chinese label, unit for values)
    "scope": ("属于行动计划二（一）的培育范围", ""),
    "in_district": ("在区内登记注册", ""),
    "registered_years": ("在区内登记注册满两年", "年"),
    "independent_legal_person": ("具有独立法人资格", ""),
    "sme": ("符合《中小企业划型标准规定》的中型、小型、微型企业", ""),
    "rd_ratio": ("上年研发投入占营业收入比重", "%"),
    "revenue_min": ("上年营业收入不低于1000万元", "万元"),
    "revenue_2000": ("上年营业收入2000万元及以上", "万元"),
    "growth": ("近两年营业收入或净利润平均增长率5%及以上", "%"),
    "debt_ratio": ("上年资产负债率不高于80%", "%"),
}


def industries() -> list[dict]:
    return json.loads((DATA_DIR / "industries.json").read_text(encoding="utf-8"))


class Decisions:
    """The three DMN decisions, parsed once (safely) and evaluated with the engine's DMN support.

    ``sources`` (file name → content) are the deployed tables; files missing there are read from
    ``processes_dir`` (a fresh installation before its first deployment, or the command line)."""

    def __init__(self, processes_dir: Path, script_engine, sources: dict[str, bytes] | None = None):
        parser = SpiffBpmnParser()
        sources = sources or {}
        for name in DECISION_FILES:
            filename = f"{name}.dmn"
            content = sources.get(filename) or (processes_dir / filename).read_bytes()
            parser.add_dmn_xml(parse_xml(content), filename=filename)
        self._engines = {name: parser.get_engine(name, None) for name in DECISION_FILES}
        self._script_engine = script_engine
        self._broken: dict[str, str] = {}

    def evaluate(self, decision: str, context: dict) -> dict:
        """The decision's outputs for ``context``. A table whose entries fail or hit the sandbox's
        limits raises DecisionFailed (Chinese, naming the table); one that hit a limit is not
        evaluated again until it is redeployed, so pages that show decisions stay fast."""
        if decision in self._broken:
            raise DecisionFailed(self._broken[decision])
        # Inputs added later (the scope, the financial 业态) default to none for callers that predate them.
        data = {**ADDED_INPUTS.get(decision, {}), **context}
        task = SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=self._script_engine))
        try:
            return dict(self._engines[decision].result(task))
        except Exception as exc:  # an entry's error, or a limit of the sandbox
            cause = exc.__cause__ or exc.__context__ or exc
            message = f"决策表「{decision}」无法判定：{cause if isinstance(cause, SandboxViolation) else exc}"[:500]
            if isinstance(cause, SandboxViolation) or isinstance(exc, SandboxViolation):
                self._broken[decision] = message
            raise DecisionFailed(message) from None


class DecisionFailed(EngineError):
    """A decision table could not be evaluated (see Decisions.evaluate)."""

    code = "decision_failed"


@dataclass
class Inputs:
    as_of: date
    registered_on: date | None
    in_district: bool | None
    independent_legal_person: bool | None
    industry: str | None
    employees: int | None
    years: dict[int, dict[str, float | None]]
    sector: str | None = None  # 行动计划二（一）'s 领域 (engine.policy.pool.scope)
    financial_type: str | None = None  # a financial firm's 业态: sized by 《金融业企业划型标准规定》


def parse_inputs(data) -> Inputs:
    """Check the input document's shape; every problem is reported, in Chinese, by key."""
    errors: dict[str, str] = {}
    if not isinstance(data, dict):
        raise ValidationFailed({"输入": "应为 JSON 对象"})

    def day(key, required=False):
        value = data.get(key)
        if value in (None, ""):
            if required:
                errors[key] = f"「{key}」为必填项（YYYY-MM-DD）"
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            errors[key] = f"「{key}」应为日期 YYYY-MM-DD，收到 {value!r}"
            return None

    def flag(key):
        value = data.get(key)
        if value is None or isinstance(value, bool):
            return value
        errors[key] = f"「{key}」应为 true 或 false"
        return None

    as_of = day("as_of", required=True)
    registered_on = day("registered_on")
    industry = data.get("industry")
    names = [i["name"] for i in industries()]
    if industry is not None and industry not in names:
        errors["industry"] = f"「industry」应为《中小企业划型标准规定》的行业之一：{'、'.join(names)}"
    employees = data.get("employees")
    if employees is not None and (isinstance(employees, bool) or not isinstance(employees, int) or employees < 0):
        errors["employees"] = "「employees」应为非负整数"
        employees = None
    years = _parse_years(data.get("years") or {}, errors)
    sector, financial_type = data.get("sector"), data.get("financial_type")
    errors.update(scope.check(sector, None, financial_type))
    if errors:
        raise ValidationFailed(errors, "企业数据有误")
    return Inputs(as_of, registered_on, flag("in_district"), flag("independent_legal_person"), industry,
                  employees, years, sector, financial_type)


def _parse_years(raw_years, errors: dict[str, str]) -> dict[int, dict]:
    """The yearly figures of the input document, each a number (yuan) or none; problems go to ``errors``."""
    years: dict[int, dict] = {}
    if not isinstance(raw_years, dict):
        errors["years"] = "「years」应为对象：年份 → 各项数据"
        return years
    for year, figures in raw_years.items():
        if not str(year).isdigit() or not isinstance(figures, dict):
            errors[f"years.{year}"] = "应为 \"2025\": {revenue, rd_expense, …}"
            continue
        row = {}
        for key in FIGURES:
            value = figures.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                errors[f"years.{year}.{key}"] = f"「{FIGURE_LABELS[key]}」应为数字（元）"
                value = None
            row[key] = value
        unknown = set(figures) - set(FIGURES)
        if unknown:
            errors[f"years.{year}"] = f"未知的数据项：{'、'.join(sorted(unknown))}"
        years[int(year)] = row
    return years


def _years_between(start: date, end: date) -> float:
    """Completed years plus the fraction of the current one; an anniversary gives a whole number."""
    def anniversary(n):
        try:
            return start.replace(year=start.year + n)
        except ValueError:  # 29 February
            return start.replace(year=start.year + n, day=28)
    full = end.year - start.year
    if anniversary(full) > end:
        full -= 1
    last, nxt = anniversary(full), anniversary(full + 1)
    return round(full + (end - last).days / (nxt - last).days, 4)


def _growth(series: list[float | None]) -> Fraction | None:
    a, b, c = series
    if None in (a, b, c) or a <= 0 or b <= 0:
        return None
    fa, fb, fc = (Fraction(str(v)) for v in (a, b, c))
    return ((fb - fa) / fa + (fc - fb) / fb) / 2 * 100


def _ratio(part, whole) -> Fraction | None:
    # Exact arithmetic: a boundary like 2% or 80% must not be lost to floating-point rounding.
    if part is None or not whole:
        return None
    return Fraction(str(part)) * 100 / Fraction(str(whole))


def _shown(value):
    return round(float(value), 4) if isinstance(value, Fraction) else value


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value}{unit}"


def decide(inputs: Inputs, decisions: Decisions) -> dict:
    y = inputs.as_of.year - 1
    last = inputs.years.get(y, {})
    revenue = last.get("revenue")
    rd = last.get("rd_expense")
    assets, liabilities = last.get("total_assets"), last.get("total_liabilities")
    rev_growth = _growth([inputs.years.get(y - k, {}).get("revenue") for k in (2, 1, 0)])
    profit_growth = _growth([inputs.years.get(y - k, {}).get("net_profit") for k in (2, 1, 0)])
    computable = [g for g in (rev_growth, profit_growth) if g is not None]
    # With one rate below 5% and the other unknown, the criterion cannot be decided yet.
    decided = any(g >= 5 for g in computable) or len(computable) == 2
    best_growth = max(computable) if decided else None
    financial = inputs.sector == scope.FINANCE  # sized by the financial standard's 业态, the 2011 industry unread
    sme = decisions.evaluate("sme_classification", {
        "industry": None if financial else inputs.industry, "employees": inputs.employees, "revenue": revenue,
        "total_assets": assets, "financial_type": inputs.financial_type if financial else None})
    sme_class = sme.get("sme_class")
    context = {
        "sector": inputs.sector,
        "in_district": inputs.in_district,
        "registered_years": _years_between(inputs.registered_on, inputs.as_of) if inputs.registered_on else None,
        "independent_legal_person": inputs.independent_legal_person,
        "sme_class": sme_class,
        "rd_ratio": _ratio(rd, revenue),
        "revenue_wan": Fraction(str(revenue)) / 10000 if revenue is not None else None,
        "best_growth": best_growth,
        "debt_ratio": _ratio(liabilities, assets),
    }
    table = decisions.evaluate("cultivation_criteria", context)
    outcome = {cid: (passed, threshold, mandatory) for cid, passed, threshold, mandatory in zip(
        table.get("criterion", []), table.get("passed", []), table.get("threshold", []), table.get("mandatory", []),
        strict=True)}
    missing = _missing(inputs, y, sme_class)
    values = {
        "scope": inputs.sector,
        "in_district": inputs.in_district, "registered_years": context["registered_years"],
        "independent_legal_person": inputs.independent_legal_person,
        "sme": SME_LABELS.get(sme_class) if sme_class else None, "rd_ratio": _shown(context["rd_ratio"]),
        "revenue_min": _shown(context["revenue_wan"]), "revenue_2000": _shown(context["revenue_wan"]),
        "growth": {"revenue": _shown(rev_growth), "net_profit": _shown(profit_growth)},
        "debt_ratio": _shown(context["debt_ratio"]),
    }
    criteria, counts = _judged(outcome, values, missing, f"营业收入 {_fmt(_shown(rev_growth), '%')}，"
                                                         f"净利润 {_fmt(_shown(profit_growth), '%')}", financial)
    eligible = decisions.evaluate("cultivation_decision", counts).get("eligible")
    summary = {True: "符合培育入库条件", False: "不符合培育入库条件", None: "无法判定，请补充缺少的数据"}[eligible]
    return {"eligible": eligible, "sme_class": sme_class, "last_year": y, "summary": summary,
            "criteria": criteria}


def _judged(outcome: dict, values: dict, missing: dict, growth_shown: str,
            financial: bool = False) -> tuple[list[dict], dict]:
    """Each criterion with its value, threshold and Chinese message, and the counts the decision reads."""
    criteria = []
    counts = {"mandatory_failed": 0, "mandatory_undecided": 0, "optional_passed": 0, "optional_undecided": 0}
    mandatory_ids = {"scope", "in_district", "registered_years", "independent_legal_person", "sme", "rd_ratio",
                     "revenue_min"}
    for cid, (label, unit) in CRITERIA.items():
        passed, threshold, _ = outcome.get(cid, (None, None, cid in mandatory_ids))
        mandatory = cid in mandatory_ids
        value = values[cid]
        shown = growth_shown if cid == "growth" else _fmt(value, unit)
        if cid == "sme" and financial:
            label = FINANCIAL_SME_LABEL
        if passed is None:
            message = f"{label}：无法判定，缺少{missing.get(cid, '所需数据')}"
            counts["mandatory_undecided" if mandatory else "optional_undecided"] += 1
        else:
            message = f"{label}：{shown}，标准 {threshold}，{'符合' if passed else '不符合'}"
            if cid == "scope" and not passed:  # the reason an admission is refused with, in the plan's words
                message = (f"不在培育范围（行动计划二（一））：所属领域「{value}」，"  # none recorded: 无法判定
                           "培育范围为工业和信息化领域及研发设计与其他技术服务等十类生产服务性领域")
            if mandatory and not passed:
                counts["mandatory_failed"] += 1
            if not mandatory and passed:
                counts["optional_passed"] += 1
        criteria.append({"id": cid, "label": label, "mandatory": mandatory, "passed": passed,
                         "value": value, "threshold": threshold, "message": message})
    return criteria, counts


def _missing(inputs: Inputs, y: int, sme_class: str | None) -> dict[str, str]:
    """Which figure each criterion lacks, named in Chinese."""
    def absent(year, key):
        return inputs.years.get(year, {}).get(key) is None

    out = {"scope": "所属领域（sector）", "in_district": "是否在区内登记（in_district）",
           "registered_years": "登记注册日期（registered_on）",
           "independent_legal_person": "是否具有独立法人资格（independent_legal_person）"}
    names = []
    if inputs.sector == scope.FINANCE:
        names.append("金融业态（financial_type）" if inputs.financial_type is None else
                     f"「{inputs.financial_type}」的划型标准（决策表 sme_classification 未列，见其说明）")
    elif inputs.industry is None:
        names.append("所属行业（industry）")
    if inputs.employees is None and inputs.sector != scope.FINANCE:
        names.append("从业人员（employees）")
    if absent(y, "revenue"):
        names.append(f"{y}年营业收入")
    if absent(y, "total_assets"):
        names.append(f"{y}年资产总额")
    out["sme"] = "、".join(names) or "划型所需数据"
    out["rd_ratio"] = "、".join([f"{y}年{FIGURE_LABELS[k]}" for k in ("rd_expense", "revenue") if absent(y, k)]) \
        or f"{y}年营业收入（为零无法计算）"
    out["revenue_min"] = out["revenue_2000"] = f"{y}年营业收入"
    gaps = [f"{year}年{FIGURE_LABELS[k]}" for k in ("revenue", "net_profit") for year in (y - 2, y - 1, y)
            if absent(year, k)]
    out["growth"] = "、".join(gaps) or "可计算增长率的数据（基数须为正）"
    out["debt_ratio"] = "、".join([f"{y}年{FIGURE_LABELS[k]}" for k in ("total_liabilities", "total_assets")
                                  if absent(y, k)]) or f"{y}年资产总额（为零无法计算）"
    return out
