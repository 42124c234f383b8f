"""实绩考核（年度）: the crafted October in a year's workbook, read back with openpyxl, each unit's score worked
out by hand; a new version of the weight table changes the scores; only the dispatcher, the office and the
admin may export it (the service, the page and the command line)."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from engine.errors import PermissionDenied, ValidationFailed
from engine.policy.assessment import FORMULA
from engine.policy.pool.eligibility import DecisionFailed
from tests.helpers import OCTOBER_CO as CO
from tests.helpers import OCTOBER_LEAD as LEAD
from tests.helpers import OCTOBER_WRONG as WRONG
from tests.helpers import Browser, crafted_october, liaison

BJ = ZoneInfo("Asia/Shanghai")
DMN = Path(__file__).resolve().parents[2] / "processes" / "assessment_weights.dmn"
NEXT_JANUARY = datetime(2027, 1, 6, 10, 0, tzinfo=BJ)  # the export is made after the year's end


def sheets(content: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(content))
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def by_unit(rows: list[tuple]) -> dict[str, dict]:
    header = rows[0]
    return {r[1]: dict(zip(header, r, strict=True)) for r in rows[1:]}


def export(zjtx, actor="office", year=2026) -> dict[str, list[tuple]]:
    with time_machine.travel(NEXT_JANUARY, tick=False):
        title, content = zjtx.ledgers.assessment(actor, year)
    assert title == f"{year}年度实绩考核"
    return sheets(content)


def name_co_in_circular(zjtx) -> None:
    """The office closes D's 督办 naming 区财政局 (a 点名 in circular_naming)."""
    [supervision] = [t for t in zjtx.queries.tasks() if t["form"] == "supervision.schema.json"]
    with time_machine.travel(datetime(2026, 10, 28, 10, 0, tzinfo=BJ), tick=False):
        zjtx.workflows.complete(supervision["id"], {"slip_colour": "红", "supervision_result": "已约谈分管负责人，限期办结",
                                                    "name_in_circular": True}, "office")


def test_the_crafted_year_scored_by_hand(zjtx):
    crafted_october(zjtx)
    name_co_in_circular(zjtx)
    book = export(zjtx)
    assert list(book) == ["实绩考核", "权重", "说明"]
    units = by_unit(book["实绩考核"])
    # The year's figures are October's (test_circulars): 区科技局 按期 100, 一次办结 50, 满意 100, 解决 50, nothing
    # against it: 100 × (0.4 × 1 + 0.2 × 0.5 + 0.2 × 1 + 0.2 × 0.5) ÷ 1 = 80.
    lead = units[LEAD]
    assert (lead["按期办结率（%）"], lead["一次办结率（%）"], lead["满意率（%）"], lead["解决率（%）"]) == (100, 50, 100, 50)
    assert (lead["比率加权分"], lead["得分"], lead["排名"]) == (80, 80, 1)
    # 区财政局: 按期 0, 一次办结 100, 满意 100, 解决 100 → 60; minus 1 overdue at the year's end (1 point), 1 督办
    # (2 points) and 1 点名 (3 points): 54.
    co = units[CO]
    assert (co["按期办结率（%）"], co["一次办结率（%）"], co["满意率（%）"], co["解决率（%）"]) == (0, 100, 100, 100)
    assert (co["逾期未办结（次）"], co["督办（次）"], co["点名（次）"]) == (1, 1, 1)
    assert (co["逾期未办结扣分"], co["督办扣分"], co["点名扣分"]) == (1, 2, 3)
    assert (co["比率加权分"], co["得分"], co["排名"]) == (60, 54, 2)
    # 区商务委 only returned C: no rate has a value, so no score; every member unit has its row.
    assert (units[WRONG]["得分"], units[WRONG]["排名"], units[WRONG]["比率加权分"]) == ("无可计分事项", None, None)
    assert "区经济信息委" in units and "区融媒体中心" not in units  # not a member of the leading group
    assert [r[0] for r in book["权重"]] == ["指标", "按期办结率", "一次办结率", "满意率", "解决率", "点名", "督办",
                                          "逾期未办结"]
    notes = dict(r[:2] for r in book["说明"])
    assert notes["计分公式"] == FORMULA and notes["考核年度"].startswith("2026 年（2026-01-01 至 2026-12-31")
    assert "随 evaluation_circular 第 1 版" in notes["权重来源"]
    # The year before has nothing: no unit is scored.
    assert {r[2] for r in export(zjtx, year=2025)["实绩考核"][1:]} == {"无可计分事项"}


