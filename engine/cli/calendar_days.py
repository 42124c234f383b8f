"""``zjtx``: The working-day calendar: count, check, import the State Council's notice, set a day."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.cli.base import _services, main


def _iso_date(value: str, param: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"「{value}」不是日期，格式应为 YYYY-MM-DD", param_hint=param) from None


@main.group()
def calendar():
    """工作日历：法定节假日与调休上班。"""


@calendar.command("add-working-days")
@click.argument("day")
@click.argument("n", type=click.IntRange(1, 1000))
@click.pass_context
def calendar_add(ctx, day, n):
    """DAY 之后第 N 个工作日（次日起算；即 DAY 创建的 N 个工作日期限的到期日）。"""
    from engine.deadlines.calendar_store import load_calendar

    start = _iso_date(day, "DAY")
    with _services(ctx).db.read() as session:
        cal = load_calendar(session)
    result = cal.add_working_days(start, n)
    click.echo(result.isoformat())
    unconfirmed = sorted({y for y in range(start.year, result.year + 1) if not cal.is_confirmed(y)})
    if unconfirmed:
        click.echo(f"注意：{'、'.join(map(str, unconfirmed))} 年的节假日安排尚未确认，结果按周末和法定节日推算", err=True)


@calendar.command("is-workday")
@click.argument("day")
@click.pass_context
def calendar_is_workday(ctx, day):
    """DAY 是否为工作日：输出 true 或 false。"""
    from engine.deadlines.calendar_store import load_calendar

    d = _iso_date(day, "DAY")
    with _services(ctx).db.read() as session:
        info = load_calendar(session).day(d)
    click.echo("true" if info.workday else "false")
    if not info.confirmed:
        click.echo(f"注意：{d.year} 年的节假日安排尚未确认，结果按周末和法定节日推算", err=True)


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", help="导入人用户名")
@click.pass_context
def calendar_import(ctx, file, actor):
    """导入一年的国务院节假日安排（JSON 文件，格式见 README）。"""
    from engine.deadlines.calendar_store import import_arrangement
    from engine.deadlines.workcalendar import ArrangementError, parse_arrangement

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.BadParameter(f"不是有效的 JSON：{exc}", param_hint="FILE") from None
    try:
        arrangement = parse_arrangement(data)
    except ArrangementError as exc:
        click.echo("错误：节假日安排文件有误", err=True)
        for line in exc.errors:
            click.echo(f"  - {line}", err=True)
        sys.exit(1)
    source = (data.get("source") if isinstance(data, dict) else None) or file.name
    with _services(ctx).db.write() as session:
        count = import_arrangement(session, arrangement, source, actor)
    click.echo(f"已导入 {arrangement.year} 年节假日安排：{count} 天（放假 {len(arrangement.holidays)} 天，"
               f"调休上班 {len(arrangement.workdays)} 天）")


@calendar.command("set")
@click.argument("day")
@click.argument("kind", type=click.Choice(["workday", "holiday"]))
@click.option("--name", help="名称，如“春节调休上班”")
@click.option("--national", is_flag=True, help="修正全国安排（所有区县共用）；默认只改本区县（--district）")
@click.pass_context
def calendar_set(ctx, day, kind, name, national):
    """修改某一天：workday（上班）或 holiday（放假）；默认只对本区县（--district 或 ZJTX_DISTRICT）有效。"""
    from engine.deadlines.calendar_store import set_day, set_national_day
    from engine.identity.districts import name_of

    d = _iso_date(day, "DAY")
    with _services(ctx).db.write() as session:
        if national:
            set_national_day(session, d, kind == "workday", name)
        else:
            set_day(session, d, kind == "workday", name, "cli")
    where = "全国" if national else name_of()
    click.echo(f"{d.isoformat()} 已设为{'工作日' if kind == 'workday' else '休息日'}（{where}）")


@calendar.command("clear")
@click.argument("day")
@click.pass_context
def calendar_clear(ctx, day):
    """撤销本区县对某一天的调整，恢复全国安排。"""
    from engine.deadlines.calendar_store import clear_day
    from engine.identity.districts import name_of

    d = _iso_date(day, "DAY")
    with _services(ctx).db.write() as session:
        cleared = clear_day(session, d)
    click.echo(f"{d.isoformat()} 已恢复为全国安排（{name_of()}）" if cleared else f"{name_of()}没有调整过 {d.isoformat()}")


@calendar.command("status")
@click.pass_context
def calendar_status(ctx):
    """今年和明年的节假日安排是否已确认。"""
    from engine.deadlines.calendar_store import load_calendar

    services = _services(ctx)
    today = services.calendars.today()
    with services.db.read() as session:
        cal = load_calendar(session)
    missing = cal.unconfirmed_years(today, ahead=1)
    for year in (today.year, today.year + 1):
        state = "未确认（请导入国务院节假日安排）" if year in missing else "已确认"
        click.echo(f"{year} 年：{state}")
