"""Working-day calendar (工作日) for deadlines, following China's holiday arrangements.

Whether a day is worked is decided, first rule that applies:

1. an administrator override for that date (``overrides``: date -> (is_workday, name));
2. a year the administrator confirmed by importing the State Council notice: the notice's days
   arrive as overrides, so every other day is an ordinary weekday (worked) or weekend (rest);
3. a year whose notice the ``holidays`` package carries (2001–2026 in holidays 0.109): its days
   off, its ``weekend_workdays`` (调休上班) and ordinary weekends;
4. any other year: weekends plus the statutory holidays the package computes, including the
   补假 it adds for holidays falling on a weekend (《全国年节及纪念日放假办法》第六条); no make-up
   days are guessed. Such days are ``confirmed=False``, so callers can flag deadlines as provisional.

Import file for one year's notice (what ``json.load`` gives), checked by :func:`parse_arrangement`::

    {"year": 2027,
     "source": "国务院办公厅关于2027年部分节假日安排的通知",            # optional
     "holidays": [{"name": "春节", "start": "2027-02-05", "end": "2027-02-11"},
                  {"name": "元旦", "start": "2027-01-01", "end": "2027-01-01"}],
     "workdays": [{"date": "2027-02-13", "name": "春节调休上班"}]}     # name optional: "调休上班"

Holiday ranges are inclusive; every date must fall in ``year``; workdays must be Saturdays or
Sundays. A make-up day in the previous December has to be entered as a single override.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as _holidays

from engine.bytecache import MB, byte_cached

MAKEUP_NAME = "调休上班"
# The package's zh_CN label of a day off moved from a weekend: "休息日（由 2026-01-04 调休）".
_SUBSTITUTED_PREFIX = "休息日（由"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEKDAY_NAMES = "一二三四五六日"
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayInfo:
    day: date
    workday: bool
    name: str | None  # holiday name, "调休上班", an override's name, or None for ordinary days
    confirmed: bool  # False when the day's year has no confirmed arrangement


@dataclass(frozen=True)
class Arrangement:
    """One year's State Council notice, as imported by the administrator."""

    year: int
    holidays: tuple[tuple[date, str], ...]  # days off with their Chinese name, sorted
    workdays: tuple[tuple[date, str], ...]  # make-up working days (weekend days worked), sorted


class ArrangementError(ValueError):
    """Bad import file. ``errors``: list of Chinese messages, each naming the field or item."""

    def __init__(self, errors: Iterable[str]):
        self.errors = list(errors)
        super().__init__("；".join(self.errors))


@dataclass(frozen=True)
class _Year:
    confirmed: bool
    days: dict[date, tuple[bool, str]]  # only the days that differ from weekday/weekend


# The package's data is fixed for the process: built once per year, not per calendar (a year: a few KB)
@byte_cached("deadlines.package_years", 4 * MB)
def _package_year(year: int) -> _Year:
    """What the ``holidays`` package knows about ``year`` (empty outside its range, never raises)."""
    cn = _holidays.country_holidays("CN", years=year, language="zh_CN")
    days = {d: (False, name) for d, name in cn.items() if d.year == year}
    # weekend_workdays also holds cross-year dates of other notices whatever year was built.
    makeup = [d for d in cn.weekend_workdays if d.year == year]
    known = bool(makeup) or any(name.startswith(_SUBSTITUTED_PREFIX) for _, name in days.values())
    days.update((d, (True, MAKEUP_NAME)) for d in makeup)
    return _Year(known, days)


def _positive(n: int) -> None:
    # A float would never reach 0 in the counting loops; a bool is a mistake.
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


class WorkCalendar:
    """Answers which days are worked; each year's package data is built once per instance."""

    def __init__(self, overrides: Mapping[date, tuple[bool, str | None]] | None = None,
                 confirmed_years: Iterable[int] = ()):
        """overrides: administrator's days (date -> (is_workday, name)), they win over everything.
        confirmed_years: years whose full arrangement the administrator imported."""
        self._overrides = dict(overrides or {})
        self._confirmed_years = frozenset(confirmed_years)
        self._years: dict[int, _Year] = {}

    def _year(self, year: int) -> _Year:
        # Building the package's holidays takes milliseconds; deadline loops ask for many days.
        if year not in self._years:
            self._years[year] = _package_year(year)
        return self._years[year]

    def is_confirmed(self, year: int) -> bool:
        """True when the administrator imported the year's notice or the package carries it."""
        return year in self._confirmed_years or self._year(year).confirmed

    def day(self, d: date) -> DayInfo:
        confirmed = self.is_confirmed(d.year)
        if d in self._overrides:
            workday, name = self._overrides[d]
            return DayInfo(d, bool(workday), name, confirmed)
        # An imported year is complete in the overrides; the package's guesses must not leak in.
        entry = None if d.year in self._confirmed_years else self._year(d.year).days.get(d)
        workday, name = entry or (d.weekday() < 5, None)
        return DayInfo(d, workday, name, confirmed)

    def is_workday(self, d: date) -> bool:
        return self.day(d).workday

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start``; counting starts the next day (次日起算)."""
        _positive(n)
        d = start
        while n:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def add_natural_days(self, start: date, n: int) -> date:
        """``start`` + n calendar days (自然日)."""
        _positive(n)
        return start + timedelta(days=n)

    def working_days_before(self, d: date, n: int) -> date:
        """The n-th working day strictly before ``d`` (e.g. when a 预警 is due)."""
        _positive(n)
        while n:
            d -= _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end < start (days left / days overdue)."""
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        days = (start + timedelta(days=i) for i in range(1, (end - start).days + 1))
        return sign * sum(1 for d in days if self.is_workday(d))

    def unconfirmed_years(self, today: date, ahead: int = 1) -> list[int]:
        """Of the years today.year .. today.year + ahead, those still without a confirmed notice."""
        return [y for y in range(today.year, today.year + ahead + 1) if not self.is_confirmed(y)]

    def end_of_day(self, d: date, tz: ZoneInfo) -> datetime:
        """The deadline moment of day ``d``: 23:59:59 local time in ``tz``, as an aware UTC datetime."""
        return datetime.combine(d, time(23, 59, 59), tzinfo=tz).astimezone(UTC)


