"""The demo's other districts (issue 20): 重庆市本级 (its 市经济信息委 sees the districts side by side) and 彭水县,
with units of its own names (县科技局 …) and a few items of its own — one waiting for its 交办员, one dispatched to two
of its units, one its 交办员 escalated to the city (市区联动). Demo accounts: cq_… and ps_…, the demo password."""
from __future__ import annotations

from engine.identity.authz import actor_for
from engine.identity.districts import CITY_CODE, CITY_NAME
from engine.storage import district

COUNTY = ("500243", "彭水县", "重庆市彭水苗族土家族自治县")
ITEMS = (
    {"enterprise_name": "彭水某食品有限公司", "category": "融资", "source": "服务专员",
     "description": "扩大生产线需要流动资金贷款，希望协调银行对接。", "contact": "刘经理 13900001234"},
    {"enterprise_name": "彭水某新材料有限公司", "category": "用地", "source": "走访",
     "description": "二期项目用地报批进度慢，需协调规划和园区。"},
    {"enterprise_name": "彭水某苗绣文化有限公司", "category": "人才", "source": "联席会议",
     "description": "非遗技艺传承人才引进需要市级人才政策支持。"},
)


def load_districts(services) -> int:
    """重庆市本级 and 彭水县 with their demo, unless the deployment has other districts already; returns the items made."""
    if len(services.districts()) > 1:
        return 0
    services.create_district(CITY_CODE, CITY_NAME, demo_prefix="cq_")
    code, name, full = COUNTY
    county = services.create_district(code, name, full_name=full, demo_prefix="ps_")
    with district.scope(county):
        w, who = services.workflows, "ps_dispatcher"
        started = [w.start("problem_dispatch", dict(data), actor=who) for data in ITEMS]
        for item in started[1:]:  # the first waits for the 交办员's 研判
            triage = item["open_tasks"][0]["id"]
            dispatch = w.complete(triage, {"triage_decision": "accept"}, who)["instance"]["open_tasks"][0]["id"]
            w.complete(dispatch, {"lead_department": "县科技局", "lead_due_working_days": 5,
                                  "co_handlers": [{"department": "县商务委", "due_working_days": 3}]}, who)
        with services.db.read() as session:
            actor = actor_for(session, who)
        services.city_links.escalate(actor, started[2]["id"], "涉及市级人才政策，需市经济信息委协调市人力社保局")
    return len(ITEMS)
