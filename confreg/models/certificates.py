"""Certificates: numbered per event and kind, snapshots, voided and never renumbered."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

# kind: (name on the certificate, number prefix)
CERTIFICATE_KINDS = {
    "written": ("书面交流证书", "SM"),    # material selected for written exchange
    "comment": ("专家点评证书", "DP"),    # presented and commented on by the experts
    "completion": ("结业证书", "JY"),     # a trainee who completed the course
}


class Certificate(db.Model):
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # Who it is for: "submission:12" or "attendee:34" (one valid certificate each).
    subject_key: Mapped[str] = mapped_column(String(40))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    attendee_id: Mapped[int | None] = mapped_column(ForeignKey("attendee.id"), index=True)

    # The snapshot printed on it.
    recipient: Mapped[str] = mapped_column(String(200))     # the unit, or the trainee's name
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    work_title: Mapped[str] = mapped_column(String(200), default="")
    event_title: Mapped[str] = mapped_column(String(200))
    event_dates: Mapped[str] = mapped_column(String(60))
    organiser: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(120), default="")

    status: Mapped[str] = mapped_column(String(16), default="issued")
    void_reason: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("event_id", "kind", "sequence", name="uq_certificate_event_kind_sequence"),
        Index("uq_certificate_one_issued_per_subject", "kind", "subject_key", unique=True,
              sqlite_where=text("status = 'issued'"), postgresql_where=text("status = 'issued'")),
        CheckConstraint("status IN ('issued', 'void')", name="status_known"),
        CheckConstraint("kind IN ('written', 'comment', 'completion')", name="kind_known"),
    )

    @property
    def kind_label(self) -> str:
        return CERTIFICATE_KINDS[self.kind][0]

    @property
    def is_void(self) -> bool:
        return self.status == "void"


class AttendanceRecord(db.Model):
    """An attendee signed in on a day of the event (on-site check-in)."""

    __tablename__ = "attendance_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(
        ForeignKey("attendee.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("attendee_id", "day", name="uq_attendance_once_a_day"),)
