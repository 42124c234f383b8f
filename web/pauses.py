"""Pausing a task's clock (挂起) from the task page and the API, and what the pages show of it.

The task page's forms post to ``/tasks/<id>/pause`` and ``/tasks/<id>/resume`` (CSRF-protected like every
form); the API's ``/api/v1/tasks/<id>/pause`` and ``/resume`` take JSON (a Bearer token needs no CSRF
token, a session call sends X-CSRF-Token). Who may do it is decided by the engine
(engine.runtime.pauses: the task's roles in its department); a refusal is 403 or 404, never a redirect.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, request, url_for

from engine.errors import EngineError, NotFound, PermissionDenied, ValidationFailed
from web.security import login_required, services

bp = Blueprint("pauses", __name__)


def _form_action(task_id: int, act, done: str):
    try:
        act()
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values()), exc.message), "error")
    except EngineError as exc:
        flash(exc.message, "error")
    else:
        flash(done, "info")
    return redirect(url_for("pages.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/pause")
@login_required
def pause(task_id: int):
    form = request.form
    return _form_action(task_id, lambda: services().pauses.pause(
        task_id, g.actor, form.get("reason"), form.get("expected_resume_on") or None),
        "已挂起：办理期限暂停计算，恢复办理时按挂起的工作日顺延；已通知交办单位和服务专员")


@bp.post("/tasks/<int:task_id>/resume")
@login_required
def resume(task_id: int):
    return _form_action(task_id, lambda: services().pauses.resume(task_id, g.actor, request.form.get("note")),
                        "已恢复办理：办理期限已按挂起的工作日顺延，请在新的期限前办理答复")


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "请求体必须是 JSON 对象"})
    return body


@bp.post("/api/v1/tasks/<int:task_id>/pause")
@login_required
def api_pause(task_id: int):
    body = _body()
    return jsonify(services().pauses.pause(task_id, g.actor, body.get("reason"), body.get("expected_resume_on")))


@bp.post("/api/v1/tasks/<int:task_id>/resume")
@login_required
def api_resume(task_id: int):
    return jsonify(services().pauses.resume(task_id, g.actor, _body().get("note")))


@bp.get("/api/v1/tasks/<int:task_id>/pauses")
@login_required
def api_pauses(task_id: int):
    return jsonify(services().pause_views.task_view(g.actor, task_id))


@bp.app_context_processor
def _pause_views():
    """``task_pause(task)`` for the task page (the step's pauses and what the viewer may do; once a request)
    and ``item_pauses(instance)`` for the item page."""
    def task_pause(task) -> dict | None:
        actor = g.get("actor")
        if actor is None or task is None or getattr(task, "kind", "bpmn") != "bpmn":
            return None
        cache = g.setdefault("task_pauses", {})
        if task.id not in cache:
            try:
                cache[task.id] = services().pause_views.task_view(actor, task.id)
            except NotFound:
                cache[task.id] = None
        return cache[task.id]

    def item_pauses(instance) -> dict:
        actor = g.get("actor")
        if actor is None or instance is None:
            return {"history": [], "paused": [], "stopped": []}
        return services().pause_views.item_view(actor, instance.id)
    return {"task_pause": task_pause, "item_pauses": item_pauses}
