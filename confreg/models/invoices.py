"""The official e-invoice (发票): the request finance is asked to issue, the file it comes
back as, the unit's changes after the request, and the uploads that bring the files.

confreg does not issue invoices; the association issues them on the national tax platform
(电子发票服务平台). An InvoiceRequest is a snapshot of the buyer's details taken when finance
asked for the invoice (exported the batch): later changes to the registration do not alter
it. It covers one registration, or several that asked for one invoice together (the same
buyer paying for several units). An IssuedInvoice is a file read back from the platform
(blue: the invoice; red: the red-letter invoice 红字发票 that reverses one); it is attached
to its request when the number, buyer and amount agree, or held for a person. Nothing here
is ever deleted: a mistake is reversed with a red invoice and a new request.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, String,
                        Text, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

DOCUMENT_MODES = {"both": "收据和电子发票", "invoice": "电子发票", "receipt": "收据（不开发票）"}
# A request's life: asked for (exported to finance) -> issued (the file is back and attached)
# -> delivered (mailed to the unit); an issued invoice that must be undone -> to_reverse ->
# reversed (its red invoice recorded). Withdrawn: cancelled before anything was issued.
REQUEST_STATUSES = {"requested": "已申请开票", "issued": "已开具", "delivered": "已发送",
                    "to_reverse": "待红冲", "reversed": "已红冲", "withdrawn": "已撤回"}
UPLOAD_STATUSES = {"queued": "排队读取", "reading": "读取中", "done": "已读取", "failed": "读取失败"}
OPEN_REQUEST_STATUSES = ("requested", "issued", "delivered", "to_reverse")
ISSUED_STATUSES = {"attached": "已匹配", "held": "待核对", "unmatched": "未匹配",
                   "rejected": "已退回"}
CHANGE_STATUSES = {"pending": "待财务处理", "accepted": "已接受", "refused": "未接受"}


class InvoiceRequest(db.Model):
    """One invoice finance was asked to issue: the buyer's details as they were then."""

    __tablename__ = "invoice_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    # The serial written in the platform template's 发票流水号 column (FP + id).
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    batch: Mapped[str] = mapped_column(String(40), default="")  # the export it went out in

    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_tax_id: Mapped[str] = mapped_column(String(20), default="")
    invoice_type: Mapped[str] = mapped_column(String(16), default="ordinary")
    buyer_address: Mapped[str] = mapped_column(String(200), default="")
    buyer_phone: Mapped[str] = mapped_column(String(40), default="")
    buyer_bank: Mapped[str] = mapped_column(String(120), default="")
    buyer_account: Mapped[str] = mapped_column(String(40), default="")
    item_name: Mapped[str] = mapped_column(String(60))
    tax_code: Mapped[str] = mapped_column(String(19), default="")
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.06"))
    quantity: Mapped[int] = mapped_column(default=1)
    # The template's detail lines: [{"unit_price": "2980.00", "quantity": 3, "amount": "8940.00"}]
    lines: Mapped[list] = mapped_column(JSON, default=list)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    email: Mapped[str] = mapped_column(String(254), default="")
    remark: Mapped[str] = mapped_column(String(230), default="")

    # The request this one re-issues after a reversal (a change of buyer details).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_request.id"))
    reverse_reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event = relationship("Event")
    items: Mapped[list["InvoiceRequestItem"]] = relationship(
        back_populates="request", order_by="InvoiceRequestItem.id")

    __table_args__ = (
        CheckConstraint("status IN ('requested', 'issued', 'delivered', 'to_reverse', "
                        "'reversed', 'withdrawn')", name="status_known"),
        CheckConstraint("total > 0", name="total_positive"),
    )

    @property
    def status_label(self) -> str:
        return REQUEST_STATUSES.get(self.status, self.status)

    @property
    def is_special(self) -> bool:
        return self.invoice_type == "special"


class InvoiceRequestItem(db.Model):
    """A registration covered by a request, and the part of the total that is its fee."""

    __tablename__ = "invoice_request_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("invoice_request.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    quantity: Mapped[int] = mapped_column(default=1)
    # True while the request is open; a reversed or withdrawn request frees the registration.
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    request: Mapped[InvoiceRequest] = relationship(back_populates="items")
    registration = relationship("Registration")

    __table_args__ = (
        # A registration is in at most one open request: asking twice would issue twice.
        Index("uq_invoice_item_one_current", "registration_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
    )


class InvoiceUpload(db.Model):
    """A file (or a zip of files) finance uploaded from the platform, read by the worker."""

    __tablename__ = "invoice_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued/reading/done/failed
    error: Mapped[str] = mapped_column(Text, default="")
    # {"files": n, "invoices": n, "attached": n, "held": n, "unmatched": n, "duplicate": n, ...}
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # [{"name": file name, "number": ..., "outcome": ..., "message": ...}, ...]
    results: Mapped[list] = mapped_column(JSON, default=list)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event = relationship("Event")
    file = relationship("StoredFile")
    job = relationship("Job")

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'reading', 'done', 'failed')", name="status_known"),
    )

    @property
    def status_label(self) -> str:
        return UPLOAD_STATUSES.get(self.status, self.status)


class IssuedInvoice(db.Model):
    """An invoice the platform issued, as read from its files; never deleted."""

    __tablename__ = "issued_invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    red: Mapped[bool] = mapped_column(Boolean, default=False)
    original_number: Mapped[str] = mapped_column(String(20), default="")  # red: what it reverses
    issued_on: Mapped[date | None] = mapped_column(Date)
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    buyer_tax_id: Mapped[str] = mapped_column(String(20), default="")
    invoice_type: Mapped[str] = mapped_column(String(16), default="")
    total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    remark: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(8), default="")  # where the facts were read
    status: Mapped[str] = mapped_column(String(16), default="unmatched", index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_request.id"), index=True)
    # The request the matcher proposed for a held invoice (a person confirms it).
    proposed_request_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_request.id"))
    differences: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    pdf_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    ofd_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    xml_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_upload.id"), index=True)
    resolved_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request = relationship("InvoiceRequest", foreign_keys=[request_id])
    proposed_request = relationship("InvoiceRequest", foreign_keys=[proposed_request_id])
    pdf_file = relationship("StoredFile", foreign_keys=[pdf_file_id])
    ofd_file = relationship("StoredFile", foreign_keys=[ofd_file_id])
    xml_file = relationship("StoredFile", foreign_keys=[xml_file_id])

    __table_args__ = (
        CheckConstraint("status IN ('attached', 'held', 'unmatched', 'rejected')",
                        name="status_known"),
    )

    @property
    def status_label(self) -> str:
        return ISSUED_STATUSES.get(self.status, self.status)

    @property
    def main_file(self):
        """The file a unit is given: the PDF, else the OFD, else the XML."""
        return self.pdf_file or self.ofd_file or self.xml_file

    @property
    def files(self) -> list:
        return [f for f in (self.pdf_file, self.ofd_file, self.xml_file) if f is not None]


class InvoiceChange(db.Model):
    """A unit's change of its invoice details after finance asked for the invoice."""

    __tablename__ = "invoice_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("invoice_request.id"))
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")  # finance's reason, shown to the unit
    decided_by: Mapped[str] = mapped_column(String(120), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration = relationship("Registration")
    request = relationship("InvoiceRequest")

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'refused')", name="status_known"),
        # One change waits at a time; a second one replaces the first (see the service).
        Index("uq_invoice_change_one_pending", "registration_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
    )

    @property
    def status_label(self) -> str:
        return CHANGE_STATUSES.get(self.status, self.status)
