"""The data model, one module per aggregate."""
from .audit import AuditEntry
from .events import Event, EventContact, FeeTier, ScheduleItem
from .mail import OutboundMail
from .members import MemberUnit
from .payments import DocumentCounter, Payment, Receipt
from .registrations import Attendee, Registration
from .reminders import ReminderLog
from .users import User

__all__ = [
    "AuditEntry",
    "DocumentCounter",
    "Attendee",
    "Event",
    "EventContact",
    "FeeTier",
    "MemberUnit",
    "OutboundMail",
    "Payment",
    "Receipt",
    "Registration",
    "ReminderLog",
    "ScheduleItem",
    "User",
]
