"""The finance desk: payments, balances and statuses, receipts issued at full payment,
voiding and re-issuing, the receipt PDF, the unit's download, and the staff pages."""
import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from confreg.extensions import db
from confreg.models import AuditEntry, OutboundMail, Payment, Receipt, Registration
from confreg.pdf.receipt import render_receipt
from confreg.services import ServiceError
from confreg.services.finance import (PaymentDetails, balance_of, issue_receipt, payment_status,
                                      receipt_document_of, receipts_for, record_payment,
                                      void_receipt)
from confreg.services.registrations import (AttendeeDetails, UnitDetails, register_unit,
                                            update_registration)
import confreg.services.registrations as registrations
from confreg.database import utcnow
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, form_values, make_event

STANDARD = Decimal("3580")
ACTOR = "财务 测试（cw@example.cn）"


def register(event, count=2, **unit_values):
    values = dict(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other", province="青海省",
                  city="西宁市", contact_name="马晓明", contact_mobile="13912345678",
                  contact_email="contact@example.cn")
    values.update(unit_values)
    people = [AttendeeDetails(name=n, gender="M", title="主任", mobile=f"1391234{5000 + i:04d}",
                              accommodation="shared", arrival_on=event.starts_on,
                              departure_on=event.ends_on)
              for i, n in enumerate(["张伟", "王芳", "李娜", "刘洋"][:count])]
    registration, token = register_unit(event.id, UnitDetails(**values), people,
                                        today=china_today(), now=utcnow())
    db.session.commit()
    return registration, token


def pay(registration, amount, reference=None, **values):
    details = PaymentDetails(amount=Decimal(amount), received_on=values.pop("received_on",
                                                                          china_today()),
                             bank_reference=reference or "", **values)
    payment, receipt = record_payment(registration, details, actor=ACTOR)
    db.session.commit()
    return payment, receipt


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


# --- statuses ---------------------------------------------------------------------------

@pytest.mark.parametrize("expected, received, status", [
    ("7160", "0", "unpaid"),
    ("7160", "3580", "partly_paid"),
    ("7160", "7160", "paid"),
    ("7160", "7200", "over_paid"),
    ("7160", "-10", "unpaid"),
    ("0", "0", "paid"),       # nothing owed (cancelled, refunded): settled
    ("0", "3580", "over_paid"),  # cancelled after paying: to be refunded
])
def test_payment_status_follows_what_is_owed_and_what_came_in(expected, received, status):
    assert payment_status(Decimal(expected), Decimal(received)) == status


def test_payments_take_a_registration_from_unpaid_to_partly_paid_paid_and_over_paid(app_ctx):
    registration, _ = register(make_event(), 2)  # 2 × 3580 = 7160
    assert balance_of(registration).status == "unpaid"

    pay(registration, "3000", "B001")
    assert (balance_of(registration).status, balance_of(registration).outstanding) == \
        ("partly_paid", Decimal("4160.00"))

    pay(registration, "4160", "B002")
    assert (balance_of(registration).status, balance_of(registration).outstanding) == \
        ("paid", Decimal("0.00"))

    pay(registration, "100", "B003")
    balance = balance_of(registration)
    assert (balance.status, balance.outstanding) == ("over_paid", Decimal("-100.00"))

    pay(registration, "-100", "R001", note="退回多付")
    assert balance_of(registration).status == "paid"


def test_a_refund_of_everything_makes_it_unpaid_and_more_than_received_is_refused(app_ctx):
    registration, _ = register(make_event(), 1)
    pay(registration, "3580", "B001")

    pay(registration, "-3580", "R001")
    assert balance_of(registration).status == "unpaid"

    with pytest.raises(ServiceError) as refused:
        pay(registration, "-1", "R002")
    assert refused.value.field == "amount" and "超过已收金额" in refused.value.message


@pytest.mark.parametrize("amount, days_ahead, field", [
    ("0", 0, "amount"), ("12.345", 0, "amount"), ("100", 1, "received_on"),
])
def test_a_zero_amount_a_third_decimal_or_a_future_date_is_refused(app_ctx, amount, days_ahead,
                                                                   field):
    registration, _ = register(make_event(), 1)
    with pytest.raises(ServiceError) as refused:
        pay(registration, amount, received_on=china_today() + timedelta(days=days_ahead))
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count(Payment.id))) == 0


