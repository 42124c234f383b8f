"""Process designer pages: versions, upload, validate, deploy, edit in the browser, migrate instances."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from engine.errors import Conflict, DeploymentError, NotFound
from web.downloads import send_download
from web.security import roles_required, services

bp = Blueprint("designer", __name__, url_prefix="/designer")
ROLES = ("designer", "admin")
MAX_UPLOAD = 5 * 1024 * 1024


@bp.get("/")
@roles_required(*ROLES)
def index():
    return render_template("designer/index.html", **services().repository.catalogue(g.actor),
                           offers=services().templates.offers(g.actor))


@bp.get("/templates/<key>/diff")
@roles_required(*ROLES)
def template_diff(key: str):
    """What the district's version changes from the city's template it came from, and what the newer template
    would change."""
    try:
        diff = services().templates.difference(g.actor, key)
    except NotFound as exc:
        return render_template("designer/template_diff.html", diff=None, missing=exc.message, key=key)
    return render_template("designer/template_diff.html", diff=diff, key=key)


@bp.post("/templates/<key>/adopt")
@roles_required(*ROLES)
def adopt_template(key: str):
    """The city's latest template of ``key`` becomes the district's next version, as it is."""
    try:
        result = services().templates.adopt(g.actor, key)
    except NotFound as exc:
        abort(404, exc.message)
    except DeploymentError as exc:
        flash("全市模板无法在本区部署：" + "；".join(p["message"] for p in exc.problems), "error")
        return redirect(url_for("designer.index"))
    flash(f"已采用全市模板：{result.name} 第 {result.version} 版" if result.created else
          f"{result.name} 与全市模板相同（第 {result.version} 版），已记为基于该模板", "info")
    return redirect(url_for("designer.index"))


@bp.post("/<key>/v<int:version>/trust")
@roles_required("admin")
def set_trust(key: str, version: int):
    """An administrator marks a version trusted (it may run effect operations) or withdraws it."""
    trusted = request.form.get("trusted") == "1"
    try:
        services().repository.set_trusted(g.actor, key, version, trusted)
    except NotFound:
        abort(404)
    what = "标记为可信，可以执行有外部效果的操作（生成、发布通报等）" if trusted else "取消可信，不能再执行有外部效果的操作"
    flash(f"{key} 第 {version} 版已{what}", "info")
    return redirect(url_for("designer.index"))


@bp.post("/upload")
@roles_required(*ROLES)
def upload():
    files = {}
    for item in request.files.getlist("files"):
        if item.filename:
            content = item.read(MAX_UPLOAD + 1)
            if len(content) > MAX_UPLOAD:
                flash(f"{item.filename} 超过 5 MB", "error")
                return redirect(url_for("designer.index"))
            files[item.filename.replace("\\", "/").rsplit("/", 1)[-1]] = content
    if not files:
        flash("请选择要上传的 .bpmn 或 .dmn 文件", "error")
        return redirect(url_for("designer.index"))
    if request.form.get("action") == "validate":
        problems = services().repository.validate(g.actor, files)
        return render_template("designer/report.html", problems=problems, files=sorted(files),
                               deployed=None), (400 if problems else 200)
    try:
        results = services().repository.deploy(g.actor, files, request.form.get("note") or None)
    except DeploymentError as exc:
        return render_template("designer/report.html", problems=exc.problems, files=sorted(files), deployed=None), 400
    return render_template("designer/report.html", problems=[], files=sorted(files), deployed=results)


@bp.get("/<key>/v<int:version>/<path:filename>")
@roles_required(*ROLES)
def download(key: str, version: int, filename: str):
    try:
        name, text = services().repository.source(g.actor, key, version, filename)
    except NotFound:
        abort(404)
    return send_download(text, name, "application/xml; charset=utf-8")


@bp.get("/dmn/<name>.dmn/edit")
@roles_required(*ROLES)
def edit_dmn(name: str):
    if services().repository.decision_source(g.actor, name) is None:
        abort(404)
    return render_template("designer/edit.html", key=name, filename=f"{name}.dmn", kind="dmn",
                           source=url_for("designer.dmn_source", name=name))


@bp.get("/dmn/<name>.dmn")
@roles_required(*ROLES)
def dmn_source(name: str):
    content = services().repository.decision_source(g.actor, name)
    if content is None:
        abort(404)
    return Response(content, content_type="application/xml; charset=utf-8")


@bp.get("/<key>/edit")
@roles_required(*ROLES)
def edit(key: str):
    try:
        filename, _ = services().repository.source(g.actor, key)
    except NotFound:
        abort(404)
    return render_template("designer/edit.html", key=key, filename=filename, kind="bpmn",
                           source=url_for("designer.latest", key=key))


@bp.get("/<key>/latest.xml")
@roles_required(*ROLES)
def latest(key: str):
    try:
        _, text = services().repository.source(g.actor, key)
    except NotFound:
        abort(404)
    return Response(text, content_type="application/xml; charset=utf-8")


def _posted_file():
    body = request.get_json(silent=True) or {}
    xml, filename = body.get("xml"), body.get("filename")
    if not isinstance(xml, str) or not xml.strip() or not isinstance(filename, str) or \
            not filename.endswith((".bpmn", ".dmn")):
        return None, None, body
    files = {filename.rsplit("/", 1)[-1]: xml.encode("utf-8")}
    # Forms edited in the designer travel with the diagram (JSON Schema files, checked on deploy).
    for name, schema in (body.get("forms") or {}).items():
        if isinstance(name, str) and name.endswith(".schema.json") and "/" not in name:
            files[name] = (schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False)).encode()
    return files, filename, body


@bp.get("/<key>/forms.json")
@roles_required(*ROLES)
def forms(key: str):
    """The forms of the latest version of a process (file name → JSON Schema)."""
    forms = services().repository.latest_forms(key)
    if forms is None:
        abort(404)
    return jsonify(forms)


@bp.post("/validate")
@roles_required(*ROLES)
def validate():
    files, _, _ = _posted_file()
    if files is None:
        return jsonify({"code": "validation_failed", "message": "请求应包含 xml 和以 .bpmn/.dmn 结尾的 filename"}), 400
    problems = services().repository.validate(g.actor, files)
    return jsonify({"ok": not problems, "problems": problems})


LINT_SCRIPT = __import__("pathlib").Path(__file__).resolve().parent / "lint" / "lint.js"
LINT_MESSAGES = {
    "label-required": "元素缺少名称", "no-bpmndi": "元素缺少图形信息（BPMNDI）", "fake-join": "多条连线汇入但未用网关汇合",
    "no-disconnected": "元素未与流程连接", "no-implicit-split": "未用网关的隐式分支", "no-implicit-end": "缺少结束事件的隐式结束",
    "no-implicit-start": "缺少开始事件的隐式开始", "conditional-flows": "条件连线缺少条件",
    "superfluous-gateway": "多余的网关", "no-overlapping-elements": "元素重叠", "end-event-required": "缺少结束事件",
    "start-event-required": "缺少开始事件", "no-gateway-join-fork": "网关同时汇合与分支",
}


@bp.post("/lint")
@roles_required(*ROLES)
def lint():
    """bpmnlint's recommended rules (run with Node): advice shown in the editor before saving."""
    import json
    import shutil
    import subprocess

    body = request.get_json(silent=True) or {}
    xml = body.get("xml")
    if not isinstance(xml, str) or len(xml.encode("utf-8")) > MAX_UPLOAD:
        return jsonify({"code": "validation_failed", "message": "请求应包含 5 MB 以内的 xml"}), 400
    node = shutil.which("node")
    if node is None or not LINT_SCRIPT.is_file():
        return jsonify({"available": False, "findings": []})
    try:
        run = subprocess.run([node, str(LINT_SCRIPT)], input=xml.encode("utf-8"), capture_output=True, timeout=20,
                             cwd=str(LINT_SCRIPT.parents[2]), check=False)
        findings = json.loads(run.stdout or b"[]")
    except (subprocess.TimeoutExpired, ValueError):
        return jsonify({"available": False, "findings": []})
    for f in findings:
        f["message"] = f"{LINT_MESSAGES.get(f['rule'], f['message'])}（bpmnlint {f['rule']}）"
    return jsonify({"available": True, "findings": findings})


