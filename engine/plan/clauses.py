"""The action plan as clauses: the text of engine/data/action_plan_2022_2025.txt cut into the parts a
diagram, a decision rule, a figure, a measure or a schedule can encode, each with a stable id.

Ids: a section with its own text is its numeral (「一」); a sub-section is the section's numeral and its
own in full-width brackets (「二（一）」「四（二）」); a numbered measure of section 三 is 「三.N」 (「三.22」).
A heading that only groups what follows says nothing to encode and is no clause: 二、三、四 (their
text is a title, the sub-sections carry the content) and 三（一）…三（五） (titles over the measures).
So the plan has 一, 二（一）, 二（二）, 三.1 … 三.30, 四（一） … 四（四）: 37 clauses. The notice around the
plan (its cover letter) and the preamble (为培育壮大…) are no clauses either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PLAN_FILE = Path(__file__).resolve().parents[1] / "data" / "action_plan_2022_2025.txt"
NUMERALS = "一二三四五六七八九十"
MEASURES_SECTION = "三"

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_SECTION = re.compile(rf"^([{NUMERALS}])、\s*(.+)$")
_SUB = re.compile(rf"^[（(]([{NUMERALS}])[）)]\s*(.+)$")
_MEASURE = re.compile(r"^(\d{1,2})\s*[.．、]\s*(.+)$")
_SEPARATORS = re.compile(r"[,，、;；\s]+")


@dataclass(frozen=True)
class Clause:
    id: str
    kind: str  # section | subsection | measure
    title: str
    text: str
    group: str  # the id of the grouping heading it stands under (「三（一）」 for 三.1), else ""


@dataclass(frozen=True)
class Heading:
    """A heading that only groups clauses (shown on the policy page, never encoded)."""
    label: str
    level: int


@dataclass
class Plan:
    entries: list[Clause | Heading] = field(default_factory=list)  # in the plan's order

    @property
    def clauses(self) -> list[Clause]:
        return [e for e in self.entries if isinstance(e, Clause)]

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.clauses]

    def get(self, clause_id: str) -> Clause | None:
        return next((c for c in self.clauses if c.id == clause_id), None)


def normalize(raw: str) -> str:
    """One id in its canonical form: half-width brackets and dots become the plan's (「二(二)」→「二（二）」,
    「三．22」→「三.22」), spaces go."""
    text = "".join(raw.split()).replace("(", "（").replace(")", "）").replace("．", ".").replace("。", ".")
    found = re.fullmatch(rf"([{NUMERALS}])[.、]?(\d+)", text)
    if found:  # 「三22」「三、22」 are 三.22
        text = f"{found.group(1)}.{int(found.group(2))}"
    return text


def split_ids(value: str | None) -> list[str]:
    """The ids of a tag: one or several, separated by commas (「二（二）, 三.22」), canonical, in order."""
    return list(dict.fromkeys(normalize(p) for p in _SEPARATORS.split(value or "") if p.strip()))


def _lines(text: str) -> list[str]:
    lines = [_BOOKMARK.sub("", line).strip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line)), len(lines))
    return [line for line in lines[start:] if line]


def _heading_and_rest(body: str) -> tuple[str, str]:
    """「培育范围。面向…」 → (培育范围, 面向…); a title alone → (title, "")."""
    title, _, rest = body.partition("。")
    return title.strip(), rest.strip()


def parse(text: str) -> Plan:
    """The clauses and grouping headings of the plan's text, in order."""
    plan = Plan()
    section = sub = ""
    pending: list[tuple[str, str, str, str, list[str]]] = []  # (id, kind, title, group, text lines)

    def flush() -> None:
        for cid, kind, title, group, body in pending:
            content = "\n".join(body).strip()
            if content:  # a heading with nothing of its own to encode only groups
                plan.entries.append(Clause(cid, kind, title, content, group))
            else:
                plan.entries.append(Heading(title, 1 if kind == "section" else 2))
        pending.clear()

    for line in _lines(text):
        if (m := _SECTION.match(line)):
            flush()
            section, sub = m.group(1), ""
            pending.append((section, "section", f"{section}、{m.group(2)}", "", []))
        elif section and (m := _SUB.match(line)):
            flush()
            sub = f"（{m.group(1)}）"
            title, rest = _heading_and_rest(m.group(2))
            pending.append((f"{section}{sub}", "subsection", f"{sub}{title}", section, [rest] if rest else []))
        elif section == MEASURES_SECTION and (m := _MEASURE.match(line)):
            flush()
            no = int(m.group(1))
            pending.append((f"{section}.{no}", "measure", f"{no}.", f"{section}{sub}", [m.group(2).strip()]))
        elif pending:
            pending[-1][4].append(line)
    flush()
    return plan


@lru_cache(maxsize=1)
def action_plan() -> Plan:
    """The bundled plan (parsed once per process)."""
    return parse(PLAN_FILE.read_text(encoding="utf-8"))
