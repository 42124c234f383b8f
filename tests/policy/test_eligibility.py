"""The policy's cultivation criteria and the SME classification, decided by the DMN tables."""
from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from engine.config import PROCESSES_DIR
from engine.errors import ValidationFailed
from engine.policy.pool.eligibility import Decisions, decide, parse_inputs
from engine.runtime.scripting import create_script_engine

W = 10_000  # yuan per 万元


@pytest.fixture(scope="module")
def decisions():
    return Decisions(PROCESSES_DIR, create_script_engine())


# 《中小企业划型标准规定》第四条: (sector, measures, SME upper bounds ("或"), medium ("且"), small ("且"))
STANDARD = [
    ("农、林、牧、渔业", ("revenue",), (20000,), (500,), (50,)),
    ("工业", ("employees", "revenue"), (1000, 40000), (300, 2000), (20, 300)),
    ("建筑业", ("revenue", "total_assets"), (80000, 80000), (6000, 5000), (300, 300)),
    ("批发业", ("employees", "revenue"), (200, 40000), (20, 5000), (5, 1000)),
    ("零售业", ("employees", "revenue"), (300, 20000), (50, 500), (10, 100)),
    ("交通运输业", ("employees", "revenue"), (1000, 30000), (300, 3000), (20, 200)),
    ("仓储业", ("employees", "revenue"), (200, 30000), (100, 1000), (20, 100)),
    ("邮政业", ("employees", "revenue"), (1000, 30000), (300, 2000), (20, 100)),
    ("住宿业", ("employees", "revenue"), (300, 10000), (100, 2000), (10, 100)),
    ("餐饮业", ("employees", "revenue"), (300, 10000), (100, 2000), (10, 100)),
    ("信息传输业", ("employees", "revenue"), (2000, 100000), (100, 1000), (10, 100)),
    ("软件和信息技术服务业", ("employees", "revenue"), (300, 10000), (100, 1000), (10, 50)),
    ("房地产开发经营", ("revenue", "total_assets"), (200000, 10000), (1000, 5000), (100, 2000)),
    ("物业管理", ("employees", "revenue"), (1000, 5000), (300, 1000), (100, 500)),
    ("租赁和商务服务业", ("employees", "total_assets"), (300, 120000), (100, 8000), (10, 100)),
    ("其他未列明行业", ("employees",), (300,), (100,), (10,)),
]


def _figures(measures, values):
    out = {"employees": 0, "revenue": 0, "total_assets": 0}
    for m, v in zip(measures, values, strict=True):
        out[m] = v if m == "employees" else v * W
    return out


def _cases():
    for sector, measures, upper, medium, small in STANDARD:
        yield sector, _figures(measures, upper), "not_sme"                      # at the upper bounds: not an SME
        yield sector, _figures(measures, medium), "medium"                      # exactly the medium thresholds
        yield sector, _figures(measures, small), "small"                        # exactly the small thresholds
        below_small = [v - 1 for v in small[:1]] + list(small[1:])
        yield sector, _figures(measures, below_small), "micro"                  # one short of small
        if len(measures) == 2:
            # "或": one measure at/over its bound with the other under it is still an SME (medium here)
            yield sector, _figures(measures, (upper[0], upper[1] - 1)), "medium"
            yield sector, _figures(measures, (upper[0] - 1, upper[1])), "medium"
            # "且": medium needs both; one short falls to small
            yield sector, _figures(measures, (medium[0], medium[1] - 1)), "small"


@pytest.mark.parametrize(("sector", "figures", "expected"), list(_cases()))
def test_sme_classification_follows_the_2011_standard(decisions, sector, figures, expected):
    assert decisions.evaluate("sme_classification", {"industry": sector, **figures})["sme_class"] == expected


