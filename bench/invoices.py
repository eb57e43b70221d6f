#!/usr/bin/env python3
"""A zip of issued e-invoices read back, matched and delivered, against pypdf merely opening them.

    .venv/bin/python bench/invoices.py [--invoices 500]

On a fresh SQLite file with the real migrations it stores one event whose units get the
official invoice, N units paid in full with complete invoice details, asks for their invoices
(confreg.services.invoices.request_invoices, one batch), and builds the zip the tax platform
would hand back: for every request its 数电票 PDF and XML (tests/invoice_fixtures.py, the
platform's layouts). Then it times:

  - baseline: pypdf opening each of the N PDFs (PdfReader and its page count), best of 3;
  - confreg: the worker's job on that upload (confreg.services.invoices.read_invoice_upload):
    open the zip, read every XML and every PDF's text, group them by invoice number, check
    the PDF against its XML, match each invoice to its request, store the files, attach them
    and queue the delivery mail with the file attached -- committed.

Issue 10's target: the whole upload <= 10 s here; also printed, per invoice, as a ratio to
pypdf's opening of its PDF. Exit status 0 PASS, 1 FAIL.
"""
import argparse
import io
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from timing import best_of  # bench/, the folder of this script

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0


def open_pdfs(pdfs: list[bytes]) -> int:
    from pypdf import PdfReader

    return sum(len(PdfReader(io.BytesIO(data)).pages) for data in pdfs)


def build(count: int):
    """The event, N paid units with their details, one batch of requests, the zip back."""
    from confreg.database import utcnow
    from confreg.extensions import db
    from confreg.models import Payment
    from confreg.services import invoices
    from confreg.timeutil import china_today
    from tests import invoice_fixtures as fx
    from tests.conftest import make_event
    from tests.test_finance import register

    event = make_event(key="bench-invoices", capacity=1_000_000, documents_mode="invoice",
                       invoice_tax_code="3070201020000000000")
    for i in range(count):
        registration, _token = register(
            event, 1 + i % 3, unit_name=f"西宁市城东区第{i}社区居民委员会",
            invoice_title=f"西宁市城东区第{i}社区居民委员会",
            invoice_taxpayer_id=fx.credit_code(f"5163010{i:06d}MJ00"[:17]),
            invoice_email=f"unit{i}@example.cn")
        db.session.add(Payment(registration_id=registration.id, amount=registration.total_amount,
                               received_on=china_today(), payer_name=registration.unit_name,
                               created_at=utcnow()))
    db.session.commit()
    batch = invoices.request_invoices(event, None, actor="bench")
    db.session.commit()
    members, pdfs = {}, []
    for n, request in enumerate(batch.requests):
        invoice = fx.FakeInvoice(number=fx.invoice_number(300000 + n), buyer_name=request.buyer_name,
                                 buyer_tax_id=request.buyer_tax_id, total=request.total,
                                 remark=request.remark, quantity=request.quantity)
        files = fx.invoice_files(invoice, ("pdf", "xml"))
        members.update(files)
        pdfs.extend(data for name, data in files.items() if name.endswith(".pdf"))
    return event, fx.zip_of(members), pdfs


def read_upload_once(event, data: bytes):
    from werkzeug.datastructures import FileStorage

    from confreg.extensions import db
    from confreg.models import InvoiceUpload
    from confreg.services import invoices

    upload = invoices.upload_invoices(event, FileStorage(io.BytesIO(data), filename="发票.zip"),
                                      actor="bench")
    db.session.commit()
    db.session.expire_all()
    upload = db.session.get(InvoiceUpload, upload.id)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = invoices.read_invoice_upload(upload, lambda *_: None)
    db.session.commit()
    return time.perf_counter() - wall, time.process_time() - cpu, summary, upload


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=500)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="confreg-invoice-bench-"))
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from confreg import create_app
    from confreg.extensions import db
    from confreg.models import InvoiceRequest, OutboundMail

    app = create_app("config.Config", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'b.db'}",
                     MAIL_OUTBOX_DIR=str(tmp / "outbox"), UPLOAD_DIR=str(tmp / "uploads"),
                     WORKER_BROKER_URL=f"sqlite:///{tmp / 'queue.db'}")
    with app.app_context():
        upgrade()
        started = datetime.now()
        event, data, pdfs = build(args.invoices)
        print(f"set-up: {args.invoices} units paid, {args.invoices} requests, a zip of "
              f"{len(pdfs)} PDF + {len(pdfs)} XML ({len(data) / 1024 / 1024:.1f} MB) in "
              f"{(datetime.now() - started).total_seconds():.1f} s")
        pages = open_pdfs(pdfs)
        baseline = best_of(3, lambda: open_pdfs(pdfs))
        wall, cpu, summary, upload = read_upload_once(event, data)
        delivered = db.session.scalar(select(func.count()).select_from(InvoiceRequest).where(
            InvoiceRequest.status == "delivered"))
        mails = db.session.scalar(select(func.count()).select_from(OutboundMail).where(
            OutboundMail.kind == "invoice_delivered", OutboundMail.attachment_file_id.is_not(None)))
        db.session.remove()

    per_invoice, per_open = wall / args.invoices, baseline / len(pdfs)
    ratio = per_invoice / per_open
    print(f"pypdf opening {len(pdfs)} PDFs ({pages} pages, best of 3)  {baseline:6.3f} s  "
          f"({per_open * 1000:.2f} ms each)")
    print(f"confreg reading, matching, delivering     {wall:6.3f} s  (CPU {cpu:.3f} s)  "
          f"({per_invoice * 1000:.2f} ms per invoice)  {summary}")
    print(f"per invoice, ratio to pypdf opening       {ratio:6.2f}")
    failures = []
    if wall > TARGET_SECONDS:
        failures.append(f"{wall:.2f} s > {TARGET_SECONDS} s")
    if delivered != args.invoices or mails != args.invoices:
        failures.append(f"{delivered} delivered, {mails} mails queued of {args.invoices}")
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
