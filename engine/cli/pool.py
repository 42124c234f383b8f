"""``zjtx``: The cultivation pool: eligibility checks and the enterprise registry's import and export."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.cli.base import _print_json, _services, main


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
    """企业库：Excel 导入与导出，拟培育库的重新计算。"""


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


@enterprises.command("guidance-refresh")
@click.pass_context
def enterprises_guidance_refresh(ctx):
    """按企业库现有数据重新计算拟培育库（只差一项培育条件的企业及差距）；每次保存企业数据时也会自动更新。"""
    listed = _services(ctx).guidance.refresh_all()
    click.echo(f"拟培育库已更新：{listed} 家企业只差一项培育条件")


@enterprises.command("tech-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", required=True, help="操作人用户名（区科技局联络员或分管负责人）")
@click.pass_context
def enterprises_tech_import(ctx, file, actor):
    """导入区科技局的科技型企业名单（工作表「科技型企业」：统一社会信用代码、入库日期、有效期至）：
    有错误的行时不导入；企业库中没有的代码列出，不新建企业。"""
    from engine.errors import PermissionDenied
    from engine.identity.authz import actor_for
    from engine.policy.pool.enterprises import ImportFailed

    services = _services(ctx)
    with services.db.read() as session:
        who = actor_for(session, actor)
    try:
        result = services.enterprises.tech.import_list(who, file.read_bytes())
    except PermissionDenied as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    except ImportFailed as exc:
        click.echo(f"错误：{exc.message}", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem['message']}", err=True)
        sys.exit(1)
    click.echo(f"导入完成：更新 {result['updated']} 家，无变化 {result['unchanged']} 家")
    for unknown in result["unknown"]:
        click.echo(f"  未导入：第 {unknown['row']} 行 {unknown['uscc']} 不在企业库中", err=True)


@main.command("district-settings")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def district_settings(ctx, as_json):
    """本区设置：行动计划未作规定、由本区确定的取值（现值及在哪里修改）。"""
    from engine.policy import district_settings as settings

    rows = settings.current(_services(ctx).db)
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['label']}：{row['value']}{row['unit']}  [{row['mark']}]  修改：{row['where']}")
