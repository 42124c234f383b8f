"""The plan's scope and goals as it writes them (行动计划一、二（一）): an enterprise out of scope is refused at
admission with the reason; a financial firm is sized by 《金融业企业划型标准规定》; the goals count each tier the
goal names and 区科技局's 科技型企业 flag, valid on the day, as at any day; the flag is 区科技局's alone to change;
the defaults the plan does not set are listed as the district's. Values worked out by hand below."""
from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import Workbook, load_workbook

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.authz import actor_for
from engine.policy import district_settings
from engine.policy.pool.enterprises import ImportFailed
from engine.policy.pool.goals import goals_in
from engine.policy.pool.scope import SECTORS
from engine.storage.models import Enterprise, GuidanceGap
from tests.helpers import GOOD, RECORD, ROW_A, SHORT_CODES, YEARS, apply, register, uscc, workbook

BJ = ZoneInfo("Asia/Shanghai")
TECH = "science_tech_bureau_liaison"
LITTLE, SPECIALIZED, INNOVATIVE = "专精特新“小巨人”企业", "专精特新中小企业", "创新型中小企业"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def actor(zjtx, username: str):
    with zjtx.db.read() as session:
        return actor_for(session, username)


# -- scope at admission ---------------------------------------------------------------------------

@pytest.mark.usefixtures("clock")
def test_an_enterprise_out_of_scope_is_refused_at_admission_with_the_reason(zjtx):
    register(zjtx, sector="其他（不在培育范围）")  # otherwise the wholesaler meets every criterion (test_admission.py)
    started = apply(zjtx)
    shown = zjtx.queries.show(started["id"])
    assert shown["status"] == "completed" and shown["item_status"] == "不符合培育条件"
    [reason] = shown["data"]["admission_reasons"]
    assert reason.startswith("不在培育范围（行动计划二（一））：所属领域「其他（不在培育范围）」")
    assert "工业和信息化领域" in reason


@pytest.mark.usefixtures("clock")
def test_an_enterprise_with_no_sector_recorded_is_sent_back_for_its_data_not_refused(zjtx):
    register(zjtx, sector=None)  # a record saved before the registry kept the plan's scope
    started = apply(zjtx)
    data = zjtx.queries.show(started["id"])["data"]
    assert data["assessment"]["eligible"] is None
    [scope] = [c for c in data["assessment"]["criteria"] if c["id"] == "scope"]
    assert scope["passed"] is None and "无法判定，缺少所属领域" in scope["message"]
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=started["id"])] == ["complete_data"]


@pytest.mark.usefixtures("clock")
def test_an_enterprise_in_a_listed_service_sector_goes_on_to_review_with_its_key_field_marked(zjtx):
    register(zjtx, sector="批发经纪代理服务", key_field="战略性新兴产业")
    started = apply(zjtx)
    data = zjtx.queries.show(started["id"])["data"]
    assert data["assessment"]["eligible"] is True
    assert data["assessment"]["key_field_mark"] == "重点支持领域：战略性新兴产业"  # a mark, not a criterion
    assert [t["task"] for t in zjtx.queries.tasks(instance_id=started["id"])] == ["industry_review"]


@pytest.mark.usefixtures("clock")
def test_an_enterprise_short_only_of_the_scope_is_not_on_the_guidance_list(zjtx):
    enterprise_id = register(zjtx, sector="其他（不在培育范围）")  # all else met: no guidance brings it into scope
    with zjtx.db.read() as session:
        assert session.query(GuidanceGap).count() == 0
    zjtx.enterprises.save(actor(zjtx, "dispatcher"), {**RECORD, "industry": "批发业", "tier": "无", "tier_since": None,
                                                      "sector": "商务服务"},
                          years=[{**YEARS[2], "rd_expense": 500_000}], enterprise_id=enterprise_id)  # R&D 1.92%
    with zjtx.db.read() as session:
        assert [g.criterion for g in session.query(GuidanceGap)] == ["rd_ratio"]


