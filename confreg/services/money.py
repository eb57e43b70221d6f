"""What a registration owes, what it has paid, and its payment status: the one rule.

Every screen that shows or counts money (finance, the registrations desk, the dashboard,
reminders, member decisions) asks here, so two screens never disagree about the same
registration.  Each rule has a Python form, for one registration, and an SQL twin, for
filtering and counting lists in the database.

- Owed (expected): the registration's fee while active, nothing once cancelled.
- Received: the net sum of its payments (refunds are negative payments).
- Status: unpaid / partly_paid / paid / over_paid; owing 0 and having paid 0 is paid.
- Settled: received at least what is owed (status paid or over_paid).
"""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Payment, Registration

PAYMENT_STATUSES = {
    "unpaid": "未缴费",
    "partly_paid": "部分缴费",
    "paid": "已缴清",
    "over_paid": "多缴",
}
CENT = Decimal("0.01")


# --- one registration ----------------------------------------------------------------------

def expected_amount(registration: Registration) -> Decimal:
    """What the unit owes: its fee while active, nothing once cancelled."""
    return registration.total_amount if registration.is_active else Decimal("0")


def received_amount(registration: Registration) -> Decimal:
    """The net sum received for a registration (refunds subtracted)."""
    total = db.session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))
                              .where(Payment.registration_id == registration.id))
    return Decimal(str(total)).quantize(CENT)


def payment_status(expected: Decimal, received: Decimal) -> str:
    """unpaid / partly_paid / paid / over_paid, from what is owed and what came in (net)."""
    if received < 0 or (received == 0 and expected > 0):
        return "unpaid"
    if received == expected:
        return "paid"
    return "partly_paid" if received < expected else "over_paid"


def is_settled(expected: Decimal, received: Decimal) -> bool:
    """Paid at least what is owed: nothing left to chase."""
    return received >= expected


@dataclass(frozen=True)
class Balance:
    expected: Decimal
    received: Decimal

    @property
    def outstanding(self) -> Decimal:
        """Still to pay; negative when the unit paid too much."""
        return self.expected - self.received

    @property
    def status(self) -> str:
        return payment_status(self.expected, self.received)

    @property
    def status_label(self) -> str:
        return PAYMENT_STATUSES[self.status]

    @property
    def settled(self) -> bool:
        return is_settled(self.expected, self.received)

    @property
    def paid_in_full(self) -> bool:
        """Settled with something owed: what earns a receipt."""
        return self.expected > 0 and self.settled


def balance_of(registration: Registration) -> Balance:
    """What a registration owes and has received."""
    return Balance(expected_amount(registration), received_amount(registration))


# --- the same rules in SQL -----------------------------------------------------------------

def received_by_registration(event_id: int | None = None):
    """A subquery: registration_id, received (net), per registration with payments."""
    statement = select(Payment.registration_id, func.sum(Payment.amount).label("received"))
    if event_id is not None:
        statement = (statement.join(Registration, Registration.id == Payment.registration_id)
                     .where(Registration.event_id == event_id))
    return statement.group_by(Payment.registration_id).subquery("received_by_registration")


def status_expression(expected, received):
    """payment_status() as SQL, for filtering and counting lists in the database."""
    return case(
        (received < 0, "unpaid"),
        (received == expected, "paid"),
        (received == 0, "unpaid"),
        (received < expected, "partly_paid"),
        else_="over_paid",
    )


def settled_expression(expected, received):
    """is_settled() as SQL."""
    return received >= expected


@dataclass(frozen=True)
class MoneyColumns:
    """A registration's money as SQL columns; join() adds the payments a query needs."""

    received_table: object
    expected: object
    received: object
    status: object
    settled: object

    def join(self, statement):
        """Outer-join the received sums to a statement selecting from Registration."""
        return statement.outerjoin(
            self.received_table, self.received_table.c.registration_id == Registration.id)


def money_columns(event_id: int | None = None) -> MoneyColumns:
    """Expected, received, status and settled as columns, optionally for one event only."""
    table = received_by_registration(event_id)
    # Rounded to cents: SQLite sums NUMERIC as floats, and the status compares for equality.
    received = func.round(func.coalesce(table.c.received, 0), 2)
    expected = func.round(case((Registration.status == "active", Registration.total_amount),
                               else_=0), 2)
    return MoneyColumns(table, expected, received, status_expression(expected, received),
                        settled_expression(expected, received))


def to_money(value) -> Decimal:
    """An amount read from SQL (SQLite gives floats or ints) back to cents."""
    return Decimal(str(value or 0)).quantize(CENT)


def refuse_while_money_held(registration: Registration) -> None:
    """Cancelling, by the unit or by staff, waits until money received is refunded."""
    from . import ServiceError

    held = received_amount(registration)
    if held > 0:
        raise ServiceError(f"该报名已缴费 {held:,.2f} 元，不能直接取消：请联系会务组，"
                           "由财务办理退款（退款后已缴金额为 0）后再取消报名。")
