"""The data model, one module per aggregate."""
from .audit import AuditEntry
from .bank import BankAllocation, BankLayout, BankStatement, BankTransaction, PayerAlias
from .certificates import AttendanceRecord, Certificate
from .invoices import (InvoiceChange, InvoiceRequest, InvoiceRequestItem, InvoiceUpload,
                       IssuedInvoice)
from .jobs import Job, WorkerHeartbeat
from .events import Event, EventContact, FeeTier, ScheduleItem
from .mail import OutboundMail
from .materials import StoredFile, Submission, SubmissionAttachment, SubmissionVersion
from .members import MemberUnit
from .payments import DocumentCounter, Payment, Receipt
from .registrations import Attendee, Registration
from .reminders import ReminderLog
from .reviews import ReviewAssignment
from .users import User

__all__ = [
    "AttendanceRecord",
    "BankAllocation",
    "BankLayout",
    "BankStatement",
    "BankTransaction",
    "PayerAlias",
    "Certificate",
    "ReviewAssignment",
    "StoredFile",
    "Submission",
    "SubmissionAttachment",
    "SubmissionVersion",
    "AuditEntry",
    "DocumentCounter",
    "Attendee",
    "Event",
    "InvoiceChange",
    "InvoiceRequest",
    "InvoiceRequestItem",
    "InvoiceUpload",
    "IssuedInvoice",
    "Job",
    "WorkerHeartbeat",
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