def test_sme_classification_without_a_needed_figure_gives_no_answer(decisions):
    assert decisions.evaluate("sme_classification", {"industry": "工业", "employees": None,
                                                     "revenue": 30_000_000, "total_assets": None}) == {}
    # Assets are not used for industry: their absence does not matter.
    assert decisions.evaluate("sme_classification", {"industry": "工业", "employees": 50, "revenue": 5_000_000,
                                                     "total_assets": None})["sme_class"] == "small"


BASE = {
    "as_of": "2026-06-30", "registered_on": "2020-03-15", "in_district": True, "independent_legal_person": True,
    "industry": "工业", "employees": 180, "sector": "工业",
    "years": {"2023": {"revenue": 18_000_000, "net_profit": 1_200_000},
              "2024": {"revenue": 21_000_000, "net_profit": 1_300_000},
              "2025": {"revenue": 26_000_000, "rd_expense": 780_000, "net_profit": 1_500_000,
                       "total_assets": 40_000_000, "total_liabilities": 22_000_000}},
}


def run(decisions, change=None, **top):
    data = copy.deepcopy(BASE)
    data.update(top)
    for (year, key), value in (change or {}).items():
        data["years"][year][key] = value
    result = decide(parse_inputs(data), decisions)
    return result["eligible"], {c["id"]: c for c in result["criteria"]}


def test_a_qualifying_enterprise_is_eligible_and_told_why(decisions):
    eligible, c = run(decisions)
    assert eligible is True
    assert c["rd_ratio"]["value"] == 3.0 and c["rd_ratio"]["threshold"] == "≥ 2%"
    assert c["rd_ratio"]["message"] == "上年研发投入占营业收入比重：3.00%，标准 ≥ 2%，符合"


@pytest.mark.parametrize(("rd", "passed"), [(200_000, True), (199_999, False)])
def test_rd_ratio_of_exactly_two_percent_passes(decisions, rd, passed):
    eligible, c = run(decisions, {("2025", "revenue"): 10_000_000, ("2025", "rd_expense"): rd,
                                  ("2024", "revenue"): 8_000_000, ("2023", "revenue"): 7_000_000})
    assert c["rd_ratio"]["passed"] is passed
    assert eligible is passed  # revenue 1000万 (not 2000万), growth and debt ratio pass: two optional


@pytest.mark.parametrize(("revenue", "passed"), [(10_000_000, True), (9_999_999, False)])
def test_revenue_of_exactly_ten_million_passes(decisions, revenue, passed):
    _, c = run(decisions, {("2025", "revenue"): revenue, ("2025", "rd_expense"): 300_000})
    assert c["revenue_min"]["passed"] is passed


@pytest.mark.parametrize(("revenue", "passed"), [(20_000_000, True), (19_999_999, False)])
def test_revenue_of_exactly_twenty_million_counts(decisions, revenue, passed):
    _, c = run(decisions, {("2025", "revenue"): revenue, ("2025", "rd_expense"): 600_000})
    assert c["revenue_2000"]["passed"] is passed


@pytest.mark.parametrize(("liabilities", "passed"), [(32_000_000, True), (32_000_001, False)])
def test_debt_ratio_of_exactly_eighty_percent_passes(decisions, liabilities, passed):
    _, c = run(decisions, {("2025", "total_liabilities"): liabilities})
    assert c["debt_ratio"]["passed"] is passed and c["debt_ratio"]["threshold"] == "≤ 80%"


@pytest.mark.parametrize(("registered_on", "passed"), [("2024-06-30", True), ("2024-07-01", False)])
def test_exactly_two_years_in_the_district_passes(decisions, registered_on, passed):
    eligible, c = run(decisions, registered_on=registered_on)
    assert c["registered_years"]["passed"] is passed
    assert eligible is passed


