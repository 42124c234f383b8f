"""Workflow engine of the 专精特新 cultivation product: runtime, persistence, organisation data.

Nothing here imports Flask; wiring lives in :mod:`engine.bootstrap`.
"""
