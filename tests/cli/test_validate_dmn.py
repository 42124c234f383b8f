"""`zjtx validate` on decision tables alone: a summary of each table that passes, and for one that does
not, a Chinese message naming the file and the DMN element (decision, rule, entry), never a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from tests.helpers import MINIMAL, USER_TASK

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[2]
CRITERIA = ROOT / "processes" / "cultivation_criteria.dmn"
CONFORMANCE = ROOT.parent / "shared" / "conformance"
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
DMN12 = "http://www.omg.org/spec/DMN/20180521/MODEL/"


def table(ns: str = DMN13, hit: str = "FIRST", entry: str = "&gt;= 10", output: str = '"大"', extra: str = "",
          second_entry: str = '<inputEntry id="r1_y"><text>-</text></inputEntry>') -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{ns}" id="defs" name="判定" namespace="http://example.org/dmn">
  <decision id="size" name="规模判定">{extra}
    <decisionTable id="size_table" hitPolicy="{hit}">
      <input id="in_x" label="数量"><inputExpression id="in_x_e" typeRef="integer"><text>x</text></inputExpression></input>
      <input id="in_y" label="地区"><inputExpression id="in_y_e" typeRef="string"><text>y</text></inputExpression></input>
      <output id="out_size" label="规模" name="size" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1_x"><text>{entry}</text></inputEntry>{second_entry}
        <outputEntry id="r1_o"><text>{output}</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2_x"><text>-</text></inputEntry><inputEntry id="r2_y"><text>-</text></inputEntry>
        <outputEntry id="r2_o"><text>"小"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


ONE = table()
DECISION = ONE[ONE.index("<decision "):ONE.index("</decision>") + len("</decision>")]
# Tables as other tools write them (Camunda Modeler's DMN 1.1 and 1.3, FEEL, literal expressions, two
# decisions, a requirement graph): each either validates or is refused in our words.
FOREIGN = {
    "dmn11_camunda.dmn": table(DMN11),
    "dmn12.dmn": table(DMN12, hit="UNIQUE"),
    "feel_range.dmn": table(entry="[1..5]"),
    "feel_list.dmn": table(entry='"IT","HR"'),
    "literal.dmn": ONE.replace(DECISION, '<decision id="size" name="规模"><literalExpression id="lit"><text>1</text>'
                                         '</literalExpression></decision>'),
    "two_decisions.dmn": ONE.replace("</definitions>", DECISION.replace('id="', 'id="b_') + "\n</definitions>"),
    "requirements.dmn": table(extra='<informationRequirement id="req"><requiredDecision href="#other"/>'
                                    '</informationRequirement>'),
    "empty.dmn": f'<?xml version="1.0"?><definitions xmlns="{DMN13}" id="d" name="空" namespace="t"/>',
}
BROKEN = {  # file content, the element named, words of the reason
    "missing entry": (table(second_entry=""), "r1", "有 1 个输入条目，决策表有 2 个输入"),
    "bad input entry": (table(entry="&gt;= = 10"), "r1", "输入条目有语法错误"),
    "bad output entry": (table(output='"大" +'), "r1_o", "输出条目有语法错误"),
    "escape from the sandbox": (table(entry="? == ().__class__"), "r1", "沙箱"),
    "bad hit policy": (table(hit="SOMETIMES"), "size_table", "命中策略「SOMETIMES」无效"),
    "FEEL range": (table(entry="[1..5]"), "r1", "输入条目有语法错误"),
    "FEEL list": (table(entry='"IT","HR"'), "r1", "FEEL 列表的写法"),
    "two decisions": (FOREIGN["two_decisions.dmn"], "b_size", "一个 DMN 文件只能有一个决策"),
    "literal expression": (FOREIGN["literal.dmn"], "size", "只支持决策表"),
    "no decision": (FOREIGN["empty.dmn"], "d", "文件中没有决策"),
    "external entity": ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        + table().split("?>", 1)[1].replace('name="规模判定"', 'name="&x;"'), None, "DOCTYPE"),
    "billion laughs": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                       f'<definitions xmlns="{DMN13}" id="d" name="&lol2;" namespace="t"/>', None, "DOCTYPE"),
    "not XML": ("<definitions><decision>", None, "XML 格式错误"),
}


@pytest.fixture
def validate(tmp_path, monkeypatch):
    """``validate(name, content, *options)`` runs `zjtx validate` on a file of that name, on a database
    that has the organisation and no process (a fresh installation)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    assert runner.invoke(main, ["seed", "--no-demo-users"]).exit_code == 0

    def run(name: str, content: str | bytes, *options: str):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        result = runner.invoke(main, ["validate", str(path), *options])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code in (0, 1) and "Traceback" not in result.output + result.stderr
        return result

    return run


