"""The action plan as clauses (clauses.py) and the clause tags of diagrams and tables (tags.py).

Outside engine.policy because the repository's deploy validation checks the tags against the plan; the
policy page (engine.policy.coverage) puts them together with figures, measures and schedules."""
