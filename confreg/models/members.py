"""The member registry: units that pay the member price."""
from datetime import date, datetime

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

MEMBER_TYPES = {
    "committee_vice_chair": "委员会副主任委员单位",
    "committee_standing": "委员会常务委员单位",
    "committee_member": "委员会委员单位",
    "federation_member": "联合会会员单位",
}


class MemberUnit(db.Model):
    __tablename__ = "member_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # normalize_unit_name(name): what registrations are matched on.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    member_type: Mapped[str] = mapped_column(String(32))
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_valid_on(self, day: date) -> bool:
        return self.valid_until is None or day <= self.valid_until
