"""Monitoring: metrics, structured logs and incidents."""
