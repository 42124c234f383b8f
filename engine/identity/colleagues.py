"""A department's 承办人: the staff a liaison can assign (转办) a task to."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage.models import User, UserRole

HANDLER = "handler"


def colleagues(session: Session, department_id: int) -> dict[str, str]:
    """The department's active 承办人: user name → display name, in the order they were created."""
    rows = session.execute(select(User.username, User.display_name).join(UserRole)
                           .where(User.department_id == department_id, User.active.is_(True),
                                  UserRole.role == HANDLER).order_by(User.id))
    return {username: name for username, name in rows}
