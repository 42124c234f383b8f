"""One parse of a set of diagram files, and the checks that need both the parsed specs and the XML.

A :class:`Parse` belongs to one deployment or validation (one request, one thread): the line of each
element id, the processes' properties and elements are read here and nowhere else.
"""
from __future__ import annotations

import json
from pathlib import Path

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.identity.org import ROLES, DepartmentDirectory
from engine.plan import tags as clause_tags
from engine.plan.clauses import action_plan
from engine.repository import camunda, dmn
from engine.repository.contents import DMN_NAMESPACES, namespace, process_nodes
from engine.repository.problems import from_validation, problem
from engine.repository.validation import (
    dmn_problems,
    human_task_problems,
    is_human_task,
    runnable_problems,
    task_problems,
)
from engine.repository.xmlsafe import UnsafeXml, parse_xml
from engine.runtime.forms import check_schema

BPMN_NS = camunda.BPMN_NS
SPIFF_NS = camunda.SPIFF_NS
# SpiffWorkflow 3.2's DMN 1.2 schema does not load (XMLSchemaParseError on every file): DMN 1.2 tables
# get our structure checks (engine.repository.dmn) without the schema; 1.1 and 1.3 get both.
DMN_SCHEMAS = {ns: path for ns, path in SCHEMAS.items() if ns != "http://www.omg.org/spec/DMN/20180521/MODEL/"}


def all_task_specs(spec, subprocess_specs: dict):
    yield from spec.task_specs.values()
    for sub in subprocess_specs.values():
        yield from sub.task_specs.values()


