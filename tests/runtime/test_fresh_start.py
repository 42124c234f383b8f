"""The first dispatch after a restart succeeds even with the machine's CPUs busy: the script workers
and the working calendar are ready before the first request, and helper work in the engine does
not count against a script's CPU limit."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT

FIRST_DISPATCH = textwrap.dedent("""
    import sys, time
    from engine.bootstrap import bootstrap
    from engine.config import Settings
    services = bootstrap(Settings(database_url=sys.argv[1]))
    if sys.argv[2] == "warm":
        services.workflows.warm()  # what `zjtx serve`, `zjtx scheduler` and wsgi.py do at boot
    w = services.workflows
    item = w.start("problem_dispatch", {"enterprise_name": "某某公司", "category": "用地",
                                        "description": "扩建用地不足的问题", "source": "企业"}, actor="dispatcher")
    triage = item["open_tasks"][0]["id"]
    w.complete(triage, {"triage_decision": "accept"}, "dispatcher")
    dispatch = [t for t in services.queries.tasks(instance_id=item["id"]) if t["task"] == "dispatch"][0]["id"]
    started = time.monotonic()
    out = w.complete(dispatch, {"lead_department": "区科技局", "lead_due_working_days": 5,
                                "co_handlers": [{"department": "区人力社保局", "due_working_days": 3}]}, "dispatcher")
    print("ok", len(out["instance"]["open_tasks"]), round(time.monotonic() - started, 2))
""")


@pytest.mark.sqlite_only
@pytest.mark.slow
@pytest.mark.parametrize("boot", ["warm", "cold"])
def test_the_first_dispatch_after_a_fresh_start_under_cpu_load_succeeds(database_url, boot, make_engine):
    make_engine(database_url).close()  # schema, organisation and processes, as `make run` leaves them
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        run = subprocess.run([sys.executable, "-c", FIRST_DISPATCH, database_url, boot], cwd=ROOT,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "ZJTX_LOG_FORMAT": "text"})
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[:2] == ["ok", "2"], run.stdout  # the lead's and the co-handler's sign tasks
