"""The dependency rule, checked on the source: notifications → storage and config only; web → the
engine's services (no transactions, no SQL, no storage)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_notifications_import_only_storage_and_config_of_the_engine():
    allowed = ("engine.storage", "engine.config")
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in sorted((ROOT / "notifications").rglob("*.py"))
             for line, module in _imports(path)
             if _within(module, ("engine", "web")) and not _within(module, allowed)]
    assert not wrong, "notifications/ may import only engine.storage and engine.config:\n" + "\n".join(wrong)
