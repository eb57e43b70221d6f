"""The official e-invoice (issue 10), from the unit's details to the file in its hands: the
queue's states, the batch for the tax platform's bulk-issuing template, the issued files read
back by the real worker and matched (exact → delivered by mail through a real SMTP server with
the file attached; held with the difference; unmatched; duplicates), reversals, units' changes
after the request, receipts and invoices side by side, and who may see what.

The issued files are made by tests/invoice_fixtures.py; the reader and the matching rules have
their own tests (test_invoice_files.py, test_invoice_matching.py)."""
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

import confreg.services.invoices as invoices
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import (AuditEntry, InvoiceChange, InvoiceRequest, InvoiceUpload,
                            IssuedInvoice, Receipt)
from confreg.services import ServiceError
from confreg.services.desk import cancel_by_staff
from confreg.services.registrations import update_invoice_details
from confreg.timeutil import china_today
from tests import invoice_fixtures as fx
from tests.conftest import csrf_token_from, make_event
from tests.test_finance import ACTOR, STANDARD, pay, register

BUYER = "西宁市城东区东关大街街道办事处"
TAX_ID = fx.credit_code("11630102MB1234567")
OTHER_TAX_ID = fx.credit_code("11630103MB7654321")


def details(**overrides) -> dict:
    values = dict(invoice_title=BUYER, invoice_taxpayer_id=TAX_ID,
                  invoice_email="caiwu@dongguan.example.cn")
    values.update(overrides)
    return values


def paid(event, count=1, **unit_values):
    registration, token = register(event, count, **{**details(), **unit_values})
    pay(registration, STANDARD * count)
    return registration, token


def requested(event, registrations=None) -> list[InvoiceRequest]:
    batch = invoices.request_invoices(event, registrations, actor=ACTOR)
    db.session.commit()
    return batch.requests


def issued_for(request: InvoiceRequest, sequence: int, **overrides) -> fx.FakeInvoice:
    """The invoice the platform issues for this request, as the batch asked."""
    values = dict(number=fx.invoice_number(sequence), buyer_name=request.buyer_name,
                  buyer_tax_id=request.buyer_tax_id, total=request.total, remark=request.remark,
                  quantity=request.quantity)
    values.update(overrides)
    return fx.FakeInvoice(**values)


def uploaded(worker, event, data: bytes, name="发票.zip") -> InvoiceUpload:
    upload = invoices.upload_invoices(event, FileStorage(io.BytesIO(data), filename=name),
                                      actor=ACTOR)
    upload_id = upload.id
    db.session.commit()
    worker.settle(timeout=60)
    db.session.commit()
    return db.session.get(InvoiceUpload, upload_id)


def state_of(event, registration) -> str:
    rows = invoices.invoice_queue(event).rows
    return next(row.state for row in rows if row.registration.id == registration.id)


# --- the queue -----------------------------------------------------------------------------

def test_the_queue_puts_each_paying_unit_in_its_state_with_counts(app_ctx):
    event = make_event()
    ready, _ = paid(event)
    waiting, _ = register(event, 1, invoice_title=BUYER, invoice_email="")
    unpaid, _ = register(event, 1, **details())
    special, _ = register(event, 1, **details(invoice_type="special"))
    pay(special, STANDARD)

    queue = invoices.invoice_queue(event)

    states = {row.registration.id: row for row in queue.rows}
    assert states[ready.id].state == "ready"
    assert states[waiting.id].state == "waiting"
    assert states[waiting.id].missing == ["纳税人识别号"]  # the e-mail defaults to the contact's
    assert states[unpaid.id].state == "unpaid"
    assert states[special.id].state == "waiting"
    assert states[special.id].missing == ["购买方地址", "购买方电话", "购买方开户银行", "购买方银行账号"]
    assert (queue.counts["ready"], queue.counts["waiting"], queue.counts["unpaid"]) == (1, 2, 1)

    (request,) = requested(event)
    assert state_of(event, ready) == "requested" and request.status == "requested"
    assert [row.registration.id for row in invoices.invoice_queue(event, "waiting").rows] == [
        waiting.id, special.id]
    assert [row.registration.id for row in invoices.invoice_queue(event, None, "东关").rows]


