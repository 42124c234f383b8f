"""``zjtx clauses``: the action plan's clauses, what encodes each, and the coverage figure (as on /policy/)."""
from __future__ import annotations

import click

from engine.cli.base import _print_json, _services, main


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def clauses(ctx, as_json):
    """列出行动计划的条款、落实每条的流程环节/决策规则/指标/措施/定期任务，以及编码覆盖率。"""

    services = _services(ctx)
    found = services.policy.coverage()
    if as_json:
        _print_json({"encoded": len(found.encoded), "total": found.total, "percent": found.percent, "clauses": [
            {"id": c.id, "title": c.title, "encoders": [
                {"kind": e.kind, "label": e.label, "process": e.process, "element": e.element, "table": e.table}
                for e in found.encoders.get(c.id, [])]} for c in found.plan.clauses]})
        return
    click.echo(found.label)
    for clause in found.plan.clauses:
        encoders = found.encoders.get(clause.id, [])
        kinds = sorted({e.kind for e in encoders})
        summary = f"{len(encoders)} 处（{'、'.join(kinds)}）" if encoders else "未编码"
        click.echo(f"「{clause.id}」 {clause.title}  {summary}")
