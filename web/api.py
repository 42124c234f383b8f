"""JSON API ``/api/v1``: session (with X-CSRF-Token) or Bearer token; errors are {code, message}."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, g, jsonify, request

from engine.errors import ValidationFailed
from engine.queries.views import TABS, InboxFilter
from engine.runtime.projection import STATUS_LABELS
from notifications.errors import MessageNotFound
from web.openapi import document
from web.params import MAX_PAGE, strict_int_arg
from web.security import login_required, services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
TASK_STATUSES = ("open", "all", *sorted(STATUS_LABELS))


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
    forms = services().repository.latest_forms("problem_dispatch") or {}
    return jsonify(document(forms.get("register.schema.json"), _department_names()))


def _department_names() -> list[str]:
    """What a department filter accepts: every department's name and aliases."""
    return [name for d in services().identity.departments() for name in (d["name"], *d["aliases"])]


@bp.get("/tasks")
@login_required
def tasks():
    # Every number is checked whichever form is asked for: one that is not an integer is refused.
    page, per_page = strict_int_arg("page", 1, 1, MAX_PAGE), strict_int_arg("per_page", 20, 1, 100)
    limit, offset = strict_int_arg("limit", 100, 1, 500), strict_int_arg("offset", 0, 0, MAX_PAGE * 100)
    status, department = request.args.get("status", "open"), request.args.get("department")
    if status not in TASK_STATUSES:
        raise ValidationFailed({"status": "可选：" + "、".join(TASK_STATUSES)})
    if department is not None and department not in _department_names():
        raise ValidationFailed({"department": f"部门「{department}」不存在"})
    tab = request.args.get("tab")
    if tab is not None:  # "?tab=" is not a tab either (the document's enum)
        if tab not in TABS:
            raise ValidationFailed({"tab": "可选：" + "、".join(TABS)})
        result = services().queries.inbox(g.actor, InboxFilter(
            tab=tab, enterprise=request.args.get("enterprise"), category=request.args.get("category"),
            page=page, per_page=per_page))
        items = [{k: _serial(v) for k, v in row.items()} for row in result["items"]]
        return jsonify({"tab": tab, "counts": result["counts"], "count_cap": result["count_cap"],
                        "total": result["total"], "has_next": result["has_next"], "tasks": items})
    rows = services().queries.tasks(actor=g.actor.username, department=department, status=status, limit=limit,
                                    offset=offset)
    return jsonify({"tasks": rows})


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    d = services().queries.task_brief(g.actor, task_id)
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
    """Register a problem (the body is the registration form); another system's work order keeps its
    reference (external_source, external_ref; the same pair again: 409 with the item made the first time)."""
    result = services().intake.register(g.actor, _json_body())
    return jsonify({k: _serial(v) for k, v in result.items()}), 201


@bp.get("/items")
@login_required
def items():
    """The item another system's reference names (an empty list when there is none one may see)."""
    return jsonify({"items": services().intake.lookup(g.actor, request.args.get("external_source"),
                                                      request.args.get("external_ref"))})


@bp.get("/enterprises/search")
@login_required
def enterprise_search():
    """Registry enterprises by name or credit code, for the registration form's choice."""
    return jsonify({"enterprises": services().intake.search(g.actor, request.args.get("q"))})


@bp.get("/instances/<ref>")
@login_required
def instance(ref: str):
    return jsonify(services().queries.show(ref, actor=g.actor.username))


@bp.get("/calendar/add-working-days")
@login_required
def add_working_days():
    errors = {}
    try:  # today in Beijing when no start is given (the UTC date is yesterday's before 08:00)
        start = date.fromisoformat(request.args["start"]) if "start" in request.args else \
            services().calendars.today()
    except ValueError:
        errors["start"] = "「起算日期」应为 YYYY-MM-DD"
    raw = request.args.get("days", "").strip()
    days = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 5 else 0
    if not 1 <= days <= 365:
        errors["days"] = "「期限」应为 1 到 365 之间的工作日数"
    if errors:
        raise ValidationFailed(errors)
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
