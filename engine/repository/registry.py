"""Process registry: deploying BPMN/DMN files as immutable, numbered versions.

A version stores the parsed spec once (serialized, with its content hash), its own source files (the
diagram, the files of the processes it calls, the decision tables it uses) and the JSON Schema forms
its user tasks reference. Instances store only their own state. What a process's own content is, and
when a deployment changes it, is explained in :mod:`engine.repository.contents`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from engine.errors import DeploymentError, ProcessNotFound
from engine.identity.org import DepartmentDirectory
from engine.plan import tags as clause_tags
from engine.repository import dmn
from engine.repository.contents import (
    DMN_NAMESPACES,  # noqa: F401 (re-exported)
    TABLES_PROPERTY,
    OwnContent,
    decision_ids,
    digest,
    tables_used,
    text_of,
)
from engine.repository.parsing import Parse, all_task_specs, properties_of  # noqa: F401 (re-exported)
from engine.repository.problems import problem
from engine.repository.xmlsafe import UnsafeXml, parse_xml
from engine.runtime.serialization import serializer
from engine.storage.models import ProcessDefinition, ProcessVersion

NO_PROCESS = "文件中没有可执行的流程（isExecutable=\"true\"）"


class DeployEntry(TypedDict):
    """One entry of ``zjtx deploy --json`` (stable)."""
    process: str
    name: str
    version: int
    created: bool


# Process properties the repository itself reads (engine.repository.validation, .contents).
REPOSITORY_PROPERTIES = frozenset({"require_deadlines", TABLES_PROPERTY, "clause", "clauses_required"})


@dataclass
class DeployResult:
    key: str
    name: str
    version: int
    version_id: int
    created: bool  # False when identical content was already the latest version
    # missing_only: the latest version (other content) that was left in place — {version, deployed_at, deployed_by}
    kept: dict | None = None

    def to_dict(self) -> DeployEntry:
        return {"process": self.key, "name": self.name, "version": self.version, "created": self.created}


@dataclass
class _Prepared:
    """A process ready to be stored: its own content, and whether it came from the files sent."""
    key: str
    name: str
    spec_json: str
    forms: dict
    sources: dict[str, str]
    tables: set[str]
    digest: str
    trusted_cap: bool | None = None  # re-deployed from its latest version: trusted only if that one was
    reason: str | None = None  # re-deployed: the files sent that it uses


def _tables_in(files: Mapping[str, bytes | str]) -> dict[str, tuple[str, str]]:
    """decision id → (file name, text) of the DMN files among ``files`` that parse."""
    out = {}
    for name, content in files.items():
        if name.endswith(".json"):
            continue
        try:
            ids = decision_ids(parse_xml(content))
        except UnsafeXml:
            continue  # reported by the parse
        out.update({d: (name, text_of(content)) for d in ids})
    return out


class Registry:
    def __init__(self, forms_dir: Path, trusted_dir: Path):
        self.forms_dir = forms_dir
        self.trusted_dir = trusted_dir.resolve()

    # -- checking --------------------------------------------------------------------------
    def validate(self, session: Session, files: dict[str, bytes]) -> list[dict]:
        """Every problem deploying ``files`` would meet; an empty list means they would deploy."""
        return self.check(session, files)["problems"]

    def check(self, session: Session, files: dict[str, bytes]) -> dmn.ValidationReport:
        """The problems deploying ``files`` would meet, and a summary of each decision table among them.
        Decision tables alone are checked as tables even when no deployed process uses them yet."""
        alone = bool(files) and all(name.endswith(".dmn") for name in files)
        prepared, problems, parse = self._plan(session, files, keep_forms=False, tables_alone=alone)
        used_by: dict[str, list[str]] = {}
        for p in prepared:
            for table in p.tables:
                used_by.setdefault(table, []).append(p.key)
        sent = {name for name in files if name.endswith(".dmn")}
        decisions = [d for d in dmn.summaries(parse.parser, used_by) if d["file"] in sent] if parse else []
        return {"ok": not problems, "problems": problems, "decisions": decisions}

    # -- deploying -------------------------------------------------------------------------
    def deploy(self, session: Session, files: dict[str, bytes], *, deployed_by: str | None = None,
               note: str | None = None, trusted: bool = False, dry_run: bool = False,
               keep_forms: bool = False, missing_only: bool = False,
               derived_from: dict[str, int] | None = None) -> list[DeployResult]:
        """Deploy ``files`` (filename → content): every executable process they define, and every
        deployed process that uses a decision table or form among them (from its latest version's own
        files). A version is created only for a process whose own content changed.
        ``keep_forms``: forms not sent come from the process's latest version (a diagram edited in the
        browser), not from the forms folder.

        ``missing_only`` (the bundled diagrams at start-up): a process that has a version already keeps
        it when the content differs — its result is not created and says which version was ``kept``.
        ``derived_from``: process key → the city's template version a new version of it is made from.

        Raises DeploymentError with every problem found; nothing is written then.
        """
        prepared, problems, _ = self._plan(session, files, keep_forms=keep_forms)
        if problems:
            raise DeploymentError(problems)
        if dry_run:
            return []
        results = []
        for p in prepared:
            latest = self.latest(session, p.key, required=False) if missing_only else None
            if latest is not None and p.digest not in (latest.content_hash, OwnContent.of(latest).digest(latest)):
                results.append(DeployResult(p.key, latest.definition.name, latest.version, latest.id, created=False,
                                            kept={"version": latest.version, "deployed_at": latest.deployed_at,
                                                  "deployed_by": latest.deployed_by}))
            else:
                results.append(self._store(session, p, deployed_by, note, trusted, (derived_from or {}).get(p.key)))
        return results

    def _plan(self, session: Session, files: dict[str, bytes], *, keep_forms: bool, tables_alone: bool = False):
        """(prepared processes, problems, the parse of the files sent)."""
        sent_tables = _tables_in(files)
        available = {**self._bundled_tables(), **self._deployed_tables(session), **sent_tables}
        parse, everything = self._parse_sent(files, available)
        if parse.problems:
            return [], parse.problems, parse
        directory = DepartmentDirectory.of(session)
        pids = parse.parser.get_process_ids()
        refused = parse.check_runnable(pids)
        prepared = []
        for pid in pids:
            latest = self.latest(session, pid, required=False) if keep_forms else None
            built = parse.build(pid, everything, directory, refused, dict(latest.forms or {}) if latest else {})
            found = self._prepare(parse, pid, built, everything) if built else None
            if found:
                prepared.append(found)
        problems = parse.problems
        sent_forms = {name for name in files if name.endswith(".json")}
        users, claimed = self._users(session, files, set(parse.nodes), sent_tables, sent_forms, available,
                                     directory, problems)
        prepared += users
        used = claimed.union(*(p.tables for p in prepared))
        if not tables_alone:
            for table in sorted(set(sent_tables) - used):
                problems.append(problem(
                    f"没有流程使用决策表 {table}：业务规则任务用 calledDecisionId 调用它，或流程属性 {TABLES_PROPERTY} "
                    "声明它（未使用的决策表无处保存）", file=sent_tables[table][0], element=table))
            if not prepared and not problems:
                problems.append(problem(NO_PROCESS if not (sent_tables or sent_forms) else
                                        "没有已部署的流程使用这些决策表或表单，也没有可执行的流程"))
        return prepared, problems, parse

    def _parse_sent(self, files: dict[str, bytes], available: dict[str, tuple[str, str]]):
        """The parse of the files sent, with the deployed (else bundled) decision tables their
        processes use and that were not sent."""
        parse = Parse(files, self.forms_dir)
        needed = set().union(*(tables_used(node) for node in parse.nodes.values())) - set(parse.parser.dmn_parsers)
        extra = {available[t][0]: available[t][1].encode("utf-8") for t in sorted(needed) if t in available}
        extra = {name: content for name, content in extra.items() if name not in files}
        if not extra or parse.problems:
            return parse, files
        everything = {**files, **extra}
        return Parse(everything, self.forms_dir), everything

    def _prepare(self, parse: Parse, pid: str, built, files: dict[str, bytes]) -> _Prepared | None:
        """A built process with its own content: its files, the tables it uses, its forms."""
        spec, subs, forms = built
        tables = set().union(*(tables_used(parse.nodes[p]) for p in (pid, *subs) if p in parse.nodes))
        missing = sorted(t for t in tables if t not in parse.parser.dmn_parsers)
        if missing:
            parse.at(f"流程使用的决策表「{'」「'.join(missing)}」既未上传也未部署（属性 {TABLES_PROPERTY}）", pid)
            return None
        table_files = {parse.parser.dmn_parsers[t].filename: text_of(files[parse.parser.dmn_parsers[t].filename])
                       for t in tables}
        own = {s.file: text_of(files[s.file]) for s in (spec, *subs.values()) if s.file in files}
        stored = {"spec": serializer.to_dict(spec),
                  "subprocess_specs": {k: serializer.to_dict(v) for k, v in subs.items()}}
        # The process's own settings (the defaults its diagram code reads with ``setting``) are part of
        # its content: changing one in the designer deploys a new version. The repository's own
        # properties stay out, so versions deployed before settings existed keep their hash.
        settings = {k: v for k, v in parse.properties.get(pid, {}).items() if k not in REPOSITORY_PROPERTIES}
        if settings:
            stored["process_properties"] = settings
        # The clause tags (engine.plan.tags) are content too: a tag edited on a gateway, which the
        # parsed spec keeps no property of, still makes a new version; the policy page reads them here.
        tags = clause_tags.process_tags(parse.nodes[pid]) if pid in parse.nodes else []
        if tags:
            stored["clause_tags"] = [[t.element, t.name, list(t.clauses)] for t in tags]
        spec_json = json.dumps(stored, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return _Prepared(pid, spec.description or pid, spec_json, forms, {**own, **table_files}, tables,
                         digest(spec_json, forms, table_files))

    def _users(self, session: Session, files: dict[str, bytes], sent_keys: set[str],
               sent_tables: dict[str, tuple[str, str]], sent_forms: set[str],
               available: dict[str, tuple[str, str]], directory: DepartmentDirectory,
               problems: list[dict]) -> tuple[list[_Prepared], set[str]]:
        """The deployed processes (other than those sent) that use a decision table or form sent,
        rebuilt from their latest version's own files, with the tables and forms sent; and the
        decision ids sent that they use."""
        out: list[_Prepared] = []
        claimed: set[str] = set()
        if not (sent_tables or sent_forms):
            return out, claimed
        for key in sorted(self.deployed_keys(session) - sent_keys):
            latest = self.latest(session, key)
            own = OwnContent.of(latest)
            reason = sorted({sent_tables[t][0] for t in own.tables if t in sent_tables} | (sent_forms & set(own.forms)))
            if not reason:
                continue
            claimed |= own.tables & set(sent_tables)
            prefix = f"流程 {key}（使用 {'、'.join(reason)}）无法随之重新部署："
            if own.missing:
                problems.append(problem(prefix + f"第 {latest.version} 版缺少文件 {'、'.join(own.missing)}"))
                continue
            mine = {name: text.encode("utf-8") for name, text in own.files.items()}
            mine.update({available[t][0]: available[t][1].encode("utf-8") for t in own.tables if t in available})
            mine.update({name: files[name] for name in sent_forms & set(own.forms)})
            parse = Parse(mine, self.forms_dir)
            built = None if parse.problems else parse.build(key, mine, directory, parse.check_runnable([key]),
                                                            own.forms)
            found = self._prepare(parse, key, built, mine) if built else None
            problems.extend({**p, "message": prefix + p["message"]} for p in parse.problems)
            if found and not parse.problems:
                found.trusted_cap, found.reason = bool(latest.trusted), "、".join(reason)
                out.append(found)
        return out, claimed

    def _deployed_tables(self, session: Session) -> dict[str, tuple[str, str]]:
        """decision id → (file name, text) of the newest deployed copy of each decision table."""
        out: dict[str, tuple[str, str]] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)):
            out.update(_tables_in({n: t for n, t in (version.sources or {}).items() if n.endswith(".dmn")}))
        return out

    def _bundled_tables(self) -> dict[str, tuple[str, str]]:
        """The decision tables shipped in processes/ (what the engine decides with before any is deployed)."""
        return _tables_in({p.name: p.read_bytes() for p in sorted(self.trusted_dir.glob("*.dmn"))})

    def latest_decision_sources(self, session: Session) -> dict[str, bytes]:
        """The DMN files of the newest deployed versions (the tables decisions are made with)."""
        out: dict[str, bytes] = {}
        for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)):
            for name, text in (version.sources or {}).items():
                if name.endswith(".dmn"):
                    out[name] = text.encode("utf-8")
        return out

    def _store(self, session: Session, p: _Prepared, deployed_by: str | None, note: str | None,
               trusted: bool, derived_from: int | None = None) -> DeployResult:
        definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == p.key))
        if definition is None:
            definition = ProcessDefinition(key=p.key, name=p.name)
            session.add(definition)
            session.flush()
        latest = self.latest(session, p.key, required=False)
        trusted = trusted if p.trusted_cap is None else trusted and p.trusted_cap
        if latest is not None and p.digest in (latest.content_hash, OwnContent.of(latest).digest(latest)):
            if trusted and not latest.trusted:  # the same content, now from our own processes/ folder
                latest.trusted = True
            if derived_from is not None:  # the same content as the city's template: now known to be based on it
                latest.derived_from_version_id = derived_from
            return DeployResult(p.key, definition.name, latest.version, latest.id, created=False)
        definition.name = p.name
        number = (latest.version if latest else 0) + 1
        if p.reason and not note:
            note = f"随 {p.reason} 更新重新部署"
        if derived_from is None and latest is not None:  # an edit of a version made from a template stays based on it
            derived_from = latest.derived_from_version_id
        version = ProcessVersion(definition_id=definition.id, version=number, content_hash=p.digest,
                                 spec_json=p.spec_json, sources=p.sources, forms=p.forms,
                                 deployed_by=deployed_by, note=note, trusted=trusted,
                                 derived_from_version_id=derived_from)
        session.add(version)
        session.flush()
        return DeployResult(p.key, p.name, number, version.id, created=True)

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
