"""``zjtx``: the administrators' command line.

``--json`` output is stable (documented in README.md) and meant for scripts. Errors go to
stderr in Chinese with exit status 1; usage errors exit with 2. The group and its shared helpers
are in :mod:`engine.cli.base`; each module here adds the commands of one concern.
"""
from engine.cli import (  # noqa: F401
    assessing,
    calendar_days,
    clauses,
    districts,
    installation,
    notifying,
    pausing,
    pool,
    schedules,
    serving,
    supervising,
    work,
)
from engine.cli.base import main

__all__ = ["main"]
