"""The administrator's user list: one page of users matching a search, in the database.

The users table is small (a few hundred rows at most), but the page is still bounded: one query for
a page of rows (plus one to know whether another page follows), matching the user name, the Chinese
name or the mobile number by substring and the department by name, short code or alias.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.identity.org import DepartmentDirectory
from engine.storage.models import User

PER_PAGE = 30
MAX_QUERY = 50


def search(session: Session, text: str = "", department: str = "", page: int = 1, per_page: int = PER_PAGE) -> dict:
    """``{"users": [...], "page", "has_next", "query", "department"}``; an unknown department matches nobody."""
    directory = DepartmentDirectory.of(session)
    text = (text or "").strip()[:MAX_QUERY]
    conditions = []
    if text:
        conditions.append(or_(User.username.contains(text, autoescape=True),
                              User.display_name.contains(text, autoescape=True),
                              User.mobile.contains(text, autoescape=True)))
    department = (department or "").strip()
    if department:
        found = directory.find(department)
        conditions.append(User.department_id == (found.id if found is not None else -1))
    page = max(page, 1)
    rows = list(session.scalars(select(User).where(*conditions).order_by(User.department_id, User.username)
                                .limit(per_page + 1).offset((page - 1) * per_page)))
    users = [{"id": u.id, "username": u.username, "display_name": u.display_name, "email": u.email,
              "mobile": u.mobile, "department": directory.name_of(u.department_id), "roles": sorted(u.role_names),
              "active": u.active} for u in rows[:per_page]]
    return {"users": users, "page": page, "has_next": len(rows) > per_page, "query": text, "department": department}
