"""Money received, and the receipts (收据) issued for it."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

PAYMENT_METHODS = {"bank_transfer": "银行转账", "cash": "现金", "other": "其他"}


class Payment(db.Model):
    """A sum received for a registration (negative: a refund)."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    received_on: Mapped[date] = mapped_column(Date)
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    # The bank's transaction number, copied from the bank transaction the payment came
    # from: a transfer split over several registrations gives each the same number. That
    # the same transfer is never recorded twice is kept by bank_transaction.serial.
    bank_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    bank_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transaction.id"),
                                                            index=True)
    # A reversal (an allocation of a transfer undone) offsets the payment it names.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    method: Mapped[str] = mapped_column(String(16), default="bank_transfer")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped["Registration"] = relationship()  # noqa: F821
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    @property
    def method_label(self) -> str:
        return PAYMENT_METHODS.get(self.method, self.method)

    @property
    def kind_label(self) -> str:
        if self.reverses_id is not None:
            return "冲销"
        return "退款" if self.amount < 0 else "收款"


class DocumentCounter(db.Model):
    """The next number of a kind of numbered document in a year; locked while it is taken."""

    __tablename__ = "document_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column()
    last_number: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("kind", "year", name="uq_document_counter_kind_year"),)


class Receipt(db.Model):
    """An issued receipt: a snapshot, never deleted or renumbered; a mistake is voided."""

    __tablename__ = "receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    year: Mapped[int] = mapped_column()
    sequence: Mapped[int] = mapped_column()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    payer_name: Mapped[str] = mapped_column(String(200))
    event_title: Mapped[str] = mapped_column(String(200))
    organiser: Mapped[str] = mapped_column(String(200))
    # [{"label": ..., "unit_price": "2980.00", "quantity": 3, "amount": "8940.00"}]
    lines: Mapped[list] = mapped_column(JSON)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    total_capitals: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="issued")
    void_reason: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped["Registration"] = relationship()  # noqa: F821

    __table_args__ = (
        UniqueConstraint("year", "sequence", name="uq_receipt_year_sequence"),
        # One valid receipt per registration; voided ones may be many.
        Index("uq_receipt_one_issued_per_registration", "registration_id", unique=True,
              sqlite_where=text("status = 'issued'"), postgresql_where=text("status = 'issued'")),
        CheckConstraint("status IN ('issued', 'void')", name="status_known"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    @property
    def is_void(self) -> bool:
        return self.status == "void"
