"""The escalation ladder, defined once: 1 预警 → 2 催办 → 3 督办.

Each level is one entry: its number, name, label, colour, moment rule, audience and notification
template, and the figure that counts it. Everything else reads the ladder: the moments (planner), the
firing (escalation), the labels and colours of the pages (rendered into the base template), the
figures, the circular's table and the ledger's columns.

A level's number is what is stored (``human_task.escalation_level``, ``escalation.level``, the audit
action ``escalation_<number>``); levels fire in number order, each once per step and deadline.
Adding a level is one ``Level`` in ``STANDARD``, one template ``notifications/templates/<template>.txt``
(subject on the first line; context: title, business_key, task_name, department, due_local,
days_left, overdue_days, link) and one colour.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from engine.deadlines.workcalendar import WorkCalendar


@dataclass(frozen=True)
class Parameter:
    """A per-task number of working days a moment rule may read: set by the task's BPMN property,
    else the settings' default, and kept on the task's row (so the ladder of a live task never changes)."""

    name: str
    bpmn_property: str
    setting: str  # engine.config.Settings field with the default
    column: str  # engine.storage.models.HumanTask column


PARAMETERS = {p.name: p for p in (
    Parameter("warn_before", "warn_before_working_days", "warn_before_working_days", "warn_before_days"),
    Parameter("supervise_after", "supervise_after_working_days", "supervise_after_working_days",
              "supervise_after_days"),
)}

SIDES = ("before", "due", "after")


@dataclass(frozen=True)
class Moment:
    """When a level falls due, from the task's deadline, N working days away, where N is the task's
    parameter ``days_from`` (if any) plus ``days``:

    - ``before``: at ``hour`` (else the settings' warn_hour) of the N-th working day before the due day;
      none when N is 0 or that moment is not after the task's creation; dropped once the deadline has
      passed (a late warning says nothing: the next level goes instead);
    - ``due``: the deadline itself;
    - ``after``: the end of the N-th working day after the due day (of the due day when N is 0).
    """

    side: str
    days_from: str | None = None
    days: int = 0
    hour: int | None = None

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"moment side {self.side!r} is not one of {SIDES}")
        if self.days_from is not None and self.days_from not in PARAMETERS:
            raise ValueError(f"moment parameter {self.days_from!r} is not one of {sorted(PARAMETERS)}")

    @property
    def stale_after_deadline(self) -> bool:
        return self.side == "before"

    def at(self, due_at: datetime, created_at: datetime, params: dict[str, int], calendar: WorkCalendar,
           tz: ZoneInfo, warn_hour: int) -> datetime | None:
        n = self.days + ((params.get(self.days_from) or 0) if self.days_from else 0)
        due_day = due_at.astimezone(tz).date()
        if self.side == "due":
            return due_at
        if self.side == "before":
            if n <= 0:
                return None
            day = calendar.working_days_before(due_day, n)
            moment = datetime.combine(day, time(self.hour if self.hour is not None else warn_hour), tz)
            moment = moment.astimezone(due_at.tzinfo)
            return moment if moment > created_at else None
        return calendar.end_of_day(calendar.add_working_days(due_day, n) if n > 0 else due_day, tz)


# Who hears of a firing (engine.deadlines.escalation finds the people).
AUDIENCES = {
    "handlers": "承办人员：任务所属单位中担任该步骤角色的人员（单位负责人除外）及已认领人",
    "heads": "任务所属单位的负责人（抄送）",
    "office": "领导小组办公室",
}

_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


@dataclass(frozen=True)
class Colour:
    name: str  # as the legend says it, e.g. 蓝
    mark: str  # a row's left border, a chart's bar
    tint: str  # a row's background

    def __post_init__(self):
        for value in (self.mark, self.tint):
            if not _COLOUR.fullmatch(value):
                raise ValueError(f"colour {value!r} is not #rgb or #rrggbb")


@dataclass(frozen=True)
class Level:
    number: int
    key: str
    label: str
    state: str  # a task once this level has fired, for the legend
    colour: Colour
    moment: Moment
    audience: tuple[str, ...]
    template: str  # notifications/templates/<template>.txt
    figure: str  # its count's id in the figures (kept in stored circulars)
    figure_definition: str
    opens_supervision: bool = False  # opens a 督办 item in the leading-group office's task list

    def __post_init__(self):
        unknown = set(self.audience) - set(AUDIENCES)
        if self.number < 1 or unknown:
            raise ValueError(f"level {self.key}: number must be ≥ 1, audience one of {sorted(AUDIENCES)}")


class Ladder:
    def __init__(self, levels: Iterable[Level]):
        self.levels = tuple(sorted(levels, key=lambda level: level.number))
        for attribute in ("number", "key", "figure", "template"):
            values = [getattr(level, attribute) for level in self.levels]
            if len(set(values)) != len(values):
                raise ValueError(f"two levels of the ladder share a {attribute}: {values}")
        if sum(level.opens_supervision for level in self.levels) != 1:
            raise ValueError("exactly one level of the ladder opens the 督办 item")
        self._by_number = {level.number: level for level in self.levels}

    def level(self, number: int) -> Level | None:
        return self._by_number.get(number)

    def label(self, number: int) -> str:
        level = self._by_number.get(number)
        return level.label if level else ""

    @property
    def supervision(self) -> Level:
        return next(level for level in self.levels if level.opens_supervision)

    def action_labels(self) -> dict[str, str]:
        return {f"escalation_{level.number}": level.label for level in self.levels}

    def with_level(self, level: Level) -> Ladder:
        return Ladder([*self.levels, level])

    def moments(self, due_at: datetime, created_at: datetime, params: dict[str, int], calendar: WorkCalendar,
                tz: ZoneInfo, warn_hour: int = 9) -> dict[int, datetime]:
        """The moment of each level that has one for this deadline."""
        out = {}
        for level in self.levels:
            moment = level.moment.at(due_at, created_at, params, calendar, tz, warn_hour)
            if moment is not None:
                out[level.number] = moment
        return out


def next_moment(moments: dict[int, datetime], level: int) -> datetime | None:
    later = [m for lvl, m in sorted(moments.items()) if lvl > level]
    return later[0] if later else None


_BLUE = Colour("蓝", "#1f6fd1", "#eef5fe")
_YELLOW = Colour("黄", "#d89a00", "#fff8e6")
_RED = Colour("红", "#c9302c", "#fdecea")

STANDARD = Ladder((
    Level(1, "warn", "预警", "已预警", _BLUE, Moment("before", days_from="warn_before"), ("handlers",),
          "escalation_1", "warned", "期内对本单位发出的预警次数"),
    Level(2, "urge", "催办", "已催办（逾期）", _YELLOW, Moment("due"), ("handlers", "heads"),
          "escalation_2", "urged", "期内对本单位发出的催办次数"),
    Level(3, "supervise", "督办", "已督办", _RED, Moment("after", days_from="supervise_after"),
          ("handlers", "heads", "office"), "escalation_3", "supervised", "期内对本单位启动的督办次数",
          opens_supervision=True),
))

_installed: list[Ladder] = [STANDARD]


def current() -> Ladder:
    """The ladder in force (STANDARD, unless a test or an extension installed another)."""
    return _installed[-1]


@contextmanager
def installed(ladder: Ladder) -> Iterator[Ladder]:
    """Put ``ladder`` in force for the block; the one before is back afterwards."""
    _installed.append(ladder)
    try:
        yield ladder
    finally:
        _installed.remove(ladder)

