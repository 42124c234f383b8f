"""The 联席会议 procedure (joint_meeting): its four operations (engine.policy.meetings.minutes), who may trigger
each, and its quarterly schedule."""
from __future__ import annotations

from engine.policy.meetings import minutes
from engine.runtime.extensions import DefaultSchedule, Procedure
from engine.runtime.operations import Operation

MEETING_SCHEDULE = "联席会议（季度）"
_DISPATCHER = frozenset({"dispatcher", "admin"})
_OFFICE = frozenset({"leading_group_office", "admin"})

PROCEDURE = Procedure(
    key="meetings", label="联席会议", processes=(minutes.PROCESS,),
    operations=(
        Operation("build_meeting_agenda", "生成联席会议议程（挂牌督办、两次不满意、待审定、滞后措施）",
                  _DISPATCHER | _OFFICE, True, (), minutes.build_agenda, "{id, summary}：会议号、议程文本"),
        Operation("save_meeting_agenda", "保存联席会议议程", _DISPATCHER, False, ("added_topics",),
                  minutes.save_agenda, "{summary}：议程文本"),
        Operation("approve_meeting_agenda", "审定联席会议议程", _OFFICE, False, (), minutes.approve_agenda, "无"),
        Operation("record_meeting_minutes", "记录会议纪要与议定事项", _DISPATCHER, False,
                  ("held_on", "place", "chair", "attendance", "topics", "decisions"), minutes.record_minutes,
                  "{number, decisions}：会议编号、议定事项数"),
    ),
    # The 10th working day of each quarter's first month: the dispatcher prepares the quarter's meeting.
    schedules=(DefaultSchedule(MEETING_SCHEDULE, minutes.PROCESS, "workday:10:1,4,7,10@09:00", {}, clause="四（一）"),),
)
