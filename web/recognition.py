"""推荐申报: a batch's recommendation list as Excel (the item page of the recognition_batch instance shows its steps)."""
from __future__ import annotations

from flask import Blueprint, abort, g

from engine.errors import NotFound
from engine.policy.recognition.lists import recommendation_workbook
from web.downloads import XLSX, send_download
from web.security import roles_required, services

bp = Blueprint("recognition", __name__, url_prefix="/recognition")
READERS = ("dispatcher", "leading_group_office", "admin")


@bp.get("/<int:instance_id>/list.xlsx")
@roles_required(*READERS)
def recommendation_list(instance_id: int):
    """The batch's 推荐名单 (the recommended enterprises, or the proposals before the review) and materials list."""
    try:
        shown = services().queries.show(instance_id, g.actor.username)
    except NotFound:
        abort(404)
    if shown["process"] != "recognition_batch":
        abort(404)
    name, content = recommendation_workbook(shown["data"])
    return send_download(content, name, XLSX)
