"""``zjtx``: Setting up: the database, the organisation, demo data, deploying and validating diagrams, reference lists."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.base import _print_json, _services, main


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
    if result["users_created"]:
        click.echo("注意：演示账号（含系统管理员 admin）的密码是公开的，只用于演示和测试；正式使用请用 "
                   "zjtx seed --no-demo-users，再用 zjtx create-admin 用户名 创建管理员", err=True)


@main.command("create-admin")
@click.argument("username")
@click.option("--display-name", default="系统管理员", show_default=True, help="姓名")
@click.option("--email", default=None, help="邮箱（接收事故通知）")
@click.option("--reset-password", "reset", is_flag=True, help="用户已存在时：重设为新的随机密码并设为管理员")
@click.pass_context
def create_admin(ctx, username, display_name, email, reset):
    """创建系统管理员（或为已有用户重设密码），随机密码只显示一次。"""
    from engine.identity.accounts import provide_admin
    from engine.storage.models import AuditRecord

    services = _services(ctx)
    with services.db.write() as session:
        password, created = provide_admin(session, username, display_name, email, reset)
        session.add(AuditRecord(action="admin_created" if created else "admin_password_reset", actor="zjtx",
                                at=services.identity.clock(), data={"username": username}))
    click.echo(f"{'已创建管理员' if created else '已重设密码'}：{username}")
    click.echo(f"密码：{password}")
    click.echo("请妥善转交，首次登录后在「修改密码」中改为自己的密码。")


@main.command()
@click.pass_context
def demo(ctx):
    """写入演示数据：各环节的企业问题、预警/催办/督办、已发布的通报、公示中的入库申请、措施报告（库中已有事项时不做任何事）；另建重庆市本级和彭水县及其演示事项。"""
    from engine.policy.dispatch.demo import load_demo
    from engine.policy.dispatch.demo_districts import load_districts

    services = _services(ctx)
    n = load_demo(services)
    click.echo(f"已写入 {n} 件演示事项" if n else "数据库中已有事项，未写入演示数据")
    if load_districts(services):
        click.echo("另建重庆市本级（账号 cq_dispatcher 等，可看全市情况）和彭水县（账号 ps_dispatcher 等，单位为县科技局等），"
                   "密码同演示账号；彭水县有 3 件演示事项，其中 1 件已提请市级协调")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="变更说明")
@click.option("--as", "actor", help="部署人用户名")
@click.option("--if-missing", "if_missing", is_flag=True,
              help="只部署还没有任何版本的流程；已有不同版本的（如设计人员部署的新版本）不覆盖，逐个列出（make run 用）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deploy(ctx, files, note, actor, if_missing, as_json):
    """部署 BPMN/DMN 文件：内容有变化时生成新版本，相同内容不重复部署。"""
    services = _services(ctx)
    results = services.deploy(list(files), deployed_by=actor, note=note, missing_only=if_missing)
    if as_json:
        _print_json([r.to_dict() for r in results])
        return
    for r in results:
        if r.kept is not None:
            click.echo(kept_line(r.key, r.kept, services.settings.timezone))
            continue
        state = "新版本" if r.created else "内容未变，沿用"
        click.echo(f"{r.key}（{r.name}）：{state} v{r.version}")


def kept_line(key: str, kept: dict, tz: str) -> str:
    """The line for a process whose newer version the bundled diagram did not replace."""
    from engine.localtime import shown

    when = shown(kept["deployed_at"], tz)
    if kept["deployed_by"]:
        what = f"已有设计人员部署的新版本（第 {kept['version']} 版，{when} 由 {kept['deployed_by']} 部署）"
    else:
        what = f"已有与随附版本内容不同的第 {kept['version']} 版（{when} 部署）"
    return f"{key}：{what}，未覆盖；如需使用随附版本请在流程设计页面部署"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def validate(ctx, files, as_json):
    """校验 BPMN/DMN 文件（与部署前的校验相同；决策表可单独校验）；有问题时逐项列出并以非零状态退出。"""
    services = _services(ctx)
    with services.db.read() as session:
        report = services.registry.check(session, {f.name: f.read_bytes() for f in files})
    if as_json:
        _print_json(report)
    elif report["problems"]:
        click.echo(f"发现 {len(report['problems'])} 个问题：", err=True)
        for problem in report["problems"]:
            click.echo(f"  - {problem['message']}", err=True)
    else:
        _echo_decisions(report["decisions"])
        unused = [d["id"] for d in report["decisions"] if not d["used_by"]]
        click.echo(f"校验通过；决策表 {'、'.join(unused)} 目前没有流程使用，需与使用它的流程一起部署" if unused
                   else "校验通过，可以部署")
    if report["problems"]:
        sys.exit(1)


def _echo_decisions(decisions) -> None:
    for d in decisions:
        name = f"「{d['name']}」" if d["name"] else ""
        users = f"；使用它的流程：{'、'.join(d['used_by'])}" if d["used_by"] else ""
        click.echo(f"决策表 {d['id']}{name}（文件 {d['file']}）：命中策略 {d['hit_policy']}，"
                   f"输入 {d['inputs']} 个，输出 {d['outputs']} 个，规则 {d['rules']} 条{users}")


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


@main.command("secret-key")
@click.option("--path", type=click.Path(path_type=Path), default=None,
              help="密钥文件（默认 ZJTX_SECRET_KEY_FILE 或 instance/secret_key）")
def secret_key(path):
    """生成会话密钥文件（已存在则保留）；未设置 ZJTX_SECRET_KEY 时网页服务读取它。"""
    import os
    import secrets

    from engine.config import DEFAULT_SECRET_FILE

    target = path or Path(os.environ.get("ZJTX_SECRET_KEY_FILE") or DEFAULT_SECRET_FILE)
    if target.is_file() and target.read_text(encoding="utf-8").strip():
        click.echo(f"会话密钥文件已存在，未改动：{target}")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # readable by this account only
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32) + "\n")
    click.echo(f"已生成会话密钥文件：{target}（多个网页节点请使用同一个密钥，见 docs/deployment.md）")
