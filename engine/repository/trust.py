"""Trusted process versions: only a version an administrator has marked trusted may run effect
operations (engine/runtime/operations.py). Marking and withdrawing are audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, ProcessNotFound
from engine.identity import authz
from engine.storage.models import AuditRecord, ProcessDefinition, ProcessVersion


def set_trusted(session: Session, key: str, version: int, trusted: bool, actor, now: datetime) -> bool:
    """Mark version ``version`` of process ``key`` trusted (or not) as ``actor``, who must be an
    administrator. Returns whether anything changed."""
    who = authz.actor_for(session, actor)
    if not who.is_admin:
        raise PermissionDenied("只有系统管理员可以标记流程版本是否可信")
    row = session.scalar(select(ProcessVersion).join(ProcessDefinition)
                         .where(ProcessDefinition.key == key, ProcessVersion.version == version))
    if row is None:
        raise ProcessNotFound(f"{key} 第 {version} 版")
    if row.trusted == trusted:
        return False
    row.trusted = trusted
    session.add(AuditRecord(action="version_trusted" if trusted else "version_untrusted", actor=who.username,
                            at=now, data={"process": key, "version": version, "version_id": row.id}))
    return True


def trusted_versions(session: Session) -> set[tuple[str, int]]:
    """(process key, version number) of every trusted version."""
    return set(session.execute(select(ProcessDefinition.key, ProcessVersion.version).join(ProcessVersion)
                               .where(ProcessVersion.trusted.is_(True))).all())
