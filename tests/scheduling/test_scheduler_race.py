"""Two real scheduler processes on one database never escalate a task or fire a timer twice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from engine.storage.models import AuditRecord, Escalation, HumanTask
from tests.helpers import Item, deploy_timed

ROOT = Path(__file__).resolve().parents[2]
ITEMS, TIMED = 12, 10


@pytest.mark.slow
def test_two_scheduler_processes_racing_do_everything_exactly_once(zjtx, database_url):
    deploy_timed(zjtx)
    with time_machine.travel(datetime(2026, 9, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        for _ in range(ITEMS):
            item = Item(zjtx)
            item.accept()
            item.dispatch("区科技局", days=3, co={"区财政局": 2})  # two sign tasks, due 09-02
        timed = [zjtx.workflows.start("timed", {}, actor="admin")["id"] for _ in range(TIMED)]
    # Back in the present, everything above is long overdue: 催办 and 督办 for each sign task,
    # and every timer.
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "engine.cli", "scheduler", "--until-idle"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    counts = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    sign_tasks = 2 * ITEMS
    assert sum(c["escalations"] for c in counts) == 2 * sign_tasks
    assert sum(c["timers"] for c in counts) == TIMED
    with zjtx.db.read() as session:
        fired = session.execute(select(Escalation.task_id, Escalation.level)).all()
        assert len(fired) == len(set(fired)) == 2 * sign_tasks
        assert {level for _, level in fired} == {2, 3}
        supervision = session.scalar(select(func.count(HumanTask.id)).where(HumanTask.kind == "supervision"))
        assert supervision == sign_tasks
        timer_runs = session.execute(select(AuditRecord.instance_id, func.count(AuditRecord.id))
                                     .where(AuditRecord.action == "timer_fired")
                                     .group_by(AuditRecord.instance_id)).all()
        assert sorted(timer_runs) == sorted((i, 1) for i in timed)
        escalation_audits = session.scalar(select(func.count(AuditRecord.id))
                                           .where(AuditRecord.action.like("escalation_%")))
        assert escalation_audits == 2 * sign_tasks
