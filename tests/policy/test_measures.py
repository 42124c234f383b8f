"""Measure supervision: contributions in parallel, the lead consolidates, assessment, lagging follow-up."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from engine.scheduling.scheduler import Scheduler
from engine.storage.models import MeasureReport
from tests.helpers import head, liaison

pytestmark = pytest.mark.sqlite_only
BJ = ZoneInfo("Asia/Shanghai")


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=BJ)


def tasks_of(zjtx, instance_id, bpmn_id):
    return [t for t in zjtx.queries.tasks(instance_id=instance_id) if t["task"] == bpmn_id]


def start(zjtx, no):
    return zjtx.workflows.start("measure_supervision", {"measure_no": no, "period_start": "2026-07-01",
                                                        "period_end": "2026-09-30"}, actor="dispatcher")


def test_responsible_units_report_first_then_the_lead_consolidates(zjtx):
    with time_machine.travel(at("2026-10-08 09:00"), tick=False):
        started = start(zjtx, 2)  # lead 区科技局; responsible 区发展改革委、区经济信息委、区规划自然资源局、正阳工业园区管委会
        contributions = tasks_of(zjtx, started["id"], "contribute")
        assert sorted(t["department"] for t in contributions) == sorted(
            ["区发展改革委", "区经济信息委", "区规划自然资源局", "正阳工业园区管委会"])
        assert not tasks_of(zjtx, started["id"], "consolidate")
        for t in contributions:
            zjtx.workflows.complete(t["id"], {"contribution_text": f"{t['department']}：本季度完成平台建设任务"},
                                    liaison(t["department"]) if t["department"] != "区经济信息委" else
                                    "economy_info_commission_liaison")
        [consolidate] = tasks_of(zjtx, started["id"], "consolidate")
        assert consolidate["department"] == "区科技局"
        # Due on the 5th working day after the quarter: 10-08, 09, 10 (make-up), 12, 13.
        assert consolidate["due_at"].startswith("2026-10-13")
        zjtx.workflows.complete(consolidate["id"], {"progress_report": "本季度新建孵化平台两个，运营良好。"},
                                head("区科技局"))
        [assess] = tasks_of(zjtx, started["id"], "assess")
        zjtx.workflows.complete(assess["id"], {"assessment": "推进中", "assessment_comment": "按计划推进"}, "dispatcher")
    assert zjtx.queries.show(started["id"])["status"] == "completed"
    with zjtx.db.read() as session:
        report = session.scalar(select(MeasureReport).where(MeasureReport.measure_no == 2))
    assert report.assessment == "推进中" and len(report.contributions) == 4 and report.lead_is_written
    assert {c["department"] for c in report.contributions} >= {"区发展改革委", "正阳工业园区管委会"}


def test_a_measure_without_a_lead_is_consolidated_by_its_first_responsible_unit(zjtx):
    started = start(zjtx, 25)  # 25 names responsible units only: 区经济信息委、区商务委、正阳工业园区管委会
    assert sorted(t["department"] for t in tasks_of(zjtx, started["id"], "contribute")) == ["区商务委", "正阳工业园区管委会"]
    assert zjtx.queries.show(started["id"])["data"]["measure"]["lead_is_written"] is False


def test_a_lagging_measure_gets_a_follow_up_with_a_deadline(zjtx):
    started = start(zjtx, 11)  # lead 区经济信息委 only: no contributors
    [consolidate] = tasks_of(zjtx, started["id"], "consolidate")
    zjtx.workflows.complete(consolidate["id"], {"progress_report": "银企对接活动尚未开展。"},
                            "economy_info_commission_liaison")
    [assess] = tasks_of(zjtx, started["id"], "assess")
    from engine.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        zjtx.workflows.complete(assess["id"], {"assessment": "滞后"}, "dispatcher")
    zjtx.workflows.complete(assess["id"], {"assessment": "滞后", "assessment_comment": "未按计划开展",
                                           "follow_up_working_days": 10}, "dispatcher")
    [follow_up] = tasks_of(zjtx, started["id"], "follow_up")
    assert follow_up["due_at"] is not None and follow_up["department"] == "区经济信息委"
    zjtx.workflows.complete(follow_up["id"], {"follow_up_report": "已于十月举办银企对接会一场。"},
                            "economy_info_commission_liaison")
    with zjtx.db.read() as session:
        report = session.scalar(select(MeasureReport).where(MeasureReport.measure_no == 11))
    assert report.assessment == "滞后" and report.follow_up.startswith("已于十月")


def test_the_quarterly_schedule_starts_one_report_per_measure(zjtx):
    with time_machine.travel(at("2026-09-20 10:00"), tick=False) as clock:
        [schedule] = [s for s in zjtx.schedules.list() if s["name"] == "措施进展季度报告"]
        zjtx.schedules.save(schedule["name"], schedule["process"], schedule["rule"], schedule["data"])
        clock.move_to(at("2026-10-08 09:00:01"))  # first working day of October 2026
        counts = Scheduler(zjtx).run_until_idle()
    assert counts["schedules"] == 30
    starts = [t for t in zjtx.queries.tasks(limit=1000) if t["task"] in ("contribute", "consolidate")]
    assert len({t["instance_id"] for t in starts}) == 30
