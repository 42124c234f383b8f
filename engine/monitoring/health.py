"""For the monitoring network: is the database there (``/healthz``), and the Prometheus figures (``/metrics``)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.monitoring import metrics


class HealthService:
    def __init__(self, db, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    def check(self) -> None:
        """Raise if the database cannot be reached."""
        self.db.ping()

    def metrics(self) -> bytes:
        return metrics.render(self.db, self.clock())
