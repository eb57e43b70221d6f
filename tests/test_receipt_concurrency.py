"""Receipt numbers stay unique and gapless, and a bank transaction is recorded once,
whatever the concurrency (SQLite and PostgreSQL).

Fifty registrations of fifty different events (so that no event lock serialises them)
are issued their receipts at the same moment, each thread with its own app context and
session, starting as a reader like a request does.  The same race is then run with the
counter lock removed, as a control: the checks must catch it, so a pass means something.
"""
import time
from decimal import Decimal

from sqlalchemy import event as event_api
from sqlalchemy import select

import confreg.database
import confreg.services.finance as finance
import confreg.services.registrations as registrations
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import DocumentCounter, Payment, Receipt, Registration
from confreg.services import ServiceError
from confreg.services.finance import PaymentDetails, issue_receipt, record_payment
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import china_today
from tests.conftest import make_event
from tests.conftest import run_at_once as run_together

ISSUES = 50
BARRIER_TIMEOUT = 60


def paid_registrations(count: int) -> list[int]:
    """`count` registrations, each of its own event, paid in full but without a receipt."""
    ids = []
    for number in range(count):
        event = make_event()
        registration, _ = register_unit(
            event.id,
            UnitDetails(unit_name=f"并发测试单位{number:03d}", tier_claim="other",
                        province="青海省", city="西宁市", contact_name="马晓明",
                        contact_mobile="13912345678", contact_email="contact@example.cn"),
            [AttendeeDetails(name="张伟", gender="M", title="主任", mobile="13912345000",
                             accommodation="shared", arrival_on=event.starts_on,
                             departure_on=event.ends_on)],
            today=china_today(), now=utcnow())
        db.session.add(Payment(registration_id=registration.id,
                               amount=registration.total_amount, received_on=china_today(),
                               bank_reference=f"SEED-{number}", created_at=utcnow()))
        db.session.commit()
        ids.append(registration.id)
    db.session.close()  # this thread must not hold SQLite's write lock during the race
    return ids


def run_at_once(app, ids: list[int], work) -> list:
    """Run work(registration) for every id at once, each loaded in its own session."""
    return run_together(app, [lambda i=i: work(db.session.get(Registration, i)) for i in ids],
                        timeout=BARRIER_TIMEOUT)


def numbering_problems(results: list, count: int) -> list[str]:
    """Every way the receipts issued at once broke the numbering; empty when it held."""
    problems = []
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        problems.append(f"{len(errors)} issues failed, e.g. {type(errors[0]).__name__}: "
                        f"{str(errors[0])[:200]}")
    given = sorted(r for r in results if isinstance(r, int))
    if given != list(range(1, count + 1)):
        problems.append(f"numbers handed out are not 1..{count}: {given}")
    stored = db.session.execute(select(Receipt.sequence, Receipt.number)).all()
    sequences = sorted(s for s, _ in stored)
    if sequences != list(range(1, count + 1)):
        problems.append(f"stored sequences are not 1..{count}: {sequences}")
    year = china_today().year
    if sorted(n for _, n in stored) != [f"SJ{year}-{s:06d}" for s in range(1, count + 1)]:
        problems.append("stored numbers do not match SJ<year>-000001..")
    counter = db.session.scalar(select(DocumentCounter.last_number)
                                .where(DocumentCounter.kind == "receipt"))
    if counter != count:
        problems.append(f"counter at {counter} after {count} receipts")
    db.session.close()
    return problems


def issue(registration) -> int:
    return issue_receipt(registration, actor="并发测试").sequence


def test_fifty_receipts_issued_at_once_are_numbered_one_to_fifty(app, app_ctx):
    ids = paid_registrations(ISSUES)

    results = run_at_once(app, ids, issue)

    assert numbering_problems(results, ISSUES) == []


def test_the_race_harness_catches_duplicates_when_the_counter_lock_is_removed(app, app_ctx,
                                                                             monkeypatch):
    """Control: without the counter lock the same race and checks must report a problem."""
    ids = paid_registrations(ISSUES)
    # The counter row exists already, so that the race is over the numbers themselves.
    db.session.add(DocumentCounter(kind="receipt", year=china_today().year, last_number=0))
    db.session.commit()
    db.session.close()

    def counter_without_lock(kind: str, year: int) -> DocumentCounter:
        counter = db.session.scalar(select(DocumentCounter).where(
            DocumentCounter.kind == kind, DocumentCounter.year == year)
            .execution_options(populate_existing=True))
        if counter is None:
            counter = DocumentCounter(kind=kind, year=year, last_number=0)
            db.session.add(counter)
        time.sleep(0.05)  # widen the window between reading the number and writing it
        return counter

    monkeypatch.setattr(finance, "lock_counter", counter_without_lock)
    # SQLite: the write lock (BEGIN IMMEDIATE) is what serialises the counter there, so it
    # goes too: transactions stay DEFERRED and the guard against that is lifted.
    monkeypatch.setattr(registrations, "begin_write", lambda session: None)
    monkeypatch.setattr(confreg.database, "wants_write", lambda: False)
    event_api.remove(db.session, "before_flush", confreg.database._refuse_unlocked_flush)
    try:
        results = run_at_once(app, ids, issue)
    finally:
        confreg.database.guard_sqlite_writes(db.session)

    problems = numbering_problems(results, ISSUES)
    print("control found:", problems)
    assert problems != []


def test_one_bank_transaction_recorded_at_once_for_ten_units_is_accepted_once(app, app_ctx,
                                                                               monkeypatch):
    ids = []
    for number in range(10):
        event = make_event()
        registration, _ = register_unit(
            event.id,
            UnitDetails(unit_name=f"流水号测试单位{number}", tier_claim="other", province="青海省",
                        city="西宁市", contact_name="马晓明", contact_mobile="13912345678",
                        contact_email="contact@example.cn"),
            [AttendeeDetails(name="张伟", gender="M", title="主任", mobile="13912345000",
                             accommodation="shared", arrival_on=event.starts_on,
                             departure_on=event.ends_on)],
            today=china_today(), now=utcnow())
        db.session.commit()
        ids.append(registration.id)
    db.session.close()
    # Let every thread pass the check before any inserts: on PostgreSQL (no shared lock
    # between different events) the unique constraint must then refuse the duplicates.
    balance_of = finance.balance_of

    def slow_balance_of(registration):
        balance = balance_of(registration)
        time.sleep(0.2)
        return balance

    monkeypatch.setattr(finance, "balance_of", slow_balance_of)

    def pay(registration):
        payment, _ = record_payment(
            registration, PaymentDetails(amount=Decimal("100"), received_on=china_today(),
                                         bank_reference="2027072099999"),
            actor="并发测试")
        return payment.id

    results = run_at_once(app, ids, pay)

    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    others = [r for r in results if not isinstance(r, (int, ServiceError))]
    assert others == [] and len(accepted) == 1 and len(refused) == 9, results
    assert all(r.field == "bank_reference" and "已经登记过" in r.message for r in refused)
    assert len(db.session.scalars(select(Payment)).all()) == 1
