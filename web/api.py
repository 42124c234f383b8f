"""JSON API ``/api/v1``: session (with X-CSRF-Token) or Bearer token; errors are {code, message}."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, g, jsonify, request

from engine.errors import ValidationFailed
from engine.queries.views import TABS, InboxFilter
from notifications.errors import MessageNotFound
from web.openapi import document
from web.params import MAX_PAGE, int_arg
from web.security import login_required, services

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "请求体必须是 JSON 对象"})
    return body


def _serial(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/tasks")
@login_required
def tasks():
    tab = request.args.get("tab")
    if tab:
        if tab not in TABS:
            raise ValidationFailed({"tab": "可选：" + "、".join(TABS)})
        result = services().queries.inbox(g.actor, InboxFilter(
            tab=tab, enterprise=request.args.get("enterprise"), category=request.args.get("category"),
            page=int_arg("page", 1, 1, MAX_PAGE), per_page=int_arg("per_page", 20, 1, 100)))
        items = [{k: _serial(v) for k, v in row.items()} for row in result["items"]]
        return jsonify({"tab": tab, "counts": result["counts"], "count_cap": result["count_cap"],
                        "total": result["total"], "has_next": result["has_next"], "tasks": items})
    rows = services().queries.tasks(actor=g.actor.username, department=request.args.get("department") or None,
                                    status=request.args.get("status", "open"),
                                    limit=int_arg("limit", 100, 1, 500),
                                    offset=int_arg("offset", 0, 0, MAX_PAGE * 100))
    return jsonify({"tasks": rows})


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    d = services().queries.task_detail(g.actor, task_id)
    t = d["task"]
    return jsonify({"id": t.id, "instance_id": t.instance_id, "name": t.name, "task": t.bpmn_id,
                    "department": d["department"], "status": t.status, "status_label": d["status_label"],
                    "due_at": _serial(t.due_at), "escalation_level": t.escalation_level, "can_act": d["can_act"],
                    "form": t.form, "history": [{k: _serial(v) for k, v in h.items()} for h in d["history"]]})


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(task_id: int):
    return jsonify(services().workflows.complete(task_id, _json_body(), g.actor))


@bp.post("/items")
@login_required
def register():
    result = services().workflows.start("problem_dispatch", _json_body(), actor=g.actor)
    return jsonify(result), 201


@bp.get("/instances/<ref>")
@login_required
def instance(ref: str):
    return jsonify(services().queries.show(ref, actor=g.actor.username))


@bp.get("/calendar/add-working-days")
@login_required
def add_working_days():
    try:
        start = date.fromisoformat(request.args.get("start") or services().workflows.clock().date().isoformat())
        days = int(request.args.get("days", ""))
        if not 1 <= days <= 365:
            raise ValueError
    except ValueError:
        raise ValidationFailed({"days": "「期限」应为 1 到 365 之间的工作日数；start 应为 YYYY-MM-DD"}) from None
    return jsonify(services().calendars.add_working_days(start, days))


@bp.get("/notifications")
@login_required
def notifications():
    rows = services().inbox.messages(g.actor)
    return jsonify({"unread": services().inbox.unread_count(g.actor),
                    "messages": [{"id": m.id, "title": m.title, "body": m.body, "link": m.link,
                                  "created_at": _serial(m.created_at), "read": m.read_at is not None} for m in rows]})


@bp.post("/notifications/<int:message_id>/read")
@login_required
def notification_read(message_id: int):
    try:
        changed = services().inbox.mark_read(g.actor, message_id)
    except MessageNotFound as exc:  # another user's message, or none
        return jsonify({"code": exc.code, "message": exc.message}), 404
    return jsonify({"marked": changed})