def test_the_batch_follows_the_platforms_bulk_template_column_for_column(app_ctx):
    event = make_event(invoice_tax_code="3070201020000000000", invoice_tax_rate=Decimal("0.03"))
    registration, _ = paid(event, 2)
    (request,) = requested(event)

    book = load_workbook(io.BytesIO(invoices.batch_workbook([request])))

    # 电子发票服务平台 → 批量开具 → 下载模板: sheet 1 发票基本信息, sheet 2 发票明细信息
    # (the columns we fill, in the template's order; see confreg/services/invoices.py)
    assert book.sheetnames == ["1-发票基本信息", "2-发票明细信息"]
    basic, detail = book["1-发票基本信息"], book["2-发票明细信息"]
    assert [c.value for c in basic[1]] == [
        "发票流水号", "发票类型", "特定业务类型", "是否含税", "受票方自然人标识", "购买方名称",
        "购买方纳税人识别号", "购买方地址", "购买方电话", "购买方开户银行", "购买方银行账号", "备注",
        "是否展示购买方地址电话银行账号", "购买方邮箱"]
    assert [c.value for c in detail[1]] == [
        "发票流水号", "项目名称", "商品和服务税收分类编码", "规格型号", "单位", "数量", "单价", "金额",
        "税率", "折扣金额"]
    row = [c.value for c in basic[2]]
    assert row[0] == request.serial and row[1] == "普通发票" and row[3] == "是"
    assert (row[5], row[6], row[13]) == (BUYER, TAX_ID, "caiwu@dongguan.example.cn")
    assert f"报名编号 {registration.code}" in row[11]
    line = [c.value for c in detail[2]]
    assert line[:3] == [request.serial, "培训服务", "3070201020000000000"]
    assert line[5:9] == [2, float(STANDARD), float(STANDARD * 2), 0.03]
    assert basic.cell(2, 7).number_format == "@"  # the tax ID stays text in Excel


def test_units_paying_together_get_one_invoice_and_the_others_one_each(app_ctx):
    event = make_event()
    first, _ = paid(event, 1, invoice_together=True)
    second, _ = paid(event, 2, invoice_together=True, unit_name="西宁市城东区清真巷社区")
    alone, _ = paid(event, 1, invoice_together=False)
    # the same (public) name and tax ID typed by someone else, with another address: not merged
    stranger, _ = paid(event, 1, invoice_together=True, unit_name="某某单位",
                       invoice_email="someone@example.cn")

    requests = requested(event)

    assert len(requests) == 3
    together = next(r for r in requests if len(r.items) == 2)
    assert together.total == STANDARD * 3 and together.quantity == 3
    assert first.code in together.remark and second.code in together.remark
    others = sorted([i.registration_id for i in r.items] for r in requests if r is not together)
    assert others == sorted([[alone.id], [stranger.id]])


def test_nothing_is_asked_twice_and_an_event_without_invoices_refuses(app_ctx):
    event = make_event()
    paid(event)
    requested(event)
    with pytest.raises(ServiceError, match="没有可开票的报名"):
        invoices.request_invoices(event, None, actor=ACTOR)
    db.session.rollback()
    receipts_only = make_event(documents_mode="receipt")
    paid(receipts_only)
    with pytest.raises(ServiceError, match="不开具电子发票"):
        invoices.request_invoices(receipts_only, None, actor=ACTOR)


# --- the files come back -------------------------------------------------------------------

