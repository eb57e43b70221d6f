"""Money received for registrations, and the receipts (收据) issued for it.

A registration's payments are summed (refunds are negative payments); the status says
whether the unit has paid what it owes.  Paid in full, it gets a receipt: a numbered
snapshot (payer, lines, total) taken from a per-year counter that is locked while a
number is taken, so numbers are unique and gapless however many are issued at once.
A mistaken receipt is voided, never deleted, and its number is never used again.
"""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from ..checks import rmb_capitals
from ..database import begin_write, utcnow
from ..extensions import db
from ..models import (Attendee, BankAllocation, BankTransaction, Certificate, DocumentCounter,
                      Payment, Receipt, Registration)
from ..models.payments import PAYMENT_METHODS
from ..notifications import queue_mail
from ..pdf.receipt import ReceiptData, ReceiptLine
from ..timeutil import china_today, format_date_cn
from . import ServiceError
from .audit import record_audit
from .documents import payment_notice_of
# The payment rules live in services.money; finance's callers may keep importing them here.
from .money import (CENT, PAYMENT_STATUSES, Balance, balance_of, expected_amount,  # noqa: F401
                    money_columns, payment_status, received_amount,
                    received_by_registration, settled_expression, status_expression)
from .registrations import lock_registration

RECEIPT_STATUSES = {"issued": "有效", "void": "已作废"}
RECEIPT_KIND = "receipt"
RECEIPT_PREFIX = "SJ"  # 收据
MAX_AMOUNT = Decimal("100000000")  # a single transfer above 1 亿元 is a typing mistake


# --- Payments ----------------------------------------------------------------------------

@dataclass
class PaymentDetails:
    amount: Decimal
    received_on: date
    payer_name: str = ""
    bank_reference: str = ""
    method: str = "bank_transfer"
    note: str = ""


def normalize_bank_reference(value: str | None) -> str | None:
    """Strip spaces and upper-case a bank transaction number; empty means none."""
    cleaned = "".join((value or "").split()).upper()
    return cleaned or None


def _check_payment(details: PaymentDetails, today: date) -> Decimal:
    try:
        amount = Decimal(details.amount)
    except (InvalidOperation, TypeError):
        raise ServiceError("请填写金额，如 2980 或 -500（退款）。", field="amount") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise ServiceError("金额最多保留两位小数。", field="amount")
    if amount == 0:
        raise ServiceError("金额不能为 0。退款请填写负数。", field="amount")
    if abs(amount) >= MAX_AMOUNT:
        raise ServiceError("金额过大，请核对。", field="amount")
    if details.received_on > today:
        raise ServiceError(f"到账日期不能晚于今天（{format_date_cn(today)}）。",
                           field="received_on")
    if details.method not in PAYMENT_METHODS:
        raise ServiceError("请选择付款方式。", field="method")
    return amount.quantize(CENT)


def _duplicate_reference_error(earlier, reference: str) -> ServiceError:
    """The message for a serial already known: recorded by hand, or in an imported statement."""
    where = ""
    if earlier is not None:
        payments = [a for a in earlier.allocations if not a.is_reversed]
        if payments:
            codes = "、".join(a.registration.code for a in payments)
            where = (f"（已登记在报名 {codes}，{earlier.amount:,.2f} 元，"
                     f"{format_date_cn(earlier.booked_on)}）")
        else:
            where = (f"（在导入的银行流水中：{format_date_cn(earlier.booked_on)} "
                     f"{earlier.payer_name or '付款人未知'} {earlier.amount:,.2f} 元，"
                     "请在“银行流水”中核对分配）")
    return ServiceError(f"银行流水号 {reference} 已经登记过{where}，同一笔转账不能重复登记。",
                        field="bank_reference")


