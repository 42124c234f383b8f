"""Database tables, one module per concern. The schema itself is created by Alembic
(``engine/storage/migrations``); every name is importable from here."""
from engine.storage.models.base import Base, CompressedText, JSONType, UTCDateTime, utcnow
from engine.storage.models.calendar import CalendarDay, CalendarYear, DistrictCalendarDay, ReferenceGeneration
from engine.storage.models.circulars import CircularObjection
from engine.storage.models.guidance import GuidanceGap, GuidanceVisit
from engine.storage.models.instance_messages import InstanceMessage
from engine.storage.models.items import ItemLink, ItemMeasure
from engine.storage.models.meetings import JointMeeting, MeetingDecision
from engine.storage.models.messages import InboxMessage, NotificationPreference, OutboxMessage, WebhookEndpoint
from engine.storage.models.org import (
    ApiToken,
    Department,
    DepartmentAlias,
    District,
    LoginAttempt,
    Measure,
    MeasureUnit,
    User,
    UserRole,
)
from engine.storage.models.pauses import TaskPause
from engine.storage.models.policy import Circular, Enterprise, EnterpriseChange, EnterpriseYear, MeasureReport
from engine.storage.models.pool_portal import EnterpriseYearUpdate, NoticeObjection
from engine.storage.models.portal import EnterpriseAccount, EnterpriseContact, EnterpriseInvitation, EnterpriseLoginCode
from engine.storage.models.processes import (
    Attachment,
    AuditRecord,
    Comment,
    Escalation,
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessInstance,
    ProcessSchedule,
    ProcessVersion,
)
from engine.storage.models.supervision import CircularNaming, ListedSupervision, SupervisionReport

__all__ = [
    "ApiToken", "Attachment", "AuditRecord", "Base", "CalendarDay", "CalendarYear", "Circular", "CircularNaming",
    "CircularObjection",
    "Comment", "CompressedText", "Department", "DepartmentAlias", "District", "DistrictCalendarDay", "Enterprise",
    "EnterpriseAccount",
    "EnterpriseChange",
    "EnterpriseContact", "EnterpriseInvitation", "EnterpriseLoginCode", "EnterpriseYear", "EnterpriseYearUpdate",
    "Escalation", "GuidanceGap", "GuidanceVisit",
    "HumanTask", "InboxMessage", "Incident", "InstanceMessage", "ItemLink", "ItemMeasure", "JSONType",
    "JointMeeting", "ListedSupervision",
    "LoginAttempt", "Measure", "MeasureReport", "MeasureUnit", "MeetingDecision",
    "NoticeObjection", "NotificationPreference", "OutboxMessage", "ProcessDefinition",
    "ProcessInstance", "ProcessSchedule", "ProcessVersion", "ReferenceGeneration", "SupervisionReport", "TaskPause",
    "UTCDateTime", "User", "UserRole", "WebhookEndpoint", "utcnow"
]
