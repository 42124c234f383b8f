"""Check engine/data/departments.json and measures.json against the policy text.

The policy (黔江区推进“专精特新”企业高质量发展专项行动计划（2022—2025年）) is parsed
here independently of the data files, so that the data says exactly what the
document says.
"""

import json
import os
import re
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
DATA_DIR = HERE.parents[2] / "engine" / "data"
POLICY_PATH = (
    HERE.parents[3] / "shared" / "policy" / "qianjiang-zjtx-action-plan-2022-2025.txt"
)

MEASURE_NUMBERS = list(range(1, 31))
UNIT_PAREN_RE = re.compile(
    r"[（(]\s*([^（）()]*(?:牵头单位|责任单位)[^（）()]*?)\s*[）)]"
)
SECTION_HEADING_RE = re.compile(r"^(?:\[bookmark:[^\]]*\])*\s*(（[一二三四五六七八九十]+）.+)$")


def _load_json(name):
    with open(DATA_DIR / name, encoding="utf-8") as fh:
        return json.load(fh)


MEASURES = _load_json("measures.json")
DEPARTMENTS = _load_json("departments.json")
MEASURES_BY_NO = {m["no"]: m for m in MEASURES}


@pytest.fixture(scope="module")
def policy():
    if not POLICY_PATH.is_file():
        if os.environ.get("CI"):  # CI lays shared/ beside the clone: its absence is an error there
            pytest.fail(f"policy text not found at {POLICY_PATH}")
        pytest.skip(f"policy text not found at {POLICY_PATH}; cannot check data against it")
    return POLICY_PATH.read_text(encoding="utf-8")


def _section(policy, start, end):
    """Text from the heading `start` up to (not including) the heading `end`."""
    i = policy.index(start)
    j = policy.index(end, i) if end else len(policy)
    return policy[i:j]


def _work_priorities(policy):
    """Section 三、工作重点, which holds the 30 numbered measures."""
    return _section(policy, "三、工作重点", "四、机制保障措施")


def _measure_line(policy, no):
    lines = [
        m.group(1)
        for m in re.finditer(
            rf"^(?:\[bookmark:[^\]]*\])*\s*{no}\.\s*(.*?)\s*$",
            _work_priorities(policy),
            flags=re.M,
        )
    ]
    assert len(lines) == 1, f"expected one line for measure {no} in section 三, found {len(lines)}"
    return lines[0]


def _split_units(value):
    return [u.strip() for u in value.split("、") if u.strip()] if value else []


def _units_in_paren(paren_body):
    lead = re.search(r"牵头单位\s*[：:]\s*([^，,；;]*)", paren_body)
    resp = re.search(r"责任单位\s*[：:]\s*([^，,；;]*)", paren_body)
    return (
        _split_units(lead.group(1)) if lead else [],
        _split_units(resp.group(1)) if resp else [],
    )


def _policy_units_of_measure(policy, no):
    parens = UNIT_PAREN_RE.findall(_measure_line(policy, no))
    assert parens, f"measure {no}: no parenthetical naming 牵头单位/责任单位"
    return _units_in_paren(parens[-1])


def _resolve(unit):
    return [d for d in DEPARTMENTS if unit == d["name"] or unit in d["aliases"]]


def test_there_are_exactly_30_measures_numbered_1_to_30():
    assert len(MEASURES) == 30
    assert [m["no"] for m in MEASURES] == MEASURE_NUMBERS


def test_policy_has_exactly_30_numbered_measures_in_section_three(policy):
    numbers = [
        int(n)
        for n in re.findall(
            r"^(?:\[bookmark:[^\]]*\])*\s*(\d+)\.", _work_priorities(policy), flags=re.M
        )
    ]
    assert numbers == MEASURE_NUMBERS


@pytest.mark.parametrize("no", MEASURE_NUMBERS)
def test_lead_and_responsible_units_are_as_the_policy_names_them(policy, no):
    lead, responsible = _policy_units_of_measure(policy, no)
    measure = MEASURES_BY_NO[no]
    assert measure["lead"] == lead
    assert measure["responsible"] == responsible


@pytest.mark.parametrize("no", MEASURE_NUMBERS)
def test_measure_text_occurs_verbatim_in_the_policy(policy, no):
    text = MEASURES_BY_NO[no]["text"]
    assert text, f"measure {no} has empty text"
    assert text in policy
    line = _measure_line(policy, no)
    # The text starts the measure's line (after the number) and carries no unit list.
    assert line.startswith(text)
    assert "牵头单位" not in text and "责任单位" not in text


