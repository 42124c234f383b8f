"""The several-node load test, short: gunicorn (2 workers) and two scheduler processes on one PostgreSQL
schema of its own, three districts active at once with 3 API clients each for about 16 seconds, one scheduler
killed half-way; every check of the checker must hold (no completion lost or doubled, every due escalation fired
once, every e-mail delivered once, nothing left locked, the survivor took over, every district did its own work)."""
from __future__ import annotations

import os
import uuid

import pytest

from tools.loadtest import Options, print_table, run


@pytest.mark.postgres
@pytest.mark.slow
def test_several_nodes_with_a_scheduler_killed(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI 必须设置 TEST_DATABASE_URL 以运行 PostgreSQL 测试")
        pytest.skip("未设置 TEST_DATABASE_URL，跳过多节点压力测试（需要 PostgreSQL；CI 中会运行）")
    options = Options(seconds=16, clients=3, schema=f"lt_{uuid.uuid4().hex[:12]}", keep_schema=False, lease_seconds=5,
                      due_share=0.3, kill_at=0.5, seed=8, log_dir=tmp_path / "logs", districts=3)
    results = run(options, url, tmp_path / "loadtest-results.json")
    print_table(results, echo=print)

    failed = [f"{c['id']} {c['zh']}：{c['detail']}" for c in results["checks"] if c["status"] == "fail"]
    assert not failed, failed
    assert {c["id"] for c in results["checks"]} >= {"C1", "C2", "C3", "E1", "E2", "N1", "L1", "K1", "H1", "D1"}
    figures = results["figures"]
    assert figures["completions"] > 50
    assert figures["escalations_fired"] > 0 and figures["emails_received"] >= figures["escalations_fired"]
    assert results["kill"]["returncode"] == -9
    assert results["kill"]["survivor"]["escalations_fired_after_kill"] > 0
