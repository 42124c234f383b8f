"""``zjtx``: the administrators' command line.

``--json`` output is stable (documented in README.md) and meant for scripts. Errors go to
stderr in Chinese with exit status 1; usage errors exit with 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from engine.bootstrap import Services, bootstrap
from engine.errors import DeploymentError, EngineError, ValidationFailed
from engine.storage import district, schema_state

# Commands that use the services without the schema being at this program's revision: init-db makes or
# upgrades it (so it only needs a database that answers); eligibility reads the decision tables on disk and
# opens no database. (secret-key, loadtest and bench --fresh do not get their database from _services.)
CREATES_SCHEMA = frozenset({"init-db"})
NEEDS_NO_DATABASE = frozenset({"eligibility"})


def _services(ctx: click.Context) -> Services:
    """The services, bootstrapped once per command; first, unless the command is exempt (above), the check
    that the database answers and its schema is current (a Chinese error telling what to run otherwise)."""
    if ctx.obj is None:
        ctx.obj = bootstrap()
        ctx.call_on_close(ctx.obj.close)
        command = _command_path(ctx)
        if command in CREATES_SCHEMA:
            schema_state.require_reachable(ctx.obj.db)
        elif command not in NEEDS_NO_DATABASE:
            schema_state.require_current(ctx.obj.db)
            _work_in(ctx, ctx.obj, ctx.meta.get("district_code"))
    return ctx.obj


def _work_in(ctx: click.Context, services: Services, code: str | None) -> None:
    """Everything the command does is work of its district (--district / ZJTX_DISTRICT), until it ends."""
    if not code:
        return
    found = [d for d in services.districts() if d.code == code.strip()]
    if not found:
        known = "、".join(f"{d.code} {d.name}" for d in services.districts())
        raise EngineError(f"没有区划代码为 {code} 的区县（已有：{known}；zjtx district list 可查看）")
    ctx.with_resource(district.scope(found[0].id))


def _command_path(ctx: click.Context) -> str:
    """The command as typed after ``zjtx``, e.g. ``calendar status``."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.command.name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def _print_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _parse_data(raw: str | None) -> dict:
    if raw is None:
        return {}
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        if not path.is_file():
            raise click.BadParameter(f"文件 {path} 不存在", param_hint="--data")
        text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"不是有效的 JSON：{exc}", param_hint="--data") from None
    if not isinstance(value, dict):
        raise click.BadParameter("必须是 JSON 对象，如 '{\"字段\": \"值\"}'", param_hint="--data")
    return value


class _Group(click.Group):
    """Turns engine errors into a Chinese message on stderr and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ValidationFailed as exc:
            click.echo(f"错误：{exc.message.split('：')[0]}", err=True)
            for field, message in exc.errors.items():
                click.echo(f"  - {field}：{message}", err=True)
            sys.exit(1)
        except DeploymentError as exc:
            click.echo("错误：流程文件无法部署", err=True)
            for problem in exc.problems:
                click.echo(f"  - {problem['message']}", err=True)
            sys.exit(1)
        except EngineError as exc:
            click.echo(f"错误：{exc.message}", err=True)
            sys.exit(1)
        except OperationalError as exc:  # the database went away or refused mid-command (after the check)
            lines = str(exc.orig).strip().splitlines()
            detail = f"（{lines[0]}）" if lines else ""
            click.echo(f"错误：数据库操作失败{detail}，本次操作未完成：请检查环境变量 DATABASE_URL 以及数据库服务是否在运行",
                       err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option("--district", "district_code", envvar="ZJTX_DISTRICT", default=None, metavar="区划代码",
              help="命令所作用的区县（行政区划代码，如 500243；环境变量 ZJTX_DISTRICT）。不填：本部署的第一个区县")
@click.pass_context
def main(ctx, district_code):
    """黔江区“专精特新”企业培育流程引擎的管理命令。"""
    ctx.meta["district_code"] = district_code
