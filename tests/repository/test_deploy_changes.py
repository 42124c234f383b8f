"""A deployment creates versions exactly for the processes whose own content changed (their diagram,
the decision tables and forms they use), built from their latest versions' own files: a decision
table deployed alone never brings back an older or another process's copy of a diagram."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine.errors import DeploymentError
from engine.storage.models import ProcessVersion
from tests.helpers import BPMN, MINIMAL, ROOT

PROCESSES = ROOT / "processes"
CRITERIA = (PROCESSES / "cultivation_criteria.dmn").read_text(encoding="utf-8")
# One rule changed: the R&D ratio of the policy's 2% becomes 5%.
STRICTER = CRITERIA.replace('<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 2</text>',
                            '<inputEntry id="rule_9_rd_ratio"><text>? is not None and ? &gt;= 5</text>')
EDITED = BPMN.replace('name="交办"', 'name="交办（改）"')
ADMISSION = (PROCESSES / "pool_admission.bpmn").read_text(encoding="utf-8")
BUSINESS_RULE = ('<bpmn:businessRuleTask id="t1" name="判定"><bpmn:extensionElements><spiffworkflow:calledDecisionId>'
                 'tiny_rule</spiffworkflow:calledDecisionId></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming>'
                 '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>')
TINY_RULE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="tiny_rule_d" name="小规则" namespace="t">
  <decision id="tiny_rule" name="小规则"><decisionTable id="tiny_rule_table" hitPolicy="FIRST">
    <input id="i1" label="数"><inputExpression id="i1e"><text>amount</text></inputExpression></input>
    <output id="o1" label="结果" name="verdict"/>
    <rule id="r1"><inputEntry id="r1i"><text>&gt;= LIMIT</text></inputEntry>
      <outputEntry id="r1o"><text>"大"</text></outputEntry></rule>
  </decisionTable></decision>
</definitions>"""


def deploy(zjtx, files: dict[str, str], **kwargs) -> dict[str, tuple[int, bool]]:
    """{process: (version, created)} of a deployment of {file name: text}."""
    with zjtx.db.write() as session:
        results = zjtx.registry.deploy(session, {k: v.encode() for k, v in files.items()}, **kwargs)
    return {r.key: (r.version, r.created) for r in results}


def bundle(**changed: str) -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(PROCESSES.glob("*.bpmn"))}
    files.update({p.name: p.read_text(encoding="utf-8") for p in sorted(PROCESSES.glob("*.dmn"))})
    return {**files, **{name.replace("__", "."): text for name, text in changed.items()}}


def latest(zjtx, key: str) -> SimpleNamespace:
    with zjtx.db.read() as session:
        v = zjtx.registry.latest(session, key)
        return SimpleNamespace(version=v.version, sources=v.sources, forms=v.forms, trusted=v.trusted,
                               deployed_by=v.deployed_by, note=v.note)


def version_count(zjtx) -> dict[str, int]:
    with zjtx.db.read() as session:
        return {p["key"]: len(p["versions"]) for p in zjtx.registry.catalogue(session)}


def test_a_table_deployed_after_a_revert_leaves_the_reverted_diagram_alone(zjtx):
    assert deploy(zjtx, bundle()) == {k: (1, False) for k in version_count(zjtx)}  # the bundle, as installed
    assert deploy(zjtx, {"problem_dispatch.bpmn": EDITED}, deployed_by="designer") == {"problem_dispatch": (2, True)}
    # The administrator reverts: the original diagram again, as a new latest version.
    assert deploy(zjtx, {"problem_dispatch.bpmn": BPMN}, deployed_by="admin") == {"problem_dispatch": (3, True)}
    before = version_count(zjtx)
    found = deploy(zjtx, {"cultivation_criteria.dmn": STRICTER}, deployed_by="admin", note="研发投入比例调整为5%")
    assert found == {"pool_admission": (2, True)}  # the only process that uses the table
    assert version_count(zjtx) == {**before, "pool_admission": 2}
    dispatch = latest(zjtx, "problem_dispatch")
    assert dispatch.version == 3 and dispatch.sources == {"problem_dispatch.bpmn": BPMN}
    admission = latest(zjtx, "pool_admission")
    assert admission.sources["cultivation_criteria.dmn"] == STRICTER
    assert admission.sources["pool_admission.bpmn"] == ADMISSION
    assert sorted(admission.sources) == ["cultivation_criteria.dmn", "cultivation_decision.dmn",
                                         "pool_admission.bpmn", "sme_classification.dmn"]
    assert (admission.deployed_by, admission.note) == ("admin", "研发投入比例调整为5%")
    with zjtx.db.read() as session:
        assert zjtx.registry.latest_decision_sources(session)["cultivation_criteria.dmn"] == STRICTER.encode()


def test_a_stale_copy_bundled_in_an_older_version_never_comes_back(zjtx):
    """Versions deployed before tables were tied to their users stored every file of their deployment."""
    with zjtx.db.write() as session:
        old = zjtx.registry.latest(session, "pool_admission")
        old.sources = {**bundle(), "problem_dispatch.bpmn": EDITED}
        old.content_hash = "a hash of the former formula"
    deploy(zjtx, {"problem_dispatch.bpmn": EDITED})
    deploy(zjtx, {"problem_dispatch.bpmn": BPMN})
    assert deploy(zjtx, bundle()) == {k: (v, False) for k, v in version_count(zjtx).items()}  # nothing changed
    assert deploy(zjtx, {"cultivation_criteria.dmn": STRICTER}) == {"pool_admission": (2, True)}
    assert latest(zjtx, "problem_dispatch").sources == {"problem_dispatch.bpmn": BPMN}
    assert "problem_dispatch.bpmn" not in latest(zjtx, "pool_admission").sources


