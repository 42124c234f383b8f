"""The OpenAPI part of pausing a task's clock (挂起, web/pauses.py): its paths and schemas, merged into the
document by web.openapi."""
from __future__ import annotations

from web.openapi import BOOLEAN, INTEGER, MOMENT, STRING, _nullable, _object, _op, _path_id, _ref

PAUSE_BODY = {"type": "object", "required": ["reason"], "properties": {
    "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "挂起原因：等待企业补充的材料或事项"},
    "expected_resume_on": {"type": ["string", "null"], "format": "date",
                           "description": "预计恢复日期（北京时间日期），今天起不超过挂起上限的工作日"}}}
RESUME_BODY = {"type": "object", "properties": {
    "note": {"type": ["string", "null"], "maxLength": 500, "description": "恢复说明：企业补充了什么（选填）"}}}


def pause_schemas() -> dict:
    result = _object({
        "task_id": INTEGER, "pause_id": INTEGER, "paused": BOOLEAN, "paused_at": MOMENT, "paused_by": STRING,
        "reason": STRING, "expected_resume_on": _nullable("string"), "resumed_at": _nullable("string"),
        "working_days": _nullable("integer"), "credited_days": _nullable("integer"), "due_at": _nullable("string"),
        "due_local": _nullable("string")})
    entry = _object({
        "id": INTEGER, "task_id": INTEGER, "task_name": _nullable("string"), "department": _nullable("string"),
        "open": BOOLEAN, "reason": STRING, "paused_at": STRING, "paused_by": STRING,
        "expected_resume_on": _nullable("string"), "resumed_at": _nullable("string"), "resumed_by": _nullable("string"),
        "resume_note": _nullable("string"), "working_days": _nullable("integer"), "credited_days": _nullable("integer"),
        "limit_days": INTEGER, "over_limit": BOOLEAN, "over_limit_at": _nullable("string"),
        "due_before": _nullable("string"), "due_after": _nullable("string")})
    view = _object({
        "pausable": BOOLEAN, "active": {"anyOf": [_ref("PauseEntry"), {"type": "null"}]}, "stopped": BOOLEAN,
        "history": {"type": "array", "items": _ref("PauseEntry")}, "count": INTEGER, "max_times": INTEGER,
        "limit_days": INTEGER, "latest_expected": STRING, "can_pause": BOOLEAN, "can_resume": BOOLEAN})
    return {"PauseResult": result, "PauseEntry": entry, "PauseView": view}


def pause_paths() -> dict:
    task_id = _path_id("task_id", "任务号")
    return {
        "/tasks/{task_id}/pause": {"post": _op(
            "挂起任务（等待企业补充，暂停计时）", _ref("PauseResult"), "400 401 403 404 409 503", params=[task_id],
            body=PAUSE_BODY, description=(
                "任务所属单位中有该任务角色的人员可挂起：须已签收、未过期限、流程允许（任务属性 pausable），"
                "每项任务至多挂起 pause_max_times 次。挂起期间不预警、不催办、不督办，不能提交答复；"
                "超过 pause_max_working_days 个工作日仍未恢复的，期限顺延该上限并恢复计算。"))},
        "/tasks/{task_id}/resume": {"post": _op(
            "恢复办理（期限按挂起的工作日顺延）", _ref("PauseResult"), "400 401 403 404 409 503", params=[task_id],
            body=RESUME_BODY)},
        "/tasks/{task_id}/pauses": {"get": _op("任务的挂起情况与记录", _ref("PauseView"), "401 404 503",
                                               params=[task_id])},
    }
