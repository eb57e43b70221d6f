"""The official e-invoice workflow: the unit's details, finance's queue, the batch for the
tax platform, the issued files read back and delivered, changes and red-letter reversals.

A registration's invoice state is derived, never stored twice:
- no open request: 待补充 (details missing), 待付款 (complete, not paid in full) or 可开票;
- an open request (its InvoiceRequestItem is current): the request's status -- 已申请开票
  (exported to finance), 已开具 (its file attached), 已发送 (mailed), 待红冲 (to be reversed);
- a reversed or withdrawn request frees the registration: if it is still active and paid,
  it is ready again, with its present details (a re-issue).

Locks: the event row first (lock_event), then registrations in id order; so exports, uploads
and the unit's changes of one event never interleave.
"""
import io
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from ..checks import credit_code_is_valid, normalize_credit_code
from ..database import begin_write, utcnow
from ..extensions import db
from ..invoice import files as invoice_files, matching as invoice_matching
from ..models import (Event, InvoiceChange, InvoiceRequest, InvoiceRequestItem,
                      InvoiceUpload, IssuedInvoice, Job, Registration, StoredFile)
from ..models.invoices import OPEN_REQUEST_STATUSES
from ..notifications import queue_mail
from . import ServiceError
from .audit import diff, record_audit
from .jobs import JobOutcome, Progress, job_kind, start_job
from .money import CENT, money_columns, to_money
from .registrations import lock_event
from .uploads import UploadRefused, store_file

# What a unit gives for its invoice (on the registration form or its private page).
DETAIL_FIELDS = ("invoice_title", "invoice_taxpayer_id", "invoice_type", "invoice_content",
                 "invoice_email", "invoice_buyer_address", "invoice_buyer_phone",
                 "invoice_buyer_bank", "invoice_buyer_account", "invoice_together")
DETAIL_LABELS = {"invoice_title": "发票抬头（购买方名称）", "invoice_taxpayer_id": "纳税人识别号",
                 "invoice_type": "发票类型", "invoice_content": "发票内容",
                 "invoice_email": "接收发票邮箱", "invoice_buyer_address": "购买方地址",
                 "invoice_buyer_phone": "购买方电话", "invoice_buyer_bank": "购买方开户银行",
                 "invoice_buyer_account": "购买方银行账号", "invoice_together": "合并开票"}
SPECIAL_FIELDS = ("invoice_buyer_address", "invoice_buyer_phone", "invoice_buyer_bank",
                  "invoice_buyer_account")

QUEUE_STATES = {"waiting": "待补充开票信息", "unpaid": "待付款", "ready": "可开票",
                "requested": "已申请开票", "issued": "已开具待发送", "delivered": "已发送",
                "to_reverse": "待红冲", "reversed": "已红冲"}

# The national platform's bulk-issuing template (电子发票服务平台 → 开票业务 → 蓝字发票开具 →
# 批量开具 → 下载模板, 《发票批量导入模板》 of the fully digitalised e-invoice, 2023 edition):
# sheet 1 发票基本信息, one row per invoice; sheet 2 发票明细信息, one row per line, linked by
# 发票流水号. The columns below are the template's, left to right, up to the last one we fill
# (the template's later optional columns -- 经办人, 收款人/复核人 and the like -- are left off:
# the platform reads columns by their header). Finance should compare them with the template
# the platform offers today when it changes: tests/test_invoices.py pins this list.
TEMPLATE_BASIC_SHEET = "1-发票基本信息"
TEMPLATE_BASIC_COLUMNS = ("发票流水号", "发票类型", "特定业务类型", "是否含税", "受票方自然人标识",
                          "购买方名称", "购买方纳税人识别号", "购买方地址", "购买方电话",
                          "购买方开户银行", "购买方银行账号", "备注",
                          "是否展示购买方地址电话银行账号", "购买方邮箱")
TEMPLATE_DETAIL_SHEET = "2-发票明细信息"
TEMPLATE_DETAIL_COLUMNS = ("发票流水号", "项目名称", "商品和服务税收分类编码", "规格型号", "单位",
                           "数量", "单价", "金额", "税率", "折扣金额")
TEMPLATE_INVOICE_TYPES = {"ordinary": "普通发票", "special": "增值税专用发票"}
# Details that are not printed on the invoice: changing them after the request reverses nothing.
NOT_ON_THE_INVOICE = frozenset({"invoice_email", "invoice_together"})
REMARK_LIMIT = 200  # the platform's 备注 takes 230 characters; keep room for its own text

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a zip of hundreds of invoices; the reader bounds the rest
UPLOAD_KINDS = {"pdf", "ofd", "xml", "zip"}


# --- the unit's details ----------------------------------------------------------------------

def taxpayer_id_note(value: str) -> str:
    """"" for a unified social credit code that passes GB 32100's check; a note for finance
    when the number is of another kind the tax system still takes (15/17/20 characters:
    old tax registration numbers), so it is checked before issuing."""
    value = normalize_credit_code(value or "")
    if not value or credit_code_is_valid(value):
        return ""
    return f"非 18 位统一社会信用代码（{len(value)} 位），开票前请核对"


def missing_details(registration: Registration) -> list[str]:
    """The labels of what the invoice still needs, in the order a form asks for them."""
    missing = [DETAIL_LABELS[name] for name in ("invoice_title", "invoice_taxpayer_id",
                                                "invoice_email")
               if not (getattr(registration, name) or "").strip()]
    if registration.invoice_type == "special":
        missing += [DETAIL_LABELS[name] for name in SPECIAL_FIELDS
                    if not (getattr(registration, name) or "").strip()]
    return missing


