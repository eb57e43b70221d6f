"""Finance imports the bank statement (issue 9): each bank's export read by the real worker,
nothing stored twice, the matches confirmed into payments, receipts and "款项已收到" mail,
mistakes undone without losing history, bad files refused with a clear message and nothing
changed, who may do what, and the reconciliation.

The statements are built by tests/bank_fixtures.py in the banks' own shapes; the pure
matching rules have their own tests in tests/test_bank_matching.py, the reader its own in
tests/test_bank_statement.py."""
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

import confreg.services.bank as bank
from confreg.extensions import db
from confreg.models import (AuditEntry, BankAllocation, BankLayout, BankStatement,
                            BankTransaction, Payment, Receipt)
from confreg.services import ServiceError
from confreg.services.bank import ShareRequest
from confreg.services.finance import PaymentDetails, balance_of, record_payment
from confreg.timeutil import china_today
from tests import bank_fixtures as bf
from tests.conftest import csrf_token_from, form_values, make_event
from tests.test_finance import ACTOR, STANDARD, register

UNIT = "西宁市城东区东关大街街道办事处"


def booked(days_ago: int = 2):
    return china_today() - timedelta(days=days_ago)


def credit(amount, remark="", *, serial=None, payer="北京市朝阳区社会工作协会", days_ago=2, **more):
    return bf.transaction(booked(days_ago), str(amount), serial=serial, payer=payer,
                          remark=remark, **more)


def debit(amount, *, serial=None, payer="", remark="", summary="转账支出", days_ago=1):
    return bf.transaction(booked(days_ago), amount_out=str(amount), serial=serial, payer=payer,
                          remark=remark, summary=summary)


# --- importing -----------------------------------------------------------------------------

def imported(worker, data: bytes, filename: str = "icbc.xls") -> BankStatement:
    """Upload a statement as finance would and let the real worker read it."""
    statement = bank.upload_statement(FileStorage(io.BytesIO(data), filename=filename),
                                      actor=ACTOR)
    statement_id = statement.id
    db.session.commit()  # nothing held while the worker writes; what it wrote read afresh
    worker.settle(timeout=60)
    db.session.commit()
    return db.session.get(BankStatement, statement_id)


def upload(client, data: bytes, filename: str):
    page = client.get("/admin/bank/")
    assert page.status_code == 200, page.status_code
    return client.post("/admin/bank/upload", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token_from(page.text),
                             "file": (io.BytesIO(data), filename)})


def transaction_of(serial: str) -> BankTransaction:
    return db.session.scalar(select(BankTransaction).where(BankTransaction.serial == serial))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def confirm(serial: str, shares=None):
    allocations = bank.confirm_transaction(transaction_of(serial).id, shares, actor=ACTOR)
    db.session.commit()
    return allocations


def payments_of(registration) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(
        Payment.registration_id == registration.id).order_by(Payment.id)))


FORMATS = [
    ("icbc.xls", bf.icbc_xls, True),
    ("icbc.csv", bf.icbc_csv_utf8_bom, True),
    ("ccb.xlsx", bf.ccb_xlsx, True),
    ("abc.csv", bf.abc_csv_gbk, False),   # ABC gives no serial: the fingerprint keys it
    ("abc.txt", bf.abc_txt_tab, False),
    ("boc.xlsx", bf.boc_xlsx, True),
]


@pytest.mark.parametrize("filename, build, has_serials", FORMATS,
                         ids=[name for name, _, _ in FORMATS])
def test_each_banks_export_is_imported_by_the_worker_with_its_counts(
        app, staff_client, worker, filename, build, has_serials):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        code = registration.code
    data = build([credit(STANDARD, f"会议费 {code}", serial="2026120500001"),
                  credit("123.00", "货款", serial="2026120500002", payer="某某贸易有限公司"),
                  debit("15.00", serial="2026120500003", summary="手续费")])
    finance = staff_client("finance")

    response = upload(finance, data, filename)

    assert response.status_code == 302
    worker.settle(timeout=60)
    page = finance.get(response.headers["Location"])
    with app.app_context():
        statement = db.session.scalar(select(BankStatement))
        assert (statement.status, statement.error) == ("done", "")
        assert (statement.rows_total, statement.rows_new, statement.rows_known,
                statement.rows_debit) == (3, 3, 0, 1)
        assert (statement.matched, statement.suggested, statement.unmatched) == (1, 0, 1)
        assert statement.account == bf.ACCOUNT
        stored = db.session.scalars(select(BankTransaction).order_by(BankTransaction.line)).all()
        assert [(t.direction, t.amount) for t in stored] == [
            ("in", STANDARD), ("in", Decimal("123.00")), ("out", Decimal("15.00"))]
        if has_serials:
            assert [t.serial for t in stored] == ["2026120500001", "2026120500002",
                                                  "2026120500003"]
        else:
            assert all(t.serial is None and t.fingerprint for t in stored)
        matched = stored[0]
        assert (matched.pile, matched.rule) == ("matched", "code") and code in matched.explanation
    assert "读取 3 笔：新增 3 笔（其中支出 1 笔）" in page.text
    assert "已导入过 0 笔" in page.text and "已匹配 1" in page.text and "未匹配 1" in page.text


