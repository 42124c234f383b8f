"""全市: the city's view across districts for 市经济信息委 (issue 20, docs/districts.md).

The city is a district of the deployment too (重庆市, kind 市, division code 500000): its own units and staff. Its
central roles (交办员, 领导小组办公室, administrators) see every district side by side: for a period, each district's
figures as that district's circular computes them (:func:`engine.policy.dispatch.figures.compute`, the same pass
and definitions), its goals as at the period's end, and the items it has escalated to the city (市区联动).

Each district is read in its own scope (its own transaction; on PostgreSQL its own row-level security setting),
read-only; nothing here writes.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.errors import PermissionDenied
from engine.identity.authz import Actor
from engine.identity.districts import CITY_KIND
from engine.policy.dispatch.figures import RATE_PARTS, RATES, _rate, compute, figure_list
from engine.policy.pool.goals import goals_in
from engine.storage import district
from engine.storage.models import District

# The figures of the side-by-side table, in the circular's order (rates recomputed from the districts' sums).
TOTALS = ("received", "due", "closed", "closed_on_time", "on_time_rate", "overdue_now", "returns",
          "extension_requests", "not_visited", "pauses")


KNOWN_SECONDS = 30.0  # districts are created a few times a year: their names and kinds are kept this long


class CityView:
    def __init__(self, db, tz: ZoneInfo, clock: Callable[[], datetime]):
        self.db = db
        self.tz = tz
        self.clock = clock
        self._known: tuple[dict[int, tuple[str, str, str, bool]], float] | None = None
        # 市区联动: the city's escalated items still open, by the asking district's code (engine.bootstrap sets it)
        self.escalations: Callable[[], Counter] = Counter

    def _districts(self) -> dict[int, tuple[str, str, str, bool]]:
        """id → (code, name, kind, active), read again every ``KNOWN_SECONDS`` (every page's header asks)."""
        held = self._known
        if held is None or time.monotonic() - held[1] > KNOWN_SECONDS:
            with district.across(), self.db.read() as session:
                rows = {i: (c, n, k, a) for i, c, n, k, a in session.execute(
                    select(District.id, District.code, District.name, District.kind, District.active))}
            held = self._known = (rows, time.monotonic())
        return held[0]

    def name_of(self, district_id: int | None) -> str | None:
        known = self._districts().get(district_id or district.home())
        return known[1] if known else None

    def is_city(self, actor: Actor | None) -> bool:
        """A central role of the city's own district (市经济信息委): the only ones who see across districts."""
        if actor is None or actor.is_system or not actor.sees_all or actor.district_id is None:
            return False
        known = self._districts().get(actor.district_id)
        return known is not None and known[2] == CITY_KIND

    def require(self, actor: Actor | None) -> None:
        if not self.is_city(actor):
            raise PermissionDenied("全市情况仅供市经济信息委查看")

    def districts(self) -> list[tuple[int, str, str]]:
        """(id, code, name) of the active districts, the city itself aside, by division code."""
        return sorted(((i, c, n) for i, (c, n, k, active) in self._districts().items() if active and k != CITY_KIND),
                      key=lambda row: row[1])

    def overview(self, actor: Actor, start: date, end: date) -> dict:
        """Each district's figures for the period (as its circular), its goals at the period's end, its
        escalations to the city; and the definitions of the figures shown."""
        self.require(actor)
        rows = [self.of_district(district_id, code, name, start, end)
                for district_id, code, name in self.districts()]
        escalated = self.escalations()
        for row in rows:
            row["escalated_open"] = escalated.get(row["code"], 0)
        labels = {f.id: f.label for f in figure_list()}
        definitions = {f.id: f.definition for f in figure_list()}
        return {"period": (start, end), "districts": rows,
                "totals": [{"id": t, "label": labels[t], "definition": definitions[t]} for t in TOTALS if t in labels]}

    def of_district(self, district_id: int, code: str, name: str, start: date, end: date) -> dict:
        with district.scope(district_id), self.db.read() as session:
            figures = compute(session, start, end, self.tz)
            goals = goals_in(session, end, self.tz)
        return {"id": district_id, "code": code, "name": name, "table": figures["table"],
                "named_for_criticism": figures["named_for_criticism"], "totals": totals(figures["table"]),
                "goals": goals}


def totals(table: list[dict]) -> dict:
    """A district's sums over its units' rows; each rate from the sums of its parts (not an average of rates)."""
    counted = [f.id for f in figure_list() if f.id not in RATES]
    summed: dict = {k: sum(int(row.get(k) or 0) for row in table) for k in counted}
    for rate, (part, whole) in RATE_PARTS.items():
        if part in summed and whole in summed:
            summed[rate] = _rate(summed[part], summed[whole])
    return summed
