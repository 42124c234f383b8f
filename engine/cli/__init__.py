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

from engine.bootstrap import Services, bootstrap
from engine.errors import DeploymentError, EngineError, ValidationFailed
from engine.queries.views import ACTION_LABELS


def _services(ctx: click.Context) -> Services:
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
    services = _services(ctx)
    services.init_db()
    click.echo(f"数据库已就绪：{services.db.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--no-demo-users", is_flag=True, help="只写入部门和措施，不创建演示用户")
@click.pass_context
def seed(ctx, no_demo_users):
    """写入部门、30 项措施和演示用户（可重复执行）。"""
    result = _services(ctx).seed(demo_users=not no_demo_users)
    click.echo(f"部门 {result['departments']} 个，措施 {result['measures']} 项，新建用户 {result['users_created']} 个")


@main.command()
@click.pass_context
def demo(ctx):
    """写入几件演示用的企业问题（数据库中已有事项时不做任何事）。"""
    from engine.policy.dispatch.demo import load_demo

    services = _services(ctx)
    n = load_demo(services.workflows, services.db)
    click.echo(f"已写入 {n} 件演示事项" if n else "数据库中已有事项，未写入演示数据")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="变更说明")
@click.option("--as", "actor", help="部署人用户名")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deploy(ctx, files, note, actor, as_json):
    """部署 BPMN/DMN 文件：内容有变化时生成新版本，相同内容不重复部署。"""
    results = _services(ctx).deploy(list(files), deployed_by=actor, note=note)
    if as_json:
        _print_json([r.to_dict() for r in results])
        return
    for r in results:
        state = "新版本" if r.created else "内容未变，沿用"
        click.echo(f"{r.key}（{r.name}）：{state} v{r.version}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def validate(ctx, files, as_json):
    """校验 BPMN/DMN 文件（与部署前的校验相同）；有问题时逐项列出并以非零状态退出。"""
    services = _services(ctx)
    with services.db.read() as session:
        problems = services.registry.validate(session, {f.name: f.read_bytes() for f in files})
    if as_json:
        _print_json({"ok": not problems, "problems": problems})
    elif problems:
        click.echo(f"发现 {len(problems)} 个问题：", err=True)
        for problem in problems:
            click.echo(f"  - {problem['message']}", err=True)
    else:
        click.echo("校验通过，可以部署")
    if problems:
        sys.exit(1)


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
    rows = _services(ctx).workflows.tasks(actor=actor, department=department, status=status, limit=limit)
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
    result = _services(ctx).workflows.show(instance, actor=actor)
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


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def measures(ctx, as_json):
    """列出行动计划的 30 项措施及牵头、责任单位。"""
    from engine.identity.org import measures_as_data

    with _services(ctx).db.read() as session:
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
    from engine.identity.org import departments_as_data

    with _services(ctx).db.read() as session:
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
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="在网页服务进程内运行调度器（预警、催办、督办、定时器、通知发送）")
@click.pass_context
def serve(ctx, host, port, scheduler):
    """启动网页服务（开发与单机使用）。"""
    from werkzeug.serving import run_simple

    from engine.scheduling.scheduler import Scheduler
    from web import create_app

    services = _services(ctx)
    app = create_app(services=services)
    services.workflows.warm()  # script workers and the working calendar, before the first request
    if scheduler:
        Scheduler(services).start_background()
        click.echo("调度器已在本进程内启动")
    click.echo(f"服务地址：http://{host}:{port}/")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("scheduler")
@click.option("--until-idle", is_flag=True, help="把当前到期的工作全部做完后退出（运维与测试用）")
@click.pass_context
def scheduler_command(ctx, until_idle):
    """单独运行调度器进程：预警/催办/督办、BPMN 定时器、周期流程、通知发送。"""
    from engine.scheduling.scheduler import Scheduler

    runner = Scheduler(_services(ctx))
    _services(ctx).workflows.warm()
    if until_idle:
        counts = runner.run_until_idle()
        click.echo(json.dumps(counts, ensure_ascii=False))
        return
    click.echo(f"调度器运行中（每 {_services(ctx).settings.tick_seconds} 秒检查一次），按 Ctrl+C 停止")
    runner.run_forever()


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
@click.pass_context
def calendar_set(ctx, day, kind, name):
    """管理员修改某一天：workday（上班）或 holiday（放假）。"""
    from engine.deadlines.calendar_store import set_day

    d = _iso_date(day, "DAY")
    with _services(ctx).db.write() as session:
        set_day(session, d, kind == "workday", name)
    click.echo(f"{d.isoformat()} 已设为{'工作日' if kind == 'workday' else '休息日'}")


