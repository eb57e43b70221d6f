"""Outgoing mail, recorded in the same transaction as the change that caused it."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class OutboundMail(db.Model):
    __tablename__ = "outbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    # A file sent with the mail (an issued invoice); the bytes stay in the upload storage.
    attachment_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    attachment_name: Mapped[str] = mapped_column(String(200), default="")
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    # pending -> sending -> sent; back to pending with a later next_attempt_at on failure;
    # failed after MAIL_MAX_ATTEMPTS.
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