def test_a_zip_of_issued_files_is_read_by_the_worker_and_each_invoice_mailed_with_its_file(
        app, app_ctx, client, smtp, worker):
    event = make_event()
    (one, token), _ = paid(event), paid(event, 2, unit_name="西宁市城东区清真巷社区",
                                            invoice_email="qzx@example.cn")
    requests = requested(event)
    issued = [issued_for(r, 501 + i) for i, r in enumerate(requests)]
    members = {}
    for invoice in issued:
        members.update(fx.invoice_files(invoice, ("pdf", "xml")))

    upload = uploaded(worker, event, fx.zip_of(members))

    assert upload.status == "done" and upload.counts["attached"] == 2
    assert upload.job.status == "done"
    for request, invoice in zip(requests, issued):
        db.session.refresh(request)
        assert request.status == "delivered"
        stored = db.session.scalar(select(IssuedInvoice).where(IssuedInvoice.number == invoice.number))
        assert (stored.status, stored.request_id, stored.total) == ("attached", request.id,
                                                                    request.total)
        assert stored.pdf_file is not None and stored.xml_file is not None
    messages = {m["To"]: m for m in smtp.messages if "电子发票" in m["Subject"]}
    assert set(messages) == {"caiwu@dongguan.example.cn", "qzx@example.cn"}
    mail = messages["caiwu@dongguan.example.cn"]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == f"电子发票_{issued[0].number}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == fx.invoice_pdf(issued[0])
    assert issued[0].number in smtp.body(mail) and one.code in smtp.body(mail)

    page = client.get(f"/r/{token}")
    assert "发票已开具，已发送至 caiwu@dongguan.example.cn" in page.text
    link = re.search(rf'href="(/r/{token}/invoices/\d+\.pdf)"', page.text)[1]
    download = client.get(link)
    assert download.status_code == 200 and download.data == fx.invoice_pdf(issued[0])
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # another unit's link never reaches this invoice
    other_token = register(event, 1)[1]
    assert client.get(link.replace(token, other_token)).status_code == 404
    audit = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("invoice.%"))).all()
    assert audit.count("invoice.delivered") == 2 and "invoice.upload_read" in audit


def test_a_file_that_disagrees_is_held_with_the_difference_until_finance_decides(
        app_ctx, smtp, worker):
    event = make_event()
    registration, _ = paid(event)
    (request,) = requested(event)
    wrong = issued_for(request, 601, total=Decimal("3850.00"), buyer_name="东关大街街道")

    upload = uploaded(worker, event, fx.invoice_xml(wrong), "one.xml")

    assert upload.counts["held"] == 1 and not upload.counts.get("attached")
    held = db.session.scalar(select(IssuedInvoice))
    assert (held.status, held.proposed_request_id) == ("held", request.id)
    assert held.differences == [
        f"购买方名称：发票为“东关大街街道”，申请为“{BUYER}”",
        "价税合计：发票为 3,850.00 元，申请为 3,580.00 元"]
    assert db.session.get(InvoiceRequest, request.id).status == "requested"
    assert not [m for m in smtp.messages if "电子发票" in m["Subject"]]

    with pytest.raises(ServiceError, match="请选择本活动"):
        invoices.resolve_held(held.id, None, accept=True, note="", actor=ACTOR)
    db.session.rollback()  # as the page does: a refusal leaves nothing (and no lock) behind
    invoices.resolve_held(held.id, request.id, accept=True, note="平台抬头简写，已电话确认",
                          actor=ACTOR)
    db.session.commit()
    assert db.session.get(InvoiceRequest, request.id).status == "delivered"
    db.session.commit()  # the worker sends while nothing here holds the write lock
    assert [m["To"] for m in smtp.messages if "电子发票" in m["Subject"]] == [
        "caiwu@dongguan.example.cn"]
    with pytest.raises(ServiceError, match="已处理过"):
        invoices.resolve_held(held.id, request.id, accept=False, note="", actor=ACTOR)
    db.session.rollback()


