"""Events: the notice, its schedule, fee tiers, deadlines, account and contacts."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..timeutil import is_on_or_before

EVENT_KINDS = {"meeting": "会议", "training": "培训班", "call": "材料征集"}
PERIODS = ("全天", "上午", "下午", "晚上")


class Event(db.Model):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    published: Mapped[bool] = mapped_column(default=False)

    title: Mapped[str] = mapped_column(String(200))
    short_title: Mapped[str] = mapped_column(String(60), default="")
    notice_heading: Mapped[str] = mapped_column(Text, default="")
    addressees: Mapped[str] = mapped_column(String(200), default="")
    preamble: Mapped[str] = mapped_column(Text, default="")
    requirements: Mapped[list] = mapped_column(JSON, default=list)
    sections: Mapped[list] = mapped_column(JSON, default=list)
    categories: Mapped[list] = mapped_column(JSON, default=list)

    organiser: Mapped[str] = mapped_column(String(200), default="")
    co_organiser: Mapped[str] = mapped_column(String(200), default="")
    supporters_note: Mapped[str] = mapped_column(Text, default="")

    city: Mapped[str] = mapped_column(String(60), default="")
    venue_name: Mapped[str] = mapped_column(String(120), default="")
    venue_address: Mapped[str] = mapped_column(String(300), default="")
    venue_phone: Mapped[str] = mapped_column(String(40), default="")

    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    registration_deadline: Mapped[date] = mapped_column(Date)
    materials_deadline: Mapped[date | None] = mapped_column(Date)
    payment_deadline: Mapped[date | None] = mapped_column(Date)
    published_on: Mapped[date | None] = mapped_column(Date)

    # Attendees across all active registrations; 0 means no limit.
    capacity: Mapped[int] = mapped_column(default=0)

    fee_covers: Mapped[str] = mapped_column(Text, default="")
    fee_note: Mapped[str] = mapped_column(Text, default="")
    payee_name: Mapped[str] = mapped_column(String(120), default="")
    bank_name: Mapped[str] = mapped_column(String(120), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    payment_remark: Mapped[str] = mapped_column(String(60), default="")
    invoice_note: Mapped[str] = mapped_column(Text, default="")
    invoice_content: Mapped[str] = mapped_column(String(60), default="")
    # What a paying unit gets: the receipt confreg prints, the official e-invoice, or both.
    documents_mode: Mapped[str] = mapped_column(String(8), default="both")
    # The platform's bulk template asks for the 商品和服务税收分类编码 and the rate per line.
    invoice_tax_code: Mapped[str] = mapped_column(String(19), default="")
    invoice_tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.06"))

    materials_note: Mapped[str] = mapped_column(Text, default="")
    materials_char_limit: Mapped[int | None] = mapped_column()
    # The notice says "3000 字以内为宜": over the limit warns; the organiser may make it refuse.
    materials_limit_blocks: Mapped[bool] = mapped_column(default=False)
    # [{"key": "authenticity", "label": "真实性", "weight": 40, "hint": ...}, ...]
    review_criteria: Mapped[list] = mapped_column(JSON, default=list)
    ask_id_number: Mapped[bool] = mapped_column(default=False)

    signed_by: Mapped[str] = mapped_column(String(120), default="")
    signed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    schedule: Mapped[list["ScheduleItem"]] = relationship(
        back_populates="event", order_by="(ScheduleItem.day, ScheduleItem.position)",
        cascade="all, delete-orphan",
    )
    fee_tiers: Mapped[list["FeeTier"]] = relationship(
        back_populates="event", order_by="FeeTier.position", cascade="all, delete-orphan"
    )
    contacts: Mapped[list["EventContact"]] = relationship(
        back_populates="event", order_by="EventContact.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("documents_mode IN ('both', 'invoice', 'receipt')",
                        name="documents_mode_known"),
    )

    @property
    def gives_receipts(self) -> bool:
        return self.documents_mode in ("both", "receipt")

    @property
    def gives_invoices(self) -> bool:
        return self.documents_mode in ("both", "invoice") and not self.is_free

    @property
    def kind_label(self) -> str:
        return EVENT_KINDS.get(self.kind, self.kind)

    @property
    def is_free(self) -> bool:
        return not self.fee_tiers

    @property
    def takes_registrations(self) -> bool:
        """Meetings and courses take attendee registrations; a call takes submissions."""
        return self.kind in ("meeting", "training")

    def registration_open(self, today: date) -> bool:
        return self.published and is_on_or_before(self.registration_deadline, today)

    def phase(self, today: date) -> str:
        """Where the event stands today: open, closed (registration over), or past."""
        if today > self.ends_on:
            return "past"
        if self.registration_open(today):
            return "open"
        return "closed"

    @property
    def payment_due(self) -> date:
        """The payment deadline; an event without one is paid by its first day."""
        return self.payment_deadline or self.starts_on

    def tier(self, is_member: bool) -> "FeeTier | None":
        for tier in self.fee_tiers:
            if tier.is_member == is_member:
                return tier
        return None

    def category(self, code: str) -> dict | None:
        """The call's category with this code: {"code", "label", "title", "description"}."""
        for category in self.categories or []:
            if isinstance(category, dict) and str(category.get("code")) == str(code):
                return category
        return None

    def category_label(self, code: str, *, with_title: bool = True) -> str:
        """"分类一　体制机制创新" for a category code ("分类一" without the title); else the code."""
        category = self.category(code)
        if category is None:
            return code or ""
        parts = (category.get("label", ""), category.get("title", "") if with_title else "")
        return "　".join(part for part in parts if part) or code

    def schedule_by_day(self) -> list[tuple[date, list["ScheduleItem"]]]:
        grouped: dict[date, list[ScheduleItem]] = {}
        for item in self.schedule:
            grouped.setdefault(item.day, []).append(item)
        return sorted(grouped.items())


class ScheduleItem(db.Model):
    __tablename__ = "schedule_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="schedule")


class FeeTier(db.Model):
    __tablename__ = "fee_tier"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    is_member: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="fee_tiers")

    __table_args__ = (
        UniqueConstraint("event_id", "code", name="uq_fee_tier_event_code"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )


CONTACT_KINDS = {"phone": "电话", "mobile": "手机", "person": "联系人", "email": "邮箱",
                 "website": "网站", "wechat": "公众号"}


class EventContact(db.Model):
    __tablename__ = "event_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(60), default="")
    value: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="contacts")

    @property
    def kind_label(self) -> str:
        return CONTACT_KINDS.get(self.kind, self.kind)

    def as_line(self) -> str:
        if self.kind == "person":
            return f"{self.label} {self.value}"
        label = f"（{self.label}）" if self.label and self.kind in ("phone", "mobile") else ""
        prefix = self.kind_label if self.kind != "wechat" else (self.label or "公众号")
        return f"{prefix} {self.value}{label}"
