"""The registrations desk: an event's registrations listed, filtered and exported; staff
actions on one registration (substitute an attendee, cancel, extend the deadline, edit the unit).

The payment status of a registration is services.money's rule, computed in SQL, so that
filtering, counting and paging happen in the database and the list costs the same number of
queries at 100 attendees as at 10,000.
"""
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from sqlalchemy import and_, case, exists, false, func, not_, or_, select
from sqlalchemy.orm import selectinload

from ..checks import normalize_mobile
from ..extensions import db
from ..models import Attendee, AuditEntry, Event, Payment, Registration
from ..models.registrations import ACCOMMODATIONS, DIETS, GENDERS, INVOICE_TYPES
from ..notifications import queue_mail
from ..timeutil import CHINA
from . import ServiceError
from .audit import diff, record_audit
from .money import (PAYMENT_STATUSES, Balance, MoneyColumns, expected_amount, money_columns,
                    received_amount, to_money)
from .finance import void_active_receipt
from .registrations import (FIELD_LABELS, extend_until, lock_registration,
                            refuse_cancel_while_held, withdraw_cancelled_material)
from .materials import materials_missing_condition

PAGE_SIZE = 50

# The list's filters, in the order the page shows them (their names are the pages' URLs).
FILTERS = {
    "pending": "会员价待核实",
    "unpaid": PAYMENT_STATUSES["unpaid"],
    "partial": PAYMENT_STATUSES["partly_paid"],
    "paid": PAYMENT_STATUSES["paid"],  # over_paid included: settled
    "overdue": "逾期未缴",
    "materials_missing": "未交材料",
    "cancelled": "已取消",
}

# What staff may correct in a unit's details; the tier belongs to the members desk.
UNIT_EDIT_FIELDS = ("unit_name", "province", "city", "address", "contact_name",
                    "contact_mobile", "contact_email")
# A substitute brings their own person; the place (room, dates) and the fee stay.
PERSON_FIELDS = ("name", "gender", "ethnicity", "title", "mobile", "email", "id_number", "diet",
                 "remarks")


def _filter_condition(name: str | None, money: MoneyColumns, event: Event, today: date):
    active = Registration.status == "active"
    if name == "cancelled":
        return Registration.status == "cancelled"
    if name == "pending":
        return and_(active, Registration.tier_status == "member_pending")
    if name == "unpaid":
        return and_(active, money.status == "unpaid")
    if name == "partial":
        return and_(active, money.status == "partly_paid")
    if name == "paid":
        return and_(active, money.settled)  # paid, or paid too much
    if name == "overdue":
        if today <= event.payment_due:
            return false()  # nobody is late before the due date has passed
        return and_(active, not_(money.settled))
    if name == "materials_missing":
        return materials_missing_condition(event)
    return active


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_condition(query: str):
    """Unit name, contact or attendee name, a mobile (any part of it), or the code."""
    term = " ".join(query.split())
    if not term:
        return None
    like = _like(term)
    digits = normalize_mobile(term)
    conditions = [
        Registration.unit_name.ilike(like, escape="\\"),
        Registration.contact_name.ilike(like, escape="\\"),
        Registration.code.ilike(_like(term.upper()), escape="\\"),
    ]
    person = [Attendee.name.ilike(like, escape="\\")]
    if digits.isdigit() and len(digits) >= 4:
        conditions.append(Registration.contact_mobile.like(_like(digits), escape="\\"))
        person.append(Attendee.mobile.like(_like(digits), escape="\\"))
    conditions.append(exists().where(Attendee.registration_id == Registration.id, or_(*person)))
    return or_(*conditions)


@dataclass
class RegistrationRow:
    """A registration with its money, as the list and the exports show it."""

    registration: Registration
    money: Balance
    overdue: bool = False

    @property
    def expected(self) -> Decimal:
        return self.money.expected

    @property
    def paid(self) -> Decimal:
        return self.money.received

    @property
    def balance(self) -> Decimal:
        return self.money.outstanding

    @property
    def payment_status(self) -> str:
        return self.money.status

    @property
    def payment_status_label(self) -> str:
        return self.money.status_label


@dataclass
class RegistrationCounts:
    units: int
    attendees: int
    by_filter: dict


@dataclass
class RegistrationPage:
    rows: list[RegistrationRow]
    total: int
    page: int
    pages: int
    counts: RegistrationCounts


def _row(event: Event, today: date, registration: Registration, money: Balance) -> RegistrationRow:
    overdue = registration.is_active and today > event.payment_due and not money.settled
    return RegistrationRow(registration, money, overdue)


