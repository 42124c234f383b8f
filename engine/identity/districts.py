"""区县: the districts of one deployment (docs/districts.md), and creating one with its units, first users and
procedures.

A district's units are its own (a 彭水县 has its 县经济信息委); the procedures shipped with the product name the
units as 黔江区's policy writes them (区经济信息委), so a district whose units are named otherwise carries those
names as aliases of its own units (:func:`county_units`), which is what the directory resolves a diagram's
``department`` by.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import ValidationFailed
from engine.identity import org
from engine.identity.accounts import MIN_PASSWORD
from engine.storage import district
from engine.storage.models import District, User

# The web layer's way to the unit of work's district (it does not import storage).
enter = district.enter
scope = district.scope
ALL = district.ALL

# 重庆市's division codes: 5001xx for 区, 5002xx for 县 (500114 黔江区, 500243 彭水苗族土家族自治县); the city itself,
# whose 市经济信息委 sees across districts (engine/policy/city.py), is 500000 重庆市.
CODE = re.compile(r"^500[12]\d{2}$")
CITY_CODE, CITY_NAME, CITY_KIND = "500000", "重庆市", "市"
# Chongqing's 38 districts and counties (26 区, 12 县), by division code.
CHONGQING = tuple((code, name) for code, name in (
    ("500114", "黔江区"), ("500243", "彭水县"), ("500101", "万州区"), ("500102", "涪陵区"), ("500103", "渝中区"),
    ("500104", "大渡口区"), ("500105", "江北区"), ("500106", "沙坪坝区"), ("500107", "九龙坡区"), ("500108", "南岸区"),
    ("500109", "北碚区"), ("500110", "綦江区"), ("500111", "大足区"), ("500112", "渝北区"), ("500113", "巴南区"),
    ("500115", "长寿区"), ("500116", "江津区"), ("500117", "合川区"), ("500118", "永川区"), ("500119", "南川区"),
    ("500120", "璧山区"), ("500151", "铜梁区"), ("500152", "潼南区"), ("500153", "荣昌区"), ("500154", "开州区"),
    ("500155", "梁平区"), ("500156", "武隆区"), ("500229", "城口县"), ("500230", "丰都县"), ("500231", "垫江县"),
    ("500233", "忠县"), ("500235", "云阳县"), ("500236", "奉节县"), ("500237", "巫山县"), ("500238", "巫溪县"),
    ("500240", "石柱县"), ("500241", "秀山县"), ("500242", "酉阳县")))
PREFIX = re.compile(r"^[a-z][a-z0-9]{0,9}_$")


@dataclass(frozen=True)
class DistrictRow:
    id: int
    code: str
    name: str
    kind: str
    active: bool


def rows(session: Session) -> list[DistrictRow]:
    return [DistrictRow(d.id, d.code, d.name, d.kind, d.active)
            for d in session.scalars(select(District).order_by(District.code))]


_NAMES: dict[int, str] = {}  # district id → name: districts are made a few times a year, and never renamed here
_DB: list = []  # the deployment's database, for a name not read yet (engine.bootstrap binds it)


def bind(db) -> None:
    _DB[:] = [db]
    _NAMES.clear()  # another database (a test's), whose districts are its own


def city_id(db) -> int | None:
    """The city's own district (重庆市本级, kind 市), if the deployment has it: read across districts."""
    with district.across(), db.read() as session:
        return session.scalar(select(District.id).where(District.kind == CITY_KIND, District.active.is_(True)))


def name_of(district_id: int | None = None) -> str:
    """The name of ``district_id`` (the current district by default), e.g. 彭水县; documents and notices name it."""
    district_id = district_id or district.current()
    if district_id not in _NAMES and _DB:
        with district.across(), _DB[0].read() as session:
            _NAMES.update(dict(session.execute(select(District.id, District.name)).all()))
    return _NAMES.get(district_id, "黔江区")


def place_of(district_id: int | None = None) -> str:
    """The short name documents are numbered with: 黔江区 → 黔江, 彭水县 → 彭水 (忠县 stays 忠县)."""
    name = name_of(district_id)
    return name[:-1] if len(name) > 2 and name[-1] in "区县市" else name


def county_units(short_name: str, full_name: str) -> list[dict]:
    """黔江区's units as another district's: 区科技局 → 县科技局 (for a 县), 黔江区税务局 → 彭水县税务局, the government
    office's full name the district's own; each keeps the names the shipped procedures and the measures use
    (黔江区's) as aliases, which the district's administrator may change in 组织机构 like any other."""
    level, place = short_name[-1], short_name[:-1]

    def own(text: str) -> str:
        text = text.replace("重庆市黔江区", full_name).replace("黔江区", short_name)
        return level + text[1:] if text.startswith("区") else text

    units = []
    for unit in org.load_departments_data():
        name = unit["name"]
        renamed = own(name).replace("黔江", place)
        aliases = [own(a) for a in unit["aliases"]]
        aliases += [n for n in (name, *unit["aliases"]) if n != renamed and n not in aliases]
        units.append({**unit, "name": renamed, "aliases": [a for a in aliases if a != renamed]})
    return units