# --- nothing imported twice ----------------------------------------------------------------

def test_the_same_file_uploaded_again_adds_nothing_and_says_every_row_was_known(worker, app_ctx):
    rows = [credit("100.00", "甲", serial="S-0001"), credit("200.00", "乙", serial="S-0002"),
            debit("15.00", serial="S-0003")]
    first = imported(worker, bf.ccb_xlsx(rows), "ccb.xlsx")
    again = imported(worker, bf.ccb_xlsx(rows), "ccb.xlsx")

    assert (first.rows_new, first.rows_known) == (3, 0)
    assert (again.status, again.rows_total, again.rows_new, again.rows_known) == ("done", 3, 0, 3)
    assert "已导入过 3 笔" in bank.import_summary(again)
    assert count(BankTransaction) == 3


def test_an_overlapping_period_adds_only_the_transactions_not_seen_before(worker, app_ctx):
    rows = [credit(f"{100 + n}.00", f"第{n}笔", serial=f"OV-{n}", days_ago=10 - n)
            for n in range(6)]
    imported(worker, bf.boc_xlsx(rows[:4]), "boc-1.xlsx")

    second = imported(worker, bf.boc_xlsx(rows[2:]), "boc-2.xlsx")

    assert (second.rows_total, second.rows_new, second.rows_known) == (4, 2, 2)
    assert sorted(db.session.scalars(select(BankTransaction.serial))) == [
        f"OV-{n}" for n in range(6)]


def test_two_identical_transfers_without_serial_are_two_and_the_same_file_adds_none(
        worker, app_ctx):
    twice = credit("2980.00", "会议费", payer="西宁市城西区民政局")
    data = bf.abc_csv_gbk([twice, dict(twice), credit("50.00", "其他")])

    first = imported(worker, data, "abc.csv")
    again = imported(worker, data, "abc.csv")

    assert (first.rows_new, first.rows_known) == (3, 0)
    assert (again.rows_new, again.rows_known) == (0, 3)
    amounts = db.session.scalars(select(BankTransaction.amount).order_by(BankTransaction.id))
    assert list(amounts) == [Decimal("2980.00"), Decimal("2980.00"), Decimal("50.00")]
    assert len(set(db.session.scalars(select(BankTransaction.fingerprint)))) == 3


def test_a_transfer_recorded_by_hand_is_known_to_the_import_and_gets_its_remark(worker, app_ctx):
    registration, _ = register(make_event(), 1)
    record_payment(registration, PaymentDetails(
        amount=STANDARD, received_on=booked(), bank_reference="2026120512345",
        payer_name="东关街道"), actor=ACTOR)
    db.session.commit()

    statement = imported(worker, bf.icbc_xls([
        credit(STANDARD, "城乡社区工作委员会服务费 东关街道", serial="2026120512345",
               payer=UNIT),
        credit("88.00", "其他", serial="2026120512346")]))

    assert (statement.rows_new, statement.rows_known) == (1, 1)
    manual = transaction_of("2026120512345")
    assert manual.source == "manual" and manual.statement_id == statement.id
    assert manual.remark == "城乡社区工作委员会服务费 东关街道" and manual.payer_account
    assert manual.status == "confirmed" and manual.payer_name == "东关街道"
    assert len(payments_of(registration)) == 1  # the import recorded nothing more


def test_recording_by_hand_a_serial_already_imported_is_refused_naming_the_transfer(
        worker, app_ctx):
    registration, _ = register(make_event(), 1)
    imported(worker, bf.icbc_xls([credit(STANDARD, "会议费", serial="2026120599999",
                                         payer="西宁市城东区财政局")]))

    with pytest.raises(ServiceError) as refused:
        record_payment(registration, PaymentDetails(
            amount=STANDARD, received_on=booked(), bank_reference="2026120599999"), actor=ACTOR)

    assert refused.value.field == "bank_reference"
    assert "2026120599999" in refused.value.message
    assert "西宁市城东区财政局" in refused.value.message and "3,580.00" in refused.value.message
    db.session.rollback()
    assert count(Payment) == 0 and count(BankTransaction) == 1


# --- matching, end to end ------------------------------------------------------------------

def test_a_remark_cut_off_after_six_characters_of_the_code_is_matched_and_pays(worker, app_ctx):
    registration, _ = register(make_event(), 1)
    imported(worker, bf.icbc_xls([credit(STANDARD, f"城乡社区工作委员会服务费{registration.code[:6]}",
                                         serial="CUT-1")]))

    transaction = transaction_of("CUT-1")
    assert (transaction.pile, transaction.rule) == ("matched", "code_prefix")
    confirm("CUT-1")

    assert balance_of(registration).status == "paid"


