"""The OpenAPI document of /api/v1 (tests check that it lists exactly the API's routes, and fuzz the API
against it: every answer's status is listed here and its body matches the schema given for it).

OpenAPI 3.1, whose schemas are JSON Schema 2020-12 like the task forms: the registration body is the
deployed registration form itself, so the document says what the server checks.
"""
from __future__ import annotations

from engine.queries.views import COUNT_CAP, TABS
from engine.runtime.projection import STATUS_LABELS
from web.params import MAX_ID, MAX_PAGE


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = _ref("Error")
# Every answer but the document itself may be one of these.
FAILURES = {
    "400": "输入有误（按字段的 errors 说明哪一项）；以会话调用的状态变更请求缺少 X-CSRF-Token 时也是 400（code 为 csrf_failed）",
    "401": "未登录，或 Bearer 令牌无效",
    "403": "无权限",
    "404": "不存在或无权查看",
    "409": "冲突：任务已办理，或与同时进行的修改冲突；登记时：来源系统编号已登记过（id、business_key 为当时登记的事项）",
    "503": "数据库连接中断，本次操作未保存，请稍后重试",
}


def _op(summary: str, ok_schema: dict, failures: str, *, params=(), body=None, status="200",
        description: str | None = None) -> dict:
    """One operation; ``failures``: the error statuses it can answer, e.g. "401 404"."""
    responses = {status: {"description": "成功", "content": {"application/json": {"schema": ok_schema}}}}
    for code in failures.split():
        responses[code] = {"description": FAILURES[code], "content": {"application/json": {"schema": ERROR}}}
    op = {"summary": summary, "parameters": list(params), "responses": responses}
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _path_id(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _clamped(name: str, description: str, default: int, lo: int, hi: int) -> dict:
    # Any integer is accepted and brought into [lo, hi] (a page past the end is an empty page), so the
    # schema has no bounds; what is not an integer is refused.
    return _query(name, f"{description}：整数，小于 {lo} 按 {lo}、大于 {hi} 按 {hi} 处理，缺省 {default}",
                  {"type": "integer", "default": default})


def _nullable(type_name: str, **more) -> dict:
    return {"type": [type_name, "null"], **more}


def _object(properties: dict, **more) -> dict:
    return {"type": "object", "required": sorted(properties), "properties": properties, **more}


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
MOMENT = {"type": "string", "description": "ISO 8601 时刻"}
STATUS = {"type": "string", "enum": sorted(STATUS_LABELS)}


def _task_schemas() -> dict:
    summary = _object({
        "id": INTEGER, "instance_id": INTEGER, "business_key": STRING, "title": STRING, "process": STRING,
        "task": STRING, "name": STRING, "stage": _nullable("string"), "department": _nullable("string"),
        "roles": {"type": "array", "items": STRING}, "status": STATUS, "status_label": STRING,
        "form": _nullable("string"), "created_at": MOMENT, "due_at": _nullable("string"),
        "deadline_confirmed": _nullable("boolean"), "escalation_level": _nullable("integer"),
        "next_escalation_at": _nullable("string"), "completed_at": _nullable("string"),
        "assignee": _nullable("string"), "completed_by": _nullable("string")})
    inbox_row = _object({
        "id": INTEGER, "instance_id": INTEGER, "business_key": STRING, "title": STRING,
        "enterprise": _nullable("string"), "category": _nullable("string"), "name": STRING, "department": STRING,
        "status": STATUS, "status_label": STRING, "stage": _nullable("string"), "created_at": MOMENT,
        "due_at": _nullable("string"), "due_local": _nullable("string"), "working_days_left": _nullable("integer"),
        "overdue": BOOLEAN, "escalation_level": INTEGER, "escalation_label": _nullable("string"),
        "deadline_confirmed": _nullable("boolean")})
    counts = _object({tab: {"type": "integer", "minimum": 0, "maximum": COUNT_CAP + 1} for tab in TABS},
                     additionalProperties=False)
    inbox = _object({"tab": {"type": "string", "enum": list(TABS)}, "counts": counts,
                     "count_cap": {"const": COUNT_CAP}, "total": INTEGER, "has_next": BOOLEAN,
                     "tasks": {"type": "array", "items": _ref("InboxTask")}})
    step = _object({"at": MOMENT, "actor": STRING, "action": STRING, "code": STRING, "task": _nullable("string"),
                    "data": {"type": "object"},
                    "fields": {"type": "array", "description": "已提交的表单字段：[标题, 显示值]",
                               "items": {"type": "array", "items": STRING, "minItems": 2, "maxItems": 2}}})
    detail = _object({
        "id": INTEGER, "instance_id": INTEGER, "name": STRING, "task": STRING, "department": STRING,
        "status": STATUS, "status_label": STRING, "due_at": _nullable("string"), "escalation_level": INTEGER,
        "can_act": BOOLEAN, "form": _nullable("string"), "history": {"type": "array", "items": step}})
    return {"Task": summary, "InboxTask": inbox_row, "InboxPage": inbox, "TaskDetail": detail,
            "TaskList": _object({"tasks": {"type": "array", "items": _ref("Task")}})}


def _instance_schemas() -> dict:
    summary_properties = {
        "id": INTEGER, "business_key": STRING, "title": STRING, "process": STRING, "version": INTEGER,
        "status": STRING, "item_status": _nullable("string"), "started_at": MOMENT,
        "started_by": _nullable("string"), "completed_at": _nullable("string"),
        "open_tasks": {"type": "array", "items": _ref("Task")}}
    history = _object({"at": MOMENT, "actor": _nullable("string"), "actor_name": _nullable("string"),
                       "action": STRING, "task_id": _nullable("integer"), "task": _nullable("string"),
                       "data": _nullable("object")})
    view = _object({**summary_properties, "data": {"type": "object", "description": "流程实例当前数据"},
                    "history": {"type": "array", "items": history}})
    registered = _object({**summary_properties, "enterprise_id": _nullable("integer"),
                          "measures": {"type": "array", "items": INTEGER}, "external_source": _nullable("string"),
                          "external_ref": _nullable("string"), "enterprise_note": _nullable("string")})
    found = _object({"id": INTEGER, "business_key": STRING, "title": STRING, "item_status": _nullable("string"),
                     "status": STRING, "external_source": STRING, "external_ref": STRING,
                     "enterprise_id": _nullable("integer")})
    enterprise = _object({"id": INTEGER, "name": STRING, "uscc": STRING, "industry": _nullable("string"),
                          "label": STRING})
    report = _object({"due_date": STRING, "submitted_at": _nullable("string"), "submitted_by": _nullable("string"),
                      "progress": _nullable("string"), "text": STRING, "decision": STRING, "colour": _nullable("string"),
                      "review_comment": _nullable("string")})
    listing = _object({
        "id": INTEGER, "item_id": INTEGER, "instance_id": INTEGER, "status": STRING, "status_label": STRING,
        "open": BOOLEAN, "colour": {"type": "string", "enum": ["蓝", "黄", "红"]}, "reason": STRING, "lead_unit": STRING,
        "deadline": STRING, "report_every": INTEGER, "next_report_due": _nullable("string"), "number": _nullable("string"),
        "instruction": _nullable("string"), "instruction_by": _nullable("string"), "started_by": _nullable("string"),
        "started_at": _nullable("string"), "issued_at": _nullable("string"), "ended_at": _nullable("string"),
        "end_note": _nullable("string"), "named_in_circular": BOOLEAN, "reports": {"type": "array", "items": report}})
    listed = _object({"id": INTEGER, "business_key": STRING, "title": STRING, "item_status": _nullable("string"),
                      "listing": {"anyOf": [_ref("Listing"), {"type": "null"}]},
                      "open_tasks": {"type": "array", "items": _ref("Task")}})
    return {"Listing": listing, "Listed": listed,
            "Listings": _object({"listings": {"type": "array", "items": _ref("Listing")}}),
            "Instance": _object(summary_properties), "InstanceView": view, "Registered": registered,
            "ItemLookup": _object({"items": {"type": "array", "items": found, "maxItems": 1}}),
            "EnterpriseChoices": _object({"enterprises": {"type": "array", "items": enterprise, "maxItems": 10}}),
            "Completion": _object({"task": _ref("Task"), "instance": _ref("Instance")})}


def _other_schemas() -> dict:
    message = _object({"id": INTEGER, "title": STRING, "body": STRING, "link": _nullable("string"),
                       "created_at": MOMENT, "read": BOOLEAN})
    return {
        "Error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": STRING, "message": {"type": "string", "description": "中文说明"},
            "errors": {"type": "object", "additionalProperties": STRING, "description": "按字段的错误"},
            "id": {"type": "integer", "description": "409（来源系统编号已登记过）：当时登记的事项号"},
            "business_key": {"type": "string", "description": "409（来源系统编号已登记过）：当时登记的事项编号"}}},
        "Due": _object({"start": {"type": "string", "format": "date"}, "days": {"type": "integer", "minimum": 1,
                                                                                 "maximum": 365},
                        "due": {"type": "string", "format": "date"}, "confirmed": BOOLEAN}),
        "Messages": _object({"unread": {"type": "integer", "minimum": 0},
                             "messages": {"type": "array", "items": message}}),
        "Marked": _object({"marked": {"type": "integer", "minimum": 0, "maximum": 1}}),
        "Document": {"type": "object", "required": ["openapi", "info", "paths"]},
    }


