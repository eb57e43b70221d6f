"""Registering a unit and its attendees, changing and cancelling a registration."""
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import bindparam, exists, func, insert, or_, select
from sqlalchemy.orm import joinedload

from ..checks import new_registration_code, normalize_credit_code, normalize_mobile
from ..database import begin_write
from ..extensions import db
from ..models import Attendee, Certificate, Event, MemberUnit, Receipt, Registration, Submission
from ..models.registrations import MEMBER_CLAIMS, TIER_STATUSES, hash_token
from ..notifications import queue_mail, queue_mail_row
from ..timeutil import format_date_cn
from . import DuplicateSubmission, ServiceError
from .audit import diff, insert_audit, record_audit
from .members import find_member, keep_rejection
from .money import refuse_while_money_held


@dataclass
class UnitDetails:
    unit_name: str
    tier_claim: str
    province: str
    city: str
    contact_name: str
    contact_mobile: str
    contact_email: str
    address: str = ""
    credit_code: str = ""
    credit_code_confirmed: bool = False
    invoice_title: str = ""
    invoice_taxpayer_id: str = ""
    invoice_type: str = "ordinary"
    invoice_content: str = ""
    invoice_email: str = ""
    invoice_buyer_address: str = ""
    invoice_buyer_phone: str = ""
    invoice_buyer_bank: str = ""
    invoice_buyer_account: str = ""
    invoice_together: bool = False


@dataclass
class AttendeeDetails:
    name: str
    gender: str
    title: str
    mobile: str
    accommodation: str
    arrival_on: date
    departure_on: date
    ethnicity: str = ""
    email: str = ""
    id_number: str = ""
    diet: str = "none"
    remarks: str = ""
    id: int | None = field(default=None, compare=False)


@dataclass
class FeeQuote:
    """The price per attendee for a unit, and the registry entry that justified it."""

    tier_status: str
    unit_price: Decimal
    member_unit: MemberUnit | None = None


INVOICE_FIELDS = ("invoice_title", "invoice_taxpayer_id", "invoice_type", "invoice_content",
                  "invoice_email", "invoice_buyer_address", "invoice_buyer_phone",
                  "invoice_buyer_bank", "invoice_buyer_account", "invoice_together")
SPECIAL_INVOICE_FIELDS = ("invoice_buyer_address", "invoice_buyer_phone", "invoice_buyer_bank",
                          "invoice_buyer_account")
UNIT_FIELDS = ("unit_name", "tier_claim", "credit_code", "credit_code_confirmed", "province",
               "city", "address", "contact_name", "contact_mobile", "contact_email")
ATTENDEE_FIELDS = ("name", "gender", "ethnicity", "title", "mobile", "email", "id_number",
                   "accommodation", "arrival_on", "departure_on", "diet", "remarks")


def quote_fee(event: Event, tier_claim: str, unit_name: str, credit_code: str,
              today: date) -> FeeQuote:
    """Price one attendee: member claims matched in the registry, unmatched ones pending."""
    if event.is_free:
        return FeeQuote("standard", Decimal("0"))
    member_tier, standard_tier = event.tier(True), event.tier(False)
    if tier_claim not in MEMBER_CLAIMS or member_tier is None:
        return FeeQuote("standard", standard_tier.amount)
    member = find_member(unit_name, credit_code, today)
    if member is not None:
        return FeeQuote("member_verified", member_tier.amount, member_unit=member)
    return FeeQuote("member_pending", member_tier.amount)


@cache
def _lock_event_query(for_registration: bool = False):
    """SELECT the event FOR UPDATE (built once: the statement is the same every time).

    A registration also reads the fee tiers (its price) and the contacts (its confirmation
    mail) under the lock, in the same statement."""
    query = (select(Event).where(Event.id == bindparam("event_id"))
             .with_for_update(of=Event, key_share=True)
             .execution_options(populate_existing=True))
    if for_registration:
        query = query.options(joinedload(Event.fee_tiers), joinedload(Event.contacts))
    return query


