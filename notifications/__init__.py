"""Notifications: outbox and channels (in-app, email, webhook).

Filled in by the deadlines-and-notifications issue; the package exists so the layout is fixed.
"""
