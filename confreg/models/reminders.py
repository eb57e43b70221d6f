"""Reminders sent to units: logged, so that nobody gets the same one twice in a day."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

REMINDER_KINDS = {
    "payment_due": "缴费提醒（截止前）",
    "payment_overdue": "缴费逾期提醒",
    "materials_due": "交流材料提醒",
    "invoice_details": "开票信息补充提醒",
}


class ReminderLog(db.Model):
    __tablename__ = "reminder_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sent_on: Mapped[date] = mapped_column(Date)  # China date: one per unit, kind and day
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by: Mapped[str] = mapped_column(String(120), default="")
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_mail.id"))

    __table_args__ = (
        UniqueConstraint("registration_id", "kind", "sent_on",
                         name="uq_reminder_log_once_a_day"),
    )
