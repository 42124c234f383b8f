"""The pages users work in: inbox, task, item (instance), dispatcher console, notifications."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from engine.errors import Conflict, EngineError, NotFound, ValidationFailed
from engine.policy.dispatch.intake import EnterpriseNotFound
from engine.policy.pool.enterprises import EDIT_ROLES
from engine.queries.tasks import DEFAULT_TAB, TABS, InboxFilter
from notifications.errors import MessageNotFound
from web import formfields
from web.downloads import send_download
from web.enterprises import VIEW_ROLES as ENTERPRISE_VIEW_ROLES
from web.meetings import prefill as meeting_prefill
from web.params import MAX_PAGE, back, form_ref, int_arg
from web.security import login_required, roles_required, services

bp = Blueprint("pages", __name__)


def _departments() -> list[str]:
    return services().identity.department_names()


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/")
@login_required
def inbox():
    page = int_arg("page", 1, 1, MAX_PAGE)
    f = InboxFilter(tab=request.args.get("tab") or DEFAULT_TAB, enterprise=request.args.get("enterprise") or None,
                    category=request.args.get("category") or None, date_from=_date(request.args.get("from")),
                    date_to=_date(request.args.get("to")), page=page)
    result = services().queries.inbox(g.actor, f)
    return render_template("inbox.html", result=result, tabs=TABS, f=f, categories=services().workflows.categories())


def _task_form(detail: dict):
    schema = detail["schema"]
    if not schema:
        return schema, None
    keyed = any(p.get("format") == "item-key" for p in schema.get("properties", {}).values())
    items = services().intake.merge_candidates(g.actor, detail["task"].instance_id) if keyed else None
    return schema, formfields.describe(schema, _departments(), detail.get("colleagues"), items)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    try:
        detail = services().queries.task_detail(g.actor, task_id)
    except NotFound:
        abort(404)
    schema, fields = _task_form(detail)
    errors, values, status = {}, {}, 200
    prefill = [n for n, p in (schema or {}).get("properties", {}).items() if p.get("x-prefill")]
    if prefill and request.method == "GET":
        # Fields the diagram prepared (e.g. a generated circular draft) start filled in.
        data = services().queries.show(detail["task"].instance_id, actor=g.actor.username)["data"]
        values = {n: data.get(n) for n in prefill if data.get(n) is not None}
    if request.method == "GET" and detail["task"].bpmn_id == "dispatch":  # an item a joint meeting decided
        values = {**meeting_prefill(detail["task"].instance_id), **values}
    if request.method == "POST":
        if schema is None:
            abort(403)
        values = formfields.parse(schema, request.form)
        try:
            services().workflows.complete(task_id, values, g.actor)
        except ValidationFailed as exc:
            errors, status = exc.errors, 400
        except EngineError as exc:
            flash(exc.message, "error")
            return redirect(url_for("pages.task", task_id=task_id))
        else:
            flash(formfields.done_message(schema, values, detail["task"].name), "info")
            return redirect(url_for("pages.inbox"))
    return render_template("task.html", d=detail, fields=fields, errors=errors, values=values), status


@bp.post("/items/<int:instance_id>/comments")
@login_required
def comment(instance_id: int):
    try:
        services().items.add_comment(g.actor, instance_id, request.form.get("text", ""),
                                     form_ref("task_id", "任务"))
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
    except NotFound:
        abort(404)
    return redirect(back())


@bp.post("/items/<int:instance_id>/attachments")
@login_required
def attach(instance_id: int):
    upload = request.files.get("file")
    try:
        services().items.add_attachment(g.actor, instance_id, upload.filename if upload else "",
                                        upload.read() if upload else b"", form_ref("task_id", "任务"))
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
    except NotFound:
        abort(404)
    else:
        flash("附件已上传", "info")
    return redirect(back())


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    try:
        filename, content_type, content = services().items.read_attachment(g.actor, attachment_id)
    except NotFound:
        abort(404)
    return send_download(content, filename, content_type)


@bp.get("/items/<int:instance_id>")
@login_required
def instance(instance_id: int):
    detail = services().queries.instance_detail(g.actor, instance_id)
    if detail is None:
        abort(404)
    data = services().queries.show(instance_id, actor=g.actor.username)["data"]
    return render_template("instance.html", d=detail, data=data)


@bp.get("/items/<int:instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id: int):
    detail = services().queries.instance_detail(g.actor, instance_id)
    if detail is None or not detail["bpmn"]:
        abort(404)
    return Response(detail["bpmn"], content_type="application/xml; charset=utf-8")


# Fields of the registration form the console draws itself: the registry choice and the measures.
CONSOLE_OWN = ("enterprise_name", "enterprise_uscc", "enterprise_id", "measures", "external_source", "external_ref")


def _numbers(values: list[str]) -> list:
    """Checked boxes as numbers; anything else is passed on for the engine to name."""
    return [int(v) if v.isascii() and v.isdigit() and len(v) < 6 else v for v in values if v.strip()]


@bp.route("/console", methods=["GET", "POST"])
@roles_required("dispatcher", "service_officer")
def console():
    schema = (services().repository.latest_forms("problem_dispatch") or {}).get("register.schema.json")
    fields = [f for f in formfields.describe(schema, _departments()) if f["name"] not in CONSOLE_OWN] if schema else []
    errors, values, status, choices = {}, {}, 200, None
    if request.method == "POST" and schema:
        values = formfields.parse(schema, request.form)
        for own in ("measures", "external_source", "external_ref"):  # drawn here, not by formfields
            values.pop(own, None)
        if request.form.getlist("measures"):
            values["measures"] = _numbers(request.form.getlist("measures"))
        add = request.form.get("add_enterprise") == "1"
        if request.form.get("find"):  # without scripts: the registry's matches, to choose from
            try:
                choices = services().intake.search(g.actor, request.form.get("enterprise_uscc")
                                                   or request.form.get("enterprise_name"))
            except ValidationFailed as exc:
                errors = {"enterprise_name": exc.errors.get("q", exc.message)}
        else:
            try:
                started = services().intake.register(g.actor, values, add_enterprise=add)
            except ValidationFailed as exc:
                errors, status = exc.errors, 400
            except EnterpriseNotFound as exc:
                errors, status = {"enterprise_id": exc.message}, 400
            else:
                flash(f"已登记 {started['business_key']}：{started['title']}", "info")
                if started["enterprise_note"]:
                    flash(started["enterprise_note"], "info")
                first = started["open_tasks"][0]["id"] if started["open_tasks"] else None
                return redirect(url_for("pages.task", task_id=first) if first else url_for("pages.console"))
    mine = services().queries.inbox(g.actor, InboxFilter(tab="in_progress", per_page=50))
    late = services().queries.overdue(g.actor)
    return render_template("console.html", fields=fields, errors=errors, values=values, mine=mine, late=late,
                           choices=choices, measures=services().intake.measure_choices() if schema else [],
                           can_add=g.actor.is_admin or bool(g.actor.roles & EDIT_ROLES),
                           has_form=bool(schema)), status


@bp.post("/items/<int:instance_id>/measures")
@roles_required("dispatcher")
def item_measures(instance_id: int):
    try:
        services().intake.set_measures(g.actor, instance_id, _numbers(request.form.getlist("measures")))
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
    except NotFound:
        abort(404)
    else:
        flash("涉及措施已保存", "info")
    return redirect(url_for("pages.instance", instance_id=instance_id))


@bp.post("/items/<int:instance_id>/city")
@roles_required("dispatcher", "leading_group_office")
def escalate_to_city(instance_id: int):
    """市区联动: the district's item escalated to the city with the reason given."""
    try:
        asked = services().city_links.escalate(g.actor, instance_id, request.form.get("reason"))
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"已提请市级协调，市级事项 {asked['city_key']}；市经济信息委研判后交市级部门办理或退回本区", "info")
    return redirect(url_for("pages.instance", instance_id=instance_id))


