"""The one wiring place: settings → database → registry → services.

Nothing connects to a database or reads the environment at import time; callers (the CLI, the
web app factory, tests) call :func:`bootstrap`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.config import Settings
from engine.deadlines.calendars import CalendarService
from engine.deadlines.escalation import EscalationService
from engine.deadlines.planner import Planner
from engine.errors import ValidationFailed
from engine.identity import districts, org
from engine.identity.authz import SYSTEM
from engine.identity.service import IdentityService
from engine.monitoring.health import HealthService
from engine.monitoring.incidents import IncidentService
from engine.monitoring.metrics import configure_logging
from engine.monitoring.outbox import OutboxService
from engine.policy import procedures
from engine.policy.circulars.evidence import Evidence
from engine.policy.circulars.service import CircularService
from engine.policy.city import CityView
from engine.policy.dispatch.city_link import CityLinks
from engine.policy.dispatch.dashboard import Dashboard
from engine.policy.dispatch.intake import IntakeService
from engine.policy.district_admin import DistrictAdministration
from engine.policy.district_settings import DistrictSettings
from engine.policy.enterprise_requests.following import EnterpriseItems
from engine.policy.enterprise_requests.service import EnterpriseRequests
from engine.policy.ledger_service import LedgerService
from engine.policy.plan_page import PolicyPage
from engine.policy.pool.enterprises import EnterpriseService
from engine.policy.pool.guidance import GuidanceService
from engine.policy.pool.notice import PublicNotices
from engine.policy.pool.portal import PoolPortal
from engine.policy.pool.procedure import DeployedDecisions
from engine.policy.supervision.service import ListedSupervisionService
from engine.queries.pauses import PauseViews
from engine.queries.views import Queries
from engine.repository.migration import Migrations
from engine.repository.registry import DeployResult, Registry
from engine.repository.service import RepositoryService
from engine.repository.templates import Templates
from engine.runtime.extensions import Extensions
from engine.runtime.items import ItemService
from engine.runtime.notices import WorkNotices
from engine.runtime.pauses import PauseService
from engine.runtime.scripting import create_script_engine
from engine.runtime.service import WorkflowService
from engine.scheduling.schedules import ScheduleService
from engine.scheduling.timers import TimerService
from engine.storage import schema
from engine.storage.db import Database
from engine.storage.models import utcnow
from notifications.channels import build as build_channels
from notifications.delivery import Deliverer
from notifications.inbox import Inbox
from notifications.outbox import Notifier


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: Registry
    workflows: WorkflowService
    timers: TimerService
    escalations: EscalationService
    schedules: ScheduleService
    deliverer: Deliverer
    notifier: Notifier
    queries: Queries
    items: ItemService
    enterprises: EnterpriseService
    intake: IntakeService
    circulars: CircularService
    migrations: Migrations
    incidents: IncidentService
    # What the pages call (web/ opens no transaction of its own):
    identity: IdentityService
    calendars: CalendarService
    repository: RepositoryService
    ledgers: LedgerService
    inbox: Inbox
    outbox: OutboxService
    health: HealthService
    decisions: DeployedDecisions
    dashboard: Dashboard
    extensions: Extensions
    listings: ListedSupervisionService  # 挂牌督办: listing an item, its panel and 督办函
    pauses: PauseService  # a task's clock paused (挂起) and resumed
    pause_views: PauseViews
    guidance: GuidanceService  # 拟培育库: gaps to the cultivation standard and guidance visits
    evidence: Evidence  # what each figure of a circular or the dashboard counts (通报依据)
    policy: PolicyPage  # the plan clause by clause: what encodes each, its live state, the coverage
    district: DistrictSettings  # 本区设置: the defaults the plan does not set
    pool_portal: PoolPortal  # the enterprise portal: self-check, yearly figures, applying to the pool
    notices: PublicNotices  # 公示 of admissions, the public's objections
    enterprise_requests: EnterpriseRequests  # the enterprise portal: an enterprise submits and rates its problems
    enterprise_items: EnterpriseItems  # … and follows them (what it may read of its own items)
    city: CityView  # 全市: 市经济信息委's view across districts
    templates: Templates  # the city's template processes, offered to each district's designer
    city_links: CityLinks  # 市区联动: a district's item escalated to the city
    district_admin: DistrictAdministration = field(init=False)  # 区县管理: the city's administrators create districts

    def __post_init__(self) -> None:
        self.district_admin = DistrictAdministration(self.db, self.templates, self.create_district, self.workflows.clock)

    def init_db(self) -> None:
        schema.upgrade(self.db)

    def seed(self, demo_users: bool = True) -> dict:
        with self.db.write() as session:
            departments = org.seed_departments(session)
            measures = org.seed_measures(session)
            users = org.seed_demo_users(session) if demo_users else 0
        return {"departments": departments, "measures": measures, "users_created": users}

    def districts(self) -> list[districts.DistrictRow]:
        with districts.scope(districts.ALL), self.db.read() as session:
            return districts.rows(session)

    def create_district(self, code: str, name: str, *, full_name: str | None = None, units: list[dict] | None = None,
                        demo_prefix: str | None = None, admin: dict | None = None,
                        templates: list[str] | None = None) -> int:
        """A new district of the deployment (engine/identity/districts.py) with its procedures and their default
        schedules: ``templates`` names the city's templates it starts from (each adopted as its first version,
        recording the template; ``["*"]``: all of them), the shipped procedures for the rest. Returns its id."""
        chosen = self._chosen_templates(code, templates)
        district_id = districts.create(self.db, code, name, full_name=full_name, units=units,
                                       demo_prefix=demo_prefix, admin=admin)
        with districts.scope(district_id):
            for key in chosen:
                self.templates.adopt(SYSTEM, key)
            self.deploy(self._bundled_paths(), note="随系统发布的流程", missing_only=bool(chosen))
        return district_id

    def _chosen_templates(self, code: str, templates: list[str] | None) -> list[str]:
        """The city's template keys asked for, checked before anything is written (ValidationFailed)."""
        if not templates:
            return []
        city = self.templates.city()
        if city is None or code == districts.CITY_CODE:
            raise ValidationFailed({"templates": "本部署没有全市模板（尚未建立重庆市本级）" if city is None
                                    else "市本级部署的流程本身就是全市模板"}, "无法新建区县")
        offered = self.templates.keys()
        if templates == ["*"]:
            return sorted(offered)
        unknown = [key for key in templates if key not in offered]
        if unknown:
            raise ValidationFailed({"templates": f"全市没有流程「{'」「'.join(unknown)}」的模板"}, "无法新建区县")
        return list(dict.fromkeys(templates))

    def deploy(self, paths: list[Path], deployed_by: str | None = None, note: str | None = None,
               missing_only: bool = False) -> list[DeployResult]:
        """Deploy files from disk. Files from our own processes/ folder also get their procedures'
        default schedules (the monthly circular, the quarterly measure reports, the yearly pool update)
        the first time their process is there; after that the schedules are the office's to edit.
        ``missing_only``: only processes without a version yet (see Registry.deploy)."""
        with self.db.write() as session:
            results = self.registry.deploy_paths(session, paths, deployed_by=deployed_by, note=note,
                                                 missing_only=missing_only)
        bundled = self.settings.processes_dir.resolve()
        if paths and all(bundled in Path(p).resolve().parents for p in paths):
            self._default_schedules()
        return results

    def deploy_bundled(self, deployed_by: str | None = None) -> list[DeployResult]:
        """Deploy every diagram shipped in processes/ (no-op for unchanged ones)."""
        return self.deploy(self._bundled_paths(), deployed_by=deployed_by, note="随系统发布的流程")

    def _bundled_paths(self) -> list[Path]:
        return sorted(self.settings.processes_dir.glob("*.bpmn")) + sorted(self.settings.processes_dir.glob("*.dmn"))

    def _default_schedules(self) -> None:
        existing = {s["name"] for s in self.schedules.list()}
        with self.db.read() as session:
            deployed = self.registry.deployed_keys(session)
        for default in self.extensions.schedules():  # each procedure's, created once
            if default.name not in existing and default.process in deployed:
                self.schedules.save(default.name, default.process, default.rule, dict(default.data))

    def close(self) -> None:
        self.db.dispose()


