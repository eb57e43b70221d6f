"""A unit's registration for an event, and the people it registers."""
import hashlib
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

TIER_CLAIMS = {
    "committee_vice_chair": "城乡社区工作委员会副主任委员单位",
    "committee_standing": "城乡社区工作委员会常务委员单位",
    "committee_member": "城乡社区工作委员会委员单位",
    "federation_member": "中国社会工作联合会会员单位",
    "other": "其他单位、相关社会机构或个人",
}
MEMBER_CLAIMS = frozenset(TIER_CLAIMS) - {"other"}

TIER_STATUSES = {
    "member_verified": "会员价（已核实）",
    "member_pending": "会员价待核实",
    "member_rejected": "会员资格未通过核实",
    "standard": "标准价",
}

GENDERS = {"M": "男", "F": "女"}
ACCOMMODATIONS = {"single": "单间", "shared": "合住", "none": "不住宿"}
DIETS = {"none": "无特殊要求", "halal": "清真", "vegetarian": "素食"}
INVOICE_TYPES = {"ordinary": "增值税普通发票", "special": "增值税专用发票"}


class InvalidTransition(Exception):
    """A state change the registration's state machine does not allow."""


def hash_token(token: str) -> str:
    """Hash a private-link token; only the hash is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class Registration(db.Model):
    __tablename__ = "registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # A random key carried by the form, so that a double-tapped submit registers once.
    submission_key: Mapped[str | None] = mapped_column(String(43), unique=True)

    unit_name: Mapped[str] = mapped_column(String(200))
    tier_claim: Mapped[str] = mapped_column(String(32))
    tier_status: Mapped[str] = mapped_column(String(32))
    member_unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    # The unit confirmed a code that fails the GB 32100 check (some early codes do).
    credit_code_confirmed: Mapped[bool] = mapped_column(default=False)
    province: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(300), default="")

    contact_name: Mapped[str] = mapped_column(String(50))
    contact_mobile: Mapped[str] = mapped_column(String(20))
    contact_email: Mapped[str] = mapped_column(String(254))

    invoice_title: Mapped[str] = mapped_column(String(200), default="")
    invoice_taxpayer_id: Mapped[str] = mapped_column(String(20), default="")
    invoice_type: Mapped[str] = mapped_column(String(16), default="ordinary")
    invoice_content: Mapped[str] = mapped_column(String(60), default="")
    invoice_email: Mapped[str] = mapped_column(String(254), default="")
    # The buyer fields the platform prints on a 增值税专用发票 (地址、电话、开户银行、账号).
    invoice_buyer_address: Mapped[str] = mapped_column(String(200), default="")
    invoice_buyer_phone: Mapped[str] = mapped_column(String(40), default="")
    invoice_buyer_bank: Mapped[str] = mapped_column(String(120), default="")
    invoice_buyer_account: Mapped[str] = mapped_column(String(40), default="")
    # Several units paid together and want one invoice to the same buyer (抬头 + 税号).
    invoice_together: Mapped[bool] = mapped_column(default=False)

    total_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Organisers may let a unit past the registration deadline by hand, until this day.
    deadline_extended_until: Mapped[date | None] = mapped_column(Date)
    # ... and past the materials deadline, until this day.
    materials_extended_until: Mapped[date | None] = mapped_column(Date)

    event: Mapped["Event"] = relationship()  # noqa: F821
    member_unit: Mapped["MemberUnit | None"] = relationship()  # noqa: F821
    attendees: Mapped[list["Attendee"]] = relationship(
        back_populates="registration", order_by="Attendee.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
    )

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def pays_member_price(self) -> bool:
        """Verified members, and member claims while they wait for verification."""
        return self.tier_status in ("member_verified", "member_pending")

    @property
    def price_if_rejected(self):
        """What a pending member claim would cost at the standard price, else None."""
        if self.tier_status != "member_pending":
            return None
        return self.event.tier(False).amount * len(self.attendees)

    @property
    def transfer_remark(self) -> str:
        """The exact transfer remark: the code first, so a truncated remark keeps it."""
        return f"{self.code} {self.event.payment_remark}".strip()

    @property
    def tier_claim_label(self) -> str:
        return TIER_CLAIMS.get(self.tier_claim, self.tier_claim)

    @property
    def tier_status_label(self) -> str:
        return TIER_STATUSES.get(self.tier_status, self.tier_status)

    @property
    def invoice_type_label(self) -> str:
        return INVOICE_TYPES.get(self.invoice_type, self.invoice_type)

    def can_change_attendees(self, today: date) -> bool:
        """Until the registration deadline, or the later day an organiser allowed by hand."""
        if not self.is_active:
            return False
        extended = self.deadline_extended_until
        return self.event.registration_open(today) or (extended is not None and today <= extended)

    def cancel(self, now: datetime) -> None:
        """Cancel an active registration; its seats return to the event."""
        if self.status != "active":
            raise InvalidTransition("该报名已取消。")
        self.status = "cancelled"
        self.cancelled_at = now


class Attendee(db.Model):
    __tablename__ = "attendee"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True
    )
    # Copied from the registration so seats can be counted per event with one index.
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(1))
    ethnicity: Mapped[str] = mapped_column(String(16), default="")
    title: Mapped[str] = mapped_column(String(100))  # position / title (职务/职称)
    mobile: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254), default="")
    id_number: Mapped[str] = mapped_column(String(18), default="")
    accommodation: Mapped[str] = mapped_column(String(16))
    arrival_on: Mapped[date] = mapped_column(Date)
    departure_on: Mapped[date] = mapped_column(Date)
    diet: Mapped[str] = mapped_column(String(16), default="none")
    remarks: Mapped[str] = mapped_column(Text, default="")
    fee: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    # A training course's trainee who completed it (结业); staff tick it.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str] = mapped_column(String(120), default="")

    registration: Mapped[Registration] = relationship(back_populates="attendees")

    __table_args__ = (
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("departure_on >= arrival_on", name="departs_after_arrival"),
        CheckConstraint("gender IN ('M', 'F')", name="gender_known"),
    )

    @property
    def gender_label(self) -> str:
        return GENDERS.get(self.gender, self.gender)

    @property
    def accommodation_label(self) -> str:
        return ACCOMMODATIONS.get(self.accommodation, self.accommodation)

    @property
    def diet_label(self) -> str:
        return DIETS.get(self.diet, self.diet)