def record_payment(registration: Registration, details: PaymentDetails, *, actor: str,
                   recorded_by_id: int | None = None,
                   today: date | None = None) -> tuple[Payment, Receipt | None]:
    """Record money received (or refunded) for a registration; issue its receipt when paid.

    A bank serial number makes the transfer a bank transaction of its own, so it collides
    with the same serial typed again or imported from a statement."""
    today = today or china_today()
    registration, event = lock_registration(registration)
    amount = _check_payment(details, today)
    reference = normalize_bank_reference(details.bank_reference)
    transaction = None
    if reference is not None:
        earlier = db.session.scalar(select(BankTransaction)
                                    .where(BankTransaction.serial == reference))
        if earlier is not None:
            raise _duplicate_reference_error(earlier, reference)
        transaction = BankTransaction(
            source="manual", serial=reference, booked_on=details.received_on,
            direction="in" if amount > 0 else "out", amount=abs(amount),
            allocated=abs(amount), payer_name=details.payer_name.strip()[:200],
            status="confirmed", pile="matched", rule="recorded", explanation="手工登记的收款",
            proposal={}, raw={}, handled_by=actor, handled_at=utcnow(), created_at=utcnow())
        try:
            # Another process may record (or import) the same transfer at this moment: the
            # unique index decides, the savepoint keeps us going.
            with db.session.begin_nested():
                db.session.add(transaction)
        except IntegrityError:
            raise _duplicate_reference_error(None, reference) from None
    payment, receipt = add_payment(
        registration, event, amount=amount, received_on=details.received_on,
        payer_name=details.payer_name, reference=reference, method=details.method,
        note=details.note, transaction_id=transaction.id if transaction else None, actor=actor,
        recorded_by_id=recorded_by_id, today=today)
    if transaction is not None:
        db.session.add(BankAllocation(
            transaction_id=transaction.id, registration_id=registration.id, amount=abs(amount),
            rule="recorded", status="confirmed", payment_id=payment.id, confirmed_by=actor,
            confirmed_at=utcnow()))
        db.session.flush()
    return payment, receipt


def add_payment(registration: Registration, event, *, amount: Decimal, received_on: date,
                payer_name: str, reference: str | None, method: str, note: str,
                transaction_id: int | None, actor: str, recorded_by_id: int | None,
                today: date, reverses_id: int | None = None,
                void_reason: str | None = None) -> tuple[Payment, Receipt | None]:
    """Add a payment to a locked registration, audit it, void or issue the receipt."""
    before = balance_of(registration)
    if amount < 0 and before.received + amount < 0:
        raise ServiceError(f"退款金额超过已收金额（已收 {before.received:,.2f} 元）。",
                           field="amount")
    payment = Payment(registration_id=registration.id, amount=amount, received_on=received_on,
                      payer_name=(payer_name or "").strip()[:200], bank_reference=reference,
                      method=method, note=(note or "").strip(), recorded_by_id=recorded_by_id,
                      bank_transaction_id=transaction_id, reverses_id=reverses_id,
                      created_at=utcnow())
    db.session.add(payment)
    db.session.flush()
    after = Balance(before.expected, before.received + amount)
    kind = payment.kind_label
    record_audit(
        actor=actor, action="payment.recorded", object_type="payment", object_id=payment.id,
        event_id=event.id, registration_id=registration.id,
        summary=(f"登记{kind} {amount:,.2f} 元（{payment.method_label}"
                 f"{'，流水号 ' + reference if reference else ''}，到账 "
                 f"{format_date_cn(received_on)}）；已收 {after.received:,.2f} / 应收 "
                 f"{after.expected:,.2f} 元，{after.status_label}"),
        changes={"amount": [None, f"{amount:.2f}"],
                 "received_on": [None, received_on.isoformat()],
                 "payer_name": [None, payment.payer_name],
                 "bank_reference": [None, reference],
                 "method": [None, payment.method],
                 "received_total": [f"{before.received:.2f}", f"{after.received:.2f}"],
                 "payment_status": [before.status, after.status]},
    )
    if amount < 0 and not after.paid_in_full:
        # A receipt says "paid in full": after this refund it no longer holds.
        void_active_receipt(registration, void_reason or f"退款 {-amount:,.2f} 元后未付清",
                            actor=actor)
        from .invoices import registration_undone  # invoices imports this module

        registration_undone(registration, void_reason or f"退款 {-amount:,.2f} 元后未付清",
                            actor=actor)
    receipt = issue_receipt_if_settled(registration, actor=actor, issued_by_id=recorded_by_id,
                                       today=today)
    return payment, receipt