def test_one_transfer_for_three_registrations_makes_three_allocations_and_payments(
        worker, app_ctx):
    event = make_event()
    units = [register(event, n, unit_name=f"西宁市城北区第{n}社区")[0] for n in (1, 2, 1)]
    total = sum((r.total_amount for r in units), Decimal("0"))
    codes = " ".join(r.code for r in units)
    imported(worker, bf.icbc_xls([credit(total, f"会议费 {codes}", serial="THREE-1",
                                         payer="西宁市城北区民政局")]))
    transaction = transaction_of("THREE-1")
    assert (transaction.pile, transaction.rule) == ("matched", "codes")

    allocations = confirm("THREE-1")

    assert sorted((a.registration_id, a.amount) for a in allocations) == sorted(
        (r.id, r.total_amount) for r in units)
    payments = db.session.scalars(select(Payment)).all()
    assert len(payments) == 3 and {p.bank_reference for p in payments} == {"THREE-1"}
    assert all(balance_of(r).status == "paid" for r in units)
    assert transaction_of("THREE-1").allocated == total


def test_a_short_transfer_leaves_the_registration_partly_paid_with_its_balance(worker, app_ctx):
    registration, _ = register(make_event(), 2)  # 7,160.00
    imported(worker, bf.icbc_xls([credit("7000.00", registration.code, serial="SHORT-1")]))

    confirm("SHORT-1")

    balance = balance_of(registration)
    assert (balance.status, balance.outstanding) == ("partly_paid", Decimal("160.00"))
    assert transaction_of("SHORT-1").credit == 0
    assert count(Receipt) == 0  # a receipt says "paid in full"


def test_an_over_transfer_pays_in_full_and_holds_the_surplus_on_the_transaction(worker, app_ctx):
    registration, _ = register(make_event(), 1)
    imported(worker, bf.icbc_xls([credit("3680.00", registration.code, serial="OVER-1")]))

    confirm("OVER-1")

    transaction = transaction_of("OVER-1")
    assert balance_of(registration).status == "paid"
    assert [p.amount for p in payments_of(registration)] == [STANDARD]
    assert (transaction.status, transaction.allocated, transaction.credit) == (
        "confirmed", STANDARD, Decimal("100.00"))


def test_the_surplus_of_a_confirmed_transfer_can_be_moved_to_another_registration(worker, app_ctx):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="西宁市城西区民政局")
    imported(worker, bf.icbc_xls([credit("4000.00", first.code, serial="MOVE-1")]))
    confirm("MOVE-1")

    confirm("MOVE-1", [ShareRequest(second.id, Decimal("420.00"))])

    transaction = transaction_of("MOVE-1")
    assert (transaction.allocated, transaction.credit) == (Decimal("4000.00"), Decimal("0.00"))
    assert [p.amount for p in payments_of(second)] == [Decimal("420.00")]
    assert balance_of(second).outstanding == STANDARD - Decimal("420.00")
    with pytest.raises(ServiceError):  # nothing left to move
        confirm("MOVE-1", [ShareRequest(second.id, Decimal("0.01"))])


def test_a_debit_line_of_a_later_statement_refunds_the_surplus_of_a_credit(worker, app_ctx):
    registration, _ = register(make_event(), 1)
    imported(worker, bf.icbc_xls([credit("3680.00", registration.code, serial="REF-IN")]))
    confirm("REF-IN")
    imported(worker, bf.icbc_xls([debit("100.00", serial="REF-OUT", payer=UNIT,
                                        remark="退多付会议费")]), "icbc-later.xls")

    bank.record_refund(transaction_of("REF-OUT").id, None, transaction_of("REF-IN").id,
                       actor=ACTOR)
    db.session.commit()

    refund, original = transaction_of("REF-OUT"), transaction_of("REF-IN")
    assert (refund.status, refund.refund_of_id) == ("confirmed", original.id)
    assert original.credit == 0
    assert [p.amount for p in payments_of(registration)] == [STANDARD]  # still paid in full
    assert db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.action == "bank_transaction.refund")).startswith("退还多付款 100.00 元")


def test_a_debit_line_refunded_to_a_registration_becomes_a_negative_payment(worker, app_ctx):
    registration, _ = register(make_event(), 1)
    imported(worker, bf.icbc_xls([credit(STANDARD, registration.code, serial="R-IN"),
                                  debit("580.00", serial="R-OUT", payer=UNIT)]))
    confirm("R-IN")

    bank.record_refund(transaction_of("R-OUT").id, registration.id, None, actor=ACTOR)
    db.session.commit()

    assert [p.amount for p in payments_of(registration)] == [STANDARD, Decimal("-580.00")]
    assert payments_of(registration)[1].bank_reference == "R-OUT"
    assert balance_of(registration).outstanding == Decimal("580.00")
    assert transaction_of("R-OUT").status == "confirmed"
    assert db.session.scalar(select(Receipt.status)) == "void"  # no longer paid in full


# --- confirming ----------------------------------------------------------------------------

