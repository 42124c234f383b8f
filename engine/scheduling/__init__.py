"""Scheduling: the tick (timers, escalation, deliveries, periodic starts) and the periodic schedules."""