def test_an_unmatched_file_is_listed_and_a_second_upload_is_recognised(app_ctx, worker):
    event = make_event()
    paid(event)
    (request,) = requested(event)
    stranger = fx.FakeInvoice(number=fx.invoice_number(701), buyer_name="某某科技有限公司",
                              buyer_tax_id=fx.credit_code("91110108MA0000001"),
                              total=Decimal("100.00"), remark="技术服务费")
    good = issued_for(request, 702)
    data = fx.zip_of({**fx.invoice_files(stranger), **fx.invoice_files(good),
                      "readme.docx": b"PK\x03\x04not really"})

    first = uploaded(worker, event, data)
    again = uploaded(worker, event, data)

    assert (first.counts["attached"], first.counts["unmatched"], first.counts["unreadable"]) == (
        1, 1, 1)
    # the delivered one is a duplicate; the unmatched one is looked at again (still unmatched)
    assert (again.counts["duplicate"], again.counts["unmatched"]) == (1, 1)
    assert not again.counts.get("attached")
    assert db.session.scalar(select(func.count()).select_from(IssuedInvoice)) == 2
    queue = invoices.invoice_queue(event)
    assert [i.number for i in queue.unmatched] == [stranger.number]
    outcomes = {r["number"]: r["outcome"] for r in again.results}
    assert outcomes == {stranger.number: "unmatched", good.number: "duplicate", "": "unreadable"}


def test_an_invoice_uploaded_on_the_wrong_events_page_is_taken_up_on_the_right_one(
        app_ctx, worker):
    right, wrong = make_event(), make_event()
    paid(right)
    (request,) = requested(right)
    invoice = issued_for(request, 1301)
    data = fx.zip_of(fx.invoice_files(invoice))

    first = uploaded(worker, wrong, data)
    assert first.counts["unmatched"] == 1
    stored = db.session.scalar(select(IssuedInvoice))
    invoices.resolve_held(stored.id, None, accept=False, note="传错活动了", actor=ACTOR)
    db.session.commit()

    second = uploaded(worker, right, data)

    assert second.counts["attached"] == 1
    db.session.refresh(stored)
    assert (stored.event_id, stored.status, stored.request_id) == (right.id, "attached", request.id)
    assert db.session.scalar(select(func.count()).select_from(IssuedInvoice)) == 1
    assert db.session.get(InvoiceRequest, request.id).status == "delivered"
    assert "原为已退回" in db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.action == "invoice.uploaded_again"))


def test_an_invoice_never_crosses_events(app_ctx, worker):
    """The same unit registered for two events: the invoice for the one is not matched to the
    other, even with its buyer and amount agreeing."""
    first, second = make_event(), make_event()
    paid(first)
    registration, _ = paid(second)
    (request_first,) = requested(first)
    (request_second,) = requested(second)
    invoice = issued_for(request_first, 801)

    upload = uploaded(worker, second, fx.invoice_xml(invoice), "x.xml")

    # the remark carries the first event's code: unknown here; same buyer → held, never sent
    assert upload.counts.get("attached") is None and upload.counts["held"] == 1
    stored = db.session.scalar(select(IssuedInvoice))
    assert stored.event_id == second.id and stored.proposed_request_id == request_second.id
    assert db.session.get(InvoiceRequest, request_first.id).status == "requested"


def test_an_exact_file_for_a_request_already_invoiced_is_held(app_ctx, worker):
    event = make_event()
    paid(event)
    (request,) = requested(event)
    uploaded(worker, event, fx.invoice_xml(issued_for(request, 901)), "a.xml")
    second = uploaded(worker, event, fx.invoice_xml(issued_for(request, 902)), "b.xml")
    assert second.counts["held"] == 1
    held = db.session.scalar(select(IssuedInvoice).where(IssuedInvoice.status == "held"))
    assert "已发送" in held.reason or "已开具" in held.reason


def test_a_broken_or_foreign_upload_is_refused_at_once_and_nothing_is_stored(app_ctx):
    event = make_event()
    for data in (b"MZ\x90\x00binary", b"GIF89a....", b""):
        with pytest.raises(ServiceError):
            invoices.upload_invoices(event, FileStorage(io.BytesIO(data), filename="x.zip"),
                                     actor=ACTOR)
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(InvoiceUpload)) == 0


# --- reversals -----------------------------------------------------------------------------

def delivered(worker, event, sequence=1001, **unit_values):
    registration, token = paid(event, **unit_values)
    (request,) = requested(event, [registration.id])
    invoice = issued_for(request, sequence)
    uploaded(worker, event, fx.zip_of(fx.invoice_files(invoice)))
    db.session.refresh(request)
    assert request.status == "delivered"
    return registration, token, request, invoice


