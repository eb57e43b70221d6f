"""The audit log: who changed what, when, before and after."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column()
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    # {"field": [before, after], ...} in JSON-safe form
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
