"""Designer pages: versions, upload with validation reports, download, editing endpoints, migration."""
from __future__ import annotations

import io
import json

import pytest

from tests.helpers import BPMN, MINIMAL, USER_TASK, Browser, Item

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def app(zjtx):
    from web import create_app

    return create_app(services=zjtx, config={"TESTING": True})


def as_user(app, user):
    b = Browser(app)
    assert b.login(user).status_code == 302
    return b


def test_the_designer_pages_belong_to_designers(app):
    assert as_user(app, "designer").get("/designer/").status_code == 200
    assert as_user(app, "admin").get("/designer/problem_dispatch/edit").status_code == 200
    for user in ("dispatcher", "science_tech_bureau_liaison"):
        b = as_user(app, user)
        assert b.get("/designer/").status_code == 403
        assert b.client.post("/designer/deploy", json={}, headers={"X-CSRF-Token": b.token}).status_code == 403


def test_versions_are_listed_with_who_when_and_running_instances(app, zjtx):
    Item(zjtx)
    page = as_user(app, "designer").get("/designer/").get_data(as_text=True)
    assert "企业问题交办" in page and "第 1 版" in page and "随系统发布的流程" in page
    assert "problem_dispatch.bpmn" in page


def test_an_upload_with_problems_gets_a_report_and_deploys_nothing(app, zjtx):
    b = as_user(app, "designer")
    b.get("/designer/")
    broken = BPMN.replace('triage_decision == "accept"', 'triage_decision = = "accept"')
    response = b.post("/designer/upload", {"files": (io.BytesIO(broken.encode()), "problem_dispatch.bpmn"),
                                           "action": "deploy"}, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "文件未部署" in text and "triage_gateway" in text and "语法错误" in text
    with zjtx.db.read() as session:
        versions = {p["key"]: [v["version"] for v in p["versions"]] for p in zjtx.registry.catalogue(session)}
    assert versions["problem_dispatch"] == [1]


def test_a_good_upload_deploys_a_new_version_and_can_be_downloaded(app, zjtx):
    b = as_user(app, "designer")
    b.get("/designer/")
    tiny = MINIMAL.format(lane="区科技局", task=USER_TASK)
    checked = b.post("/designer/upload", {"files": (io.BytesIO(tiny.encode()), "tiny.bpmn"), "action": "validate"},
                     content_type="multipart/form-data")
    assert checked.status_code == 200 and "校验通过" in checked.get_data(as_text=True)
    b.get("/designer/")
    deployed = b.post("/designer/upload", {"files": (io.BytesIO(tiny.encode()), "tiny.bpmn"), "action": "deploy",
                                           "note": "新增小流程"}, content_type="multipart/form-data")
    assert "第 1 版（新）" in deployed.get_data(as_text=True)
    source = b.client.get("/designer/tiny/v1/tiny.bpmn")
    assert source.status_code == 200 and b'id="tiny"' in source.data
    assert b.client.get("/designer/tiny/v1/other.bpmn").status_code == 404


def test_the_editor_validates_and_deploys_through_json(app, zjtx):
    b = as_user(app, "designer")
    b.get("/designer/problem_dispatch/edit")
    xml = b.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    headers = {"X-CSRF-Token": b.token}
    assert b.client.post("/designer/deploy", json={"xml": xml, "filename": "problem_dispatch.bpmn"}).status_code == 400
    bad = b.client.post("/designer/validate", headers=headers, json={
        "xml": xml.replace('name="交办"', 'name="交办"').replace(
            '<spiffworkflow:property name="due_working_days" value="1"/>', "", 1), "filename": "problem_dispatch.bpmn"})
    assert bad.get_json()["ok"] is False and "没有期限" in json.dumps(bad.get_json(), ensure_ascii=False)
    same = b.client.post("/designer/deploy", headers=headers, json={"xml": xml, "filename": "problem_dispatch.bpmn"})
    assert same.get_json()["deployed"][0]["created"] is False
    changed = b.client.post("/designer/deploy", headers=headers, json={
        "xml": xml.replace('name="交办"', 'name="交办（改）"'), "filename": "problem_dispatch.bpmn", "note": "改名"})
    assert changed.get_json()["deployed"][0] == {"process": "problem_dispatch", "name": "企业问题交办", "version": 2,
                                                  "created": True}
    assert b.client.post("/designer/validate", headers=headers, json={"xml": "x"}).status_code == 400


def test_a_designer_migrates_an_instance_from_its_page(app, zjtx):
    item = Item(zjtx)
    item.accept()
    b = as_user(app, "designer")
    b.get("/designer/")
    headers = {"X-CSRF-Token": b.token}
    xml = b.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    b.client.post("/designer/deploy", headers=headers, json={"xml": xml.replace('name="交办"', 'name="交办（新）"'),
                                                             "filename": "problem_dispatch.bpmn"})
    preview = b.get(f"/designer/instances/{item.id}/migrate").get_data(as_text=True)
    assert "第 1 版 → 第 2 版" in preview and "迁移到第 2 版" in preview
    assert b.post(f"/designer/instances/{item.id}/migrate").status_code == 302
    assert item.task("dispatch")["name"] == "交办（新）"


def test_an_edited_decision_table_is_deployed_with_its_processes_and_used(zjtx, clock):  # figures of 2025
    from pathlib import Path

    from tests.helpers import apply, register

    register(zjtx)  # R&D ratio 3%: eligible under the policy's 2%
    dmn = (Path(__file__).resolve().parents[2] / "processes" / "cultivation_criteria.dmn").read_text(encoding="utf-8")
    stricter = dmn.replace('<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 2</text>',
                           '<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 5</text>').replace(
        '<inputEntry id="rule_10_rd_ratio"><text>? is not None and ? &lt; 2</text>',
        '<inputEntry id="rule_10_rd_ratio"><text>? is not None and ? &lt; 5</text>')
    assert stricter != dmn
    with zjtx.db.write() as session:
        results = {r.key: r for r in zjtx.registry.deploy(session, {"cultivation_criteria.dmn": stricter.encode()},
                                                            deployed_by="designer", note="研发投入比例调整为5%")}
    assert results["pool_admission"].created and results["pool_admission"].version == 2
    started = apply(zjtx)  # decided with the deployed table: 3% is now below the bar
    shown = zjtx.queries.show(started["id"])
    assert shown["item_status"] == "不符合培育条件"
    assert any("研发投入" in r for r in shown["data"]["admission_reasons"])


def test_decision_tables_open_in_the_dmn_editor(app, zjtx):
    b = as_user(app, "designer")
    listing = b.get("/designer/").get_data(as_text=True)
    assert "cultivation_criteria.dmn" in listing
    page = b.get("/designer/dmn/cultivation_criteria.dmn/edit").get_data(as_text=True)
    assert "dmn-modeler.production.min.js" in page and "dmn-designer.js" in page
    assert b"cultivation_criteria" in b.client.get("/designer/dmn/cultivation_criteria.dmn").data
    assert b.client.get("/designer/dmn/nothing.dmn/edit").status_code == 404
    headers = {"X-CSRF-Token": b.token}
    xml = b.client.get("/designer/dmn/cultivation_criteria.dmn").get_data(as_text=True)
    checked = b.client.post("/designer/validate", headers=headers, json={"xml": xml, "filename": "cultivation_criteria.dmn"})
    assert checked.get_json() == {"ok": True, "problems": []}


def test_bpmnlint_advice_is_given_for_the_editor(app):
    import shutil

    if shutil.which("node") is None:
        pytest.skip("没有 node")
    b = as_user(app, "designer")
    b.get("/designer/problem_dispatch/edit")
    xml = b.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    found = b.client.post("/designer/lint", headers={"X-CSRF-Token": b.token}, json={"xml": xml}).get_json()
    assert found["available"] is True
    labels = [f for f in found["findings"] if f["rule"] == "label-required"]
    assert {f["element"] for f in labels} >= {"slot_start", "slot_end"}
    assert all("元素缺少名称" in f["message"] for f in labels)


def test_a_form_edited_in_the_designer_is_deployed_with_the_diagram(app, zjtx):
    b = as_user(app, "designer")
    b.get("/designer/problem_dispatch/edit")
    forms = b.client.get("/designer/problem_dispatch/forms.json").get_json()
    sign = forms["sign.schema.json"]
    sign["properties"]["return_reason"]["title"] = "退回理由（请写明应由哪个单位办理）"
    xml = b.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    headers = {"X-CSRF-Token": b.token}
    result = b.client.post("/designer/deploy", headers=headers, json={
        "xml": xml, "filename": "problem_dispatch.bpmn", "forms": {"sign.schema.json": sign}}).get_json()
    assert result["deployed"][0]["version"] == 2 and result["deployed"][0]["created"] is True
    bad = b.client.post("/designer/deploy", headers=headers, json={
        "xml": xml, "filename": "problem_dispatch.bpmn", "forms": {"sign.schema.json": {"type": "nonsense"}}})
    assert bad.status_code == 400 and "sign.schema.json" in bad.get_data(as_text=True)
    item = Item(zjtx)
    item.accept()
    item.dispatch("区科技局")
    from engine.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        item.do("sign", {"sign_decision": "return"}, "science_tech_bureau_liaison")
    assert caught.value.errors["return_reason"] == "「退回理由（请写明应由哪个单位办理）」为必填项"
