"""SQL the two databases spell differently, as SQLAlchemy constructs."""
from __future__ import annotations

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class position_in(FunctionElement):
    """``position_in(text, part)``: where ``part`` starts in ``text`` (from 1), 0 if it is not in it.

    For "the task's roles name this role" (``position_in(roles, "liaison") > 0``) rather than ``LIKE '%…%'``: on
    PostgreSQL under row-level security a LIKE (not leakproof) may not look at the column's statistics, and its
    fallback estimate for a pattern of seven letters is one row in 80,000, which made a unit's 2,300 open tasks
    look like one and its inbox page sort them all; a comparison of a function's result is estimated at a third.
    Also exact: ``_`` in a role's name is no wildcard here."""

    type = Integer()
    name = "position_in"
    inherit_cache = True


@compiles(position_in)
def _instr(element, compiler, **kw) -> str:  # SQLite
    text, part = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"instr({text}, {part})"


@compiles(position_in, "postgresql")
def _strpos(element, compiler, **kw) -> str:
    text, part = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"strpos({text}, {part})"
