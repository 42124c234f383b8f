"""``zjtx``: Periodic starts of processes."""
from __future__ import annotations

import click

from engine.cli.base import _parse_data, _print_json, _services, main


@main.group()
def schedule():
    """周期流程：按计划自动发起（如月度通报、季度措施进展报告）。"""


@schedule.command("set")
@click.argument("name")
@click.argument("process")
@click.argument("rule")
@click.option("--data", help="发起时的数据（JSON 对象）")
@click.option("--disable", is_flag=True)
@click.pass_context
def schedule_set(ctx, name, process, rule, data, disable):
    """新建或修改计划。RULE：cron:分 时 日 月 周，或 workday:N[:月份][@时:分]（每月第 N 个工作日）。"""
    result = _services(ctx).schedules.save(name, process, rule, _parse_data(data), enabled=not disable)
    click.echo(f"计划「{name}」：{process}，规则 {rule}，下次运行 {result['next_run_at'] or '（已停用）'}")


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def schedule_list(ctx, as_json):
    rows = _services(ctx).schedules.list()
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("没有周期计划")
    for r in rows:
        click.echo(f"{r['name']}：{r['process']} {r['rule']} 下次 {r['next_run_at'] or '停用'}"
                   + (f"  上次错误：{r['last_error']}" if r["last_error"] else ""))
