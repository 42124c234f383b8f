"""实绩考核（年度）: a yearly score per member unit from the circular figures, with the weights in the
decision table ``assessment_weights`` (processes/assessment_weights.dmn) that the district edits.

The year's figures are :func:`engine.policy.dispatch.figures.compute` over [1 January, 31 December]
(Beijing dates), so, like a circular's, they are those of the data as at the year's end and can be
recomputed later; ``named`` is the number of the office's namings (点名, circular_naming) of the unit in
the year. The table (hit policy COLLECT, input ``year``) gives rows (figure, kind, weight, cap):

    score = max(0, 100 × Σ(weight × rate ÷ 100) ÷ Σ weight − Σ min(weight × count, cap))

the first sum over the unit's ``rate`` rows whose rate has a value that year (a rate without one, e.g.
no item closed, counts neither above nor below the line), the second over the ``penalty`` rows (cap empty:
no cap). A unit with no rate of value has no score (“无可计分事项”); its deductions are still listed.
Scores are rounded to two decimals at the end. The table used is the one deployed with the newest
version of evaluation_circular, which declares it in its ``decision_tables`` property (deploying the table
re-deploys that process as a new version); before any deployment, the file in processes/.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.policy.cells import append_row
from engine.policy.dispatch.figures import compute, figure_list
from engine.policy.pool.eligibility import DecisionFailed
from engine.policy.supervision.naming import named_in
from engine.repository.contents import decision_ids
from engine.repository.registry import Registry
from engine.repository.xmlsafe import parse_xml
from engine.runtime.scripting import create_script_engine
from engine.storage.models import Department

PROCESSES_DIR = Path(__file__).resolve().parents[2] / "processes"
DECISION = "assessment_weights"
FILE = f"{DECISION}.dmn"
PROCESS = "evaluation_circular"  # declares the table in its decision_tables property
NAMED, NAMED_LABEL = "named", "点名"
RATE, PENALTY = "rate", "penalty"
KINDS = {RATE: "比率加权", PENALTY: "扣分"}
FORMULA = ("得分 = max(0, 100 × Σ(权重 × 比率 ÷ 100) ÷ Σ权重 − Σ min(每次扣分 × 次数, 扣分上限))。"
           "前一项只计本单位当年有值的比率指标（无办结、无回访等而无值的比率不计，其权重也不计入分母）；"
           "后一项逐项计扣分指标，扣分上限为空则不设上限。当年没有任何有值比率指标的单位不计分（注明“无可计分事项”），"
           "扣分照列。得分最后四舍五入保留两位小数。")


@dataclass(frozen=True)
class Weight:
    figure: str
    label: str
    kind: str
    weight: Decimal
    cap: Decimal | None


@dataclass(frozen=True)
class Table:
    weights: list[Weight]
    source: str  # where the table came from, for the 说明 sheet


def _number(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or value < 0:
        raise DecisionFailed(f"决策表「{DECISION}」中{what}应为不小于 0 的数，现为「{value}」")
    return Decimal(str(value))


def _table_source(session: Session, processes_dir: Path) -> tuple[bytes, str]:
    """The table deployed with evaluation_circular's newest version, or the bundled file."""
    version = Registry.latest(session, PROCESS, required=False)
    for name, text in ((version.sources or {}) if version is not None else {}).items():
        if name.endswith(".dmn") and DECISION in decision_ids(parse_xml(text.encode("utf-8"))):
            return text.encode("utf-8"), f"已部署的 {name}（随 {PROCESS} 第 {version.version} 版部署）"
    return (processes_dir / FILE).read_bytes(), f"processes/{FILE}（尚未部署，系统自带的缺省权重）"


def weights(session: Session, processes_dir: Path, year: int) -> Table:
    """The weights in force for ``year``: the table's rows (COLLECT), checked."""
    content, source = _table_source(session, processes_dir)
    parser = SpiffBpmnParser()
    parser.add_dmn_xml(parse_xml(content), filename=FILE)
    task = SimpleNamespace(data={"year": year}, workflow=SimpleNamespace(script_engine=create_script_engine()))
    try:
        result = dict(parser.get_engine(DECISION, None).result(task))
    except Exception as exc:  # an entry's error or a limit of the sandbox
        raise DecisionFailed(f"决策表「{DECISION}」无法判定：{exc}"[:500]) from None
    labels = {f.id: f.label for f in figure_list()} | {NAMED: NAMED_LABEL}
    out, seen = [], set()
    columns = [result.get(k) or [] for k in ("figure", "kind", "weight", "cap")]
    for figure, kind, weight, cap in zip(*columns, strict=True):
        if figure not in labels:
            raise DecisionFailed(f"决策表「{DECISION}」中的指标「{figure}」不存在（可用：{'、'.join(labels)}）")
        if kind not in KINDS:
            raise DecisionFailed(f"决策表「{DECISION}」中指标「{figure}」的计分方式应为 rate 或 penalty，现为「{kind}」")
        if figure in seen:
            raise DecisionFailed(f"决策表「{DECISION}」对 {year} 年的指标「{figure}」有不止一行")
        if kind == RATE and not figure.endswith("_rate"):
            raise DecisionFailed(f"决策表「{DECISION}」中指标「{figure}」不是比率，只能用 penalty 扣分")
        seen.add(figure)
        out.append(Weight(figure, labels[figure], kind, _number(weight, f"指标「{figure}」的权重"),
                          None if cap is None else _number(cap, f"指标「{figure}」的扣分上限")))
    return Table(out, source)