class _ArrangementParser:
    """Checks an import file part by part, collecting every problem (in Chinese, naming the item)."""

    def __init__(self):
        self.errors: list[str] = []
        self.year: int | None = None
        self.off: dict[date, tuple[str, str]] = {}  # date -> (name, item label), to name the clashing item
        self.work: dict[date, str] = {}

    def header(self, data: dict) -> None:
        year = data.get("year")
        if year is None:
            self.errors.append("缺少年份（year）")
        elif not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
            self.errors.append(f"年份（year）无效：{year!r}，应为 1990 至 2100 之间的整数")
        else:
            self.year = year
        if not isinstance(data.get("source", ""), str):
            self.errors.append("来源（source）应为文本")

    def day(self, value, where: str, field: str) -> date | None:
        if value is None:
            self.errors.append(f"{where}：缺少{field}")
            return None
        # fromisoformat alone would also accept "20270205" or "2027-W05-5".
        try:
            if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
                raise ValueError
            d = date.fromisoformat(value)
        except ValueError:
            self.errors.append(f"{where}：{field}“{value}”不是有效日期，应为 YYYY-MM-DD 格式")
            return None
        if self.year is not None and d.year != self.year:
            self.errors.append(f"{where}：{field} {d} 不在 {self.year} 年内")
        return d

    def holidays(self, items) -> None:
        if not isinstance(items, list) or not items:
            self.errors.append("缺少放假安排（holidays），应为非空列表")
            return
        for i, item in enumerate(items, 1):
            where = f"放假安排第{i}项"
            if not isinstance(item, dict):
                self.errors.append(f"{where}：应为包含 name、start、end 的对象")
                continue
            name = item.get("name")
            if isinstance(name, str) and name.strip():
                name = name.strip()
                where += f"（{name}）"
            else:
                self.errors.append(f"{where}：缺少名称（name）")
                name = None
            self._holiday(where, name, self.day(item.get("start"), where, "开始日期（start）"),
                          self.day(item.get("end"), where, "结束日期（end）"))

    def _holiday(self, where: str, name: str | None, start: date | None, end: date | None) -> None:
        if start is None or end is None:
            return
        if end < start:
            self.errors.append(f"{where}：结束日期 {end} 早于开始日期 {start}")
            return
        if start.year != end.year:  # already reported as outside the year; don't walk a typo's decades
            return
        d = start
        while d <= end:
            if d in self.off:
                self.errors.append(f"{where}：{d} 已列在{self.off[d][1]}中")
            elif name:
                self.off[d] = (name, where)
            d += _ONE_DAY

    def workdays(self, items) -> None:
        if not isinstance(items, list):
            self.errors.append("调休上班（workdays）应为列表")
            return
        for i, item in enumerate(items, 1):
            where = f"调休上班第{i}项"
            if not isinstance(item, dict):
                self.errors.append(f"{where}：应为包含 date 的对象")
                continue
            if isinstance(item.get("date"), str):
                where += f"（{item['date']}）"
            name = item.get("name", MAKEUP_NAME)
            if not isinstance(name, str) or not name.strip():
                self.errors.append(f"{where}：名称（name）应为非空文本")
                name = MAKEUP_NAME
            self._workday(where, name.strip(), self.day(item.get("date"), where, "日期（date）"))

    def _workday(self, where: str, name: str, d: date | None) -> None:
        if d is None:
            return
        if d.weekday() < 5:
            self.errors.append(f"{where}：{d} 是星期{_WEEKDAY_NAMES[d.weekday()]}，调休上班日应为星期六或星期日")
        if d in self.off:
            self.errors.append(f"{where}：{d} 同时列为放假（{self.off[d][1]}）和调休上班")
        elif d in self.work:
            self.errors.append(f"{where}：{d} 重复列出")
        else:
            self.work[d] = name


def parse_arrangement(data: dict) -> Arrangement:
    """Validate an import file (see the module docstring); raise ArrangementError listing every problem."""
    if not isinstance(data, dict):
        raise ArrangementError(["导入文件应为 JSON 对象"])
    parser = _ArrangementParser()
    parser.header(data)
    parser.holidays(data.get("holidays"))
    parser.workdays(data.get("workdays", []))
    if parser.errors:
        raise ArrangementError(parser.errors)
    return Arrangement(parser.year, tuple(sorted((d, n) for d, (n, _) in parser.off.items())),
                       tuple(sorted(parser.work.items())))
