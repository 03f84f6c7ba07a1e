"""SQLAlchemy models, one module per aggregate, re-exported here."""

from app.models.audit import AuditEvent
from app.models.calendar import CalendarEventRevision
from app.models.calendar import CalendarLink
from app.models.calendar import RetiredCalendarLink
from app.models.checkin import Alert
from app.models.checkin import CheckIn
from app.models.checkin import CheckInKey
from app.models.clinic import Clinic
from app.models.closure import AccountClosure
from app.models.comment import Comment
from app.models.device import RememberedDevice as RememberedDevice
from app.models.export import ExportJob
from app.models.export import ExportState
from app.models.mail import EmailPreference
from app.models.mail import PasswordReset
from app.models.notification import Channel
from app.models.notification import OutboxMessage
from app.models.notification import OutboxState
from app.models.notification import PushSubscription
from app.models.outcome import ClearanceScore
from app.models.outcome import OutcomeRating
from app.models.outcome import OutcomeTally
from app.models.outcome import SessionFacts
from app.models.patient import Patient
from app.models.photo import Photo
from app.models.protocol import ProtocolVersion
from app.models.treatment import ChecklistTick
from app.models.treatment import TaskTick
from app.models.treatment import Treatment
from app.models.treatment import TreatmentStatus
from app.models.user import AuthSession
from app.models.user import Invitation
from app.models.user import LoginThrottle
from app.models.user import Role
from app.models.user import User

__all__ = [
    "AccountClosure",
    "Alert",
    "AuditEvent",
    "CalendarEventRevision",
    "CalendarLink",
    "RetiredCalendarLink",
    "CheckIn",
    "CheckInKey",
    "Channel",
    "Comment",
    "EmailPreference",
    "ExportJob",
    "ExportState",
    "AuthSession",
    "ChecklistTick",
    "ClearanceScore",
    "Clinic",
    "Invitation",
    "LoginThrottle",
    "OutboxMessage",
    "OutboxState",
    "OutcomeRating",
    "OutcomeTally",
    "PasswordReset",
    "Patient",
    "Photo",
    "ProtocolVersion",
    "PushSubscription",
    "SessionFacts",
    "Role",
    "TaskTick",
    "Treatment",
    "TreatmentStatus",
    "User",
]
