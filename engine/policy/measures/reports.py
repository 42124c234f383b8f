"""The 30 measures' supervision: who reports, and the reports and assessments kept per period."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import WorkflowFailed
from engine.identity.org import DepartmentDirectory
from engine.storage.models import Measure, MeasureReport

ASSESSMENTS = ("已完成", "推进中", "滞后")


def measure_info(session: Session, no: int) -> dict:
    """The measure's reporting units (canonical names). Measures 25 and 28 name no lead unit: the
    first responsible unit consolidates, and the record says so (``lead_is_written`` false)."""
    measure = session.get(Measure, no)
    if measure is None:
        raise WorkflowFailed(f"措施 {no} 不存在")
    directory = DepartmentDirectory.of(session)
    lead = [directory.name_of(u.department_id) for u in measure.units if u.kind == "lead"]
    responsible = [directory.name_of(u.department_id) for u in measure.units if u.kind == "responsible"]
    lead_unit = lead[0] if lead else responsible[0]
    contributors = [u for u in dict.fromkeys(lead[1:] + responsible) if u != lead_unit]
    return {"no": no, "title": measure.title, "lead_unit": lead_unit, "lead_is_written": bool(lead),
            "co_leads": lead[1:], "contributors": contributors}


def record_report(session: Session, no: int, start: date, end: date, lead: str, lead_is_written: bool,
                  report: str | None, contributions: list, assessment: str | None, comment: str | None,
                  follow_up: str | None, now: datetime) -> None:
    row = session.scalar(select(MeasureReport).where(MeasureReport.measure_no == no,
                                                     MeasureReport.period_start == start))
    if row is None:
        row = MeasureReport(measure_no=no, period_start=start, period_end=end)
        session.add(row)
    row.lead_department, row.lead_is_written = lead, lead_is_written
    row.report, row.contributions = report, list(contributions or [])
    row.assessment, row.assessment_comment, row.follow_up = assessment, comment, follow_up
    row.updated_at = now
    session.flush()


def latest_status(session: Session, as_of: date) -> dict[int, dict]:
    """Each measure's latest assessment up to ``as_of``."""
    out: dict[int, dict] = {}
    for row in session.scalars(select(MeasureReport).where(MeasureReport.period_end <= as_of)
                               .order_by(MeasureReport.period_end)):
        out[row.measure_no] = {"assessment": row.assessment, "comment": row.assessment_comment,
                               "period_end": row.period_end.isoformat(), "lead": row.lead_department,
                               "lead_is_written": row.lead_is_written}
    return out