def test_confirming_records_the_payment_issues_the_receipt_tells_the_unit_and_audits(
        app, worker, smtp, app_ctx):
    event = make_event()
    paid, _ = register(event, 1)
    short, _ = register(event, 2, unit_name="西宁市城西区民政局", contact_email="minzheng@example.cn")
    imported(worker, bf.icbc_xls([credit(STANDARD, paid.code, serial="MAIL-1"),
                                  credit("5000.00", short.code, serial="MAIL-2")]))

    confirm("MAIL-1")
    confirm("MAIL-2")
    messages = smtp.messages  # (after the commit: the worker's sending needs the database)

    assert [p.bank_reference for p in payments_of(paid)] == ["MAIL-1"]
    receipts = db.session.scalars(select(Receipt)).all()
    assert [(r.registration_id, r.total, r.status) for r in receipts] == [
        (paid.id, STANDARD, "issued")]
    received = {m["To"]: m for m in messages if "款项已收到" in m["Subject"]}
    assert set(received) == {"contact@example.cn", "minzheng@example.cn"}
    full, part = received["contact@example.cn"], received["minzheng@example.cn"]
    assert "3,580.00" in full["Subject"] and "5,000.00" in part["Subject"]
    assert "本次到账：3,580.00 元" in smtp.body(full) and "费用已缴清" in smtp.body(full)
    assert "本次到账：5,000.00 元" in smtp.body(part)
    assert "尚欠：2,160.00 元" in smtp.body(part) and paid.code not in smtp.body(part)
    actions = db.session.execute(select(AuditEntry.action, AuditEntry.object_id)).all()
    confirmed = [object_id for action, object_id in actions
                 if action == "bank_transaction.confirmed"]
    assert sorted(confirmed) == sorted([transaction_of("MAIL-1").id, transaction_of("MAIL-2").id])
    assert sum(1 for action, _ in actions if action == "payment.recorded") == 2


def test_confirming_the_matched_pile_with_one_already_confirmed_does_the_rest(worker, app_ctx):
    event = make_event()
    units = [register(event, 1, unit_name=f"海东市乐都区第{n}社区")[0] for n in range(3)]
    imported(worker, bf.icbc_xls([credit(STANDARD, r.code, serial=f"MANY-{n}")
                                  for n, r in enumerate(units)]))
    ids = [transaction_of(f"MANY-{n}").id for n in range(3)]
    confirm("MANY-1")

    result = bank.confirm_many(ids, actor=ACTOR)
    db.session.commit()

    assert result.confirmed == 2
    assert len(result.problems) == 1 and f"#{ids[1]}" in result.problems[0]
    assert "已由" in result.problems[0]
    assert all(len(payments_of(r)) == 1 for r in units)
    assert {t.status for t in db.session.scalars(select(BankTransaction))} == {"confirmed"}


# --- undoing -------------------------------------------------------------------------------

def test_unassigning_reverses_the_payments_voids_the_receipt_and_deletes_nothing(worker, app_ctx):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="西宁市城西区民政局")
    imported(worker, bf.icbc_xls([credit(STANDARD * 2, f"{first.code} {second.code}",
                                         serial="UNDO-1")]))
    confirm("UNDO-1")
    payments_before = {p.id for p in db.session.scalars(select(Payment))}
    assert count(Receipt) == 2

    bank.unassign_transaction(transaction_of("UNDO-1").id, "分错了单位", actor=ACTOR)
    db.session.commit()

    payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    assert payments_before < {p.id for p in payments} and len(payments) == 4
    reversals = [p for p in payments if p.reverses_id is not None]
    assert sorted((p.reverses_id, p.amount) for p in reversals) == sorted(
        (pid, -STANDARD) for pid in payments_before)
    receipts = db.session.scalars(select(Receipt)).all()
    assert len(receipts) == 2 and {r.status for r in receipts} == {"void"}
    assert all("分错了单位" in r.void_reason for r in receipts)
    allocations = db.session.scalars(select(BankAllocation)).all()
    assert len(allocations) == 2 and {a.status for a in allocations} == {"reversed"}
    assert {a.reverse_reason for a in allocations} == {"分错了单位"}
    transaction = transaction_of("UNDO-1")
    assert (transaction.status, transaction.allocated) == ("open", Decimal("0.00"))
    assert balance_of(first).status == balance_of(second).status == "unpaid"
    assert db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.action == "bank_transaction.unassigned")).endswith("分错了单位")

    confirm("UNDO-1")  # open again: it can be confirmed anew, history kept
    assert count(Payment) == 6 and count(BankAllocation) == 4


def test_ignoring_needs_a_note_and_reopening_brings_the_transfer_back(worker, app_ctx):
    imported(worker, bf.icbc_xls([credit("500.00", "2026年会费", serial="IGN-1")]))
    transaction_id = transaction_of("IGN-1").id

    with pytest.raises(ServiceError) as refused:
        bank.ignore_transaction(transaction_id, "  ", actor=ACTOR)
    assert refused.value.field == "note"
    db.session.rollback()
    assert transaction_of("IGN-1").status == "open"

    bank.ignore_transaction(transaction_id, "会员会费，非本次会议", actor=ACTOR)
    db.session.commit()
    assert (transaction_of("IGN-1").status, transaction_of("IGN-1").note) == (
        "ignored", "会员会费，非本次会议")
    with pytest.raises(ServiceError):
        bank.confirm_transaction(transaction_id, [ShareRequest(1, Decimal("1"))], actor=ACTOR)
    db.session.rollback()

    bank.reopen_transaction(transaction_id, actor=ACTOR)
    db.session.commit()
    assert transaction_of("IGN-1").status == "open"
    assert [a for a, in db.session.execute(select(AuditEntry.action).where(
        AuditEntry.object_type == "bank_transaction").order_by(AuditEntry.id))] == [
        "bank_transaction.ignored", "bank_transaction.reopened"]


