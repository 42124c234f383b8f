"""Notifications: the outbox and its channels (in-app inbox, email over SMTP, webhook).

A state change writes inbox messages and outbox rows in its own transaction (:mod:`.outbox`);
the scheduler's delivery job sends outbox rows and marks them (:mod:`.delivery`), retrying with
exponential backoff and parking them as dead letters after the last try.
"""
