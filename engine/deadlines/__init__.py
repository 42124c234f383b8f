"""Deadlines: the working-day calendar, deadline planning, the escalation ladder and escalation."""