# --- allocations never exceed the amount ---------------------------------------------------

def test_shares_adding_up_to_more_than_the_transfer_are_refused(worker, app_ctx):
    event = make_event()
    first, _ = register(event, 1)
    second, _ = register(event, 1, unit_name="西宁市城西区民政局")
    imported(worker, bf.icbc_xls([credit("5000.00", "会议费", serial="MAX-1")]))

    with pytest.raises(ServiceError) as refused:
        confirm("MAX-1", [ShareRequest(first.id, STANDARD),
                          ShareRequest(second.id, Decimal("1420.01"))])

    assert refused.value.field == "amount" and "超过" in refused.value.message
    db.session.rollback()
    assert count(Payment) == count(BankAllocation) == 0
    assert transaction_of("MAX-1").allocated == 0


def test_the_database_itself_refuses_allocating_more_than_the_amount(worker, app_ctx):
    imported(worker, bf.icbc_xls([credit("100.00", "x", serial="DB-1")]))

    with pytest.raises(IntegrityError):
        db.session.execute(update(BankTransaction).where(BankTransaction.serial == "DB-1")
                           .values(allocated=Decimal("100.01")))
        db.session.flush()
    db.session.rollback()
    assert transaction_of("DB-1").allocated == 0


# --- bad files -----------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


@pytest.mark.parametrize("data, filename, message", [
    (PNG + bytes(200), "流水.xls", "不是银行流水"),
    (b"", "流水.xlsx", "文件是空的"),
], ids=["picture-renamed-xls", "empty-file"])
def test_a_file_that_is_no_statement_is_refused_at_upload_beside_the_field(
        app, staff_client, worker, data, filename, message):
    finance = staff_client("finance")

    response = upload(finance, data, filename)

    assert response.status_code == 422
    field = re.search(r'class="field-error"[^>]*>(.*?)<', response.text, re.S)
    assert field and message in field.group(1)
    with app.app_context():
        assert count(BankStatement) == 0 and count(BankTransaction) == 0


def failed_import(worker, data, filename) -> BankStatement:
    statement = imported(worker, data, filename)
    assert statement.status == "failed"
    assert count(BankTransaction) == 0 and count(Payment) == 0
    return statement


def test_a_workbook_with_an_empty_sheet_fails_with_a_message(worker, app_ctx):
    statement = failed_import(worker, bf.write_xlsx([]), "空.xlsx")

    assert "找不到流水表格" in statement.error


def test_a_statement_of_another_account_fails_naming_that_account(worker, app_ctx,
                                                                 monkeypatch):
    registration, _ = register(make_event(), 1)  # the event's account is bf.ACCOUNT
    monkeypatch.setattr(bf, "ACCOUNT", "6222020200112233445")
    data = bf.icbc_xls([credit(STANDARD, registration.code, serial="OTHER-1")])

    statement = failed_import(worker, data, "other.xls")

    assert "6222020200112233445" in statement.error and "0200003409014427548" in statement.error
    assert "没有导入任何一笔" in statement.error
    assert balance_of(registration).status == "unpaid"


def test_a_statement_over_the_row_limit_fails_and_imports_nothing(worker, app_ctx,
                                                                  monkeypatch):
    monkeypatch.setattr(bank, "MAX_STATEMENT_ROWS", 50)  # the worker runs in this process
    rows = [credit(f"{n + 1}.00", f"第{n}笔", serial=f"BIG-{n}") for n in range(51)]

    statement = failed_import(worker, bf.ccb_xlsx(rows), "big.xlsx")

    assert "超过单次导入上限 50 行" in statement.error and statement.rows_new == 0


def test_a_failed_import_says_why_on_the_statement_page(app, staff_client, worker):
    finance = staff_client("finance")
    response = upload(finance, bf.write_xlsx([["中国建设银行单位账户交易明细"]]), "ccb.xlsx")
    worker.settle(timeout=60)

    page = finance.get(response.headers["Location"])

    assert "未能导入" in page.text and 'role="alert"' in page.text


# --- a layout seen for the first time ------------------------------------------------------

