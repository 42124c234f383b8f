"""本区设置: the defaults the action plan does not set, each in one place and shown together.

The plan sets the goals, the scope and the criteria; it does not say how long a pool membership or a recognition
lasts, when the yearly update is due, how long admission is announced, how a circular is numbered or how often an
unsatisfied item is reopened. Those are the district's choices (common practice, see DOMAIN.md). Each is a process
property of the diagram that uses it (the designer edits it; deploying makes a new version; the ``setting`` helper
or the step's operation reads it from the running version). ``current`` reads each
value from the latest deployed version, falling back to the bundled default before the first deployment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from engine.identity import districts
from engine.repository.registry import Registry
from engine.storage.models import ProcessVersion

MARK = "区级设置（行动计划未作规定）"


@dataclass(frozen=True)
class DistrictSetting:
    label: str
    process: str  # the diagram whose property it is (the designer edits it)
    name: str  # the property
    default: str
    unit: str
    meaning: str


SETTINGS = (
    DistrictSetting("培育库入库有效期", "pool_admission", "pool_validity_years", "3", "年",
                    "入库之日起算；期满未续的企业不再计为在库"),
    DistrictSetting("年度数据更新截止日", "pool_data_update", "update_deadline", "04-30", "（月-日，每年）",
                    "在库企业每年更新上年数据的截止日，逾期未更新的进入移出审查"),
    DistrictSetting("入库公示期", "pool_admission", "notice_working_days", "5", "个工作日",
                    "区经济信息委审核通过后公示，期满无异议入库"),
    DistrictSetting("认定有效期", "recognition_batch", "recognition_validity_years", "3", "年",
                    "推荐申报登记认定结果时的默认有效期"),
    DistrictSetting("不满意重办次数上限", "problem_dispatch", "max_reopenings", "2", "次",
                    "企业回访不满意时重办，超过上限转领导小组办公室"),
    DistrictSetting("通报文号格式", "evaluation_circular", "number_format", "{place}专精特新通报〔{year}〕{seq}号", "",
                    "通报发布时按年度顺序编号：{year} 为发布年度，{seq} 为当年顺序号，{place} 为本区县简称（如黔江）"),
)
PROCESS_LABELS = {"pool_admission": "培育库入库", "pool_data_update": "培育库年度数据更新",
                  "recognition_batch": "推荐申报", "problem_dispatch": "企业问题交办",
                  "evaluation_circular": "监测评价与通报"}


def _properties(version: ProcessVersion | None) -> dict:
    if version is None:
        return {}
    stored = json.loads(version.spec_json).get("process_properties")
    return stored if isinstance(stored, dict) else {}


def current(db) -> list[dict]:
    """Each setting: label, value, unit, meaning, mark, where it is changed (and the designer's process key)."""
    out = []
    with db.read() as session:
        for s in SETTINGS:
            version = Registry.latest(session, s.process, required=False)
            value, deployed = str(_properties(version).get(s.name, s.default)), version is not None
            value = value.replace("{place}", districts.place_of())  # as the district's documents will show it
            where = f"流程设计器：流程「{PROCESS_LABELS[s.process]}」（{s.process}）的流程属性 {s.name}，部署后对新流程生效"
            out.append({"label": s.label, "value": value, "unit": s.unit, "meaning": s.meaning, "mark": MARK,
                        "where": where, "process": s.process, "name": s.name, "deployed": deployed,
                        "version": version.version if version is not None else None})
    return out


class DistrictSettings:
    """The 本区设置 page's reading of the settings, for the web layer (which holds no database)."""

    def __init__(self, db):
        self.db = db

    def current(self) -> list[dict]:
        return current(self.db)
