"""Every `zjtx` command on a database it cannot use — a fresh installation's empty file, a database left at an
older schema revision, a database that does not answer — says so in Chinese, says what to run, and exits 1;
never a traceback, and `serve`, `scheduler` and the WSGI app refuse to start. A new command fails
test_every_command_has_a_case until it has arguments in ARGS or a reason in EXEMPT.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import event

from engine.cli import main
from engine.storage import schema, schema_state
from engine.storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
BPMN = str(ROOT / "processes" / "problem_dispatch.bpmn")
_SCRIPTS = ScriptDirectory(str(ROOT / "engine" / "storage" / "migrations"))
HEAD = _SCRIPTS.get_current_head()
OLD = [r.revision for r in _SCRIPTS.walk_revisions()][2]  # two migrations behind, as after an update of the code

# Arguments that take each command past click's own checks (and the files it parses itself) to its first use
# of the database; "{dir}" is the test's folder, where _files() writes the files named here.
ARGS: dict[str, list[str]] = {
    "assessment": ["--year", "2026", "--out", "{dir}/kaohe.xlsx"],
    "bench": ["--sizes", "10", "--repeat", "3", "--p4-tasks", "1", "--p6-seconds", "0.1", "--p7-seconds", "0",
              "--output", "{dir}/bench.json"],
    "calendar add-working-days": ["2026-09-29", "3"],
    "calendar import": ["{dir}/notice.json"],
    "calendar is-workday": ["2026-09-29"],
    "calendar set": ["2026-12-31", "holiday"],
    "calendar clear": ["2026-12-31"],
    "calendar status": [],
    "clauses": ["--json"],
    "complete": ["1", "--as", "dispatcher", "--data", "{}"],
    "create-admin": ["boss"],
    "demo": [],
    "departments": [],
    "district create": ["500243", "彭水县", "--demo-prefix", "ps_"],
    "district list": [],
    "district-settings": ["--json"],
    "deploy": [BPMN],
    "enterprises export": ["{dir}/out.xlsx"],
    "enterprises guidance-refresh": [],
    "enterprises import": ["{dir}/enterprises.xlsx"],
    "enterprises tech-import": ["{dir}/enterprises.xlsx", "--as", "science_tech_bureau_liaison"],
    "listed-supervision show": ["1"],
    "listed-supervision start": ["1", "--as", "office", "--reason", "久拖未决", "--colour", "黄", "--deadline", "2026-12-31"],
    "measures": ["--json"],
    "notify-pref": ["dispatcher", "email", "off"],
    "outbox list": [],
    "outbox retry": ["1"],
    "pause": ["1", "--as", "dispatcher", "--reason", "等待企业补充材料"],
    "resume": ["1", "--as", "dispatcher"],
    "schedule list": [],
    "schedule set": ["月度通报", "evaluation_circular", "workday:3"],
    "scheduler": ["--until-idle"],
    "seed": ["--no-demo-users"],
    "serve": ["--no-scheduler", "--port", "{port}"],  # in a subprocess: were the check gone, it would serve
    "show": ["QJ-1"],
    "start": ["problem_dispatch", "--data", "{}"],
    "tasks": [],
    "token": ["admin", "脚本"],
    "validate": [BPMN],
    "webhook add": ["工作群", "https://example.invalid/hook"],
    "webhook list": [],
}
# Commands that need no current schema, and why (the tests below run each but loadtest).
EXEMPT = {
    "init-db": "makes or upgrades the schema: needs only a database that answers",
    "secret-key": "writes the session key file; opens no database",
    "eligibility": "reads the decision tables in processes/; opens no database",
    "loadtest": "not run here: prepares its own database from --database-url (runs init-db) and starts gunicorn",
}
NOTICE = {"year": 2027, "source": "测试", "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}]}
ENTERPRISE = {"as_of": "2026-06-30", "registered_on": "2020-03-15", "in_district": True,
              "independent_legal_person": True, "industry": "工业", "employees": 180, "sector": "工业",
              "years": {"2023": {"revenue": 18_000_000, "net_profit": 1_200_000},
                        "2024": {"revenue": 21_000_000, "net_profit": 1_300_000},
                        "2025": {"revenue": 26_000_000, "rd_expense": 780_000, "net_profit": 1_500_000,
                                 "total_assets": 40_000_000, "total_liabilities": 22_000_000}}}
STATES = ("empty", "outdated", "unreachable")
EXPECTED = {
    "empty": ("错误：数据库尚未初始化", "请先运行 zjtx init-db"),
    "outdated": (f"错误：数据库结构版本过旧（当前 {OLD}，需要 {HEAD}）", "再运行 zjtx init-db 升级"),
    "unreachable": ("错误：无法连接数据库", "Connection refused", "请检查环境变量 DATABASE_URL"),
}


def _commands(group: click.Group = main, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield prefix + name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refusing_url() -> str:
    """A PostgreSQL address where nothing listens (the port was free a moment ago)."""
    return f"postgresql+psycopg://zjtx:geheim@127.0.0.1:{_free_port()}/zjtx"


@pytest.fixture(scope="module")
def outdated_file(tmp_path_factory) -> Path:
    """A SQLite database made by the migrations up to OLD, as an installation that has not run init-db since."""
    path = tmp_path_factory.mktemp("outdated") / "zjtx.sqlite3"
    db = Database(f"sqlite:///{path}")
    schema.upgrade(db, OLD)
    db.dispose()  # the last connection checkpoints the WAL into the file, which the tests copy
    return path


@pytest.fixture
def url_of(tmp_path, outdated_file):
    """``url_of(state)``: DATABASE_URL for a database in that state, the test's own."""
    def make(state: str) -> str:
        path = tmp_path / "zjtx.sqlite3"
        if state == "empty":
            path.touch()
        elif state == "outdated":
            path.write_bytes(outdated_file.read_bytes())
        else:
            return _refusing_url()
        return f"sqlite:///{path}"
    return make