def _round(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score(row: dict, table: Table) -> dict:
    """One unit's score from its figures (``row``: compute()'s row with ``named`` added)."""
    rates = [(w, Decimal(str(row[w.figure]))) for w in table.weights if w.kind == RATE and row.get(w.figure) is not None]
    total = sum((w.weight for w, _ in rates), Decimal(0))
    base = 100 * sum((w.weight * v / 100 for w, v in rates), Decimal(0)) / total if total else None
    deductions = {}
    for w in table.weights:
        if w.kind == PENALTY:
            raw = w.weight * int(row.get(w.figure) or 0)
            deductions[w.figure] = raw if w.cap is None else min(raw, w.cap)
    final = None if base is None else max(Decimal(0), base - sum(deductions.values(), Decimal(0)))
    return {"base": None if base is None else _round(base), "deductions": {k: _round(v) for k, v in deductions.items()},
            "score": None if final is None else _round(final)}


def assess(session: Session, processes_dir: Path, tz: ZoneInfo, year: int) -> dict:
    """The year's rows, one per member unit (leading_group_member), ranked by score (none last)."""
    table = weights(session, processes_dir, year)
    start, end = date(year, 1, 1), date(year, 12, 31)
    figures = {r["department"]: r for r in compute(session, start, end, tz)["table"]}
    named: dict[str, int] = {}
    for n in named_in(session, start, end, tz):
        named[n["department"]] = named.get(n["department"], 0) + 1
    units = session.scalars(select(Department.name).where(Department.leading_group_member.is_(True))
                            .order_by(Department.sort_order, Department.id))
    rows = []
    for unit in units:
        row: dict[str, Any] = {f.id: None if f.id.endswith("_rate") else 0 for f in figure_list()}
        row.update(figures.get(unit, {}))
        row.update(department=unit, named=named.get(unit, 0))
        rows.append({**row, **score(row, table)})
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0)))  # ties keep the units' order
    for position, row in enumerate(rows, 1):  # equal scores share a rank (1, 2, 2, 4)
        same = position > 1 and rows[position - 2]["score"] == row["score"]
        row["rank"] = None if row["score"] is None else rows[position - 2]["rank"] if same else position
    return {"year": year, "period": [start.isoformat(), end.isoformat()], "weights": table.weights,
            "source": table.source, "rows": rows}


def workbook(result: dict, computed_at: str) -> bytes:
    """The assessment office's workbook: 实绩考核 (one row per unit), 权重 (the table used) and 说明."""
    book = Workbook()
    sheet = book.active
    sheet.title = "实绩考核"
    ws: list[Weight] = result["weights"]
    rates = [w for w in ws if w.kind == RATE]
    penalties = [w for w in ws if w.kind == PENALTY]
    append_row(sheet, ["排名", "单位", "得分", "比率加权分", *[f"{w.label}（%）" for w in rates],
                       *[h for w in penalties for h in (f"{w.label}（次）", f"{w.label}扣分")]])
    for r in result["rows"]:
        append_row(sheet, [r["rank"] if r["rank"] is not None else "", r["department"],
                           r["score"] if r["score"] is not None else "无可计分事项",
                           r["base"] if r["base"] is not None else "",
                           *[r[w.figure] if r[w.figure] is not None else "" for w in rates],
                           *[v for w in penalties for v in (int(r[w.figure] or 0), r["deductions"][w.figure])]])
    sheet.freeze_panes = "C2"
    table = book.create_sheet("权重")
    append_row(table, ["指标", "指标编号", "计分方式", "权重或每次扣分", "扣分上限"])
    for w in ws:
        append_row(table, [w.label, w.figure, KINDS[w.kind], float(w.weight), "" if w.cap is None else float(w.cap)])
    notes = book.create_sheet("说明")
    definitions = {f.id: f.definition for f in figure_list()}
    definitions[NAMED] = "年内领导小组办公室在通报中点名本单位的次数（督办、挂牌督办办结时决定点名）"
    for line in [["考核年度", f"{result['year']} 年（{result['period'][0]} 至 {result['period'][1]}，北京时间）"],
                 ["计分公式", FORMULA],
                 ["指标口径", "全年的通报指标，按年末时点计算（与月度通报同一口径，可事后复算）"],
                 ["权重来源", result["source"]], ["导出时间", computed_at],
                 *[[f"{w.label}（{w.figure}）", definitions.get(w.figure, "")] for w in ws]]:
        append_row(notes, line)
    for s in (sheet, table, notes):
        for column in s.columns:
            s.column_dimensions[column[0].column_letter].width = 16
    notes.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
