"""Reading (and, for a moved deadline, writing) task data by the dotted paths that diagram properties name
(``assignment.department``)."""
from __future__ import annotations


def lookup(data: dict, path: str):
    """Value at a dotted path in task data, or None."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def assign(data: dict, path: str, value) -> None:
    """Set the value at a dotted path in task data (the dictionaries on the way must exist)."""
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[last] = value
