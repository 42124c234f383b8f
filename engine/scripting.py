"""The one place where the script engine for diagrams is made: every script, condition, timer and
DMN entry runs in the sandbox (:mod:`engine.sandbox`), whoever wrote the diagram."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.sandbox import SandboxedEnvironment

# Helpers visible to scripts and expressions of our own diagrams.
SCRIPT_GLOBALS = {
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
}


def create_script_engine(helpers: dict | None = None) -> PythonScriptEngine:
    """``helpers``: functions bound to the caller's transaction (working-day calendar, today)."""
    return PythonScriptEngine(environment=SandboxedEnvironment({**SCRIPT_GLOBALS, **(helpers or {})}))
