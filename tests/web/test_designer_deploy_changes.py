"""The designer's upload and editor deploy only the processes whose own content changed: a decision
table re-deploys the processes that use it and leaves a reverted diagram alone; an edited diagram keeps
the forms its latest version was deployed with."""
from __future__ import annotations

import io
import json

import pytest

from tests.helpers import BPMN, ROOT, Browser

pytestmark = pytest.mark.sqlite_only
CRITERIA = (ROOT / "processes" / "cultivation_criteria.dmn").read_text(encoding="utf-8")
STRICTER = CRITERIA.replace('<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 2</text>',
                            '<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 5</text>')


@pytest.fixture
def designer(zjtx):
    from web import create_app

    b = Browser(create_app(services=zjtx, config={"TESTING": True}))
    assert b.login("designer").status_code == 302
    b.get("/designer/")
    return b


def versions(zjtx) -> dict[str, list[int]]:
    with zjtx.db.read() as session:
        return {p["key"]: [v["version"] for v in p["versions"]] for p in zjtx.registry.catalogue(session)}


def upload(b, files: dict[str, str], action: str = "deploy"):
    data = {"action": action, "files": [(io.BytesIO(text.encode()), name) for name, text in files.items()]}
    return b.post("/designer/upload", data, content_type="multipart/form-data")


def test_an_uploaded_table_after_a_revert_redeploys_its_users_only(designer, zjtx):
    assert "第 2 版（新）" in upload(designer, {"problem_dispatch.bpmn": BPMN.replace('name="交办"', 'name="交办（改）"')}
                                   ).get_data(as_text=True)
    designer.get("/designer/")
    assert "第 3 版（新）" in upload(designer, {"problem_dispatch.bpmn": BPMN}).get_data(as_text=True)  # the revert
    designer.get("/designer/")
    checked = upload(designer, {"cultivation_criteria.dmn": STRICTER}, action="validate")
    assert checked.status_code == 200 and "校验通过" in checked.get_data(as_text=True)
    before = versions(zjtx)
    designer.get("/designer/")
    page = upload(designer, {"cultivation_criteria.dmn": STRICTER}).get_data(as_text=True)
    assert "培育库入库（pool_admission）第 2 版（新）" in page and "problem_dispatch" not in page
    assert versions(zjtx) == {**before, "pool_admission": [2, 1]}
    latest = designer.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    assert latest == BPMN  # the reverted diagram stays the latest
    assert designer.client.get("/designer/pool_admission/v2/cultivation_criteria.dmn").get_data(as_text=True) == STRICTER


def test_the_editor_deploys_a_table_to_its_users_only(designer, zjtx):
    headers = {"X-CSRF-Token": designer.token}
    answer = designer.client.post("/designer/deploy", headers=headers, json={
        "xml": STRICTER, "filename": "cultivation_criteria.dmn", "note": "研发投入比例调整为5%"}).get_json()
    assert answer["deployed"] == [{"process": "pool_admission", "name": "培育库入库", "version": 2, "created": True}]
    same = designer.client.post("/designer/deploy", headers=headers, json={
        "xml": STRICTER, "filename": "cultivation_criteria.dmn"}).get_json()
    assert same["deployed"][0]["created"] is False
    nobody = designer.client.post("/designer/deploy", headers=headers, json={
        "xml": STRICTER.replace('id="cultivation_criteria"', 'id="unused_table"'), "filename": "unused_table.dmn"})
    assert nobody.status_code == 400 and "没有流程使用决策表 unused_table" in nobody.get_json()["message"]


def test_an_edited_diagram_keeps_the_forms_its_latest_version_has(designer, zjtx):
    headers = {"X-CSRF-Token": designer.token}
    sign = designer.client.get("/designer/problem_dispatch/forms.json").get_json()["sign.schema.json"]
    sign["properties"]["return_reason"]["title"] = "退回理由（请写明应由哪个单位办理）"
    xml = designer.client.get("/designer/problem_dispatch/latest.xml").get_data(as_text=True)
    assert designer.client.post("/designer/deploy", headers=headers, json={
        "xml": xml, "filename": "problem_dispatch.bpmn", "forms": {"sign.schema.json": sign}}).get_json()["ok"]
    changed = designer.client.post("/designer/deploy", headers=headers, json={  # the diagram alone
        "xml": xml.replace('name="交办"', 'name="交办（改）"'), "filename": "problem_dispatch.bpmn"}).get_json()
    assert changed["deployed"][0]["version"] == 3
    forms = designer.client.get("/designer/problem_dispatch/forms.json").get_json()
    assert forms["sign.schema.json"]["properties"]["return_reason"]["title"] == "退回理由（请写明应由哪个单位办理）"
    assert json.dumps(forms, sort_keys=True) == json.dumps({**forms, "sign.schema.json": sign}, sort_keys=True)