def test_a_refund_puts_the_issued_invoice_to_be_reversed_and_the_red_number_closes_it(
        app_ctx, worker):
    event = make_event()
    registration, _, request, blue = delivered(worker, event)

    pay(registration, -STANDARD)

    db.session.refresh(request)
    assert request.status == "to_reverse" and "退款" in request.reverse_reason
    assert state_of(event, registration) == "to_reverse"
    with pytest.raises(ServiceError, match="20 位数字"):
        invoices.record_reversal(request.id, "12345", actor=ACTOR)
    db.session.rollback()
    with pytest.raises(ServiceError, match="已登记过"):
        invoices.record_reversal(request.id, blue.number, actor=ACTOR)
    db.session.rollback()
    red_number = fx.invoice_number(1999)
    invoices.record_reversal(request.id, red_number, actor=ACTOR)
    db.session.commit()

    db.session.refresh(request)
    assert request.status == "reversed"
    rows = db.session.scalars(select(IssuedInvoice).order_by(IssuedInvoice.id)).all()
    assert [(r.number, r.red, r.total) for r in rows] == [
        (blue.number, False, STANDARD), (red_number, True, -STANDARD)]
    assert rows[1].original_number == blue.number
    assert db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.action == "invoice.reversed")).startswith(f"登记红字发票 {red_number}")
    assert invoices.invoice_queue(event).counts["reversed"] == 1


def test_an_uploaded_red_letter_file_reverses_its_blue_invoice(app_ctx, worker):
    event = make_event()
    registration, _, request, blue = delivered(worker, event)
    pay(registration, -STANDARD)
    red = fx.FakeInvoice(number=fx.invoice_number(1888), buyer_name=BUYER, buyer_tax_id=TAX_ID,
                         total=STANDARD, original_number=blue.number)

    upload = uploaded(worker, event, fx.zip_of(fx.invoice_files(red)))

    assert upload.counts["red"] == 1
    db.session.refresh(request)
    assert request.status == "reversed"


def test_a_cancelled_registration_withdraws_a_request_not_yet_issued(app_ctx):
    event = make_event()
    registration, token = register(event, 1, **details())
    pay(registration, STANDARD)
    (request,) = requested(event)
    pay(registration, -STANDARD)
    cancel_by_staff(registration, "单位不来了", now=utcnow(), actor=ACTOR)
    db.session.commit()
    db.session.refresh(request)
    assert request.status == "withdrawn"
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "invoice.withdrawn"))


# --- the unit's changes --------------------------------------------------------------------

def change(registration, **values):
    """The unit saves its invoice form: every field as it is, the given ones changed."""
    from confreg.services.registrations import INVOICE_FIELDS

    current = {name: getattr(registration, name) for name in INVOICE_FIELDS}
    result = update_invoice_details(registration, {**current, **details(), **values},
                                    today=china_today(), now=utcnow(), actor="单位")
    db.session.commit()
    return result


def test_before_the_request_the_unit_changes_freely_afterwards_it_asks_finance(app_ctx):
    event = make_event()
    registration, _ = paid(event)
    assert change(registration, invoice_title="东关大街街道办事处（财务科）") == "changed"
    (request,) = requested(event)
    assert request.buyer_name == "东关大街街道办事处（财务科）"

    assert change(registration, invoice_title=BUYER, invoice_taxpayer_id=OTHER_TAX_ID) == "requested"

    db.session.refresh(registration)
    assert registration.invoice_title == "东关大街街道办事处（财务科）"  # not yet
    pending = db.session.scalar(select(InvoiceChange))
    with pytest.raises(ServiceError, match="原因"):
        invoices.decide_change(pending.id, False, "", actor=ACTOR)
    db.session.rollback()
    invoices.decide_change(pending.id, True, "", actor=ACTOR)
    db.session.commit()
    db.session.refresh(registration)
    db.session.refresh(request)
    assert (registration.invoice_title, registration.invoice_taxpayer_id) == (BUYER, OTHER_TAX_ID)
    assert request.status == "withdrawn" and state_of(event, registration) == "ready"
    (again,) = requested(event)
    assert (again.buyer_name, again.buyer_tax_id) == (BUYER, OTHER_TAX_ID)


