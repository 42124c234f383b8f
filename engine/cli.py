"""``zjtx``: the administrators' command line.

``--json`` output is stable (documented in README.md) and meant for scripts. Errors go to
stderr in Chinese with exit status 1; usage errors exit with 2.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from engine.bootstrap import Engine, bootstrap
from engine.errors import DeploymentError, EngineError, ValidationFailed

ACTION_LABELS = {"start": "发起", "task_created": "生成待办", "complete": "办理", "task_cancelled": "取消待办",
                 "instance_completed": "办结归档"}


def _engine(ctx: click.Context) -> Engine:
    if ctx.obj is None:
        ctx.obj = bootstrap()
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


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


@click.group(cls=_Group)
@click.pass_context
def main(ctx):
    """黔江区“专精特新”企业培育流程引擎的管理命令。"""


@main.command("init-db")
@click.pass_context
def init_db(ctx):
    """创建或升级数据库结构（Alembic 迁移）。"""
    engine = _engine(ctx)
    engine.init_db()
    click.echo(f"数据库已就绪：{engine.db.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--no-demo-users", is_flag=True, help="只写入部门和措施，不创建演示用户")
@click.pass_context
def seed(ctx, no_demo_users):
    """写入部门、30 项措施和演示用户（可重复执行）。"""
    result = _engine(ctx).seed(demo_users=not no_demo_users)
    click.echo(f"部门 {result['departments']} 个，措施 {result['measures']} 项，新建用户 {result['users_created']} 个")


@main.command()
@click.pass_context
def demo(ctx):
    """写入几件演示用的企业问题（数据库中已有事项时不做任何事）。"""
    from engine.demo import load_demo

    engine = _engine(ctx)
    n = load_demo(engine.workflows, engine.db)
    click.echo(f"已写入 {n} 件演示事项" if n else "数据库中已有事项，未写入演示数据")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="变更说明")
@click.option("--as", "actor", help="部署人用户名")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deploy(ctx, files, note, actor, as_json):
    """部署 BPMN/DMN 文件：内容有变化时生成新版本，相同内容不重复部署。"""
    results = _engine(ctx).deploy(list(files), deployed_by=actor, note=note)
    if as_json:
        _print_json([r.to_dict() for r in results])
        return
    for r in results:
        state = "新版本" if r.created else "内容未变，沿用"
        click.echo(f"{r.key}（{r.name}）：{state} v{r.version}")


@main.command()
@click.argument("process")
@click.option("--data", help="JSON 对象，或 @文件名")
@click.option("--as", "actor", help="发起人用户名（缺省为系统）")
@click.option("--business-key", help="事项编号（缺省自动生成）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def start(ctx, process, data, actor, business_key, as_json):
    """发起流程实例。"""
    result = _engine(ctx).workflows.start(process, _parse_data(data), actor=actor, business_key=business_key)
    if as_json:
        _print_json(result)
        return
    click.echo(f"已发起 {result['business_key']}（实例 {result['id']}）：{result['title']}")
    _echo_open_tasks(result["open_tasks"])


def _echo_open_tasks(tasks: list[dict]) -> None:
    for t in tasks:
        click.echo(f"  待办 #{t['id']} {t['name']} → {t['department']}（{t['status_label']}）")


@main.command()
@click.option("--department", help="部门名称或别名")
@click.option("--status", default="open", show_default=True,
              help="open（未办结）、all，或 to_sign / in_progress / completed / cancelled")
@click.option("--as", "actor", help="以该用户的权限查看")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tasks(ctx, department, status, actor, limit, as_json):
    """列出任务（来自任务投影表）。"""
    rows = _engine(ctx).workflows.tasks(actor=actor, department=department, status=status, limit=limit)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("没有任务")
    for t in rows:
        click.echo(f"#{t['id']:<5} {t['business_key']}  {t['name']:<8} {t['department']:<12} "
                   f"{t['status_label']}  {t['title']}")


@main.command()
@click.argument("task_id", type=int)
@click.option("--data", help="JSON 对象，或 @文件名")
@click.option("--as", "actor", required=True, help="办理人用户名")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def complete(ctx, task_id, data, actor, as_json):
    """办理（提交）一个任务。"""
    result = _engine(ctx).workflows.complete(task_id, _parse_data(data), actor)
    if as_json:
        _print_json(result)
        return
    instance = result["instance"]
    click.echo(f"已办理 #{task_id}「{result['task']['name']}」；{instance['business_key']} 当前状态："
               f"{instance['item_status'] or instance['status']}")
    _echo_open_tasks(instance["open_tasks"])


@main.command()
@click.argument("instance")
@click.option("--as", "actor", help="以该用户的权限查看")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, instance, actor, as_json):
    """显示流程实例（实例号或事项编号）：数据、待办和办理记录。"""
    result = _engine(ctx).workflows.show(instance, actor=actor)
    if as_json:
        _print_json(result)
        return
    click.echo(f"{result['business_key']}（实例 {result['id']}，{result['process']} v{result['version']}）")
    click.echo(f"  {result['title']}")
    click.echo(f"  状态：{result['item_status'] or ''}（{result['status']}）")
    _echo_open_tasks(result["open_tasks"])
    click.echo("  办理记录：")
    tz = ZoneInfo(_engine(ctx).settings.timezone)
    for h in result["history"]:
        at = datetime.fromisoformat(h["at"]).astimezone(tz)
        action = ACTION_LABELS.get(h["action"], h["action"])
        click.echo(f"    {at:%Y-%m-%d %H:%M:%S} {h['actor_name'] or ''} {action} {h['task'] or ''}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def measures(ctx, as_json):
    """列出行动计划的 30 项措施及牵头、责任单位。"""
    from engine.org import measures_as_data

    with _engine(ctx).db.read() as session:
        rows = measures_as_data(session)
    if as_json:
        _print_json(rows)
        return
    for m in rows:
        lead = "、".join(m["lead"]) or "（未列牵头单位）"
        click.echo(f"{m['no']:>2}. {m['title']}  牵头：{lead}  责任：{'、'.join(m['responsible']) or '—'}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def departments(ctx, as_json):
    """列出部门、别名及是否为领导小组成员单位。"""
    from engine.org import departments_as_data

    with _engine(ctx).db.read() as session:
        rows = departments_as_data(session)
    if as_json:
        _print_json(rows)
        return
    for d in rows:
        alias = f"（又称：{'、'.join(d['aliases'])}）" if d["aliases"] else ""
        member = "领导小组成员" if d["leading_group_member"] else ""
        click.echo(f"{d['name']}{alias} {member}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def serve(ctx, host, port):
    """启动网页服务（开发与单机使用）。"""
    from werkzeug.serving import run_simple

    from web import create_app

    app = create_app(engine=_engine(ctx))
    click.echo(f"服务地址：http://{host}:{port}/")
    run_simple(host, port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