def test_the_same_bank_transaction_number_is_refused_even_for_another_unit(app_ctx):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="另一家单位")
    pay(first, "1000", "2027072012345")

    with pytest.raises(ServiceError) as refused:
        pay(second, "1000", " 2027 0720 12345 ")  # typed with spaces: the same transfer
    db.session.rollback()

    assert refused.value.field == "bank_reference"
    assert "已经登记过" in refused.value.message and first.code in refused.value.message
    assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_payments_without_a_bank_number_may_be_several(app_ctx):
    registration, _ = register(make_event(), 2)
    pay(registration, "100", method="cash")
    pay(registration, "200", method="cash")
    assert balance_of(registration).received == Decimal("300.00")


def test_every_payment_is_audited_with_the_amount_and_the_status_change(app_ctx):
    registration, _ = register(make_event(), 1)
    pay(registration, "1000", "B001")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.recorded"))
    assert entry.actor == ACTOR and entry.registration_id == registration.id
    assert entry.changes["amount"] == [None, "1000.00"]
    assert entry.changes["payment_status"] == ["unpaid", "partly_paid"]
    assert "1,000.00" in entry.summary and "B001" in entry.summary


# --- receipts -----------------------------------------------------------------------------

def test_a_partial_payment_issues_no_receipt(app_ctx):
    registration, _ = register(make_event(), 2)
    _, receipt = pay(registration, "3580", "B001")
    assert receipt is None and receipts_for(registration) == []


def test_full_payment_issues_the_receipt_automatically_as_a_snapshot(app_ctx):
    registration, _ = register(make_event(), 2, invoice_title="西宁市城东区财政局")
    pay(registration, "3580", "B001")

    _, receipt = pay(registration, "3580", "B002")

    year = china_today().year
    assert receipt.number == f"SJ{year}-000001" and (receipt.year, receipt.sequence) == (year, 1)
    assert receipt.payer_name == "西宁市城东区财政局"  # the invoice title before the unit name
    assert receipt.total == Decimal("7160.00")
    assert receipt.total_capitals == "人民币柒仟壹佰陆拾元整"
    assert receipt.lines == [{"label": "其他单位、相关社会机构或个人等", "unit_price": "3580.00",
                              "quantity": 2, "amount": "7160.00"}]
    assert receipt.organiser == registration.event.payee_name
    assert db.session.scalar(select(func.count(AuditEntry.id))
                             .where(AuditEntry.action == "receipt.issued")) == 1
    mail = db.session.scalar(select(OutboundMail).where(OutboundMail.kind == "receipt_issued"))
    assert mail.to_addr == "contact@example.cn" and receipt.number in mail.subject


def test_over_payment_also_issues_the_receipt_for_the_amount_owed(app_ctx):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "4000", "B001")
    assert receipt.total == STANDARD


def test_a_second_receipt_is_refused_while_one_is_valid(app_ctx):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580", "B001")
    with pytest.raises(ServiceError) as refused:
        issue_receipt(registration, actor=ACTOR)
    assert receipt.number in refused.value.message


def test_a_receipt_is_not_issued_before_full_payment_even_by_hand(app_ctx):
    registration, _ = register(make_event(), 1)
    pay(registration, "100", "B001")
    with pytest.raises(ServiceError, match="尚未付清"):
        issue_receipt(registration, actor=ACTOR)


def test_voiding_keeps_the_number_and_the_new_receipt_takes_the_next_one(app_ctx):
    registration, _ = register(make_event(), 1)
    other, _ = register(make_event(), 1, unit_name="另一家单位")
    _, first = pay(registration, "3580", "B001")
    _, second = pay(other, "3580", "B002")

    void_receipt(first, "抬头有误", actor=ACTOR)
    db.session.commit()
    third = issue_receipt(registration, actor=ACTOR)
    db.session.commit()

    year = china_today().year
    assert [r.number for r in receipts_for(registration)] == [f"SJ{year}-000001",
                                                               f"SJ{year}-000003"]
    voided = db.session.get(Receipt, first.id)
    assert (voided.status, voided.void_reason) == ("void", "抬头有误")
    assert voided.voided_at is not None
    assert second.sequence == 2 and third.sequence == 3
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "receipt.voided"))
    assert entry.changes["status"] == ["issued", "void"] and "抬头有误" in entry.summary


def test_voiding_needs_a_reason_and_happens_once(app_ctx):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580", "B001")
    with pytest.raises(ServiceError) as no_reason:
        void_receipt(receipt, "  ", actor=ACTOR)
    assert no_reason.value.field == "reason"
    void_receipt(receipt, "重开", actor=ACTOR)
    db.session.commit()
    with pytest.raises(ServiceError, match="已于此前作废"):
        void_receipt(receipt, "再次", actor=ACTOR)