@calendar.command("status")
@click.pass_context
def calendar_status(ctx):
    """今年和明年的节假日安排是否已确认。"""
    from engine.deadlines.calendar_store import load_calendar

    services = _services(ctx)
    today = datetime.now(ZoneInfo(services.settings.timezone)).date()
    with services.db.read() as session:
        cal = load_calendar(session)
    missing = cal.unconfirmed_years(today, ahead=1)
    for year in (today.year, today.year + 1):
        state = "未确认（请导入国务院节假日安排）" if year in missing else "已确认"
        click.echo(f"{year} 年：{state}")


@main.group()
def outbox():
    """通知发件箱：查看待发送与发送失败的邮件、Webhook 消息，手动重发。"""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "dead"]), help="只看某一状态")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_list(ctx, status, limit, as_json):
    from sqlalchemy import select

    from engine.storage.models import OutboxMessage
    from notifications.delivery import STATUS_LABELS

    with _services(ctx).db.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows = [{"id": m.id, "channel": m.channel, "to": m.address, "subject": m.subject, "status": m.status,
                 "status_label": STATUS_LABELS[m.status], "attempts": m.attempts, "last_error": m.last_error,
                 "created_at": m.created_at.isoformat(), "sent_at": m.sent_at.isoformat() if m.sent_at else None}
                for m in session.scalars(query)]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("发件箱为空")
    for r in rows:
        error = f"  错误：{r['last_error']}" if r["last_error"] else ""
        click.echo(f"#{r['id']:<5} {r['status_label']:<10} {r['channel']:<7} 第{r['attempts']}次 {r['to']}  "
                   f"{r['subject']}{error}")


@outbox.command("retry")
@click.argument("message_id", type=int)
@click.pass_context
def outbox_retry(ctx, message_id):
    """把一条发送失败（死信）的消息重新放回发送队列。"""
    if not _services(ctx).deliverer.retry(message_id):
        click.echo(f"错误：消息 {message_id} 不存在或不是发送失败状态", err=True)
        sys.exit(1)
    click.echo(f"消息 {message_id} 已重新排队发送")


@main.group()
def webhook():
    """Webhook 接收端（部门工作群机器人等）。"""


@webhook.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["json", "wecom", "dingtalk"]), default="json", show_default=True,
              help="json：完整 JSON；wecom/dingtalk：企业微信/钉钉群机器人文本消息")
@click.option("--department", help="只接收该部门的通知（缺省接收全部）")
@click.pass_context
def webhook_add(ctx, name, url, fmt, department):
    from engine.identity.org import DepartmentDirectory
    from engine.storage.models import WebhookEndpoint

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("地址必须以 http:// 或 https:// 开头", param_hint="URL")
    with _services(ctx).db.write() as session:
        dep = DepartmentDirectory.of(session).get(department).id if department else None
        session.add(WebhookEndpoint(name=name, url=url, format=fmt, department_id=dep, enabled=True))
    click.echo(f"已添加 Webhook「{name}」（{fmt}）{'，部门：' + department if department else '，接收全部通知'}")


