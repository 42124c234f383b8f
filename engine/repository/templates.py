"""City templates (issue 20, docs/districts.md): the processes the city (the district of kind 市) deploys are the
templates of every district. A district uses one as it is (:meth:`Templates.adopt` deploys the template's files as
the district's next version) or edits its own from it (the designer opens the template and deploys); either way
its version records the template version it was made from (``derived_from_version_id``). A newer template version
is offered on the district's designer page, with what differs, never imposed: nothing changes in a district until
its designer adopts it.

Templates are read in the city's scope (read-only: the city publishes them to every district); everything written
is the district's own.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from lxml import etree
from sqlalchemy import select

from engine.errors import NotFound, ValidationFailed
from engine.identity import districts
from engine.identity.authz import Actor
from engine.repository.registry import DeployResult, Registry
from engine.repository.service import require_designer
from engine.repository.xmlsafe import UnsafeXml, parse_xml
from engine.storage import district
from engine.storage.models import ProcessDefinition, ProcessVersion

BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
KINDS = {"process": "流程", "userTask": "用户任务", "serviceTask": "服务任务", "scriptTask": "脚本任务",
         "businessRuleTask": "业务规则任务", "manualTask": "人工任务", "callActivity": "调用活动", "subProcess": "子流程",
         "exclusiveGateway": "排他网关", "parallelGateway": "并行网关", "inclusiveGateway": "包容网关",
         "eventBasedGateway": "事件网关", "startEvent": "开始事件", "endEvent": "结束事件", "boundaryEvent": "边界事件",
         "intermediateCatchEvent": "中间捕获事件", "intermediateThrowEvent": "中间抛出事件", "sequenceFlow": "顺序流",
         "lane": "泳道", "laneSet": "泳道集", "textAnnotation": "注释", "association": "关联", "dataObject": "数据对象"}


class NoCity(NotFound):
    code = "template_not_found"


class Templates:
    def __init__(self, db, registry: Registry, clock: Callable[[], datetime]):
        self.db = db
        self.registry = registry
        self.clock = clock

    def city(self) -> int | None:
        return districts.city_id(self.db)

    def keys(self) -> dict[str, str]:
        """The city's templates: process key → name (none without a city)."""
        city = self.city()
        return {} if city is None else {key: name for key, (_, _, name) in self._city_versions(city)[0].items()}

    def offers(self, actor: Actor) -> dict:
        """For the district's designer: each city template (its latest version) beside the district's own latest
        version of that process and the template version it was made from. ``state``: ``new`` (the district has no
        version made from the template), ``current`` (made from the latest) or ``newer`` (the city has a newer one)."""
        require_designer(actor)
        city = self.city()
        here = district.current()
        if city is None or here == city:
            return {"city": city is not None and here == city, "templates": []}
        templates, numbers = self._city_versions(city)
        with self.db.read() as session:
            mine = {key: (number, derived) for key, number, derived in session.execute(
                select(ProcessDefinition.key, ProcessVersion.version, ProcessVersion.derived_from_version_id)
                .join(ProcessDefinition).order_by(ProcessDefinition.key, ProcessVersion.version))}
        rows = []
        for key, (version_id, number, name) in sorted(templates.items()):
            own, derived = mine.get(key, (None, None))
            based_on = numbers.get(derived)
            state = "new" if based_on is None else "current" if derived == version_id else "newer"
            rows.append({"key": key, "name": name, "template_version": number, "own_version": own,
                         "based_on": based_on, "state": state})
        return {"city": False, "templates": rows}

    def _city_versions(self, city: int) -> tuple[dict[str, tuple[int, int, str]], dict[int, int]]:
        """(key → the latest template version's (id, number, name), every template version's id → number)."""
        with district.scope(city), self.db.read() as session:
            rows = session.execute(select(ProcessDefinition.key, ProcessDefinition.name, ProcessVersion.id,
                                          ProcessVersion.version).join(ProcessDefinition)
                                   .order_by(ProcessDefinition.key, ProcessVersion.version)).all()
        latest = {key: (version_id, number, name) for key, name, version_id, number in rows}
        return latest, {version_id: number for _, _, version_id, number in rows}

    def _template(self, key: str, version_id: int | None = None) -> ProcessVersion:
        city = self.city()
        if city is None:
            raise NoCity("本部署没有全市模板（尚未建立重庆市本级）")
        with district.scope(city), self.db.read() as session:
            if version_id is None:
                found = self.registry.latest(session, key, required=False)
            else:
                found = session.get(ProcessVersion, version_id)
            if found is None:
                raise NoCity(f"全市没有流程「{key}」的模板")
            found.sources, found.forms  # noqa: B018  (deferred columns, loaded while the session is open)
            found.definition  # noqa: B018
            return found

    def adopt(self, actor: Actor, key: str) -> DeployResult:
        """The city's latest template of ``key`` deployed as this district's next version, as it is; the district's
        units named in it are found by the district's own directory (黔江区's names are its aliases)."""
        require_designer(actor)
        if district.current() == self.city():
            raise ValidationFailed({"key": "市本级部署的流程本身就是全市模板，无需采用"})
        template = self._template(key)
        files = {name: text.encode("utf-8") for name, text in (template.sources or {}).items()}
        files.update({name: _json(schema) for name, schema in (template.forms or {}).items() if name not in files})
        with self.db.write() as session:
            results = self.registry.deploy(session, files, deployed_by=actor.username,
                                           note=f"采用全市模板第 {template.version} 版",
                                           derived_from={key: template.id})
        return next(r for r in results if r.key == key)

    def difference(self, actor: Actor, key: str) -> dict:
        """What the district's latest version of ``key`` changes from the template version it was made from, and
        what the city's latest template changes from that (the offer): elements added, removed and changed."""
        require_designer(actor)
        with self.db.read() as session:
            own = self.registry.latest(session, key, required=False)
            own_xml = self.registry.source(session, key, None)[1] if own is not None else None
            based_on_id = own.derived_from_version_id if own is not None else None
        latest = self._template(key)
        latest_xml = _process_source(latest, key)
        based_on = self._template(key, based_on_id) if based_on_id else None
        base_xml = _process_source(based_on, key) if based_on is not None else None
        return {"key": key, "name": latest.definition.name, "own_version": own.version if own else None,
                "based_on": based_on.version if based_on else None, "template_version": latest.version,
                "own_changes": element_diff(base_xml, own_xml) if base_xml and own_xml else None,
                "template_changes": element_diff(base_xml or own_xml, latest_xml) if (base_xml or own_xml) else None}


