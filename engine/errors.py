"""Errors of the engine. Each carries a Chinese message for the user (``message``)."""
from __future__ import annotations

# The database's errors as SQLAlchemy raises them (``connection_invalidated`` when the database dropped
# the connection), named here so that callers above the engine (web/) need not import the storage layer.
from sqlalchemy.exc import DBAPIError as DatabaseError  # noqa: F401 (re-exported)


class EngineError(Exception):
    """Base class. ``message`` is shown to users as is; ``code`` is stable for scripts and the API."""

    code = "engine_error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class NotFound(EngineError, LookupError):
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"

    def __init__(self, task_id):
        super().__init__(f"任务 {task_id} 不存在", task_id=task_id)


class InstanceNotFound(NotFound):
    code = "instance_not_found"

    def __init__(self, ref):
        super().__init__(f"流程实例 {ref} 不存在", instance=ref)


class ProcessNotFound(NotFound):
    code = "process_not_found"

    def __init__(self, key):
        super().__init__(f"流程「{key}」尚未部署", process=key)


class DepartmentNotFound(NotFound):
    code = "department_not_found"

    def __init__(self, name):
        super().__init__(f"部门「{name}」不存在", department=name)


class UserNotFound(NotFound):
    code = "user_not_found"

    def __init__(self, username):
        super().__init__(f"用户「{username}」不存在", user=username)


class TokenNotFound(NotFound):
    code = "token_not_found"

    def __init__(self, token_id):
        super().__init__(f"API 令牌 #{token_id} 不存在或不属于该用户", token_id=token_id)


class PermissionDenied(EngineError, PermissionError):
    code = "permission_denied"


class Conflict(EngineError):
    """Someone else changed the same instance or task first; nothing was written."""

    code = "conflict"


class TaskNotOpen(Conflict):
    code = "task_not_open"


class ConfigurationError(EngineError):
    """The installation is not set up to do this safely (a missing secret, a bad setting)."""

    code = "configuration_error"


class DatabaseNotReady(ConfigurationError):
    """The database of DATABASE_URL cannot be used as it is: the address is wrong, the server or file cannot
    be reached, it has no tables yet, or its schema is not this program's revision (``reason`` says which;
    the message says how to fix it). Raised when the database is opened, and by the check of
    :mod:`engine.storage.schema_state` before a command or the web app starts."""

    code = "database_not_ready"


class ValidationFailed(EngineError, ValueError):
    """Submitted data does not match the task's form. ``errors`` maps field → Chinese message."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, str], message: str = "提交的数据有误"):
        detail = "；".join(f"{k}：{v}" for k, v in errors.items())
        super().__init__(f"{message}：{detail}" if detail else message)
        self.errors = errors

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "errors": self.errors}


class DeploymentError(EngineError, ValueError):
    """A diagram cannot be deployed. ``problems`` lists per-element messages."""

    code = "deployment_failed"

    def __init__(self, problems: list[dict], message: str = "流程文件无法部署"):
        lines = [p["message"] for p in problems]
        super().__init__(message + "：" + "；".join(lines))
        self.problems = problems

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "problems": self.problems}


class WorkflowFailed(EngineError):
    """A script or expression of the diagram failed while the engine ran it."""

    code = "workflow_error"
    detail: str | None = None  # the library's own message, for the incident (not shown to users)