def check(session: Session, code: str, name: str, prefix: str | None, admin: dict | None = None) -> dict[str, str]:
    """What is wrong with a new district's code, name, demo prefix and first administrator (field → message)."""
    errors: dict[str, str] = {}
    city = code == CITY_CODE
    if not (CODE.match(code or "") or city):
        errors["code"] = "「区划代码」应为重庆市区县的 6 位行政区划代码，如 500243（全市为 500000）"
    elif session.scalar(select(District.id).where(District.code == code)) is not None:
        errors["code"] = f"「区划代码」{code} 已有区县"
    if city and name != CITY_NAME:
        errors["name"] = f"「区县名称」区划代码 {CITY_CODE} 是{CITY_NAME}本级，名称应为“{CITY_NAME}”"
    elif not city and (not name or not name.endswith(("区", "县")) or len(name) > 20):
        errors["name"] = "「区县名称」应以“区”或“县”结尾，不超过 20 个字，如 彭水县"
    elif session.scalar(select(District.id).where(District.name == name)) is not None:
        errors["name"] = f"「区县名称」{name} 已存在"
    if prefix is not None and not PREFIX.match(prefix):
        errors["prefix"] = "「演示账号前缀」应为小写字母开头、以下划线结尾，如 ps_"
    if admin is not None:
        errors.update(_admin_problems(session, admin))
    return errors


def _admin_problems(session: Session, admin: dict) -> dict[str, str]:
    errors = {}
    username = (admin.get("username") or "").strip()
    if not username or not username.replace("_", "").isalnum() or not username.isascii() or len(username) > 64:
        errors["admin_username"] = "「管理员用户名」只能由字母、数字和下划线组成"
    else:
        with district.across():  # a user name is unique in the whole deployment
            if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
                errors["admin_username"] = f"「管理员用户名」{username} 已被使用（用户名在全市部署中唯一）"
    if len(admin.get("password") or "") < MIN_PASSWORD:
        errors["admin_password"] = f"「管理员初始密码」至少 {MIN_PASSWORD} 位"
    return errors


def parse_units(data) -> list[dict]:
    """A district's units as given in a units file (a JSON array of {"name", "short_code", "aliases"?,
    "leading_group_member"?}); ValidationFailed names each unit that is wrong."""
    if not isinstance(data, list) or not data:
        raise ValidationFailed({"units": "应为单位的 JSON 数组，如 [{\"name\": \"县经济信息委\", \"short_code\": "
                                         "\"economy_info_commission\"}]"}, "单位文件有误")
    errors = {}
    for number, unit in enumerate(data, start=1):
        if not isinstance(unit, dict) or not all(isinstance(unit.get(k), str) and unit[k].strip()
                                                 for k in ("name", "short_code")):
            errors[f"第 {number} 个单位"] = "须有 name（单位名称）和 short_code（英文简码）"
        elif not isinstance(unit.get("aliases", []), list):
            errors[f"第 {number} 个单位"] = "aliases 应为名称的数组"
    if errors:
        raise ValidationFailed(errors, "单位文件有误")
    return [{"name": u["name"].strip(), "short_code": u["short_code"].strip(), "aliases": u.get("aliases", []),
             "leading_group_member": bool(u.get("leading_group_member", False))} for u in data]


def create(db, code: str, name: str, *, full_name: str | None = None, units: list[dict] | None = None,
           demo_prefix: str | None = None, admin: dict | None = None) -> int:
    """A new district with its units and first users, in one transaction: the demo accounts of every unit
    (usernames starting with ``demo_prefix``) or one administrator (``admin``: username, display_name, password).
    Its procedures are deployed by the caller in the district's scope (:meth:`engine.bootstrap.Engine.create_district`)."""
    code, name = (code or "").strip(), (name or "").strip()
    with db.write() as session:
        errors = check(session, code, name, demo_prefix, admin)
        if errors:
            raise ValidationFailed(errors, "无法新建区县")
        row = District(code=code, name=name, kind=name[-1])
        session.add(row)
        session.flush()
        district_id = row.id
    try:
        with district.scope(district_id), db.write() as session:
            org.seed_departments(session, units or county_units(name, full_name or f"重庆市{name}"))
            org.seed_measures(session)
            if demo_prefix is not None:
                org.seed_demo_users(session, prefix=demo_prefix)
            if admin:
                org.create_user(session, admin["username"].strip(), admin.get("display_name") or "系统管理员",
                                org.DISPATCHER_DEPARTMENT, ["admin"], password=admin["password"])
    except Exception:
        with db.write() as session:  # nothing of a district whose units could not be written stays behind
            session.delete(session.get(District, district_id))
        raise
    return district_id