def test_the_registry_checks_the_scope_fields(zjtx):
    dispatcher = actor(zjtx, "dispatcher")
    with pytest.raises(ValidationFailed) as refused:
        zjtx.enterprises.save(dispatcher, {**RECORD, "sector": "房地产", "financial_type": "信托公司"})
    assert "行动计划二（一）" in refused.value.errors["sector"]
    with pytest.raises(ValidationFailed) as refused:
        zjtx.enterprises.save(dispatcher, {**RECORD, "sector": "工业", "financial_type": "信托公司"})
    assert "金融服务" in refused.value.errors["financial_type"]
    saved = zjtx.enterprises.save(dispatcher, {**RECORD, "sector": "信息服务", "key_field": "制造强国战略重点产业"})
    record = zjtx.enterprises.get(saved)
    assert (record["sector"], record["key_supported"]) == ("信息服务", True)
    assert ("所属领域", "信息服务") in [(d["label"], d["new"]) for d in record["history"][0]["described"]]


# -- a financial firm sized by its own standard -------------------------------------------------

FINANCE_YEARS = [{"year": 2023, "revenue": 30_000_000, "net_profit": 3_000_000},
                 {"year": 2024, "revenue": 33_000_000, "net_profit": 3_300_000},
                 {"year": 2025, "revenue": 36_000_000, "rd_expense": 900_000, "net_profit": 3_600_000,
                  "total_assets": 6_000_000_000, "total_liabilities": 4_000_000_000}]


@pytest.mark.usefixtures("clock")
def test_a_financing_guarantee_firm_is_sized_by_the_financial_standard(zjtx):
    # 60 亿元 of assets: 其他金融机构 (融资担保公司 参照, 309号 九) 50 亿元及以上 → 小型. By the 2011 standard's
    # 其他未列明行业 (从业人员 only) its 150 people would make it 中型: the financial standard decides.
    register(zjtx, industry="其他未列明行业", years=FINANCE_YEARS, employees=150, sector="金融服务",
             financial_type="除贷款公司、小额贷款公司、典当行以外的其他金融机构")
    two_thousand_eleven = zjtx.decisions.current().evaluate(
        "sme_classification", {"industry": "其他未列明行业", "employees": 150, "revenue": 36_000_000,
                               "total_assets": 6_000_000_000})
    assert two_thousand_eleven["sme_class"] == "medium"
    data = zjtx.queries.show(apply(zjtx)["id"])["data"]
    assert data["assessment"]["sme_class"] == "small"
    [sme] = [c for c in data["assessment"]["criteria"] if c["id"] == "sme"]
    assert sme["passed"] is True and sme["message"].startswith("符合《金融业企业划型标准规定》（银发〔2015〕309号）")


@pytest.mark.parametrize("financial_type", ["金融控股公司", "银行业存款类金融机构"])
def test_a_financial_holding_or_bank_of_5000_yi_is_medium_and_of_40000_not_an_sme(zjtx, financial_type):
    # 309号 五（一）and（七）: 4万亿元以下中小微型; 5000亿元及以上中型, 50亿元及以上小型, 50亿元以下微型.
    table = zjtx.decisions.current()
    size = lambda assets: table.evaluate("sme_classification", {  # noqa: E731
        "industry": None, "employees": None, "revenue": None, "total_assets": assets,
        "financial_type": financial_type})["sme_class"]
    yi = 100_000_000
    assert [size(49 * yi), size(50 * yi), size(5000 * yi), size(40000 * yi)] == ["micro", "small", "medium", "not_sme"]
    # A 业态 whose row could not be verified has none: 无法判定, never a guess.
    assert table.evaluate("sme_classification", {"industry": None, "employees": None, "revenue": None,
                                                 "total_assets": 10 * yi, "financial_type": "保险业金融机构"}) \
        .get("sme_class") is None


# -- goals as at two dates ----------------------------------------------------------------------

def save(zjtx, key: str, tier: str, since: str | None, until: str | None) -> int:
    record = {"name": f"重庆黔江{key}科技有限公司", "uscc": uscc(f"91500114MA5U8{key}0"), "registered_on": "2019-05-20",
              "in_district": "是", "independent_legal_person": True, "industry": "工业", "employees": 120,
              "sector": "工业", "tier": tier, "tier_since": since, "tier_valid_until": until}
    return zjtx.enterprises.save(actor(zjtx, "dispatcher"), record)


