"""``zjtx assessment``: 实绩考核（年度） as the assessment office's Excel workbook."""
from __future__ import annotations

from pathlib import Path

import click

from engine.cli.base import _services, main


@main.command("assessment")
@click.option("--year", type=int, required=True, help="考核年度，如 2026")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="导出的 Excel 文件（.xlsx）")
@click.option("--as", "actor", help="以该用户的权限导出（调度员、领导小组办公室或管理员；缺省为系统）")
@click.pass_context
def assessment(ctx, year, out, actor):
    """按全年通报指标和决策表 assessment_weights 的权重计算各成员单位的实绩考核得分，导出 Excel。"""
    title, content = _services(ctx).ledgers.assessment(actor, year)
    out.write_bytes(content)
    click.echo(f"已导出{title}到 {out}")