def test_an_accepted_change_after_delivery_sends_the_invoice_to_be_reversed(app_ctx, worker):
    event = make_event()
    registration, token, request, _ = delivered(worker, event)
    assert change(registration, invoice_taxpayer_id=OTHER_TAX_ID) == "requested"
    pending = db.session.scalar(select(InvoiceChange))
    invoices.decide_change(pending.id, True, "", actor=ACTOR)
    db.session.commit()
    db.session.refresh(request)
    assert request.status == "to_reverse" and "红冲" in request.reverse_reason


def test_a_refused_change_keeps_the_details_and_tells_the_unit_why(app, app_ctx, client):
    event = make_event()
    registration, token = paid(event)
    requested(event)
    change(registration, invoice_title="别的抬头")
    pending = db.session.scalar(select(InvoiceChange))
    invoices.decide_change(pending.id, False, "抬头须与付款单位一致", actor=ACTOR)
    db.session.commit()
    db.session.refresh(registration)
    assert registration.invoice_title == BUYER
    page = client.get(f"/r/{token}")
    assert "抬头须与付款单位一致" in page.text and "已申请开票" in page.text


# --- receipts and invoices side by side ----------------------------------------------------

def test_an_invoice_only_event_issues_no_receipt_and_a_receipt_only_one_shows_no_invoice(
        app, app_ctx, client):
    invoice_only = make_event(documents_mode="invoice")
    registration, token = paid(invoice_only)
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 0
    page = client.get(f"/r/{token}")
    assert "电子发票" in page.text and "待开票" in page.text

    receipt_only = make_event(documents_mode="receipt")
    registration, token = paid(receipt_only)
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 1
    page = client.get(f"/r/{token}")
    assert 'id="invoice-status"' not in page.text
    assert 'name="invoice_title"' not in client.get(f"/events/{receipt_only.key}/register").text


def test_the_unit_page_says_where_the_invoice_is_at_each_step(app, app_ctx, client, worker):
    event = make_event()
    registration, token = register(event, 1, invoice_title=BUYER)
    assert "开票信息待补充" in client.get(f"/r/{token}").text
    assert "纳税人识别号" in client.get(f"/r/{token}").text
    change(registration)
    pay(registration, STANDARD)
    assert "待开票" in client.get(f"/r/{token}").text
    (request,) = requested(event)
    assert "已申请开票" in client.get(f"/r/{token}").text


# --- who may see and do what ---------------------------------------------------------------

def test_only_finance_and_admin_open_the_invoice_desk(app, staff_client):
    with app.app_context():
        event = make_event()
        paid(event)
        url = f"/admin/invoices/events/{event.id}"
    assert staff_client("staff").get(url).status_code == 403
    for role in ("finance", "admin"):
        page = staff_client(role).get(url)
        assert page.status_code == 200 and BUYER in page.text and TAX_ID in page.text


