"""`zjtx demo` on a fresh database shows every feature: steps escalated to each level of the ladder, a
督办 item, a published circular, an admission in 公示, measure reports, a 挂牌督办, a paused step, this
quarter's 联席会议 with its agenda; a second run adds nothing."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import main
from engine.config import PROCESSES_DIR

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output + result.stderr
        return result.stdout
    return invoke


def facts(database_url) -> dict:
    from engine.bootstrap import bootstrap
    from engine.config import Settings
    from engine.storage.models import (
        Circular,
        HumanTask,
        JointMeeting,
        ListedSupervision,
        MeasureReport,
        ProcessInstance,
        TaskPause,
    )

    services = bootstrap(Settings(database_url=database_url))
    try:
        with services.db.read() as session:
            open_steps = session.scalars(select(HumanTask).where(HumanTask.kind != "supervision",
                                                                 HumanTask.status.in_(("ready", "in_progress")))).all()
            return {
                "instances": session.scalar(select(func.count(ProcessInstance.id))),
                "levels": sorted({t.escalation_level for t in open_steps if t.escalation_level}),
                "overdue": sum(1 for t in open_steps if t.due_at and t.due_at < datetime.now(UTC)),
                "supervision_items": session.scalar(select(func.count(HumanTask.id))
                                                    .where(HumanTask.kind == "supervision")),
                "published": session.scalar(select(func.count(Circular.id)).where(Circular.status == "published")),
                "in_notice": [services.queries.show(i)["item_status"] for i in session.scalars(
                    select(ProcessInstance.id).where(ProcessInstance.business_key.is_not(None)))].count("公示中"),
                "reports": sorted(session.scalars(select(MeasureReport.assessment))),
                "listings": [(x.status, x.colour, x.number is not None, x.instruction is not None)
                             for x in session.scalars(select(ListedSupervision))],
                "pauses": [(p.reason, p.resumed_at) for p in session.scalars(select(TaskPause))],
                "meetings": [(m.status, bool(m.agenda)) for m in session.scalars(select(JointMeeting))],
                "preparing": [t.bpmn_id for t in open_steps if t.bpmn_id == "prepare_agenda"],
                **_other_districts(services),
            }
    finally:
        services.close()


def _other_districts(services) -> dict:
    """重庆市本级 and 彭水县 with the latter's items (its own units) and its one escalation to the city."""
    from engine.storage import district
    from engine.storage.models import District, HumanTask, ItemLink, ProcessInstance

    with district.across(), services.db.read() as session:
        codes = {d.code: d.id for d in session.scalars(select(District))}
        by_district = dict(session.execute(select(ProcessInstance.district_id, func.count(ProcessInstance.id))
                                           .group_by(ProcessInstance.district_id)).all())
        escalated = session.scalars(select(ItemLink.external_ref).where(ItemLink.district_id == codes.get("500000"),
                                                                         ItemLink.external_source == "区县提请")).all()
        county_units = set(session.scalars(select(HumanTask.department_id).where(
            HumanTask.district_id == codes.get("500243"))))
    return {"districts": sorted(codes), "pengshui_items": by_district.get(codes.get("500243")),
            "escalated": [ref.split("-")[0] for ref in escalated], "county_units": len(county_units)}


@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 4, 2, 0, tzinfo=UTC),  # a Wednesday morning in Beijing
    datetime(2026, 11, 6, 16, 30, tzinfo=UTC),  # Saturday 00:30 in Beijing
])
def test_the_demo_shows_every_feature_once(run, database_url, clock, moment):
    clock.move_to(moment)
    run("init-db")
    run("seed")
    run("deploy", "--if-missing", *sorted(PROCESSES_DIR.glob("*.bpmn")))
    assert "已写入" in run("demo")
    found = facts(database_url)
    assert found["levels"] == [1, 2, 3]  # 预警, 催办, 督办
    assert found["overdue"] >= 2 and found["supervision_items"] >= 1
    assert found["published"] == 1 and found["in_notice"] == 1
    assert found["reports"] == ["推进中", "滞后"]
    assert found["listings"] == [("active", "黄", True, True)]  # 挂牌督办: the 批示 written, the 督办函 issued
    assert found["pauses"] == [("等待企业补充提供项目用地红线图", None)]  # a step paused (挂起) now
    assert found["preparing"] == ["prepare_agenda"] and [m[1] for m in found["meetings"]] == [True]  # its agenda
    assert found["districts"] == ["500000", "500114", "500243"] and found["pengshui_items"] == 3
    assert found["escalated"] == ["500243"] and found["county_units"] >= 3  # 交办员's, 县科技局, 县商务委
    assert "未写入演示数据" in run("demo")
    assert facts(database_url) == found