def test_an_unknown_layout_is_mapped_once_and_then_imported_without_asking(app, staff_client,
                                                                          worker):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        code = registration.code
    finance = staff_client("finance")
    first = upload(finance, bf.unknown_layout_csv(
        [credit(STANDARD, f"会议费{code}", payer=UNIT)]), "某银行.csv")
    worker.settle(timeout=60)
    with app.app_context():
        statement = db.session.scalar(select(BankStatement))
        assert statement.status == "needs_mapping" and count(BankTransaction) == 0
        statement_id = statement.id
    assert "指定各列的含义" in finance.get(first.headers["Location"]).text
    url = f"/admin/bank/statements/{statement_id}/mapping"
    page = finance.get(url)
    assert page.status_code == 200 and "发生金额（元）" in page.text
    columns = {header: str(i) for i, header in enumerate(bf.UNKNOWN_HEADERS)}

    saved = finance.post(url, data={**form_values(page.text), "booked_on": columns["记账日"],
                                    "payer_name": columns["来款单位"],
                                    "payer_account": columns["来款账户"],
                                    "amount_in": columns["发生金额（元）"],
                                    "remark": columns["款项说明"]})

    assert saved.status_code == 302 and "/admin/jobs/" in saved.headers["Location"]
    worker.settle(timeout=60)
    with app.app_context():
        statement = db.session.get(BankStatement, statement_id)
        assert (statement.status, statement.rows_new, statement.matched) == ("done", 1, 1)
        layout = db.session.scalar(select(BankLayout))
        assert layout.layout == statement.layout and layout.mapping["amount_in"] == 3
    upload(finance, bf.unknown_layout_csv([credit("99.00", "其他款项", payer="某公司")]),
           "某银行-12月.csv")
    worker.settle(timeout=60)
    with app.app_context():
        second = db.session.scalars(select(BankStatement)
                                    .order_by(BankStatement.id.desc())).first()
        assert (second.status, second.rows_new) == ("done", 1)
        assert count(BankLayout) == 1


# --- who may do what -----------------------------------------------------------------------

def bank_pages(app) -> tuple[list[str], list[str]]:
    """Every bank page (GET) and form (POST) of one statement with a credit and a debit."""
    with app.app_context():
        event = make_event()
        registration, _ = register(event, 1)
        from confreg.services.uploads import store_file

        stored = store_file(b"x,y\n", "csv", "x.csv")
        statement = BankStatement(file_id=stored.id, filename="x.csv", status="needs_mapping",
                                  headers=["日期", "金额"])
        db.session.add(statement)
        db.session.flush()
        for serial, direction in (("ACC-IN", "in"), ("ACC-OUT", "out")):
            db.session.add(BankTransaction(statement_id=statement.id, serial=serial,
                                           booked_on=booked(), direction=direction,
                                           amount=Decimal("10"), raw={}, proposal={
                                               "candidates": [{"ids": [registration.id],
                                                               "score": 50, "rule": "amount_only",
                                                               "explanation": ""}]}))
        db.session.commit()
        tin, tout = transaction_of("ACC-IN").id, transaction_of("ACC-OUT").id
        s, e = statement.id, event.id
    gets = ["/admin/bank/", f"/admin/bank/statements/{s}", f"/admin/bank/transactions/{tin}",
            f"/admin/bank/transactions/{tout}", f"/admin/bank/events/{e}/reconciliation",
            f"/admin/bank/events/{e}/reconciliation.xlsx"] + [
        f"/admin/bank/review?pile={pile}"
        for pile in ("matched", "suggested", "unmatched", "debit", "confirmed", "ignored")]
    posts = ["/admin/bank/upload", f"/admin/bank/statements/{s}/mapping",
             "/admin/bank/review/confirm",
             f"/admin/bank/transactions/{tin}", f"/admin/bank/transactions/{tin}/candidate/0",
             f"/admin/bank/transactions/{tin}/ignore", f"/admin/bank/transactions/{tin}/reopen",
             f"/admin/bank/transactions/{tin}/unassign", f"/admin/bank/transactions/{tout}/refund"]
    return gets, posts


def test_staff_may_read_the_bank_pages_but_every_post_is_refused(app, staff_client):
    gets, posts = bank_pages(app)
    staff = staff_client("staff")
    token = csrf_token_from(staff.get("/admin/bank/").text)

    assert [(url, staff.get(url).status_code) for url in gets] == [(url, 200) for url in gets]
    assert [(url, staff.post(url, data={"csrf_token": token, "note": "x", "reason": "x"})
             .status_code) for url in posts] == [(url, 403) for url in posts]
    assert "确认所选" not in staff.get("/admin/bank/review?pile=matched").text
    with app.app_context():
        assert {t.status for t in db.session.scalars(select(BankTransaction))} == {"open"}


def test_reviewers_get_no_bank_page_and_visitors_are_sent_to_sign_in(app, staff_client, client):
    gets, posts = bank_pages(app)
    reviewer = staff_client("reviewer")
    token = csrf_token_from(reviewer.get("/admin/login", follow_redirects=True).text)

    assert {reviewer.get(url).status_code for url in gets} == {403}
    assert {reviewer.post(url, data={"csrf_token": token}).status_code for url in posts} == {403}
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_a_bank_form_posted_without_its_csrf_token_gets_the_expired_page(app, staff_client):
    _gets, posts = bank_pages(app)
    finance = staff_client("finance")

    for url in posts:
        response = finance.post(url, data={"note": "会费", "reason": "错了"})
        assert response.status_code == 400, url
        assert "页面已过期" in response.text, url
    with app.app_context():
        assert {t.status for t in db.session.scalars(select(BankTransaction))} == {"open"}


# --- the pages -----------------------------------------------------------------------------

