"""The cultivation pool: the enterprise registry, eligibility, admission and the yearly update."""
