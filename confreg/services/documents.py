"""Assembling the data of printed documents from the database (the pdf package draws it)."""
from datetime import date
from decimal import Decimal

from ..checks import mask_mobile, rmb_capitals
from ..models import Registration
from ..pdf.payment_notice import FeeLine, NoticeAttendee, PaymentNotice
from ..timeutil import format_month_day_cn


def payment_notice_of(registration: Registration, *, today: date) -> PaymentNotice:
    """Collect what the payment notice shows for a registration."""
    event = registration.event
    fee_lines: dict[tuple, FeeLine] = {}
    tier = event.tier(registration.pays_member_price)
    for attendee in registration.attendees:
        key = (tier.label if tier else "服务费", attendee.fee)
        line = fee_lines.setdefault(key, FeeLine(label=key[0], unit_price=attendee.fee,
                                                 quantity=0, amount=Decimal("0")))
        line.quantity += 1
        line.amount += attendee.fee
    pending_note = None
    if registration.price_if_rejected is not None:
        pending_note = (f"会员价待核实：请先按会员价汇款 {registration.total_amount:,.2f} 元；"
                        f"如未通过核实，应按标准价缴纳 {registration.price_if_rejected:,.2f} 元，"
                        "会务组将通知补缴差额。")
    return PaymentNotice(
        event_title=event.title,
        organiser=event.organiser,
        code=registration.code,
        issued_on=today,
        unit_name=registration.unit_name,
        contact_name=registration.contact_name,
        contact_mobile=mask_mobile(registration.contact_mobile),
        attendees=[
            NoticeAttendee(
                name=a.name, gender=a.gender_label, position=a.title,
                accommodation=a.accommodation_label,
                stay=f"{format_month_day_cn(a.arrival_on)}—{format_month_day_cn(a.departure_on)}",
                fee=a.fee,
            )
            for a in registration.attendees
        ],
        fee_lines=list(fee_lines.values()),
        total=registration.total_amount,
        total_capitals=rmb_capitals(registration.total_amount),
        payee_name=event.payee_name,
        bank_name=event.bank_name,
        bank_account=event.bank_account,
        remark=registration.transfer_remark,
        payment_deadline=event.payment_due,
        invoice_note=event.invoice_note,
        contacts=[c.as_line() for c in event.contacts],
        pending_note=pending_note,
        status_note=None if registration.is_active else "本报名已取消，请勿付款",
    )