def test_the_receipt_pdf_shows_number_payer_capitals_and_total(app_ctx):
    registration, _ = register(make_event(), 2, unit_name="西宁市城中区人民街街道办事处")
    _, receipt = pay(registration, "7160", "B001")

    text = pdf_text(render_receipt(receipt_document_of(receipt)))

    flat = re.sub(r"\s+", "", text)
    assert receipt.number in flat
    assert "西宁市城中区人民街街道办事处" in flat
    assert "人民币柒仟壹佰陆拾元整" in flat
    assert "¥7,160.00" in flat and "3,580.00" in flat and "×2" in flat
    assert "收款单位（盖章）" in flat and "经手人" in flat
    assert "作废" not in flat


def test_a_voided_receipt_prints_void_with_its_reason(app_ctx):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580", "B001")
    void_receipt(receipt, "金额有误", actor=ACTOR)
    db.session.commit()

    flat = re.sub(r"\s+", "", pdf_text(render_receipt(receipt_document_of(receipt))))

    assert receipt.number in flat and "本收据已作废：金额有误" in flat and "作废" in flat


def test_a_later_change_of_the_unit_name_does_not_change_an_issued_receipt(app_ctx):
    event = make_event()
    registration, _ = register(event, 1, unit_name="西宁市城东区东关大街街道办事处")
    _, receipt = pay(registration, "3580", "B001")
    pdf_before = pdf_text(render_receipt(receipt_document_of(receipt)))

    values = {name: getattr(registration, name)
              for name in registrations.UNIT_FIELDS + registrations.INVOICE_FIELDS}
    values.update(unit_name="西宁市城东区新名称街道办事处", invoice_title="",
                  credit_code=values["credit_code"] or "")
    people = [AttendeeDetails(id=a.id, **{k: getattr(a, k) for k in registrations.ATTENDEE_FIELDS})
              for a in registration.attendees]
    update_registration(registration, UnitDetails(**values), people, today=china_today(),
                        now=utcnow(), actor="单位联系人")
    db.session.commit()

    assert db.session.get(Registration, registration.id).invoice_title == "西宁市城东区新名称街道办事处"
    receipt = db.session.get(Receipt, receipt.id)
    assert receipt.payer_name == "西宁市城东区东关大街街道办事处"
    assert pdf_text(render_receipt(receipt_document_of(receipt))) == pdf_before


# --- the unit's download -----------------------------------------------------------------

def test_the_unit_downloads_its_receipt_and_another_units_link_gets_404(app, app_ctx, client):
    event = make_event()
    registration, token = register(event, 1)
    _, other_token = register(event, 1, unit_name="另一家单位")
    _, receipt = pay(registration, "3580", "B001")
    number = receipt.number

    own = client.get(f"/r/{token}/receipts/{number}.pdf")
    others = client.get(f"/r/{other_token}/receipts/{number}.pdf")
    wrong_token = client.get(f"/r/{'x' * 32}/receipts/{number}.pdf")

    assert own.status_code == 200 and own.headers["Content-Type"] == "application/pdf"
    assert number in pdf_text(own.data)
    assert own.headers["Cache-Control"] == "no-store"
    assert (others.status_code, wrong_token.status_code) == (404, 404)


# --- the staff pages ----------------------------------------------------------------------

def test_the_finance_page_shows_totals_statuses_and_receipts(app, app_ctx, staff_client):
    event = make_event()
    paid, _ = register(event, 1, unit_name="已付清单位")
    partly, _ = register(event, 2, unit_name="部分付款单位")
    register(event, 1, unit_name="未付款单位")
    _, receipt = pay(paid, "3580", "B001")
    pay(partly, "1000", "B002")

    finance = staff_client("finance")
    page = finance.get(f"/admin/events/{event.id}/finance")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "¥ 14,320.00" in text  # expected: 4 × 3580
    assert "¥ 4,580.00" in text   # received
    assert "¥ 9,740.00" in text   # outstanding
    assert "已缴清 1" in text and "部分缴费 1" in text and "未缴费 1" in text
    assert receipt.number in text and "登记收款" in text
    only_unpaid = finance.get(f"/admin/events/{event.id}/finance?status=unpaid")
    listing = only_unpaid.text.split('<h2 id="receipts">已开具的收据')[0]
    assert "未付款单位" in listing and "已付清单位" not in listing and "部分付款单位" not in listing


