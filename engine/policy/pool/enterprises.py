"""The enterprise registry: records, yearly figures, change history, Excel import and export.

Template (documented in README): workbook with sheet 「企业」 (one row per enterprise, by
统一社会信用代码) and sheet 「年度数据」 (one row per enterprise and year, amounts in yuan).
An import checks every row and imports nothing when any row is wrong, listing each problem by
sheet, row and column.
"""
from __future__ import annotations

import builtins
import io
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import localtime
from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.identity.authz import Actor
from engine.policy import workbooks
from engine.policy.cells import append_row, as_date, restore
from engine.policy.pool import changelog, scope, uscc
from engine.policy.pool.eligibility import FIGURES, industries
from engine.policy.pool.goals import goals_in  # also read from here by the circulars
from engine.storage.models import Enterprise, EnterpriseChange, EnterpriseYear, User

TIERS = {"none": "无", "innovative": "创新型中小企业", "specialized": "专精特新中小企业",
         "little_giant": "专精特新“小巨人”企业"}
EDIT_ROLES = {"dispatcher", "service_officer", "admin"}
ENTERPRISE_COLUMNS = [  # (field, header)
    ("name", "企业名称"), ("uscc", "统一社会信用代码"), ("registered_on", "注册日期"),
    ("in_district", "是否在区内登记"), ("independent_legal_person", "是否独立法人"), ("industry", "行业"),
    ("employees", "从业人员"), ("tier", "梯度"), ("tier_since", "认定日期"), ("tier_valid_until", "有效期至"),
    ("service_officer", "服务专员用户名"), ("sector", "所属领域"), ("key_field", "重点支持领域"), ("financial_type", "金融业态"),
]
YEAR_COLUMNS = [("uscc", "统一社会信用代码"), ("year", "年度"), ("revenue", "营业收入（元）"),
                ("rd_expense", "研发投入（元）"), ("net_profit", "净利润（元）"), ("total_assets", "资产总额（元）"),
                ("total_liabilities", "负债总额（元）")]
YES, NO = {"是", "true", "True", "1", "Y", "y"}, {"否", "false", "False", "0", "N", "n"}
MAX_IMPORT_BYTES = workbooks.MAX_UPLOAD_BYTES
BEIJING = ZoneInfo("Asia/Shanghai")  # the settings' default zone (bootstrap passes the configured one)



def _bool(value) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError("应为“是”或“否”")


def _number(value) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError("应为数字")
    return float(str(value).replace(",", "").strip()) if not isinstance(value, (int, float)) else float(value)


def clean_enterprise(raw: dict, officers: dict[str, int]) -> tuple[dict, dict[str, str]]:
    """Typed fields from raw input, and per-field Chinese errors."""
    out, errors = {}, {}
    names = {i["name"] for i in industries()}
    tiers_by_label = {v: k for k, v in TIERS.items()}
    for field, header in ENTERPRISE_COLUMNS:
        value = raw.get(field)
        try:
            if field == "name":
                value = (value or "").strip()
                if len(value) < 2:
                    raise ValueError("不能为空")
            elif field == "uscc":
                message = uscc.problem(str(value) if value is not None else None)
                if message:
                    raise ValueError(message)
                value = uscc.normalise(str(value))
            elif field in ("registered_on", "tier_since", "tier_valid_until"):
                value = as_date(value)
            elif field in ("in_district", "independent_legal_person"):
                value = _bool(value)
            elif field == "industry":
                value = (value or "").strip() or None
                if value is not None and value not in names:
                    raise ValueError("应为《中小企业划型标准规定》的行业之一，如“工业”“软件和信息技术服务业”")
            elif field == "employees":
                number = _number(value)
                if number is not None and (number < 0 or number != int(number)):
                    raise ValueError("应为非负整数")
                value = int(number) if number is not None else None
            elif field == "tier":
                value = (value or "none").strip() if isinstance(value, str) or value is None else value
                value = tiers_by_label.get(value, value)
                if value not in TIERS:
                    raise ValueError("应为：" + "、".join(TIERS.values()))
            elif field in ("sector", "key_field", "financial_type", "service_officer"):  # scope: checked below
                value = (str(value) if value is not None else "").strip() or None
                if field == "service_officer" and value is not None and value not in officers:
                    raise ValueError(f"用户「{value}」不存在或不是服务专员")
        except ValueError as exc:
            message = str(exc)
            if "isoformat" in message or "Invalid isoformat" in message or "could not convert" in message:
                message = "格式不正确"
            errors[field] = f"「{header}」{message}" if not message.startswith("统一社会信用代码") else message
            continue
        out[field] = value
    for field, message in scope.check(out.get("sector"), out.get("key_field"), out.get("financial_type")).items():
        errors.setdefault(field, message)
    if out.get("tier") not in (None, "none") and not out.get("tier_since"):
        errors.setdefault("tier_since", "「认定日期」在有梯度时必填")
    return out, errors


