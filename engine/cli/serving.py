"""``zjtx``: Serving the UI and the API, running the scheduler, and the benchmark (tools/bench.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from engine.bootstrap import bootstrap
from engine.cli.base import _services, main


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

    follows = ctx.obj is None and not os.environ.get("ZJTX_BASE_URL")
    if follows:  # links in email and WeCom then point at this server, not at the default port 5000
        os.environ["ZJTX_BASE_URL"] = served_url(host, port)
    services = _services(ctx)
    app = create_app(services=services)
    services.workflows.warm()  # script workers and the working calendar, before the first request
    if scheduler:
        Scheduler(services).start_background()
        click.echo("调度器已在本进程内启动")
    click.echo(f"服务地址：http://{host}:{port}/")
    if follows:
        click.echo(f"消息中的链接地址：{services.settings.base_url}（未设置 ZJTX_BASE_URL；对外服务时请设为用户访问的地址）")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def served_url(host: str, port: int) -> str:
    """The address links point at when ZJTX_BASE_URL is not set: the served host and port (a wildcard
    host such as 0.0.0.0 or :: names no address one can open: 127.0.0.1 stands for it)."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


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


@main.command()
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="逗号分隔的实例规模")
@click.option("--repeat", default=30, show_default=True, type=click.IntRange(3, 1000))
@click.option("--output", default="bench-results.json", show_default=True, type=click.Path(path_type=Path))
@click.option("--p4-tasks", default=1000, show_default=True, help="P4：在窗口内到期的任务数")
@click.option("--p4-window", default=60.0, show_default=True, help="P4：到期窗口（秒）")
@click.option("--p6-seconds", default=10.0, show_default=True, help="P6：吞吐量测量时长（秒）")
@click.option("--p7-seconds", default=300.0, show_default=True, help="P7：调度器 CPU 测量时长（秒，0 为不测）")
@click.option("--p8-requests", default=20_000, show_default=True, type=click.IntRange(0, 1_000_000),
              help="P8：测内存前的混合请求数（0 为不测）")
@click.option("--fresh", is_flag=True,
              help="先清空基准库（SQLite 删除文件；PostgreSQL 重建 zjtx_bench 模式），再建表、初始化、部署")
@click.option("--districts", default=1, show_default=True, type=click.IntRange(1, 38),
              help="区县数：大于 1 时另建区县（重庆市的前 N 个），在各区县共生成 --district-total 个实例后再测一次")
@click.option("--district-total", default=1_000_000, show_default=True, type=click.IntRange(1, 10_000_000),
              help="多区县时各区县合计的等待中实例数")
@click.pass_context
def bench(ctx, sizes, repeat, output, p4_tasks, p4_window, p6_seconds, p7_seconds, p8_requests, fresh, districts,
          district_total):
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
                  p7_seconds=p7_seconds, p8_requests=p8_requests, progress=lambda m: click.echo(m, err=True),
                  districts=districts, district_total=district_total)
    click.echo(f"数据库：{results['database']}；规模：{numbers}；每项重复 {repeat} 次（取中位数）")
    for row in results["table"]:
        mark = "达标" if row["holds"] else "未达标"
        click.echo(f"{row['id']}  {row['figure']}：{row['value']}（目标 {row['target']}，{mark}）  {row['detail']}")
    click.echo(f"结果已写入 {output}")


def _register_loadtest() -> None:
    from tools.loadtest import loadtest_command

    main.add_command(loadtest_command, "loadtest")


_register_loadtest()