def issue_receipt_if_settled(registration: Registration, *, actor: str,
                             issued_by_id: int | None = None,
                             today: date | None = None) -> Receipt | None:
    """Issue the receipt when the registration is paid in full at a settled price."""
    if not registration.event.gives_receipts:
        return None  # the event gives the official e-invoice only
    if registration.tier_status == "member_pending" or active_receipt(registration) is not None:
        return None
    if not balance_of(registration).paid_in_full:
        return None
    return issue_receipt(registration, actor=actor, issued_by_id=issued_by_id, today=today)


def void_active_receipt(registration: Registration, reason: str, *, actor: str,
                        now: datetime | None = None) -> Receipt | None:
    """Void the registration's valid receipt, if it has one, with a reason."""
    current = active_receipt(registration)
    return void_receipt(current, reason, actor=actor, now=now) if current else None


def payments_for(registration: Registration) -> list[Payment]:
    return list(db.session.scalars(
        select(Payment).where(Payment.registration_id == registration.id)
        .order_by(Payment.received_on, Payment.id)))


# --- Receipts ----------------------------------------------------------------------------

def receipts_for(registration: Registration) -> list[Receipt]:
    """Every receipt of a registration, voided ones included, oldest first."""
    return list(db.session.scalars(
        select(Receipt).where(Receipt.registration_id == registration.id)
        .order_by(Receipt.year, Receipt.sequence)))


def active_receipt(registration: Registration) -> Receipt | None:
    return db.session.scalar(select(Receipt).where(Receipt.registration_id == registration.id,
                                                   Receipt.status == "issued"))


def receipt_number(year: int, sequence: int) -> str:
    return f"{RECEIPT_PREFIX}{year}-{sequence:06d}"


def lock_counter(kind: str, year: int) -> DocumentCounter:
    """Hold the counter row of (kind, year) until commit, creating it the first time."""
    begin_write(db.session)
    dialect = db.session.connection().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # Two first issues of a year may both find no row: the loser's insert does nothing
    # (on PostgreSQL it waits for the winner's commit), and both then lock the one row.
    db.session.execute(insert(DocumentCounter).values(kind=kind, year=year, last_number=0)
                       .on_conflict_do_nothing(index_elements=["kind", "year"]))
    return db.session.execute(
        select(DocumentCounter).where(DocumentCounter.kind == kind, DocumentCounter.year == year)
        .with_for_update(key_share=True).execution_options(populate_existing=True)
    ).scalar_one()


def take_number(kind: str, year: int) -> int:
    """Take the next number of a kind of document in a year: unique and gapless."""
    counter = lock_counter(kind, year)
    counter.last_number += 1
    db.session.flush()
    return counter.last_number


def _snapshot_lines(registration: Registration) -> list[dict]:
    # The same lines as the payment notice: attendees × fee, per tier.
    notice = payment_notice_of(registration, today=china_today())
    return [{"label": line.label, "unit_price": f"{line.unit_price:.2f}",
             "quantity": line.quantity, "amount": f"{line.amount:.2f}"}
            for line in notice.fee_lines]


