"""The layout's size rule: no module in engine/, web/ or notifications/ over 400 lines (migrations
aside), no function over 60 lines unless its first line says why (``# long: …``). Small pieces are
what a newcomer can read; the rule keeps them small as features land."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _sources() -> list[Path]:
    return [p for package in ("engine", "web", "notifications") for p in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in p.relative_to(ROOT).parts]


def test_the_sources_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"engine/runtime/service.py", "web/__init__.py", "notifications/outbox.py"} <= names
    assert not any("migrations/versions" in n for n in names)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_and_functions_stay_small(path: Path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {len(lines)} lines (at most {MAX_MODULE_LINES})"
    long = []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = lines[node.lineno - 1]
            if length > MAX_FUNCTION_LINES and "# long:" not in first:
                long.append(f"{node.name} (line {node.lineno}): {length} lines")
    assert not long, f"{path.relative_to(ROOT)}: functions over {MAX_FUNCTION_LINES} lines without a reason: {long}"


def test_the_rule_catches_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    path = tmp_path / "long.py"
    path.write_text(f"def f():\n{body}\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="functions over"):
        _check(path)
    path.write_text(f"def f():  # long: one table of constants\n{body}\n", encoding="utf-8")
    _check(path)


def _check(path: Path) -> None:
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        test_modules_and_functions_stay_small(path)
    finally:
        ROOT = saved
