"""The data model, one module per aggregate."""
from .audit import AuditEntry
from .events import Event, EventContact, FeeTier, ScheduleItem
from .mail import OutboundMail
from .members import MemberUnit
from .registrations import Attendee, Registration

__all__ = [
    "AuditEntry",
    "Attendee",
    "Event",
    "EventContact",
    "FeeTier",
    "MemberUnit",
    "OutboundMail",
    "Registration",
    "ScheduleItem",
]