def _missing_condition():
    """missing_details() as SQL: the registration cannot be invoiced yet."""
    def blank(column):
        return func.trim(func.coalesce(column, "")) == ""
    special = and_(Registration.invoice_type == "special",
                   or_(*(blank(getattr(Registration, name)) for name in SPECIAL_FIELDS)))
    return or_(blank(Registration.invoice_title), blank(Registration.invoice_taxpayer_id),
               blank(Registration.invoice_email), special)


def current_request(registration: Registration) -> InvoiceRequest | None:
    return db.session.scalar(
        select(InvoiceRequest).join(InvoiceRequestItem)
        .where(InvoiceRequestItem.registration_id == registration.id,
               InvoiceRequestItem.is_current == true()))


def pending_change(registration: Registration) -> InvoiceChange | None:
    return db.session.scalar(select(InvoiceChange).where(
        InvoiceChange.registration_id == registration.id, InvoiceChange.status == "pending"))


def details_of(registration: Registration) -> dict:
    return {name: getattr(registration, name) for name in DETAIL_FIELDS}


def change_details(registration: Registration, after: dict, *, now: datetime, actor: str,
                   by_finance: bool) -> str:
    """Apply new invoice details, or -- once finance has asked for the invoice and the unit
    is the one changing them -- record them as a change for finance to accept or refuse.

    The caller holds the locks (event, registration) and has cleaned `after`. Returns
    "unchanged", "changed" or "requested"."""
    before = details_of(registration)
    changes = diff(before, after)
    if not changes:
        return "unchanged"
    request = current_request(registration)
    if request is not None and not set(changes) - NOT_ON_THE_INVOICE:
        # Only where the invoice goes: nothing to reverse, the invoice follows the address.
        for name, value in after.items():
            setattr(registration, name, value)
        registration.updated_at = now
        waiting = pending_change(registration)
        if waiting is not None:  # a change still to decide must not bring the old address back
            waiting.after = {**waiting.after, **{name: after[name] for name in changes}}
        if "invoice_email" in changes and len([i for i in request.items if i.is_current]) == 1:
            request.email = (after["invoice_email"] or "").strip()
            invoice = _blue_invoice_of([request.id]).get(request.id)
            if request.status in ("issued", "delivered") and invoice is not None:
                deliver(invoice, request, actor=actor)
        record_audit(actor=actor, action="registration.invoice_updated",
                     object_type="registration", object_id=registration.id,
                     event_id=registration.event_id, registration_id=registration.id,
                     summary="修改发票信息：" + "、".join(DETAIL_LABELS[k] for k in changes),
                     changes=changes)
        return "changed"
    if request is not None and not by_finance:
        waiting = pending_change(registration)
        if waiting is not None:  # the newer wish replaces the one not yet decided
            waiting.status, waiting.note = "refused", "单位已再次修改，以新的修改为准"
            waiting.decided_at, waiting.decided_by = now, actor
            db.session.flush()
        db.session.add(InvoiceChange(registration_id=registration.id, request_id=request.id,
                                     before=before, after=after, created_at=now))
        record_audit(actor=actor, action="invoice.change_requested", object_type="registration",
                     object_id=registration.id, event_id=registration.event_id,
                     registration_id=registration.id,
                     summary="申请修改开票信息（财务已申请开票，待财务处理）："
                             + "、".join(DETAIL_LABELS[k] for k in changes),
                     changes=changes)
        return "requested"
    waiting = pending_change(registration)
    if waiting is not None:  # made while an invoice was asked for; these details replace it
        waiting.status, waiting.decided_at, waiting.decided_by = "refused", now, actor
        waiting.note = "开票信息已重新修改，以新的修改为准"
    for name, value in after.items():
        setattr(registration, name, value)
    registration.updated_at = now
    if request is not None and by_finance:
        # Finance corrects the details of an invoice it has asked for: the request follows
        # while nothing has been issued; an issued invoice must be reversed instead.
        if request.status == "requested":
            _withdraw(request, "财务修改开票信息后重新申请", now=now)
        elif request.status in ("issued", "delivered"):
            _to_reverse(request, "财务修改了购买方信息，原发票须红冲后重开", now=now, actor=actor)
    record_audit(actor=actor, action="registration.invoice_updated", object_type="registration",
                 object_id=registration.id, event_id=registration.event_id,
                 registration_id=registration.id,
                 summary="修改发票信息：" + "、".join(DETAIL_LABELS[k] for k in changes),
                 changes=changes)
    return "changed"


def _locked(model, row_id: int, missing: str, event_id_of) -> tuple:
    """The row and its event, the event locked first and the row then read again FOR UPDATE
    (every writer takes them in that order); ServiceError(missing) if there is no such row."""
    row = db.session.get(model, row_id)
    if row is None:
        raise ServiceError(missing)
    event = lock_event(event_id_of(row))
    return db.session.get(model, row_id, populate_existing=True, with_for_update=True), event


def decide_change(change_id: int, accept: bool, note: str, *, actor: str) -> InvoiceChange:
    """Finance accepts (the details change; an issued invoice goes to be reversed) or refuses
    (with a reason shown to the unit) a unit's change after the request."""
    change, event = _locked(InvoiceChange, change_id, "没有这条修改申请。",
                            lambda c: c.registration.event_id)
    if change.status != "pending":
        raise ServiceError("这条修改申请已处理过。")
    registration = db.session.get(Registration, change.registration_id, populate_existing=True,
                                  with_for_update=True)
    now = utcnow()
    note = (note or "").strip()
    if not accept and not note:
        raise ServiceError("请写明不接受修改的原因，单位会在其页面看到。", field="note")
    change.status = "accepted" if accept else "refused"
    change.note, change.decided_by, change.decided_at = note[:500], actor, now
    changes = diff(change.before, change.after)
    if accept:
        for name, value in change.after.items():
            if name in DETAIL_FIELDS:
                setattr(registration, name, value)
        registration.updated_at = now
        # The request as it is now: the one the change was made against may have been
        # reversed and released since (then the details simply apply to the next one).
        request = current_request(registration)
        if request is None:
            pass
        elif request.status == "requested":
            _withdraw(request, "单位修改开票信息后重新申请", now=now)
        elif request.status in ("issued", "delivered"):
            _to_reverse(request, "单位修改购买方信息：原发票须红冲后按新信息重开", now=now,
                        actor=actor)
    record_audit(actor=actor, action="invoice.change_" + change.status,
                 object_type="registration", object_id=registration.id, event_id=event.id,
                 registration_id=registration.id,
                 summary=("接受" if accept else "不接受") + "单位修改开票信息："
                         + "、".join(DETAIL_LABELS.get(k, k) for k in changes)
                         + (f"（{note}）" if note else ""),
                 changes=changes)
    return change