def test_the_receipts_of_a_big_event_come_in_pages_newest_first(app, app_ctx, staff_client,
                                                                monkeypatch):
    import confreg.services.finance as finance_service

    monkeypatch.setattr(finance_service, "PAGE_SIZE", 3)
    event = make_event()
    finance = staff_client("finance")
    numbers = []
    for n in range(7):
        registration, _ = register(event, 1, unit_name=f"收据分页单位{n}")
        numbers.append(pay(registration, "3580", f"PG{n:03d}")[1].number)
    db.session.commit()  # the last number was read in a transaction of its own

    def listed(url):
        text = finance.get(url).text
        return re.findall(r"SJ\d{4}-\d{6}", text.split('<h2 id="receipts">')[1]), text

    first, text = listed(f"/admin/events/{event.id}/finance")
    third, _ = listed(f"/admin/events/{event.id}/finance?receipts_page=3")
    beyond, _ = listed(f"/admin/events/{event.id}/finance?receipts_page=99")

    assert first == numbers[::-1][:3] and third == [numbers[0]] and beyond == third
    assert "有效 7 张，已作废 0 张" in text and "收据第 1 / 3 页" in text


def test_staff_see_the_money_read_only_and_cannot_post(app, app_ctx, staff_client):
    event = make_event()
    registration, _ = register(event, 1)
    _, receipt = pay(registration, "3580", "B001")
    staff = staff_client("staff")

    page = staff.get(f"/admin/events/{event.id}/finance")
    pdf = staff.get(f"/admin/receipts/{receipt.id}.pdf")

    assert page.status_code == 200 and receipt.number in page.text
    forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page.text)
    assert forms == ["/admin/logout"]
    assert "/payments/new" not in page.text and "/void" not in page.text
    assert pdf.status_code == 200 and receipt.number in pdf_text(pdf.data)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # sign-out's
    posts = [staff.post(f"/admin/registrations/{registration.id}/payments/new",
                        data={"csrf_token": token, "amount": "1", "received_on": "2027-01-01"}),
             staff.post(f"/admin/receipts/{receipt.id}/void",
                        data={"csrf_token": token, "reason": "x"}),
             staff.post(f"/admin/registrations/{registration.id}/receipts",
                        data={"csrf_token": token})]
    assert [p.status_code for p in posts] == [403, 403, 403]
    assert db.session.get(Receipt, receipt.id).status == "issued"


def payment_form(client, registration_id, **values):
    url = f"/admin/registrations/{registration_id}/payments/new"
    page = client.get(url)
    data = {**form_values(page.text), **values}
    return client.post(url, data=data)


def test_recording_a_full_payment_in_the_browser_issues_and_mails_the_receipt(app, app_ctx,
                                                                              staff_client,
                                                                              smtp):
    registration, _ = register(make_event(), 1)
    finance = staff_client("finance")

    response = payment_form(finance, registration.id, amount="3,580.00",
                            bank_reference="BANK-1")

    assert response.status_code == 302
    number = f"SJ{china_today().year}-000001"
    page = finance.get(response.headers["Location"])
    assert f"已开具收据 {number}" in page.text and "已缴清" in page.text
    # The registration's mail and the receipt's, in whichever order the worker's threads
    # finished them.
    confirmation, message = sorted(smtp.messages, key=lambda m: number in m["Subject"])
    assert "报名确认" in confirmation["Subject"]
    assert number in message["Subject"] and message["To"] == "contact@example.cn"
    assert not list(message.iter_attachments())
    body = smtp.body(message)
    assert "3,580.00" in body and "人民币叁仟伍佰捌拾元整" in body and "私密链接" in body


def test_a_duplicate_bank_number_comes_back_beside_the_field_with_what_was_typed(
        app, app_ctx, staff_client):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="另一家单位")
    pay(first, "100", "DUP-42")
    finance = staff_client("finance")

    response = payment_form(finance, second.id, amount="2980", bank_reference="dup-42",
                            payer_name="某某街道办事处", note="对公转账")

    assert response.status_code == 422
    error = re.search(r'<div class="field has-error">.*?</div>', response.text, re.S).group(0)
    assert 'name="bank_reference"' in error and "已经登记过" in error
    values = form_values(response.text)
    assert (values["amount"], values["payer_name"], values["note"]) == \
        ("2980", "某某街道办事处", "对公转账")
    assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_bad_amounts_are_shown_beside_the_field(app, app_ctx, staff_client):
    registration, _ = register(make_event(), 1)
    finance = staff_client("finance")
    for amount, message in [("abc", "请填写数字金额"), ("0", "金额不能为 0"), ("", "请填写金额")]:
        response = payment_form(finance, registration.id, amount=amount)
        assert response.status_code == 422, amount
        assert message in response.text, amount