def count_registrations(event: Event, today: date) -> RegistrationCounts:
    """Units and attendees of active registrations, and how many each filter would show."""
    money = money_columns(event.id)
    sums = [func.coalesce(func.sum(case((_filter_condition(name, money, event, today), 1),
                                        else_=0)), 0).label(name)
            for name in FILTERS]
    row = db.session.execute(
        money.join(select(func.count(Registration.id).filter(Registration.status == "active"),
                          *sums).select_from(Registration))
        .where(Registration.event_id == event.id)
    ).one()
    attendees = db.session.scalar(
        select(func.count(Attendee.id)).join(Registration)
        .where(Attendee.event_id == event.id, Registration.status == "active"))
    return RegistrationCounts(units=row[0], attendees=attendees,
                              by_filter={name: int(row[i + 1]) for i, name in enumerate(FILTERS)})


def list_registrations(event: Event, *, today: date, filter_name: str | None = None,
                       query: str = "", page: int = 1) -> RegistrationPage:
    """One page of the event's registrations, filtered and searched in the database."""
    money = money_columns(event.id)
    where = [Registration.event_id == event.id,
             _filter_condition(filter_name if filter_name in FILTERS else None, money, event,
                               today)]
    search = _search_condition(query)
    if search is not None:
        where.append(search)

    def joined(statement):
        return money.join(statement).where(*where)

    total = db.session.scalar(joined(select(func.count(Registration.id))
                                     .select_from(Registration)))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    result = db.session.execute(
        joined(select(Registration, money.expected, money.received))
        .order_by(Registration.created_at.desc(), Registration.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        .options(selectinload(Registration.attendees))  # one query for the whole page
    ).all()
    rows = [_row(event, today, r, Balance(to_money(expected), to_money(received)))
            for r, expected, received in result]
    return RegistrationPage(rows=rows, total=total, page=page, pages=pages,
                            counts=count_registrations(event, today))


# --- one registration ---------------------------------------------------------------------

@dataclass
class FeeLine:
    label: str
    unit_price: Decimal
    quantity: int

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class RegistrationFile:
    """Everything the registration's page shows."""

    registration: Registration
    row: RegistrationRow
    fee_lines: list[FeeLine]
    payments: list[Payment]
    history: list[AuditEntry]


def registration_file(registration: Registration, today: date) -> RegistrationFile:
    """Assemble a registration's page: money, fee lines, payments and history."""
    event = registration.event
    payments = db.session.scalars(
        select(Payment).where(Payment.registration_id == registration.id)
        .order_by(Payment.received_on, Payment.id)).all()
    money = Balance(expected_amount(registration), received_amount(registration))
    counted: dict[Decimal, int] = {}
    for attendee in registration.attendees:
        counted[attendee.fee] = counted.get(attendee.fee, 0) + 1
    lines = [FeeLine(f"参会费（{registration.tier_status_label}）", price, quantity)
             for price, quantity in counted.items()]
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.registration_id == registration.id)
        .order_by(AuditEntry.at, AuditEntry.id)).all()
    return RegistrationFile(
        registration=registration,
        row=_row(event, today, registration, money),
        fee_lines=lines, payments=list(payments), history=list(history))


def _notify_changed(registration: Registration, event: Event, notes: list[str],
                    addresses: list[str]) -> None:
    for address in dict.fromkeys(addresses):
        queue_mail("registration_changed", address, registration=registration,
                   context={"registration": registration, "event": event, "notes": notes})


def substitute_attendee(registration: Registration, attendee_id: int, person: dict, *,
                        today: date, now: datetime, actor: str) -> Attendee:
    """Put another person in an attendee's place (换人), keeping the place and the fee."""
    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消，不能换人。")
    if today > event.ends_on:
        raise ServiceError("活动已结束，不能再换人。")
    attendee = next((a for a in registration.attendees if a.id == attendee_id), None)
    if attendee is None:
        raise ServiceError("请选择本报名中要替换的参会人员。", field="attendee_id")
    before = {name: getattr(attendee, name) for name in PERSON_FIELDS}
    after = {name: person.get(name) or "" for name in PERSON_FIELDS}
    after["name"] = after["name"].strip()
    after["mobile"] = normalize_mobile(after["mobile"])
    after["id_number"] = after["id_number"].strip().upper()
    after["diet"] = after["diet"] or "none"
    if after["name"] == before["name"]:
        raise ServiceError("替换人员与原参会人员同名；如只是修改信息，请填写不同的人。",
                           field="name")
    for name, value in after.items():
        setattr(attendee, name, value)
    registration.updated_at = now
    note = f"换人：{before['name']} → {after['name']}"
    record_audit(actor=actor, action="attendee.substituted", object_type="attendee",
                 object_id=attendee.id, event_id=event.id, registration_id=registration.id,
                 summary=f"{note}（费用 {attendee.fee:,.2f} 元不变）",
                 changes={f"attendee:{attendee.id}": diff(before, after)})
    _notify_changed(registration, event, [note], [registration.contact_email])
    return attendee