# --- the queue -------------------------------------------------------------------------------

@dataclass
class QueueRow:
    registration: Registration
    state: str
    expected: Decimal
    received: Decimal
    missing: list[str]
    request: InvoiceRequest | None = None
    invoice: IssuedInvoice | None = None
    change: InvoiceChange | None = None

    @property
    def state_label(self) -> str:
        return QUEUE_STATES[self.state]

    @property
    def tax_id_note(self) -> str:
        return taxpayer_id_note(self.registration.invoice_taxpayer_id)


@dataclass
class Queue:
    event: Event
    rows: list[QueueRow]
    counts: Counter
    held: list[IssuedInvoice] = field(default_factory=list)
    unmatched: list[IssuedInvoice] = field(default_factory=list)
    changes: list[InvoiceChange] = field(default_factory=list)


def _blue_invoice_of(request_ids: list[int]) -> dict[int, IssuedInvoice]:
    if not request_ids:
        return {}
    rows = db.session.scalars(select(IssuedInvoice).where(
        IssuedInvoice.request_id.in_(request_ids), IssuedInvoice.red == false(),
        IssuedInvoice.status == "attached")).all()
    return {row.request_id: row for row in rows}


def invoice_queue(event: Event, state: str | None = None, query: str = "") -> Queue:
    """Every registration of the event that pays, in its invoice state, with counts."""
    money = money_columns(event.id)
    current = (select(InvoiceRequestItem.registration_id, InvoiceRequestItem.request_id)
               .where(InvoiceRequestItem.is_current == true()).subquery())
    statement = money.join(
        select(Registration, money.expected, money.received, current.c.request_id)
        .options(selectinload(Registration.attendees))
        .outerjoin(current, current.c.registration_id == Registration.id)
        .where(Registration.event_id == event.id, Registration.total_amount > 0,
               or_(Registration.status == "active", current.c.request_id.is_not(None)))
        .order_by(Registration.id))
    rows = db.session.execute(statement).all()
    request_ids = sorted({r.request_id for r in rows if r.request_id})
    requests = {r.id: r for r in db.session.scalars(
        select(InvoiceRequest).where(InvoiceRequest.id.in_(request_ids)))} if request_ids else {}
    invoices = _blue_invoice_of(request_ids)
    changes = {c.registration_id: c for c in db.session.scalars(
        select(InvoiceChange).join(Registration)
        .where(Registration.event_id == event.id, InvoiceChange.status == "pending"))}
    result = []
    for registration, expected, received, request_id in rows:
        expected, received = to_money(expected), to_money(received)
        missing = missing_details(registration)
        request = requests.get(request_id)
        if request is not None:
            state_of = request.status
        elif missing:
            state_of = "waiting"
        elif expected <= 0 or received < expected or registration.tier_status == "member_pending":
            state_of = "unpaid"  # (a member price not yet verified may still change the amount)
        else:
            state_of = "ready"
        result.append(QueueRow(registration, state_of, expected, received, missing, request,
                               invoices.get(request_id), changes.get(registration.id)))
    reversed_count = db.session.scalar(select(func.count()).select_from(InvoiceRequest).where(
        InvoiceRequest.event_id == event.id, InvoiceRequest.status == "reversed"))
    counts = Counter(row.state for row in result)
    counts["reversed"] = reversed_count or 0
    query = (query or "").strip().upper()
    if query:
        result = [row for row in result if query in row.registration.code.upper()
                  or query in row.registration.unit_name.upper()
                  or query in (row.registration.invoice_title or "").upper()
                  or query in (row.registration.invoice_taxpayer_id or "")]
    if state:
        result = [row for row in result if row.state == state]
    held = db.session.scalars(select(IssuedInvoice).where(
        IssuedInvoice.event_id == event.id, IssuedInvoice.status == "held")
        .order_by(IssuedInvoice.id)).all()
    unmatched = db.session.scalars(select(IssuedInvoice).where(
        IssuedInvoice.event_id == event.id, IssuedInvoice.status == "unmatched")
        .order_by(IssuedInvoice.id)).all()
    return Queue(event, result, counts, list(held), list(unmatched),
                 sorted(changes.values(), key=lambda c: c.id))


def reversed_requests(event: Event) -> list[InvoiceRequest]:
    return list(db.session.scalars(select(InvoiceRequest).where(
        InvoiceRequest.event_id == event.id, InvoiceRequest.status == "reversed")
        .order_by(InvoiceRequest.reversed_at.desc())))


def missing_details_condition(event: Event):
    """For the 开票信息补充提醒: active, paying, no open request, details missing."""
    current = select(InvoiceRequestItem.registration_id).where(
        InvoiceRequestItem.is_current == true())
    return and_(Registration.total_amount > 0, Registration.id.not_in(current),
                _missing_condition())


# --- asking finance for the invoice: the batch for the platform -------------------------------

