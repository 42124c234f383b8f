"""Demo registry records (``zjtx demo``): enterprises across the plan's scope with 重点支持 marks, tiers and
区科技局's 科技型企业 flags, so the registry's goals and the 科技型企业 page show real figures."""
from __future__ import annotations

from datetime import date

from engine.identity.authz import actor_for
from engine.policy.pool.uscc import check_digit

# (name, industry (2011 standard), sector, key field, financial 业态, tier, recognised (years ago, month), 科技型)
RECORDS = (
    ("重庆黔江某新材料科技有限公司", "工业", "工业", "战略性新兴产业", None, "specialized", (2, 3), True),
    ("重庆黔江某智能装备有限公司", "工业", "工业", "工业“四基”发展目录", None, "little_giant", (1, 7), True),
    ("重庆黔江某软件信息技术有限公司", "软件和信息技术服务业", "信息化（软件和信息技术服务）", "无", None,
     "innovative", (1, 5), True),
    ("黔江区某检验检测服务有限公司", "其他未列明行业", "研发设计与其他技术服务", "无", None, "innovative", (4, 7), True),
    ("重庆黔江某物流有限公司", "交通运输业", "货物运输、仓储和邮政快递服务", "无", None, "none", None, True),
    ("重庆黔江某融资担保有限公司", None, "金融服务", "无", "除贷款公司、小额贷款公司、典当行以外的其他金融机构",
     "none", None, False),
    ("黔江区某农家乐餐饮店", "餐饮业", "其他（不在培育范围）", "无", None, "none", None, False),
)


def _ago(today: date, years: int, month: int) -> date:
    return date(today.year - years, month, 1)


def load_registry(services, today: date) -> int:
    """Save the demo enterprises (as the dispatcher) and flag the 科技型企业 (as 区科技局). Returns how many."""
    with services.db.read() as session:
        dispatcher = actor_for(session, "dispatcher")
        bureau = actor_for(session, "science_tech_bureau_liaison")
    for n, (name, industry, sector, key, financial, tier, since, tech) in enumerate(RECORDS, start=1):
        body = f"91500114MA5U7{n:04d}"
        code = body + check_digit(body)
        recognised = _ago(today, *since) if since else None
        until = recognised.replace(year=recognised.year + 3, day=1) if recognised else None
        services.enterprises.save(dispatcher, {
            "name": name, "uscc": code, "registered_on": f"{today.year - 6}-04-18", "in_district": "是",
            "independent_legal_person": True, "industry": industry, "employees": 60 + 20 * n, "sector": sector,
            "key_field": key, "financial_type": financial, "tier": tier, "tier_since": recognised,
            "tier_valid_until": until, "service_officer": "officer"})
        if tech:
            services.enterprises.tech.set_flag(bureau, {"uscc": code, "tech_since": f"{today.year - 2}-06-01",
                                                        "tech_valid_until": f"{today.year + 1}-05-31"})
    return len(RECORDS)
