"""The cultivation-pool procedure (pool_admission, pool_data_update): the eligibility helper, what an
admission and a removal change in the registry, the yearly data update, and the deployed decision tables."""
from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.policy.pool.admission import assess, make_completion_handler, make_removal_handler
from engine.policy.pool.eligibility import Decisions
from engine.runtime.extensions import DefaultSchedule, HelperContext, Procedure
from engine.storage.models import Enterprise

DATA_UPDATE_SCHEDULE = "培育库年度数据更新"


class DeployedDecisions:
    """The deployed decision tables, parsed once per content (files not deployed yet come from processes/)."""

    def __init__(self, db, registry, script_engine, processes_dir):
        self.db, self.registry, self.script_engine, self.processes_dir = db, registry, script_engine, processes_dir
        self._cached: tuple[str, Decisions] | None = None

    def current(self, session: Session | None = None) -> Decisions:
        if session is None:
            with self.db.read() as reading:
                sources = self.registry.latest_decision_sources(reading)
        else:
            sources = self.registry.latest_decision_sources(session)
        key = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(sources.items()))).hexdigest()
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, Decisions(self.processes_dir, self.script_engine, sources))
        return self._cached[1]


def _helpers(ctx: HelperContext) -> dict:
    def assess_eligibility(code: str) -> dict:
        return assess(ctx.session, ctx.services.decisions.current(ctx.session), str(code)[:64],
                      ctx.now().astimezone(ctx.tz).date())

    return {"assess_eligibility": assess_eligibility}


def _each_pool_enterprise(session: Session, data: dict, planned: date) -> list[dict]:
    """One yearly update per enterprise in the pool."""
    codes = session.scalars(select(Enterprise.uscc).where(Enterprise.in_pool.is_(True)).order_by(Enterprise.id))
    return [{**data, "enterprise_uscc": code, "update_year": planned.year} for code in codes]


def _handlers(services) -> dict:
    base_url = services.settings.base_url
    return {"pool_admission": make_completion_handler(services.notifier, services.workflows.tz, base_url),
            "pool_data_update": make_removal_handler(services.notifier, base_url)}


PROCEDURE = Procedure(
    key="pool", label="培育库", processes=("pool_admission", "pool_data_update"), helpers=_helpers,
    completion_handlers=_handlers,
    # Every 1 March: the yearly data update for each enterprise in the pool (due 30 April).
    schedules=(DefaultSchedule(DATA_UPDATE_SCHEDULE, "pool_data_update", "cron:0 9 1 3 *",
                               {"for_each": "pool_enterprise"}, clause="四（二）, 四（三）"),),
    fan_outs={"pool_enterprise": _each_pool_enterprise},
)
