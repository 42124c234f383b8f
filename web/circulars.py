"""Circulars: the archive, the printable page and the Word document."""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template

from engine.errors import NotFound
from engine.policy.circulars.service import table_columns
from engine.policy.dispatch.figures import labels
from web.security import login_required, services

bp = Blueprint("circulars", __name__, url_prefix="/circulars")
DRAFT_READERS = {"dispatcher", "leading_group_office", "admin"}


def _drafts() -> bool:
    return g.actor.is_admin or bool(g.actor.roles & DRAFT_READERS)


@bp.get("/")
@login_required
def index():
    return render_template("circulars/index.html", rows=services().circulars.list(_drafts()))


def _get(circular_id: int):
    try:
        return services().circulars.get(circular_id, _drafts())
    except NotFound:
        abort(404)


@bp.get("/<int:circular_id>")
@login_required
def view(circular_id: int):
    circular = _get(circular_id)
    return render_template("circulars/view.html", c=circular, columns=table_columns(circular.figures), labels=labels())


@bp.get("/<int:circular_id>.docx")
@login_required
def docx(circular_id: int):
    circular = _get(circular_id)
    from urllib.parse import quote

    name = quote(f"{circular.number or '通报草稿'}.docx")
    return Response(services().circulars.docx(circular),
                    content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})
