"""The one place where the script engine for diagrams is made.

Until the sandbox lands (designer issue), only diagrams from our own ``processes/`` folder may
contain scripts: :mod:`engine.registry` refuses scripts in any other file. Replacing this
factory's return value is all a sandbox needs to do; callers never build engines themselves.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

# Helpers visible to scripts and expressions of our own diagrams.
SCRIPT_GLOBALS = {
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "timezone": timezone,
}


def create_script_engine(helpers: dict | None = None) -> PythonScriptEngine:
    """``helpers``: functions bound to the caller's transaction (working-day calendar, today)."""
    return PythonScriptEngine(environment=TaskDataEnvironment({**SCRIPT_GLOBALS, **(helpers or {})}))
