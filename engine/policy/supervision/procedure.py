"""The 挂牌督办 procedure (listed_supervision): its four operations (engine.policy.supervision.listing), who
may trigger each, and what ends a listing when its item (problem_dispatch) completes."""
from __future__ import annotations

from engine.identity.org import LEADER_ROLES
from engine.policy.supervision import listing
from engine.runtime.extensions import Procedure
from engine.runtime.operations import Operation

_LISTERS = frozenset({"leading_group_office", *LEADER_ROLES, "admin"})
_LEAD_UNIT = frozenset({"liaison", "department_head", "admin"})
_OFFICE = frozenset({"leading_group_office", "admin"})


def _handlers(_services) -> dict:
    return {listing.ITEM_PROCESS: listing.close_with_item}


PROCEDURE = Procedure(
    key="supervision", label="挂牌督办", processes=(listing.PROCESS,), completion_handlers=_handlers,
    cancel_handlers=_handlers,
    operations=(
        Operation("open_listed_supervision", "登记挂牌督办", _LISTERS, False,
                  ("item_key", "reason", "colour", "deadline", "report_every"), listing.open_listed,
                  "{id, lead_unit, business_key, matter}：挂牌督办号、主办单位、事项编号、事项"),
        Operation("issue_supervision_letter", "签发督办函（编号、通知主办单位）", _LISTERS, False,
                  ("listing_id", "instruction"), listing.issue_letter, "{number, report_due}：督办函文号、首次督办回复期限"),
        Operation("record_supervision_report", "记录督办回复", _LEAD_UNIT, False,
                  ("listing_id", "due_date", "progress", "text"), listing.record_report, "{id}：督办回复号"),
        Operation("review_supervision_report", "记录督办回复审阅结果", _OFFICE, False,
                  ("listing_id", "report_id", "decision", "colour", "comment", "name_in_circular"),
                  listing.review_report, "{colour, lifted, next_report_due}：督办单颜色、是否解除、下次回复期限"),
    ),
)