def test_the_review_page_shows_the_three_piles_with_their_counts(app, staff_client, worker):
    with app.app_context():
        event = make_event()
        first, _ = register(event, 1)
        second, _ = register(event, 1, unit_name="西宁市城西区民政局")
        register(event, 2, unit_name="海东市平安区民政局")  # owes 7,160.00: the amount alone
        codes = first.code, second.code
    finance = staff_client("finance")
    upload(finance, bf.icbc_xls([
        credit(STANDARD, codes[0], serial="P-1"),
        credit(STANDARD, f"会议费{codes[1]}", serial="P-2"),
        credit(STANDARD * 2, "会议费", serial="P-3", payer="某某公司"),  # the amount alone
        credit("77.00", "货款", serial="P-4", payer="某某公司"),
        debit("15.00", serial="P-5", summary="手续费")]), "icbc.xls")
    worker.settle(timeout=60)

    matched = finance.get("/admin/bank/review?pile=matched")
    suggested = finance.get("/admin/bank/review?pile=suggested")
    unmatched = finance.get("/admin/bank/review?pile=unmatched")

    nav = matched.text.split('aria-label="银行流水"', 1)[1].split("</nav>", 1)[0]
    tabs = {pile: re.sub(r"<[^>]+>", "", label).split()[-1]
            for pile, label in re.findall(r'pile=(\w+)"[^>]*>(.*?)</a>', nav, re.S)}
    assert tabs == {"matched": "2", "suggested": "1", "unmatched": "1", "debit": "1",
                    "confirmed": "0", "ignored": "0"}
    assert len(re.findall(r'name="transaction" value="\d+" checked', matched.text)) == 2
    assert codes[0] in matched.text and codes[1] in matched.text and "确认所选" in matched.text
    assert re.search(r'class="badge badge-warn">\d+ 分<', suggested.text)
    assert "海东市平安区民政局" in suggested.text and "分配给此报名" in suggested.text
    assert "77.00" in unmatched.text and "7,160.00" not in unmatched.text


def test_the_units_private_page_shows_paid_and_its_receipt_once_confirmed(app, client,
                                                                          staff_client, worker):
    with app.app_context():
        registration, token = register(make_event(), 1)
        code = registration.code
    finance = staff_client("finance")
    upload(finance, bf.ccb_xlsx([credit(STANDARD, code, serial="PRIV-1", payer=UNIT)]), "ccb.xlsx")
    worker.settle(timeout=60)
    assert "已缴清" not in client.get(f"/r/{token}").text
    review = finance.get("/admin/bank/review?pile=matched")
    ticked = re.findall(r'name="transaction" value="(\d+)" checked', review.text)

    confirmed = finance.post("/admin/bank/review/confirm",
                             data={"csrf_token": csrf_token_from(review.text),
                                   "transaction": ticked})

    assert confirmed.status_code == 302
    assert "已确认 1 笔流水" in finance.get(confirmed.headers["Location"]).text
    private = client.get(f"/r/{token}")
    number = f"SJ{china_today().year}-000001"
    assert "已缴清" in private.text and number in private.text
    assert client.get(f"/r/{token}/receipts/{number}.pdf").status_code == 200


def test_a_non_numeric_amount_on_the_assign_form_is_refused_with_the_text_kept(
        app, staff_client, worker):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        code, registration_id = registration.code, registration.id
        imported(worker, bf.icbc_xls([credit("3580.00", "会议费", serial="TYPED-1",
                                             payer="某某公司")]))
        transaction_id = transaction_of("TYPED-1").id
    finance = staff_client("finance")
    url = f"/admin/bank/transactions/{transaction_id}"
    page = finance.get(f"{url}?q={code}")
    assert f'name="amount-{registration_id}"' in page.text

    response = finance.post(url, data={"csrf_token": csrf_token_from(page.text), "q": code,
                                       "pick": str(registration_id),
                                       f"amount-{registration_id}": "三千五百八"})

    assert response.status_code == 422
    assert re.search(rf'name="amount-{registration_id}"[^>]*value="三千五百八"', response.text)
    assert re.search(r'class="field-error" id="assign-error"[^>]*>[^<]*不是金额', response.text)
    assert 'aria-describedby="assign-error"' in response.text
    with app.app_context():
        assert count(Payment) == count(BankAllocation) == 0
        assert transaction_of("TYPED-1").status == "open"


def test_ids_that_are_no_row_ids_are_ignored_not_a_server_error(app, staff_client, worker):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        imported(worker, bf.icbc_xls([credit(STANDARD, registration.code, serial="ODD-1")]))
        transaction_id = transaction_of("ODD-1").id
    finance = staff_client("finance")
    review = finance.get("/admin/bank/review?pile=matched")
    odd = ["²", "9" * 30, "١"]  # str.isdigit() says yes to each; int() fails or overflows

    confirmed = finance.post("/admin/bank/review/confirm", data={
        "csrf_token": csrf_token_from(review.text), "transaction": odd})
    flashed = finance.get(confirmed.headers["Location"]).text
    assigned = finance.post(f"/admin/bank/transactions/{transaction_id}", data={
        "csrf_token": csrf_token_from(review.text), "pick": odd})

    assert confirmed.status_code == 302 and "没有勾选要确认的流水" in flashed
    assert assigned.status_code == 422 and "请勾选要分配到的报名" in assigned.text
    with app.app_context():
        assert count(Payment) == 0 and transaction_of("ODD-1").status == "open"