def test_a_new_version_of_the_weight_table_changes_the_scores(zjtx):
    crafted_october(zjtx)
    name_co_in_circular(zjtx)
    text = DMN.read_text(encoding="utf-8")
    changed = (text.replace('<outputEntry id="rule_on_time_weight"><text>0.4</text>',
                            '<outputEntry id="rule_on_time_weight"><text>0.5</text>')
               .replace('<outputEntry id="rule_satisfaction_weight"><text>0.2</text>',
                        '<outputEntry id="rule_satisfaction_weight"><text>0.5</text>')
               .replace('<outputEntry id="rule_first_time_weight"><text>0.2</text>',
                        '<outputEntry id="rule_first_time_weight"><text>0</text>')
               .replace('<outputEntry id="rule_solved_weight"><text>0.2</text>',
                        '<outputEntry id="rule_solved_weight"><text>0</text>')
               .replace('<outputEntry id="rule_named_weight"><text>3</text>',
                        '<outputEntry id="rule_named_weight"><text>8</text>')
               .replace('<inputEntry id="rule_supervised_year"><text>-</text>',  # 督办 counts from 2027 only
                        '<inputEntry id="rule_supervised_year"><text>? &gt;= 2027</text>'))
    assert changed.count("0.5</text>") == 2 and "? &gt;= 2027" in changed
    with zjtx.db.write() as session:
        results = {r.key: r for r in zjtx.registry.deploy(session, {"assessment_weights.dmn": changed.encode()},
                                                            deployed_by="designer", note="调整考核权重")}
    assert results["evaluation_circular"].created and results["evaluation_circular"].version == 2
    book = export(zjtx, actor="dispatcher")
    units = by_unit(book["实绩考核"])
    # 区科技局: 100 × (0.5 × 1 + 0 × 0.5 + 0.5 × 1 + 0 × 0.5) ÷ 1 = 100.
    assert (units[LEAD]["比率加权分"], units[LEAD]["得分"]) == (100, 100)
    # 区财政局: 100 × (0.5 × 0 + 0 + 0.5 × 1 + 0) = 50; 逾期 1, 点名 8 (cap 15), no 督办 row in 2026: 41.
    co = units[CO]
    assert (co["比率加权分"], co["点名扣分"], co["逾期未办结扣分"], co["得分"]) == (50, 8, 1, 41)
    assert "督办（次）" not in co
    assert "随 evaluation_circular 第 2 版" in dict(r[:2] for r in book["说明"])["权重来源"]


def test_a_broken_weight_table_is_refused_naming_the_figure(zjtx):
    text = DMN.read_text(encoding="utf-8").replace('<text>"named"</text>', '<text>"praised"</text>')
    with zjtx.db.write() as session:
        zjtx.registry.deploy(session, {"assessment_weights.dmn": text.encode()}, deployed_by="designer")
    with pytest.raises(DecisionFailed, match="指标「praised」不存在"):
        export(zjtx)


def test_only_the_dispatcher_the_office_and_the_admin_may_export(zjtx):
    for user in ("office", "dispatcher", "admin", None):
        assert "实绩考核" in export(zjtx, actor=user)
    for user in (liaison(LEAD), "officer", "designer"):
        with pytest.raises(PermissionDenied):
            export(zjtx, actor=user)
    with pytest.raises(ValidationFailed, match="考核年度"):
        export(zjtx, year=2028)


@pytest.mark.sqlite_only
def test_the_page_and_the_command_line(zjtx, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main
    from web import create_app

    app = create_app(services=zjtx, config={"TESTING": True})
    crafted_october(zjtx)
    with time_machine.travel(NEXT_JANUARY, tick=False):
        office = Browser(app)
        office.login("office")
        page = office.client.get("/ledgers/").get_data(as_text=True)
        assert "实绩考核（年度）" in page and '<option value="2026">' in page
        response = office.client.get("/ledgers/assessment.xlsx?year=2026")
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        assert by_unit(sheets(response.data)["实绩考核"])[LEAD]["得分"] == 80
        assert office.client.get("/ledgers/assessment.xlsx?year=abc").status_code == 400
        unit = Browser(app)
        unit.login(liaison(LEAD))
        assert "实绩考核（年度）" not in unit.client.get("/ledgers/").get_data(as_text=True)
        assert unit.client.get("/ledgers/assessment.xlsx?year=2026").status_code == 403
        monkeypatch.setenv("DATABASE_URL", zjtx.settings.database_url)
        out = tmp_path / "kaohe.xlsx"
        result = CliRunner().invoke(main, ["assessment", "--year", "2026", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert by_unit(sheets(out.read_bytes())["实绩考核"])[LEAD]["得分"] == 80
        refused = CliRunner().invoke(main, ["assessment", "--year", "2026", "--out", str(out), "--as", liaison(LEAD)])
        assert refused.exit_code == 1 and "实绩考核" in refused.output
