"""The policy page (/policy/): the action plan clause by clause, what encodes each clause, its live state
and the coverage figure; and a read-only view of a process's latest diagram with a clause's elements marked.

Every signed-in staff member may read it: it shows counts and ratings only, never an item's details."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from engine.plan.clauses import normalize
from engine.policy.plan_page import PolicyPage, clause_elements
from web.security import login_required, services

bp = Blueprint("policy", __name__, url_prefix="/policy")


def _page() -> PolicyPage:
    return services().policy


@bp.get("/")
@login_required
def index():
    return render_template("policy/index.html", p=_page().page())


@bp.get("/processes/<key>")
@login_required
def process(key: str):
    found = _page().process_diagram(key)
    if found is None:
        abort(404)
    clause = normalize(request.args.get("clause", ""))[:20]
    marked = clause_elements(found["bpmn"], key, clause) if clause else []
    return render_template("policy/process.html", d=found, clause=clause, marked=marked)


@bp.get("/processes/<key>/diagram.bpmn")
@login_required
def process_xml(key: str):
    found = _page().process_diagram(key)
    if found is None:
        abort(404)
    return Response(found["bpmn"], content_type="application/xml; charset=utf-8")
