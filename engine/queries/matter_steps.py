"""The matter card's sections for the steps inside and between departments (engine.queries.matter): the
answer a head signs off, the parts the lead consolidates, a part sent back, a disputed remit and its 会商."""
from __future__ import annotations

from engine.queries.matter import STEP_SECTIONS, Context, _assignment, _by, _date, _last, _section, _text, answers

OF = {"consolidate": "主办单位汇总答复", "part": "协办意见", "rework": "整改答复"}


def head_comments(ctx: Context) -> list[dict]:
    """The head's earlier comments on this department's answer (sent back for changes)."""
    a = _assignment(ctx)
    earlier = [c for c in (a.get("head_comments") or []) + (ctx.data.get("head_comments") or []) if isinstance(c, dict)]
    if not earlier:
        return []
    return [_section("负责人修改意见", [(_date(c.get("on")), _text(c.get("comment"))) for c in earlier], highlight=True)]


def handle(ctx: Context) -> list[dict]:
    return head_comments(ctx)


def head_review(ctx: Context) -> list[dict]:
    """What the head signs off: the draft, by whom, and the department's earlier comments."""
    a = _assignment(ctx)
    if ctx.task.bpmn_id == "head_review_slot":
        kind, text = ("协办意见" if a.get("role") == "co" else "答复"), ctx.data.get("answer")
    else:
        kind = OF.get(ctx.data.get("head_review_of"), "答复")
        text = {"consolidate": ctx.data.get("consolidated_answer"), "part": ctx.data.get("revised_part"),
                "rework": ctx.data.get("rework_answer")}.get(ctx.data.get("head_review_of"))
    # The draft is this department's own: a co-handler's answer written meanwhile is not what its head signs.
    department = ctx.task_departments.get(ctx.task.id)
    drafted = [r for r in ctx.completions(lambda d: any(k in d for k in ("answer", "consolidated_answer",
                                                                         "revised_part", "rework_answer")))
               if ctx.task_departments.get(r.task_id or 0) == department]
    rows = [("待审核的", kind), ("拟稿", _by(ctx, _last(drafted))), ("内容", _text(text))]
    return [_section("待报出的答复", rows, highlight=True), *head_comments(ctx)]


def parts(ctx: Context) -> list[dict]:
    """The lead's consolidation: each co-handler's part as it stands, and the lead's own."""
    rows = [(f"{p.get('department')}（协办）", _text(p.get("answer"))) for p in ctx.data.get("parts") or []
            if isinstance(p, dict)]
    own = ctx.data.get("item_answer")
    sections = [_section("各协办单位意见", rows, highlight=True)]
    if own:
        sections.append(_section("本单位办理情况", [("主办单位", _text(own))]))
    return [*sections, *head_comments(ctx)]


def part_back(ctx: Context) -> list[dict]:
    current = next((p.get("answer") for p in ctx.data.get("parts") or []
                    if isinstance(p, dict) and p.get("department") == ctx.data.get("rework_department")), None)
    return [_section("退回修改", [("退回理由", _text(ctx.data.get("rework_reason"))), ("原协办意见", _text(current))],
                     highlight=True), *head_comments(ctx)]


def remit(ctx: Context) -> list[dict]:
    """The disputed remit: every return of this task and why, and the dispatcher's request."""
    a = _assignment(ctx)
    returns = [r for r in a.get("returns") or [] if isinstance(r, dict)]
    rows = [(f"{_date(r.get('on'))} {r.get('department', '')}", _text(r.get("reason"))) for r in returns]
    sections = [_section("退回记录", rows, highlight=True)]
    if ctx.data.get("ruling_request_reason"):
        sections.append(_section("交办员提请审定", [("理由", _text(ctx.data["ruling_request_reason"]))]))
    if ctx.task.bpmn_id == "leader_ruling" and ctx.data.get("refer_reason"):
        sections.append(_section("领导小组办公室报请审定", [("理由", _text(ctx.data["refer_reason"]))], highlight=True))
    if ctx.task.bpmn_id == "consultation":
        sections.append(_section("会商安排", [
            ("参加单位", "、".join(d.get("department", "") for d in ctx.data.get("consult_departments") or [])),
            ("时间", _text(ctx.data.get("consult_at"))), ("地点", _text(ctx.data.get("consult_place")))]))
    return sections


STEP_SECTIONS.update({
    "handle.schema.json": handle,
    "head_review.schema.json": head_review,
    "consolidate.schema.json": parts,
    "revise_part.schema.json": part_back,
    "remit_ruling.schema.json": remit,
    "consultation.schema.json": remit,
    "leader_ruling.schema.json": remit,
    "review.schema.json": answers,
})