def test_voiding_in_the_browser_needs_a_reason_then_reissues_with_a_new_number(
        app, app_ctx, staff_client):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580", "B001")
    finance = staff_client("finance")
    void_url = f"/admin/receipts/{receipt.id}/void"
    token = csrf_token_from(finance.get(void_url).text)

    no_reason = finance.post(void_url, data={"csrf_token": token, "reason": ""})
    voided = finance.post(void_url, data={"csrf_token": token, "reason": "抬头写错"})
    page = finance.get(voided.headers["Location"])
    reissued = finance.post(f"/admin/registrations/{registration.id}/receipts",
                            data={"csrf_token": csrf_token_from(page.text)})

    assert no_reason.status_code == 422 and "请填写作废原因" in no_reason.text
    assert voided.status_code == 302 and "重新开具" in page.text
    assert reissued.status_code == 302
    year = china_today().year
    assert [(r.number, r.status) for r in receipts_for(registration)] == [
        (f"SJ{year}-000001", "void"), (f"SJ{year}-000002", "issued")]


def test_the_unit_finds_its_receipt_on_its_private_page(app, client, staff_client):
    from tests.conftest import make_event, post_form, registration_form

    with app.app_context():
        event = make_event()
        form_url, form = f"/events/{event.key}/register", registration_form(event, 1)
    token = post_form(client, form_url, form).headers["Location"].removeprefix("/r/")
    with app.app_context():
        from confreg.models import Registration
        registration_id = db.session.scalar(select(Registration.id))
    finance = staff_client("finance")
    page = finance.get(f"/admin/registrations/{registration_id}/payments/new")
    from tests.conftest import csrf_token_from
    finance.post(f"/admin/registrations/{registration_id}/payments/new", data={
        "csrf_token": csrf_token_from(page.text), "amount": "3580", "method": "bank_transfer",
        "received_on": china_today().isoformat(), "payer_name": "西宁市城东区东关大街街道办事处",
        "bank_reference": "PRIVATE-PAGE-1", "note": ""})

    private = client.get(f"/r/{token}")
    number = re.search(r"SJ\d{4}-\d{6}", private.text).group(0)
    pdf = client.get(f"/r/{token}/receipts/{number}.pdf")

    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"


# --- a receipt never outlives the amount it states ------------------------------------------

def valid_receipts(registration):
    return db.session.scalars(select(Receipt).where(Receipt.registration_id == registration.id,
                                                    Receipt.status == "issued")).all()


def test_no_receipt_while_the_member_price_waits_and_one_when_it_is_approved(app_ctx):
    from confreg.services.members import approve_member_claim

    registration, _ = register(make_event(), 2, tier_claim="committee_member",
                               unit_name="名录里没有的单位")
    assert registration.tier_status == "member_pending"

    _, receipt = pay(registration, "5960")  # 2 × 2980, paid in full at the member price
    assert receipt is None and valid_receipts(registration) == []
    with pytest.raises(ServiceError, match="会员价尚待核实"):
        issue_receipt(registration, actor=ACTOR)
    db.session.rollback()

    approve_member_claim(registration, actor=ACTOR, now=utcnow())
    db.session.commit()
    [receipt] = valid_receipts(registration)
    assert receipt.total == Decimal("5960.00")


def test_a_rejected_claim_gets_its_receipt_only_when_the_standard_price_is_paid(app_ctx):
    from confreg.services.members import reject_member_claim

    registration, _ = register(make_event(), 2, tier_claim="committee_member",
                               unit_name="名录里没有的单位")
    pay(registration, "5960")
    reject_member_claim(registration, actor=ACTOR, now=utcnow())
    db.session.commit()
    assert valid_receipts(registration) == []  # 7160 owed now, 5960 received

    _, receipt = pay(registration, "1200", reference="REST-1")
    assert receipt is not None and receipt.total == Decimal("7160.00")