def test_finance_requests_and_downloads_the_batch_in_the_browser_flow(app, app_ctx, staff_client):
    event = make_event()
    registration, _ = paid(event)
    finance = staff_client("finance")
    page = finance.get(f"/admin/invoices/events/{event.id}?state=ready")
    response = finance.post(f"/admin/invoices/events/{event.id}/request",
                            data={"csrf_token": csrf_token_from(page.text), "scope": "all"})
    assert response.status_code == 302
    label = re.search(r"batch=([\w-]+)", response.headers["Location"])[1]
    workbook = finance.get(f"/admin/invoices/events/{event.id}/batches/{label}.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.data))["1-发票基本信息"]
    assert sheet.cell(2, 6).value == BUYER
    assert finance.post(f"/admin/invoices/events/{event.id}/request",
                        data={"scope": "all"}).status_code == 400  # no CSRF token


def test_the_reminder_asks_each_unit_for_exactly_what_its_invoice_lacks(app_ctx, smtp, worker):
    from confreg.services.reminders import send_reminders

    event = make_event()
    no_tax_id, _ = register(event, 1, invoice_title=BUYER, contact_email="a@example.cn")
    special, _ = register(event, 1, **details(invoice_type="special",
                                              invoice_buyer_address="西宁市建国路1号"),
                          unit_name="西宁市城西区民政局", contact_email="b@example.cn")
    complete, _ = register(event, 1, **details(), contact_email="c@example.cn")

    batch = send_reminders(event.id, "invoice_details", today=china_today(), actor=ACTOR)
    db.session.commit()

    assert sorted(batch.sent) == sorted([no_tax_id.code, special.code])
    db.session.commit()  # reading the codes began a transaction: the worker needs the lock
    bodies = {m["To"]: smtp.body(m) for m in smtp.messages if "请补充开票信息" in m["Subject"]}
    assert set(bodies) == {"a@example.cn", "b@example.cn"}
    assert re.findall(r"^- (.+?)\r?$", bodies["a@example.cn"], re.M) == ["纳税人识别号"]
    lacking = re.findall(r"^- (.+?)\r?$", bodies["b@example.cn"], re.M)
    assert lacking == ["购买方电话", "购买方开户银行", "购买方银行账号"]


def test_pruning_old_uploads_spares_the_files_of_invoices_uploads_and_mail(app_ctx, worker):
    """The weekly pruning forgets files no form kept; it used to know only the materials'
    files and took a bank statement's or an issued invoice's file as unattached."""
    from datetime import timedelta

    from sqlalchemy import update

    from confreg.models import StoredFile
    from confreg.services.uploads import prune_unattached, store_file

    event = make_event()
    paid(event)
    (request,) = requested(event)
    upload = uploaded(worker, event, fx.zip_of(fx.invoice_files(issued_for(request, 2101))))
    orphan = store_file(b"%PDF-1.4 never attached", "pdf", "未提交.pdf")
    db.session.execute(update(StoredFile).values(created_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    kept = {upload.file_id, *(f.id for f in db.session.scalar(select(IssuedInvoice)).files)}

    rows, _files = prune_unattached(timedelta(days=1))
    db.session.commit()

    left = set(db.session.scalars(select(StoredFile.id)))
    assert rows == 1 and orphan.id not in left and kept <= left


# --- what the review found: the amount, the address, partial reversals ----------------------

def add_attendee(registration):
    import confreg.services.registrations as registrations
    from confreg.services.registrations import AttendeeDetails, UnitDetails, update_registration

    values = {name: getattr(registration, name)
              for name in registrations.UNIT_FIELDS + registrations.INVOICE_FIELDS}
    values["credit_code"] = values["credit_code"] or ""
    people = [AttendeeDetails(id=a.id, **{k: getattr(a, k) for k in registrations.ATTENDEE_FIELDS})
              for a in registration.attendees]
    first = registration.attendees[0]
    people.append(AttendeeDetails(name="赵敏", gender="F", title="科员", mobile="13700001111",
                                  accommodation="shared", arrival_on=first.arrival_on,
                                  departure_on=first.departure_on))
    update_registration(registration, UnitDetails(**values), people, today=china_today(),
                        now=utcnow(), actor="单位")
    db.session.commit()


def test_people_added_after_the_request_withdraw_it_and_after_delivery_reverse_it(
        app_ctx, worker):
    event = make_event(documents_mode="invoice")  # no receipt stops the change
    registration, _ = paid(event)
    (request,) = requested(event)
    add_attendee(registration)
    db.session.refresh(request)
    assert request.status == "withdrawn" and "3,580.00 元变为 7,160.00 元" in request.reverse_reason
    assert state_of(event, registration) == "unpaid"

    other, _, delivered_request, _ = delivered(worker, event, unit_name="西宁市城西区民政局")
    add_attendee(other)
    db.session.refresh(delivered_request)
    assert delivered_request.status == "to_reverse"
    db.session.commit()  # the change's mail is still to send: the worker needs the write lock


def test_an_unverified_member_price_is_not_ready_to_invoice(app_ctx):
    event = make_event()
    registration, _ = register(event, 1, **details(), tier_claim="committee_member",
                               unit_name="名录里没有的单位")
    assert registration.tier_status == "member_pending"
    pay(registration, "2980")
    assert state_of(event, registration) == "unpaid"
    with pytest.raises(ServiceError, match="没有可开票的报名"):
        invoices.request_invoices(event, None, actor=ACTOR)
    db.session.rollback()


def test_a_new_address_after_delivery_resends_the_invoice_and_reverses_nothing(
        app_ctx, smtp, worker):
    event = make_event()
    registration, _, request, invoice = delivered(worker, event)

    assert change(registration, invoice_email="new-cw@dongguan.example.cn") == "changed"

    db.session.refresh(request)
    assert (request.status, request.email) == ("delivered", "new-cw@dongguan.example.cn")
    assert db.session.scalar(select(func.count()).select_from(InvoiceChange)) == 0
    db.session.commit()
    sent = [m["To"] for m in smtp.messages if invoice.number in m["Subject"]]
    assert sent == ["caiwu@dongguan.example.cn", "new-cw@dongguan.example.cn"]


def test_a_red_invoice_for_part_of_the_amount_is_held_not_taken_as_the_reversal(
        app_ctx, worker):
    event = make_event()
    registration, _, request, blue = delivered(worker, event)
    pay(registration, -STANDARD)
    partial = fx.FakeInvoice(number=fx.invoice_number(1777), buyer_name=BUYER, buyer_tax_id=TAX_ID,
                             total=Decimal("1000.00"), original_number=blue.number)

    upload = uploaded(worker, event, fx.invoice_xml(partial), "red.xml")

    assert upload.counts["held"] == 1
    db.session.refresh(request)
    assert request.status == "to_reverse"
    held = db.session.scalar(select(IssuedInvoice).where(IssuedInvoice.number == partial.number))
    assert "部分冲销" in held.reason


def test_asking_for_all_of_a_searched_list_asks_for_the_ones_shown(app, staff_client):
    with app.app_context():
        event = make_event()
        first, _ = paid(event)
        second, _ = paid(event, 1, unit_name="海东市乐都区碾伯镇社会工作服务站",
                         invoice_title="海东市乐都区碾伯镇社会工作服务站")
        event_id, first_id = event.id, first.id
    finance = staff_client("finance")
    url = f"/admin/invoices/events/{event_id}?state=ready&q=碾伯"
    page = finance.get(url)
    assert "为搜索到的 1 个申请开票" in page.text
    finance.post(f"/admin/invoices/events/{event_id}/request",
                 data={"csrf_token": csrf_token_from(page.text), "scope": "all", "q": "碾伯"})
    with app.app_context():
        (request,) = db.session.scalars(select(InvoiceRequest)).all()
        assert request.buyer_name == "海东市乐都区碾伯镇社会工作服务站"
        assert state_of(db.session.get(type(request.event), event_id),
                        db.session.get(type(first), first_id)) == "ready"


def test_a_new_address_while_a_change_waits_is_kept_when_the_change_is_accepted(app_ctx):
    event = make_event()
    registration, _ = paid(event)
    (request,) = requested(event)
    assert change(registration, invoice_title="东关大街街道办事处（财务科）") == "requested"
    assert change(registration, invoice_title=BUYER,
                  invoice_email="new-cw@dongguan.example.cn") == "changed"
    pending = db.session.scalar(select(InvoiceChange).where(InvoiceChange.status == "pending"))
    # the waiting change keeps its new title; accepting it keeps the new address too
    invoices.decide_change(pending.id, True, "", actor=ACTOR)
    db.session.commit()
    db.session.refresh(registration)
    assert (registration.invoice_title, registration.invoice_email) == (
        "东关大街街道办事处（财务科）", "new-cw@dongguan.example.cn")
