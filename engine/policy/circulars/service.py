"""Circulars (通报): drafted from the period's figures, approved, numbered, published, never changed after.

The figures come from :mod:`engine.policy.dispatch.figures` (one definition each); the draft text is generated
and the 区经济信息委 may edit it before the leading-group office approves. Publishing assigns the
next number of the year (黔江专精特新通报〔2026〕3号), freezes figures and text, and tells every
leading-group member unit.
"""
from __future__ import annotations

import builtins
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import localtime
from engine.deadlines import ladder
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity import districts
from engine.localtime import chinese_date
from engine.policy.circulars import development, document
from engine.policy.circulars.document import issuer
from engine.policy.circulars.evidence import freeze
from engine.policy.dispatch.figures import compute, labels, overdue_items
from engine.policy.measures.reports import ASSESSMENTS, latest_status
from engine.policy.pool.enterprises import goals_in
from engine.policy.supervision.naming import departments as named_departments
from engine.policy.supervision.naming import named_in
from engine.storage.models import Circular, Department, User, UserRole

NUMBER_FORMAT = "{place}专精特新通报〔{year}〕{seq}号"  # {place}: the district's short name (黔江)
_COLUMNS = ["received", "due", "closed", "on_time_rate", "overdue_now", "returns", "extension_requests",
            "first_time_rate", "satisfaction_rate", "solved_rate", "enterprise_satisfaction_rate",
            "enterprise_solved_rate", "not_visited"]


def table_columns(figures: dict | None = None) -> list[str]:
    """The circular's table: the unit figures, then one column per level of the ladder. For a stored
    circular, only the columns its figures hold (a level added later leaves its documents as they were)."""
    columns = _COLUMNS + [level.figure for level in ladder.current().levels]
    rows = (figures or {}).get("table") or []
    return [c for c in columns if c in rows[0]] if rows else columns


def _title(start: date, end: date) -> str:
    if start.day == 1 and (end + timedelta(days=1)).day == 1 and start.month == end.month:
        return f"关于{start.year}年{start.month}月“专精特新”企业问题交办办理情况的通报"
    return f"关于{chinese_date(start)}至{chinese_date(end)}“专精特新”企业问题交办办理情况的通报"


