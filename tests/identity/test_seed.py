"""Seed data in the database: the policy's departments, aliases, measures and the demo users."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.identity.org import (
    DEMO_PASSWORD,
    DepartmentDirectory,
    get_user,
    load_departments_data,
    load_measures_data,
    measures_as_data,
    verify_password,
)
from engine.storage.models import Department, User

pytestmark = pytest.mark.sqlite_only


def test_seeded_measures_are_the_policys_measures(zjtx):
    with zjtx.db.read() as session:
        stored = measures_as_data(session)
    source = load_measures_data()
    assert len(stored) == 30
    for db_row, json_row in zip(stored, source, strict=True):
        for key in ("no", "title", "lead", "responsible", "section", "text"):
            assert db_row[key] == json_row[key], (db_row["no"], key)
    assert stored[24]["lead"] == [] and stored[27]["lead"] == []


def test_aliases_resolve_to_one_unit_and_the_leading_group_is_marked(zjtx):
    with zjtx.db.read() as session:
        directory = DepartmentDirectory(session)
        assert directory.get("区税务局") == directory.get("黔江区税务局")
        members = session.scalar(select(func.count(Department.id)).where(Department.leading_group_member))
        assert members == sum(d["leading_group_member"] for d in load_departments_data()) == 22
        assert session.scalar(select(Department.leading_group_member).where(Department.name == "区融媒体中心")) is False


def test_seeding_twice_changes_nothing(zjtx):
    with zjtx.db.read() as session:
        users_before = session.scalar(select(func.count(User.id)))
    assert zjtx.seed() == {"departments": 23, "measures": 30, "users_created": 0}
    with zjtx.db.read() as session:
        assert session.scalar(select(func.count(User.id))) == users_before == 7 + 3 * 23  # central roles, leaders; 3 per unit


def test_demo_users_have_hashed_passwords_and_roles(zjtx):
    with zjtx.db.read() as session:
        user = get_user(session, "science_tech_bureau_liaison")
        assert user.department.name == "区科技局" and user.role_names == {"liaison"}
        assert DEMO_PASSWORD not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert verify_password(user, DEMO_PASSWORD) and not verify_password(user, "wrong")
        assert get_user(session, "office").role_names == {"leading_group_office"}
