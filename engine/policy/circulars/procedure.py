"""The circulars procedure (evaluation_circular): its helper, its operations and its monthly schedule."""
from __future__ import annotations

from engine.deadlines.periods import previous_month, previous_quarter
from engine.policy.circulars.service import criticized
from engine.runtime.extensions import DefaultSchedule, HelperContext, Procedure
from engine.runtime.operations import Operation, OperationContext, day_param, int_param
from engine.storage.models import Circular

CIRCULAR_SCHEDULE = "月度通报"


def _helpers(ctx: HelperContext) -> dict:
    def previous_period(kind: str) -> list[str]:
        local = ctx.now().astimezone(ctx.tz).date()
        start, end = (previous_quarter if kind == "quarter" else previous_month)(local)
        return [start.isoformat(), end.isoformat()]

    return {"previous_period": previous_period}


def _draft_circular(ctx: OperationContext, params: dict) -> dict:
    circular = ctx.services.circulars.draft_in(ctx.session, day_param(params, "period_start"),
                                               day_param(params, "period_end"), instance_id=ctx.instance_id)
    return {"id": circular.id, "text": circular.text, "title": circular.title}


def _save_circular_text(ctx: OperationContext, params: dict) -> None:
    ctx.services.circulars.save_text_in(ctx.session, int_param(params, "circular_id"),
                                        str(params.get("circular_text") or ""), instance_id=ctx.instance_id)


def _publish_circular(ctx: OperationContext, params: dict) -> dict:
    circular_id = int_param(params, "circular_id")
    number = ctx.services.circulars.publish_in(ctx.session, circular_id, ctx.actor.username,
                                               instance_id=ctx.instance_id)
    circular = ctx.session.get(Circular, circular_id)
    return {"number": number, "criticized": criticized(circular.figures or {})}


_ROLES = frozenset({"dispatcher", "leading_group_office", "admin"})

PROCEDURE = Procedure(
    key="circulars", label="通报", processes=("evaluation_circular",), helpers=_helpers,
    operations=(
        Operation("draft_circular", "生成通报初稿", _ROLES, True, ("period_start", "period_end"), _draft_circular,
                  "{id, text, title}：初稿编号、正文、标题"),
        Operation("save_circular_text", "保存通报定稿", frozenset({"dispatcher", "admin"}), False,
                  ("circular_id", "circular_text"), _save_circular_text, "无"),
        Operation("publish_circular", "通报编号发布", frozenset({"leading_group_office", "admin"}), False,
                  ("circular_id",), _publish_circular, "{number, criticized}：文号、被点名单位"),
    ),
    # The 5th working day of every month: the circular on the month before.
    schedules=(DefaultSchedule(CIRCULAR_SCHEDULE, "evaluation_circular", "workday:5@09:00", {"period": "month"}),),
)