def test_growth_by_revenue_but_not_profit_counts(decisions):
    _, c = run(decisions, {("2023", "revenue"): 20_000_000, ("2024", "revenue"): 21_000_000,
                           ("2025", "revenue"): 22_050_000, ("2025", "rd_expense"): 500_000,
                           ("2023", "net_profit"): 1_000_000, ("2024", "net_profit"): 1_000_000,
                           ("2025", "net_profit"): 1_000_000})
    assert c["growth"]["value"] == {"revenue": 5.0, "net_profit": 0.0}
    assert c["growth"]["passed"] is True


def test_growth_by_profit_but_not_revenue_counts(decisions):
    _, c = run(decisions, {("2023", "revenue"): 26_000_000, ("2024", "revenue"): 26_000_000,
                           ("2023", "net_profit"): 1_000_000, ("2024", "net_profit"): 1_050_000,
                           ("2025", "net_profit"): 1_102_500})
    assert c["growth"]["value"]["revenue"] == 0.0 and c["growth"]["value"]["net_profit"] == 5.0
    assert c["growth"]["passed"] is True


def test_two_of_three_optional_criteria_are_needed(decisions):
    # Revenue 1500万 (under 2000万), no growth, debt ratio fine: only one optional criterion.
    eligible, c = run(decisions, {("2023", "revenue"): 15_000_000, ("2024", "revenue"): 15_000_000,
                                  ("2025", "revenue"): 15_000_000, ("2025", "rd_expense"): 400_000,
                                  ("2023", "net_profit"): 1, ("2024", "net_profit"): 1, ("2025", "net_profit"): 1})
    assert [c[k]["passed"] for k in ("revenue_2000", "growth", "debt_ratio")] == [False, False, True]
    assert eligible is False


def test_missing_figures_say_what_is_missing_instead_of_failing(decisions):
    eligible, c = run(decisions, {("2025", "rd_expense"): None}, registered_on=None)
    assert eligible is None
    assert c["rd_ratio"]["passed"] is None and c["rd_ratio"]["message"].endswith("缺少2025年研发投入")
    assert "registered_on" in c["registered_years"]["message"]


def test_a_failed_mandatory_criterion_decides_even_with_gaps(decisions):
    eligible, _ = run(decisions, {("2025", "rd_expense"): None}, in_district=False)
    assert eligible is False


def test_a_large_enterprise_is_not_eligible(decisions):
    eligible, c = run(decisions, employees=1200, years={
        "2023": {"revenue": 400_000_000}, "2024": {"revenue": 420_000_000},
        "2025": {"revenue": 450_000_000, "rd_expense": 20_000_000, "total_assets": 900_000_000,
                 "total_liabilities": 300_000_000}})
    assert c["sme"]["passed"] is False and c["sme"]["value"] == "不属于中小企业"
    assert eligible is False


def test_bad_input_is_reported_by_key():
    with pytest.raises(ValidationFailed) as caught:
        parse_inputs({"as_of": "2026-13-01", "industry": "采矿", "employees": -3,
                      "years": {"2025": {"revenue": "很多", "profit": 1}}})
    errors = caught.value.errors
    assert set(errors) >= {"as_of", "industry", "employees", "years.2025.revenue", "years.2025"}


def test_the_command_prints_the_decision_and_each_criterion(tmp_path, monkeypatch):
    from engine.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    path = tmp_path / "enterprise.json"
    path.write_text(json.dumps(BASE, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    human = runner.invoke(main, ["eligibility", str(path)])
    assert human.exit_code == 0 and "结论：符合培育入库条件（依据 2025 年数据）" in human.stdout
    out = json.loads(runner.invoke(main, ["eligibility", str(path), "--json"]).stdout)
    assert out["eligible"] is True and out["sme_class"] == "small"
    assert [c["id"] for c in out["criteria"]][:3] == ["scope", "in_district", "registered_years"]
    assert set(out["criteria"][0]) == {"id", "passed", "value", "threshold", "message"}
    path.write_text('{"as_of": "soon"}', encoding="utf-8")
    bad = runner.invoke(main, ["eligibility", str(path)])
    assert bad.exit_code == 1 and "as_of" in bad.stderr
