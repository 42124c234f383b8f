"""The enterprise registry: credit codes, records with history, Excel import (all or nothing) and export."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.policy.pool.enterprises import ImportFailed
from engine.policy.pool.uscc import problem
from tests.helpers import GOOD, RECORD, ROW_A, workbook
from tests.helpers import uscc as code

OTHER = code("91500114MA60ABCD1")


@pytest.mark.parametrize(("value", "message"), [
    ("91350100M000100Y43", None),
    (GOOD, None),
    ("91350100M000100Y44", "校验位错误（第 18 位应为 3）"),
    ("91350100M000100Y4", "应为 18 位"),
    ("91350100M0001O0Y43", "不允许的字符：O"),
    ("01350100M000100Y43", "第 1 位"),
    ("", "不能为空"),
])
def test_credit_codes_are_checked_per_gb_32100(value, message):
    found = problem(value)
    assert (found is None) if message is None else (message in found)


def actor(zjtx, username="dispatcher") -> Actor:
    from engine.identity.authz import actor_for

    with zjtx.db.read() as session:
        return actor_for(session, username)


@pytest.mark.sqlite_only
def test_an_enterprise_is_saved_with_its_years_and_a_history(zjtx):
    service = zjtx.enterprises
    enterprise_id = service.save(actor(zjtx), RECORD, years=[{"year": 2025, "revenue": 26_000_000}])
    saved = service.get(enterprise_id)
    assert saved["tier"] == "innovative" and saved["service_officer"] == "officer"
    assert saved["years"][2025]["revenue"] == 26_000_000
    service.save(actor(zjtx, "officer"), {**RECORD, "employees": 200},
                 years=[{"year": 2025, "revenue": 27_000_000}], enterprise_id=enterprise_id)
    history = service.get(enterprise_id)["history"]
    assert history[0]["actor"] == "officer" and history[0]["changes"]["employees"] == [180, 200]
    assert history[0]["changes"]["2025.revenue"] == [26_000_000, 27_000_000]
    assert "created" in history[1]["changes"]


@pytest.mark.sqlite_only
def test_bad_records_are_refused_field_by_field(zjtx):
    with pytest.raises(ValidationFailed) as caught:
        zjtx.enterprises.save(actor(zjtx), {**RECORD, "uscc": GOOD[:-1] + "0", "industry": "采矿", "employees": -1,
                                            "registered_on": "2019-02-30", "service_officer": "dispatcher"})
    errors = caught.value.errors
    assert "校验位错误" in errors["uscc"] and "行业" in errors["industry"] and "非负整数" in errors["employees"]
    assert "注册日期" in errors["registered_on"] and "不是服务专员" in errors["service_officer"]
    with pytest.raises(PermissionDenied):
        zjtx.enterprises.save(actor(zjtx, "science_tech_bureau_liaison"), RECORD)


ROW_B = ["黔江某软件有限公司", OTHER, "2021-07-01", "是", "是", "软件和信息技术服务业", 45, "无", None, None, None]


def test_an_excel_import_with_a_bad_row_imports_nothing(zjtx):
    bad_b = [*ROW_B[:1], OTHER[:-1] + "X", *ROW_B[2:5], "软件业", *ROW_B[6:]]
    content = workbook([ROW_A, bad_b], [[GOOD, 2025, 26_000_000, 780_000, "一百万", 40_000_000, 22_000_000],
                                        [GOOD, "25", 1, 1, 1, 1, 1]])
    with pytest.raises(ImportFailed) as caught:
        zjtx.enterprises.import_workbook(actor(zjtx), content)
    where = {(p["sheet"], p["row"], p["column"]) for p in caught.value.problems}
    assert ("企业", 3, "统一社会信用代码") in where and ("企业", 3, "行业") in where
    assert ("年度数据", 2, "净利润（元）") in where and ("年度数据", 3, "年度") in where
    assert "未导入任何数据" in caught.value.message
    assert zjtx.enterprises.list(actor(zjtx))[1] == 0


def test_an_excel_import_then_export_round_trips(zjtx):
    content = workbook([ROW_A, ROW_B], [[GOOD, 2024, 21_000_000, 600_000, 1_300_000, 38_000_000, 21_000_000],
                                        [GOOD, 2025, 26_000_000, 780_000, 1_500_000, 40_000_000, 22_000_000],
                                        [OTHER, 2025, 9_000_000, 900_000, 800_000, 5_000_000, 1_000_000]])
    assert zjtx.enterprises.import_workbook(actor(zjtx), content) == {"created": 2, "updated": 0, "years": 3}
    rows, total = zjtx.enterprises.list(actor(zjtx), industry="工业")
    assert total == 1 and rows[0]["years"][2025]["net_profit"] == 1_500_000
    exported = load_workbook(io.BytesIO(zjtx.enterprises.export_workbook()))
    assert [r[1] for r in exported["企业"].iter_rows(min_row=2, values_only=True)] == sorted([GOOD, OTHER], key=lambda c: {
        GOOD: "黔江某新材料科技有限公司", OTHER: "黔江某软件有限公司"}[c])
    assert exported["年度数据"].max_row == 4
    again = zjtx.enterprises.import_workbook(actor(zjtx), zjtx.enterprises.export_workbook())
    assert again == {"created": 0, "updated": 2, "years": 3}


def test_a_file_that_is_not_a_workbook_is_refused(zjtx):
    with pytest.raises(ValidationFailed) as caught:
        zjtx.enterprises.import_workbook(actor(zjtx), b"not excel")
    assert "Excel" in caught.value.errors["file"]