def _lines(registrations: list[Registration]) -> list[dict]:
    """The template's detail lines: attendees grouped by their fee (unit price, tax included)."""
    by_fee: Counter = Counter()
    for registration in registrations:
        for attendee in registration.attendees:
            by_fee[Decimal(attendee.fee).quantize(CENT)] += 1
    lines = [{"unit_price": f"{fee:.2f}", "quantity": count, "amount": f"{fee * count:.2f}"}
             for fee, count in sorted(by_fee.items(), reverse=True) if fee > 0]
    total = sum(Decimal(r.total_amount) for r in registrations).quantize(CENT)
    if sum(Decimal(line["amount"]) for line in lines) != total:  # fees changed by hand
        lines = [{"unit_price": f"{total:.2f}", "quantity": 1, "amount": f"{total:.2f}"}]
    return lines


def _buyer_key(registration: Registration) -> tuple:
    from ..checks import normalize_unit_name
    # The e-mail too: the invoice goes to one address, and a unit that merely typed another
    # unit's (public) name and tax ID must not join that unit's invoice.
    return (normalize_unit_name(registration.invoice_title),
            normalize_credit_code(registration.invoice_taxpayer_id), registration.invoice_type,
            (registration.invoice_email or "").strip().lower())


def _remark(event: Event, registrations: list[Registration]) -> str:
    codes = "、".join(r.code for r in registrations)
    remark = f"报名编号 {codes}；{event.short_title or event.title}"
    if len(remark) > REMARK_LIMIT:
        remark = f"报名编号 {codes}"[:REMARK_LIMIT]
    return remark


@dataclass
class Batch:
    label: str
    requests: list[InvoiceRequest]
    skipped: list[str]  # codes no longer ready when the lock was taken


def request_invoices(event: Event, registration_ids: list[int] | None, *, actor: str) -> Batch:
    """Create the requests for the ready registrations (all, or the chosen ones): one per
    registration, or one per buyer for those that asked to be invoiced together."""
    if not event.gives_invoices:
        raise ServiceError("本活动不开具电子发票（只开收据）。")
    event = lock_event(event.id)
    ready = [row.registration for row in invoice_queue(event, "ready").rows
             if registration_ids is None or row.registration.id in registration_ids]
    skipped = []
    if registration_ids is not None:
        found = {r.id for r in ready}
        skipped = [r.code for r in db.session.scalars(select(Registration).where(
            Registration.id.in_(set(registration_ids) - found)))]
    if not ready:
        raise ServiceError("没有可开票的报名（已缴清且开票信息齐全、尚未申请）。")
    # Lock the registrations, in id order, and read them again.
    ready = list(db.session.scalars(
        select(Registration).where(Registration.id.in_([r.id for r in ready]))
        .order_by(Registration.id).with_for_update()
        .execution_options(populate_existing=True)))
    groups: dict = defaultdict(list)
    for registration in ready:
        key = _buyer_key(registration) if registration.invoice_together else ("one", registration.id)
        groups[key].append(registration)
    now = utcnow()
    label = f"{event.id}-{now.strftime('%Y%m%d%H%M%S')}"
    requests = []
    for members in groups.values():
        lead = members[0]
        total = sum(Decimal(r.total_amount) for r in members).quantize(CENT)
        lines = _lines(members)
        request = InvoiceRequest(
            # a placeholder serial until the row has its id (FP + id, below)
            event_id=event.id, status="requested", serial=f"t{secrets.token_hex(8)}",
            batch=label, buyer_name=lead.invoice_title.strip(),
            buyer_tax_id=normalize_credit_code(lead.invoice_taxpayer_id),
            invoice_type=lead.invoice_type, buyer_address=lead.invoice_buyer_address,
            buyer_phone=lead.invoice_buyer_phone, buyer_bank=lead.invoice_buyer_bank,
            buyer_account=lead.invoice_buyer_account,
            item_name=(lead.invoice_content or event.invoice_content or "培训服务").strip(),
            tax_code=event.invoice_tax_code, tax_rate=event.invoice_tax_rate,
            quantity=sum(line["quantity"] for line in lines), lines=lines, total=total,
            email=lead.invoice_email.strip(), remark=_remark(event, members),
            requested_by=actor, created_at=now)
        db.session.add(request)
        db.session.flush()
        request.serial = f"FP{request.id:08d}"
        for registration in members:
            db.session.add(InvoiceRequestItem(
                request_id=request.id, registration_id=registration.id,
                amount=Decimal(registration.total_amount).quantize(CENT),
                quantity=len(registration.attendees), is_current=True))
        requests.append(request)
    db.session.flush()
    record_audit(actor=actor, action="invoice.requested", object_type="event",
                 object_id=event.id, event_id=event.id,
                 summary=f"申请开票（导出批量开具模板 {label}）：{len(requests)} 张发票，"
                         f"{len(ready)} 个报名",
                 changes={"batch": [None, label],
                          "requests": [None, [r.serial for r in requests]],
                          "registrations": [None, [r.code for r in ready]]})
    return Batch(label, requests, skipped)


def batch_requests(event: Event, label: str) -> list[InvoiceRequest]:
    return list(db.session.scalars(select(InvoiceRequest).where(
        InvoiceRequest.event_id == event.id, InvoiceRequest.batch == label)
        .order_by(InvoiceRequest.id)))


def batches(event: Event) -> list[tuple[str, int, datetime]]:
    return [tuple(row) for row in db.session.execute(
        select(InvoiceRequest.batch, func.count(), func.min(InvoiceRequest.created_at))
        .where(InvoiceRequest.event_id == event.id)
        .group_by(InvoiceRequest.batch).order_by(func.min(InvoiceRequest.created_at).desc()))]


