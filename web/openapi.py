"""The OpenAPI document of /api/v1 (a test checks that it lists exactly the API's routes)."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, *, params=(), body=None, ok="成功", ok_schema=None, auth=True, status="200") -> dict:
    op = {"summary": summary, "parameters": list(params),
          "responses": {status: {"description": ok, "content": {"application/json": {
              "schema": ok_schema or {"type": "object"}}}},
                        "400": {"description": "输入有误", "content": {"application/json": {"schema": ERROR}}},
                        "401": {"description": "未登录", "content": {"application/json": {"schema": ERROR}}},
                        "403": {"description": "无权限", "content": {"application/json": {"schema": ERROR}}},
                        "404": {"description": "不存在或无权查看", "content": {"application/json": {"schema": ERROR}}}}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if not auth:
        op["security"] = []
    return op


def _path(name: str, description: str, schema_type="integer") -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": schema_type}}


def _query(name: str, description: str, schema_type="string") -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": schema_type}}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "黔江区“专精特新”企业培育流程引擎 API", "version": "1",
                 "description": "会话登录（状态变更请求带 X-CSRF-Token 头）或 Bearer 令牌。错误返回 {code, message}。"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string", "description": "中文说明"},
                    "errors": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "按字段的错误"}}},
                "Task": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "instance_id": {"type": "integer"}, "business_key": {"type": "string"},
                    "title": {"type": "string"}, "task": {"type": "string"}, "name": {"type": "string"},
                    "department": {"type": "string"}, "status": {"type": "string"},
                    "status_label": {"type": "string"}, "due_at": {"type": "string", "nullable": True},
                    "escalation_level": {"type": "integer"}}},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/openapi.json": {"get": _op("本文档", auth=False)},
            "/tasks": {"get": _op("任务列表（按 tab 返回我的待办分栏，或按 status 返回可见任务）。按 tab 时 counts 为各分栏数量，"
                                  "最多数到 count_cap + 1（表示超过 count_cap 条），has_next 表示是否有下一页", params=[
                _query("tab", "to_sign / in_progress / due_soon / overdue / completed"),
                _query("status", "open / all / to_sign / in_progress / completed / cancelled"),
                _query("department", "部门名称"), _query("enterprise", "企业名称（包含）"),
                _query("category", "问题类别"), _query("page", "页码", "integer"),
                _query("per_page", "每页条数", "integer"), _query("limit", "条数", "integer"),
                _query("offset", "偏移", "integer")])},
            "/tasks/{task_id}": {"get": _op("任务详情与办理记录", params=[_path("task_id", "任务号")])},
            "/tasks/{task_id}/complete": {"post": _op(
                "办理任务（提交表单数据）", params=[_path("task_id", "任务号")],
                body={"type": "object", "description": "任务表单字段"})},
            "/items": {"post": _op("登记企业问题（发起问题交办流程）", status="201", body={
                "type": "object", "required": ["enterprise_name", "category", "description", "source"],
                "properties": {"enterprise_name": {"type": "string"}, "category": {"type": "string"},
                               "description": {"type": "string"}, "source": {"type": "string"},
                               "enterprise_uscc": {"type": "string"}, "contact": {"type": "string"}}})},
            "/instances/{ref}": {"get": _op("流程实例（实例号或事项编号）", params=[
                _path("ref", "实例号或事项编号", "string")])},
            "/calendar/add-working-days": {"get": _op("计算期限：start 之后第 days 个工作日", params=[
                _query("start", "起算日期 YYYY-MM-DD（缺省今天）"), _query("days", "工作日数", "integer")])},
            "/notifications": {"get": _op("站内消息与未读数")},
            "/notifications/{message_id}/read": {"post": _op("标为已读", params=[_path("message_id", "消息号")])},
        },
    }