def tech_list(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "科技型企业"
    sheet.append(["统一社会信用代码", "入库日期", "有效期至"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def code(key: str) -> str:
    return uscc(f"91500114MA5U8{key}0")


def crafted_registry(zjtx) -> None:
    """Five enterprises (tiers; 科技型企业 flag from 区科技局's list):

    P  创新型 2022-04-01 … 2025-03-31 (expired by mid-2025);  科技型 2022-02-01 … 2024-12-31
    Q  专精特新 2022-08-01 … 2025-07-31;                        科技型 2022-06-01, no end — cut to 2025-05-31 in 2026
    R  小巨人 2021-07-01 … 2024-06-30 (not new in 2022, expired since)
    W  no tier;                                                  科技型 2023-05-01 … 2026-04-30, imported 2023-05-10
    T  entered 2025-03-01, 专精特新 2025-01-10 … 2028-01-09;    科技型 since 2022-03-01, imported 2025-03-02
    """
    tech = actor(zjtx, TECH)
    with time_machine.travel(at("2022-03-01 10:00"), tick=False) as clock:
        save(zjtx, "PPP", INNOVATIVE, "2022-04-01", "2025-03-31")
        save(zjtx, "QQQ", SPECIALIZED, "2022-08-01", "2025-07-31")
        save(zjtx, "RRR", LITTLE, "2021-07-01", "2024-06-30")
        save(zjtx, "WWW", "无", None, None)
        zjtx.enterprises.tech.import_list(tech, tech_list([[code("PPP"), "2022-02-01", "2024-12-31"],
                                                           [code("QQQ"), "2022-06-01", None]]))
        clock.move_to(at("2023-05-10 10:00"))
        zjtx.enterprises.tech.import_list(tech, tech_list([[code("WWW"), "2023-05-01", "2026-04-30"]]))
        clock.move_to(at("2025-03-01 10:00"))
        save(zjtx, "TTT", SPECIALIZED, "2025-01-10", "2028-01-09")
        clock.move_to(at("2025-03-02 10:00"))
        zjtx.enterprises.tech.import_list(tech, tech_list([[code("TTT"), "2022-03-01", None]]))
        clock.move_to(at("2026-01-10 10:00"))
        zjtx.enterprises.tech.set_flag(tech, {"uscc": code("QQQ"), "tech_since": "2022-06-01",
                                              "tech_valid_until": "2025-05-31"})


# New in 2022 (every tier), 市级专精特新 (小巨人 included), 小巨人, all tiers, in the pool, 科技型 at 2022's end, 科技型:
AT_2022_END = [2, 2, 1, 3, 0, 2, 2]     # P Q | Q R | R | P Q R | — | P Q | P Q        (W not flagged yet, T absent)
AT_2025_06_30 = [2, 2, 0, 2, 0, 3, 3]   # P Q | Q T | — | Q T | — | P Q T | Q W T     (P, R expired; Q's cut undone)
ON_2026_02_01 = [2, 1, 0, 1, 0, 3, 2]   # P Q | T | — | T | — | P Q T | W T          (Q's recognition and flag ended)


def test_the_goals_as_at_two_dates_count_every_tier_named_and_the_tech_flag(zjtx):
    crafted_registry(zjtx)
    with time_machine.travel(at("2026-02-01 10:00"), tick=False):
        with zjtx.db.read() as session:
            end_2022 = goals_in(session, date(2022, 12, 31), BJ)
            mid_2025 = goals_in(session, date(2025, 6, 30), BJ)
        today = zjtx.enterprises.goals()
    assert [g["actual"] for g in end_2022] == AT_2022_END
    assert [g["actual"] for g in mid_2025] == AT_2025_06_30
    assert [g["actual"] for g in today] == ON_2026_02_01
    tech = {g["goal"]: (g["target"], g["deadline"]) for g in today[-2:]}
    assert tech == {"到2022年底科技型企业40家以上": (40, "2022-12-31"), "到2025年全区科技型企业达到600家": (600, "2025-12-31")}


# -- 区科技局's list ---------------------------------------------------------------------------

def test_the_tech_bureau_imports_its_list_unknown_codes_reported_bad_rows_refused(zjtx):
    register(zjtx)
    tech = actor(zjtx, TECH)
    stranger = uscc("91500114MA5U8YYY0")
    result = zjtx.enterprises.tech.import_list(tech, tech_list([[GOOD, "2025-06-01", "2028-05-31"],
                                                                [stranger, "2025-06-01", None]]))
    assert result == {"updated": 1, "unchanged": 0, "unknown": [{"row": 3, "uscc": stranger}]}
    with zjtx.db.read() as session:
        assert session.query(Enterprise).filter_by(uscc=stranger).count() == 0  # reported, not created
        assert session.query(Enterprise).filter_by(uscc=GOOD).one().tech_valid_until == date(2028, 5, 31)
    with pytest.raises(ImportFailed) as failed:
        zjtx.enterprises.tech.import_list(tech, tech_list([[GOOD, "2025-07-01", None], ["91500114", "明天", None],
                                                           [GOOD, "2025-08-01", "2025-01-01"]]))
    messages = [p["message"] for p in failed.value.problems]
    assert any(m.startswith("工作表「科技型企业」第 3 行「统一社会信用代码」") for m in messages)
    assert "工作表「科技型企业」第 3 行「入库日期」：「入库日期」应为日期 YYYY-MM-DD" in messages
    assert any("第 4 行「有效期至」" in m for m in messages)
    record = zjtx.enterprises.get(_id(zjtx, GOOD))
    assert record["tech_since"] == date(2025, 6, 1)  # nothing of the refused list was written
    assert record["history"][0]["source"] == "tech_list"
    assert {"label": "科技型企业入库日期", "old": "—", "new": "2025-06-01"} in \
        [{k: d[k] for k in ("label", "old", "new")} for d in record["history"][0]["described"]]


def _id(zjtx, code_: str) -> int:
    with zjtx.db.read() as session:
        return session.query(Enterprise.id).filter_by(uscc=code_).scalar()


@pytest.mark.parametrize("username", ["economy_info_commission_liaison", "dispatcher", "admin",
                                      "science_tech_bureau_handler"])
def test_only_the_tech_bureau_changes_the_flag(zjtx, username):
    register(zjtx)
    who = actor(zjtx, username)
    with pytest.raises(PermissionDenied):
        zjtx.enterprises.tech.set_flag(who, {"uscc": GOOD, "tech_since": "2025-06-01"})
    with pytest.raises(PermissionDenied):
        zjtx.enterprises.tech.import_list(who, tech_list([[GOOD, "2025-06-01", None]]))
    head = actor(zjtx, "science_tech_bureau_head")
    assert zjtx.enterprises.tech.set_flag(head, {"uscc": GOOD, "tech_since": "2025-06-01"}) == RECORD["name"]


# -- district settings --------------------------------------------------------------------------

def test_the_defaults_the_plan_does_not_set_are_listed_as_district_settings(zjtx):
    settings = {s["label"]: s for s in district_settings.current(zjtx.db)}
    assert {k: settings[k]["value"] for k in settings} == {
        "培育库入库有效期": "3", "年度数据更新截止日": "04-30", "入库公示期": "5", "认定有效期": "3",
        "不满意重办次数上限": "2", "通报文号格式": "黔江专精特新通报〔{year}〕{seq}号"}
    assert all(s["mark"] == "区级设置（行动计划未作规定）" for s in settings.values())
    assert settings["入库公示期"]["where"].startswith(
        "流程设计器：流程「培育库入库」（pool_admission）的流程属性 notice_working_days")
    assert "evaluation_circular）的流程属性 number_format" in settings["通报文号格式"]["where"]


def test_a_pool_validity_set_in_the_diagram_is_what_admission_writes(zjtx, tmp_path):
    source = (zjtx.settings.processes_dir / "pool_admission.bpmn").read_text(encoding="utf-8")
    edited = source.replace('name="pool_validity_years" value="3"', 'name="pool_validity_years" value="2"')
    (tmp_path / "pool_admission.bpmn").write_text(edited, encoding="utf-8")
    zjtx.deploy([tmp_path / "pool_admission.bpmn"], deployed_by="admin")
    assert {s["label"]: s["value"] for s in district_settings.current(zjtx.db)}["培育库入库有效期"] == "2"


@pytest.mark.sqlite_only
def test_the_commands_import_the_list_and_print_the_settings(zjtx, database_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main

    register(zjtx)
    monkeypatch.setenv("DATABASE_URL", database_url)
    path = tmp_path / "名单.xlsx"
    path.write_bytes(tech_list([[GOOD, "2025-06-01", None]]))
    runner = CliRunner()
    refused = runner.invoke(main, ["enterprises", "tech-import", str(path), "--as", "dispatcher"])
    assert refused.exit_code == 1 and "科技型企业名单由区科技局维护" in refused.stderr
    done = runner.invoke(main, ["enterprises", "tech-import", str(path), "--as", TECH])
    assert done.exit_code == 0 and "更新 1 家" in done.stdout
    shown = runner.invoke(main, ["district-settings"])
    assert shown.exit_code == 0 and "入库公示期：5个工作日  [区级设置（行动计划未作规定）]" in shown.stdout


def test_the_registry_workbook_names_a_bad_sector_by_sheet_row_and_column(zjtx):
    book = load_workbook(io.BytesIO(workbook([[*ROW_A, "房地产", None, None]], [])))
    for column, title in enumerate(("所属领域", "重点支持领域", "金融业态"), start=12):  # the template's new columns
        book["企业"].cell(row=1, column=column, value=title)
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ImportFailed) as failed:
        zjtx.enterprises.import_workbook(actor(zjtx, "dispatcher"), out.getvalue())
    assert [p["message"] for p in failed.value.problems] == [
        "工作表「企业」第 2 行「所属领域」：「所属领域」应为行动计划二（一）的领域之一：" + "、".join(SECTORS)]


def test_a_firm_recognised_in_2022_and_upgraded_since_is_still_new_in_2022(zjtx):
    dispatcher = actor(zjtx, "dispatcher")
    record = {"name": "重庆黔江某升级科技有限公司", "uscc": code("UUU"), "in_district": "是", "sector": "工业"}
    with time_machine.travel(at("2022-06-01 10:00"), tick=False) as clock:
        upgraded = zjtx.enterprises.save(dispatcher, {**record, "tier": INNOVATIVE, "tier_since": "2022-05-01",
                                                      "tier_valid_until": "2025-04-30"})
        clock.move_to(at("2023-07-01 10:00"))
        zjtx.enterprises.save(dispatcher, {**record, "tier": SPECIALIZED, "tier_since": "2023-06-01",
                                           "tier_valid_until": "2026-05-31"}, enterprise_id=upgraded)
        clock.move_to(at("2024-01-01 10:00"))
        save(zjtx, "XXX", SPECIALIZED, "2022-09-01", "2025-08-31")  # entered in 2024 with its 2022 recognition
        with zjtx.db.read() as session:
            assert goals_in(session, date(2024, 1, 31), BJ)[0]["actual"] == 2  # both, each counted once


@pytest.mark.sqlite_only
def test_the_circular_number_format_set_in_the_diagram_numbers_the_circular(zjtx, tmp_path):
    source = (zjtx.settings.processes_dir / "evaluation_circular.bpmn").read_text(encoding="utf-8")
    edited = source.replace("{place}专精特新通报〔{year}〕{seq}号", "黔江专精特新〔{year}〕第{seq}期")
    (tmp_path / "evaluation_circular.bpmn").write_text(edited, encoding="utf-8")
    [result] = zjtx.deploy([tmp_path / "evaluation_circular.bpmn"], deployed_by="admin")
    zjtx.repository.set_trusted(actor(zjtx, "admin"), "evaluation_circular", result.version, True)  # as uploaded
    with time_machine.travel(at("2026-11-06 10:00"), tick=False):
        started = zjtx.workflows.start("evaluation_circular", {"period": None, "period_start": "2026-10-01",
                                                               "period_end": "2026-10-31"}, actor="dispatcher")
        [draft] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "draft"]
        text = "关于2026年10月全区专精特新企业培育工作情况的通报正文。"
        zjtx.workflows.complete(draft["id"], {"circular_text": text}, "dispatcher")
        for task in [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "check_figures"]:
            zjtx.workflows.complete(task["id"], {"check_result": "confirmed"},
                                    f"{SHORT_CODES[task['department']]}_liaison")
        [approve] = [t for t in zjtx.queries.tasks(instance_id=started["id"]) if t["task"] == "approve"]
        zjtx.workflows.complete(approve["id"], {"circular_approved": True}, "office")
    assert zjtx.queries.show(started["id"])["data"]["circular_number"] == "黔江专精特新〔2026〕第1期"
    assert {s["label"]: s["value"] for s in district_settings.current(zjtx.db)}["通报文号格式"] == \
        "黔江专精特新〔{year}〕第{seq}期"
    with zjtx.db.write() as session, pytest.raises(ValidationFailed) as refused:
        zjtx.circulars.publish_in(session, 1, "office", number_format="第{seq}期")
    assert "须含 {year} 和 {seq}" in refused.value.errors["number_format"]
