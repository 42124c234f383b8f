"""``zjtx district``: the districts of the deployment, and creating one with its units and first users."""
from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli.base import _print_json, _services, main
from engine.identity.districts import parse_units


@main.group("district")
def district_group():
    """区县：本部署的区县，及新建区县（其单位、首批用户和随系统发布的流程）。"""


@district_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def district_list(ctx, as_json):
    """列出本部署的区县。"""
    rows = _services(ctx).districts()
    if as_json:
        _print_json([{"id": d.id, "code": d.code, "name": d.name, "kind": d.kind, "active": d.active} for d in rows])
        return
    for d in rows:
        click.echo(f"{d.code}  {d.name}{'' if d.active else '（已停用）'}")


def _units(path: Path | None) -> list[dict] | None:
    """The units file: a JSON array of {"name", "short_code", "aliases"?, "leading_group_member"?}."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.BadParameter(f"不是有效的 JSON：{exc}", param_hint="--units") from None
    return parse_units(data)


@district_group.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--full-name", help="全称（如 重庆市彭水苗族土家族自治县），用于政府办等单位的全称")
@click.option("--units", "units_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="本区县的单位（JSON）；不填则按黔江区的单位设置改为本区县名称")
@click.option("--demo-prefix", help="为每个单位建演示账号，用户名以此开头（如 ps_）")
@click.option("--admin", "admin_username", help="首位系统管理员的用户名")
@click.option("--admin-password", help="首位系统管理员的密码（与 --admin 同用）")
@click.option("--templates", "template_keys", metavar="all|KEY,…",
              help="从全市模板起步：all 为全部模板，或逗号分隔的流程标识；其余流程用随系统发布的版本")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def district_create(ctx, code, name, full_name, units_file, demo_prefix, admin_username, admin_password,
                    template_keys, as_json):
    """新建区县 CODE NAME：其单位、首批用户（演示账号或一位管理员）和流程（所选全市模板，其余随系统发布）。"""
    if bool(admin_username) != bool(admin_password):
        raise click.BadParameter("--admin 与 --admin-password 须同时提供", param_hint="--admin")
    if not admin_username and demo_prefix is None:
        raise click.BadParameter("请用 --admin/--admin-password 指定首位管理员，或用 --demo-prefix 建演示账号",
                                 param_hint="--admin")
    admin = {"username": admin_username, "password": admin_password} if admin_username else None
    services = _services(ctx)
    templates = None
    if template_keys:
        templates = ["*"] if template_keys.strip() == "all" else \
            [k.strip() for k in template_keys.replace("，", ",").split(",") if k.strip()]
    district_id = services.create_district(code, name, full_name=full_name, units=_units(units_file),
                                           demo_prefix=demo_prefix, admin=admin, templates=templates)
    if as_json:
        _print_json({"id": district_id, "code": code, "name": name})
        return
    click.echo(f"已新建区县 {name}（{code}）：单位、用户和流程均已就绪。用 --district {code} 在该区县执行命令。")