@pytest.mark.parametrize("no", MEASURE_NUMBERS)
def test_measure_sits_under_its_section_heading(policy, no):
    section = MEASURES_BY_NO[no]["section"]
    current = None
    for raw in _work_priorities(policy).splitlines():
        heading = SECTION_HEADING_RE.match(raw)
        if heading:
            current = heading.group(1)
            continue
        if re.match(rf"^(?:\[bookmark:[^\]]*\])*\s*{no}\.", raw):
            break
    else:
        pytest.fail(f"measure {no} not found in section 三")
    assert current is not None
    # The policy's headings end with 。; the data keeps the heading without it.
    assert current.rstrip("。") == section


def test_measure_titles_are_short_chinese_summaries():
    for m in MEASURES:
        assert m["title"].strip(), f"measure {m['no']} has no title"
        assert len(m["title"]) <= 20, f"measure {m['no']} title too long: {m['title']}"


def test_measures_25_and_28_name_responsible_units_only(policy):
    for no in (25, 28):
        assert MEASURES_BY_NO[no]["lead"] == []
        assert MEASURES_BY_NO[no]["responsible"]
        lead, responsible = _policy_units_of_measure(policy, no)
        assert lead == [] and responsible


def test_measures_11_and_24_name_a_lead_unit_only():
    for no in (11, 24):
        assert MEASURES_BY_NO[no]["lead"]
        assert MEASURES_BY_NO[no]["responsible"] == []


def test_every_unit_named_in_a_measure_resolves_to_exactly_one_department():
    for m in MEASURES:
        for unit in m["lead"] + m["responsible"]:
            matches = _resolve(unit)
            assert len(matches) == 1, f"measure {m['no']}: {unit} resolves to {len(matches)} departments"


def test_every_unit_named_in_section_four_resolves_to_exactly_one_department(policy):
    section_four = _section(policy, "四、机制保障措施", None)
    units = []
    for paren in UNIT_PAREN_RE.findall(section_four):
        lead, responsible = _units_in_paren(paren)
        units += lead + responsible
    assert "区融媒体中心" in units
    for unit in units:
        assert len(_resolve(unit)) == 1, f"{unit} does not resolve to exactly one department"


def test_leading_group_members_are_those_named_in_section_four_one(policy):
    four_one = _section(policy, "（一）加强组织领导", "（二）强化责任落实")
    deputies = re.search(r"任组长，(.+?)主要负责人任副组长", four_one)
    members = re.search(r"副组长，(.+?)分管负责人为成员", four_one)
    assert deputies and members
    assert members.group(1).startswith("区发展改革委")
    assert members.group(1).endswith("黔江银保监分局")
    expected = _split_units(deputies.group(1)) + _split_units(members.group(1))
    assert expected[:2] == ["区政府办", "区经济信息委"]
    in_json = [d["name"] for d in DEPARTMENTS if d["leading_group_member"]]
    assert in_json == expected
    # The leading group comes first, in the policy's order.
    assert [d["name"] for d in DEPARTMENTS[: len(expected)]] == expected


def test_no_alias_collides_with_another_department():
    seen = {}
    for d in DEPARTMENTS:
        for label in [d["name"], *d["aliases"]]:
            assert label not in seen, f"{label} used by both {seen[label]} and {d['name']}"
            seen[label] = d["name"]


def test_department_names_and_aliases_appear_in_the_policy(policy):
    for d in DEPARTMENTS:
        assert d["name"] in policy
        for alias in d["aliases"]:
            assert alias in policy, f"alias {alias} of {d['name']} not in the policy"


def test_departments_have_the_expected_keys_and_readable_short_codes():
    codes = [d["short_code"] for d in DEPARTMENTS]
    assert len(set(codes)) == len(codes)
    for d in DEPARTMENTS:
        assert set(d) == {"name", "aliases", "short_code", "leading_group_member", "kind"}
        assert isinstance(d["aliases"], list)
        assert isinstance(d["leading_group_member"], bool)
        assert d["kind"] == "government"
        assert re.fullmatch(r"[a-z]+(?:_[a-z]+)+", d["short_code"]), d["short_code"]


def test_every_department_is_a_unit_the_policy_gives_duties_to(policy):
    named = set()
    for m in MEASURES:
        named.update(m["lead"] + m["responsible"])
    for paren in UNIT_PAREN_RE.findall(_section(policy, "四、机制保障措施", None)):
        lead, responsible = _units_in_paren(paren)
        named.update(lead + responsible)
    for d in DEPARTMENTS:
        labels = {d["name"], *d["aliases"]}
        assert d["leading_group_member"] or labels & named, d["name"]
