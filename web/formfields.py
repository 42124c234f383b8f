"""Task forms on pages: fields described from the task's JSON Schema, posted values turned into JSON.

The engine validates; this module only shapes HTML form input into the types the schema declares.
"""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

ROWS_FOR_LISTS = 5


def _types(schema: dict) -> list[str]:
    t = schema.get("type", "string")
    return t if isinstance(t, list) else [t]


def describe(schema: dict, departments: list[str]) -> list[dict]:
    """Fields for the template: name, label, widget, choices, required."""
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        types = [t for t in _types(prop) if t != "null"]
        field = {"name": name, "label": prop.get("title", name), "required": name in required,
                 "max": prop.get("maximum"), "min": prop.get("minimum")}
        if "enum" in prop:
            labels = prop.get("x-labels", {})
            field.update(widget="radio", choices=[(v, labels.get(v, v)) for v in prop["enum"]])
        elif prop.get("format") == "department":
            field.update(widget="select", choices=[(d, d) for d in departments])
        elif types == ["boolean"]:
            field.update(widget="radio", choices=[("true", "是"), ("false", "否")])
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
    return fields


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