def _rate_text(rate: Decimal) -> Decimal:
    return Decimal(rate).quantize(Decimal("0.01"))


def batch_workbook(requests: list[InvoiceRequest]) -> bytes:
    """The platform's bulk-issuing template filled with these requests (see the columns)."""
    book = Workbook()
    basic = book.active
    basic.title = TEMPLATE_BASIC_SHEET
    basic.append(list(TEMPLATE_BASIC_COLUMNS))
    detail = book.create_sheet(TEMPLATE_DETAIL_SHEET)
    detail.append(list(TEMPLATE_DETAIL_COLUMNS))
    for sheet in (basic, detail):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    for request in requests:
        special = request.is_special
        basic.append([request.serial, TEMPLATE_INVOICE_TYPES[request.invoice_type], "", "是",
                      "否", request.buyer_name, request.buyer_tax_id,
                      request.buyer_address, request.buyer_phone, request.buyer_bank,
                      request.buyer_account, request.remark, "是" if special else "否",
                      request.email])
        for line in request.lines:
            detail.append([request.serial, request.item_name, request.tax_code, "", "人",
                           line["quantity"], float(Decimal(line["unit_price"])),
                           float(Decimal(line["amount"])), float(_rate_text(request.tax_rate)),
                           None])
    for sheet in (basic, detail):
        for index, column in enumerate(sheet.columns, start=1):
            width = max(len(str(c.value or "")) for c in column) * 2 + 2
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 10), 60)
            # Text columns stay text: a tax ID or an account is not a number to Excel.
            for cell in column[1:]:
                if isinstance(cell.value, str):
                    cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- withdrawal and reversal -----------------------------------------------------------------

def _release(request: InvoiceRequest) -> None:
    for item in db.session.scalars(select(InvoiceRequestItem).where(
            InvoiceRequestItem.request_id == request.id, InvoiceRequestItem.is_current == true())):
        item.is_current = False
    db.session.flush()


def _withdraw(request: InvoiceRequest, reason: str, *, now: datetime) -> None:
    """A request nothing was issued for: withdrawn; its registrations are free again."""
    request.status = "withdrawn"
    request.reverse_reason = reason
    request.reversed_at = now
    _release(request)


def _to_reverse(request: InvoiceRequest, reason: str, *, now: datetime, actor: str) -> None:
    if request.status not in ("issued", "delivered"):
        return
    request.status = "to_reverse"
    request.reverse_reason = reason
    record_audit(actor=actor, action="invoice.to_reverse", object_type="invoice_request",
                 object_id=request.id, event_id=request.event_id,
                 summary=f"发票申请 {request.serial} 待红冲：{reason}")


def registration_undone(registration: Registration, reason: str, *, actor: str) -> None:
    """A registration cancelled, refunded (no longer paid in full) or repriced: a request not
    issued is withdrawn; an issued invoice goes to be reversed. The caller holds the locks."""
    request = current_request(registration)
    if request is None:
        return
    now = utcnow()
    if request.status == "requested":
        _withdraw(request, reason, now=now)
        record_audit(actor=actor, action="invoice.withdrawn", object_type="invoice_request",
                     object_id=request.id, event_id=request.event_id,
                     registration_id=registration.id,
                     summary=f"撤回发票申请 {request.serial}：{reason}（如已在税务平台开具，"
                             "上传后将待核对）")
    else:
        _to_reverse(request, reason, now=now, actor=actor)


def record_reversal(request_id: int, red_number: str, *, actor: str,
                    red_file: FileStorage | None = None, issued_on: date | None = None) -> IssuedInvoice:
    """Finance records the red-letter invoice (红字发票) that reverses an issued invoice."""
    request, _event = _locked(InvoiceRequest, request_id, "没有这张发票申请。",
                              lambda r: r.event_id)
    if request.status != "to_reverse":
        raise ServiceError("这张发票不在待红冲状态。")
    number = re.sub(r"\s", "", red_number or "")
    if not re.fullmatch(r"\d{20}", number):
        raise ServiceError("红字发票号码为 20 位数字。", field="number")
    if db.session.scalar(select(IssuedInvoice.id).where(IssuedInvoice.number == number)):
        raise ServiceError(f"发票号码 {number} 已登记过。", field="number")
    blue = _blue_invoice_of([request.id]).get(request.id)
    stored = None
    if red_file is not None and red_file.filename:
        data = red_file.read()
        kind = invoice_files.sniff_invoice_kind(data)
        if kind not in ("pdf", "ofd", "xml"):
            raise ServiceError("红字发票文件须为税务平台下载的 PDF、OFD 或 XML。", field="file")
        try:
            parsed = invoice_files.read_invoice_file(red_file.filename, data)
        except invoice_files.InvoiceFileRefused as error:
            raise ServiceError(error.message, field="file") from None
        if parsed.facts is not None and parsed.facts.number and parsed.facts.number != number:
            raise ServiceError(f"文件中的发票号码为 {parsed.facts.number}，与填写的不符。",
                               field="number")
        stored = store_file(data, kind, red_file.filename, field="file", label="红字发票文件")
    now = utcnow()
    red = IssuedInvoice(
        event_id=request.event_id, number=number, red=True,
        original_number=blue.number if blue else "", issued_on=issued_on,
        buyer_name=request.buyer_name, buyer_tax_id=request.buyer_tax_id,
        invoice_type=request.invoice_type, total=-request.total, status="attached",
        request_id=request.id, source="manual", resolved_by=actor, created_at=now,
        reason="财务登记红字发票")
    if stored is not None:
        setattr(red, f"{stored.kind}_file_id", stored.id)
    db.session.add(red)
    request.status, request.reversed_at = "reversed", now
    _release(request)
    record_audit(actor=actor, action="invoice.reversed", object_type="invoice_request",
                 object_id=request.id, event_id=request.event_id,
                 summary=f"登记红字发票 {number}，冲销 {blue.number if blue else request.serial}"
                         f"（{request.reverse_reason}）；如需重开，报名回到“可开票”")
    return red


