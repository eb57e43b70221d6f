"""The bank statement as the source of truth for money received.

A statement (an uploaded export of the corporate online banking) brings transactions; a
transaction is known by the bank's serial number, or where the bank gives none by a
fingerprint of its contents, so it is stored once however often it is uploaded. A credit is
allocated over one or more registrations; each confirmed allocation made a payment.  An
allocation is never deleted: undone, it is marked reversed and its payment is offset by a
reversal payment, so the history stays.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text,
                        text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

STATEMENT_STATUSES = {"queued": "排队中", "reading": "读取中", "needs_mapping": "待指定列",
                      "done": "已导入", "failed": "未能导入"}
PILES = {"matched": "已匹配", "suggested": "待确认", "unmatched": "未匹配"}
TRANSACTION_STATUSES = {"open": "待处理", "confirmed": "已确认", "ignored": "非报名款项"}
RULES = {"code": "附言中的报名编号", "code_prefix": "附言中被截断的报名编号",
         "code_fuzzy": "附言中写错字符的报名编号", "codes": "附言中的多个报名编号",
         "payer_sum": "付款单位的多笔报名合计", "payer_name": "付款单位名称与金额",
         "amount_only": "仅金额相符", "manual": "财务手工分配", "recorded": "手工登记收款"}


class BankStatement(db.Model):
    """One uploaded file of the bank's export, and what reading it found."""

    __tablename__ = "bank_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str] = mapped_column(Text, default="")
    file_format: Mapped[str] = mapped_column(String(8), default="")
    account: Mapped[str] = mapped_column(String(40), default="")
    account_name: Mapped[str] = mapped_column(String(200), default="")
    period: Mapped[str] = mapped_column(String(100), default="")
    layout: Mapped[str] = mapped_column(String(40), default="")
    headers: Mapped[list] = mapped_column(JSON, default=list)  # the table's header row
    guess: Mapped[dict] = mapped_column(JSON, default=dict)    # columns recognised, to confirm
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    rows_total: Mapped[int] = mapped_column(default=0)    # transactions read from the file
    rows_new: Mapped[int] = mapped_column(default=0)      # stored by this upload
    rows_known: Mapped[int] = mapped_column(default=0)    # already known (earlier upload/manual)
    rows_debit: Mapped[int] = mapped_column(default=0)    # money out, among the new
    matched: Mapped[int] = mapped_column(default=0)
    suggested: Mapped[int] = mapped_column(default=0)
    unmatched: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[list] = mapped_column(JSON, default=list)  # [[line, reason], ...]
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    file = relationship("StoredFile")
    job = relationship("Job")

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'reading', 'needs_mapping', 'done', 'failed')",
                        name="status_known"),
    )

    @property
    def status_label(self) -> str:
        return STATEMENT_STATUSES.get(self.status, self.status)


class BankLayout(db.Model):
    """The column mapping finance gave once for a bank's export layout (a header row)."""

    __tablename__ = "bank_layout"

    id: Mapped[int] = mapped_column(primary_key=True)
    layout: Mapped[str] = mapped_column(String(40), unique=True)
    headers: Mapped[list] = mapped_column(JSON, default=list)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> column index
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankTransaction(db.Model):
    """One line of the bank's account: money in (a credit) or out (a debit)."""

    __tablename__ = "bank_transaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first statement that brought it; None for a transfer finance recorded by hand.
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("bank_statement.id"), index=True)
    source: Mapped[str] = mapped_column(String(8), default="import")
    line: Mapped[int] = mapped_column(default=0)
    account: Mapped[str] = mapped_column(String(40), default="")
    # The bank's serial number (交易流水号/凭证号), normalised; it keys the transaction.
    serial: Mapped[str | None] = mapped_column(String(64))
    # Without a serial: a hash of date, amount, payer, account, remark and its occurrence.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    booked_on: Mapped[date] = mapped_column(Date, index=True)
    booked_time: Mapped[str] = mapped_column(String(8), default="")
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # What confirmed allocations took of it; never more than the amount (the check below).
    allocated: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    payer_account: Mapped[str] = mapped_column(String(64), default="")
    payer_bank: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    remark: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    pile: Mapped[str] = mapped_column(String(16), default="unmatched")
    rule: Mapped[str] = mapped_column(String(16), default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    # The matcher's proposal: {"shares": [[registration_id, "amount"], ...],
    #  "candidates": [{"ids": [...], "score": n, "rule": ..., "explanation": ...}], ...}
    proposal: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")  # why it is not for an event, ...
    # A debit line that paid back the surplus of an earlier credit.
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transaction.id"))
    handled_by: Mapped[str] = mapped_column(String(120), default="")
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    statement = relationship("BankStatement")
    allocations: Mapped[list["BankAllocation"]] = relationship(
        back_populates="transaction", order_by="BankAllocation.id")

    __table_args__ = (
        Index("uq_bank_transaction_serial", "serial", unique=True,
              sqlite_where=text("serial IS NOT NULL"),
              postgresql_where=text("serial IS NOT NULL")),
        Index("uq_bank_transaction_fingerprint", "fingerprint", unique=True,
              sqlite_where=text("fingerprint IS NOT NULL"),
              postgresql_where=text("fingerprint IS NOT NULL")),
        CheckConstraint("serial IS NOT NULL OR fingerprint IS NOT NULL", name="has_key"),
        CheckConstraint("direction IN ('in', 'out')", name="direction_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("allocated >= 0 AND allocated <= amount", name="allocated_within_amount"),
        CheckConstraint("status IN ('open', 'confirmed', 'ignored')", name="status_known"),
        CheckConstraint("pile IN ('matched', 'suggested', 'unmatched')", name="pile_known"),
        CheckConstraint("source IN ('import', 'manual')", name="source_known"),
    )

    @property
    def credit(self) -> Decimal:
        """What is left of a confirmed credit after its allocations: held for the payer."""
        return self.amount - self.allocated

    @property
    def text(self) -> str:
        return " ".join(part for part in (self.summary, self.remark) if part)

    @property
    def status_label(self) -> str:
        return TRANSACTION_STATUSES.get(self.status, self.status)

    @property
    def pile_label(self) -> str:
        return PILES.get(self.pile, self.pile)

    @property
    def rule_label(self) -> str:
        return RULES.get(self.rule, self.rule)


class BankAllocation(db.Model):
    """A part of a transaction given to one registration: the payment it made, or undid."""

    __tablename__ = "bank_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transaction.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    rule: Mapped[str] = mapped_column(String(16), default="manual")
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    reversal_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    confirmed_by: Mapped[str] = mapped_column(String(120), default="")
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_by: Mapped[str] = mapped_column(String(120), default="")
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverse_reason: Mapped[str] = mapped_column(Text, default="")

    transaction: Mapped[BankTransaction] = relationship(back_populates="allocations")
    registration = relationship("Registration")
    payment = relationship("Payment", foreign_keys=[payment_id])

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('confirmed', 'reversed')", name="status_known"),
    )

    @property
    def is_reversed(self) -> bool:
        return self.status == "reversed"


class PayerAlias(db.Model):
    """A payer name money for a unit came from (its finance office, its parent body).

    Learnt when finance confirms a transfer from that payer for the unit, so the next
    transfer from it matches by name."""

    __tablename__ = "payer_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(200), index=True)   # normalize_unit_name
    payer_key: Mapped[str] = mapped_column(String(200), index=True)
    payer_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("uq_payer_alias_unit_payer", "unit_key", "payer_key", unique=True),
    )