def _files(folder: Path) -> None:
    (folder / "notice.json").write_text(json.dumps(NOTICE, ensure_ascii=False), encoding="utf-8")
    (folder / "enterprise.json").write_text(json.dumps(ENTERPRISE, ensure_ascii=False), encoding="utf-8")
    (folder / "enterprises.xlsx").write_bytes(b"")


def _args(command: str, folder: Path) -> list[str]:
    _files(folder)
    values = {"dir": str(folder), "port": str(_free_port())}
    return [*command.split(), *(a.format(**values) if "{" in a and a != "{}" else a for a in ARGS[command])]


def _zjtx(args: list[str], url: str, monkeypatch) -> tuple[int, str]:
    """Run `zjtx` in this process; an exception that escaped the group's handling fails the test."""
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def _zjtx_process(args: list[str], url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def _stamped(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_every_command_has_a_case():
    commands = set(_commands())
    assert commands - set(ARGS) - set(EXEMPT) == set(), "new command: add its arguments to ARGS or a reason to EXEMPT"
    assert set(ARGS) | set(EXEMPT) <= commands, "ARGS/EXEMPT name a command that no longer exists"
    assert not set(ARGS) & set(EXEMPT)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("command", sorted(set(ARGS) - {"serve"}))
def test_a_command_on_a_database_it_cannot_use_says_what_to_do(command, state, url_of, tmp_path, monkeypatch):
    url = url_of(state)
    code, output = _zjtx(_args(command, tmp_path), url, monkeypatch)
    assert code == 1, output
    for part in EXPECTED[state]:
        assert part in output
    assert "Traceback" not in output and "geheim" not in output
    if state == "outdated":  # nothing was written, the revision least of all
        assert _stamped(Path(url.removeprefix("sqlite:///"))) == [OLD]


@pytest.mark.parametrize("state", STATES)
def test_serve_refuses_to_start(state, url_of, tmp_path):
    result = _zjtx_process(_args("serve", tmp_path), url_of(state))
    assert result.returncode == 1, result.stdout + result.stderr
    for part in EXPECTED[state]:
        assert part in result.stderr
    assert "Traceback" not in result.stderr and "服务地址" not in result.stdout


def test_the_web_app_refuses_to_start_on_an_uninitialised_database(url_of):
    env = {**os.environ, "DATABASE_URL": url_of("empty")}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "无法启动：数据库尚未初始化" in result.stderr and "zjtx init-db" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("state", STATES)
def test_commands_that_need_no_schema_still_run(state, url_of, tmp_path, monkeypatch):
    url = url_of(state)
    _files(tmp_path)
    code, output = _zjtx(["eligibility", str(tmp_path / "enterprise.json")], url, monkeypatch)
    assert code == 0 and "结论：符合培育入库条件" in output
    code, output = _zjtx(["secret-key", "--path", str(tmp_path / "secret_key")], url, monkeypatch)
    assert code == 0 and (tmp_path / "secret_key").is_file()
    assert _zjtx(["--help"], url, monkeypatch)[0] == 0
    assert _zjtx(["measures", "--help"], url, monkeypatch)[0] == 0


@pytest.mark.parametrize("state", ["empty", "outdated"])
def test_the_fix_the_message_names_works(state, url_of, monkeypatch):
    url = url_of(state)
    code, output = _zjtx(["init-db"], url, monkeypatch)
    assert code == 0 and "数据库已就绪" in output, output
    assert _stamped(Path(url.removeprefix("sqlite:///"))) == [HEAD]
    assert _zjtx(["seed", "--no-demo-users"], url, monkeypatch)[0] == 0
    code, output = _zjtx(["measures", "--json"], url, monkeypatch)
    assert code == 0 and [m["no"] for m in json.loads(output)] == list(range(1, 31))


def test_init_db_on_a_database_that_does_not_answer(monkeypatch):
    code, output = _zjtx(["init-db"], _refusing_url(), monkeypatch)
    assert code == 1 and "错误：无法连接数据库 postgresql+psycopg://zjtx:***@127.0.0.1" in output
    assert "DATABASE_URL" in output and "Traceback" not in output and "geheim" not in output


def test_a_database_stamped_by_a_newer_program(url_of, monkeypatch):
    url = url_of("outdated")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    code, output = _zjtx(["tasks"], url, monkeypatch)
    assert code == 1 and f"数据库结构版本 9999 不是本程序所知的版本（本程序需要 {HEAD}）" in output


@pytest.mark.parametrize(("url", "expected"), [
    ("nonsense", "环境变量 DATABASE_URL 不是有效的数据库地址"),
    ("mysql://zjtx:geheim@db.example/zjtx", "DATABASE_URL 指定的数据库类型「mysql」不受支持"),
    ("sqlite:////proc/zjtx-test.sqlite3", "无法连接数据库 sqlite:////proc/zjtx-test.sqlite3（unable to open database file）"),
    ("sqlite:///{file}/zjtx.sqlite3", "所在的文件夹"),  # its folder's place is taken by a file
])
def test_a_database_address_that_cannot_be_opened(url, expected, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    for command in (["measures"], ["init-db"]):
        code, output = _zjtx(command, url.format(file=tmp_path / "file"), monkeypatch)
        assert code == 1 and expected in output and "DATABASE_URL" in output, output
        assert "Traceback" not in output and "geheim" not in output


def test_a_current_database_runs_commands_normally(url_of, monkeypatch):
    url = url_of("empty")
    assert _zjtx(["init-db"], url, monkeypatch)[0] == 0
    assert _zjtx(["seed", "--no-demo-users"], url, monkeypatch)[0] == 0
    code, output = _zjtx(["departments", "--json"], url, monkeypatch)
    assert code == 0 and "区经济信息委" in {d["name"] for d in json.loads(output)}
    code, output = _zjtx(["calendar", "is-workday", "2026-10-08"], url, monkeypatch)
    assert (code, output.strip()) == (0, "true")


def test_a_damaged_database_gives_a_message_not_a_traceback(url_of, monkeypatch):
    url = url_of("empty")
    assert _zjtx(["init-db"], url, monkeypatch)[0] == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TABLE measure")
    code, output = _zjtx(["measures"], url, monkeypatch)
    assert code == 1 and "错误：数据库操作失败（no such table: measure）" in output
    assert "DATABASE_URL" in output and "Traceback" not in output


def test_the_check_is_one_query(url_of):
    db = Database(url_of("empty"))
    schema.upgrade(db)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    schema_state.require_current(db)
    db.dispose()
    assert [s for s in statements if s != "BEGIN"] == ["SELECT version_num FROM alembic_version"]


@pytest.mark.postgres
def test_postgresql_uninitialised_then_outdated(database_url, monkeypatch):
    code, output = _zjtx(["tasks"], database_url, monkeypatch)
    assert code == 1 and "错误：数据库尚未初始化" in output and "Traceback" not in output
    db = Database(database_url)
    schema.upgrade(db, OLD)
    db.dispose()
    code, output = _zjtx(["tasks"], database_url, monkeypatch)
    assert code == 1 and f"错误：数据库结构版本过旧（当前 {OLD}，需要 {HEAD}）" in output
    assert _zjtx(["init-db"], database_url, monkeypatch)[0] == 0
    assert _zjtx(["tasks"], database_url, monkeypatch)[0] == 0
