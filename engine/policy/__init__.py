"""The policy's procedures, one package each: dispatch (问题交办), pool (培育库), measures (措施督办),
circulars (通报), supervision (挂牌督办), recognition (推荐申报). Each registers what it brings to the runtime through
its ``procedure.PROCEDURE`` (engine.runtime.extensions); the runtime knows none of them. Ledgers span the procedures."""
from __future__ import annotations

from engine.runtime.extensions import Procedure


def procedures() -> tuple[Procedure, ...]:
    from engine.policy.circulars.procedure import PROCEDURE as circulars
    from engine.policy.dispatch.procedure import PROCEDURE as dispatch
    from engine.policy.enterprise_requests.procedure import PROCEDURE as enterprise_requests
    from engine.policy.measures.procedure import PROCEDURE as measures
    from engine.policy.meetings.procedure import PROCEDURE as meetings
    from engine.policy.pool.procedure import PROCEDURE as pool
    from engine.policy.recognition.procedure import PROCEDURE as recognition
    from engine.policy.supervision.procedure import PROCEDURE as supervision

    return dispatch, pool, measures, circulars, supervision, recognition, meetings, enterprise_requests
