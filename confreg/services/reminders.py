"""Reminders to units: who gets which one, and sending them never twice in a day.

A ReminderLog row per unit, kind and China day is the guard: its unique constraint makes a
second send the same day impossible even when two senders (the page and cron, or two
clicks) run at once; the loser of such a race skips that unit.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import not_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..database import begin_write
from ..extensions import db
from ..models import Event, Registration, ReminderLog
from ..models.reminders import REMINDER_KINDS
from ..notifications import queue_mail
from ..timeutil import format_date_cn
from . import ServiceError
from .audit import record_audit
from .materials import materials_missing_condition
from .money import money_columns, to_money


@dataclass(frozen=True)
class KindChoice:
    kind: str
    label: str
    available: bool
    reason: str = ""  # why it cannot be sent today


@dataclass(frozen=True)
class Recipient:
    registration_id: int
    code: str
    unit_name: str
    contact_name: str
    contact_email: str
    total_amount: Decimal
    paid: Decimal
    sent_today: bool  # already got this reminder today: skipped

    @property
    def outstanding(self) -> Decimal:
        return self.total_amount - self.paid


@dataclass
class ReminderBatch:
    kind: str
    sent: list[str] = field(default_factory=list)  # registration codes
    skipped: list[str] = field(default_factory=list)
    mail_ids: list[int] = field(default_factory=list)


def reminder_kinds(event: Event, today: date) -> list[KindChoice]:
    """Every kind of reminder, and whether it can be sent for this event today."""
    due = event.payment_due
    choices = []
    for kind, label in REMINDER_KINDS.items():
        reason = ""
        if kind in ("payment_due", "payment_overdue") and event.is_free:
            reason = "本活动免费，无需缴费提醒。"
        elif kind == "payment_due" and today > due:
            reason = f"缴费已于 {format_date_cn(due)} 截止，请改发逾期提醒。"
        elif kind == "payment_overdue" and today <= due:
            reason = f"缴费截止日 {format_date_cn(due)} 还未过。"
        elif kind == "materials_due":
            reason = _materials_reason(event, today)
        elif kind == "invoice_details" and not event.gives_invoices:
            reason = "本活动不开具电子发票。"
        choices.append(KindChoice(kind, label, not reason, reason))
    return choices


def _materials_reason(event: Event, today: date) -> str:
    """Why the materials reminder cannot be sent today, or "" while materials are open."""
    if not event.takes_registrations:
        return "该活动不收交流材料。"
    if event.materials_deadline is None:
        return "本活动未设交流材料截止日。"
    if today > event.materials_deadline:
        return f"交流材料已于 {format_date_cn(event.materials_deadline)} 截止。"
    return ""


def _require_available(event: Event, kind: str, today: date) -> None:
    choice = next((c for c in reminder_kinds(event, today) if c.kind == kind), None)
    if choice is None:
        raise ServiceError("请选择提醒类型。", field="kind")
    if not choice.available:
        raise ServiceError(choice.reason, field="kind")


def reminder_recipients(event: Event, kind: str, today: date) -> list[Recipient]:
    """The units this reminder goes to today, with those already reminded today marked."""
    money = money_columns(event.id)
    if kind in ("payment_due", "payment_overdue"):
        needs_it = not_(money.settled)
    elif kind == "materials_due":
        needs_it = materials_missing_condition(event)  # active, no material submitted
    elif kind == "invoice_details":
        from .invoices import missing_details_condition  # invoices imports reminders' users

        needs_it = missing_details_condition(event)
    else:
        return []
    logged = (select(ReminderLog.registration_id)
              .where(ReminderLog.kind == kind, ReminderLog.sent_on == today).subquery())
    rows = db.session.execute(
        money.join(select(Registration.id, Registration.code, Registration.unit_name,
                          Registration.contact_name, Registration.contact_email,
                          money.expected, money.received,
                          logged.c.registration_id.is_not(None)))
        .outerjoin(logged, logged.c.registration_id == Registration.id)
        .where(Registration.event_id == event.id, Registration.status == "active", needs_it)
        .order_by(Registration.id)
    ).all()
    return [Recipient(id_, code, unit, contact, email, to_money(total), to_money(paid_sum),
                      bool(sent))
            for id_, code, unit, contact, email, total, paid_sum, sent in rows]


def reminder_mail_context(event: Event, recipient: Recipient, today: date) -> dict:
    """What the reminder e-mail templates are given for one unit."""
    from .invoices import missing_details

    registration = db.session.get(Registration, recipient.registration_id)
    return {"registration": registration, "missing": missing_details(registration),
            "event": event, "today": today, "paid": recipient.paid,
            "outstanding": recipient.outstanding,
            "days_overdue": (today - event.payment_due).days}


def send_reminders(event_id: int, kind: str, *, today: date, actor: str) -> ReminderBatch:
    """Queue one reminder per unit not yet reminded today, log each, audit the batch."""
    begin_write(db.session)  # SQLite: one writer; PostgreSQL: the unique constraint decides
    event = db.session.get(Event, event_id, populate_existing=True)
    _require_available(event, kind, today)
    batch = ReminderBatch(kind)
    # Log every unit first, mail them after: a savepoint rolled back (a race lost) also
    # fires the session's rollback hook, which forgets the mail this request has queued.
    logged: list[tuple[Recipient, ReminderLog]] = []
    for recipient in reminder_recipients(event, kind, today):
        if recipient.sent_today:
            batch.skipped.append(recipient.code)
            continue
        log = ReminderLog(event_id=event.id, registration_id=recipient.registration_id,
                          kind=kind, sent_on=today, sent_by=actor)
        try:
            # Another sender may have logged this unit since we looked: its row wins.
            with db.session.begin_nested():
                db.session.add(log)
                db.session.flush()
        except IntegrityError:
            batch.skipped.append(recipient.code)
            continue
        logged.append((recipient, log))
    # Load the units to be mailed in one go (their attendees too: the mail counts them).
    db.session.scalars(select(Registration).options(selectinload(Registration.attendees))
                       .where(Registration.id.in_([r.registration_id for r, _ in logged]))).all()
    for recipient, log in logged:
        context = reminder_mail_context(event, recipient, today)
        message = queue_mail(f"reminder_{kind}", recipient.contact_email,
                             registration=context["registration"], context=context)
        log.mail_id = message.id
        batch.sent.append(recipient.code)
        batch.mail_ids.append(message.id)
    db.session.flush()
    if batch.sent:
        record_audit(
            actor=actor, action="reminders.sent", object_type="event", object_id=event.id,
            event_id=event.id,
            summary=f"发送{REMINDER_KINDS[kind]}：{len(batch.sent)} 个单位"
                    + (f"，跳过今日已发 {len(batch.skipped)} 个" if batch.skipped else ""),
            changes={"kind": [None, kind], "sent_on": [None, today.isoformat()],
                     "sent": [None, batch.sent], "skipped": [None, batch.skipped]},
        )
    return batch


def open_events(today: date) -> list[Event]:
    """Published events taking registrations that have not ended: what cron reminds for."""
    return db.session.scalars(
        select(Event).where(Event.published.is_(True), Event.ends_on >= today,
                            Event.kind.in_(("meeting", "training")))
        .order_by(Event.starts_on, Event.id)
    ).all()


# The worker's daily reminders: which kind goes out how many days before (negative: after)
# its deadline. A unit still gets at most one of a kind a day, as from the page.
SCHEDULED_REMINDERS = {
    "payment_due": (7, 1),      # a week before the payment deadline, and the day before
    "payment_overdue": (-1,),   # the day after it
    "materials_due": (3,),      # three days before the materials deadline
}


def _deadline_of(event: Event, kind: str) -> date | None:
    return event.materials_deadline if kind == "materials_due" else event.payment_due


def scheduled_reminders_due(today: date, schedule: dict | None = None) -> list[tuple[int, str]]:
    """(event id, kind) of every reminder the schedule sends today, if it can be sent."""
    schedule = SCHEDULED_REMINDERS if schedule is None else schedule
    due = []
    for event in open_events(today):
        available = {c.kind for c in reminder_kinds(event, today) if c.available}
        for kind, days_before in schedule.items():
            deadline = _deadline_of(event, kind)
            if kind in available and deadline is not None \
                    and (deadline - today).days in days_before:
                due.append((event.id, kind))
    return due
