"""What the circular's own steps show above their forms (engine.queries.matter): a unit's row to check,
the objections to resolve, the rectification report and the office's comment. Read from the task's data,
which the diagram prepared (the unit's row, the open objections), so a page load runs no figures."""
from __future__ import annotations


def _section(title: str, rows: list[tuple[str, str]], **more) -> dict:
    return {"title": title, "rows": [(k, v) for k, v in rows if v not in (None, "")], **more}


def own_row(ctx) -> list[dict]:
    """核对本单位通报数据: the unit's own row only, and the window's end."""
    unit = ctx.data.get("checking_unit") or ""
    rows = [(str(f.get("label", "")), str(f.get("value", ""))) for f in ctx.data.get("own_figures") or []
            if isinstance(f, dict)]
    due = str(ctx.data.get("objection_due") or "")
    return [_section(f"本单位在通报附表中的数据（{unit}）", rows, highlight=True),
            _section("核对说明", [("核对期限", f"{due} 24 时前" if due else ""),
                                 ("说明", "仅显示本单位的数据；数据有误的，选「提出异议」并写明指标、核实的数值和理由；"
                                        "期满未核对的视为无异议。")])]


def objections(ctx) -> list[dict]:
    """处理通报数据异议: each open objection with the computed value, the claimed one and the reason."""
    rows = [(f"异议 {o.get('id')}：{o.get('department')}「{o.get('label')}」",
             f"系统统计 {o.get('computed')}，单位核实 {o.get('claimed')}；理由：{o.get('reason')}")
            for o in ctx.data.get("open_objections") or [] if isinstance(o, dict)]
    hint = ("请逐条处理（异议编号已填好）：采纳的，通报附表改为更正后的数值（不填按单位核实的数值）并注明「经核对更正」；"
            "不予采纳的，须在处理说明中写明理由。处理结果将告知提出异议的单位。")
    return [_section("成员单位提出的数据异议", rows, highlight=True), _section("处理说明", [("说明", hint)])]


def rectification(ctx) -> list[dict]:
    """提交整改报告 after the office sent it back: its comment and the new deadline."""
    if ctx.data.get("rectification_closed") is not False:
        return []
    return [_section("整改报告退回意见", [("审核意见", str(ctx.data.get("rectification_comment") or "")),
                                      ("上次报告", str(ctx.data.get("rectification_report") or "")),
                                      ("补充整改期限", str(ctx.data.get("rectify_due") or ""))], highlight=True)]


def rectification_report(ctx) -> list[dict]:
    """审核整改报告: the unit, the round and its report."""
    round_no = ctx.data.get("rectification_round")
    return [_section("整改报告", [("被通报单位", str(ctx.data.get("criticized_department") or "")),
                                 ("报送次数", f"第 {round_no} 次" if round_no else ""),
                                 ("整改情况", str(ctx.data.get("rectification_report") or ""))], highlight=True)]
