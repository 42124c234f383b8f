"""Process registry: deploying BPMN/DMN files as immutable, numbered versions.

A version stores the parsed spec once (serialized, with its content hash), the source files and
the JSON Schema forms its user tasks reference. Instances store only their own state.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from engine.errors import DeploymentError, ProcessNotFound
from engine.identity.org import ROLES, DepartmentDirectory
from engine.repository import camunda
from engine.repository.validation import (
    dmn_problems,
    human_task_problems,
    is_human_task,
    runnable_problems,
    task_problems,
    translate,
)
from engine.repository.xmlsafe import UnsafeXml, parse_xml
from engine.runtime.forms import check_schema
from engine.runtime.serialization import serializer
from engine.storage.models import ProcessDefinition, ProcessVersion

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)


class DeployEntry(TypedDict):
    """One entry of ``zjtx deploy --json`` (stable)."""
    process: str
    name: str
    version: int
    created: bool


@dataclass
class DeployResult:
    key: str
    name: str
    version: int
    version_id: int
    created: bool  # False when identical content was already the latest version

    def to_dict(self) -> DeployEntry:
        return {"process": self.key, "name": self.name, "version": self.version, "created": self.created}


def _problem(message: str, *, file: str | None = None, element: str | None = None,
             name: str | None = None, line: int | None = None) -> dict:
    where = []
    if file:
        where.append(f"文件 {file}")
    if line:
        where.append(f"第 {line} 行")
    if element:
        where.append(f"元素 {element}" + (f"（{name}）" if name else ""))
    text = ("，".join(where) + "：" if where else "") + message
    return {"message": text, "file": file, "element": element, "element_name": name, "line": line}


def _from_validation(exc: ValidationException, file: str | None) -> dict:
    return _problem(f"BPMN 校验失败：{translate(exc.msg if hasattr(exc, 'msg') else exc)}",
                    file=getattr(exc, "file_name", None) or file, element=getattr(exc, "id", None),
                    name=getattr(exc, "name", None), line=getattr(exc, "line_number", None) or None)


def all_task_specs(spec, subprocess_specs: dict):
    yield from spec.task_specs.values()
    for sub in subprocess_specs.values():
        yield from sub.task_specs.values()


def properties_of(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


class _PerThread:
    """An attribute whose value belongs to the calling thread: one registry serves every request of
    a threaded server, and two uploads parsed at once must not share line numbers or properties."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else getattr(obj._per_thread, self.name)

    def __set__(self, obj, value):
        setattr(obj._per_thread, self.name, value)


