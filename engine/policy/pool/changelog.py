"""The registry's change log as people read it: Chinese field labels, names instead of user ids, amounts
in 万元 (「服务专员：— → 张某（officer）」, 「2023 年营业收入：— → 1,800.00 万元」). The stored records keep
field names and plain values (engine.storage.models.EnterpriseChange)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.policy.pool.eligibility import FIGURE_LABELS
from engine.storage.models import EnterpriseChange, User

# Fields written by the pool's procedures (admission, removal) besides the registry's own columns.
OTHER_LABELS = {"service_officer_id": "服务专员", "service_officer": "服务专员", "created": "新建企业",
                "in_pool": "培育库", "pool_since": "入库日期", "pool_valid_until": "入库有效期至",
                "reason": "移出原因", "instance": "流程编号", "tech_since": "科技型企业入库日期",
                "tech_valid_until": "科技型企业有效期至"}


def history(session: Session, enterprise_id: int, field_labels: dict[str, str], tiers: dict[str, str]) -> list[dict]:
    """The enterprise's change records, newest first: {at, actor, actor_name, source, changes, described}."""
    changes = list(session.scalars(select(EnterpriseChange).where(EnterpriseChange.enterprise_id == enterprise_id)
                                   .order_by(EnterpriseChange.id.desc())))
    ids = {v for c in changes for v in (c.changes or {}).get("service_officer_id", []) if isinstance(v, int)}
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    actors = {c.actor for c in changes if c.actor}
    names = dict(session.execute(select(User.username, User.display_name)
                                 .where(User.username.in_(actors))).all()) if actors else {}
    labels = {**field_labels, **OTHER_LABELS}
    return [{"at": c.at, "actor": c.actor, "source": c.source, "changes": c.changes,
             "actor_name": names.get(c.actor) or ("系统" if c.actor in (None, "system") else c.actor),
             "described": described(c.changes or {}, people, labels, tiers)} for c in changes]


def _value(field: str, value, people: dict[int, User], tiers: dict[str, str]) -> str:
    if value is None or value == "":
        return "—"
    if field == "service_officer_id":
        user = people.get(value)
        return f"{user.display_name}（{user.username}）" if user is not None else f"用户 {value}（已删除）"
    if field == "tier":
        return tiers.get(value, str(value))
    if field == "in_pool":
        return "在库" if value else "未入库"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def described(changes: dict, people: dict[int, User], labels: dict[str, str], tiers: dict[str, str]) -> list[dict]:
    """One record's changes: [{field, label, old, new}] in words."""
    out = []
    for field, pair in changes.items():
        old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        year, _, key = field.partition(".")
        if key in FIGURE_LABELS and year.isdigit():
            label = f"{year} 年{FIGURE_LABELS[key]}"
            old_text, new_text = (f"{v / 10000:,.2f} 万元" if isinstance(v, int | float) else "—" for v in (old, new))
        else:
            label = labels.get(field, field)
            old_text, new_text = _value(field, old, people, tiers), _value(field, new, people, tiers)
        out.append({"field": field, "label": label, "old": old_text, "new": new_text})
    return out
