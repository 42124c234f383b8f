"""台账 downloads as a service: which ledger, for which period and department, as whom.

A department's users get their own department's rows whatever department they ask for; the
district-wide roles choose one, or all. The workbooks themselves are built in :mod:`engine.policy.ledgers`.
"""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from engine.errors import NotFound, PermissionDenied
from engine.identity.authz import Actor
from engine.identity.org import DepartmentDirectory, DepartmentRef
from engine.policy import ledgers
from engine.policy.pool.enterprises import EnterpriseService

READER_ROLES = frozenset({"dispatcher", "leading_group_office", "admin", "department_head", "liaison",
                          "service_officer"})
TITLES = {"problems": "问题台账", "measures": "措施台账", "pool": "培育库台账"}


class LedgerService:
    def __init__(self, db, tz: ZoneInfo):
        self.db = db
        self.tz = tz

    def workbook(self, actor: Actor, kind: str, start: date | None = None, end: date | None = None,
                 department: str | None = None) -> tuple[str, bytes]:
        """(title, .xlsx content) of ledger ``kind`` (problems, measures, pool). ``department``: a name
        (DepartmentNotFound if unknown), honoured for district-wide roles only."""
        if kind not in TITLES:
            raise NotFound(f"台账「{kind}」不存在")
        if not (actor.is_admin or actor.roles & READER_ROLES):
            raise PermissionDenied("没有权限下载台账")
        with self.db.read() as session:
            dep = self._department(DepartmentDirectory.of(session), actor, department)
            if kind == "problems":
                content = ledgers.problem_ledger(session, self.tz, start, end, dep.id if dep else None)
            elif kind == "measures":
                content = ledgers.measure_ledger(session, dep.name if dep else None)
            else:
                content = ledgers.pool_ledger(session, EnterpriseService.visible_industries(session, actor))
        return TITLES[kind], content

    @staticmethod
    def _department(directory: DepartmentDirectory, actor: Actor, name: str | None) -> DepartmentRef | None:
        if actor.sees_all:
            return directory.get(name) if name else None
        if actor.department_id is None:
            raise PermissionDenied("没有所属部门，不能下载部门台账")
        return directory.by_id(actor.department_id)
