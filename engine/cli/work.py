"""``zjtx``: Daily work from the command line: start an instance, list and complete tasks, show an item."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from engine.cli.base import _parse_data, _print_json, _services, main
from engine.queries.views import ACTION_LABELS


@main.command()
@click.argument("process")
@click.option("--data", help="JSON 对象，或 @文件名")
@click.option("--as", "actor", help="发起人用户名（缺省为系统）")
@click.option("--business-key", help="事项编号（缺省自动生成）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def start(ctx, process, data, actor, business_key, as_json):
    """发起流程实例。"""
    result = _services(ctx).workflows.start(process, _parse_data(data), actor=actor, business_key=business_key)
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
    rows = _services(ctx).queries.tasks(actor=actor, department=department, status=status, limit=limit)
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
    result = _services(ctx).workflows.complete(task_id, _parse_data(data), actor)
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
    result = _services(ctx).queries.show(instance, actor=actor)
    if as_json:
        _print_json(result)
        return
    click.echo(f"{result['business_key']}（实例 {result['id']}，{result['process']} v{result['version']}）")
    click.echo(f"  {result['title']}")
    click.echo(f"  状态：{result['item_status'] or ''}（{result['status']}）")
    _echo_open_tasks(result["open_tasks"])
    click.echo("  办理记录：")
    tz = ZoneInfo(_services(ctx).settings.timezone)
    for h in result["history"]:
        at = datetime.fromisoformat(h["at"]).astimezone(tz)
        action = ACTION_LABELS.get(h["action"], h["action"])
        click.echo(f"    {at:%Y-%m-%d %H:%M:%S} {h['actor_name'] or ''} {action} {h['task'] or ''}")