# The 挂牌督办 start form (processes/forms/listed_start.schema.json) without the item's key (the path names the item).
LISTING_BODY = {"type": "object", "required": ["listing_reason", "slip_colour", "new_deadline"], "properties": {
    "listing_reason": {"type": "string", "description": "督办事由", "minLength": 2, "maxLength": 2000},
    "slip_colour": {"type": "string", "enum": ["蓝", "黄", "红"], "description": "督办单颜色"},
    "new_deadline": {"type": "string", "format": "date", "description": "新的办理期限：今天之后的工作日"},
    "report_every_working_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 30,
                                  "description": "督办回复间隔（工作日），缺省按流程属性（5）"},
    "ask_instruction": {"type": "boolean", "description": "报请领导小组组长、副组长批示"}}}


def _paths(register_form: dict | None, departments: list[str]) -> dict:
    task_id = _path_id("task_id", "任务号")
    tasks = _op("任务列表", {"anyOf": [_ref("InboxPage"), _ref("TaskList")]}, "400 401 503", description=(
        "给出 tab 时返回我的待办中该分栏的一页（InboxPage：counts 为各分栏数量，最多数到 count_cap + 1，表示超过 "
        "count_cap 条；has_next 表示是否有下一页），否则按 status 返回可见任务（TaskList）。"), params=[
        _query("tab", "我的待办分栏", {"type": "string", "enum": list(TABS)}),
        _query("status", "任务状态（不给 tab 时）", {"type": "string", "enum": ["open", "all", *sorted(STATUS_LABELS)],
                                              "default": "open"}),
        _query("department", "部门名称或别名（不给 tab 时）", {"type": "string", "enum": departments}),
        _query("enterprise", "企业名称（包含，给 tab 时）", STRING), _query("category", "问题类别（给 tab 时）", STRING),
        _clamped("page", "页码（给 tab 时）", 1, 1, MAX_PAGE), _clamped("per_page", "每页条数（给 tab 时）", 20, 1, 100),
        _clamped("limit", "条数（不给 tab 时）", 100, 1, 500), _clamped("offset", "偏移（不给 tab 时）", 0, 0, MAX_PAGE * 100)])
    register = register_form or {"type": "object", "description": "登记表单（流程未部署时无法登记）"}
    source = {"type": "string", "pattern": r"^[0-9A-Za-z_\-\u4e00-\u9fff]{1,32}$"}
    reference = {"type": "string", "pattern": r"^[0-9A-Za-z_\-./#\u4e00-\u9fff]{1,100}$"}
    return {
        "/openapi.json": {"get": {**_op("本文档", _ref("Document"), ""), "security": []}},
        "/tasks": {"get": tasks},
        "/tasks/{task_id}": {"get": _op("任务详情与办理记录", _ref("TaskDetail"), "401 404 503", params=[task_id])},
        "/tasks/{task_id}/complete": {"post": _op(
            "办理任务（提交表单数据）", _ref("Completion"), "400 401 403 404 409 503", params=[task_id],
            body={"type": "object", "description": "任务表单的字段：须符合任务详情中 form 所指的表单，"
                                                   "否则 400，errors 按字段说明"})},
        "/items": {"post": _op("登记企业问题（发起问题交办流程）", _ref("Registered"), "400 401 403 404 409 503",
                               status="201", body=register, description=(
                                   "其他系统（如 12345 工单）转来的问题带 external_source 与 external_ref：同一对只登记一次，"
                                   "再次提交答 409，id 为当时登记的事项。")),
                   "get": _op("按来源系统编号查事项", _ref("ItemLookup"), "400 401 503", params=[
                       _query("external_source", "来源系统（如 12345）", source, required=True),
                       _query("external_ref", "来源系统编号", reference, required=True)])},
        "/items/{instance_id}/listed-supervision": {
            "post": _op("挂牌督办（领导小组办公室、领导小组组长或副组长）", _ref("Listed"), "400 401 403 404 409 503",
                        status="201", params=[_path_id("instance_id", "事项（问题交办实例）号")], body=LISTING_BODY,
                        description="发起挂牌督办流程：不报请批示的立即签发督办函并通知主办单位；listing 为登记的挂牌督办。"),
            "get": _op("事项的挂牌督办（新的在前）", _ref("Listings"), "401 404 503",
                       params=[_path_id("instance_id", "事项（问题交办实例）号")])},
        "/enterprises/search": {"get": _op("按名称或统一社会信用代码查企业库（登记时选择企业）", _ref("EnterpriseChoices"),
                                           "400 401 503", params=[
            _query("q", "企业名称（包含）或统一社会信用代码（开头）", {"type": "string", "minLength": 1, "maxLength": 50},
                   required=True)])},
        "/instances/{ref}": {"get": _op("流程实例（实例号或事项编号）", _ref("InstanceView"), "401 404 503", params=[
            {"name": "ref", "in": "path", "required": True, "description": "实例号或事项编号", "schema": STRING}])},
        "/calendar/add-working-days": {"get": _op("计算期限：start 之后第 days 个工作日（次日起算）", _ref("Due"),
                                                  "400 401 503", params=[
            _query("start", "起算日期（缺省今天）", {"type": "string", "format": "date"}),
            _query("days", "工作日数", {"type": "integer", "minimum": 1, "maximum": 365}, required=True)])},
        "/notifications": {"get": _op("站内消息（最新 50 条）与未读数", _ref("Messages"), "401 503")},
        "/notifications/{message_id}/read": {"post": _op(
            "标为已读（只能标自己的消息）", _ref("Marked"), "400 401 404 503", params=[_path_id("message_id", "消息号")])},
    }


def document(register_form: dict | None = None, departments: list[str] | None = None) -> dict:
    """The document; ``register_form``: the deployed registration form (the body of POST /items);
    ``departments``: the names and aliases a department filter accepts."""
    from web.openapi_pauses import pause_paths, pause_schemas  # 挂起 (web/pauses.py)

    return {
        "openapi": "3.1.0",
        "info": {"title": "黔江区“专精特新”企业培育流程引擎 API", "version": "1",
                 "description": "会话登录（状态变更请求带 X-CSRF-Token 头）或 Bearer 令牌。错误返回 {code, message}。"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {**_task_schemas(), **_instance_schemas(), **_other_schemas(), **pause_schemas()},
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {**_paths(register_form, sorted(departments or [])), **pause_paths()},
    }
