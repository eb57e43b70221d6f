"""An event's figures for the organisers: seats, money, member claims, deadlines, charts.

Every figure comes from three aggregate queries, whatever the number of registrations:
nothing is summed row by row in Python.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Date, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..charts import Bar, day_label
from ..extensions import db
from ..models import Attendee, Event, Registration
from ..timeutil import format_date_cn
from .materials import materials_missing_condition
from .money import money_columns, to_money


class china_date(FunctionElement):
    """The China (UTC+8, no daylight saving since 1991) calendar day of a stored UTC time."""

    type = Date()
    inherit_cache = True
    name = "china_date"


@compiles(china_date, "sqlite")
def _china_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(china_date, "postgresql")
def _china_date_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Shanghai' AS DATE)"


@dataclass(frozen=True)
class Deadline:
    label: str
    day: date | None
    days_left: int | None  # negative: passed that many days ago
    note: str = ""

    @property
    def status(self) -> str:
        """In words: 还有 N 天 / 今天截止 / 已截止 N 天 / 未设定."""
        if self.day is None:
            return "未设定"
        if self.days_left == 0:
            return "今天截止"
        if self.days_left > 0:
            return f"还有 {self.days_left} 天"
        return f"已截止 {-self.days_left} 天"

    @property
    def state(self) -> str:
        """For the page's colours: open, today, passed or unset."""
        if self.day is None:
            return "unset"
        return "today" if self.days_left == 0 else ("open" if self.days_left > 0 else "passed")


@dataclass(frozen=True)
class Dashboard:
    units: int
    attendees: int
    capacity: int  # 0: no limit
    seats_left: int | None
    expected: Decimal
    received: Decimal
    outstanding: Decimal  # what units that have not paid in full still owe
    overpaid: Decimal  # paid beyond what is owed (to refund or to settle)
    units_unpaid: int
    units_part_paid: int
    units_paid: int
    member_claims_pending: int
    deadlines: list[Deadline]
    per_day: list[Bar]  # attendees registered per China day, first day to last
    by_province: list[Bar]  # attendees per province, most first
    # Active units without a submitted material; None for an event without a materials deadline.
    materials_missing: int | None = None


def _deadlines(event: Event, today: date) -> list[Deadline]:
    def deadline(label, day, note=""):
        return Deadline(label, day, (day - today).days if day else None, note)

    payment_note = "" if event.payment_deadline else "未设缴费截止日，按活动首日计"
    return [
        deadline("报名截止", event.registration_deadline),
        deadline("材料截止", event.materials_deadline),
        deadline("缴费截止", event.payment_due, payment_note),
    ]


def _days_filled(counts: dict[date, int], last: date) -> list[Bar]:
    """One bar per day from the first registration to `last`, days without any at zero."""
    if not counts:
        return []
    day, end = min(counts), max(max(counts), last)
    bars = []
    while day <= end:
        value = counts.get(day, 0)
        bars.append(Bar(day_label(day), value, f"{format_date_cn(day)}：{value} 人"))
        day += timedelta(days=1)
    return bars


def event_dashboard(event: Event, *, today: date) -> Dashboard:
    """Collect the dashboard's figures for an event as of a China date."""
    money = money_columns(event.id)
    balance = money.expected - money.received
    figures = db.session.execute(
        money.join(select(
            func.count(Registration.id),
            func.coalesce(func.sum(money.expected), 0),
            func.coalesce(func.sum(money.received), 0),
            func.coalesce(func.sum(case((balance > 0, balance), else_=0)), 0),
            func.coalesce(func.sum(case((balance < 0, -balance), else_=0)), 0),
            func.count(case((money.status == "unpaid", Registration.id))),
            func.count(case((money.status == "partly_paid", Registration.id))),
            func.count(case((money.settled, Registration.id))),
            func.count(case((Registration.tier_status == "member_pending", Registration.id))),
            func.count(case((materials_missing_condition(event), Registration.id))),
        ))
        .where(Registration.event_id == event.id, Registration.status == "active")
    ).one()
    (units, expected, received, outstanding, overpaid, unpaid, part_paid, fully_paid,
     pending, materials_missing) = figures

    provinces = db.session.execute(
        select(Registration.province, func.count(Attendee.id))
        .join(Attendee, Attendee.registration_id == Registration.id)
        .where(Registration.event_id == event.id, Registration.status == "active")
        .group_by(Registration.province)
        .order_by(func.count(Attendee.id).desc(), Registration.province)
    ).all()
    day = china_date(Registration.created_at)
    per_day = dict(db.session.execute(
        select(day, func.count(Attendee.id))
        .join(Attendee, Attendee.registration_id == Registration.id)
        .where(Registration.event_id == event.id, Registration.status == "active")
        .group_by(day)
    ).all())

    attendees = sum(count for _, count in provinces)
    last_day = min(today, event.registration_deadline) if per_day else today
    return Dashboard(
        units=units, attendees=attendees, capacity=event.capacity,
        seats_left=max(event.capacity - attendees, 0) if event.capacity else None,
        expected=to_money(expected), received=to_money(received),
        outstanding=to_money(outstanding), overpaid=to_money(overpaid),
        units_unpaid=unpaid, units_part_paid=part_paid, units_paid=fully_paid,
        member_claims_pending=pending,
        materials_missing=materials_missing if event.materials_deadline else None,
        deadlines=_deadlines(event, today),
        per_day=_days_filled(per_day, last_day),
        by_province=[Bar(province, count, f"{province}：{count} 人")
                     for province, count in provinces],
    )