@bp.app_context_processor
def _city_link():
    """``city_link(instance)`` for the item page: the city item of an escalated item, and whether one may ask."""
    def city_link(instance) -> dict:
        actor = g.get("actor")
        links = services().city_links
        return {"status": links.status(instance.id), "may_ask": links.may_escalate(actor)}
    return {"city_link": city_link}


@bp.app_context_processor
def _item_links():
    """``item_links(instance)`` for the item and task pages: the registry enterprise (with a link to its
    record when the viewer may open it), the measures, another system's reference."""
    def item_links(instance) -> dict | None:
        actor = g.get("actor")
        if actor is None or instance is None:
            return None
        links = services().intake.links(actor, instance.id)
        if links and links["enterprise"] and not (actor.is_admin or actor.roles & set(ENTERPRISE_VIEW_ROLES)):
            links["enterprise"]["can_view"] = False
        return links
    return {"item_links": item_links, "measure_choices": lambda: services().intake.measure_choices()}


@bp.get("/notifications")
@login_required
def notifications():
    return render_template("notifications.html", messages=services().inbox.messages(g.actor))


@bp.post("/notifications/read")
@login_required
def notifications_read():
    try:  # no id: all of one's messages; a bad id: none of them
        services().inbox.mark_read(g.actor, form_ref("id", "消息"))
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
    except MessageNotFound:  # not one of the user's messages
        abort(404)
    return redirect(url_for("pages.notifications"))
