"""The 科技型企业 flag (行动计划一: 到2022年底40家以上, 到2025年600家), kept by 区科技局 from its list.

Only 区科技局's liaison or head changes it: one enterprise by its 统一社会信用代码, or the bureau's list as a
workbook (sheet 「科技型企业」: 统一社会信用代码, 入库日期, 有效期至). A list with a malformed row imports nothing,
each problem named by sheet, row and column; codes not in the registry are reported and left out, never created
(the registry is 区经济信息委's). Each change is a change-log record (source tech_list or tech_form) in the
transaction that writes it, so the goals count the flag as at any day (engine.policy.pool.goals).
"""
from __future__ import annotations

import builtins
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.identity.org import DepartmentDirectory
from engine.policy import workbooks
from engine.policy.cells import as_date, restore
from engine.policy.pool import uscc
from engine.policy.pool.enterprises import ImportFailed, _problem
from engine.storage.models import Enterprise, EnterpriseChange

TECH_DEPARTMENT = "区科技局"
EDIT_ROLES = {"liaison", "department_head"}
SHEET = "科技型企业"
COLUMNS = [("uscc", "统一社会信用代码"), ("tech_since", "入库日期"), ("tech_valid_until", "有效期至")]


def may_edit(session: Session, actor: Actor) -> bool:
    """区科技局's liaison or head (server-side: every change checks it)."""
    if not (actor.roles & EDIT_ROLES) or actor.department_id is None:
        return False
    return DepartmentDirectory.of(session).name_of(actor.department_id) == TECH_DEPARTMENT



def clean(raw: dict) -> tuple[dict, dict[str, str]]:
    """The code and the two dates, and per-field Chinese errors (入库日期 required, 有效期至 optional)."""
    out: dict = {}
    errors: dict[str, str] = {}
    problem = uscc.problem(str(raw.get("uscc")) if raw.get("uscc") not in (None, "") else None)
    if problem:
        errors["uscc"] = problem
    else:
        out["uscc"] = uscc.normalise(str(raw["uscc"]))
    for field, header in COLUMNS[1:]:
        try:
            out[field] = as_date(raw.get(field))
        except ValueError:
            errors[field] = f"「{header}」应为日期 YYYY-MM-DD"
    if "tech_since" in out and out["tech_since"] is None:
        errors["tech_since"] = "「入库日期」不能为空"
    if out.get("tech_since") and out.get("tech_valid_until") and out["tech_valid_until"] < out["tech_since"]:
        errors["tech_valid_until"] = "「有效期至」不能早于入库日期"
    return out, errors


