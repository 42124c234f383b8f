"""台账 downloads as a service: which ledger, for which period and department, as whom.

A department's users get their own department's rows whatever department they ask for; the
district-wide roles choose one, or all. The workbooks themselves are built in :mod:`engine.policy.ledgers`.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor, actor_for
from engine.identity.org import DepartmentDirectory, DepartmentRef
from engine.policy import assessment, ledgers
from engine.policy.pool.enterprises import EnterpriseService

READER_ROLES = frozenset({"dispatcher", "leading_group_office", "admin", "department_head", "liaison",
                          "service_officer"})
TITLES = {"problems": "问题台账", "measures": "措施台账", "pool": "培育库台账"}
ASSESSMENT_ROLES = frozenset({"dispatcher", "leading_group_office", "admin"})  # 实绩考核 (the assessment office's)
FIRST_YEAR = 2024


class LedgerService:
    def __init__(self, db, tz: ZoneInfo, processes_dir: Path | None = None):
        self.db = db
        self.tz = tz
        self.processes_dir = processes_dir or assessment.PROCESSES_DIR

    def may_assess(self, actor: Actor) -> bool:
        return actor.is_admin or bool(actor.roles & ASSESSMENT_ROLES)

    def assessment_years(self) -> list[int]:
        """The years one may ask for: from FIRST_YEAR to this year (Beijing time), newest first."""
        return list(range(self._now().year, FIRST_YEAR - 1, -1))

    def _now(self) -> datetime:
        return datetime.now(self.tz)

    def assessment(self, actor: Actor | str | None, year) -> tuple[str, bytes]:
        """(title, .xlsx) of 实绩考核 for ``year``: dispatcher, leading_group_office and admin only."""
        with self.db.read() as session:
            actor = actor_for(session, actor)  # the command line passes a user name, or none (the system)
            if not self.may_assess(actor):
                raise PermissionDenied("只有区经济信息委（调度员）、领导小组办公室和管理员可以导出实绩考核")
            try:
                year = int(year)
            except (TypeError, ValueError):
                raise ValidationFailed({"year": "考核年度应为四位年份"}) from None
            if year not in self.assessment_years():
                raise ValidationFailed({"year": f"考核年度应在 {FIRST_YEAR} 年至今年之间"})
            result = assessment.assess(session, self.processes_dir, self.tz, year)
        content = assessment.workbook(result, self._now().strftime("%Y-%m-%d %H:%M（北京时间）"))
        return f"{year}年度实绩考核", content

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