# --- the issued files come back ----------------------------------------------------------------

def upload_invoices(event: Event, storage: FileStorage | None, *, actor: str,
                    user_id: int | None = None) -> InvoiceUpload:
    """Check and store an upload from the platform (a file or a zip) and start reading it."""
    if storage is None or not storage.filename:
        raise UploadRefused("请选择税务平台下载的发票文件（PDF、OFD、XML，或它们的 .zip 压缩包）。",
                            "file")
    data = storage.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"文件超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB，请分几次上传。",
                            "file")
    kind = invoice_files.sniff_invoice_kind(data)
    if kind not in UPLOAD_KINDS:
        raise UploadRefused("这不是税务平台下载的发票文件：请上传 PDF、OFD、XML 格式的电子发票，"
                            "或把它们打成 .zip 压缩包上传。", "file")
    begin_write(db.session)
    stored = store_file(data, kind, storage.filename, field="file", label="发票文件")
    upload = InvoiceUpload(event_id=event.id, file_id=stored.id, filename=stored.original_name,
                           status="queued", uploaded_by=actor, created_at=utcnow())
    db.session.add(upload)
    db.session.flush()
    job = start_job("invoice_files", event=event, params={"upload_id": upload.id},
                    actor=actor, user_id=user_id)
    upload.job_id = job.id
    record_audit(actor=actor, action="invoice.uploaded", object_type="invoice_upload",
                 object_id=upload.id, event_id=event.id,
                 summary=f"上传已开具发票文件 {stored.original_name}（{stored.size:,} 字节）")
    return upload


def _request_facts(requests: list[InvoiceRequest]) -> list:
    """What matching compares of the event's open requests."""
    requests = [r for r in requests if r.status in OPEN_REQUEST_STATUSES]
    blue = _blue_invoice_of([r.id for r in requests])
    return [invoice_matching.RequestFacts(
        id=r.id, event_id=r.event_id,
        codes=tuple(item.registration.code for item in r.items if item.is_current),
        buyer_name=r.buyer_name, buyer_tax_id=r.buyer_tax_id, total=Decimal(r.total),
        invoice_type=r.invoice_type,
        issued_number=blue[r.id].number if r.id in blue else "")
        for r in requests]


def read_invoice_upload(upload: InvoiceUpload, progress: Progress) -> str:
    """The worker's job: read every file, match, attach and deliver what agrees exactly."""
    from .uploads import read_file

    data = read_file(upload.file)
    name = upload.filename
    progress(0, 1, "读取发票文件")
    reading = invoice_files.read_upload(
        name, data, progress=lambda done, total: progress(done, total, "读取发票文件"))
    db.session.commit()  # reading took a while: nothing of ours is held open
    begin_write(db.session)
    upload = db.session.get(InvoiceUpload, upload.id, populate_existing=True)
    event = lock_event(upload.event_id)
    numbers = [document.number for document in reading.documents]
    # An invoice attached or held is a duplicate; one set aside (unmatched or rejected, maybe
    # uploaded on the wrong event's page) is taken up again by this upload.
    known = set(db.session.scalars(select(IssuedInvoice.number).where(
        IssuedInvoice.number.in_(numbers),
        IssuedInvoice.status.not_in(SET_ASIDE)))) if numbers else set()
    requests = {r.id: r for r in db.session.scalars(
        select(InvoiceRequest).options(selectinload(InvoiceRequest.items)
                                       .selectinload(InvoiceRequestItem.registration))
        .where(InvoiceRequest.event_id == event.id).order_by(InvoiceRequest.id)
        .with_for_update())}
    matches = invoice_matching.match_documents(
        reading.documents, _request_facts(list(requests.values())),
        known_numbers=frozenset(known))
    results, counts = [], Counter()
    for document, match in zip(reading.documents, matches):
        message = match.reason
        if match.outcome == "duplicate":
            counts["duplicate"] += 1
        else:
            invoice = _store_issued(upload, event, document, match)
            request = requests.get(match.request_id) if match.request_id else None
            if match.outcome == "exact" and request.status != "requested":
                # The request has its invoice already (or was withdrawn): a person looks.
                invoice.status, invoice.proposed_request_id = "held", request.id
                invoice.reason = f"申请 {request.serial} 已{request.status_label}，不能再匹配新发票"
                counts["held"] += 1
                message = invoice.reason
            elif match.outcome == "exact":
                _attach(invoice, request, actor=upload.uploaded_by)
                counts["attached"] += 1
                message = f"已匹配 {request.serial}（{request.buyer_name}），" + (
                    f"已发送至 {request.email}" if request.email else "待发送")
            elif match.outcome == "red":
                whole = request is not None and document.facts.total == -Decimal(request.total)
                if request is not None and request.status == "to_reverse" and whole:
                    invoice.status, invoice.request_id = "attached", request.id
                    request.status, request.reversed_at = "reversed", utcnow()
                    _release(request)
                    counts["red"] += 1
                    message = f"红字发票，已冲销申请 {request.serial}（{request.buyer_name}）"
                else:
                    invoice.status = "held"
                    invoice.proposed_request_id = request.id if request else None
                    invoice.reason = (
                        "红字发票：找不到被冲销的蓝字发票" if request is None
                        else "红字发票：对应的发票申请不在“待红冲”状态，请核对"
                        if request.status != "to_reverse"
                        else f"红字发票金额 {document.facts.total or 0:,.2f} 元与原发票 "
                             f"{request.total:,.2f} 元不符（部分冲销？），请核对")
                    counts["held"] += 1
                    message = invoice.reason
            else:
                counts[match.outcome] += 1
        results.append({"name": ", ".join(f.name for f in document.files),
                        "number": document.number, "outcome": match.outcome,
                        "message": message, "differences": list(match.differences)})
    for bad_name, error in reading.unreadable:
        results.append({"name": bad_name, "number": "", "outcome": "unreadable",
                        "message": error, "differences": []})
        counts["unreadable"] += 1
    counts["invoices"] = len(reading.documents)
    upload.results, upload.counts, upload.status = results, dict(counts), "done"
    record_audit(actor=upload.uploaded_by, action="invoice.upload_read",
                 object_type="invoice_upload", object_id=upload.id, event_id=event.id,
                 summary=upload_summary(upload))
    return upload_summary(upload)