def test_assigning_a_transfer_by_search_on_its_page_records_the_payment(app, staff_client,
                                                                       worker):
    with app.app_context():
        registration, _ = register(make_event(), 1)
        code, registration_id = registration.code, registration.id
        imported(worker, bf.icbc_xls([credit("3580.00", "会议费", serial="BY-HAND-1",
                                             payer="西宁市城东区财政局")]))
        transaction_id = transaction_of("BY-HAND-1").id
    finance = staff_client("finance")
    url = f"/admin/bank/transactions/{transaction_id}"
    page = finance.get(f"{url}?q={UNIT[:6]}")  # by a part of the unit's name
    assert f'name="pick" value="{registration_id}"' in page.text and code in page.text

    response = finance.post(url, data={"csrf_token": csrf_token_from(page.text), "q": UNIT[:6],
                                       "pick": str(registration_id),
                                       f"amount-{registration_id}": "3,580.00"})

    assert response.status_code == 302
    assert "撤销分配" in finance.get(url).text
    with app.app_context():
        assert [(p.amount, p.bank_reference) for p in db.session.scalars(select(Payment))] == [
            (STANDARD, "BY-HAND-1")]
        assert db.session.scalar(select(BankAllocation.rule)) == "manual"


# --- reconciliation ------------------------------------------------------------------------

def test_the_reconciliation_accounts_for_every_yuan_of_the_statement(app, worker, app_ctx,
                                                                     staff_client):
    here, there = make_event(), make_event(title="第二次会议", short_title="二次")
    exact, _ = register(here, 1)
    over, _ = register(here, 1, unit_name="西宁市城西区民政局")
    cash, _ = register(here, 1, unit_name="海东市乐都区社会工作服务中心")
    by_hand, _ = register(here, 1, unit_name="海东市平安区民政局")
    elsewhere, _ = register(there, 1, unit_name="西宁市城中区民政局")
    imported(worker, bf.icbc_xls([
        credit(STANDARD, exact.code, serial="REC-1"),
        credit("3680.00", over.code, serial="REC-2"),
        credit(STANDARD, elsewhere.code, serial="REC-3"),
        credit("500.00", "会员会费", serial="REC-4"),
        credit("123.00", "货款", serial="REC-5", payer="某某公司"),
        debit("15.00", serial="REC-6", summary="手续费")]))
    for serial in ("REC-1", "REC-2", "REC-3"):
        confirm(serial)
    bank.ignore_transaction(transaction_of("REC-4").id, "会员会费", actor=ACTOR)
    record_payment(cash, PaymentDetails(amount=STANDARD, received_on=booked(), method="cash"),
                   actor=ACTOR)
    record_payment(by_hand, PaymentDetails(amount=STANDARD, received_on=booked(),
                                           bank_reference="NOT-IN-STATEMENT"), actor=ACTOR)
    db.session.commit()

    result = bank.reconciliation(here)

    assert result.money_in == Decimal("11463.00")  # the statement's five credits
    assert (result.allocated_here, result.allocated_elsewhere) == (STANDARD * 2, STANDARD)
    assert (result.ignored, result.open, result.surplus) == (
        Decimal("500.00"), Decimal("123.00"), Decimal("100.00"))
    assert result.money_in == (result.allocated_here + result.allocated_elsewhere
                               + result.ignored + result.open + result.surplus)
    assert sorted(code for _, code in result.payments_outside) == sorted([cash.code,
                                                                          by_hand.code])
    assert [t.serial for t in result.open_transactions] == ["REC-5"]
    assert [t.serial for t in result.surplus_transactions] == ["REC-2"]
    assert (result.expected, result.received, result.outstanding) == (
        STANDARD * 4, STANDARD * 4, Decimal("0.00"))
    event_id = here.id
    db.session.commit()  # the pages' sessions write (sign-in): this one lets go first
    finance = staff_client("finance")
    page = finance.get(f"/admin/bank/events/{event_id}/reconciliation")
    assert page.status_code == 200 and "11,463.00" in page.text and "REC-5" in page.text
    export = finance.get(f"/admin/bank/events/{event_id}/reconciliation.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    rows = [row for row in sheet.iter_rows(min_row=3, values_only=True) if any(row)]
    assert sorted((row[1], row[6], row[8]) for row in rows) == sorted([
        ("REC-1", exact.code, 3580.0), ("REC-2", over.code, 3580.0),
        ("NOT-IN-STATEMENT", by_hand.code, 3580.0)])


def test_the_assign_search_finds_registrations_by_amount_as_typed_and_by_attendee(app_ctx):
    event = make_event()
    two, _ = register(event, 2, unit_name=UNIT)          # owes 7,160.00; attendees 张伟, 王芳
    one, _ = register(event, 1, unit_name="西宁市城西区虎台街道办事处")  # owes 3,580.00

    def found(query):
        return {registration.code for registration, _ in bank.search_registrations(query)}

    assert found("7,160.00") == found("¥7160") == found("7160元") == {two.code}
    assert found("3580") == {one.code}
    assert found("王芳") == {two.code}
    assert found("NaN") == found("1e30") == set()
