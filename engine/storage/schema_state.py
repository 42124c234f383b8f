"""Whether the database can be used by this program: its address opens, it answers, and its schema is at
the head revision of the migrations shipped with this program (engine/storage/migrations/versions).

Every `zjtx` command and the web app check this before their first real query, so that a fresh installation,
a database left at an older revision or a wrong DATABASE_URL gives one Chinese sentence saying what to do
instead of a traceback (or, worse, a page that fails at its first request). The check is one query
(``SELECT version_num FROM alembic_version``); the revisions of the scripts are read once per process.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from engine.errors import DatabaseNotReady

if TYPE_CHECKING:
    from engine.storage.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
URL_EXAMPLES = "sqlite:///instance/zjtx.sqlite3 或 postgresql+psycopg://用户:密码@主机:5432/库名"
CHECK_URL = "请检查环境变量 DATABASE_URL"


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(the heads, every revision) of the migration scripts."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(scripts.get_heads()), frozenset(r.revision for r in scripts.walk_revisions())


def head_revisions() -> frozenset[str]:
    """The revision(s) ``zjtx init-db`` brings a database to."""
    return _revisions()[0]


def unusable_url(raw: str, exc: Exception) -> DatabaseNotReady:
    """The error for a DATABASE_URL that cannot even be turned into a database engine."""
    if isinstance(exc, ArgumentError):
        return DatabaseNotReady(f"环境变量 DATABASE_URL 不是有效的数据库地址；应形如 {URL_EXAMPLES}",
                                reason="unusable_url")
    url = make_url(raw)
    if isinstance(exc, NoSuchModuleError | ImportError):
        return DatabaseNotReady(f"环境变量 DATABASE_URL 指定的数据库类型「{url.drivername}」不受支持或未安装驱动："
                                f"请使用 SQLite 或 PostgreSQL（{URL_EXAMPLES}）", reason="unusable_url")
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return DatabaseNotReady(f"无法创建数据库文件 {url.database} 所在的文件夹（{detail}）：{CHECK_URL}",
                            reason="unusable_url")


def unreachable(db: Database, exc: DBAPIError) -> DatabaseNotReady:
    """The error for a database that does not answer (server down, wrong host or password, a file that
    cannot be opened)."""
    lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    detail = f"（{lines[0].strip()}）" if lines else ""
    what = "数据库文件及其所在的文件夹是否可读写" if db.dialect == "sqlite" else "数据库服务是否在运行、用户名和密码是否正确"
    return DatabaseNotReady(f"无法连接数据库 {_shown(db)}{detail}：{CHECK_URL}，以及{what}", reason="unreachable")


def require_reachable(db: Database) -> None:
    """Raise :class:`DatabaseNotReady` unless the database answers (for ``init-db``, which makes the schema)."""
    try:
        db.ping()
    except DBAPIError as exc:
        raise unreachable(db, exc) from None


def require_current(db: Database) -> None:
    """Raise :class:`DatabaseNotReady` unless the database answers and is at the head revision."""
    try:
        stamped = db.lookup(_stamped_revisions)
    except DBAPIError as exc:
        raise unreachable(db, exc) from None
    heads, known = _revisions()
    if not stamped:  # no alembic_version table, or an empty one
        raise DatabaseNotReady(f"数据库尚未初始化（{_shown(db)} 中还没有本系统的数据表）：请先运行 zjtx init-db 建表，"
                               f"再运行 zjtx seed 写入部门和措施；如果连错了数据库，{CHECK_URL}",
                               reason="not_initialised", required=_listed(heads))
    if stamped == heads:
        return
    if stamped <= known:
        raise DatabaseNotReady(f"数据库结构版本过旧（当前 {_listed(stamped)}，需要 {_listed(heads)}）：请先备份数据库，"
                               f"再运行 zjtx init-db 升级（已有数据保留）", reason="outdated",
                               current=_listed(stamped), required=_listed(heads))
    raise DatabaseNotReady(f"数据库结构版本 {_listed(stamped)} 不是本程序所知的版本（本程序需要 {_listed(heads)}）："
                           f"数据库可能已被更新版本的程序升级，请使用与之相同或更新的版本", reason="unknown_revision",
                           current=_listed(stamped), required=_listed(heads))


def _stamped_revisions(conn: Connection) -> frozenset[str] | None:
    """The revisions the database is stamped with; None when it has no alembic_version table."""
    try:
        return frozenset(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    except DBAPIError:
        conn.rollback()
        if inspect(conn).has_table("alembic_version"):
            raise  # there, but unreadable (permissions …): reported as a database that cannot be used
        return None


def _shown(db: Database) -> str:
    return db.url.render_as_string(hide_password=True)


def _listed(revisions: frozenset[str]) -> str:
    return "、".join(sorted(revisions)) or "无"
