"""``zjtx``: 挂牌督办 from the command line: list an item for supervision, show an item's listings."""
from __future__ import annotations

import click

from engine.cli.base import _print_json, _services, main


@main.group("listed-supervision")
def listed_supervision():
    """挂牌督办：领导小组办公室或领导小组组长、副组长对交办事项挂牌督办，签发督办函。"""


@listed_supervision.command("start")
@click.argument("item")
@click.option("--as", "actor", required=True, help="发起人用户名（领导小组办公室、组长或副组长）")
@click.option("--reason", required=True, help="督办事由")
@click.option("--colour", type=click.Choice(["蓝", "黄", "红"]), required=True, help="督办单颜色")
@click.option("--deadline", required=True, help="新的办理期限 YYYY-MM-DD（今天之后的工作日）")
@click.option("--every", type=click.IntRange(1, 30), help="督办回复间隔（工作日，缺省按流程设置）")
@click.option("--ask-instruction", is_flag=True, help="报请领导批示（批示后签发督办函）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def listing_start(ctx, item, actor, reason, colour, deadline, every, ask_instruction, as_json):
    """挂牌督办 ITEM（事项号或事项编号）。"""
    result = _services(ctx).listings.start(actor, item, {
        "listing_reason": reason, "slip_colour": colour, "new_deadline": deadline,
        "report_every_working_days": every, "ask_instruction": ask_instruction})
    if as_json:
        _print_json(result)
        return
    listing = result["listing"] or {}
    click.echo(f"已挂牌督办 {item}（{listing.get('colour')}色督办单，挂牌督办 {listing.get('id')}）："
               f"{listing.get('number') or '待领导批示后签发督办函'}")
    for t in result["open_tasks"]:
        click.echo(f"  待办 #{t['id']} {t['name']} → {t['department']}（{t['status_label']}）")


@listed_supervision.command("show")
@click.argument("item")
@click.option("--as", "actor", help="以该用户的权限查看（缺省为系统）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def listing_show(ctx, item, actor, as_json):
    """显示 ITEM（事项号或事项编号）的挂牌督办：督办单、督办函、批示、期限与督办回复。"""
    rows = _services(ctx).listings.of_item(actor, item)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("该事项没有挂牌督办")
    for r in rows:
        click.echo(f"#{r['id']} {r['status_label']} {r['colour']}色督办单 {r['number'] or '（督办函未签发）'}"
                   f" 主办：{r['lead_unit']} 期限：{r['deadline']} 下次回复：{r['next_report_due'] or '—'}")
        if r["instruction"]:
            click.echo(f"  领导批示（{r['instruction_by']}）：{r['instruction']}")
        for rep in r["reports"]:
            click.echo(f"  督办回复（应报 {rep['due_date']}，{rep['submitted_at']}，{rep['submitted_by']}）：{rep['text']}"
                       f" → {rep['decision']}")