OUTCOME_LABELS = {"attached": "已匹配并发送", "exact": "已匹配", "held": "待核对",
                  "unmatched": "未匹配", "duplicate": "重复上传", "red": "红字发票",
                  "unreadable": "无法读取"}


def upload_summary(upload: InvoiceUpload) -> str:
    counts = upload.counts or {}
    parts = [f"{counts.get('invoices', 0)} 张发票"]
    for key in ("attached", "held", "unmatched", "red", "duplicate", "unreadable"):
        if counts.get(key):
            parts.append(f"{OUTCOME_LABELS[key]} {counts[key]}")
    return "，".join(parts)


SET_ASIDE = ("unmatched", "rejected")


def _store_issued(upload: InvoiceUpload, event: Event, document, match) -> IssuedInvoice:
    """The invoice's row: new, or the one of an earlier upload that was set aside, taken up
    again (its number is unique; the audit keeps where it was)."""
    facts = document.facts
    values = dict(
        event_id=event.id, red=facts.red,
        original_number=facts.original_number or "", issued_on=facts.issued_on,
        buyer_name=facts.buyer_name or "", buyer_tax_id=facts.buyer_tax_id or "",
        invoice_type=facts.invoice_type or "", total=facts.total, remark=facts.remark or "",
        source=facts.source, status="held" if match.outcome == "held" else "unmatched",
        proposed_request_id=match.request_id if match.outcome == "held" else None,
        differences=list(match.differences) + list(document.disagreements),
        reason=match.reason, upload_id=upload.id, resolved_by="")
    invoice = db.session.scalar(select(IssuedInvoice).where(
        IssuedInvoice.number == document.number, IssuedInvoice.status.in_(SET_ASIDE))
        .with_for_update())
    if invoice is not None:
        record_audit(actor=upload.uploaded_by, action="invoice.uploaded_again",
                     object_type="issued_invoice", object_id=invoice.id, event_id=event.id,
                     summary=f"发票 {invoice.number} 重新上传（原为{invoice.status_label}，"
                             f"活动 {invoice.event_id}：{invoice.reason}）")
        for name, value in values.items():
            setattr(invoice, name, value)
    else:
        invoice = IssuedInvoice(number=document.number, created_at=utcnow(), **values)
        db.session.add(invoice)
    for file in document.files:
        stored = store_file(file.data, file.kind, file.name, label="发票文件")
        setattr(invoice, f"{file.kind}_file_id", stored.id)
    db.session.flush()
    return invoice


def _attach(invoice: IssuedInvoice, request: InvoiceRequest, *, actor: str) -> None:
    """Attach a blue invoice to its request and send it to the unit's invoice address."""
    now = utcnow()
    invoice.status, invoice.request_id, invoice.proposed_request_id = "attached", request.id, None
    request.status, request.issued_at = "issued", now
    db.session.flush()
    record_audit(actor=actor, action="invoice.attached", object_type="invoice_request",
                 object_id=request.id, event_id=request.event_id,
                 summary=f"发票 {invoice.number} 匹配申请 {request.serial}（{request.buyer_name}，"
                         + (f"价税合计 {invoice.total:,.2f} 元）" if invoice.total is not None
                            else "价税合计未能读出，经人工确认）"))
    deliver(invoice, request, actor=actor)


def deliver(invoice: IssuedInvoice, request: InvoiceRequest, *, actor: str) -> None:
    """Mail the invoice's file to the address the unit gave for it."""
    if not request.email or invoice.main_file is None:
        return
    registrations = [item.registration for item in request.items]
    event = request.event
    file = invoice.main_file
    queue_mail("invoice_delivered", request.email,
               registration=registrations[0] if len(registrations) == 1 else None,
               context={"request": request, "invoice": invoice, "event": event,
                        "registrations": registrations},
               attachment=file, attachment_name=f"电子发票_{invoice.number}.{file.extension}")
    request.status, request.delivered_at = "delivered", utcnow()
    record_audit(actor=actor, action="invoice.delivered", object_type="invoice_request",
                 object_id=request.id, event_id=request.event_id,
                 summary=f"发票 {invoice.number} 已发送至 {request.email}")


