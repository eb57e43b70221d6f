"""Work done by the background worker: long jobs with their progress, and worker heartbeats."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

JOB_STATUSES = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}


class Job(db.Model):
    """A long job started from a page (a booklet, bulk certificates, ...), run by the worker.

    queued -> running -> done | failed. Its result file is kept under UPLOAD_DIR/jobs/ so
    that any app instance can hand it out, and the page that started it shows its progress.
    """

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    step: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(String(500), default="")  # what it did, in words
    result_path: Mapped[str | None] = mapped_column(String(200))  # under UPLOAD_DIR/jobs/
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_mime: Mapped[str | None] = mapped_column(String(120))
    result_size: Mapped[int | None] = mapped_column()
    started_by: Mapped[str] = mapped_column(String(120), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last sign of life of the run (progress); a running job silent too long is run again.
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event = relationship("Event")

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("done >= 0 AND total >= 0", name="progress_non_negative"),
    )

    @property
    def status_label(self) -> str:
        return JOB_STATUSES.get(self.status, self.status)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class WorkerHeartbeat(db.Model):
    """One running worker process, as it last reported itself."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid
    hostname: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column()
    threads: Mapped[int] = mapped_column(default=1)
    periodic: Mapped[bool] = mapped_column(default=True)  # runs the scheduler
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
