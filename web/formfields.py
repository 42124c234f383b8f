"""Task forms on pages: fields described from the task's JSON Schema, posted values turned into JSON.

The engine validates; this module only shapes HTML form input into the types the schema declares.
"""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

ROWS_FOR_LISTS = 5


def _types(schema: dict) -> list[str]:
    t = schema.get("type", "string")
    return t if isinstance(t, list) else [t]


def _key(value) -> str:
    """A choice's value as the form posts it (booleans as true/false)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _asked_for(schema: dict, name: str) -> dict[str, list[str]]:
    """For a decision field: the fields each of its values requires (the schema's if/then rules)."""
    asked: dict[str, list[str]] = {}
    for rule in schema.get("allOf", []):
        condition = rule.get("if", {}).get("properties", {}).get(name, {})
        if "const" in condition:
            asked.setdefault(_key(condition["const"]), []).extend(rule.get("then", {}).get("required", []))
    return asked


def _decisions(schema: dict, fields: list[dict]) -> list[dict]:
    """A one-choice field marked ``"x-widget": "buttons"`` becomes one submit button per choice, placed
    last; the fields a choice requires (a refusal's reason) move into that choice's block, so a choice
    that asks for nothing is one tap. The posted name and values stay the schema's."""
    for decision in [f for f in fields if f.get("widget") == "buttons"]:
        asked = _asked_for(schema, decision["name"])
        placed: set[str] = set()
        actions = []
        for value, label in decision["choices"]:
            own = [dict(f, required=True) for f in fields
                   if f["name"] in asked.get(value, []) and f["name"] not in placed]
            placed.update(f["name"] for f in own)
            actions.append({"value": value, "label": label, "fields": own})
        decision["actions"] = actions
        fields = [f for f in fields if f["name"] not in placed and f is not decision] + [decision]
    return fields


def describe(schema: dict, departments: list[str], colleagues: dict[str, str] | None = None,
             items: list[tuple[str, str]] | None = None) -> list[dict]:
    """Fields for the template: name, label, widget, choices, required (a decision: its actions).
    ``colleagues``: the department's 承办人 (user name → name), for a field of format "colleague";
    ``items``: items to offer (business key, label) for a field of format "item-key" (typed or picked)."""
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        if prop.get("x-widget") == "hidden":  # set by the system (who rated), never typed on a page
            continue
        types = [t for t in _types(prop) if t != "null"]
        field = {"name": name, "label": prop.get("title", name), "required": name in required,
                 "max": prop.get("maximum"), "min": prop.get("minimum")}
        labels = prop.get("x-labels", {})
        buttons = prop.get("x-widget") == "buttons"
        if "enum" in prop:
            # A long list of choices (a circular's figures) is a drop-down: "x-widget": "select".
            widget = "buttons" if buttons else "select" if prop.get("x-widget") == "select" else "radio"
            # ``x-not-offered``: values only the system sets (企业自评, 企业自主提交), accepted but never offered
            hidden = set(prop.get("x-not-offered") or ())
            field.update(widget=widget, choices=[(v, labels.get(v, v)) for v in prop["enum"]
                                                 if v is not None and v not in hidden])
        elif prop.get("format") == "colleague":
            field.update(widget="select", choices=list((colleagues or {}).items()))
        elif prop.get("format") == "item-key":
            field.update(widget="item", choices=list(items or []), hint=prop.get("description"))
        elif prop.get("format") == "department":
            field.update(widget="select", choices=[(d, d) for d in departments])
        elif types == ["boolean"]:
            field.update(widget="buttons" if buttons else "radio",
                         choices=[("true", labels.get("true", "是")), ("false", labels.get("false", "否"))])
        elif types == ["integer"] or types == ["number"]:
            field.update(widget="number")
        elif prop.get("format") in ("date", "future-date"):
            field.update(widget="date")
        elif types == ["array"] and prop.get("items", {}).get("type") == "object":
            field.update(widget="rows", rows=ROWS_FOR_LISTS,
                         columns=describe(prop["items"], departments))
        elif prop.get("maxLength", 0) > 200:
            field.update(widget="textarea", rows=24 if prop.get("maxLength", 0) > 5000 else 4)
        else:
            field.update(widget="text")
        fields.append(field)
    return _decisions(schema, fields)


def _convert(prop: dict, raw: str):
    types = [t for t in _types(prop) if t != "null"]
    if raw == "":
        return None
    if types == ["integer"]:
        try:
            return int(raw)
        except ValueError:
            return raw  # the engine reports "应为整数" for the field
    if types == ["number"]:
        try:
            return float(raw)
        except ValueError:
            return raw
    if types == ["boolean"]:
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def parse(schema: dict, form: MultiDict) -> dict:
    """Posted form → JSON object. Empty inputs are left out, so "required" is reported for them."""
    data = {}
    for name, prop in schema.get("properties", {}).items():
        if [t for t in _types(prop) if t != "null"] == ["array"] and prop.get("items", {}).get("type") == "object":
            rows = []
            for i in range(ROWS_FOR_LISTS * 4):
                row = {}
                for sub, sub_prop in prop["items"].get("properties", {}).items():
                    value = _convert(sub_prop, form.get(f"{name}-{i}-{sub}", "").strip())
                    if value is not None:
                        row[sub] = value
                if row:
                    rows.append(row)
            data[name] = rows
            continue
        if name not in form:
            continue
        value = _convert(prop, form.get(name, "").strip())
        if value is not None:
            data[name] = value
    return data


def done_message(schema: dict | None, values: dict, step: str) -> str:
    """The flash after a step, saying what was done and what happens next: the form's ``x-done``
    entry for the submitted choice (``"field=value"``), else its ``"*"`` entry, else 「step」已提交."""
    done = (schema or {}).get("x-done", {})
    for key, message in done.items():
        name, _, value = key.partition("=")
        if value and name in values and _key(values[name]) == value:
            return message
    return done.get("*") or f"「{step}」已提交"
