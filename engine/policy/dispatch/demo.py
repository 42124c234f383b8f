"""Demo items for a new installation (``zjtx demo``): a few enterprise problems at different steps."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.identity.org import load_departments_data
from engine.storage.models import ProcessInstance

DEMO_ITEMS = [
    {"enterprise_name": "重庆黔江某精密制造有限公司", "category": "用地", "source": "服务专员",
     "description": "二期厂房扩建缺少建设用地指标，需协调规划和园区解决。"},
    {"enterprise_name": "黔江某新材料科技有限公司", "category": "用工", "source": "联席会议",
     "description": "新产线投产需招聘熟练技工约60人，本地招聘困难。"},
    {"enterprise_name": "重庆某绿色食品有限公司", "category": "融资", "source": "企业",
     "description": "技改项目资金缺口约800万元，希望对接专精特新专属信贷产品。"},
    {"enterprise_name": "黔江某智能装备有限公司", "category": "用能", "source": "服务专员",
     "description": "扩产后用电负荷不足，需增容变压器。"},
]


def _liaison(name: str) -> str:
    codes = {d["name"]: d["short_code"] for d in load_departments_data()}
    return f"{codes[name]}_liaison"


def load_demo(services) -> int:
    """Start the demo items unless the database already holds instances. Returns how many started."""
    workflows, queries = services.workflows, services.queries
    with services.db.read() as session:
        if session.scalar(select(func.count(ProcessInstance.id))):
            return 0
    started = [workflows.start("problem_dispatch", dict(item), actor="dispatcher") for item in DEMO_ITEMS]

    def step(instance, bpmn_id, data, actor, department=None):
        for task in queries.tasks(instance_id=instance["id"]):
            if task["task"] == bpmn_id and department in (None, task["department"]):
                return workflows.complete(task["id"], data, actor)
        raise LookupError(bpmn_id)

    land, labour, finance, _energy = started
    # 2: dispatched to 区人力社保局 with 正阳工业园区管委会 co-handling; waiting to be signed.
    step(labour, "triage", {"triage_decision": "accept"}, "dispatcher")
    step(labour, "dispatch", {"lead_department": "区人力社保局", "lead_due_working_days": 10,
                              "co_handlers": [{"department": "正阳工业园区管委会", "due_working_days": 5}]},
         "dispatcher")
    # 1: signed by 区规划自然资源局, being handled.
    step(land, "triage", {"triage_decision": "accept"}, "dispatcher")
    step(land, "dispatch", {"lead_department": "区规划自然资源局", "lead_due_working_days": 15}, "dispatcher")
    step(land, "sign", {"sign_decision": "sign"}, _liaison("区规划自然资源局"))
    # 3: answered, reviewed, rated satisfied: closed and archived.
    step(finance, "triage", {"triage_decision": "accept"}, "dispatcher")
    step(finance, "dispatch", {"lead_department": "区金融办", "lead_due_working_days": 7}, "dispatcher")
    step(finance, "sign", {"sign_decision": "sign"}, _liaison("区金融办"))
    step(finance, "handle", {"handle_action": "answer", "answer": "已对接两家银行，授信600万元已审批。"},
         _liaison("区金融办"))
    step(finance, "review", {"review_decision": "accept"}, "dispatcher")
    step(finance, "rating", {"rating_value": "满意"}, "officer")
    # 4 stays waiting for triage.
    return len(started)