def lock_event(event_id: int, *, for_registration: bool = False) -> Event:
    """Begin writing and hold the event's lock until commit, before any check of its seats."""
    begin_write(db.session)  # SQLite: BEGIN IMMEDIATE; PostgreSQL: the FOR UPDATE below
    return db.session.execute(_lock_event_query(for_registration),
                              {"event_id": event_id}).unique().scalar_one()


def lock_with_event(row):
    """Lock the event, then its registration or submission, and read both again before
    checking them; the same order everywhere, so two writers never wait on each other."""
    event = lock_event(row.event_id)
    model = type(row)
    row = db.session.execute(
        select(model).where(model.id == row.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return row, event


def lock_registration(registration: Registration) -> tuple[Registration, Event]:
    """Lock the event, then the registration, and read both again before checking them."""
    return lock_with_event(registration)


def extend_until(registration: Registration, attribute: str, until: date | None, *,
                 today: date, now: datetime, actor: str, action: str, granted: str,
                 revoked: str, later_than: tuple[date, str] | None = None) -> None:
    """Let one unit past a deadline until a day (inclusive), or take that back (until None)."""
    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消，不能延期。")
    if until is not None:
        if until < today:
            raise ServiceError("延期日期不能早于今天。", field="until")
        if later_than is not None and until <= later_than[0]:
            raise ServiceError(f"延期日期应晚于{later_than[1]} {format_date_cn(later_than[0])}。",
                               field="until")
        if until > event.ends_on:
            raise ServiceError(f"延期日期不能晚于活动结束日 {format_date_cn(event.ends_on)}。",
                               field="until")
    before = getattr(registration, attribute)
    if before == until:
        raise ServiceError("延期日期没有变化。", field="until")
    setattr(registration, attribute, until)
    registration.updated_at = now
    record_audit(actor=actor, action=action, object_type="registration",
                 object_id=registration.id, event_id=event.id, registration_id=registration.id,
                 summary=f"{granted}，至 {format_date_cn(until)}（含当日）" if until else revoked,
                 changes=diff({attribute: before}, {attribute: until}))


@cache
def _seats_taken_query():
    return (select(func.count(Attendee.id)).join(Registration)
            .where(Attendee.event_id == bindparam("event_id"), Registration.status == "active"))


def seats_taken(event: Event) -> int:
    """Count attendees of active registrations."""
    return db.session.scalar(_seats_taken_query(), {"event_id": event.id})


def seats_left(event: Event) -> int | None:
    """Places still free, or None for an event without a limit."""
    if not event.capacity:
        return None
    return max(event.capacity - seats_taken(event), 0)


def _check_capacity(event: Event, extra: int) -> None:
    if extra <= 0 or not event.capacity:
        return
    left = event.capacity - seats_taken(event)
    if left <= 0:
        raise ServiceError("本次活动名额已满，报名已停止。如有疑问请联系会务组。")
    if extra > left:
        raise ServiceError(f"名额不足：目前仅剩 {left} 个名额，请减少参会人数或联系会务组。",
                           field="attendees")


@cache
def _code_taken_query():
    return select(exists().where(Registration.code == bindparam("code")))


def _new_code() -> str:
    while True:
        code = new_registration_code()
        if not db.session.scalar(_code_taken_query(), {"code": code}):
            return code


def _clean_unit(unit: UnitDetails, event: Event) -> dict:
    values = {name: getattr(unit, name) for name in UNIT_FIELDS + INVOICE_FIELDS}
    values["unit_name"] = unit.unit_name.strip()
    values["credit_code"] = normalize_credit_code(unit.credit_code) or None
    values["contact_mobile"] = normalize_mobile(unit.contact_mobile)
    return _with_invoice_defaults(values, event)


def _with_invoice_defaults(values: dict, event: Event) -> dict:
    """Fill what the unit left blank: title = unit name, content from the event, its e-mail."""
    values["invoice_title"] = values["invoice_title"].strip() or values["unit_name"]
    values["invoice_content"] = values["invoice_content"].strip() or event.invoice_content
    values["invoice_email"] = values["invoice_email"].strip() or values["contact_email"]
    values["invoice_taxpayer_id"] = normalize_credit_code(values["invoice_taxpayer_id"])
    for name in SPECIAL_INVOICE_FIELDS:
        # Only a 专票 prints them; an ordinary invoice keeps none (nothing stale to export).
        values[name] = (values.get(name) or "").strip() if values["invoice_type"] == "special" \
            else ""
    values["invoice_together"] = bool(values.get("invoice_together"))
    return values


def _clean_attendee(details: AttendeeDetails, event: Event) -> dict:
    values = {name: getattr(details, name) for name in ATTENDEE_FIELDS}
    values["name"] = details.name.strip()
    values["mobile"] = normalize_mobile(details.mobile)
    values["id_number"] = details.id_number.strip().upper()
    if not (event.starts_on <= details.arrival_on <= details.departure_on <= event.ends_on):
        raise ServiceError(f"{values['name']}：到达和离开日期须在活动日期之内，且离开不早于到达。",
                           field="attendees")
    return values


def _require_open(event: Event, today: date) -> None:
    if not event.takes_registrations:
        raise ServiceError("该活动不接受参会报名。")
    if not event.registration_open(today):
        raise ServiceError(f"报名已于 {format_date_cn(event.registration_deadline)} 截止。")


def register_unit(event_id: int, unit: UnitDetails, attendees: list[AttendeeDetails], *,
                  today: date, now: datetime,
                  submission_key: str | None = None) -> tuple[Registration, str]:
    """Register a unit with its attendees; return the registration and its private token."""
    if not attendees:
        raise ServiceError("请至少填写一名参会人员。", field="attendees")
    event = lock_event(event_id, for_registration=True)
    if submission_key:
        earlier = db.session.scalar(
            select(Registration).where(Registration.submission_key == submission_key))
        if earlier is not None:
            raise DuplicateSubmission(earlier)
    _require_open(event, today)
    _check_capacity(event, len(attendees))

    unit_values = _clean_unit(unit, event)
    quote = quote_fee(event, unit.tier_claim, unit_values["unit_name"],
                      unit_values["credit_code"], today)
    token = secrets.token_urlsafe(24)
    registration = Registration(
        event_id=event.id, code=_new_code(), token_hash=hash_token(token), status="active",
        submission_key=submission_key or None,
        tier_status=quote.tier_status, member_unit=quote.member_unit, consent_at=now,
        created_at=now, updated_at=now, **unit_values,
    )
    rows = [{"event_id": event.id, "position": position, "fee": quote.unit_price,
             **_clean_attendee(details, event)} for position, details in enumerate(attendees)]
    registration.total_amount = quote.unit_price * len(attendees)
    db.session.add(registration)
    db.session.flush()
    # The attendees, the audit entry and the mail are plain INSERTs: nothing in the request
    # reads them back as objects (registration.attendees loads them if a caller asks), and
    # the ORM's unit of work for them cost more than the rest of the service.
    db.session.execute(insert(Attendee.__table__),
                       [{**row, "registration_id": registration.id} for row in rows])
    names = [row["name"] for row in rows]
    insert_audit(
        actor=f"单位联系人 {registration.contact_name}", action="registration.created",
        object_type="registration", object_id=registration.id, event_id=event.id,
        registration_id=registration.id,
        summary=f"提交报名：{len(attendees)} 人，应缴 {registration.total_amount:,.2f} 元"
                f"（{registration.tier_status_label}）",
        changes={"attendees": [None, names],
                 "total_amount": [None, f"{registration.total_amount:.2f}"]},
    )
    queue_mail_row("registration_confirmed", registration.contact_email,
                   registration=registration,
                   context={"registration": registration, "event": event, "token": token,
                            "attendee_names": names})
    return registration, token


def find_by_token(token: str) -> Registration | None:
    """Return the registration a private link opens, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Registration).where(Registration.token_hash == hash_token(token)))


def can_edit_attendees(registration: Registration, today: date) -> bool:
    return registration.can_change_attendees(today)


def can_edit_invoice(registration: Registration, today: date) -> bool:
    # Invoice details may be left for later: finance needs them after payment too.
    return registration.is_active and today <= registration.event.ends_on


def _snapshot(attendee: Attendee) -> dict:
    return {name: getattr(attendee, name) for name in ATTENDEE_FIELDS}


def update_registration(registration: Registration, unit: UnitDetails,
                        attendees: list[AttendeeDetails], *, today: date, now: datetime,
                        actor: str) -> list[str]:
    """Apply a unit's changes to its registration, re-price it, and return what changed."""
    if not attendees:
        raise ServiceError("请至少保留一名参会人员。", field="attendees")
    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消，不能修改。")
    if not registration.can_change_attendees(today):
        raise ServiceError(f"报名已于 {format_date_cn(event.registration_deadline)} 截止，"
                           "不能再修改参会人员。如需换人请联系会务组。")
    existing = {a.id: a for a in registration.attendees}
    kept_ids = {d.id for d in attendees if d.id in existing}
    # Only a larger group needs more places: replacing one person by another does not.
    _check_capacity(event, len(attendees) - len(existing))

    unit_before = {name: getattr(registration, name) for name in UNIT_FIELDS}
    unit_after = _clean_unit(unit, event)
    invoice_after = {name: unit_after.pop(name) for name in INVOICE_FIELDS}
    notes: list[str] = []
    pricing_changed = any(unit_before[k] != unit_after[k]
                          for k in ("unit_name", "tier_claim", "credit_code"))
    for name, value in unit_after.items():
        setattr(registration, name, value)
    from .invoices import change_details  # invoices imports this module

    if change_details(registration, invoice_after, now=now, actor=actor,
                      by_finance=False) == "requested":
        notes.append("开票信息的修改已提交财务（财务已申请开票，待财务确认）")

    cleaned = [(d, _clean_attendee(d, event)) for d in attendees]
    attendee_changes: dict = {}
    for attendee_id, attendee in list(existing.items()):
        if attendee_id not in kept_ids:
            notes.append(f"删除参会人员 {attendee.name}")
            attendee_changes[f"attendee:{attendee_id}"] = [diff({}, _snapshot(attendee)), None]
            registration.attendees.remove(attendee)
    for position, (details, values) in enumerate(cleaned):
        attendee = existing.get(details.id) if details.id in kept_ids else None
        if attendee is None:
            attendee = Attendee(event_id=event.id, **values)
            registration.attendees.append(attendee)
            notes.append(f"新增参会人员 {values['name']}")
        else:
            changed = diff(_snapshot(attendee), values)
            if changed:
                attendee_changes[f"attendee:{attendee.id}"] = changed
                if "name" in changed:
                    notes.append(f"参会人员 {changed['name'][0]} 改为 {changed['name'][1]}")
                else:
                    notes.append(f"修改参会人员 {values['name']} 的信息")
            for name, value in values.items():
                setattr(attendee, name, value)
        attendee.position = position

    if pricing_changed:
        quote = quote_fee(event, registration.tier_claim, registration.unit_name,
                          registration.credit_code, today)
        quote = keep_rejection(registration.tier_status, quote, event)
        if quote.tier_status != registration.tier_status:
            notes.append(f"收费类别：{registration.tier_status_label} → "
                         f"{TIER_STATUSES[quote.tier_status]}")
        registration.tier_status = quote.tier_status
        registration.member_unit = quote.member_unit
        unit_price = quote.unit_price
    else:
        unit_price = Decimal("0") if event.is_free else event.tier(registration.pays_member_price).amount
    total_before = registration.total_amount
    for attendee in registration.attendees:
        attendee.fee = unit_price
    registration.total_amount = unit_price * len(registration.attendees)
    if registration.total_amount != total_before and _has_valid_receipt(registration):
        raise ServiceError("已开具收据，不能在线变更人数或收费类别；如需调整请联系会务组。",
                           field="attendees")
    if registration.total_amount != total_before:
        notes.append(f"应缴金额 {total_before:,.2f} 元 → {registration.total_amount:,.2f} 元")
        from .invoices import registration_undone  # invoices imports this module

        # An invoice asked for (or issued) states the old amount: withdrawn, or to reverse.
        registration_undone(registration, f"应缴金额由 {total_before:,.2f} 元变为 "
                            f"{registration.total_amount:,.2f} 元", actor=actor)

    unit_changes = diff(unit_before, {k: getattr(registration, k) for k in unit_before})
    if unit_changes:
        notes.insert(0, "修改单位信息：" + "、".join(FIELD_LABELS.get(k, k) for k in unit_changes))
    if not notes:
        return []
    registration.updated_at = now
    db.session.flush()
    record_audit(
        actor=actor, action="registration.updated", object_type="registration",
        object_id=registration.id, event_id=event.id, registration_id=registration.id,
        summary="；".join(notes),
        changes={**unit_changes, **attendee_changes,
                 **({"total_amount": [f"{total_before:.2f}", f"{registration.total_amount:.2f}"]}
                    if registration.total_amount != total_before else {})},
    )
    # A changed contact address: the old one hears of it too, in case the link leaked.
    for address in dict.fromkeys([unit_before["contact_email"], registration.contact_email]):
        queue_mail("registration_changed", address, registration=registration,
                   context={"registration": registration, "event": event, "notes": notes})
    return notes


INVOICE_SAVED = {"changed": "发票信息已保存。", "unchanged": "发票信息没有变化。",
                 "requested": "财务已申请开具发票，您的修改已提交财务确认；确认前仍按原信息开票。"}


def update_invoice_details(registration: Registration, values: dict, *, today: date,
                           now: datetime, actor: str, by_finance: bool = False) -> str:
    """Change only the invoice details: the unit until the event ends, finance at any time.

    Once finance has asked for the invoice, the unit's change waits for finance to accept it.
    Returns "unchanged", "changed" or "requested" (see invoices.change_details)."""
    from .invoices import change_details  # invoices imports this module

    registration, event = lock_registration(registration)
    if not by_finance and not can_edit_invoice(registration, today):
        raise ServiceError("该报名已取消或活动已结束，发票信息不能再修改。")
    after = _with_invoice_defaults(
        {**{k: values.get(k) or "" for k in INVOICE_FIELDS},
         "unit_name": registration.unit_name, "contact_email": registration.contact_email},
        event)
    after = {k: after[k] for k in INVOICE_FIELDS}
    return change_details(registration, after, now=now, actor=actor, by_finance=by_finance)


def _has_valid_receipt(registration: Registration) -> bool:
    return db.session.scalar(
        select(func.count(Receipt.id)).where(Receipt.registration_id == registration.id,
                                             Receipt.status == "issued")) > 0


def issued_certificate_number(registration: Registration) -> str | None:
    """The number of a certificate issued (not void) to this registration or its material."""
    return db.session.scalar(
        select(Certificate.number).where(
            Certificate.status == "issued",
            or_(Certificate.registration_id == registration.id,
                Certificate.submission_id.in_(select(Submission.id).where(
                    Submission.registration_id == registration.id))))
        .order_by(Certificate.id).limit(1))


def _certificate_held(number: str) -> str:
    return f"该报名已发放证书（编号 {number}），不能再取消报名。如确需取消，须由会务组先作废证书。"


def refuse_cancel_while_held(registration: Registration) -> None:
    """The one rule for cancelling, by the unit or by staff: not while a certificate stands
    (it would certify what was cancelled) nor while money received is not refunded."""
    number = issued_certificate_number(registration)
    if number:
        raise ServiceError(_certificate_held(number))
    refuse_while_money_held(registration)


def cancel_refusal(registration: Registration, today: date) -> str:
    """Why the unit cannot cancel now, or "" (money held is checked when it does)."""
    if not registration.is_active:
        return "该报名已取消。"
    if today > registration.event.ends_on:
        return "活动已结束，不能再取消报名。"
    number = issued_certificate_number(registration)
    return _certificate_held(number) if number else ""


def can_cancel(registration: Registration, today: date) -> bool:
    """Whether the unit's page offers 取消报名."""
    return not cancel_refusal(registration, today)


def submission_in_play():
    """SQL: the submission in the outer query is a case (no registration) or the material
    of a registration still active -- what review, booklet and certificates may count."""
    return or_(Submission.registration_id.is_(None),
               exists().where(Registration.id == Submission.registration_id,
                              Registration.status == "active"))


def withdraw_cancelled_material(registration: Registration, *, now: datetime,
                                actor: str) -> None:
    """A cancelled unit's material leaves the review, the booklet and the certificates.

    Called with the event and the registration locked: whoever writes a material locks
    them first too, so the material cannot change under this.
    """
    materials = db.session.scalars(
        select(Submission).where(Submission.registration_id == registration.id,
                                 Submission.kind == "material",
                                 Submission.status == "submitted")
        .with_for_update(key_share=True).execution_options(populate_existing=True)).all()
    for submission in materials:
        submission.status = "withdrawn"
        submission.withdrawn_at = now
        submission.updated_at = now
        record_audit(actor=actor, action="material.withdrawn", object_type="submission",
                     object_id=submission.id, event_id=registration.event_id,
                     registration_id=registration.id,
                     summary=f"报名已取消，交流材料《{submission.title}》随之撤回",
                     changes={"status": ["submitted", "withdrawn"]})


def cancel_registration(registration: Registration, *, today: date, now: datetime,
                        actor: str) -> None:
    """Cancel a registration before payment; its places return to the event."""
    registration, event = lock_registration(registration)
    refusal = cancel_refusal(registration, today)
    if refusal:
        raise ServiceError(refusal)
    refuse_cancel_while_held(registration)
    registration.cancel(now)
    # finance imports this module, so its receipt helper is imported where it is used.
    from .finance import void_active_receipt

    void_active_receipt(registration, "报名已取消", actor=actor, now=now)
    from .invoices import registration_undone

    registration_undone(registration, "报名已取消", actor=actor)
    withdraw_cancelled_material(registration, now=now, actor=actor)
    record_audit(actor=actor, action="registration.cancelled", object_type="registration",
                 object_id=registration.id, event_id=registration.event_id,
                 registration_id=registration.id,
                 summary=f"取消报名（{len(registration.attendees)} 人，"
                         f"原应缴 {registration.total_amount:,.2f} 元）",
                 changes={"status": ["active", "cancelled"]})
    queue_mail("registration_cancelled", registration.contact_email, registration=registration,
               context={"registration": registration, "event": event})


FIELD_LABELS = {
    "unit_name": "单位名称", "tier_claim": "单位类别", "credit_code": "统一社会信用代码",
    "credit_code_confirmed": "信用代码确认", "province": "省份", "city": "城市",
    "address": "地址", "contact_name": "联系人", "contact_mobile": "联系人手机",
    "contact_email": "联系人邮箱", "invoice_title": "发票抬头",
    "invoice_taxpayer_id": "纳税人识别号", "invoice_type": "发票类型",
    "invoice_content": "发票内容", "invoice_email": "接收发票邮箱",
    "invoice_buyer_address": "购买方地址", "invoice_buyer_phone": "购买方电话",
    "invoice_buyer_bank": "购买方开户银行", "invoice_buyer_account": "购买方银行账号",
    "invoice_together": "合并开票",
}