def properties_of(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


class Parse:
    def __init__(self, files: dict[str, bytes], forms_dir: Path):
        self.forms_dir = forms_dir
        self.parser = SpiffBpmnParser(validator=VALIDATOR, dmn_schemas=DMN_SCHEMAS)
        self.problems: list[dict] = []
        self.lines: dict[str, tuple[str, int]] = {}  # element id → (file, line)
        self.properties: dict[str, dict] = {}  # process id → its spiffworkflow properties
        self.nodes: dict = {}  # process id → its element, for the checks on the XML itself
        self.roots: dict = {}  # file → its parsed XML
        for filename, content in files.items():
            if not filename.endswith(".json"):  # a form (JSON Schema), read by forms_for
                self._add(filename, content)
        if not self.problems:
            for p in dmn_problems(self.parser):
                self.at(p["message"], p["element"])

    def at(self, message: str, element: str | None, name: str | None = None, file: str | None = None) -> None:
        """A problem at ``element``, with the file and line it is found at."""
        where, line = self.lines.get(element or "", (file, None))
        self.problems.append(problem(message, file=where or file, element=element, name=name, line=line))

    def _add(self, filename: str, content: bytes) -> None:
        try:
            root = parse_xml(content)
        except UnsafeXml as exc:
            self.problems.append(problem(exc.message, file=filename, line=exc.line))
            return
        self.roots[filename] = root
        for element in root.iter():
            # BPMN and DMN elements only: a spiffworkflow:parameter may carry a task's id
            if isinstance(element.tag, str) and element.get("id") and \
                    element.tag.partition("}")[0].lstrip("{") in (BPMN_NS, *DMN_NAMESPACES):
                self.lines.setdefault(element.get("id"), (filename, element.sourceline))
        for pid, process in process_nodes(root).items():
            props = process.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")
            self.properties[pid] = {p.get("name"): p.get("value") for p in props}
            self.nodes.setdefault(pid, process)
        kind = namespace(root)
        try:
            if kind == BPMN_NS:
                self.parser.add_bpmn_xml(camunda.adapt(root), filename=filename)
            elif kind in DMN_NAMESPACES:
                self._add_dmn(filename, root)
            else:
                self.problems.append(problem("不是 BPMN 或 DMN 文件", file=filename))
        except ValidationException as exc:
            located = dmn.located(root, getattr(exc, "line_number", None), str(exc)) if kind in DMN_NAMESPACES else None
            self.problems.append(from_validation(exc, filename, "DMN" if kind in DMN_NAMESPACES else "BPMN", located))
        except Exception as exc:  # the library raises raw errors on some invalid files
            self.problems.append(problem(f"无法解析：{type(exc).__name__}: {exc}", file=filename))

    def _add_dmn(self, filename: str, root) -> None:
        found = dmn.structure_problems(root)
        for p in found:
            self.problems.append(problem(p["message"], file=filename, element=p["element"], line=p["line"]))
        for tag, message in clause_tags.problems(clause_tags.rule_tags(root), action_plan()):
            found.append(problem(message, file=filename, element=tag.element, name=tag.name, line=tag.line))
            self.problems.append(found[-1])
        if not found:
            self.parser.add_dmn_xml(root, filename=filename)

    def forms_for(self, spec, subs, files: dict[str, bytes], kept: dict[str, dict]) -> dict:
        """The forms the tasks reference: from the files sent, else ``kept`` (the latest version's),
        else the forms folder."""
        forms: dict[str, dict] = {}
        for ts in all_task_specs(spec, subs):
            ref = properties_of(ts).get("formJsonSchemaFilename")
            if not ref or ref in forms:
                continue
            raw = files.get(ref)
            if raw is None and ref in kept:
                raw = json.dumps(kept[ref], ensure_ascii=False).encode("utf-8")
            if raw is None:
                path = (self.forms_dir / ref).resolve()
                if path.parent == self.forms_dir.resolve() and path.is_file():
                    raw = path.read_bytes()
            if raw is None:
                self.problems.append(problem(f"引用的表单文件 {ref} 不存在", element=ts.bpmn_id, name=ts.bpmn_name))
                continue
            try:
                schema = json.loads(raw)
            except ValueError as exc:
                self.problems.append(problem(f"表单文件 {ref} 不是有效的 JSON：{exc}", element=ts.bpmn_id,
                                             name=ts.bpmn_name))
                continue
            error = check_schema(schema)
            if error:
                self.problems.append(problem(f"{ref}：{error}", element=ts.bpmn_id, name=ts.bpmn_name))
                continue
            forms[ref] = schema
        return forms

    def check_tasks(self, spec, subs, directory: DepartmentDirectory, require_deadlines: bool) -> None:
        seen = set()  # a multi-instance task and its child share the element id
        for ts in all_task_specs(spec, subs):
            props = properties_of(ts)
            human = is_human_task(ts)
            messages = task_problems(ts, props, human and require_deadlines)
            if human:
                messages += human_task_problems(ts, props, directory, ROLES)
            for message in messages:
                if (ts.bpmn_id, message) not in seen:
                    seen.add((ts.bpmn_id, message))
                    self.at(message, ts.bpmn_id, ts.bpmn_name)

    def check_clauses(self, pid: str) -> None:
        """Clause tags that name no clause of the plan; untagged flow nodes where ``clauses_required``."""
        node = self.nodes.get(pid)
        if node is None:
            return
        for tag, message in clause_tags.problems(clause_tags.process_tags(node), action_plan()):
            self.at(message, tag.element or pid, tag.name)
        if clause_tags.requires_clauses(node):
            for element in clause_tags.untagged_nodes(node):
                label = element.get("name") or element.get("id")
                self.at(f"流程要求每个元素注明政策条款（{clause_tags.REQUIRED}=true）：元素「{label}」没有政策条款"
                        "（clause 属性）", element.get("id"), element.get("name"))

    def check_runnable(self, process_ids: list[str]) -> set[str]:
        """Constructs the engine cannot run, read from the XML of the executable processes (link and
        compensation events leave no trace in the parsed spec). Returns the refused element ids."""
        try:
            found = runnable_problems({pid: self.nodes[pid] for pid in process_ids if pid in self.nodes})
        except Exception as exc:  # a report, never a traceback (e.g. RecursionError on absurd nesting)
            self.problems.append(problem(f"无法校验：{type(exc).__name__}: {exc}"))
            return set()
        for p in found:
            self.at(p["message"], p["element"], p["name"])
        return {p["element"] for p in found}

    def build(self, pid: str, files: dict[str, bytes], directory: DepartmentDirectory, refused: set[str],
              kept_forms: dict[str, dict]):
        """(spec, subprocess specs, forms) of process ``pid``, or None with its problems reported."""
        try:
            spec = self.parser.get_spec(pid)
            subs = self.parser.get_subprocess_specs(pid)
        except ValidationException as exc:
            if getattr(exc, "id", None) not in refused:  # already reported in our own words
                self.problems.append(from_validation(exc, None))
            return None
        except Exception as exc:
            self.problems.append(problem(f"无法构建流程：{type(exc).__name__}: {exc}", element=pid))
            return None
        try:
            forms = self.forms_for(spec, subs, files, kept_forms)
            self.check_tasks(spec, subs, directory, self.properties.get(pid, {}).get("require_deadlines") == "true")
            self.check_clauses(pid)
        except Exception as exc:  # a report, never a traceback
            self.problems.append(problem(f"无法校验：{type(exc).__name__}: {exc}", element=pid))
            return None
        return spec, subs, forms
