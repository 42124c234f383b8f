"""The problem-dispatch procedure (problem_dispatch): its diagram uses only the runtime's calendar
helpers; its figures (engine.policy.dispatch.figures) are read by the circulars."""
from __future__ import annotations

from engine.runtime.extensions import Procedure

PROCEDURE = Procedure(key="dispatch", label="问题交办", processes=("problem_dispatch",))
