"""企业端 首页: what waits for the enterprise first (answers to rate, figures sent back, an admission in its
公示), then its problems under way with their lead unit and deadline, and where it stands for the pool."""
from __future__ import annotations

from flask import g, render_template

from web.qiye import bp, enterprise_required
from web.qiye.requests import requester
from web.security import services

RATE = "已答复，请评价"
FINISHED = ("已办结", "不予受理")
SHOWN = 5  # problems under way on the home page; 「我的诉求」 lists them all


@bp.get("/")
@enterprise_required
def home():
    items = services().enterprise_items.items(requester())
    portal = services().pool_portal
    check = portal.self_check(g.enterprise.enterprise_id)
    admission = next(iter(portal.admissions(g.enterprise.enterprise_id, limit=1)), None)  # the latest only
    update = check.get("latest_update")
    todo = [{"text": f"{i['category']}问题 {i['business_key']} 已答复，请查看并评价", "item": i["id"]}
            for i in items if i["status"] == RATE]
    if update and update["status"] == "refused":
        todo.append({"text": f"{update['year']} 年度数据未通过服务专员确认" + (
            f"（{update['reason']}）" if update.get("reason") else "") + "，请核对后重新报送", "pool": True})
    under_way = [i for i in items if i["status"] != RATE and i["status"] not in FINISHED]
    return render_template("qiye/home.html", todo=todo, under_way=under_way[:SHOWN], more=len(under_way) > SHOWN,
                           check=check, admission=admission if admission and not admission["finished"] else None)