def clean_year(raw: dict) -> tuple[dict, dict[str, str]]:
    out, errors = {}, {}
    for field, header in YEAR_COLUMNS[1:]:
        try:
            value = _number(raw.get(field))
            if field == "year":
                if value is None or value != int(value) or not 1990 <= value <= 2100:
                    raise ValueError("应为四位年份")
                value = int(value)
            elif field in ("revenue", "rd_expense", "total_assets", "total_liabilities") and value is not None \
                    and value < 0:
                raise ValueError("不能为负数")
        except ValueError as exc:
            errors[field] = f"「{header}」{exc if '应为' in str(exc) or '不能' in str(exc) else '应为数字'}"
            continue
        out[field] = value
    return out, errors


class EnterpriseService:
    def __init__(self, db, clock, tz: ZoneInfo = BEIJING):
        from engine.policy.pool.tech import TechService  # it reads this module's import helpers

        self.db, self.clock, self.tz = db, clock, tz
        self.tech = TechService(db, clock)  # 区科技局's 科技型企业 flag
        self.on_saved: Callable[[Session, Enterprise], None] | None = None  # after each save: the 拟培育库's gap

    @staticmethod
    def _officers(session: Session) -> dict[str, int]:
        from engine.storage.models import UserRole

        return dict(session.execute(select(User.username, User.id).join(UserRole)
                                    .where(UserRole.role == "service_officer")).all())

    @staticmethod
    def _check_edit(actor: Actor) -> None:
        if not (actor.is_admin or actor.roles & EDIT_ROLES):
            raise PermissionDenied("只有区经济信息委、服务专员和管理员可以修改企业信息")

    @staticmethod
    def visible_industries(session: Session, actor: Actor) -> set[str] | None:
        """None: every enterprise; else the sectors the actor's department reviews."""
        if actor.sees_all:
            return None
        from engine.identity.org import DepartmentDirectory

        mine = DepartmentDirectory.of(session).name_of(actor.department_id) if actor.department_id else None
        return {i["name"] for i in industries() if i["department"] == mine}

    def list(self, actor: Actor, q: str | None = None, industry: str | None = None, tier: str | None = None,
             in_pool: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        with self.db.read() as session:
            conditions: builtins.list = []
            visible = self.visible_industries(session, actor)
            if visible is not None:
                conditions.append(Enterprise.industry.in_(sorted(visible)))
            if q:
                conditions.append(or_(Enterprise.name.contains(q.strip()), Enterprise.uscc == q.strip().upper()))
            if industry:
                conditions.append(Enterprise.industry == industry)
            if tier:
                conditions.append(Enterprise.tier == tier)
            if in_pool is not None:
                conditions.append(Enterprise.in_pool.is_(in_pool))
            total = session.scalar(select(func.count(Enterprise.id)).where(*conditions))
            rows = session.scalars(select(Enterprise).where(*conditions).order_by(Enterprise.name)
                                   .limit(limit).offset(offset))
            return [self._as_dict(session, e) for e in rows], total

    def _as_dict(self, session: Session, e: Enterprise) -> dict:
        officer = session.get(User, e.service_officer_id) if e.service_officer_id else None
        return {
            "id": e.id, "name": e.name, "uscc": e.uscc, "registered_on": e.registered_on, "in_district": e.in_district,
            "independent_legal_person": e.independent_legal_person, "industry": e.industry, "employees": e.employees,
            "tier": e.tier, "tier_label": TIERS.get(e.tier, e.tier), "tier_since": e.tier_since,
            "tier_valid_until": e.tier_valid_until, "in_pool": e.in_pool, "pool_since": e.pool_since,
            "pool_valid_until": e.pool_valid_until,
            "service_officer": officer.username if officer else None,
            "service_officer_name": officer.display_name if officer else None, "sector": e.sector,
            "key_field": e.key_field, "key_supported": scope.key_supported(e.key_field),
            "financial_type": e.financial_type, "tech_since": e.tech_since, "tech_valid_until": e.tech_valid_until,
            "years": {y.year: {k: getattr(y, k) for k in FIGURES} for y in e.years},
        }

    def get(self, enterprise_id: int, actor: Actor | None = None) -> dict:
        with self.db.read() as session:
            e = session.get(Enterprise, enterprise_id)
            visible = self.visible_industries(session, actor) if actor is not None else None
            if e is None or (visible is not None and e.industry not in visible):
                raise NotFound(f"企业 {enterprise_id} 不存在")
            out = self._as_dict(session, e)
            out["history"] = changelog.history(session, e.id, dict(ENTERPRISE_COLUMNS), TIERS)
            return out

    def save(self, actor: Actor, raw: dict, years: builtins.list[dict] | None = None, enterprise_id: int | None = None) -> int:
        """Create or update one enterprise (and its yearly figures) with a change record."""
        self._check_edit(actor)
        with self.db.write() as session:
            data, errors = clean_enterprise(raw, self._officers(session))
            cleaned_years = []
            for i, row in enumerate(years or []):
                year, year_errors = clean_year(row)
                errors.update({f"years[{i}].{k}": v for k, v in year_errors.items()})
                cleaned_years.append(year)
            existing = session.scalar(select(Enterprise).where(Enterprise.uscc == data.get("uscc")))
            if existing is not None and existing.id != enterprise_id:
                errors["uscc"] = f"统一社会信用代码 {data['uscc']} 已登记为「{existing.name}」"
            if errors:
                raise ValidationFailed(errors, "企业信息有误")
            target = session.get(Enterprise, enterprise_id) if enterprise_id else None
            if enterprise_id and target is None:
                raise NotFound(f"企业 {enterprise_id} 不存在")
            target = self.apply_in(session, target, data, cleaned_years, actor.username, "form")
            return target.id

    def apply_in(self, session: Session, target: Enterprise | None, data: dict, years: builtins.list[dict],
                 actor: str | None, source: str) -> Enterprise:
        """Write cleaned fields and yearly figures into the registry in the caller's transaction, with the change
        log (``source``: form, import, enterprise…) and the 拟培育库 gap: every save of the registry goes here."""
        officers = self._officers(session)
        if target is None:
            target = Enterprise(uscc=data["uscc"], name=data["name"], tier="none", in_pool=False)
            session.add(target)
            changes = {"created": [None, data["name"]]}
        else:
            changes = {}
        values = dict(data)
        values["service_officer_id"] = officers.get(values.pop("service_officer", None) or "")
        for field, value in values.items():
            old = getattr(target, field)
            if old != value:
                changes[field] = [_plain(old), _plain(value)]
                setattr(target, field, value)
        by_year = {y.year: y for y in target.years}
        for row in years:
            current = by_year.get(row["year"])
            if current is None:
                current = EnterpriseYear(year=row["year"])
                target.years.append(current)
            for key in FIGURES:
                if key in row and getattr(current, key) != row[key]:
                    changes[f"{row['year']}.{key}"] = [getattr(current, key), row[key]]
                    setattr(current, key, row[key])
        target.updated_at = self.clock()
        session.flush()
        if changes:
            session.add(EnterpriseChange(enterprise_id=target.id, at=self.clock(), actor=actor, source=source,
                                         changes=changes))
        if self.on_saved is not None:
            self.on_saved(session, target)
        return target

    # -- Excel ---------------------------------------------------------------------------
    def import_workbook(self, actor: Actor, content: bytes, field: str = "file") -> dict:
        """Import the template workbook: all rows or none. Errors: [{sheet, row, column, message}].
        ``field``: the upload's form field, the key of a refused file's error (see engine.policy.workbooks)."""
        self._check_edit(actor)
        problems: builtins.list[dict] = []
        with workbooks.open_upload(content, field, MAX_IMPORT_BYTES) as book:
            if "企业" not in book.sheetnames:
                raise ValidationFailed({field: "工作簿中没有名为「企业」的工作表，请使用导出的模板"})
            enterprises = self._read_sheet(book, ENTERPRISE_COLUMNS, "企业", problems)
            year_rows = self._read_sheet(book, YEAR_COLUMNS, "年度数据", problems) \
                if "年度数据" in book.sheetnames else []
        with self.db.write() as session:
            officers = self._officers(session)
            cleaned: dict[str, tuple[dict, list]] = {}
            for row_number, raw in enterprises:
                data, errors = clean_enterprise(raw, officers)
                for field, message in errors.items():
                    problems.append(_problem("企业", row_number, dict(ENTERPRISE_COLUMNS).get(field, field), message))
                if "uscc" in data:
                    if data["uscc"] in cleaned:
                        problems.append(_problem("企业", row_number, "统一社会信用代码", "与前面的行重复"))
                    cleaned[data["uscc"]] = (data, [])
            known = set(cleaned) | set(session.scalars(select(Enterprise.uscc)))
            for row_number, raw in year_rows:
                code = uscc.normalise(str(raw.get("uscc") or ""))
                data, errors = clean_year(raw)
                for field, message in errors.items():
                    problems.append(_problem("年度数据", row_number, dict(YEAR_COLUMNS)[field], message))
                if code not in known:
                    problems.append(_problem("年度数据", row_number, "统一社会信用代码",
                                             f"企业 {code or '（空）'} 不在本次导入或企业库中"))
                    continue
                if code in cleaned:
                    cleaned[code][1].append(data)
                else:
                    cleaned[code] = (None, [data])
            if problems:
                session.rollback()
                raise ImportFailed(problems)
            created = updated = 0
            for code, (data, years) in cleaned.items():
                target = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
                if data is None:
                    data = {f: getattr(target, f) for f, _ in ENTERPRISE_COLUMNS if f != "service_officer"}
                    data["service_officer"] = next((u for u, i in officers.items() if i == target.service_officer_id),
                                                   None)
                created += target is None
                updated += target is not None
                self.apply_in(session, target, data, years, actor.username, "import")
            return {"created": created, "updated": updated, "years": sum(len(y) for _, y in cleaned.values())}

    @staticmethod
    def _read_sheet(book: workbooks.UploadedWorkbook, columns, name, problems) -> builtins.list[tuple[int, dict]]:
        rows = ([restore(v) for v in values] for values in book.rows(name))  # the export quoted formula-like text
        header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
        index = {}
        for field, title in columns:
            if title in header:
                index[field] = header.index(title)
            elif field in ("name", "uscc", "year"):
                problems.append(_problem(name, 1, title, "缺少这一列（请使用导出的模板）"))
        out = []
        for number, values in enumerate(rows, start=2):
            if values is None or all(v in (None, "") for v in values):
                continue
            out.append((number, {f: values[i] if i < len(values) else None for f, i in index.items()}))
        return out

    def goals(self) -> builtins.list[dict]:
        """The policy's goals (section 一) against the registry as it is today."""
        with self.db.read() as session:
            return goals_in(session, localtime.today(self.clock, self.tz), self.tz)

    def export_workbook(self) -> bytes:
        book = Workbook()
        sheet = book.active
        sheet.title = "企业"
        append_row(sheet, [title for _, title in ENTERPRISE_COLUMNS])
        years_sheet = book.create_sheet("年度数据")
        append_row(years_sheet, [title for _, title in YEAR_COLUMNS])
        with self.db.read() as session:
            officers = {i: u for u, i in self._officers(session).items()}
            for e in session.scalars(select(Enterprise).order_by(Enterprise.name)):
                append_row(sheet, [e.name, e.uscc, e.registered_on, _yes(e.in_district), _yes(e.independent_legal_person),
                              e.industry, e.employees, TIERS.get(e.tier, e.tier), e.tier_since, e.tier_valid_until,
                              officers.get(e.service_officer_id), e.sector, e.key_field, e.financial_type])
                for y in e.years:
                    append_row(years_sheet, [e.uscc, y.year, *[getattr(y, k) for k in FIGURES]])
        for ws in (sheet, years_sheet):
            for column in ws.columns:
                ws.column_dimensions[column[0].column_letter].width = 18
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


class ImportFailed(ValidationFailed):
    code = "import_failed"

    def __init__(self, problems: builtins.list[dict]):
        self.problems = problems
        super().__init__({f"{p['sheet']}!{p['row']}!{p['column']}": p["message"] for p in problems},
                         f"导入失败，共 {len(problems)} 处错误，未导入任何数据")

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "problems": self.problems}


def _problem(sheet: str, row: int, column: str, message: str) -> dict:
    return {"sheet": sheet, "row": row, "column": column,
            "message": f"工作表「{sheet}」第 {row} 行「{column}」：{message}"}


def _yes(value):
    return None if value is None else ("是" if value else "否")


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value
