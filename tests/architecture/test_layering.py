"""The dependency rule, checked on the source: notifications → storage and config only; web → the
engine's services (no transactions, no SQL, no storage)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


FORBIDDEN_IN_WEB = ("sqlalchemy", "engine.storage")
TRANSACTIONS = {"read", "write", "unit", "lookup", "session"}


def _web_violations(path: Path, root: Path = ROOT) -> list[str]:
    """Imports of the storage layer or SQLAlchemy, and any use of a database handle (``….db``, ``db.read()`` …)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(root)
    found = [f"{where}:{line} imports {module}" for line, module in _imports(path)
             if _within(module, FORBIDDEN_IN_WEB)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "db":
            found.append(f"{where}:{node.lineno} uses the database handle (….db)")
        elif isinstance(node, ast.Attribute) and node.attr in TRANSACTIONS and \
                isinstance(node.value, ast.Name) and node.value.id == "db":
            found.append(f"{where}:{node.lineno} opens a transaction (db.{node.attr})")
    return found


def test_web_opens_no_transaction_and_imports_no_storage():
    """Pages call one engine service method per action; the method checks who may do it and keeps the
    audit record in its transaction. web/ never holds the database, SQLAlchemy or the models."""
    files = sorted((ROOT / "web").rglob("*.py"))
    assert len(files) > 10
    wrong = [v for path in files for v in _web_violations(path)]
    assert not wrong, "web/ must call engine services instead:\n" + "\n".join(wrong)


def test_the_web_check_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "page.py"
    bad.write_text("from sqlalchemy import select\nfrom engine.storage.models import User\n"
                   "def view():\n    with services().db.write() as session:\n        pass\n", encoding="utf-8")
    found = _web_violations(bad, root=tmp_path)
    assert len(found) == 3, found