class Registry:
    # The state of the parse in progress (set by _parse, read by the checks that follow it).
    _lines = _PerThread()
    _process_properties = _PerThread()
    _process_nodes = _PerThread()

    def __init__(self, forms_dir: Path, trusted_dir: Path):
        self._per_thread = threading.local()
        self.forms_dir = forms_dir
        self.trusted_dir = trusted_dir.resolve()

    # -- parsing ---------------------------------------------------------------------------
    def _parse(self, files: dict[str, bytes]):
        parser = SpiffBpmnParser(validator=VALIDATOR)
        problems: list[dict] = []
        self._lines = {}  # file → (source, line) of each element id
        self._process_properties = {}
        self._process_nodes = {}  # process id → its element, for the checks on the XML itself
        for filename, content in files.items():
            if filename.endswith(".json"):
                continue  # a form (JSON Schema), read by _forms_for
            try:
                root = parse_xml(content)
            except UnsafeXml as exc:
                problems.append(_problem(exc.message, file=filename, line=exc.line))
                continue
            for element in root.iter():
                # BPMN and DMN elements only: a spiffworkflow:parameter may carry a task's id
                element_id = element.get("id") if isinstance(element.tag, str) and \
                    element.tag.partition("}")[0].lstrip("{") in (BPMN_NS, *DMN_NAMESPACES) else None
                if element_id:
                    self._lines.setdefault(element_id, (filename, element.sourceline))
            for process in root.findall(f"{{{BPMN_NS}}}process"):
                props = process.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property")
                self._process_properties[process.get("id")] = {p.get("name"): p.get("value") for p in props}
                self._process_nodes.setdefault(process.get("id"), process)
            namespace = root.tag.partition("}")[0].lstrip("{")
            try:
                if namespace == BPMN_NS:
                    parser.add_bpmn_xml(camunda.adapt(root), filename=filename)
                elif namespace in DMN_NAMESPACES:
                    parser.add_dmn_xml(root, filename=filename)
                else:
                    problems.append(_problem("不是 BPMN 或 DMN 文件", file=filename))
            except ValidationException as exc:
                problems.append(_from_validation(exc, filename))
            except Exception as exc:  # the library raises raw errors on some invalid files
                problems.append(_problem(f"无法解析：{type(exc).__name__}: {exc}", file=filename))
        if not problems:
            for p in dmn_problems(parser):
                file, line = self._lines.get(p["element"], (None, None))
                problems.append(_problem(p["message"], file=file, element=p["element"], line=line))
        return parser, problems

    def _forms_for(self, spec, subs, files: dict[str, bytes], problems: list[dict]) -> dict:
        forms: dict[str, dict] = {}
        for ts in all_task_specs(spec, subs):
            ref = properties_of(ts).get("formJsonSchemaFilename")
            if not ref or ref in forms:
                continue
            raw = files.get(ref)
            if raw is None:
                path = (self.forms_dir / ref).resolve()
                if path.parent == self.forms_dir.resolve() and path.is_file():
                    raw = path.read_bytes()
            if raw is None:
                problems.append(_problem(f"引用的表单文件 {ref} 不存在", element=ts.bpmn_id, name=ts.bpmn_name))
                continue
            try:
                schema = json.loads(raw)
            except ValueError as exc:
                problems.append(_problem(f"表单文件 {ref} 不是有效的 JSON：{exc}", element=ts.bpmn_id,
                                         name=ts.bpmn_name))
                continue
            error = check_schema(schema)
            if error:
                problems.append(_problem(f"{ref}：{error}", element=ts.bpmn_id, name=ts.bpmn_name))
                continue
            forms[ref] = schema
        return forms

    def _check_tasks(self, spec, subs, directory: DepartmentDirectory, require_deadlines: bool,
                     problems: list[dict]) -> None:
        seen = set()  # a multi-instance task and its child share the element id
        for ts in all_task_specs(spec, subs):
            props = properties_of(ts)
            file, line = self._lines.get(ts.bpmn_id, (None, None))
            human = is_human_task(ts)
            messages = task_problems(ts, props, human and require_deadlines)
            if human:
                messages += human_task_problems(ts, props, directory, ROLES)
            for message in messages:
                if (ts.bpmn_id, message) not in seen:
                    seen.add((ts.bpmn_id, message))
                    problems.append(_problem(message, file=file, element=ts.bpmn_id, name=ts.bpmn_name, line=line))

    def _check_runnable(self, process_ids: list[str], problems: list[dict]) -> set[str]:
        """Constructs the engine cannot run, read from the XML of the executable processes (link and
        compensation events leave no trace in the parsed spec). Returns the refused element ids."""
        nodes = {pid: self._process_nodes[pid] for pid in process_ids if pid in self._process_nodes}
        found = runnable_problems(nodes)
        for p in found:
            file, line = self._lines.get(p["element"], (None, None))
            problems.append(_problem(p["message"], file=file, element=p["element"], name=p["name"], line=line))
        return {p["element"] for p in found}

    # -- checking --------------------------------------------------------------------------
    def validate(self, session: Session, files: dict[str, bytes]) -> list[dict]:
        """Every problem deploying ``files`` would meet; an empty list means they would deploy."""
        try:
            self.deploy(session, files, dry_run=True)
        except DeploymentError as exc:
            return exc.problems
        return []

    # -- deploying -------------------------------------------------------------------------
    def deploy(self, session: Session, files: dict[str, bytes], *, deployed_by: str | None = None,
               note: str | None = None, trusted: bool = False, dry_run: bool = False) -> list[DeployResult]:
        """Deploy every executable process found in ``files`` (filename → content).

        Raises DeploymentError with every problem found; nothing is written then.
        """
        if files and all(name.endswith(".dmn") for name in files):
            files = self._with_users_of(session, files)
        parser, problems = self._parse(files)
        if problems:
            raise DeploymentError(problems)
        process_ids = parser.get_process_ids()
        if not process_ids:
            raise DeploymentError([_problem("文件中没有可执行的流程（isExecutable=\"true\"）")])
        directory = DepartmentDirectory.of(session)
        try:
            refused = self._check_runnable(process_ids, problems)
        except Exception as exc:  # a report, never a traceback (e.g. RecursionError on absurd nesting)
            problems.append(_problem(f"无法校验：{type(exc).__name__}: {exc}"))
            refused = set()
        prepared = []
        for pid in process_ids:
            try:
                spec = parser.get_spec(pid)
                subs = parser.get_subprocess_specs(pid)
            except ValidationException as exc:
                if getattr(exc, "id", None) not in refused:  # already reported in our own words
                    problems.append(_from_validation(exc, None))
                continue
            except Exception as exc:
                problems.append(_problem(f"无法构建流程：{type(exc).__name__}: {exc}", element=pid))
                continue
            try:
                forms = self._forms_for(spec, subs, files, problems)
                require_deadlines = self._process_properties.get(pid, {}).get("require_deadlines") == "true"
                self._check_tasks(spec, subs, directory, require_deadlines, problems)
            except Exception as exc:  # a report, never a traceback
                problems.append(_problem(f"无法校验：{type(exc).__name__}: {exc}", element=pid))
                continue
            prepared.append((pid, spec, subs, forms))
        if problems:
            raise DeploymentError(problems)
        if dry_run:
            return []
        results = []
        sources = {name: (c.decode("utf-8") if isinstance(c, bytes) else c) for name, c in files.items()
                   if name.endswith((".bpmn", ".dmn", ".xml"))}
        for pid, spec, subs, forms in prepared:
            spec_json = json.dumps({
                "spec": serializer.to_dict(spec),
                "subprocess_specs": {k: serializer.to_dict(v) for k, v in subs.items()},
            }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            # Decision tables deployed with a process are part of its version (scripts may use them).
            tables = json.dumps({k: v for k, v in sorted(sources.items()) if k.endswith(".dmn")}, ensure_ascii=False)
            digest = hashlib.sha256(
                (spec_json + json.dumps(forms, sort_keys=True, ensure_ascii=False) + tables).encode("utf-8")
            ).hexdigest()
            results.append(self._store(session, pid, spec.description or pid, spec_json, digest,
                                       sources, forms, deployed_by, note, trusted))
        return results

    def _with_users_of(self, session: Session, dmn_files: dict[str, bytes]) -> dict[str, bytes]:
        """Decision tables alone: bundle them with the latest files of every process deployed with a
        file of the same name, so each of those processes gets a new version using the new tables."""
        bundle: dict[str, bytes] = {}
        for definition in session.scalars(select(ProcessDefinition)):
            latest = self.latest(session, definition.key, required=False)
            sources = (latest.sources or {}) if latest else {}
            if any(name in sources for name in dmn_files):
                bundle.update({name: text.encode("utf-8") for name, text in sources.items()})
        if not bundle:
            return dmn_files  # nothing uses them: the usual "no executable process" report follows
        bundle.update(dmn_files)
        return bundle

    def latest_decision_sources(self, session: Session) -> dict[str, bytes]:
        """The DMN files of the newest deployed versions (the tables decisions are made with)."""
        out: dict[str, bytes] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)):
            for name, text in (version.sources or {}).items():
                if name.endswith(".dmn"):
                    out[name] = text.encode("utf-8")
        return out

    def _store(self, session, key, name, spec_json, digest, sources, forms, deployed_by, note, trusted=False):
        definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key))
        if definition is None:
            definition = ProcessDefinition(key=key, name=name)
            session.add(definition)
            session.flush()
        latest = self.latest(session, key, required=False)
        if latest is not None and latest.content_hash == digest:
            if trusted and not latest.trusted:  # the same content, now from our own processes/ folder
                latest.trusted = True
            return DeployResult(key, definition.name, latest.version, latest.id, created=False)
        definition.name = name
        number = (latest.version if latest else 0) + 1
        version = ProcessVersion(definition_id=definition.id, version=number, content_hash=digest,
                                 spec_json=spec_json, sources=sources, forms=forms,
                                 deployed_by=deployed_by, note=note, trusted=trusted)
        session.add(version)
        session.flush()
        return DeployResult(key, name, number, version.id, created=True)

    def deploy_paths(self, session: Session, paths: list[Path], **kwargs) -> list[DeployResult]:
        """Deploy files from disk; they are trusted only when they sit in our processes/ folder."""
        files = {}
        trusted = True
        for path in paths:
            path = Path(path).resolve()
            if self.trusted_dir not in path.parents:
                trusted = False
            files[path.name] = path.read_bytes()
        return self.deploy(session, files, trusted=trusted, **kwargs)

    @staticmethod
    def latest(session: Session, key: str, required: bool = True) -> ProcessVersion | None:
        version = session.scalar(
            select(ProcessVersion).join(ProcessDefinition)
            .options(contains_eager(ProcessVersion.definition))
            .where(ProcessDefinition.key == key)
            .order_by(ProcessVersion.version.desc()).limit(1))
        if version is None and required:
            raise ProcessNotFound(key)
        return version

    @staticmethod
    def deployed_keys(session: Session) -> set[str]:
        return set(session.scalars(select(ProcessDefinition.key)))

    @staticmethod
    def catalogue(session: Session) -> list[dict]:
        """Every process with its versions: who deployed, when, the note, instances running on each."""
        from engine.storage.models import ProcessInstance

        running = dict(session.execute(
            select(ProcessInstance.version_id, func.count(ProcessInstance.id))
            .where(ProcessInstance.status == "running").group_by(ProcessInstance.version_id)).all())
        out = []
        for definition in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)):
            versions = session.scalars(select(ProcessVersion).where(ProcessVersion.definition_id == definition.id)
                                       .order_by(ProcessVersion.version.desc()))
            out.append({"key": definition.key, "name": definition.name, "versions": [
                {"version": v.version, "deployed_at": v.deployed_at, "deployed_by": v.deployed_by, "note": v.note,
                 "running": running.get(v.id, 0), "files": sorted(v.sources or {})} for v in versions]})
        return out

    @staticmethod
    def source(session: Session, key: str, version: int | None, filename: str | None = None) -> tuple[str, str]:
        """A deployed file of a process version: (file name, text). Default: the file defining the process."""
        import re

        query = select(ProcessVersion).join(ProcessDefinition).where(ProcessDefinition.key == key)
        query = query.where(ProcessVersion.version == version) if version else \
            query.order_by(ProcessVersion.version.desc()).limit(1)
        found = session.scalar(query)
        if found is None:
            raise ProcessNotFound(key)
        sources = found.sources or {}
        if filename is not None:
            if filename not in sources:
                raise ProcessNotFound(f"{key}/{filename}")
            return filename, sources[filename]
        pattern = re.compile(r"<(?:\w+:)?process\b[^>]*\bid=[\"']" + re.escape(key) + r"[\"']")
        for name, text in sorted(sources.items()):
            if name.endswith(".bpmn") and pattern.search(text):
                return name, text
        raise ProcessNotFound(key)

    @staticmethod
    def versions(session: Session) -> list[dict]:
        rows = session.execute(
            select(ProcessDefinition.key, ProcessDefinition.name, func.max(ProcessVersion.version))
            .join(ProcessVersion).group_by(ProcessDefinition.key, ProcessDefinition.name)
            .order_by(ProcessDefinition.key))
        return [{"process": k, "name": n, "latest_version": v} for k, n, v in rows]