@bp.post("/deploy")
@roles_required(*ROLES)
def deploy():
    files, filename, body = _posted_file()
    if files is None:
        return jsonify({"code": "validation_failed", "message": "请求应包含 xml 和以 .bpmn/.dmn 结尾的 filename"}), 400
    try:  # an edited diagram keeps the forms its latest version was deployed with
        results = services().repository.deploy(g.actor, files, body.get("note") or None,
                                               keep_forms=filename.endswith(".bpmn"))
    except DeploymentError as exc:
        return jsonify({"ok": False, "problems": exc.problems, "message": exc.message}), 400
    return jsonify({"ok": True, "deployed": [r.to_dict() for r in results]})


@bp.route("/instances/<int:instance_id>/migrate", methods=["GET", "POST"])
@roles_required(*ROLES)
def migrate(instance_id: int):
    try:
        if request.method == "POST":
            result = services().migrations.migrate(instance_id, g.actor.username)
            flash(f"{result['instance']} 已从第 {result['from']} 版迁移到第 {result['to']} 版", "info")
            return redirect(url_for("pages.instance", instance_id=instance_id))
        preview = services().migrations.preview(instance_id)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("designer.migrate", instance_id=instance_id))
    return render_template("designer/migrate.html", preview=preview, instance_id=instance_id)