def bootstrap(settings: Settings | None = None, clock=None) -> Services:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    clock = clock or utcnow
    tz = ZoneInfo(settings.timezone)
    db = Database(settings.database_url)
    registry = Registry(forms_dir=settings.processes_dir / "forms", trusted_dir=settings.processes_dir)
    extensions = Extensions(procedures())
    workflows = WorkflowService(db, registry, create_script_engine, settings, clock=clock, extensions=extensions)

    def planner(session) -> Planner:
        return Planner(session, tz, settings.warn_before_working_days, settings.supervise_after_working_days,
                       settings.warn_hour)

    channels = build_channels(settings)  # the registered ones the settings switch on
    notifier = Notifier(channels)
    deliverer = Deliverer(db, channels, clock, max_attempts=settings.delivery_max_attempts,
                          backoff_seconds=settings.delivery_backoff_seconds,
                          lease_seconds=settings.delivery_lease_seconds)
    escalations = EscalationService(db, notifier, planner, clock, tz, settings.base_url)
    incidents = IncidentService(db, notifier, clock, tz, settings.base_url, workflows=workflows, deliverer=deliverer)
    workflows.incidents = incidents  # timers and steps that keep failing
    workflows.notices = WorkNotices(notifier, tz, settings.base_url)  # who is told of new tasks
    deliverer.on_dead = incidents.delivery_dead  # dead letters
    schedules = ScheduleService(db, workflows, planner, clock, tz, incidents=incidents)
    circulars = CircularService(db, tz, clock, notifier, settings.base_url)
    decisions = DeployedDecisions(db, registry, workflows.script_engine, settings.processes_dir)
    enterprises = EnterpriseService(db, clock, tz)
    intake = IntakeService(db, workflows, clock)
    queries = Queries(db, tz, clock, workflows)
    services = Services(
        settings=settings, db=db, registry=registry, workflows=workflows, timers=TimerService(workflows),
        escalations=escalations, schedules=schedules, deliverer=deliverer, notifier=notifier,
        queries=queries, items=ItemService(db, settings.attachment_dir, clock),
        enterprises=enterprises, circulars=circulars, migrations=Migrations(workflows),
        listings=ListedSupervisionService(db, workflows, tz, clock),
        incidents=incidents, extensions=extensions, intake=intake,
        identity=IdentityService(db, clock), calendars=CalendarService(db, clock, tz),
        repository=RepositoryService(db, registry, clock), ledgers=LedgerService(db, tz), inbox=Inbox(db, clock),
        outbox=OutboxService(db, deliverer, incidents, clock), health=HealthService(db, clock),
        dashboard=Dashboard(db, tz, clock), pauses=PauseService(workflows, notifier, settings.base_url),
        pause_views=PauseViews(db, tz, clock, workflows),
        pool_portal=PoolPortal(db, workflows, enterprises, decisions, notifier, clock, tz, settings.base_url,
                               settings.attachment_dir),
        notices=PublicNotices(db, notifier, clock, tz, settings.base_url, workflows),
        decisions=decisions, guidance=GuidanceService(db, clock, tz, decisions), evidence=Evidence(db, tz, clock),
        policy=PolicyPage(db, tz, clock, extensions), district=DistrictSettings(db),
        enterprise_requests=EnterpriseRequests(db, workflows, intake, settings.attachment_dir, clock, tz),
        enterprise_items=EnterpriseItems(db, tz, settings.attachment_dir), city=CityView(db, tz, clock),
        templates=Templates(db, registry, clock), city_links=CityLinks(db, intake, queries, clock))
    districts.bind(db)  # the districts' names, which documents and notices give
    services.city.escalations = services.city_links.open_by_district  # 市区联动, counted on the city view
    services.enterprises.on_saved = services.guidance.refresh  # a save rewrites the enterprise's gap
    extensions.bind(services)  # the procedures' completion handlers, helpers and operations use the services
    return services
