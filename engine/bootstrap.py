"""The one wiring place: settings → database → registry → services.

Nothing connects to a database or reads the environment at import time; callers (the CLI, the
web app factory, tests) call :func:`bootstrap`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import org, schema
from engine.config import Settings
from engine.db import Database
from engine.registry import DeployResult, Registry
from engine.runtime import WorkflowService
from engine.scripting import create_script_engine


@dataclass
class Engine:
    settings: Settings
    db: Database
    registry: Registry
    workflows: WorkflowService

    def init_db(self) -> None:
        schema.upgrade(self.db)

    def seed(self, demo_users: bool = True) -> dict:
        with self.db.write() as session:
            departments = org.seed_departments(session)
            measures = org.seed_measures(session)
            users = org.seed_demo_users(session) if demo_users else 0
        return {"departments": departments, "measures": measures, "users_created": users}

    def deploy(self, paths: list[Path], deployed_by: str | None = None, note: str | None = None
               ) -> list[DeployResult]:
        with self.db.write() as session:
            return self.registry.deploy_paths(session, paths, deployed_by=deployed_by, note=note)

    def deploy_bundled(self, deployed_by: str | None = None) -> list[DeployResult]:
        """Deploy every diagram shipped in processes/ (no-op for unchanged ones)."""
        paths = sorted(self.settings.processes_dir.glob("*.bpmn")) + sorted(
            self.settings.processes_dir.glob("*.dmn"))
        return self.deploy(paths, deployed_by=deployed_by, note="随系统发布的流程")

    def close(self) -> None:
        self.db.dispose()


def bootstrap(settings: Settings | None = None, clock=None) -> Engine:
    settings = settings or Settings.from_env()
    db = Database(settings.database_url)
    registry = Registry(forms_dir=settings.processes_dir / "forms", trusted_dir=settings.processes_dir)
    kwargs = {"clock": clock} if clock is not None else {}
    workflows = WorkflowService(db, registry, create_script_engine, timezone=settings.timezone, **kwargs)
    return Engine(settings=settings, db=db, registry=registry, workflows=workflows)
