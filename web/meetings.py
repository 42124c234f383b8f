"""联席会议 pages: the archive (/meetings) with each meeting's number, date, agenda, decisions and their items'
states; a meeting's page (minutes, attendance, topics, decisions with their items; the dispatcher's 「交办议定
事项」); the minutes as Word; and the item page's 「来自联席会议〔2026〕第N次」. The service
(engine.policy.meetings.service) decides who may see and do what; the central roles see meetings."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from engine.errors import Conflict, NotFound
from engine.identity.org import GLOBAL_ROLES
from engine.policy.meetings.service import MeetingService
from web.downloads import DOCX, send_download
from web.security import roles_required, services

bp = Blueprint("meetings", __name__, url_prefix="/meetings")
READERS = tuple(sorted(GLOBAL_ROLES))


def _meetings() -> MeetingService:
    return MeetingService.of(services())


@bp.get("/")
@roles_required(*READERS)
def index():
    return render_template("meetings/index.html", rows=_meetings().archive(g.actor),
                           can_start=g.actor.is_admin or bool(g.actor.roles & {"dispatcher", "leading_group_office"}))


@bp.post("/start")
@roles_required("dispatcher", "leading_group_office")
def start():
    """召开联席会议 now (the quarterly schedule does the same): the agenda builds itself."""
    started = services().workflows.start("joint_meeting", {}, actor=g.actor)
    flash(f"已生成联席会议议程（{started['business_key']}），由区经济信息委在「我的待办」的「准备会议议程」中增加议题，"
          "再报领导小组办公室审定", "info")
    return redirect(url_for("meetings.index"))


def _detail(meeting_id: int) -> dict:
    try:
        return _meetings().detail(g.actor, meeting_id)
    except NotFound:
        abort(404)


@bp.get("/<int:meeting_id>")
@roles_required(*READERS)
def view(meeting_id: int):
    return render_template("meetings/view.html", m=_detail(meeting_id))


@bp.post("/<int:meeting_id>/dispatch")
@roles_required("dispatcher")
def dispatch(meeting_id: int):
    """交办议定事项: each decision not yet dispatched becomes a problem item (source 联席会议)."""
    try:
        started = _meetings().dispatch(g.actor, meeting_id)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"已交办 {len(started)} 项议定事项：" + "、".join(s["business_key"] for s in started), "info")
    return redirect(url_for("meetings.view", meeting_id=meeting_id))


@bp.get("/<int:meeting_id>/minutes.docx")
@roles_required(*READERS)
def minutes(meeting_id: int):
    try:
        name, content = _meetings().minutes(g.actor, meeting_id)
    except NotFound:
        abort(404)
    return send_download(content, name, DOCX)


@bp.app_context_processor
def _origin():
    """``meeting_origin(instance)`` for the item page: the meeting the item was decided at, or None."""
    def meeting_origin(instance):
        actor = g.get("actor")
        if actor is None or instance is None:
            return None
        return _meetings().origin(actor, instance.id)
    return {"meeting_origin": meeting_origin}


def prefill(instance_id: int) -> dict:
    """The 交办 form's lead unit and deadline for an item a joint meeting decided (the task page starts with them)."""
    return _meetings().dispatch_prefill(instance_id)
