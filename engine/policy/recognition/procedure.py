"""The recognition procedure (recognition_batch, 推荐申报): the helpers its diagram calls, what its completion
writes in the registry, and the expiry reminder the scheduler runs."""
from __future__ import annotations

from engine.policy.recognition import outcomes, reminders
from engine.runtime.extensions import HelperContext, Job, Procedure


def _helpers(ctx: HelperContext) -> dict:
    def recognition_departments() -> list[str]:
        return outcomes.proposing_departments(ctx.session)

    def outside_pool(proposals, department, tier=None) -> str:
        return outcomes.outside_pool(ctx.session, list(proposals or [])[:200], str(department),
                                     str(tier) if tier else None, ctx.now().astimezone(ctx.tz).date())

    def proposal_rows(proposals, department) -> list[dict]:
        return outcomes.proposal_rows(ctx.session, list(proposals or [])[:200], str(department))

    def recognition_validity_years() -> int:
        value = ctx.properties.get("recognition_validity_years")
        return int(value) if value and str(value).isdigit() else outcomes.DEFAULT_VALIDITY_YEARS

    def outcomes_mismatch(recorded, recommended) -> bool:
        codes = [str(o.get("enterprise_uscc", "")) for o in recorded or []]
        return sorted(codes) != sorted(str(c) for c in recommended or [])

    return {"recognition_departments": recognition_departments, "outside_pool": outside_pool,
            "proposal_rows": proposal_rows, "recognition_validity_years": recognition_validity_years,
            "outcomes_mismatch": outcomes_mismatch}


def _handlers(services) -> dict:
    return {"recognition_batch": outcomes.make_completion_handler(services.notifier, services.settings.base_url)}


PROCEDURE = Procedure(
    key="recognition", label="推荐申报", processes=("recognition_batch",), helpers=_helpers,
    completion_handlers=_handlers,
    jobs=(Job("recognition_expiry", reminders.due_probe, reminders.remind_due),),
)
