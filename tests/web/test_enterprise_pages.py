"""Enterprise registry pages: who sees what, editing with field errors, Excel in and out, applying."""
from __future__ import annotations

import io

import pytest

from tests.helpers import GOOD, ROW_A, YEARS, register, workbook

pytestmark = pytest.mark.sqlite_only




def test_the_registry_lists_goals_and_enterprises_by_role(browser, zjtx):
    enterprise_id = register(zjtx)  # 批发业: reviewed by 区商务委
    page = browser("dispatcher").get("/enterprises/").get_data(as_text=True)
    assert "重庆黔江某精密制造有限公司" in page and "市级“专精特新”中小企业50家以上" in page
    commerce = browser("commerce_commission_liaison")
    assert "重庆黔江某精密制造有限公司" in commerce.get("/enterprises/").get_data(as_text=True)
    assert commerce.get(f"/enterprises/{enterprise_id}").status_code == 200
    science = browser("science_tech_bureau_liaison")
    assert "精密制造" not in science.get("/enterprises/").get_data(as_text=True)
    assert science.get(f"/enterprises/{enterprise_id}").status_code == 404
    assert science.get(f"/enterprises/{enterprise_id}/edit").status_code == 403
    assert browser("designer").get("/enterprises/").status_code == 403


def test_the_enterprise_page_explains_eligibility(browser, zjtx, clock):  # last year's figures: 2025
    enterprise_id = register(zjtx, years=YEARS[:2])
    page = browser("officer").get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert "无法判定，请补充缺少的数据" in page and "缺少2025年研发投入" in page


def test_editing_reports_field_errors_and_keeps_history(browser, zjtx):
    enterprise_id = register(zjtx)
    b = browser("officer")
    b.get(f"/enterprises/{enterprise_id}/edit")
    bad = b.post(f"/enterprises/{enterprise_id}/edit", {"name": "重庆黔江某精密制造有限公司", "uscc": GOOD[:-1] + "0",
                                                        "industry": "批发业", "tier": "none"})
    assert bad.status_code == 400 and "校验位错误" in bad.get_data(as_text=True)
    ok = b.post(f"/enterprises/{enterprise_id}/edit", {"name": "重庆黔江某精密制造有限公司", "uscc": GOOD,
                                                       "industry": "批发业", "tier": "none", "employees": "210",
                                                       "y0-year": "2025", "y0-revenue": "27000000"})
    assert ok.status_code == 302
    page = b.get(f"/enterprises/{enterprise_id}").get_data(as_text=True)
    assert "从业人员：180 → 210" in page and "页面修改" in page


def test_excel_import_errors_are_listed_and_export_downloads(browser, zjtx):
    b = browser("dispatcher")
    b.get("/enterprises/")
    bad = workbook([[*ROW_A[:1], "123", *ROW_A[2:]]], [])
    response = b.post("/enterprises/import", {"file": (io.BytesIO(bad), "企业.xlsx")}, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "第 2 行" in text and "统一社会信用代码" in text and "未导入任何数据" in text
    good = workbook([ROW_A], [[GOOD, 2025, 26_000_000, 780_000, 1_500_000, 40_000_000, 22_000_000]])
    done = b.post("/enterprises/import", {"file": (io.BytesIO(good), "企业.xlsx")}, content_type="multipart/form-data",
                  follow_redirects=True)
    assert "新增 1 家" in done.get_data(as_text=True)
    exported = b.client.get("/enterprises/export.xlsx")
    assert exported.status_code == 200 and exported.data[:2] == b"PK"


def test_applying_from_the_enterprise_page_starts_the_admission(browser, zjtx, clock):
    enterprise_id = register(zjtx)
    b = browser("officer")
    b.get(f"/enterprises/{enterprise_id}")
    started = b.post(f"/enterprises/{enterprise_id}/apply")
    assert started.status_code == 302 and "/items/" in started.headers["Location"]
    [review] = [t for t in zjtx.queries.tasks() if t["task"] == "industry_review"]
    assert review["department"] == "区商务委"


def test_enterprise_excel_from_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    runner = CliRunner()
    for args in (["init-db"], ["seed"]):
        assert runner.invoke(main, args).exit_code == 0
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook([[*ROW_A[:1], "123", *ROW_A[2:]]], []))
    refused = runner.invoke(main, ["enterprises", "import", str(bad)])
    assert refused.exit_code == 1 and "第 2 行「统一社会信用代码」" in refused.stderr
    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook([ROW_A], []))
    assert "新增 1 家" in runner.invoke(main, ["enterprises", "import", str(good)]).stdout
    out = tmp_path / "out.xlsx"
    assert runner.invoke(main, ["enterprises", "export", str(out)]).exit_code == 0
    assert out.read_bytes()[:2] == b"PK"


def test_the_dashboard_shows_the_goals(browser, zjtx):
    page = browser("office").get("/dashboard").get_data(as_text=True)
    assert "行动计划目标" in page and "国家专精特新“小巨人”企业1—2家" in page
