"""Working days (工作日) follow the State Council's holiday notices, including 调休上班 weekends.

2026 figures are from 国务院办公厅关于2026年部分节假日安排的通知 as carried by the holidays package.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.deadlines.workcalendar import (
    Arrangement,
    ArrangementError,
    DayInfo,
    WorkCalendar,
    parse_arrangement,
)
from tests.helpers import remove_notice

MAKEUP_DAYS_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
                    date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]

EXAMPLE_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知",
    "holidays": [{"name": "春节", "start": "2027-02-05", "end": "2027-02-11"},
                 {"name": "元旦", "start": "2027-01-01", "end": "2027-01-01"}],
    "workdays": [{"date": "2027-02-13", "name": "春节调休上班"}],
}


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar()


def days(start: date, end: date):
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- 2026 as published -------------------------------------------------------------------------

def test_spring_festival_2026_is_off_from_feb_15_to_feb_23(cal):
    assert all(not cal.is_workday(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert cal.day(date(2026, 2, 16)).name == "农历除夕"
    assert cal.day(date(2026, 2, 17)) == DayInfo(date(2026, 2, 17), False, "春节", True)
    assert cal.is_workday(date(2026, 2, 24))


def test_saturdays_around_spring_festival_2026_are_working_days(cal):
    for d in (date(2026, 2, 14), date(2026, 2, 28)):
        assert d.weekday() == 5
        assert cal.day(d) == DayInfo(d, True, "调休上班", True)


def test_national_day_2026_is_off_from_oct_1_to_oct_7(cal):
    assert all(not cal.is_workday(d) for d in days(date(2026, 10, 1), date(2026, 10, 7)))
    assert cal.day(date(2026, 10, 1)).name == "国庆节"
    assert cal.is_workday(date(2026, 10, 8))


def test_weekends_around_national_day_2026_are_working_days(cal):
    assert date(2026, 9, 20).weekday() == 6 and date(2026, 10, 10).weekday() == 5
    assert cal.is_workday(date(2026, 9, 20))
    assert cal.is_workday(date(2026, 10, 10))


def test_all_2026_makeup_days_are_working_days(cal):
    for d in MAKEUP_DAYS_2026:
        assert d.weekday() >= 5
        assert cal.day(d).workday and cal.day(d).name == "调休上班", d


def test_ordinary_days_2026_have_no_name(cal):
    assert cal.day(date(2026, 3, 10)) == DayInfo(date(2026, 3, 10), True, None, True)
    assert cal.day(date(2026, 3, 14)) == DayInfo(date(2026, 3, 14), False, None, True)


def test_2026_is_confirmed_by_the_package(cal):
    assert cal.is_confirmed(2026)


# --- counting deadlines (次日起算) ---------------------------------------------------------------

def test_three_working_days_across_national_day(cal):
    # Created Tue 09-29: 09-30 is day 1, 10-01..10-07 off, 10-08 is day 2, 10-09 is day 3.
    assert cal.add_working_days(date(2026, 9, 29), 3) == date(2026, 10, 9)


def test_three_working_days_across_spring_festival(cal):
    # Created Thu 02-12: 02-13 is day 1, Sat 02-14 (调休上班) day 2, 02-15..02-23 off, 02-24 day 3.
    assert cal.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)


def test_one_working_day_from_friday_before_ordinary_weekend_is_monday(cal):
    assert cal.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)


def test_one_working_day_from_friday_before_makeup_saturday_is_that_saturday(cal):
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)


def test_counting_from_a_saturday_starts_on_sunday(cal):
    assert cal.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)
    assert cal.add_working_days(date(2026, 3, 7), 5) == date(2026, 3, 13)


def test_fifteen_working_days_for_a_complex_item(cal):
    assert cal.add_working_days(date(2026, 9, 29), 15) == date(2026, 10, 26)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_working_days_need_a_positive_integer(cal, n):
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 3, 6), n)
    with pytest.raises(ValueError):
        cal.working_days_before(date(2026, 3, 6), n)


def test_natural_days_ignore_holidays(cal):
    assert cal.add_natural_days(date(2026, 9, 29), 3) == date(2026, 10, 2)
    assert cal.add_natural_days(date(2026, 12, 30), 5) == date(2027, 1, 4)
    with pytest.raises(ValueError):
        cal.add_natural_days(date(2026, 9, 29), 0)


def test_working_days_before_skip_holidays(cal):
    assert cal.working_days_before(date(2026, 10, 8), 1) == date(2026, 9, 30)
    assert cal.working_days_before(date(2026, 2, 24), 1) == date(2026, 2, 14)
    assert cal.working_days_before(date(2026, 2, 24), 2) == date(2026, 2, 13)
    assert cal.working_days_before(date(2026, 3, 9), 1) == date(2026, 3, 6)


def test_working_days_between_counts_days_left_and_overdue(cal):
    assert cal.working_days_between(date(2026, 9, 29), date(2026, 10, 9)) == 3
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 9, 29)) == -3
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 10, 9)) == 0
    assert cal.working_days_between(date(2026, 10, 9), date(2026, 10, 10)) == 1  # 调休上班
    assert cal.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0


def test_working_days_between_agrees_with_add_working_days(cal):
    start = date(2026, 1, 1)
    for n in (1, 7, 15, 60, 250):
        assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


def test_deadline_ends_at_23_59_59_beijing_time(cal):
    moment = cal.end_of_day(date(2026, 10, 9), ZoneInfo("Asia/Shanghai"))
    assert moment == datetime(2026, 10, 9, 15, 59, 59, tzinfo=UTC)
    assert moment.tzinfo == UTC


# --- years without a published notice ------------------------------------------------------------

def test_year_without_notice_is_computed_and_flagged_unconfirmed(cal):
    assert not cal.is_confirmed(2031)
    spring = cal.day(date(2031, 1, 23))  # 正月初一 2031, a Thursday
    assert spring == DayInfo(date(2031, 1, 23), False, "春节", False)
    assert cal.day(date(2031, 1, 22)).name == "农历除夕"
    assert not cal.is_workday(date(2031, 10, 1))
    assert cal.day(date(2031, 3, 4)) == DayInfo(date(2031, 3, 4), True, None, False)


def test_year_without_notice_has_no_makeup_days(cal):
    saturdays = [d for d in days(date(2031, 1, 1), date(2031, 12, 31)) if d.weekday() >= 5]
    assert not any(cal.is_workday(d) for d in saturdays)


def test_no_date_from_1990_to_2100_raises(cal):
    for d in days(date(1990, 1, 1), date(2100, 12, 31)):
        cal.day(d)
    assert cal.add_working_days(date(2100, 12, 30), 3) == date(2101, 1, 4)


def test_a_year_without_notice_is_unconfirmed(year_without_notice):
    cal = WorkCalendar()
    assert not cal.is_confirmed(2027)
    assert cal.unconfirmed_years(date(2026, 11, 28)) == [2027]
    assert cal.unconfirmed_years(date(2026, 11, 28), ahead=0) == []
    assert cal.unconfirmed_years(date(2030, 1, 1), ahead=2) == [2030, 2031, 2032]


def test_a_year_without_notice_is_made_from_one_the_package_carries(monkeypatch):
    # What year_without_notice relies on: 2026's notice (2026-02-14, a Saturday, worked) is removed.
    assert WorkCalendar().is_confirmed(2026) and WorkCalendar().is_workday(date(2026, 2, 14))
    remove_notice(monkeypatch, 2026)
    cal = WorkCalendar()
    assert not cal.is_confirmed(2026) and not cal.is_workday(date(2026, 2, 14))
    assert cal.day(date(2026, 10, 1)).workday is False  # the statutory days stay


def test_year_data_is_built_once_per_year():
    calendar = WorkCalendar()
    calendar.add_working_days(date(2026, 1, 1), 200)
    first = calendar._years[2026]
    calendar.is_workday(date(2026, 12, 1))
    assert calendar._years[2026] is first


# --- administrator --------------------------------------------------------------------------------

def test_override_makes_a_monday_a_holiday():
    calendar = WorkCalendar(overrides={date(2026, 3, 9): (False, "临时放假")})
    assert calendar.day(date(2026, 3, 9)) == DayInfo(date(2026, 3, 9), False, "临时放假", True)
    assert calendar.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 10)


def test_override_makes_a_saturday_a_workday():
    calendar = WorkCalendar(overrides={date(2026, 3, 14): (True, "调休上班")})
    assert calendar.is_workday(date(2026, 3, 14))
    assert calendar.add_working_days(date(2026, 3, 13), 1) == date(2026, 3, 14)


def test_override_wins_over_the_package():
    calendar = WorkCalendar(overrides={date(2026, 10, 10): (False, None), date(2026, 10, 7): (True, None)})
    assert not calendar.is_workday(date(2026, 10, 10))
    assert calendar.is_workday(date(2026, 10, 7))


def test_confirmed_year_uses_only_the_imported_arrangement():
    arrangement = parse_arrangement(EXAMPLE_2027)
    overrides = {d: (False, name) for d, name in arrangement.holidays}
    overrides.update({d: (True, name) for d, name in arrangement.workdays})
    calendar = WorkCalendar(overrides=overrides, confirmed_years=[2027])
    assert calendar.is_confirmed(2027)
    assert calendar.unconfirmed_years(date(2026, 11, 28)) == []
    assert calendar.day(date(2027, 2, 8)) == DayInfo(date(2027, 2, 8), False, "春节", True)
    assert calendar.day(date(2027, 2, 13)) == DayInfo(date(2027, 2, 13), True, "春节调休上班", True)
    # The package guesses 2027-05-03 as 劳动节（补假）; an imported year ignores such guesses.
    assert not WorkCalendar().is_workday(date(2027, 5, 3))
    assert calendar.is_workday(date(2027, 5, 3))
    # Thu 02-04 created: 02-05..02-11 off, Fri 02-12 is day 1, Sat 02-13 调休上班 day 2.
    assert calendar.add_working_days(date(2027, 2, 4), 2) == date(2027, 2, 13)


# --- import file -----------------------------------------------------------------------------------

def test_import_file_example_is_accepted():
    arrangement = parse_arrangement(EXAMPLE_2027)
    assert isinstance(arrangement, Arrangement)
    assert arrangement.year == 2027
    assert arrangement.holidays[0] == (date(2027, 1, 1), "元旦")
    assert arrangement.holidays[1:] == tuple((d, "春节") for d in days(date(2027, 2, 5), date(2027, 2, 11)))
    assert arrangement.workdays == ((date(2027, 2, 13), "春节调休上班"),)


def test_import_file_workday_name_and_source_are_optional():
    data = {"year": 2027, "holidays": EXAMPLE_2027["holidays"], "workdays": [{"date": "2027-02-13"}]}
    assert parse_arrangement(data).workdays == ((date(2027, 2, 13), "调休上班"),)
    assert parse_arrangement({"year": 2027, "holidays": EXAMPLE_2027["holidays"]}).workdays == ()


def test_bad_import_file_reports_every_error_in_chinese():
    bad = {
        "holidays": [
            {"name": "春节", "start": "2027-02-30", "end": "2027-02-11"},  # no Feb 30
            {"name": "国庆节", "start": "2027-10-07", "end": "2027-10-01"},  # end before start
            {"name": "元旦", "start": "2026-12-31", "end": "2026-12-31"},  # another year
            {"name": "劳动节", "start": "2027-05-01", "end": "2027-05-05"},
        ],
        "workdays": [
            {"date": "2027-04-28", "name": "劳动节调休上班"},  # a Wednesday
            {"date": "2027-05-01"},  # also a holiday
        ],
    }
    with pytest.raises(ArrangementError) as caught:
        parse_arrangement(bad)
    errors = caught.value.errors
    assert len(errors) == 5, errors
    assert errors[0] == "缺少年份（year）"
    assert "放假安排第1项（春节）" in errors[1] and "2027-02-30" in errors[1] and "不是有效日期" in errors[1]
    assert "放假安排第2项（国庆节）" in errors[2] and "早于开始日期" in errors[2]
    assert "调休上班第1项（2027-04-28）" in errors[3] and "星期三" in errors[3]
    assert "调休上班第2项（2027-05-01）" in errors[4] and "同时列为放假" in errors[4] and "劳动节" in errors[4]
    assert isinstance(caught.value, ValueError)


def test_import_file_dates_must_be_in_its_year():
    data = dict(EXAMPLE_2027, holidays=[{"name": "元旦", "start": "2026-12-31", "end": "2027-01-01"}],
                workdays=[{"date": "2028-01-08"}])
    with pytest.raises(ArrangementError) as caught:
        parse_arrangement(data)
    assert caught.value.errors == [
        "放假安排第1项（元旦）：开始日期（start） 2026-12-31 不在 2027 年内",
        "调休上班第1项（2028-01-08）：日期（date） 2028-01-08 不在 2027 年内",
    ]


@pytest.mark.parametrize("value", ["2027/02/05", "20270205", "2027-2-5", 20270205, ""])
def test_import_file_dates_must_be_iso(value):
    data = dict(EXAMPLE_2027, workdays=[{"date": value}])
    with pytest.raises(ArrangementError) as caught:
        parse_arrangement(data)
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0].startswith("调休上班第1项")
    assert "YYYY-MM-DD" in caught.value.errors[0]


@pytest.mark.parametrize("data, message", [
    ({"year": "2027", "holidays": EXAMPLE_2027["holidays"]}, "年份（year）无效"),
    ({"year": 2027}, "缺少放假安排（holidays）"),
    ({"year": 2027, "holidays": [{"start": "2027-01-01", "end": "2027-01-01"}]}, "放假安排第1项：缺少名称（name）"),
    ({"year": 2027, "holidays": [{"name": "元旦", "start": "2027-01-01"}]}, "放假安排第1项（元旦）：缺少结束日期（end）"),
    ({"year": 2027, "holidays": [{"name": "春节", "start": "2027-02-05", "end": "2027-02-11"},
                                 {"name": "除夕", "start": "2027-02-05", "end": "2027-02-05"}]},
     "放假安排第2项（除夕）：2027-02-05 已列在放假安排第1项（春节）中"),
    (["not", "an", "object"], "导入文件应为 JSON 对象"),
])
def test_import_file_structure_errors(data, message):
    with pytest.raises(ArrangementError) as caught:
        parse_arrangement(data)
    assert any(message in e for e in caught.value.errors), caught.value.errors