def cancel_by_staff(registration: Registration, reason: str, *, now: datetime,
                    actor: str) -> None:
    """Cancel a registration for the unit; refused while money paid for it is not refunded."""
    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消。")
    reason = reason.strip()
    if not reason:
        raise ServiceError("请填写取消原因。", field="reason")
    refuse_cancel_while_held(registration)
    registration.cancel(now)
    void_active_receipt(registration, "报名已取消", actor=actor, now=now)
    withdraw_cancelled_material(registration, now=now, actor=actor)
    from .invoices import registration_undone  # invoices imports the registrations service

    registration_undone(registration, "报名已取消", actor=actor)
    record_audit(actor=actor, action="registration.cancelled", object_type="registration",
                 object_id=registration.id, event_id=event.id, registration_id=registration.id,
                 summary=f"会务组取消报名（{len(registration.attendees)} 人，原应缴 "
                         f"{registration.total_amount:,.2f} 元）。原因：{reason}",
                 changes={"status": ["active", "cancelled"], "reason": [None, reason]})
    queue_mail("registration_cancelled", registration.contact_email, registration=registration,
               context={"registration": registration, "event": event})


def extend_deadline(registration: Registration, until: date | None, *, today: date,
                    now: datetime, actor: str) -> None:
    """Let the unit change its attendees after the registration deadline, until a day."""
    extend_until(registration, "deadline_extended_until", until, today=today, now=now,
                 actor=actor, action="registration.deadline_extended",
                 granted="允许逾期修改参会人员", revoked="撤销逾期修改许可")


def update_unit_details(registration: Registration, values: dict, *, now: datetime,
                        actor: str) -> list[str]:
    """Correct the unit's name, place and contact; return the labels of what changed."""
    registration, event = lock_registration(registration)
    before = {name: getattr(registration, name) for name in UNIT_EDIT_FIELDS}
    after = {name: (values.get(name) or "").strip() for name in UNIT_EDIT_FIELDS}
    after["contact_mobile"] = normalize_mobile(after["contact_mobile"])
    changes = diff(before, after)
    if not changes:
        return []
    for name, value in after.items():
        setattr(registration, name, value)
    registration.updated_at = now
    labels = [FIELD_LABELS[name] for name in UNIT_EDIT_FIELDS if name in changes]
    record_audit(actor=actor, action="registration.unit_updated", object_type="registration",
                 object_id=registration.id, event_id=event.id, registration_id=registration.id,
                 summary="会务组修改单位信息：" + "、".join(labels), changes=changes)
    _notify_changed(registration, event, ["修改单位信息：" + "、".join(labels)],
                    [before["contact_email"], registration.contact_email])
    return labels


# --- Excel exports ------------------------------------------------------------------------

def _china(value: datetime | None) -> datetime | None:
    # Excel has no time zones: write China wall-clock time.
    return value.astimezone(CHINA).replace(tzinfo=None) if value else None


REGISTRATION_COLUMNS = [
    ("报名编号", 11), ("状态", 8), ("单位名称", 34), ("单位类别", 30), ("收费类别", 16),
    ("统一社会信用代码", 21), ("省份", 12), ("城市", 12), ("通讯地址", 30),
    ("联系人", 10), ("联系人手机", 14), ("联系人邮箱", 26), ("人数", 6), ("参会人员", 30),
    ("应缴（元）", 12), ("已缴（元）", 12), ("未缴（元）", 12), ("缴费状态", 10), ("逾期未缴", 9),
    ("发票抬头", 34), ("纳税人识别号", 21), ("发票类型", 16), ("发票内容", 12),
    ("接收发票邮箱", 26), ("允许逾期修改至", 14), ("报名时间", 17), ("取消时间", 17),
]
# The invoice details are finance's (and admin's): the staff's copy of the list leaves them out.
INVOICE_COLUMN_NAMES = frozenset({"发票抬头", "纳税人识别号", "发票类型", "发票内容", "接收发票邮箱"})


