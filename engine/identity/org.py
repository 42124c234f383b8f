"""Organisation and policy data: departments (with aliases), roles, users, the 30 measures.

The source data is ``engine/data/*.json``, transcribed from the policy and checked against its
text by ``tests/test_policy_data.py``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import DepartmentNotFound, EngineError, UserNotFound
from engine.storage.models import Department, DepartmentAlias, Measure, MeasureUnit, User, UserRole

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DISPATCHER_DEPARTMENT = "区经济信息委"

ROLES = {
    "liaison": "部门联络员",
    "department_head": "分管负责人",
    "handler": "承办人",
    "dispatcher": "交办员（区经济信息委）",
    "leading_group_office": "领导小组办公室",
    "group_leader": "领导小组组长",
    "deputy_group_leader": "领导小组副组长",
    "service_officer": "服务专员",
    "designer": "流程设计人员",
    "admin": "系统管理员",
}
# Roles whose holders work across departments: they see every department's tasks. The leading group's
# 组长 and 副组长 are district leaders: they see across departments too.
GLOBAL_ROLES = frozenset({"dispatcher", "leading_group_office", "group_leader", "deputy_group_leader",
                          "service_officer", "admin"})
# The leading group's district leaders (挂牌督办, 领导批示); they sit in the district government's office.
LEADER_ROLES = ("group_leader", "deputy_group_leader")
LEADERS_DEPARTMENT = "区政府办"
DEMO_PASSWORD = "zjtx-demo-2026"


def load_departments_data() -> list[dict]:
    return json.loads((DATA_DIR / "departments.json").read_text(encoding="utf-8"))


def load_measures_data() -> list[dict]:
    return json.loads((DATA_DIR / "measures.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class DepartmentRef:
    id: int
    name: str


class DepartmentDirectory:
    """Resolves department names and aliases. Departments are few (tens): load them once."""

    def __init__(self, session: Session):
        self._by_name: dict[str, DepartmentRef] = {}
        self._by_id: dict[int, DepartmentRef] = {}
        for dep in session.scalars(select(Department)):
            ref = DepartmentRef(dep.id, dep.name)
            self._by_name[dep.name] = ref
            self._by_id[dep.id] = ref
        for alias in session.scalars(select(DepartmentAlias)):
            self._by_name[alias.alias] = self._by_id[alias.department_id]

    @classmethod
    def of(cls, session: Session) -> DepartmentDirectory:
        """The directory for this transaction, shared between transactions until departments change."""
        from engine.storage.refcache import cached

        return cached(session, "org", cls)

    def find(self, name: str) -> DepartmentRef | None:
        return self._by_name.get(name.strip()) if isinstance(name, str) else None

    def get(self, name: str) -> DepartmentRef:
        ref = self.find(name)
        if ref is None:
            raise DepartmentNotFound(name)
        return ref

    def name_of(self, department_id: int) -> str:
        return self._by_id[department_id].name

    def by_id(self, department_id: int) -> DepartmentRef:
        return self._by_id[department_id]


def seed_departments(session: Session, data: list[dict] | None = None) -> int:
    """Insert or update the district's departments and aliases (the policy's, unless given). Returns the number
    of departments."""
    existing = {d.name: d for d in session.scalars(select(Department))}
    data = data if data is not None else load_departments_data()
    for order, item in enumerate(data):
        dep = existing.get(item["name"])
        if dep is None:
            dep = Department(name=item["name"])
            session.add(dep)
        dep.short_code = item["short_code"]
        dep.leading_group_member = item["leading_group_member"]
        dep.sort_order = order
        current = {a.alias for a in dep.aliases}
        for alias in item["aliases"]:
            if alias not in current:
                dep.aliases.append(DepartmentAlias(alias=alias))
    session.flush()
    return len(data)


def seed_measures(session: Session) -> int:
    directory = DepartmentDirectory.of(session)
    data = load_measures_data()
    for item in data:
        measure = session.get(Measure, item["no"])
        if measure is None:
            measure = Measure(no=item["no"])
            session.add(measure)
        measure.section = item["section"]
        measure.title = item["title"]
        measure.text = item["text"]
        measure.units.clear()
        position = 0
        for kind in ("lead", "responsible"):
            for name in item[kind]:
                measure.units.append(MeasureUnit(
                    department_id=directory.get(name).id, kind=kind,
                    position=position, name_as_written=name))
                position += 1
    session.flush()
    return len(data)


def create_user(session: Session, username: str, display_name: str, department: str,
                roles: list[str], password: str | None = None, email: str | None = None,
                password_hash: str | None = None, mobile: str | None = None) -> User:
    if not password and not password_hash:
        raise EngineError("必须为用户设置密码")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise EngineError(f"未知角色：{'、'.join(sorted(unknown))}")
    taken = EngineError(f"用户名「{username}」已存在")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise taken
    dep = DepartmentDirectory.of(session).get(department)
    user = User(username=username, display_name=display_name, department_id=dep.id,
                password_hash=password_hash or generate_password_hash(password), email=email, mobile=mobile,
                roles=[UserRole(role=r) for r in roles])
    try:
        with session.begin_nested():  # a name another district's account has (which this district cannot see)
            session.add(user)
            session.flush()
    except IntegrityError:
        raise taken from None
    return user


def seed_demo_users(session: Session, password: str = DEMO_PASSWORD, prefix: str = "") -> int:
    """A liaison, a head and a 承办人 for every department, plus the central roles. Idempotent. Another
    district's demo accounts carry its ``prefix`` (ps_dispatcher) and no mobile numbers."""
    existing = set(session.scalars(select(User.username)))
    # Demo accounts share one password: hash it once (scrypt is deliberately slow).
    shared_hash = generate_password_hash(password)
    created = 0
    office = DepartmentDirectory.of(session).get(DISPATCHER_DEPARTMENT).name  # 区经济信息委, or a 县's own name
    central = [
        ("dispatcher", f"{office}交办员", DISPATCHER_DEPARTMENT, ["dispatcher"]),
        ("office", "领导小组办公室", DISPATCHER_DEPARTMENT, ["leading_group_office"]),
        ("officer", "服务专员", DISPATCHER_DEPARTMENT, ["service_officer"]),
        ("designer", "流程设计人员", DISPATCHER_DEPARTMENT, ["designer"]),
        ("admin", "系统管理员", DISPATCHER_DEPARTMENT, ["admin"]),
    ]
    for dep in session.scalars(select(Department).order_by(Department.sort_order)):
        central.append((f"{dep.short_code}_liaison", f"{dep.name}联络员", dep.name, ["liaison"]))
        central.append((f"{dep.short_code}_head", f"{dep.name}分管负责人", dep.name, ["department_head"]))
    # The leading group's 组长 and 副组长 (district leaders) last: the numbers of the accounts before stay as they were.
    central += [("leader", "领导小组组长", LEADERS_DEPARTMENT, ["group_leader"]),
                ("deputy_leader", "领导小组副组长", LEADERS_DEPARTMENT, ["deputy_group_leader"])]
    # 承办人 after them all, for the same reason.
    central.extend((f"{dep.short_code}_handler", f"{dep.name}承办人", dep.name, ["handler"])
                   for dep in session.scalars(select(Department).order_by(Department.sort_order)))
    taken = set(session.scalars(select(User.mobile).where(User.mobile.is_not(None))))
    for number, (username, display, department, roles) in enumerate(central, start=1):
        mobile = f"1380000{number:04d}"  # demo numbers: 13800000001 for the dispatcher, and so on
        username = prefix + username
        if username in existing:
            continue
        create_user(session, username, display, department, roles, password_hash=shared_hash,
                    email=f"{username}@zjtx.qianjiang.example",
                    mobile=None if mobile in taken or prefix else mobile)
        created += 1
    return created


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise UserNotFound(username)
    return user


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


