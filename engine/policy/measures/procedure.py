"""The measures procedure (measure_supervision): its helper, its operation and its quarterly schedule."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.deadlines.periods import previous_month, previous_quarter
from engine.policy.measures.reports import measure_info, record_report
from engine.runtime.extensions import DefaultSchedule, HelperContext, Procedure
from engine.runtime.helpers import bounded_days
from engine.runtime.operations import Operation, OperationContext, day_param, int_param
from engine.storage.models import Measure

MEASURE_SCHEDULE = "措施进展季度报告"


def _helpers(ctx: HelperContext) -> dict:
    def info(no: int) -> dict:
        return measure_info(ctx.session, bounded_days(no) if str(no).strip().isdigit() else 0)

    return {"measure_info": info}


def _each_measure(session: Session, data: dict, planned: date) -> list[dict]:
    """One report per measure, on the quarter (or month) that just ended."""
    data = dict(data)
    kind = data.pop("period", "quarter")
    start, end = (previous_month if kind == "month" else previous_quarter)(planned)
    numbers = session.scalars(select(Measure.no).order_by(Measure.no))
    return [{**data, "measure_no": no, "period_start": start.isoformat(), "period_end": end.isoformat()}
            for no in numbers]


def _record_measure_report(ctx: OperationContext, params: dict) -> None:
    record_report(ctx.session, int_param(params, "measure_no"), day_param(params, "period_start"),
                  day_param(params, "period_end"), str(params.get("lead_unit") or ""),
                  bool(params.get("lead_is_written")), params.get("progress_report"), params.get("contributions") or [],
                  str(params.get("assessment") or ""), params.get("assessment_comment"),
                  params.get("follow_up_report"), ctx.now)


PROCEDURE = Procedure(
    key="measures", label="措施督办", processes=("measure_supervision",), helpers=_helpers,
    operations=(
        Operation("record_measure_report", "记录措施落实报告与评定",
                  frozenset({"dispatcher", "admin", "liaison", "department_head"}), False,
                  ("measure_no", "period_start", "period_end", "lead_unit", "lead_is_written", "progress_report",
                   "contributions", "assessment", "assessment_comment", "follow_up_report"),
                  _record_measure_report, "无"),
    ),
    # The 1st working day of each quarter: a report per measure on the quarter before, due on its 5th
    # working day.
    schedules=(DefaultSchedule(MEASURE_SCHEDULE, "measure_supervision", "workday:1:1,4,7,10@09:00",
                               {"for_each": "measure", "period": "quarter"}, clause="四（二）"),),
    fan_outs={"measure": _each_measure},
)
