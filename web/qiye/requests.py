"""企业端 诉求: the enterprise submits its problems, follows them and rates the answers released to it.

Every page is the signed-in enterprise's own (``g.enterprise``; another enterprise's item answers 404, a staff
session 403 by :func:`web.qiye.enterprise_required`). What a page shows is what the engine hands out for the
enterprise (engine.policy.enterprise_requests.following): never the workflow data nor staff notes.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.policy.enterprise_requests.service import MAX_FILES, Requester
from web.downloads import send_download
from web.qiye import NAV, bp, enterprise_required
from web.security import services

NAV.insert(1, ("qiye.requests", "我的诉求"))


def requester() -> Requester:
    e = g.enterprise
    return Requester(enterprise_id=e.enterprise_id, contact_name=e.contact_name, account_id=e.account_id,
                     contact_id=e.contact_id)


@bp.get("/requests/")
@enterprise_required
def requests():
    return render_template("qiye/requests.html", items=services().enterprise_items.items(requester()))


@bp.route("/requests/new", methods=["GET", "POST"])
@enterprise_required
def new_request():
    who = requester()
    categories = services().enterprise_requests.categories()
    form = {"category": "", "description": "", "contact": services().enterprise_items.contact_line(who)}
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in form}
        files = [(f.filename or "", f.read()) for f in request.files.getlist("files") if f and f.filename]
        try:
            made = services().enterprise_requests.submit(who, form["category"], form["description"], form["contact"],
                                                         files)
        except ValidationFailed as exc:
            return render_template("qiye/request_new.html", categories=categories, form=form, errors=exc.errors,
                                   max_files=MAX_FILES), 400
        flash(f"已提交，事项编号 {made['business_key']}。区经济信息委将在 1 个工作日内研判是否受理，"
              "受理后会通过短信或邮件告知您。", "info")
        return redirect(url_for("qiye.item", instance_id=made["id"]))
    return render_template("qiye/request_new.html", categories=categories, form=form, errors={}, max_files=MAX_FILES)


@bp.get("/items/<int:instance_id>")
@enterprise_required
def item(instance_id: int):
    try:
        shown = services().enterprise_items.item(requester(), instance_id)
    except NotFound:
        abort(404)
    return render_template("qiye/request_item.html", item=shown, errors={}, form={})


@bp.post("/items/<int:instance_id>/rating")
@enterprise_required
def rate(instance_id: int):
    who = requester()
    form = {k: (request.form.get(k) or "").strip() for k in ("solved", "satisfied", "rating_comment")}
    try:
        done = services().enterprise_requests.rate(who, instance_id, form["solved"] or None, form["satisfied"] or None,
                                                   form["rating_comment"])
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("qiye.item", instance_id=instance_id))
    except ValidationFailed as exc:
        shown = services().enterprise_items.item(who, instance_id)
        return render_template("qiye/request_item.html", item=shown, errors=exc.errors, form=form), 400
    if done["reopened"]:
        flash("已收到您的评价：不满意。事项已转回承办单位重新办理，新的答复审核后会再通知您。", "info")
    else:
        flash("已收到您的评价，谢谢！事项已办结，办结通知会发送给您。", "info")
    return redirect(url_for("qiye.item", instance_id=instance_id))


@bp.get("/files/<int:attachment_id>")
@enterprise_required
def sent_file(attachment_id: int):
    """A file the enterprise sent (with a problem or an application); any other answers 404."""
    try:
        filename, content_type, content = services().enterprise_items.sent_file(g.enterprise.enterprise_id,
                                                                               attachment_id)
    except NotFound:
        abort(404)
    return send_download(content, filename, content_type)
