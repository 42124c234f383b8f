"""Reading diagrams drawn in Camunda Modeler without manual editing.

Before SpiffWorkflow parses a file: JUEL conditions (``${amount > 100 && ok}``) become Python,
unquoted ISO 8601 timer values (``PT2H``, ``R6/P1D``) become strings, and a user task's
``camunda:candidateGroups`` names its department when our own property does not. Anything else
that cannot run is left for validation to report.
"""
from __future__ import annotations

import re

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ISO_TIMER = re.compile(r"^(R\d*/)?(P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?|"
                       r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)$")
JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)


def juel_to_python(expression: str) -> str:
    body = JUEL.match(expression).group(1)
    body = re.sub(r"&&", " and ", body)
    body = re.sub(r"\|\|", " or ", body)
    body = re.sub(r"!(?!=)", " not ", body)
    for word, python in (("eq", "=="), ("ne", "!="), ("gt", ">"), ("lt", "<"), ("ge", ">="), ("le", "<="),
                         ("true", "True"), ("false", "False"), ("null", "None"), ("empty", "not ")):
        body = re.sub(rf"\b{word}\b", python, body)
    return " ".join(body.split())


def adapt(root: etree._Element) -> etree._Element:
    for condition in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        if condition.text and JUEL.match(condition.text):
            condition.text = juel_to_python(condition.text)
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iter(f"{{{BPMN_NS}}}{tag}"):
            text = (timer.text or "").strip()
            if ISO_TIMER.match(text):
                timer.text = f'"{text}"'
            elif text and JUEL.match(text):
                timer.text = juel_to_python(text)
    for task in root.iter(f"{{{BPMN_NS}}}userTask"):
        groups = task.get(f"{{{CAMUNDA_NS}}}candidateGroups")
        if not groups:
            continue
        extensions = task.find(f"{{{BPMN_NS}}}extensionElements")
        if extensions is None:
            extensions = etree.Element(f"{{{BPMN_NS}}}extensionElements")
            task.insert(0, extensions)
        properties = extensions.find(f"{{{SPIFF_NS}}}properties")
        if properties is None:
            properties = etree.SubElement(extensions, f"{{{SPIFF_NS}}}properties")
        names = {p.get("name") for p in properties}
        if "department" not in names and "department_from" not in names:
            etree.SubElement(properties, f"{{{SPIFF_NS}}}property", name="department",
                             value=groups.split(",")[0].strip())
    return root
