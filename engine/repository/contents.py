"""What belongs to one process version: its own content.

A process's own content is the BPMN file that defines it (and the files of the processes it calls),
the decision tables it uses and the forms its tasks reference; never the other files that happened
to be deployed with it. A deployment creates a version exactly when this content differs from the
latest version's, and a decision table or form deployed alone re-deploys the processes that use it,
from their latest version's own files.

A process uses a decision table when a business rule task calls it (``spiffworkflow:calledDecisionId``
or ``camunda:decisionRef``), or when the process declares it in the process property
``decision_tables`` (decision ids separated by commas): scripts reach tables through helpers such as
``assess_eligibility``, which the diagram cannot show.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from lxml import etree

from engine.repository.camunda import BPMN_NS, CAMUNDA_NS, SPIFF_NS
from engine.repository.xmlsafe import UnsafeXml, parse_xml

DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
TABLES_PROPERTY = "decision_tables"


def namespace(root: etree._Element) -> str:
    return root.tag.partition("}")[0].lstrip("{") if isinstance(root.tag, str) else ""


def decision_ids(root: etree._Element) -> list[str]:
    """The ids of the decisions a parsed DMN file defines."""
    ns = namespace(root)
    return [d.get("id") for d in root.findall(f"{{{ns}}}decision") if d.get("id")] if ns in DMN_NAMESPACES else []


def process_nodes(root: etree._Element) -> dict[str, etree._Element]:
    """The process elements of a parsed BPMN file, by id."""
    return {p.get("id"): p for p in root.findall(f"{{{BPMN_NS}}}process") if p.get("id")}


def tables_used(process: etree._Element) -> set[str]:
    """The decision ids a process element (with its embedded subprocesses) uses."""
    used = set()
    for task in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        ref = task.find(f".//{{{SPIFF_NS}}}calledDecisionId")
        for value in ((ref.text if ref is not None else None), task.get(f"{{{CAMUNDA_NS}}}decisionRef")):
            if value and value.strip():
                used.add(value.strip())
    for prop in process.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name") == TABLES_PROPERTY:
            used.update(t for t in re.split(r"[\s,，、]+", prop.get("value") or "") if t)
    return used


def digest(spec_json: str, forms: dict, tables: dict[str, str]) -> str:
    """The content hash of a version: its spec, its forms and the decision tables it uses."""
    return hashlib.sha256((spec_json + json.dumps(forms, sort_keys=True, ensure_ascii=False)
                           + json.dumps(dict(sorted(tables.items())), ensure_ascii=False)).encode("utf-8")).hexdigest()


def text_of(content: bytes | str) -> str:
    return content.decode("utf-8") if isinstance(content, bytes) else content


@dataclass
class OwnContent:
    """The own content of a deployed version, read back from what it stored."""
    key: str
    files: dict[str, str]  # the BPMN files of the process and of the processes it calls
    tables: set[str]  # decision ids used
    table_files: dict[str, str]  # the version's copies of those tables: file name → text
    forms: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # own files the version did not store

    @classmethod
    def of(cls, version) -> OwnContent:
        key = version.definition.key
        stored = json.loads(version.spec_json)
        specs = {key: stored.get("spec") or {}, **(stored.get("subprocess_specs") or {})}
        sources = version.sources or {}
        names = sorted({s.get("file") for s in specs.values() if s.get("file")})
        own = cls(key, {n: sources[n] for n in names if n in sources}, set(), {}, dict(version.forms or {}),
                  [n for n in names if n not in sources])
        for text in own.files.values():
            nodes = process_nodes(_parsed(text))
            for pid in specs:
                if pid in nodes:
                    own.tables |= tables_used(nodes[pid])
        for name, text in sorted(sources.items()):
            if name not in own.files and set(decision_ids(_parsed(text))) & own.tables:
                own.table_files[name] = text
        return own

    def digest(self, version) -> str:
        """The version's content hash, computed as :func:`digest` does for a new one (versions deployed
        before tables were tied to their users stored every table of their deployment)."""
        return digest(version.spec_json, self.forms, self.table_files)


def _parsed(text: str) -> etree._Element:
    try:
        return parse_xml(text)
    except UnsafeXml:  # stored files were checked when deployed; a file that is not XML has no processes
        return etree.Element("none")