def _json(schema) -> bytes:
    import json

    return json.dumps(schema, ensure_ascii=False, indent=2).encode("utf-8")


def _process_source(version: ProcessVersion, key: str) -> str:
    for name, text in sorted((version.sources or {}).items()):
        if name.endswith(".bpmn") and f'id="{key}"' in text:
            return text
    raise NoCity(f"全市模板「{key}」第 {version.version} 版没有流程文件")


def elements(xml: str) -> dict[str, tuple[str, str, bytes]]:
    """The model elements of a BPMN file by id: (kind, name, their own content — attributes, properties,
    expressions and scripts, without the elements inside them that have ids of their own, or the layout)."""
    try:
        root = parse_xml(xml)
    except UnsafeXml as exc:
        raise ValidationFailed({"file": exc.message}) from None
    out = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("id") is None:
            continue
        qname = etree.QName(element)
        if qname.namespace != BPMN_MODEL or qname.localname == "definitions":
            continue
        own = copy.deepcopy(element)
        for child in list(own):
            if child.get("id") is not None:
                own.remove(child)
        own.tail = None
        out[element.get("id")] = (qname.localname, element.get("name") or "", etree.tostring(own, method="c14n"))
    return out


def element_diff(before: str, after: str) -> dict:
    """Elements added, removed and changed from ``before`` to ``after`` (each: id, kind in Chinese, name)."""
    old, new = elements(before), elements(after)

    def row(element_id: str, found: tuple) -> dict:
        return {"id": element_id, "kind": KINDS.get(found[0], found[0]), "name": found[1]}

    return {"added": [row(i, new[i]) for i in new if i not in old],
            "removed": [row(i, old[i]) for i in old if i not in new],
            "changed": [{**row(i, new[i]), "was": old[i][1]} for i in new if i in old and old[i] != new[i]]}
