"""``zjtx pause`` / ``zjtx resume``: a task's clock paused (挂起) while its department waits for the
enterprise, and resumed (engine.runtime.pauses), as the user named by ``--as``."""
from __future__ import annotations

import click

from engine.cli.base import _print_json, _services, main


@main.command()
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="挂起人用户名（任务所属单位中有该任务角色的人员）")
@click.option("--reason", required=True, help="挂起原因：等待企业补充的材料或事项")
@click.option("--until", "expected", help="预计恢复日期 YYYY-MM-DD（选填）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def pause(ctx, task_id, actor, reason, expected, as_json):
    """挂起任务（暂停计时，等待企业补充）。"""
    result = _services(ctx).pauses.pause(task_id, actor, reason, expected)
    if as_json:
        _print_json(result)
        return
    click.echo(f"已挂起 #{task_id}：{result['reason']}；期限暂停计算（原期限 {result['due_local'] or '无'}）"
               + (f"，预计 {result['expected_resume_on']} 恢复" if result["expected_resume_on"] else ""))


@main.command()
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="恢复人用户名（任务所属单位中有该任务角色的人员）")
@click.option("--note", help="恢复说明：企业补充了什么（选填）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def resume(ctx, task_id, actor, note, as_json):
    """恢复办理挂起的任务（期限按挂起的工作日顺延）。"""
    result = _services(ctx).pauses.resume(task_id, actor, note)
    if as_json:
        _print_json(result)
        return
    click.echo(f"已恢复 #{task_id}：挂起 {result['working_days']} 个工作日，期限顺延 {result['credited_days'] or 0} 个工作日，"
               f"现为 {result['due_local'] or '无期限'}")