def issue_receipt(registration: Registration, *, actor: str, issued_by_id: int | None = None,
                  today: date | None = None) -> Receipt:
    """Issue the receipt of a registration paid in full, with the next number of the year."""
    today = today or china_today()
    registration, event = lock_registration(registration)
    if not event.gives_receipts:
        raise ServiceError("本活动只开具正式电子发票，不开收据（见活动设置“单位缴费后得到”）。")
    current = active_receipt(registration)
    if current is not None:
        raise ServiceError(f"该报名已有有效收据 {current.number}；如需重开，请先作废。")
    if registration.tier_status == "member_pending":
        raise ServiceError("会员价尚待核实：核实（或按标准价重新计价）后再开具收据。")
    balance = balance_of(registration)
    if not balance.paid_in_full:
        raise ServiceError(f"尚未付清（已收 {balance.received:,.2f} / 应收 "
                           f"{balance.expected:,.2f} 元），不能开具收据。")
    sequence = take_number(RECEIPT_KIND, today.year)
    total = registration.total_amount
    receipt = Receipt(
        registration_id=registration.id, year=today.year, sequence=sequence,
        number=receipt_number(today.year, sequence), issued_on=today,
        payer_name=registration.invoice_title or registration.unit_name,
        # The receiving party is the account holder (中国社会工作联合会), not the committee.
        event_title=event.title, organiser=event.payee_name or event.organiser,
        lines=_snapshot_lines(registration), total=total, total_capitals=rmb_capitals(total),
        status="issued", issued_by_id=issued_by_id, created_at=utcnow(),
    )
    db.session.add(receipt)
    db.session.flush()
    record_audit(
        actor=actor, action="receipt.issued", object_type="receipt", object_id=receipt.id,
        event_id=event.id, registration_id=registration.id,
        summary=f"开具收据 {receipt.number}：{receipt.payer_name}，{total:,.2f} 元",
        changes={"number": [None, receipt.number], "payer_name": [None, receipt.payer_name],
                 "total": [None, f"{total:.2f}"], "status": [None, "issued"]},
    )
    queue_mail("receipt_issued", registration.contact_email, registration=registration,
               context={"registration": registration, "event": event, "receipt": receipt})
    return receipt


def void_reason_of(reason: str) -> str:
    """The reason a document is voided, trimmed; without one it is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("请填写作废原因。", field="reason")
    return reason


def mark_void(document: Receipt | Certificate, name: str, reason: str, now: datetime) -> None:
    """Void a locked, issued receipt or certificate; its number stays and is never reused."""
    if document.is_void:
        raise ServiceError(f"{name} {document.number} 已于此前作废。")
    document.status = "void"
    document.void_reason = reason
    document.voided_at = now
    db.session.flush()


def void_receipt(receipt: Receipt, reason: str, *, actor: str,
                 now: datetime | None = None) -> Receipt:
    """Void a receipt: its number stays, marked void, and is never issued again."""
    reason = void_reason_of(reason)
    registration, event = lock_registration(receipt.registration)
    receipt = db.session.execute(
        select(Receipt).where(Receipt.id == receipt.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)).scalar_one()
    mark_void(receipt, "收据", reason, now or utcnow())
    record_audit(
        actor=actor, action="receipt.voided", object_type="receipt", object_id=receipt.id,
        event_id=event.id, registration_id=registration.id,
        summary=f"作废收据 {receipt.number}（{receipt.total:,.2f} 元）：{reason}",
        changes={"status": ["issued", "void"], "void_reason": [None, reason]},
    )
    return receipt


def receipt_document_of(receipt: Receipt) -> ReceiptData:
    """What the receipt PDF shows: the snapshot taken at issue, never today's data."""
    return ReceiptData(
        number=receipt.number,
        issued_on=receipt.issued_on,
        payer_name=receipt.payer_name,
        event_title=receipt.event_title,
        organiser=receipt.organiser,
        lines=[ReceiptLine(label=line["label"], unit_price=Decimal(line["unit_price"]),
                           quantity=int(line["quantity"]), amount=Decimal(line["amount"]))
               for line in receipt.lines],
        total=receipt.total,
        total_capitals=receipt.total_capitals,
        registration_code=receipt.registration.code,
        void=receipt.is_void,
        void_reason=receipt.void_reason,
    )


# --- The finance page of an event ----------------------------------------------------------

PAGE_SIZE = 50


@dataclass
class FinanceRow:
    registration: Registration
    attendee_count: int
    balance: Balance
    receipt: Receipt | None  # the current (non-void) receipt


