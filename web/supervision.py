"""挂牌督办 on the item page: the 「挂牌督办」 button's form, the 督办函 download, the API's listing call, and
the panel the item page shows (engine.policy.supervision.service decides who may do and see what)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from engine.errors import NotFound, ValidationFailed
from engine.policy.supervision.listing import PROCESS
from web import formfields
from web.downloads import DOCX, send_download
from web.security import login_required, services

bp = Blueprint("supervision", __name__)
START_FORM = "listed_start.schema.json"
OWN = ("item_key",)  # filled in from the item, not asked


def _form() -> dict | None:
    return (services().repository.latest_forms(PROCESS) or {}).get(START_FORM)


def _panel(instance_id: int) -> dict:
    panel = services().listings.panel(g.actor, instance_id)
    if panel is None:
        abort(404)
    return panel


@bp.route("/items/<int:instance_id>/listed-supervision", methods=["GET", "POST"])
@login_required
def start(instance_id: int):
    """挂牌督办 of an item: the office or a district leader gives the reason, slip, deadline and interval."""
    panel = _panel(instance_id)
    if not services().listings.can_list(g.actor):
        abort(403)
    schema = _form()
    if schema is None:
        abort(404)
    fields = [f for f in formfields.describe(schema, []) if f["name"] not in OWN]
    errors, values, status = {}, {"slip_colour": "黄"}, 200
    if request.method == "POST":
        values = formfields.parse(schema, request.form)
        for own in OWN:
            values.pop(own, None)
        try:
            started = services().listings.start(g.actor, instance_id, values)
        except ValidationFailed as exc:
            errors, status = exc.errors, 400
            for name, message in exc.errors.items():
                if name not in {f["name"] for f in fields}:
                    flash(message, "error")  # about the item itself (already listed, closed…)
        except NotFound:
            abort(404)
        else:
            flash(formfields.done_message(schema, values, "挂牌督办"), "info")
            listing = started.get("listing") or {}
            if listing.get("number"):
                flash(f"督办函 {listing['number']} 已签发", "info")
            return redirect(url_for("pages.instance", instance_id=instance_id))
    return render_template("supervision/start.html", instance_id=instance_id, fields=fields, errors=errors,
                           values=values, panel=panel), status


@bp.get("/listed-supervisions/<int:listing_id>/letter.docx")
@login_required
def letter(listing_id: int):
    """The 督办函 (Word), for everyone who may see the item."""
    try:
        filename, content = services().listings.letter(g.actor, listing_id)
    except NotFound:
        abort(404)
    return send_download(content, filename, DOCX)


@bp.route("/api/v1/items/<int:instance_id>/listed-supervision", methods=["GET", "POST"])
@login_required
def api_listing(instance_id: int):
    """GET: the item's listings, newest first (an item one may not see: 404). POST: 挂牌督办 through the API,
    the body the start form without the item's key. (One rule for both: an id out of range is 404 for either.)"""
    if request.method == "GET":
        return jsonify({"listings": services().listings.of_item(g.actor, instance_id)})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "请求体必须是 JSON 对象"})
    body.pop("item_key", None)
    started = services().listings.start(g.actor, instance_id, body)
    return jsonify({"id": started["id"], "business_key": started["business_key"], "title": started["title"],
                    "item_status": started.get("item_status"), "listing": started["listing"],
                    "open_tasks": started["open_tasks"]}), 201


@bp.app_context_processor
def _listed():
    """``listed_supervision(instance)`` for the item page: its panel (None for other processes)."""
    def listed_supervision(instance):
        actor = g.get("actor")
        if actor is None or instance is None:
            return None
        return services().listings.panel(actor, instance.id)
    return {"listed_supervision": listed_supervision}