class MeasureRow(TypedDict):
    """``zjtx measures --json`` (stable: README "Stable --json output")."""
    no: int
    title: str
    lead: list[str]
    responsible: list[str]
    section: str
    text: str


class DepartmentRow(TypedDict):
    """``zjtx departments --json`` (stable)."""
    name: str
    short_code: str
    aliases: list[str]
    leading_group_member: bool


def measures_as_data(session: Session) -> list[MeasureRow]:
    """The measures as the policy states them (unit names as written)."""
    out: list[MeasureRow] = []
    for m in session.scalars(select(Measure).order_by(Measure.no)):
        out.append({
            "no": m.no,
            "title": m.title,
            "lead": [u.name_as_written for u in m.units if u.kind == "lead"],
            "responsible": [u.name_as_written for u in m.units if u.kind == "responsible"],
            "section": m.section,
            "text": m.text,
        })
    return out


def departments_as_data(session: Session) -> list[DepartmentRow]:
    out: list[DepartmentRow] = []
    for d in session.scalars(select(Department).order_by(Department.sort_order, Department.id)):
        out.append({
            "name": d.name,
            "short_code": d.short_code,
            "aliases": [a.alias for a in d.aliases],
            "leading_group_member": d.leading_group_member,
        })
    return out


def save_department(session: Session, name: str, aliases: list[str], leading_group_member: bool,
                    short_code: str | None = None, original: str | None = None) -> None:
    """Create a department or update one (its aliases and leading-group membership).

    Names and aliases must stay unique across all departments; errors are per field, in Chinese.
    """
    from engine.errors import ValidationFailed

    name = (name or "").strip()
    aliases = [a.strip() for a in aliases if a and a.strip()]
    errors = {}
    if not name:
        errors["name"] = "「部门名称」为必填项"
    directory = DepartmentDirectory.of(session)
    current = directory.find(original) if original else None
    for label, value in [("name", name)] + [("aliases", a) for a in aliases]:
        other = directory.find(value)
        if other is not None and (current is None or other.id != current.id):
            errors[label] = f"「{value}」已是「{other.name}」的名称或别名"
    if current is None:
        code = (short_code or "").strip()
        if not code or not code.replace("_", "").isalnum() or not code.isascii():
            errors["short_code"] = "「英文代码」只能由字母、数字和下划线组成"
        elif session.scalar(select(Department.id).where(Department.short_code == code)):
            errors["short_code"] = f"英文代码「{code}」已被使用"
    if errors:
        raise ValidationFailed(errors)
    if current is None:
        order = (session.scalar(select(Department.sort_order).order_by(Department.sort_order.desc()).limit(1)) or 0) + 1
        dep = Department(name=name, short_code=short_code.strip(), sort_order=order)
        session.add(dep)
    else:
        dep = session.get(Department, current.id)
        dep.name = name
    dep.leading_group_member = leading_group_member
    keep = [a for a in dep.aliases if a.alias in aliases]
    dep.aliases = keep + [DepartmentAlias(alias=a) for a in aliases if a not in {k.alias for k in keep}]
    session.flush()
