"""The circulars procedure (evaluation_circular): its helpers, its operations and its monthly schedule."""
from __future__ import annotations

import json

from engine.deadlines.periods import previous_month, previous_quarter
from engine.identity.org import ROLES
from engine.policy.circulars import objections, resolution
from engine.policy.circulars.service import NUMBER_FORMAT, criticized
from engine.runtime.extensions import DefaultSchedule, HelperContext, Procedure
from engine.runtime.operations import Operation, OperationContext, day_param, int_param
from engine.storage.models import Circular, ProcessInstance, ProcessVersion

CIRCULAR_SCHEDULE = "月度通报"


def _helpers(ctx: HelperContext) -> dict:
    def previous_period(kind: str) -> list[str]:
        local = ctx.now().astimezone(ctx.tz).date()
        start, end = (previous_quarter if kind == "quarter" else previous_month)(local)
        return [start.isoformat(), end.isoformat()]

    def window_days(name: str, default: int) -> int:
        value = str(ctx.properties.get(name) or "").strip()
        return int(value) if value.isdigit() else default

    # The objection window (engine.policy.circulars.objections): read-only questions on the circular.
    return {"previous_period": previous_period,
            "objection_window_working_days": lambda: window_days("objection_window_working_days", 2),
            "rectification_working_days": lambda: window_days("rectification_working_days", 10),
            "circular_units": lambda circular_id: objections.checking_units(ctx.session, int(circular_id)),
            "circular_row": lambda circular_id, unit: objections.own_row(ctx.session, int(circular_id), str(unit)),
            "open_objection_list": lambda circular_id: objections.listing(ctx.session, int(circular_id), True),
            "unresolved_objections": lambda circular_id: objections.unresolved(ctx.session, int(circular_id))}


def _draft_circular(ctx: OperationContext, params: dict) -> dict:
    circular = ctx.services.circulars.draft_in(ctx.session, day_param(params, "period_start"),
                                               day_param(params, "period_end"), instance_id=ctx.instance_id)
    return {"id": circular.id, "text": circular.text, "title": circular.title}


def _save_circular_text(ctx: OperationContext, params: dict) -> None:
    ctx.services.circulars.save_text_in(ctx.session, int_param(params, "circular_id"),
                                        str(params.get("circular_text") or ""), instance_id=ctx.instance_id)


def _number_format(ctx: OperationContext) -> str:
    """The running version's property number_format (本区设置); the built-in format for versions without it."""
    instance = ctx.session.get(ProcessInstance, ctx.instance_id) if ctx.instance_id else None
    version = ctx.session.get(ProcessVersion, instance.version_id) if instance is not None else None
    stored = json.loads(version.spec_json).get("process_properties") if version is not None else None
    value = stored.get("number_format") if isinstance(stored, dict) else None
    return str(value) if value else NUMBER_FORMAT


def _publish_circular(ctx: OperationContext, params: dict) -> dict:
    circular_id = int_param(params, "circular_id")
    number = ctx.services.circulars.publish_in(ctx.session, circular_id, ctx.actor.username,
                                               instance_id=ctx.instance_id, number_format=_number_format(ctx))
    circular = ctx.session.get(Circular, circular_id)
    return {"number": number, "criticized": criticized(circular.figures or {})}


def _record_check(ctx: OperationContext, params: dict) -> dict:
    return objections.record_check_in(ctx.session, int_param(params, "circular_id"), str(params.get("department") or ""),
                                      str(params.get("check_result") or ""), list(params.get("objections") or []),
                                      ctx.actor, ctx.now, ctx.instance_id)


def _record_lapsed(ctx: OperationContext, params: dict) -> dict:
    return objections.lapse_in(ctx.session, int_param(params, "circular_id"), str(params.get("department") or ""),
                               ctx.now, ctx.instance_id)


def _resolve(ctx: OperationContext, params: dict) -> dict:
    services = ctx.services
    return resolution.resolve_in(ctx.session, int_param(params, "circular_id"), list(params.get("resolutions") or []),
                                 ctx.actor, ctx.now, ctx.instance_id, services.notifier, services.settings.base_url)


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
        Operation("record_circular_check", "记录成员单位核对结果", frozenset({"liaison", "department_head", "admin"}),
                  False, ("circular_id", "department", "check_result", "objections"), _record_check,
                  "{department, objections}：核对单位、提出的异议条数"),
        # Anyone's step may reach it (the window's timer fires in whatever step runs after it is due): harmless.
        Operation("record_circular_check_lapsed", "逾期未核对，视为无异议", frozenset(ROLES), True,
                  ("circular_id", "department"), _record_lapsed, "{department, objections}：核对单位、0"),
        Operation("resolve_circular_objections", "处理通报数据异议", frozenset({"dispatcher", "admin"}), False,
                  ("circular_id", "resolutions"), _resolve, "{text, accepted, refused}：更正后的正文、采纳与不予采纳条数"),
    ),
    # The 5th working day of every month: the circular on the month before.
    schedules=(DefaultSchedule(CIRCULAR_SCHEDULE, "evaluation_circular", "workday:5@09:00", {"period": "month"},
                               clause="四（二）"),),
)
