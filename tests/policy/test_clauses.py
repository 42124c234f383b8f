"""The action plan as clauses, clause tags on diagrams and decision tables, and the coverage figure.

The bundled processes (deployed by the fixture) with the figures, the measure table and the default
schedules encode 36 of the plan's 37 clauses: only 四（四）（营造良好氛围：媒体评选、舆论宣传）has nothing in
the product that carries it out.
"""
from __future__ import annotations

import pytest

from engine.errors import DeploymentError
from engine.plan.clauses import action_plan, normalize, parse, split_ids
from engine.plan.tags import process_tags, rule_tags
from engine.policy.plan_page import PolicyPage
from tests.helpers import deploy

BUNDLED_FIGURE = "已编码条款 36 / 37（97%）"
ALL_IDS = ["一", "二（一）", "二（二）", *[f"三.{n}" for n in range(1, 31)], "四（一）", "四（二）", "四（三）", "四（四）"]


def probe(clause_attr: str = "", required: bool = False, task_clause: str | None = "四（四）") -> str:
    """A small process: one user task in the lane of 区科技局, its clause tag as given."""
    process_props = "".join([
        f'<spiffworkflow:property name="clause" value="{clause_attr}"/>' if clause_attr else "",
        '<spiffworkflow:property name="clauses_required" value="true"/>' if required else ""])
    own = f"<bpmn:extensionElements><spiffworkflow:properties>{process_props}</spiffworkflow:properties>" \
          "</bpmn:extensionElements>" if process_props else ""
    tag = f'<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="clause" ' \
          f'value="{task_clause}"/></spiffworkflow:properties></bpmn:extensionElements>' if task_clause else ""
    start_tag = '<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="clause" ' \
                'value="四（四）"/></spiffworkflow:properties></bpmn:extensionElements>'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="clause_probe" name="宣传评选" isExecutable="true">{own}
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="区科技局">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>select</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" name="发起评选">{start_tag}<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="select"/>
    <bpmn:userTask id="select" name="评选优秀企业">{tag}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="select" targetRef="e"/>
    <bpmn:endEvent id="e" name="评选结束">{start_tag}<bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def page(zjtx) -> PolicyPage:
    return PolicyPage(zjtx.db, zjtx.queries.tz, zjtx.queries.clock, zjtx.extensions)


# -- the plan -------------------------------------------------------------------------------------

def test_the_parser_finds_every_clause_of_the_plan_in_order():
    plan = action_plan()
    assert plan.ids == ALL_IDS
    assert "到2025年，全区科技型企业达到600家" in plan.get("一").text
    assert plan.get("二（二）").title == "（二）培育条件" and "1000万元" in plan.get("二（二）").text
    assert "一企一策一人" in plan.get("三.22").text and plan.get("三.22").group == "三（四）"
    assert plan.get("三.30").text.startswith("支持“专精特新”企业在股权交易中心")
    assert "联席会议机制" in plan.get("四（一）").text and "实绩考核" in plan.get("四（二）").text
    assert "bookmark" not in "".join(c.text for c in plan.clauses)


def test_headings_that_only_group_are_no_clauses():
    plan = action_plan()
    headings = [e.label for e in plan.entries if not hasattr(e, "id")]
    assert headings[0] == "二、培育范围及培育条件" and "三、工作重点" in headings and "四、机制保障措施" in headings
    assert "（一）加强孵化培育，构建“专精特新”企业生成体系" in headings
    assert not {"二", "三", "四", "三（一）", "三（五）"} & set(plan.ids)


def test_a_sub_section_with_text_of_its_own_is_a_clause():
    plan = parse("一、目标\n（一）甲。要做的事。\n（二）乙。\n（三）丙。\n1.不是措施（不在第三部分）\n")
    assert [c.id for c in plan.clauses] == ["一（一）", "一（三）"]  # 一 and （二） say nothing of their own
    assert plan.get("一（三）").text == "1.不是措施（不在第三部分）"


def test_ids_are_read_in_their_canonical_form():
    assert normalize("二(二)") == "二（二）" and normalize("三．22") == "三.22" and normalize("三22") == "三.22"
    assert split_ids("四（二）, 三.22，二(一)、三.22") == ["四（二）", "三.22", "二（一）"]
    assert split_ids("") == []


# -- tags -----------------------------------------------------------------------------------------

def test_the_bundled_diagrams_and_tables_are_tagged():
    from pathlib import Path

    from lxml import etree

    from engine.plan.tags import requires_clauses, untagged_nodes

    processes = Path(__file__).resolve().parents[2] / "processes"
    for path in sorted(processes.glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for process in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}process"):
            tags = process_tags(process)
            assert tags and tags[0].kind == "process", path.name
            assert requires_clauses(process) and untagged_nodes(process) == [], path.name
    for path in sorted(processes.glob("*.dmn")):
        root = etree.parse(str(path)).getroot()
        rules = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "rule"]
        assert len(rule_tags(root)) == len(rules) > 0, path.name


