"""Invoices under many writers at once (issue 10), on SQLite and on PostgreSQL
(`make test DB=postgres`): finance users asking for the same event's invoices make one batch;
the same zip read by several jobs at once stores each invoice once and mails it once; a unit
changing its details while finance asks gets one outcome, never both.

Each writer runs in its own thread, app context and session (tests.conftest.run_at_once); the
event row is locked before the queue is read. The controls run the same writers on different
events: all must get through."""
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

import confreg.services.invoices as invoices
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import (InvoiceChange, InvoiceRequest, InvoiceRequestItem, InvoiceUpload,
                            IssuedInvoice, OutboundMail)
from confreg.services import ServiceError
from confreg.services.registrations import update_invoice_details
from confreg.timeutil import china_today
from tests import invoice_fixtures as fx
from tests.conftest import make_event, run_at_once
from tests.test_invoices import ACTOR, details, paid

UNITS = ["西宁市城东区东关大街街道办事处", "西宁市城西区虎台街道办事处", "海东市乐都区碾伯镇社会工作服务站"]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def asker(event_id: int, user: int):
    def job():
        from confreg.models import Event

        batch = invoices.request_invoices(db.session.get(Event, event_id), None,
                                          actor=f"财务{user}")
        return len(batch.requests)
    return job


def units_paid(event) -> list:
    return [paid(event, 1, unit_name=unit, invoice_title=unit)[0] for unit in UNITS]


@pytest.mark.parametrize("users", [2, 8])
def test_finance_users_asking_at_once_make_one_batch(app, app_ctx, users):
    event = make_event()
    units_paid(event)
    event_id = event.id
    db.session.commit()

    results = run_at_once(app, [asker(event_id, n) for n in range(users)])

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, ServiceError)]
    assert unexpected == [], unexpected
    assert [r for r in results if not isinstance(r, Exception)] == [len(UNITS)]
    assert all("没有可开票的报名" in r.message for r in results if isinstance(r, ServiceError))
    assert count(InvoiceRequest) == len(UNITS)
    assert count(InvoiceRequestItem, InvoiceRequestItem.is_current.is_(True)) == len(UNITS)


def test_control_finance_users_asking_for_different_events_all_get_through(app, app_ctx):
    events = [make_event() for _ in range(4)]
    for event in events:
        units_paid(event)
    ids = [event.id for event in events]
    db.session.commit()

    results = run_at_once(app, [asker(event_id, n) for n, event_id in enumerate(ids)])

    assert results == [len(UNITS)] * 4
    assert count(InvoiceRequest) == 4 * len(UNITS)


def test_the_same_zip_read_by_several_jobs_at_once_stores_and_mails_each_invoice_once(
        app, app_ctx):
    event = make_event()
    units_paid(event)
    requests = invoices.request_invoices(event, None, actor=ACTOR).requests
    members = {}
    for n, request in enumerate(requests):
        members.update(fx.invoice_files(fx.FakeInvoice(
            number=fx.invoice_number(5000 + n), buyer_name=request.buyer_name,
            buyer_tax_id=request.buyer_tax_id, total=request.total, remark=request.remark)))
    data = fx.zip_of(members)
    uploads = [invoices.upload_invoices(event, FileStorage(io.BytesIO(data), filename=f"{n}.zip"),
                                        actor=ACTOR).id for n in range(4)]
    db.session.commit()

    def reader(upload_id):
        def job():
            upload = db.session.get(InvoiceUpload, upload_id)
            return invoices.read_invoice_upload(upload, lambda *_: None)
        return job

    results = run_at_once(app, [reader(upload_id) for upload_id in uploads])

    assert [r for r in results if isinstance(r, Exception)] == []
    assert count(IssuedInvoice) == len(UNITS)
    assert count(IssuedInvoice, IssuedInvoice.status == "attached") == len(UNITS)
    assert count(InvoiceRequest, InvoiceRequest.status == "delivered") == len(UNITS)
    assert count(OutboundMail, OutboundMail.kind == "invoice_delivered") == len(UNITS)
    counts = [db.session.get(InvoiceUpload, u).counts for u in uploads]
    assert sorted(c.get("attached", 0) for c in counts) == [0, 0, 0, len(UNITS)]
    assert sorted(c.get("duplicate", 0) for c in counts) == [0] + [len(UNITS)] * 3


def test_a_unit_changing_its_details_while_finance_asks_gets_one_outcome(app, app_ctx):
    """Either the change lands first (and the request is made with the new details), or the
    request does (and the change waits for finance): never a request with the old details and
    the change applied as if nothing had been asked."""
    event = make_event()
    registration, _ = paid(event)
    event_id, registration_id = event.id, registration.id
    new_title = "东关大街街道办事处（财务科）"
    db.session.commit()

    def unit():
        from confreg.models import Registration

        return update_invoice_details(
            db.session.get(Registration, registration_id),
            {**details(), "invoice_title": new_title}, today=china_today(), now=utcnow(),
            actor="单位")

    results = run_at_once(app, [unit, asker(event_id, 0)])

    assert [r for r in results if isinstance(r, Exception)] == []
    request = db.session.scalar(select(InvoiceRequest))
    if results[0] == "changed":
        assert request.buyer_name == new_title and count(InvoiceChange) == 0
    else:
        assert results[0] == "requested"
        change = db.session.scalar(select(InvoiceChange))
        assert request.buyer_name != new_title and change.after["invoice_title"] == new_title
    assert results[1] == 1 and request.total == Decimal("3580.00")