def test_the_same_files_twice_create_no_versions(zjtx):
    before = version_count(zjtx)
    assert set(deploy(zjtx, bundle()).values()) == {(1, False)}
    assert deploy(zjtx, {"cultivation_criteria.dmn": CRITERIA}) == {"pool_admission": (1, False)}
    assert deploy(zjtx, {"admission_review.schema.json": (PROCESSES / "forms" / "admission_review.schema.json")
                         .read_text(encoding="utf-8")}) == {"pool_admission": (1, False)}
    zjtx.deploy_bundled()
    assert version_count(zjtx) == before


def test_a_bundle_where_only_a_table_changed_makes_versions_of_its_users_only(zjtx):
    found = deploy(zjtx, bundle(cultivation_criteria__dmn=STRICTER))
    assert {k for k, (_, created) in found.items() if created} == {"pool_admission"}
    assert found["pool_admission"] == (2, True) and found["problem_dispatch"] == (1, False)
    assert latest(zjtx, "problem_dispatch").version == 1


def test_the_forms_of_a_redeployed_process_are_kept(zjtx):
    form = json.loads((PROCESSES / "forms" / "admission_review.schema.json").read_text(encoding="utf-8"))
    form["title"] = "审核意见（designer 改过）"
    edited = json.dumps(form, ensure_ascii=False)
    assert deploy(zjtx, {"pool_admission.bpmn": ADMISSION, "admission_review.schema.json": edited}) == \
        {"pool_admission": (2, True)}
    assert deploy(zjtx, {"cultivation_criteria.dmn": STRICTER}) == {"pool_admission": (3, True)}
    kept = latest(zjtx, "pool_admission").forms
    assert kept["admission_review.schema.json"]["title"] == "审核意见（designer 改过）"
    assert kept == forms_of(zjtx, "pool_admission", 2)
    form["title"] = "审核意见（再改）"  # a form alone re-deploys the processes that use it, and only them
    found = deploy(zjtx, {"admission_review.schema.json": json.dumps(form, ensure_ascii=False)})
    assert found == {"pool_admission": (4, True)}
    assert latest(zjtx, "pool_admission").sources["cultivation_criteria.dmn"] == STRICTER


def forms_of(zjtx, key: str, number: int) -> dict:
    with zjtx.db.read() as session:
        return next(v.forms for v in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id))
                    if v.definition.key == key and v.version == number)


def test_a_table_deployed_from_our_folder_does_not_make_an_untrusted_diagram_trusted(zjtx):
    changed = ADMISSION.replace('name="培育库入库"', 'name="培育库入库（改）"')
    assert deploy(zjtx, {"pool_admission.bpmn": changed}) == {"pool_admission": (2, True)}  # from the browser
    assert deploy(zjtx, {"cultivation_criteria.dmn": STRICTER}, trusted=True) == {"pool_admission": (3, True)}
    assert latest(zjtx, "pool_admission").trusted is False


def test_a_business_rule_task_ties_its_table_to_the_process(zjtx):
    tiny = MINIMAL.format(lane="区科技局", task=BUSINESS_RULE)
    assert deploy(zjtx, {"tiny.bpmn": tiny, "tiny_rule.dmn": TINY_RULE.replace("LIMIT", "10")}) == {"tiny": (1, True)}
    assert deploy(zjtx, {"tiny_rule.dmn": TINY_RULE.replace("LIMIT", "100")}) == {"tiny": (2, True)}
    assert latest(zjtx, "tiny").sources["tiny_rule.dmn"] == TINY_RULE.replace("LIMIT", "100")
    # The diagram alone keeps the deployed table (not the first one, not one from disk).
    assert deploy(zjtx, {"tiny.bpmn": tiny.replace('name="小流程"', 'name="小流程（改）"')}) == {"tiny": (3, True)}
    assert latest(zjtx, "tiny").sources["tiny_rule.dmn"] == TINY_RULE.replace("LIMIT", "100")


def refused(zjtx, files: dict[str, str]) -> list[str]:
    before = version_count(zjtx)
    with pytest.raises(DeploymentError) as caught:
        deploy(zjtx, files)
    assert version_count(zjtx) == before  # nothing written
    return [p["message"] for p in caught.value.problems]


def test_a_table_nobody_uses_is_refused_naming_it(zjtx):
    orphan = TINY_RULE.replace("LIMIT", "1")
    [message] = refused(zjtx, {"tiny_rule.dmn": orphan})
    assert "tiny_rule" in message and "没有流程使用决策表" in message
    [message] = refused(zjtx, {"tiny.bpmn": MINIMAL.format(lane="区科技局", task=BUSINESS_RULE.replace(
        "businessRuleTask", "userTask").replace("<bpmn:extensionElements><spiffworkflow:calledDecisionId>tiny_rule"
                                                "</spiffworkflow:calledDecisionId></bpmn:extensionElements>", "")),
        "tiny_rule.dmn": orphan})
    assert "文件 tiny_rule.dmn" in message and "tiny_rule" in message


def test_a_declared_table_that_exists_nowhere_is_refused(zjtx):
    declared = ADMISSION.replace("sme_classification,cultivation_criteria", "sme_classification,nowhere_table")
    [message] = refused(zjtx, {"pool_admission.bpmn": declared})
    assert "nowhere_table" in message and "既未上传也未部署" in message


def test_a_broken_table_is_refused_with_the_users_untouched(zjtx):
    broken = STRICTER.replace('<inputEntry id="rule_9_in_district"><text>-</text></inputEntry>', "", 1)
    messages = refused(zjtx, {"cultivation_criteria.dmn": broken})
    assert any("rule_9" in m and "输入条目" in m for m in messages), messages