@webhook.command("list")
@click.pass_context
def webhook_list(ctx):
    from sqlalchemy import select

    from engine.identity.org import DepartmentDirectory
    from engine.storage.models import WebhookEndpoint

    with _services(ctx).db.read() as session:
        directory = DepartmentDirectory.of(session)
        rows = list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
        names = {r.id: directory.name_of(r.department_id) if r.department_id else "全部" for r in rows}
    if not rows:
        click.echo("没有 Webhook")
    for r in rows:
        click.echo(f"#{r.id} {r.name} {r.format} {names[r.id]} {'启用' if r.enabled else '停用'} {r.url}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eligibility(ctx, file, as_json):
    """按行动计划的培育条件（DMN 决策表）判定一家企业能否入库，并逐项说明。"""
    from engine.policy.pool.eligibility import Decisions, decide, parse_inputs
    from engine.runtime.scripting import create_script_engine

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.BadParameter(f"不是有效的 JSON：{exc}", param_hint="FILE") from None
    decisions = Decisions(_services(ctx).settings.processes_dir, create_script_engine())
    result = decide(parse_inputs(data), decisions)
    if as_json:
        _print_json({"eligible": result["eligible"], "sme_class": result["sme_class"],
                     "criteria": [{k: c[k] for k in ("id", "passed", "value", "threshold", "message")}
                                  for c in result["criteria"]]})
        return
    click.echo(f"结论：{result['summary']}（依据 {result['last_year']} 年数据）")
    for c in result["criteria"]:
        mark = {True: "✓", False: "✗", None: "?"}[c["passed"]]
        click.echo(f"  {mark} {'[必备] ' if c['mandatory'] else '[任二] '}{c['message']}")


@main.group()
def enterprises():
    """企业库：Excel 导入与导出。"""


@enterprises.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", default="admin", show_default=True, help="操作人用户名")
@click.pass_context
def enterprises_import(ctx, file, actor):
    """导入企业库 Excel（模板即导出的文件）：任何一行有误则不导入，并逐行列出错误。"""
    from engine.identity.authz import actor_for
    from engine.policy.pool.enterprises import ImportFailed

    services = _services(ctx)
    with services.db.read() as session:
        who = actor_for(session, actor)
    try:
        result = services.enterprises.import_workbook(who, file.read_bytes())
    except ImportFailed as exc:
        click.echo(f"错误：{exc.message}", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem['message']}", err=True)
        sys.exit(1)
    click.echo(f"导入完成：新增 {result['created']} 家，更新 {result['updated']} 家，年度数据 {result['years']} 条")


@enterprises.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def enterprises_export(ctx, file):
    """导出企业库到 Excel（可作为导入模板）。"""
    file.write_bytes(_services(ctx).enterprises.export_workbook())
    click.echo(f"已导出到 {file}")


@main.command()
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="逗号分隔的实例规模")
@click.option("--repeat", default=30, show_default=True, type=click.IntRange(3, 1000))
@click.option("--output", default="bench-results.json", show_default=True, type=click.Path(path_type=Path))
@click.option("--p4-tasks", default=1000, show_default=True, help="P4：在窗口内到期的任务数")
@click.option("--p4-window", default=60.0, show_default=True, help="P4：到期窗口（秒）")
@click.option("--p6-seconds", default=10.0, show_default=True, help="P6：吞吐量测量时长（秒）")
@click.option("--p7-seconds", default=300.0, show_default=True, help="P7：调度器 CPU 测量时长（秒，0 为不测）")
@click.option("--fresh", is_flag=True,
              help="先清空基准库（SQLite 删除文件；PostgreSQL 重建 zjtx_bench 模式），再建表、初始化、部署")
@click.pass_context
def bench(ctx, sizes, repeat, output, p4_tasks, p4_window, p6_seconds, p7_seconds, fresh):
    """性能基准 P1–P7（提交任务、调度器、待办页、升级准时性、存储、吞吐量、调度器 CPU）；在空库上运行，结果写入 JSON。"""
    from dataclasses import replace

    from engine.config import Settings
    from tools.bench import fresh_database, run

    if fresh:
        settings = Settings.from_env()
        ctx.obj = bootstrap(replace(settings, database_url=fresh_database(settings.database_url)))
        ctx.call_on_close(ctx.obj.close)
        ctx.obj.init_db()
        ctx.obj.seed()
        ctx.obj.deploy_bundled()
    services = _services(ctx)
    numbers = sorted(int(x) for x in sizes.split(",") if x.strip())
    results = run(services, numbers, repeat, output, p4_tasks=p4_tasks, p4_window=p4_window, p6_seconds=p6_seconds,
                  p7_seconds=p7_seconds, progress=lambda m: click.echo(m, err=True))
    click.echo(f"数据库：{results['database']}；规模：{numbers}；每项重复 {repeat} 次（取中位数）")
    for row in results["table"]:
        mark = "达标" if row["holds"] else "未达标"
        click.echo(f"{row['id']}  {row['figure']}：{row['value']}（目标 {row['target']}，{mark}）  {row['detail']}")
    click.echo(f"结果已写入 {output}")


@main.command("token")
@click.argument("username")
@click.argument("name")
@click.pass_context
def token(ctx, username, name):
    """为用户签发 JSON API 令牌（只显示一次）。"""
    from engine.identity.accounts import issue_token
    from engine.identity.org import get_user

    with _services(ctx).db.write() as session:
        value = issue_token(session, get_user(session, username).id, name)
    click.echo(value)


@main.command("notify-pref")
@click.argument("username")
@click.argument("channel", type=click.Choice(["inbox", "email", "webhook"]))
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def notify_pref(ctx, username, channel, state):
    """设置用户接收某一渠道的通知（on/off）。"""
    from engine.identity.org import get_user
    from notifications.outbox import CHANNEL_LABELS, set_preference

    with _services(ctx).db.write() as session:
        set_preference(session, get_user(session, username).id, channel, state == "on")
    click.echo(f"{username}：{CHANNEL_LABELS[channel]}{'开启' if state == 'on' else '关闭'}")


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


if __name__ == "__main__":
    main()


from tools.loadtest import loadtest_command  # noqa: E402

main.add_command(loadtest_command, "loadtest")