def test_the_bundled_table_validates_alone_with_a_summary(validate):
    shown = validate(CRITERIA.name, CRITERIA.read_bytes())
    assert shown.exit_code == 0, shown.stderr
    assert "决策表 cultivation_criteria「培育入库条件逐项判定」（文件 cultivation_criteria.dmn）：命中策略 COLLECT，" \
           "输入 9 个，输出 4 个，规则 20 条" in shown.stdout
    assert "校验通过" in shown.stdout and "目前没有流程使用" in shown.stdout
    report = json.loads(validate(CRITERIA.name, CRITERIA.read_bytes(), "--json").stdout)
    assert report == {"ok": True, "problems": [], "decisions": [{
        "file": "cultivation_criteria.dmn", "id": "cultivation_criteria", "name": "培育入库条件逐项判定",
        "hit_policy": "COLLECT", "inputs": 9, "outputs": 4, "rules": 20, "used_by": []}]}


def test_a_table_names_the_processes_it_would_redeploy(zjtx, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)  # the installation's database: our processes are deployed
    result = CliRunner().invoke(main, ["validate", str(CRITERIA)])
    assert result.exit_code == 0, result.output
    assert "规则 20 条；使用它的流程：pool_admission" in result.stdout and "校验通过，可以部署" in result.stdout
    report = json.loads(CliRunner().invoke(main, ["validate", str(CRITERIA), "--json"]).stdout)
    assert report["decisions"][0]["used_by"] == ["pool_admission"]


@pytest.mark.parametrize("name", sorted(FOREIGN) + sorted(str(p.relative_to(CONFORMANCE))
                                                          for p in CONFORMANCE.rglob("*.dmn")))
def test_every_foreign_table_validates_or_is_refused_in_chinese(validate, name):
    content = FOREIGN[name] if name in FOREIGN else (CONFORMANCE / name).read_bytes()
    result = validate(Path(name).name, content, "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    if report["ok"]:
        assert [d["file"] for d in report["decisions"]] == [Path(name).name]
    for problem in report["problems"]:
        assert problem["file"] == Path(name).name and problem["message"].startswith(f"文件 {Path(name).name}")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["message"]), problem


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_table_is_refused_naming_the_file_and_element(validate, case):
    content, element, reason = BROKEN[case]
    result = validate("broken.dmn", content)
    assert result.exit_code == 1 and result.stdout == ""
    assert "发现" in result.stderr and "文件 broken.dmn" in result.stderr and reason in result.stderr, result.stderr
    if element:
        assert f"元素 {element}" in result.stderr, result.stderr
    [problem, *_] = json.loads(validate("broken.dmn", content, "--json").stdout)["problems"]
    assert problem["file"] == "broken.dmn" and (element is None or any(
        p["element"] == element for p in json.loads(validate("broken.dmn", content, "--json").stdout)["problems"]))


def test_a_table_with_a_process_that_does_not_use_it_is_refused(validate, tmp_path):
    (tmp_path / "tiny.bpmn").write_text(MINIMAL.format(lane="区科技局", task=USER_TASK), encoding="utf-8")
    (tmp_path / "size.dmn").write_text(ONE, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "tiny.bpmn"), str(tmp_path / "size.dmn")])
    assert result.exit_code == 1 and "没有流程使用决策表 size" in result.stderr and "文件 size.dmn" in result.stderr


@pytest.mark.parametrize("name", ["dmn11_camunda.dmn", "dmn12.dmn", "requirements.dmn"])
def test_tables_of_other_dmn_versions_validate(validate, name):
    report = json.loads(validate(name, FOREIGN[name], "--json").stdout)
    assert report["ok"] is True and report["decisions"][0]["id"] == "size", report