def test_a_refund_that_leaves_it_unpaid_voids_the_receipt(app_ctx):
    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580")
    number = receipt.number

    pay(registration, "-3580", reference="REFUND-1")

    voided = db.session.scalar(select(Receipt).where(Receipt.number == number))
    assert voided.status == "void" and "退款" in voided.void_reason
    assert valid_receipts(registration) == []


def test_staff_cancelling_after_a_full_refund_voids_the_receipt(app_ctx):
    from confreg.services.desk import cancel_by_staff

    registration, _ = register(make_event(), 1)
    pay(registration, "3580")
    with pytest.raises(ServiceError, match="不能直接取消"):
        cancel_by_staff(registration, "单位不来了", now=utcnow(), actor=ACTOR)
    db.session.rollback()
    pay(registration, "-3580", reference="REFUND-2")

    cancel_by_staff(registration, "单位不来了", now=utcnow(), actor=ACTOR)
    db.session.commit()

    assert registration.status == "cancelled" and valid_receipts(registration) == []


def test_a_unit_cannot_cancel_a_paid_registration_itself(app, client):
    from tests.conftest import post_form, registration_form

    with app.app_context():
        event = make_event()
        url, form = f"/events/{event.key}/register", registration_form(event, 1)
    token = post_form(client, url, form).headers["Location"].removeprefix("/r/")
    with app.app_context():
        pay(db.session.scalar(select(Registration)), "3580")

    response = post_form(client, f"/r/{token}/cancel", {"confirm": "1"}, follow_redirects=True)

    assert "不能直接取消" in response.text
    with app.app_context():
        assert db.session.scalar(select(Registration.status)) == "active"


def test_after_a_receipt_the_unit_cannot_change_its_amount_online(app, client):
    from tests.conftest import post_form, registration_form

    with app.app_context():
        event = make_event()
        url, form = f"/events/{event.key}/register", registration_form(event, 1)
    token = post_form(client, url, form).headers["Location"].removeprefix("/r/")
    with app.app_context():
        pay(db.session.scalar(select(Registration)), "3580")
    data = form_values(client.get(f"/r/{token}/edit").text)
    data.update({"attendees-1-name": "王芳", "attendees-1-gender": "F", "attendees-1-title": "社工",
                 "attendees-1-mobile": "13912346000", "attendees-1-accommodation": "shared",
                 "attendees-1-diet": "none", "attendees-1-arrival_on": data["attendees-0-arrival_on"],
                 "attendees-1-departure_on": data["attendees-0-departure_on"]})

    added = client.post(f"/r/{token}/edit", data=data)
    renamed = client.post(f"/r/{token}/edit", data={**form_values(
        client.get(f"/r/{token}/edit").text), "attendees-0-name": "张卫"})

    assert added.status_code == 409 and "已开具收据" in added.text
    assert renamed.status_code == 302  # a change that keeps the amount is still the unit's own


def test_finance_corrects_the_invoice_details_and_the_change_is_audited(app, staff_client):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        url = f"/admin/registrations/{registration.id}/payments/new"
        registration_id = registration.id
    finance = staff_client("finance")
    page = finance.get(url)
    assert "发票信息" in page.text and "西宁市城东区东关大街街道办事处" in page.text
    data = {k: v for k, v in form_values(page.text).items() if k.startswith("invoice_")}
    data.update({"csrf_token": csrf_token_from(page.text), "invoice_type": "special",
                 "invoice_taxpayer_id": "91630100MA7523456C"})

    saved = finance.post(f"/admin/registrations/{registration_id}/invoice", data=data)
    missing_id = finance.post(f"/admin/registrations/{registration_id}/invoice",
                              data={**data, "invoice_taxpayer_id": ""})

    assert saved.status_code == 302
    assert missing_id.status_code == 422 and "须填写纳税人识别号" in missing_id.text
    with app.app_context():
        stored = db.session.get(Registration, registration_id)
        assert (stored.invoice_type, stored.invoice_taxpayer_id) == ("special", "91630100MA7523456C")
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "registration.invoice_updated")) == 1


def test_the_database_refuses_a_second_valid_receipt_for_one_registration(app_ctx):
    from sqlalchemy.exc import IntegrityError

    registration, _ = register(make_event(), 1)
    _, receipt = pay(registration, "3580")
    twin = Receipt(registration_id=receipt.registration_id, year=receipt.year,
                   sequence=receipt.sequence + 100, number=receipt.number + "-X",
                   issued_on=receipt.issued_on, payer_name="x", event_title="x", organiser="x",
                   lines=[], total=receipt.total, total_capitals="x", status="issued")
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
