"""Finance users confirming the same bank transfer at the same moment produce one set of
payments (issue 9), on SQLite and on PostgreSQL (`make test DB=postgres`).

Each user runs in its own thread, app context and session, begun as a reader as a request
is (tests.conftest.run_at_once); the transaction row is locked before its state is checked.
The control runs the same users on different transfers: all of them must get through, so a
lock that serialised too much, or refused the innocent, fails too."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import confreg.services.bank as bank
from confreg.extensions import db
from confreg.models import (AuditEntry, BankAllocation, BankTransaction, OutboundMail, Payment,
                            Receipt)
from confreg.services import ServiceError
from confreg.services.bank import ShareRequest
from tests import bank_fixtures as bf
from tests.conftest import make_event, run_at_once
from tests.test_bank_import import STANDARD, credit, imported, transaction_of
from tests.test_finance import register


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def confirmer(transaction_id: int, user: int, shares=None):
    """One finance user pressing "confirm" on the transfer: what it allocated."""
    def job():
        allocations = bank.confirm_transaction(transaction_id, shares, actor=f"财务{user}")
        return sum((a.amount for a in allocations), Decimal("0"))
    return job


def one_won(results: list, amount: Decimal) -> list[ServiceError]:
    """Exactly one result is the amount allocated; the others are the ServiceError."""
    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, ServiceError)]
    assert unexpected == [], unexpected  # a deadlock, a lock timeout, an IntegrityError…
    assert [r for r in results if not isinstance(r, Exception)] == [amount], results
    return [r for r in results if isinstance(r, ServiceError)]


@pytest.mark.parametrize("users", [2, 8])
def test_finance_users_confirming_one_transfer_at_once_make_one_set_of_payments(
        app, worker, app_ctx, users):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="西宁市城西区民政局")
    imported(worker, bf.icbc_xls([credit(STANDARD * 2, f"{first.code} {second.code}",
                                         serial="RACE-1")]))
    transaction_id = transaction_of("RACE-1").id
    expected = sorted([first.id, second.id])
    db.session.commit()  # this thread holds nothing during the race

    results = run_at_once(app, [confirmer(transaction_id, n) for n in range(users)])

    refused = one_won(results, STANDARD * 2)
    assert len(refused) == users - 1
    assert all("无需再次确认" in error.message for error in refused)
    assert count(Payment) == count(BankAllocation) == 2
    assert sorted(db.session.scalars(select(Payment.registration_id))) == expected
    assert count(Receipt) == 2
    assert count(OutboundMail, OutboundMail.kind == "payment_received") == 2
    assert count(AuditEntry, AuditEntry.action == "bank_transaction.confirmed") == 1
    transaction = transaction_of("RACE-1")
    assert (transaction.status, transaction.allocated) == ("confirmed", STANDARD * 2)


def test_two_users_assigning_one_transfer_to_different_units_at_once_never_overspend_it(
        app, worker, app_ctx):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="西宁市城西区民政局")
    imported(worker, bf.icbc_xls([credit(STANDARD, "会议费", serial="RACE-2",
                                         payer="西宁市民政局")]))
    transaction_id = transaction_of("RACE-2").id
    rivals = [confirmer(transaction_id, n, [ShareRequest(registration.id, STANDARD)])
              for n, registration in enumerate((first, second))]
    db.session.commit()  # after it, reading an attribute here would take SQLite's lock again

    results = run_at_once(app, rivals)

    refused = one_won(results, STANDARD)
    assert len(refused) == 1 and "超过" in refused[0].message
    assert count(Payment) == count(BankAllocation) == 1
    assert transaction_of("RACE-2").allocated == STANDARD


def test_control_users_confirming_different_transfers_at_once_all_get_through(app, worker,
                                                                               app_ctx):
    event = make_event()
    units = [register(event, 1, unit_name=f"海东市乐都区第{n}社区")[0] for n in range(8)]
    imported(worker, bf.icbc_xls([credit(STANDARD, r.code, serial=f"CTRL-{n}")
                                  for n, r in enumerate(units)]))
    ids = [transaction_of(f"CTRL-{n}").id for n in range(8)]
    db.session.commit()

    results = run_at_once(app, [confirmer(transaction_id, n)
                                for n, transaction_id in enumerate(ids)])

    assert results == [STANDARD] * 8
    assert count(Payment) == count(BankAllocation) == count(Receipt) == 8
    assert {t.status for t in db.session.scalars(select(BankTransaction))} == {"confirmed"}
