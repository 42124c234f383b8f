"""Task forms: JSON Schema files in ``processes/forms/``, checked on the server.

Every submitted field is checked against the task's schema. Messages are Chinese and keyed by
the field path (``co_handlers[0].department``). Only declared fields reach the workflow, so a
user cannot overwrite other process variables by posting extra keys.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine.errors import ValidationFailed
from engine.runtime.datapath import lookup

TYPE_NAMES = {
    "string": "文本", "integer": "整数", "number": "数字", "boolean": "是/否",
    "array": "列表", "object": "对象", "null": "空值",
}


class FormContext:
    """What validation needs from outside: department names, item keys, today's date."""

    def __init__(self, resolve_department: Callable[[str], str | None],
                 item_exists: Callable[[str], bool], today: date,
                 enterprise_exists: Callable[[str], bool] | None = None,
                 colleague_exists: Callable[[str], bool] | None = None):
        self.resolve_department = resolve_department
        self.item_exists = item_exists
        self.today = today
        self.enterprise_exists = enterprise_exists or (lambda _code: False)
        # format "colleague": a user name of the task's department who may handle it (转办 to a 承办人)
        self.colleague_exists = colleague_exists or (lambda _name: False)


def check_schema(schema: dict) -> str | None:
    """Return a Chinese description of what is wrong with a form schema, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"表单定义不是有效的 JSON Schema：{exc.message}"
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return "表单定义的顶层必须是 type=object 并列出 properties"
    return None


def _path(error) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _title(schema: dict, path: str) -> str:
    node = schema
    for token in path.replace("[", ".[").split("."):
        if not token:
            continue
        node = node.get("items", {}) if token.startswith("[") else node.get("properties", {}).get(token, {})
    return node.get("title") or path


def _message(error, schema: dict) -> tuple[str, str]:
    path = _path(error)
    v = error.validator
    if v == "required":
        missing = error.message.split("'")[1]
        field = f"{path}.{missing}" if path else missing
        return field, f"「{_title(schema, field)}」为必填项"
    title = _title(schema, path) if path else "表单"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        field = ".".join(filter(None, [path, extra[0] if extra else ""]))
        return field, f"不允许的字段：{'、'.join(extra)}"
    if v == "type":
        expected = error.validator_value
        names = "或".join(TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
                         if t != "null")
        return path, f"「{title}」应为{names}"
    if v == "enum" or v == "const":
        allowed = error.validator_value if v == "enum" else [error.validator_value]
        labels = error.schema.get("x-labels", {})
        shown = "、".join(f"{a}（{labels[a]}）" if a in labels else str(a) for a in allowed)
        return path, f"「{title}」的取值必须是：{shown}"
    if v == "minLength":
        if error.validator_value <= 1:
            return path, f"「{title}」不能为空"
        return path, f"「{title}」至少需要 {error.validator_value} 个字"
    if v == "maxLength":
        return path, f"「{title}」不能超过 {error.validator_value} 个字"
    if v == "minimum":
        return path, f"「{title}」不能小于 {error.validator_value}"
    if v == "maximum":
        return path, f"「{title}」不能大于 {error.validator_value}"
    if v == "maxItems":
        return path, f"「{title}」最多 {error.validator_value} 项"
    if v == "pattern":
        return path, f"「{title}」格式不正确"
    if v == "format":
        fmt = error.validator_value
        value = error.instance
        if fmt == "department":
            return path, f"「{title}」中的部门「{value}」不存在"
        if fmt == "enterprise":
            return path, f"「{title}」{value} 不在企业库中，请先在企业库登记该企业"
        if fmt == "colleague":
            return path, f"「{title}」中的「{value}」不是本部门在职的承办人"
        if fmt == "item-key":
            return path, f"「{title}」中的问题编号「{value}」不存在"
        if fmt == "date":
            return path, f"「{title}」应为日期，格式 YYYY-MM-DD"
        if fmt == "future-date":
            return path, f"「{title}」应为今天之后的日期（YYYY-MM-DD）"
        return path, f"「{title}」格式不正确"
    return path, f"「{title}」不符合要求"


def _format_checker(ctx: FormContext) -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date")
    def _date(value):
        if not isinstance(value, str):
            return True
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10

    @checker.checks("future-date")
    def _future_date(value):
        return not isinstance(value, str) or (_date(value) and date.fromisoformat(value) > ctx.today)

    @checker.checks("department")
    def _department(value):
        return not isinstance(value, str) or ctx.resolve_department(value) is not None

    @checker.checks("enterprise")
    def _enterprise(value):
        return not isinstance(value, str) or ctx.enterprise_exists(value)

    @checker.checks("colleague")
    def _colleague(value):
        return not isinstance(value, str) or ctx.colleague_exists(value)

    @checker.checks("item-key")
    def _item(value):
        return not isinstance(value, str) or ctx.item_exists(value)

    return checker


def _normalise(schema: dict, value, ctx: FormContext):
    """Canonical department names (aliases resolved); absent optional fields become defaults."""
    if schema.get("format") == "department" and isinstance(value, str):
        return ctx.resolve_department(value) or value
    if isinstance(value, dict) and "properties" in schema:
        out = {}
        for name, sub in schema["properties"].items():
            if name in value:
                out[name] = _normalise(sub, value[name], ctx)
            else:
                out[name] = copy.deepcopy(sub.get("default"))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_normalise(schema["items"], v, ctx) for v in value]
    return value


def _distinct(schema: dict, data: dict) -> dict[str, str]:
    """``x-distinct``: the listed fields must name different values (e.g. lead vs co-handlers)."""
    spec = schema.get("x-distinct")
    if not spec:
        return {}
    seen: dict[str, str] = {}
    errors: dict[str, str] = {}
    for ref in spec:
        if ref.endswith("]") or "[]." in ref:
            list_name, _, key = ref.partition("[].")
            items = [(f"{list_name}[{i}].{key}", item.get(key)) for i, item in enumerate(data.get(list_name) or [])]
        else:
            items = [(ref, data.get(ref))]
        for path, value in items:
            if value is None:
                continue
            if value in seen:
                errors[path] = f"「{value}」重复出现（已在 {seen[value]} 中填写）"
            else:
                seen[value] = path
    return errors


def bind_choices(schema: dict, data: dict) -> dict:
    """The schema with each ``x-choices-from`` field's choices taken from the task's data: the list at that
    data path (e.g. the units of the item, for 「退办给哪个单位」). The schema itself when none asks."""
    wanted = [name for name, prop in schema.get("properties", {}).items() if prop.get("x-choices-from")]
    if not wanted:
        return schema
    bound = copy.deepcopy(schema)
    for name in wanted:
        prop = bound["properties"][name]
        values = lookup(data, prop["x-choices-from"])
        choices = [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
        nullable = "null" in (prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")])
        prop["enum"] = list(dict.fromkeys(choices)) + ([None] if nullable else [])
    return bound


def validate(schema: dict, data, ctx: FormContext) -> dict:
    """Check ``data`` against ``schema``; return the cleaned data or raise ValidationFailed."""
    if not isinstance(data, dict):
        raise ValidationFailed({"表单": "提交的数据必须是一个对象（JSON object）"})
    validator = Draft202012Validator(schema, format_checker=_format_checker(ctx))
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.path))):
        # Conditional schemas (if/then) report the same field through several branches.
        leaf = min(error.context, key=lambda e: len(e.absolute_path)) if error.validator == "allOf" and error.context else error
        field, message = _message(leaf, schema)
        errors.setdefault(field or "表单", message)
    if errors:
        raise ValidationFailed(errors)
    cleaned = _normalise(schema, data, ctx)
    errors = _distinct(schema, cleaned)
    if errors:
        raise ValidationFailed(errors)
    return cleaned
