"""联席会议 (joint meetings): the agenda built from the open work, the minutes, the decisions dispatched as items."""
