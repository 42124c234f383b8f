"""One problem of a deployment or a validation, as the designer, ``zjtx validate`` and the API show it:
a Chinese message that starts with where (file, line, element), and the same facts as keys."""
from __future__ import annotations

from typing import TypedDict

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.repository.validation import translate


class Problem(TypedDict):
    """One entry of ``problems`` in ``zjtx validate --json`` and the designer's answers (stable)."""
    message: str
    file: str | None
    element: str | None
    element_name: str | None
    line: int | None


def problem(message: str, *, file: str | None = None, element: str | None = None,
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


def from_validation(exc: ValidationException, file: str | None, kind: str = "BPMN",
                    element: str | None = None) -> dict:
    """SpiffWorkflow's ValidationException in our words; ``element`` where the library named none."""
    return problem(f"{kind} 校验失败：{translate(exc.msg if hasattr(exc, 'msg') else exc)}",
                   file=getattr(exc, "file_name", None) or file, element=getattr(exc, "id", None) or element,
                   name=getattr(exc, "name", None) or None, line=getattr(exc, "line_number", None) or None)