# -- coverage -------------------------------------------------------------------------------------

def test_the_bundled_processes_encode_36_of_37_clauses(zjtx):
    found = page(zjtx).coverage()
    assert found.label == BUNDLED_FIGURE
    assert [c for c in ALL_IDS if c not in found.encoded] == ["四（四）"]
    kinds = {e.kind for e in found.encoders["二（二）"]}
    assert {"element", "rule"} <= kinds
    assert {e.element for e in found.encoders["二（一）"] if e.kind == "rule"} == {"rule_scope_in", "rule_scope_out"}
    assert any(e.process == "problem_dispatch" and e.element == "dispatch" for e in found.encoders["三.22"])
    assert [e.kind for e in found.encoders["三.7"]] == ["measure"]


def test_a_tag_added_raises_the_figure_and_removed_lowers_it_by_exactly_that_clause(zjtx):
    deploy(zjtx, {"probe.bpmn": probe()})
    assert page(zjtx).coverage().label == "已编码条款 37 / 37（100%）"
    deploy(zjtx, {"probe.bpmn": probe(task_clause="四（二）").replace('value="四（四）"', 'value="四（二）"')})
    after = page(zjtx).coverage()
    assert after.label == BUNDLED_FIGURE and "四（四）" not in after.encoded


def test_a_tag_on_the_process_alone_makes_a_new_version(zjtx):
    first = deploy(zjtx, {"probe.bpmn": probe()})[0]
    again = deploy(zjtx, {"probe.bpmn": probe(clause_attr="四（四）")})[0]
    assert again.created and again.version == first.version + 1


# -- validation at deployment ---------------------------------------------------------------------

def test_an_unknown_clause_is_refused_naming_the_element(zjtx):
    with pytest.raises(DeploymentError) as refused:
        deploy(zjtx, {"probe.bpmn": probe(task_clause="四（二）, 五（一）")})
    messages = [p["message"] for p in refused.value.problems]
    assert any("「评选优秀企业」" in m and "「五（一）」" in m and "不是行动计划中的条款" in m for m in messages), messages
    assert [p["element"] for p in refused.value.problems] == ["select"]


def test_a_process_requiring_clauses_refuses_an_untagged_element(zjtx):
    deploy(zjtx, {"probe.bpmn": probe(required=True)})  # every element tagged: deploys
    with pytest.raises(DeploymentError) as refused:
        deploy(zjtx, {"probe.bpmn": probe(required=True, task_clause=None)})
    (found,) = refused.value.problems
    assert found["element"] == "select" and "「评选优秀企业」没有政策条款" in found["message"]
    deploy(zjtx, {"probe.bpmn": probe(required=False, task_clause=None)})  # not required: deploys


def test_a_decision_rule_with_an_unknown_clause_is_refused(zjtx):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "processes" / "assessment_weights.dmn").read_text(encoding="utf-8")
    with pytest.raises(DeploymentError) as refused:
        deploy(zjtx, {"assessment_weights.dmn": text.replace("〔条款：四（二）〕", "〔条款：三.31〕", 1)})
    assert any("「三.31」" in p["message"] and p["element"] == "rule_on_time" for p in refused.value.problems)


def test_the_cli_prints_the_figure_and_each_clause(database_url, monkeypatch, zjtx):
    import json

    from click.testing import CliRunner

    from engine.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(main, ["clauses"], catch_exceptions=False)
    assert shown.exit_code == 0 and shown.stdout.splitlines()[0] == BUNDLED_FIGURE
    assert "「四（四）」 （四）营造良好氛围  未编码" in shown.stdout
    data = json.loads(CliRunner().invoke(main, ["clauses", "--json"], catch_exceptions=False).stdout)
    assert (data["encoded"], data["total"], data["percent"]) == (36, 37, 97)
    assert [c["id"] for c in data["clauses"]] == ALL_IDS


def test_the_default_schedules_name_clauses_of_the_plan_and_encode_them_once_created(zjtx):
    schedules = zjtx.extensions.schedules()
    assert all(split_ids(s.clause) and set(split_ids(s.clause)) <= set(ALL_IDS) for s in schedules)
    assert {s.process for s in schedules} >= {"evaluation_circular", "measure_supervision", "joint_meeting"}
    found = page(zjtx).coverage()
    meeting = [e for e in found.encoders["四（一）"] if e.kind == "schedule"]
    assert [e.process for e in meeting] == ["joint_meeting"]


def test_every_evaluation_figure_names_a_clause_and_encodes_it(zjtx):
    from engine.policy.dispatch.figures import figure_list

    figures = figure_list()
    assert figures and all(set(split_ids(f.clause)) == {"四（二）"} for f in figures)
    found = page(zjtx).coverage()
    assert len([e for e in found.encoders["四（二）"] if e.kind == "figure"]) == len(figures)

