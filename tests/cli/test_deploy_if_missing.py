"""`make run` deploys the bundled diagrams only where a process has no version yet (zjtx deploy
--if-missing): a designer's newer version is never replaced silently, the difference is reported."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "processes").glob("*.bpmn"))
DISPATCH = ROOT / "processes" / "problem_dispatch.bpmn"


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output + result.stderr
        return result.stdout
    invoke("init-db")
    invoke("seed")
    return invoke


def designers_version(tmp_path: Path) -> Path:
    """The bundled problem_dispatch as a designer changed it (its name), saved elsewhere."""
    edited = tmp_path / "problem_dispatch.bpmn"
    process = '<bpmn:process id="problem_dispatch" name="企业问题交办'
    edited.write_text(DISPATCH.read_text(encoding="utf-8").replace(process + '"', process + '（试行）"'), encoding="utf-8")
    return edited


def latest_versions(database_url) -> dict[str, int]:
    from sqlalchemy import func, select

    from engine.bootstrap import bootstrap
    from engine.config import Settings
    from engine.storage.models import ProcessDefinition, ProcessVersion

    services = bootstrap(Settings(database_url=database_url))
    try:
        with services.db.read() as session:
            return dict(session.execute(select(ProcessDefinition.key, func.max(ProcessVersion.version))
                                        .join(ProcessVersion).group_by(ProcessDefinition.key)).all())
    finally:
        services.close()


def test_the_first_run_deploys_every_bundled_process(run):
    entries = json.loads(run("deploy", "--if-missing", *BUNDLED, "--json"))
    assert {e["process"] for e in entries} >= {"problem_dispatch", "evaluation_circular", "pool_admission"}
    assert all(e["created"] and e["version"] == 1 for e in entries)


def test_a_second_run_keeps_the_designers_newer_version_and_says_so(run, database_url, tmp_path, clock):
    run("deploy", "--if-missing", *BUNDLED)
    assert "新版本 v2" in run("deploy", designers_version(tmp_path), "--as", "designer", "--note", "试行")
    before = latest_versions(database_url)
    out = run("deploy", "--if-missing", *BUNDLED)
    assert ("problem_dispatch：已有设计人员部署的新版本（第 2 版，2026-11-04 10:00 由 designer 部署），未覆盖；"
            "如需使用随附版本请在流程设计页面部署") in out
    assert "evaluation_circular（" in out and "内容未变，沿用 v1" in out  # the others: unchanged, as before
    assert latest_versions(database_url) == before and before["problem_dispatch"] == 2
    assert len(re.findall("未覆盖", out)) == 1


def test_an_explicit_deploy_still_deploys_what_it_is_given(run, database_url, tmp_path):
    run("deploy", "--if-missing", *BUNDLED)
    run("deploy", designers_version(tmp_path), "--as", "designer")
    assert "problem_dispatch（企业问题交办）：新版本 v3" in run("deploy", DISPATCH)
    assert latest_versions(database_url)["problem_dispatch"] == 3


def test_make_run_deploys_only_what_is_missing():
    target = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M | re.S).group(0)
    assert "deploy --if-missing processes/*.bpmn" in target
    assert not re.search(r"deploy (?!--if-missing)", target)
