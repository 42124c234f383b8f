"""Supervision by people (挂牌督办): an item listed for supervision by the leading-group office or a district
leader, its numbered 督办函, the lead unit's progress reports, and the office's choice to name a unit in
the circular (read by the circulars, engine.policy.supervision.naming)."""
