"""The working-day calendar as a service: reading it, and an administrator's overrides and imports.

Each method is one transaction; changes are for administrators, checked here, and audited in the
transaction of the change.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine import localtime
from engine.deadlines.calendar_store import StoredDay, clear_day, import_arrangement, list_days, load_calendar, set_day
from engine.deadlines.workcalendar import Arrangement, ArrangementError, parse_arrangement
from engine.errors import PermissionDenied
from engine.identity import districts
from engine.identity.authz import Actor
from engine.identity.service import require_admin
from engine.storage import district
from engine.storage.models import AuditRecord


class CalendarService:
    def __init__(self, db, clock: Callable[[], datetime], tz: ZoneInfo):
        self.db = db
        self.clock = clock
        self.tz = tz

    def today(self) -> date:
        """Today in the users' zone (see engine.localtime)."""
        return localtime.today(self.clock, self.tz)

    def unconfirmed_years(self, ahead: int = 1) -> list[int]:
        """This year and the next ``ahead`` whose official holiday notice has not been imported."""
        with self.db.read() as session:
            return load_calendar(session).unconfirmed_years(self.today(), ahead=ahead)

    def add_working_days(self, start: date, days: int) -> dict:
        """The date ``days`` working days after ``start``, and whether its year's notice is in."""
        with self.db.read() as session:
            calendar = load_calendar(session)
        due = calendar.add_working_days(start, days)
        return {"start": start.isoformat(), "days": days, "due": due.isoformat(),
                "confirmed": calendar.is_confirmed(due.year)}

    def days(self, actor: Actor, limit: int = 200) -> list[StoredDay]:
        """The stored days (the district's own and the national ones), newest first."""
        require_admin(actor, "管理工作日历")
        with self.db.read() as session:
            return list_days(session, limit)

    def set_day(self, actor: Actor, day: date, workday: bool, name: str | None) -> None:
        """An administrator's change of one day, for the administrator's district only."""
        require_admin(actor, "管理工作日历")
        with self.db.write() as session:
            set_day(session, day, workday, name, actor.username)
            session.add(AuditRecord(action="calendar_day_set", actor=actor.username, at=self.clock(),
                                    data={"day": day.isoformat(), "workday": workday, "name": name}))

    def clear_day(self, actor: Actor, day: date) -> bool:
        """Undo the district's own change of a day: the national calendar applies to it again."""
        require_admin(actor, "管理工作日历")
        with self.db.write() as session:
            cleared = clear_day(session, day)
            if cleared:
                session.add(AuditRecord(action="calendar_day_cleared", actor=actor.username, at=self.clock(),
                                        data={"day": day.isoformat()}))
        return cleared

    def may_import(self, actor: Actor) -> bool:
        """Whether ``actor`` may import the national arrangement, which every district shares: an administrator of
        the city (重庆市本级) where the deployment has it, else of the one district it serves."""
        if actor.is_system:
            return True
        if not actor.is_admin:
            return False
        city = districts.city_id(self.db)
        return city is None or (actor.district_id or district.current()) == city

    def import_notice(self, actor: Actor, content: bytes, filename: str | None) -> Arrangement:
        """Import a year's holiday arrangement (JSON, see the README); ArrangementError lists what is wrong."""
        require_admin(actor, "管理工作日历")
        if not self.may_import(actor):
            raise PermissionDenied("国务院节假日安排全市共用，由重庆市本级管理员导入；本区县的调休请用“调整某一天”")
        try:
            data = json.loads(content.decode("utf-8"))
            arrangement = parse_arrangement(data)
        except ArrangementError:
            raise
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArrangementError([f"文件不是有效的 JSON：{exc}"]) from exc
        source = (data.get("source") if isinstance(data, dict) else None) or filename or "上传文件"
        with self.db.write() as session:
            count = import_arrangement(session, arrangement, source, actor.username)
            session.add(AuditRecord(action="calendar_imported", actor=actor.username, at=self.clock(),
                                    data={"year": arrangement.year, "source": source[:200], "days": count}))
        return arrangement