def registration_columns(with_invoice: bool) -> list[tuple[str, int]]:
    return [c for c in REGISTRATION_COLUMNS if with_invoice or c[0] not in INVOICE_COLUMN_NAMES]
ATTENDEE_COLUMNS = [
    ("报名编号", 11), ("报名状态", 8), ("序号", 5), ("姓名", 10), ("性别", 5), ("民族", 8),
    ("职务/职称", 18), ("手机", 14), ("邮箱", 24), ("身份证号", 20), ("住宿", 8),
    ("到达日期", 11), ("离开日期", 11), ("饮食", 10), ("备注", 24), ("费用（元）", 11),
    ("单位名称", 34), ("单位类别", 30), ("收费类别", 16), ("省份", 12), ("城市", 12),
    ("联系人", 10), ("联系人手机", 14), ("联系人邮箱", 26), ("缴费状态", 10), ("逾期未缴", 9),
    ("报名时间", 17),
]


def _export_rows(event: Event, today: date) -> list[RegistrationRow]:
    money = money_columns(event.id)
    result = db.session.execute(
        money.join(select(Registration, money.expected, money.received))
        .where(Registration.event_id == event.id)
        .order_by(Registration.created_at, Registration.id)
        .options(selectinload(Registration.attendees))
    ).all()
    return [_row(event, today, r, Balance(to_money(expected), to_money(received)))
            for r, expected, received in result]


def _state(registration: Registration) -> str:
    return "有效" if registration.is_active else "已取消"


def registration_sheet_rows(event: Event, today: date, *, with_invoice: bool = True) -> list[list]:
    """One row per registration, mobiles in full: an internal working file."""
    rows = []
    keep = [c[0] not in INVOICE_COLUMN_NAMES or with_invoice for c in REGISTRATION_COLUMNS]
    for row in _export_rows(event, today):
        r = row.registration
        rows.append([value for value, kept in zip([
            r.code, _state(r), r.unit_name, r.tier_claim_label, r.tier_status_label,
            r.credit_code or "", r.province, r.city, r.address, r.contact_name,
            r.contact_mobile, r.contact_email, len(r.attendees),
            "、".join(a.name for a in r.attendees),
            row.expected, row.paid, row.balance, row.payment_status_label,
            "是" if row.overdue else "",
            r.invoice_title, r.invoice_taxpayer_id, INVOICE_TYPES.get(r.invoice_type, ""),
            r.invoice_content, r.invoice_email, r.deadline_extended_until,
            _china(r.created_at), _china(r.cancelled_at),
        ], keep) if kept])
    return rows


def attendee_sheet_rows(event: Event, today: date) -> list[list]:
    """One row per attendee with their unit's details, mobiles and ID numbers in full."""
    rows = []
    for row in _export_rows(event, today):
        r = row.registration
        for position, a in enumerate(r.attendees, start=1):
            rows.append([
                r.code, _state(r), position, a.name, GENDERS.get(a.gender, a.gender),
                a.ethnicity, a.title, a.mobile, a.email, a.id_number,
                ACCOMMODATIONS.get(a.accommodation, a.accommodation), a.arrival_on,
                a.departure_on, DIETS.get(a.diet, a.diet), a.remarks, a.fee,
                r.unit_name, r.tier_claim_label, r.tier_status_label, r.province, r.city,
                r.contact_name, r.contact_mobile, r.contact_email, row.payment_status_label,
                "是" if row.overdue else "", _china(r.created_at),
            ])
    return rows


def render_sheet(title: str, columns: list[tuple[str, int]], rows: list[list]) -> bytes:
    """An .xlsx workbook: bold frozen header row, autofilter, set widths, typed cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)  # streams rows: 10,000 attendees stay cheap
    sheet = workbook.create_sheet(title)
    for index, (_label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2E6E6")
    header = []
    for label, _width in columns:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font, cell.fill = bold, fill
        header.append(cell)
    sheet.append(header)
    formats = {date: "yyyy-mm-dd", datetime: "yyyy-mm-dd hh:mm", Decimal: "#,##0.00"}
    for values in rows:
        row = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # What a unit typed is text, never a formula ("=HYPERLINK(...)" stays literal).
                cell.data_type = "s"
            number_format = formats.get(type(value))
            if number_format:
                cell.number_format = number_format
            row.append(cell)
        sheet.append(row)
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()
