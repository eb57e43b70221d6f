"""Staff accounts: the secretariat, finance, on-site staff and reviewers."""
from datetime import datetime, timedelta

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import UTCDateTime, utcnow
from ..extensions import db

ROLES = {
    "admin": "管理员",
    "finance": "财务",
    "staff": "会务",
    "reviewer": "评审专家",
}
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'finance', 'staff', 'reviewer')", name="role_known"),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: a disabled account cannot sign in
        return self.active

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def record_failed_login(self, now: datetime) -> None:
        """Count a wrong password; lock the account for a while after too many."""
        self.failed_logins += 1
        if self.failed_logins >= MAX_FAILED_LOGINS:
            self.locked_until = now + LOCKOUT
            self.failed_logins = 0

    def record_login(self, now: datetime) -> None:
        self.failed_logins = 0
        self.locked_until = None
        self.last_login_at = now