class TechService:
    def __init__(self, db, clock):
        self.db, self.clock = db, clock

    def can_edit(self, actor: Actor) -> bool:
        with self.db.read() as session:
            return may_edit(session, actor)

    def can_view(self, actor: Actor) -> bool:
        """区科技局 and the central roles (the list feeds the goals they follow)."""
        return actor.sees_all or actor.is_admin or self.can_edit(actor)

    def _check(self, session: Session, actor: Actor) -> None:
        if not may_edit(session, actor):
            raise PermissionDenied(f"科技型企业名单由{TECH_DEPARTMENT}维护，只有其联络员和分管负责人可以修改")

    def _apply(self, session: Session, e: Enterprise, since: date | None, until: date | None, actor: str,
               source: str) -> bool:
        changes = {f: [_iso(getattr(e, f)), _iso(v)] for f, v in (("tech_since", since), ("tech_valid_until", until))
                   if getattr(e, f) != v}
        if not changes:
            return False
        e.tech_since, e.tech_valid_until = since, until
        session.add(EnterpriseChange(enterprise_id=e.id, at=self.clock(), actor=actor, source=source, changes=changes))
        return True

    def set_flag(self, actor: Actor, raw: dict, clear: bool = False) -> str:
        """Flag one enterprise (or clear its flag); returns its name."""
        with self.db.write() as session:
            self._check(session, actor)
            data, errors = clean(raw)
            if clear:  # clearing needs only the code
                errors = {k: v for k, v in errors.items() if k == "uscc"}
            if "uscc" in data and not errors.get("uscc"):
                enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == data["uscc"]))
                if enterprise is None:
                    errors["uscc"] = f"统一社会信用代码 {data['uscc']} 不在企业库中（请先由区经济信息委登记）"
            if errors:
                raise ValidationFailed(errors, "科技型企业信息有误")
            since, until = (None, None) if clear else (data["tech_since"], data["tech_valid_until"])
            self._apply(session, enterprise, since, until, actor.username, "tech_form")
            return enterprise.name

    def import_list(self, actor: Actor, content: bytes, field: str = "file") -> dict:
        """Import 区科技局's list in one transaction: {updated, unchanged, unknown: [{row, uscc}]}."""
        with self.db.read() as session:
            self._check(session, actor)
        problems: builtins.list[dict] = []
        with workbooks.open_upload(content, field) as book:
            if SHEET not in book.sheetnames:
                raise ValidationFailed({field: f"工作簿中没有名为「{SHEET}」的工作表"
                                               "（列：统一社会信用代码、入库日期、有效期至）"})
            rows = [[restore(v) for v in values] for values in book.rows(SHEET)]
        header = [str(h).strip() if h is not None else "" for h in (rows[0] if rows else [])]
        index = {f: header.index(t) for f, t in COLUMNS if t in header}
        for f, title in COLUMNS[:2]:
            if f not in index:
                problems.append(_problem(SHEET, 1, title, "缺少这一列"))
        cleaned: dict[str, tuple[int, dict]] = {}
        for number, values in enumerate(rows[1:] if not problems else [], start=2):
            if all(v in (None, "") for v in values):
                continue
            data, errors = clean({f: values[i] if i < len(values) else None for f, i in index.items()})
            problems += [_problem(SHEET, number, dict(COLUMNS)[f], m) for f, m in errors.items()]
            if not errors and data["uscc"] in cleaned:
                problems.append(_problem(SHEET, number, "统一社会信用代码", f"与第 {cleaned[data['uscc']][0]} 行重复"))
            cleaned.setdefault(data.get("uscc", f"#{number}"), (number, data))
        if problems:
            raise ImportFailed(problems)
        with self.db.write() as session:
            self._check(session, actor)
            found = {e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(list(cleaned))))}
            updated = unchanged = 0
            unknown = []
            for code, (number, data) in cleaned.items():
                if code not in found:
                    unknown.append({"row": number, "uscc": code})
                elif self._apply(session, found[code], data["tech_since"], data["tech_valid_until"], actor.username,
                                 "tech_list"):
                    updated += 1
                else:
                    unchanged += 1
            return {"updated": updated, "unchanged": unchanged, "unknown": unknown}

    def listing(self, day: date, limit: int = 100, offset: int = 0) -> tuple[builtins.list[dict], int, int]:
        """The flagged enterprises (newest first), how many are flagged, and how many are valid on ``day``."""
        flagged = Enterprise.tech_since.is_not(None)
        valid = flagged & (Enterprise.tech_since <= day) & (
            Enterprise.tech_valid_until.is_(None) | (Enterprise.tech_valid_until >= day))
        with self.db.read() as session:
            total = session.scalar(select(func.count(Enterprise.id)).where(flagged)) or 0
            current = session.scalar(select(func.count(Enterprise.id)).where(valid)) or 0
            rows = session.execute(select(Enterprise.id, Enterprise.name, Enterprise.uscc, Enterprise.tech_since,
                                          Enterprise.tech_valid_until).where(flagged)
                                   .order_by(Enterprise.tech_since.desc(), Enterprise.id).limit(limit).offset(offset))
            out = [{"id": i, "name": n, "uscc": c, "since": s, "until": u,
                    "valid": s <= day and (u is None or u >= day)} for i, n, c, s, u in rows]
            return out, total, current


def _iso(value):
    return value.isoformat() if value else None