def resolve_held(invoice_id: int, request_id: int | None, *, accept: bool, note: str,
                 actor: str) -> IssuedInvoice:
    """A person decides a held or unmatched invoice: attach it to a request (then it is
    delivered) or set it aside (退回) with a note."""
    invoice, _event = _locked(IssuedInvoice, invoice_id, "没有这张发票。", lambda i: i.event_id)
    if invoice.status not in ("held", "unmatched"):
        raise ServiceError("这张发票已处理过。")
    invoice.resolved_by = actor
    if not accept:
        invoice.status = "rejected"
        invoice.reason = (note or "").strip()[:500] or "财务退回"
        record_audit(actor=actor, action="invoice.rejected", object_type="issued_invoice",
                     object_id=invoice.id, event_id=invoice.event_id,
                     summary=f"发票 {invoice.number} 未采用：{invoice.reason}")
        return invoice
    request = db.session.get(InvoiceRequest, request_id, with_for_update=True) \
        if request_id else None
    if request is None or request.event_id != invoice.event_id:
        raise ServiceError("请选择本活动的发票申请。", field="request_id")
    if invoice.red:
        if request.status != "to_reverse":
            raise ServiceError("该申请不在“待红冲”状态。", field="request_id")
        invoice.status, invoice.request_id = "attached", request.id
        request.status, request.reversed_at = "reversed", utcnow()
        _release(request)
        record_audit(actor=actor, action="invoice.reversed", object_type="invoice_request",
                     object_id=request.id, event_id=request.event_id,
                     summary=f"红字发票 {invoice.number} 冲销申请 {request.serial}（人工确认）")
        return invoice
    if request.status != "requested":
        raise ServiceError(f"申请 {request.serial} 已{request.status_label}，不能再匹配发票。",
                           field="request_id")
    record_audit(actor=actor, action="invoice.confirmed", object_type="issued_invoice",
                 object_id=invoice.id, event_id=invoice.event_id,
                 summary=f"人工确认发票 {invoice.number} 属于申请 {request.serial}"
                         + (f"（差异：{'；'.join(invoice.differences)}）" if invoice.differences
                            else "") + (f"；{note.strip()}" if note and note.strip() else ""))
    _attach(invoice, request, actor=actor)
    return invoice


def open_requests(event: Event) -> list[InvoiceRequest]:
    return list(db.session.scalars(select(InvoiceRequest).where(
        InvoiceRequest.event_id == event.id, InvoiceRequest.status.in_(("requested", "to_reverse")))
        .order_by(InvoiceRequest.id)))


@job_kind("invoice_files", "读取已开具发票")
def _invoice_job(job: Job, progress: Progress) -> JobOutcome:
    import json

    upload = db.session.get(InvoiceUpload, json.loads(job.params)["upload_id"])
    try:
        summary = read_invoice_upload(upload, progress)
    except invoice_files.InvoiceFileRefused as error:
        db.session.rollback()
        begin_write(db.session)
        upload = db.session.get(InvoiceUpload, upload.id, populate_existing=True)
        upload.status, upload.error = "failed", error.message
        db.session.commit()
        return JobOutcome(summary=error.message)
    return JobOutcome(summary=summary)


# --- what the unit sees ------------------------------------------------------------------------

@dataclass
class UnitInvoiceStatus:
    label: str
    detail: str
    invoice: IssuedInvoice | None = None
    change: InvoiceChange | None = None
    last_decided: InvoiceChange | None = None
    missing: list[str] = field(default_factory=list)


def unit_status(registration: Registration, received: Decimal) -> UnitInvoiceStatus:
    """Where the unit's invoice is, in the words its page and mails use."""
    change = pending_change(registration)
    decided = db.session.scalar(select(InvoiceChange).where(
        InvoiceChange.registration_id == registration.id, InvoiceChange.status != "pending")
        .order_by(InvoiceChange.id.desc()).limit(1))
    request = current_request(registration)
    if request is None:
        missing = missing_details(registration)
        if not registration.is_active:
            return UnitInvoiceStatus("不开票", "报名已取消。", change=change, last_decided=decided)
        if missing:
            return UnitInvoiceStatus("开票信息待补充", "请补充：" + "、".join(missing) + "。",
                                     missing=missing, change=change, last_decided=decided)
        if received < Decimal(registration.total_amount):
            return UnitInvoiceStatus("开票信息已齐全", "款项缴清后，财务将为贵单位申请开具电子发票。",
                                     change=change, last_decided=decided)
        return UnitInvoiceStatus("待开票", "款项已缴清，财务将尽快申请开具电子发票。",
                                 change=change, last_decided=decided)
    invoice = _blue_invoice_of([request.id]).get(request.id)
    if request.status == "requested":
        return UnitInvoiceStatus("已申请开票", f"财务已按“{request.buyer_name}”申请开具电子发票。",
                                 change=change, last_decided=decided)
    if request.status == "to_reverse":
        return UnitInvoiceStatus("发票待红冲", "原发票将作红字冲销" + (
            "，随后按新信息重开。" if registration.is_active else "。"),
            invoice=invoice, change=change, last_decided=decided)
    if request.status == "delivered":
        # Merged with other units' registrations, the invoice went to the address they share
        # (see _buyer_key); another unit's address is never shown here.
        own = (registration.invoice_email or "").strip().lower() == request.email.lower()
        return UnitInvoiceStatus("发票已开具", "发票已开具，已发送至 "
                                 + (request.email if own else "合并开票的接收邮箱")
                                 + "，也可在此下载。", invoice=invoice, change=change,
                                 last_decided=decided)
    return UnitInvoiceStatus("发票已开具", "发票已开具，可在此下载。", invoice=invoice,
                             change=change, last_decided=decided)


def invoices_of(registration: Registration) -> list[IssuedInvoice]:
    """Every invoice (blue and red) of requests that covered this registration."""
    request_ids = select(InvoiceRequestItem.request_id).where(
        InvoiceRequestItem.registration_id == registration.id)
    return list(db.session.scalars(select(IssuedInvoice).where(
        IssuedInvoice.request_id.in_(request_ids), IssuedInvoice.status == "attached")
        .order_by(IssuedInvoice.id)))


def unit_invoice_file(registration: Registration, invoice_id: int, kind: str) -> StoredFile | None:
    """The file of one of the unit's own invoices, or None (never another unit's)."""
    invoice = next((i for i in invoices_of(registration) if i.id == invoice_id), None)
    if invoice is None or kind not in ("pdf", "ofd", "xml"):
        return None
    return getattr(invoice, f"{kind}_file")


def money_quantize(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
