"""`zjtx calendar`: answers from the stored calendar; imports a year's notice; says what is unconfirmed."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.cli import main

pytestmark = pytest.mark.sqlite_only

NOTICE_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知（测试用）",
    "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
                 {"name": "春节", "start": "2027-02-05", "end": "2027-02-11"},
                 {"name": "国庆节", "start": "2027-10-01", "end": "2027-10-07"}],
    "workdays": [{"date": "2027-02-13", "name": "春节调休上班"}, {"date": "2027-09-26"}],
}


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == code, result.output + result.stderr
        return result

    run("init-db")
    return run


@pytest.mark.parametrize(("day", "n", "due"), [
    ("2026-09-29", 3, "2026-10-09"),   # across National Day
    ("2026-09-18", 2, "2026-09-21"),   # Saturday 09-19 is rest; Sunday 09-20 is a make-up working day
    ("2026-02-13", 1, "2026-02-14"),   # the make-up Saturday before Spring Festival
    ("2026-02-14", 1, "2026-02-24"),   # Spring Festival 02-15..02-23
    ("2026-12-31", 1, "2027-01-04"),
])
def test_add_working_days(cli, day, n, due):
    assert cli("calendar", "add-working-days", day, n).stdout.strip() == due


@pytest.mark.parametrize(("day", "answer"), [
    ("2026-01-04", "true"), ("2026-02-14", "true"), ("2026-02-28", "true"), ("2026-05-09", "true"),
    ("2026-09-20", "true"), ("2026-10-10", "true"),
    ("2026-02-17", "false"), ("2026-10-01", "false"), ("2026-10-07", "false"), ("2026-10-11", "false"),
    ("2026-10-08", "true"),
])
def test_is_workday(cli, day, answer):
    assert cli("calendar", "is-workday", day).stdout.strip() == answer


def test_an_unconfirmed_year_still_answers_and_says_so(cli, year_without_notice):
    result = cli("calendar", "is-workday", "2027-02-13")
    assert result.stdout.strip() == "false" and "2027 年的节假日安排尚未确认" in result.stderr
    assert "2027 年：未确认" in cli("calendar", "status").stdout


def test_importing_a_notice_confirms_the_year(cli, tmp_path):
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    assert "已导入 2027 年节假日安排" in cli("calendar", "import", notice).stdout
    result = cli("calendar", "is-workday", "2027-02-13")
    assert result.stdout.strip() == "true" and result.stderr == ""
    assert cli("calendar", "is-workday", "2027-02-08").stdout.strip() == "false"
    assert cli("calendar", "add-working-days", "2027-09-30", 1).stdout.strip() == "2027-10-08"
    assert "2027 年：已确认" in cli("calendar", "status").stdout
    cli("calendar", "import", notice)  # importing again replaces, not duplicates


def test_an_administrator_overrides_a_single_day(cli):
    assert cli("calendar", "is-workday", "2026-12-31").stdout.strip() == "true"
    cli("calendar", "set", "2026-12-31", "holiday", "--name", "临时调整")
    assert cli("calendar", "is-workday", "2026-12-31").stdout.strip() == "false"
    assert cli("calendar", "add-working-days", "2026-12-30", 1).stdout.strip() == "2027-01-04"
    cli("calendar", "set", "2026-12-31", "weekday", code=2)


def test_a_day_set_for_one_district_leaves_the_others_and_national_days_reach_all(cli):
    cli("district", "create", "500243", "彭水县", "--demo-prefix", "ps_")
    assert "（黔江区）" in cli("calendar", "set", "2026-12-31", "holiday").stdout
    assert cli("--district", "500243", "calendar", "is-workday", "2026-12-31").stdout.strip() == "true"
    assert "（全国）" in cli("calendar", "set", "2026-12-30", "holiday", "--national").stdout
    assert cli("--district", "500243", "calendar", "is-workday", "2026-12-30").stdout.strip() == "false"
    assert "已恢复为全国安排" in cli("calendar", "clear", "2026-12-31").stdout
    assert cli("calendar", "is-workday", "2026-12-31").stdout.strip() == "true"
    assert "没有调整过" in cli("calendar", "clear", "2026-12-31").stdout


def test_a_bad_notice_is_refused_with_every_problem_named(cli, tmp_path, year_without_notice):
    bad = dict(NOTICE_2027, workdays=[{"date": "2027-02-10"}, {"date": "2027-13-01"}])
    notice = tmp_path / "bad.json"
    notice.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    result = cli("calendar", "import", notice, code=1)
    assert "节假日安排文件有误" in result.stderr
    assert "2027-13-01" in result.stderr and "2027-02-10" in result.stderr
    assert "2027 年：未确认" in cli("calendar", "status").stdout
    cli("calendar", "add-working-days", "2026-02-30", 1, code=2)
