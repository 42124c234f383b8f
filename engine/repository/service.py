"""The process repository as a service, for the designer's pages: versions, checking, deploying,
the deployed files, trusted versions.

Each method is one transaction. Designers and administrators may use the designer; only an
administrator marks a version trusted (audited, see :mod:`engine.repository.trust`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.errors import PermissionDenied
from engine.identity.authz import Actor
from engine.repository import trust
from engine.repository.registry import DeployResult, Registry

DESIGNER_ROLES = frozenset({"designer", "admin"})


def require_designer(actor: Actor) -> None:
    if not (actor.is_admin or actor.roles & DESIGNER_ROLES):
        raise PermissionDenied("只有流程设计人员可以管理流程")


class RepositoryService:
    def __init__(self, db, registry: Registry, clock: Callable[[], datetime]):
        self.db = db
        self.registry = registry
        self.clock = clock

    def catalogue(self, actor: Actor) -> dict:
        """Every process with its versions, the deployed decision tables and the trusted versions."""
        require_designer(actor)
        with self.db.read() as session:
            return {"catalogue": self.registry.catalogue(session),
                    "tables": sorted(self.registry.latest_decision_sources(session)),
                    "trusted": trust.trusted_versions(session)}

    def set_trusted(self, actor: Actor, key: str, version: int, trusted: bool) -> bool:
        """Mark a version trusted (it may run effect operations) or withdraw it; administrators only."""
        with self.db.write() as session:
            return trust.set_trusted(session, key, version, trusted, actor, self.clock())

    def validate(self, actor: Actor, files: dict[str, bytes]) -> list[dict]:
        """Every problem deploying ``files`` would meet (none: they would deploy)."""
        require_designer(actor)
        with self.db.read() as session:
            return self.registry.validate(session, files)

    def deploy(self, actor: Actor, files: dict[str, bytes], note: str | None = None,
               keep_forms: bool = False) -> list[DeployResult]:
        """Deploy ``files`` as ``actor`` (DeploymentError lists the problems; nothing is written then).
        ``keep_forms``: a diagram edited in the browser keeps the forms its latest version was deployed
        with (the forms sent win); the decision tables it uses are always the deployed ones."""
        require_designer(actor)
        with self.db.write() as session:
            return self.registry.deploy(session, files, deployed_by=actor.username, note=note, keep_forms=keep_forms)

    def source(self, actor: Actor, key: str, version: int | None = None,
               filename: str | None = None) -> tuple[str, str]:
        """A deployed file (name, text); the latest version's diagram by default. ProcessNotFound if none."""
        require_designer(actor)
        with self.db.read() as session:
            return self.registry.source(session, key, version, filename)

    def decision_source(self, actor: Actor, name: str) -> bytes | str | None:
        """The latest deployed decision table ``name`` (without .dmn), or None."""
        require_designer(actor)
        with self.db.read() as session:
            return self.registry.latest_decision_sources(session).get(f"{name}.dmn")

    def latest_forms(self, key: str) -> dict | None:
        """The forms (file name → JSON Schema) of the latest version of process ``key``, or None when it is
        not deployed. Not restricted: whoever may start or work on a process sees its forms."""
        with self.db.read() as session:
            latest = self.registry.latest(session, key, required=False)
            return None if latest is None else dict(latest.forms or {})