@dataclass
class FinancePage:
    rows: list[FinanceRow]
    total: int                 # rows matching the filter
    page: int
    pages: int
    expected: Decimal          # for the whole event, not only this page
    received: Decimal
    counts: dict[str, int]     # registrations per payment status (all of the event)
    receipts: list[Receipt]    # one page of the event's receipts, newest first
    receipts_missing: int      # paid in full without a valid receipt
    receipts_valid: int = 0    # of the whole event
    receipts_void: int = 0
    receipts_page: int = 1
    receipts_pages: int = 1

    @property
    def outstanding(self) -> Decimal:
        return self.expected - self.received


def event_finance(event_id: int, *, status: str | None = None, query: str = "",
                  page: int = 1, receipts_page: int = 1) -> FinancePage:
    """The event's registrations with what each owes and paid, totals, and its receipts."""
    money = money_columns(event_id)
    status_col = money.status
    base = (money.join(select(Registration.id, money.expected.label("expected"),
                              money.received.label("received"), status_col.label("status")))
            .where(Registration.event_id == event_id))

    listing = base.subquery()
    counts = dict(db.session.execute(
        select(listing.c.status, func.count()).group_by(listing.c.status)).all())
    totals = db.session.execute(
        select(func.coalesce(func.sum(listing.c.expected), 0),
               func.coalesce(func.sum(listing.c.received), 0))).one()

    filtered = base
    if status in PAYMENT_STATUSES:
        filtered = filtered.where(status_col == status)
    if query:
        like = f"%{query.strip()}%"
        filtered = filtered.where(Registration.code.ilike(like)
                                  | Registration.unit_name.ilike(like)
                                  | Registration.invoice_title.ilike(like))
    total = db.session.scalar(select(func.count()).select_from(filtered.subquery()))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    ids = db.session.execute(filtered.order_by(Registration.created_at, Registration.id)
                             .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    registrations = {r.id: r for r in db.session.scalars(
        select(Registration).where(Registration.id.in_([row.id for row in ids])))}
    attendee_counts = dict(db.session.execute(
        select(Attendee.registration_id, func.count(Attendee.id))
        .where(Attendee.registration_id.in_(list(registrations)))
        .group_by(Attendee.registration_id)).all())
    of_event = select(Receipt).join(Registration).where(Registration.event_id == event_id)
    receipt_counts = dict(db.session.execute(
        select(Receipt.status, func.count()).join(Registration)
        .where(Registration.event_id == event_id).group_by(Receipt.status)).all())
    receipt_total = sum(receipt_counts.values())
    receipts_pages = max((receipt_total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    receipts_page = min(max(receipts_page, 1), receipts_pages)
    receipts = list(db.session.scalars(
        of_event.options(contains_eager(Receipt.registration))
        .order_by(Receipt.year.desc(), Receipt.sequence.desc())
        .limit(PAGE_SIZE).offset((receipts_page - 1) * PAGE_SIZE)))
    current = {r.registration_id: r for r in db.session.scalars(
        select(Receipt).where(Receipt.registration_id.in_([row.id for row in ids]),
                              Receipt.status == "issued"))}
    rows = [FinanceRow(registrations[row.id], attendee_counts.get(row.id, 0),
                       Balance(Decimal(row.expected).quantize(CENT),
                               Decimal(row.received).quantize(CENT)),
                       current.get(row.id))
            for row in ids]
    missing = db.session.scalar(
        select(func.count()).select_from(listing)
        .where(listing.c.expected > 0, settled_expression(listing.c.expected, listing.c.received),
               listing.c.id.not_in(select(Receipt.registration_id)
                                   .where(Receipt.status == "issued"))))
    return FinancePage(rows=rows, total=total, page=page, pages=pages,
                       expected=Decimal(totals[0]).quantize(CENT),
                       received=Decimal(totals[1]).quantize(CENT),
                       counts={name: counts.get(name, 0) for name in PAYMENT_STATUSES},
                       receipts=receipts, receipts_missing=missing,
                       receipts_valid=receipt_counts.get("issued", 0),
                       receipts_void=receipt_counts.get("void", 0),
                       receipts_page=receipts_page, receipts_pages=receipts_pages)
