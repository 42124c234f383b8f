"""The dashboard: this month so far, with the circular's figure definitions and the ladder's levels."""
from __future__ import annotations

from engine.deadlines import ladder
from engine.policy.dispatch.figures import compute
from engine.policy.supervision.naming import named_in


class Dashboard:
    def __init__(self, db, tz, clock):
        self.db, self.tz, self.clock = db, tz, clock

    def current(self) -> dict:
        today = self.clock().astimezone(self.tz).date()
        with self.db.read() as session:
            figures = compute(session, today.replace(day=1), today, self.tz)
            named = named_in(session, today.replace(day=1), today, self.tz)  # the office's 点名, beside the figures
        levels = [{"number": level.number, "label": level.label, "colour": level.colour.mark,
                   "count": sum(r[level.figure] for r in figures["table"])} for level in ladder.current().levels]
        return {"table": figures["table"], "definitions": figures["definitions"], "levels": levels,
                "escalations": {level["label"]: level["count"] for level in levels},
                "named_for_criticism": figures["named_for_criticism"], "named_by_office": named,
                "month": f"{today.year}年{today.month}月"}