def _day(iso: str) -> str:
    """An ISO date of the figures in the documents' one form (2026年10月9日)."""
    try:
        return chinese_date(date.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def _fmt(value, percent=False) -> str:
    if value is None:
        return "—"
    return f"{value}%" if percent else str(value)


def draft_text(title: str, figures: dict) -> str:
    table = figures["table"]
    levels, supervision = ladder.current().levels, ladder.current().supervision
    lines = [title, "", "区级有关部门、单位：",
             f"现将{_day(figures['period'][0])}至{_day(figures['period'][1])}企业问题交办办理情况通报如下。", "",
             "一、总体情况"]
    total = {k: sum(r[k] for r in table) for k in ("received", "closed", "closed_on_time", "overdue_now",
                                                   supervision.figure)}
    rate = _fmt(round(100.0 * total["closed_on_time"] / total["closed"], 1) if total["closed"] else None, True)
    lines.append(f"期内共交办 {total['received']} 件次，办结 {total['closed']} 件次，按期办结率 {rate}；"
                 f"截至期末逾期未办结 {total['overdue_now']} 件次，"
                 f"启动{supervision.label} {total[supervision.figure]} 次。")
    lines += ["", "二、各单位办理情况（按按期办结率排序）"]
    for r in table:
        lines.append(f"{r['rank']}. {r['department']}：收到交办 {r['received']} 件次，办结 {r['closed']} 件次，"
                     f"按期办结率 {_fmt(r['on_time_rate'], True)}，逾期未办结 {r['overdue_now']} 件次，"
                     + "、".join(f"{level.label} {r[level.figure]} 次" for level in levels) + "。")
    lines += ["", "三、逾期未办结事项"]
    lines += [f"{i}. {o['business_key']} {o['title']}（{o['department']}，{o['step']}，期限 {_day(o['due'])}）"
              for i, o in enumerate(figures["overdue_items"], 1)] or ["无。"]
    lines += ["", "四、通报批评"]
    if figures["named_for_criticism"]:
        lines.append(f"{'、'.join(figures['named_for_criticism'])}有事项经{supervision.label}仍未按期办结，予以通报批评，"
                     "请于 10 个工作日内书面报告整改情况。")
    office = figures.get("named_by_office") or []  # the office's choice (督办、挂牌督办), beside the computed list
    if office:
        lines.append("经领导小组办公室督办，对以下单位予以点名：")
        lines += [f"{i}. {n['department']}：{n['business_key']}「{n['matter']}」，{n['reason'].rstrip('。')}"
                  + (f"（{n['colour']}色督办单）" if n.get("colour") else "") + "。" for i, n in enumerate(office, 1)]
        lines.append("请被点名单位于 10 个工作日内书面报告整改情况。")
    elif not figures["named_for_criticism"]:
        lines.append("本期无。")
    measures = figures.get("measures")
    if measures:
        c = measures["counts"]
        lines += ["", "五、30 项措施推进情况",
                  f"已完成 {c['已完成']} 项，推进中 {c['推进中']} 项，滞后 {c['滞后']} 项，"
                  f"尚无报告 {measures['unreported']} 项。"]
        lines += [f"滞后：第 {m['no']} 项（{m['lead']}{'' if m['lead_is_written'] else '，未列牵头单位，由其汇总'}）"
                  f"{m['comment'] or ''}" for m in measures["lagging"]]
    heading = "六、企业发展和培育目标进展" if measures else "五、企业发展和培育目标进展"
    if figures.get("development"):  # as at the period end, with the trend (engine.policy.circulars.development)
        lines += ["", *development.text_lines(figures["development"], heading, _day(figures["period"][1]))]
    else:
        lines += ["", heading]
        if figures["goals"]:  # counted as at the period end (engine.policy.pool.goals)
            lines.append(f"截至{_day(figures['period'][1])}：")
        lines += [f"{g['goal']}：{g['actual']} 家" + (f"（目标 {g['target']} 家）" if g["target"] else "")
                  for g in figures["goals"]]
    lines += ["", issuer()]
    return "\n".join(lines)


def criticized(figures: dict) -> list[str]:
    """The units a circular names: those its figures name, then those the office named (each once); each is
    asked for a rectification report."""
    office = named_departments(figures.get("named_by_office") or [])
    return list(dict.fromkeys([*figures.get("named_for_criticism", []), *office]))


class PeriodDrafted(ValidationFailed):
    """A circular of this period exists already: ``circular_id`` is the one to go to."""

    def __init__(self, circular_id: int, name: str):
        super().__init__({"period": f"该统计期已起草通报「{name}」"}, "该统计期已有通报")
        self.circular_id = circular_id


def period_of(month: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    """The period a person chose: start and end dates, or a month (YYYY-MM); Chinese errors per field."""
    errors: dict[str, str] = {}
    if start or end:
        days = {}
        for field, label, value in (("period_start", "起始日期", start), ("period_end", "截止日期", end)):
            try:
                days[field] = date.fromisoformat((value or "").strip())
            except ValueError:
                errors[field] = f"「{label}」应为日期，如 2026-10-01" if value else f"请填写「{label}」"
        if not errors:
            return days["period_start"], days["period_end"]
    else:
        try:
            first = date.fromisoformat(f"{(month or '').strip()}-01")
            return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        except ValueError:
            errors["month"] = "「统计月份」应为年月，如 2026-10" if month else "请选择「统计月份」，或填写起止日期"
    raise ValidationFailed(errors, "通报统计期有误")


class CircularService:
    def __init__(self, db, tz: ZoneInfo, clock, notifier=None, base_url: str = ""):
        self.db = db
        self.tz = tz
        self.clock = clock
        self.notifier = notifier
        self.base_url = base_url.rstrip("/")

    # -- inside a process's transaction (script helpers) -------------------------------------
    def draft_in(self, session: Session, start: date, end: date, instance_id: int | None = None) -> Circular:
        figures = compute(session, start, end, self.tz)
        figures["overdue_items"] = overdue_items(session, start, end, self.tz)
        figures["goals"] = goals_in(session, end, self.tz)  # the registry as at the period end
        figures["named_by_office"] = named_in(session, start, end, self.tz)  # the office's 点名 in the period
        figures["development"] = development.section(session, start, end, self.tz)  # 企业发展情况
        status = latest_status(session, end)
        figures["measures"] = {
            "counts": {a: sum(1 for v in status.values() if v["assessment"] == a) for a in ASSESSMENTS},
            "unreported": 30 - len(status),
            "lagging": [{"no": no, **v} for no, v in sorted(status.items()) if v["assessment"] == "滞后"],
        }
        title = _title(start, end)
        circular = Circular(period_start=start, period_end=end, title=title, status="draft", figures=figures,
                            text=draft_text(title, figures), instance_id=instance_id, created_at=self.clock())
        session.add(circular)
        session.flush()
        return circular

    @staticmethod
    def _own(session: Session, circular_id: int, instance_id: int | None) -> Circular:
        """The circular, which must be the one drafted by ``instance_id`` when that is given: a process
        saves and publishes its own draft, never another run's."""
        circular = session.get(Circular, circular_id) if 0 < circular_id < 2**63 else None
        if circular is None:
            raise ValidationFailed({"circular_id": f"通报 {circular_id} 不存在"})
        if instance_id is not None and circular.instance_id != instance_id:
            raise ValidationFailed({"circular_id": f"通报 {circular_id} 不是本流程实例（{instance_id}）起草的，未修改"})
        return circular

    @classmethod
    def save_text_in(cls, session: Session, circular_id: int, text: str, instance_id: int | None = None) -> None:
        circular = cls._own(session, circular_id, instance_id)
        if circular.status != "draft":
            raise Conflict(f"{circular.number} 已发布，不能修改")
        circular.text = text

    def publish_in(self, session: Session, circular_id: int, by: str | None, instance_id: int | None = None,
                   number_format: str = NUMBER_FORMAT) -> str:
        """Number and publish; ``number_format``: the diagram's property number_format (a district setting)."""
        if "{year}" not in number_format or "{seq}" not in number_format:
            raise ValidationFailed({"number_format": f"通报文号格式「{number_format}」须含 {{year}} 和 {{seq}}"})
        circular = self._own(session, circular_id, instance_id)
        if circular.status == "published":
            raise Conflict(f"{circular.number} 已发布")
        from engine.policy.circulars.objections import unresolved

        if unresolved(session, circular.id):  # the diagram's approval refuses first; this guards any other path
            raise Conflict("尚有成员单位对通报数据的异议未处理，不能发布")
        now = self.clock()
        year = now.astimezone(self.tz).year
        seq = (session.scalar(select(func.max(Circular.seq)).where(Circular.year == year)) or 0) + 1
        circular.year, circular.seq = year, seq
        circular.number = (number_format.replace("{year}", str(year)).replace("{seq}", str(seq))
                           .replace("{place}", districts.place_of()))
        circular.status, circular.published_at, circular.published_by = "published", now, by
        circular.figures = freeze(session, circular, self.tz)  # the lists behind each figure, kept as issued
        if self.notifier is not None:
            from notifications.outbox import Notice

            users = list(session.scalars(
                select(User).join(Department, User.department_id == Department.id).join(UserRole)
                .where(Department.leading_group_member.is_(True), UserRole.role.in_(("liaison", "department_head")),
                       User.active.is_(True))).unique())
            self.notifier.notify(session, Notice(
                key=f"circular:{circular.id}", template="circular_published",
                context={"number": circular.number, "title": circular.title,
                         "named": "、".join(criticized(circular.figures))},
                link=f"{self.base_url}/circulars/{circular.id}"), users, None, now)
        return circular.number

    def check_new_period(self, start: date, end: date) -> None:
        """A period a person may start a circular for: ended (before today, in Beijing), in order, and
        not drafted before (PeriodDrafted names the circular)."""
        today = localtime.today(self.clock, self.tz)
        if end < start:
            raise ValidationFailed({"period_end": "「截止日期」不能早于「起始日期」"}, "通报统计期有误")
        if end >= today:
            latest = chinese_date(today - timedelta(days=1))
            raise ValidationFailed({"period_end": f"统计期尚未结束：「截止日期」最晚为 {latest}"}, "通报统计期有误")
        with self.db.read() as session:
            existing = session.scalar(select(Circular).where(Circular.period_start == start, Circular.period_end == end)
                                      .order_by(Circular.id.desc()).limit(1))
        if existing is not None:
            raise PeriodDrafted(existing.id, existing.number or existing.title)

    def of_instance(self, instance_id: int) -> Circular | None:
        """The circular an evaluation_circular instance drafted."""
        with self.db.read() as session:
            return session.scalar(select(Circular).where(Circular.instance_id == instance_id).limit(1))

    # -- reading ---------------------------------------------------------------------------
    def list(self, include_drafts: bool) -> list[Circular]:
        with self.db.read() as session:
            query = select(Circular).order_by(Circular.period_end.desc(), Circular.id.desc())
            if not include_drafts:
                query = query.where(Circular.status == "published")
            return list(session.scalars(query))

    def get(self, circular_id: int, include_drafts: bool) -> Circular:
        with self.db.read() as session:
            circular = session.get(Circular, circular_id)
            if circular is None or (circular.status != "published" and not include_drafts):
                raise NotFound(f"通报 {circular_id} 不存在")
            return circular

    def objections(self, circular_id: int) -> builtins.list[dict]:
        """The objections to the circular's figures and their resolutions (engine.policy.circulars.objections)."""
        from engine.policy.circulars.objections import listing

        with self.db.read() as session:
            return listing(session, circular_id)

    def publisher(self, circular: Circular) -> str | None:
        """Who published ``circular`` as people read it: the user's display name (stored is the user name)."""
        if not circular.published_by:
            return None
        with self.db.read() as session:
            name = session.scalar(select(User.display_name).where(User.username == circular.published_by))
        return name or circular.published_by

    def docx(self, circular: Circular) -> bytes:
        """The circular as a Word document in the 公文 layout (engine.policy.circulars.document), dated the
        day it was published (a draft: the day it was drafted), in Beijing."""
        day = localtime.local(circular.published_at or circular.created_at or self.clock(), self.tz).date()
        columns, names = table_columns(circular.figures), labels()
        header = ["名次", "单位", *[names.get(c, c) for c in columns]]
        fixed = {(c["department"], c["figure"]) for c in circular.figures.get("corrections") or []}  # 经核对更正
        rows = [[str(row["rank"]), row["department"], *[_fmt(row[c], c.endswith("rate"))
                                                        + ("（更正）" if (row["department"], c) in fixed else "")
                                                        for c in columns]]
                for row in circular.figures.get("table", [])]
        return document.render(circular.number, circular.title, circular.text, day, header, rows)
