"""Fuzzing every form (issue 8): generated input posted to each public and staff form, by
every role that may use it, on a fixed and reproducible budget per form.

The forms are found from the app itself (every rule that takes a POST); one that is neither
fuzzed here nor excluded below, with its reason, fails the walk. For each form the page is
read for its real fields and current values, then posted with fields replaced by odd text
(Chinese, full-width, control characters, very long, empty, huge numbers, impossible dates),
dropped, repeated or added (rows like attendees-99999-name, the form's own buttons), and odd
files where it takes files. Whatever is posted: never a 5xx; and a refused form (any answer
but a redirect) leaves every table as it was, and a form page that comes back shows the
error beside a field.
"""
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Callable
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import ReviewAssignment
from confreg.services.certificates import issue_certificates
from confreg.services.finance import PaymentDetails, record_payment, void_receipt
from confreg.services.recovery import confirmation_token
from confreg.services.review import assign_reviewers, criteria_of
from confreg.timeutil import china_today
from tests import bank_fixtures as bank_files
from tests.conftest import FormState, add_user, make_event, registration_form
from tests.test_admin_access import EXPECTED_ROLES
from tests.test_cases import EXE, case_data, image_file, make_call, submitted
from tests.test_certificates import complete, register, training_event
from tests.test_materials import WORD
from tests.test_member_registry import csv_bytes, pending_claim
from tests.test_review import add_submission

# Routes that take a POST but are not fuzzed, and why.
NOT_FUZZED = {
    # No input but its CSRF token (test_admin_access posts every staff form without one),
    # and every accepted post would sign the fuzzing client out.
    "admin_auth.logout",
}

# Roles the matrix lets in that can never reach the form: an assignment belongs to a
# reviewer account (assign_reviewers takes only those), so an admin's score page is a 404.
UNREACHABLE = {("admin_review.score", "admin")}

FIELD_ERROR = 'class="field-error"'


# --- reading a form off its page ------------------------------------------------------------

class PageForm(FormState):
    """The one POST form of a page whose action is `action`: what a browser would send from
    it (as pairs: checkboxes of one name send each ticked value), its file inputs, its
    named buttons."""

    def __init__(self, action: str, page: str):
        super().__init__()
        self.wanted, self.page = action, page
        self.action: str | None = None  # the form's action as written, query string and all
        self.pairs: list[tuple[str, str]] = []
        self.files: list[str] = []
        self.buttons: list[tuple[str, str]] = []
        self._inside = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = a.get("action") or self.page  # no action: the page's own address
            self._inside = (a.get("method", "").lower() == "post"
                            and urlsplit(action).path == self.wanted and self.action is None)
            if self._inside:
                self.action = action
            return
        if not self._inside:
            return
        name, kind = a.get("name"), a.get("type", "text")
        if tag == "button" and name:
            self.buttons.append((name, a.get("value") or ""))
        elif tag == "input" and name and kind == "file":
            self.files.append(name)
        elif tag == "input" and name and kind in ("checkbox", "radio"):
            if "checked" in a:
                self.pairs.append((name, a.get("value", "on")))
        elif tag == "input" and name and kind not in ("submit", "button"):
            self.pairs.append((name, a.get("value") or ""))
        else:
            super().handle_starttag(tag, attrs)  # select, option, textarea

    def handle_endtag(self, tag):
        if tag == "form" and self._inside:
            self._inside = False
            self.pairs += list(self.values.items())  # the selects' and textareas' values
            self.values = {}
        elif self._inside:
            super().handle_endtag(tag)

    def handle_data(self, data):
        if self._inside:
            super().handle_data(data)


def page_form(html: str, action: str, page: str = "") -> PageForm | None:
    parser = PageForm(action, page)
    parser.feed(html)
    parser.close()
    return parser if parser.action is not None else None


# --- the forms and how to reach each one -------------------------------------------------------

@dataclass
class Form:
    """Where one form is and what to start from."""

    page: str                       # the page that shows the form
    action: str                     # the path its <form> posts to
    post_to: str | None = None      # a button's formaction, when the post goes elsewhere
    start: dict = field(default_factory=dict)   # values over the page's own (a valid post)
    files: dict = field(default_factory=dict)   # file input -> a valid (bytes, filename)


@dataclass
class Fuzzed:
    setup: Callable[[SimpleNamespace], Form]    # run in an app context; makes what it needs
    budget: int                                 # examples per role
    # Tables a refused post may still write, each by design (see where it is used).
    refused_may_change: frozenset = frozenset()
    accepted: Callable = lambda response: response.status_code in (301, 302, 303)


def _today() -> str:
    return china_today().isoformat()


def _registration(ctx, *, event=None, people: int = 2):
    event = event or make_event()
    registration, token = register(event, people=people)
    return event, registration, token


# public pages

def _register_form(ctx) -> Form:
    event = make_event()
    url = f"/events/{event.key}/register"
    return Form(url, url, start=registration_form(event, attendees=2))


def _case_form(ctx) -> Form:
    event = make_call()
    url = f"/events/{event.key}/submit"
    data = case_data(photos=3)
    files = {k: (v[0].getvalue(), v[1]) for k, v in data.items() if isinstance(v, tuple)}
    return Form(url, url, start={k: v for k, v in data.items() if not isinstance(v, tuple)},
                files=files)


def _case_page(part: str, files: dict):
    def setup(ctx) -> Form:
        event = make_call()
        token = submitted(ctx.anonymous, event)
        return Form(f"/c/{token}", f"/c/{token}/{part}", files=files)
    return setup


def _manage(part: str, start: dict | None = None, files: dict | None = None):
    def setup(ctx) -> Form:
        _event, _registration_row, token = _registration(ctx)
        url = f"/r/{token}/{part}"
        return Form(url, url, start=start or {}, files=files or {})
    return setup


def _recover_form(ctx) -> Form:
    _event, registration, _token = _registration(ctx)
    return Form("/recover", "/recover",
                start={"code": registration.code, "email": registration.contact_email})


def _recover_confirm(ctx) -> Form:
    _event, registration, _token = _registration(ctx)
    url = f"/recover/r/{confirmation_token(registration)}"
    return Form(url, url)


def _login_form(ctx) -> Form:
    add_user("staff", f"fuzz-{ctx.run}@example.cn")
    return Form("/admin/login", "/admin/login",
                start={"email": f"fuzz-{ctx.run}@example.cn", "password": "not the password"})


# the desk

def _attendance(action: str, start: dict | None = None):
    def setup(ctx) -> Form:
        event = training_event()
        registration, _ = register(event, people=3)
        ids = [str(a.id) for a in registration.attendees]
        page = f"/admin/events/{event.id}/attendance"
        values = {"present": ids[:2], "completed": ids[:1]} if start is None else start
        return Form(page, page + action, start=values)
    return setup


def _completed_course():
    event = training_event()
    registration, _ = register(event, people=2)
    complete(*registration.attendees)
    return event


def _generate_certificates(ctx) -> Form:
    event = _completed_course()
    base = f"/admin/events/{event.id}/certificates"
    return Form(f"{base}?kind=completion", f"{base}/completion/generate")


def _print_certificates(ctx) -> Form:
    event = _completed_course()
    issue_certificates(event, "completion", actor="测试")
    db.session.commit()
    base = f"/admin/events/{event.id}/certificates"
    return Form(f"{base}?kind=completion", f"{base}/completion/all.pdf")


def _booklet(suffix: str):
    """The booklet's two buttons, each starting a job (a job row and a redirect to it)."""
    def setup(ctx) -> Form:
        event, first, _second, _reviewer = _review_call(ctx)
        first.selection = "selected"  # the buttons show once the booklet has a material
        db.session.commit()
        page = f"/admin/events/{event.id}/booklet"
        return Form(page, f"{page}/booklet.{suffix}")
    return setup


def _void_certificate(ctx) -> Form:
    event = _completed_course()
    certificate = issue_certificates(event, "completion", actor="测试")[0]
    db.session.commit()
    url = f"/admin/events/{event.id}/certificates/{certificate.id}/void"
    return Form(url, url, start={"reason": "证书姓名有误"})


def _event_edit(ctx) -> Form:
    event = make_event()
    url = f"/admin/events/{event.id}/edit"
    return Form(url, url)


def _event_copy(ctx) -> Form:
    event = make_event()
    return Form(f"/admin/events/{event.id}/edit", f"/admin/events/{event.id}/copy")


def _event_new(ctx) -> Form:
    # Start from a complete event (its edit page), under a key of its own.
    event = make_event()
    page = ctx.client.get(f"/admin/events/{event.id}/edit")
    values = page_form(page.text, f"/admin/events/{event.id}/edit")
    start = {name: value for name, value in values.pairs
             if not name.endswith("-id") and name != "csrf_token"}
    start["key"] = f"new-{ctx.run}"
    return Form("/admin/events/new", "/admin/events/new", start=start)


def _materials_extend(ctx) -> Form:
    event, registration, _token = _registration(ctx)
    url = f"/admin/events/{event.id}/materials/units/{registration.id}/extend"
    return Form(url, url,
                start={"until": (event.materials_deadline + timedelta(days=3)).isoformat()})


def _reminders(ctx) -> Form:
    event, _registration_row, _token = _registration(ctx)
    base = f"/admin/events/{event.id}/reminders"
    return Form(f"{base}?kind=payment_due", base)


def _review_call(ctx):
    event = make_event(kind="call", title="经验案例材料征集", short_title="案例征集",
                       categories=[{"code": "1", "label": "分类一", "title": "体制机制创新"}])
    first = add_submission(event)
    second = add_submission(event, title="一老一小精细化服务项目", unit="昆明市五华区某社区")
    reviewer = add_user("reviewer", f"expert-{ctx.run}@example.cn", "评审专家")
    return event, first, second, reviewer


def _board(post: str | None, start: Callable):
    def setup(ctx) -> Form:
        event, first, second, reviewer = _review_call(ctx)
        board = f"/admin/events/{event.id}/review"
        return Form(board, f"{board}/assign", post_to=f"{board}/{post}" if post else None,
                    start=start(first, second, reviewer))
    return setup


def _assigned(event, submission, reviewer_id: int) -> int:
    """Assign one reviewer to one submission; the assignment's id."""
    assign_reviewers(event, [submission.id], [reviewer_id], actor="测试")
    db.session.commit()
    return db.session.scalar(
        select(ReviewAssignment.id).where(ReviewAssignment.submission_id == submission.id))


def _unassign(ctx) -> Form:
    event, first, _second, reviewer = _review_call(ctx)
    assignment_id = _assigned(event, first, reviewer.id)
    return Form(f"/admin/events/{event.id}/review/submissions/{first.id}",
                f"/admin/events/{event.id}/review/assignments/{assignment_id}/unassign",
                start={"back": str(first.id)})


def _criteria(ctx) -> Form:
    event, *_ = _review_call(ctx)
    url = f"/admin/events/{event.id}/review/criteria"
    return Form(url, url)


def _score(ctx) -> Form:
    event, first, _second, _reviewer = _review_call(ctx)
    assignment_id = _assigned(event, first, ctx.user_id)
    url = f"/admin/review/{assignment_id}"
    return Form(url, url, start={f"score_{c['key']}": "80" for c in criteria_of(event)}
                | {"comment": "材料扎实，做法可复制。"})


def _members_csv(ctx) -> bytes:
    """A registry file with a unit not imported before (else the preview has nothing to do)."""
    return csv_bytes(f"西宁市城东区第{ctx.run}街道办事处,,委员会委员单位,2027-12-31")


def _members_upload(ctx) -> Form:
    return Form("/admin/members/", "/admin/members/upload",
                files={"file": (_members_csv(ctx), "会员名录.csv")})


def _members_confirm(ctx) -> Form:
    page = ctx.client.get("/admin/members/")
    values = page_form(page.text, "/admin/members/upload")
    response = ctx.client.post("/admin/members/upload", content_type="multipart/form-data",
                               data={**dict(values.pairs),
                                     "file": (io.BytesIO(_members_csv(ctx)), "会员名录.csv")})
    assert response.status_code == 302, response.status_code
    return Form(response.headers["Location"], "/admin/members/confirm")


def _claim(decision: str, start: dict):
    def setup(ctx) -> Form:
        # A unit of its own: an approval before may have put the last one in the registry.
        registration = pending_claim(make_event(), unit_name=f"西宁市城北区第{ctx.run}社区服务中心",
                                     credit_code="")
        prefix = f"{decision}-{registration.id}-"
        return Form("/admin/members/claims",
                    f"/admin/members/claims/{registration.id}/{decision}",
                    start={prefix + name: value for name, value in start.items()})
    return setup


def _finance(action: Callable, start: dict | None = None, *, paid: bool = False,
             voided: bool = False):
    def setup(ctx) -> Form:
        _event, registration, _token = _registration(ctx)
        receipt = None
        if paid:
            _payment, receipt = record_payment(
                registration, PaymentDetails(amount=registration.total_amount,
                                             received_on=china_today()), actor="测试")
            if voided:
                void_receipt(receipt, "抬头有误", actor="测试")
            db.session.commit()
        page = f"/admin/registrations/{registration.id}/payments/new"
        url = action(registration, receipt)
        values = dict(start or {})
        if "bank_reference" in values:  # a transfer is recorded once: a reference of its own
            values["bank_reference"] = f"{values['bank_reference']}-{ctx.run}"
        return Form(url if url.endswith("/void") else page, url, start=values)
    return setup


def _desk(part: str, start: Callable, *, query: str = ""):
    def setup(ctx) -> Form:
        _event, registration, _token = _registration(ctx)
        show = f"/admin/registrations/{registration.id}"
        return Form(show + query, f"{show}/{part}", start=start(registration))
    return setup


# finance's bank statements

def _bank_statement(ctx, rows: list[dict], build=bank_files.icbc_xls, name="icbc.xls"):
    """A statement uploaded and read at once (the worker's job, run here)."""
    from werkzeug.datastructures import FileStorage

    from confreg.services import bank

    statement = bank.upload_statement(FileStorage(io.BytesIO(build(rows)), filename=name),
                                      actor="测试")
    bank.import_statement(statement, lambda *progress: None)
    db.session.commit()
    return statement


def _bank_transfers(ctx, *, paid_by_code: bool = True, debit: bool = False):
    """A registration and a statement: a credit of 100 more than it owes naming its code, or
    of exactly what it owes without (the amount alone: a suggestion); maybe a debit."""
    from confreg.models import BankTransaction

    _event, registration, _token = _registration(ctx)
    day = china_today() - timedelta(days=2)
    amount = registration.total_amount + (100 if paid_by_code else 0)
    rows = [bank_files.transaction(day, str(amount), serial=f"FZ{ctx.run}IN",
                                   remark=registration.code if paid_by_code else "会议费")]
    if debit:
        rows.append(bank_files.transaction(day, amount_out="100.00", serial=f"FZ{ctx.run}OUT"))
    _bank_statement(ctx, rows)
    found = {t.direction: t for t in db.session.scalars(
        select(BankTransaction).where(BankTransaction.serial.like(f"FZ{ctx.run}%")))}
    return registration, found["in"], found.get("out")


def _bank_upload(ctx) -> Form:
    _event, registration, _token = _registration(ctx)
    rows = [bank_files.transaction(china_today() - timedelta(days=1), "3580.00",
                                   serial=f"FZ{ctx.run}UP", remark=registration.code)]
    return Form("/admin/bank/", "/admin/bank/upload",
                files={"file": (bank_files.icbc_xls(rows), "工行流水.xls")})


def _bank_mapping(ctx) -> Form:
    from sqlalchemy import delete

    from confreg.models import BankLayout

    db.session.execute(delete(BankLayout))  # a layout not mapped yet (an accepted post maps it)
    rows = [bank_files.transaction(china_today() - timedelta(days=1), "3580.00",
                                   remark=f"会议费{ctx.run}")]
    statement = _bank_statement(ctx, rows, bank_files.unknown_layout_csv, "某银行.csv")
    url = f"/admin/bank/statements/{statement.id}/mapping"
    return Form(url, url, start={"booked_on": "0", "payer_name": "1", "amount_in": "3",
                                 "remark": "4"})


def _bank_confirm(ctx) -> Form:
    _bank_transfers(ctx)
    return Form("/admin/bank/review?pile=matched", "/admin/bank/review/confirm")


def _bank_candidate(ctx) -> Form:
    _registration_row, transfer, _ = _bank_transfers(ctx, paid_by_code=False)
    return Form("/admin/bank/review?pile=suggested",
                f"/admin/bank/transactions/{transfer.id}/candidate/0")


def _bank_assign(ctx) -> Form:
    registration, transfer, _ = _bank_transfers(ctx, paid_by_code=False)
    url = f"/admin/bank/transactions/{transfer.id}"
    return Form(f"{url}?q={registration.code}", url,
                start={"pick": str(registration.id), f"amount-{registration.id}": "3,580.00"})


# finance's e-invoices

def _invoice_event(ctx, *, requested: bool = False):
    """An event with a unit paid in full and its invoice details complete (maybe asked for)."""
    from confreg.services import invoices
    from tests import invoice_fixtures as fx
    from tests.test_finance import STANDARD, register as register_paid

    event = make_event()
    registration, _token = register_paid(
        event, 1, invoice_title="西宁市城东区东关大街街道办事处",
        invoice_taxpayer_id=fx.credit_code("11630102MB1234567"), invoice_email="cw@example.cn")
    record_payment(registration, PaymentDetails(amount=STANDARD, received_on=china_today()),
                   actor="测试")
    request = invoices.request_invoices(event, None, actor="测试").requests[0] \
        if requested else None
    db.session.commit()
    return event, registration, request


def _invoice_queue(state: str, action: Callable, start: Callable = lambda *a: {}, *,
                   requested: bool = False, prepare: Callable | None = None):
    def setup(ctx) -> Form:
        event, registration, request = _invoice_event(ctx, requested=requested)
        thing = prepare(ctx, event, registration, request) if prepare else None
        page = f"/admin/invoices/events/{event.id}" + (f"?state={state}" if state else "")
        return Form(page, action(event, request, thing), start=start(request, thing))
    return setup


def _issued_invoice(ctx, event, registration, request, *, status="held"):
    """An invoice the platform issued for the request, stored as the upload would (held)."""
    from confreg.models import IssuedInvoice
    from confreg.services.uploads import store_file
    from tests import invoice_fixtures as fx

    number = fx.invoice_number(ctx.run * 100 + 7)
    data = fx.invoice_xml(fx.FakeInvoice(number=number, buyer_name=request.buyer_name,
                                         buyer_tax_id=request.buyer_tax_id, total=request.total))
    stored = store_file(data, "xml", f"{number}.xml")
    invoice = IssuedInvoice(event_id=event.id, number=number, buyer_name=request.buyer_name,
                            buyer_tax_id=request.buyer_tax_id, total=request.total,
                            status=status, source="xml", xml_file_id=stored.id,
                            proposed_request_id=request.id, differences=["备注中没有报名编号"],
                            created_at=utcnow())
    db.session.add(invoice)
    db.session.commit()
    return invoice


def _to_reverse(ctx, event, registration, request):
    """The request's invoice issued and delivered, then the money refunded."""
    from confreg.services import invoices

    invoice = _issued_invoice(ctx, event, registration, request)
    invoices.resolve_held(invoice.id, request.id, accept=True, note="", actor="测试")
    record_payment(registration, PaymentDetails(amount=-registration.total_amount,
                                                received_on=china_today()), actor="测试")
    db.session.commit()
    return invoice


def _invoice_change(ctx, event, registration, request):
    from confreg.models import InvoiceChange
    from confreg.services.registrations import update_invoice_details
    from tests import invoice_fixtures as fx

    update_invoice_details(registration, {
        "invoice_title": "东关大街街道办事处（财务科）",
        "invoice_taxpayer_id": fx.credit_code("11630102MB1234567"),
        "invoice_email": "cw@example.cn"}, today=china_today(), now=utcnow(), actor="单位")
    db.session.commit()
    return db.session.scalar(select(InvoiceChange).where(
        InvoiceChange.registration_id == registration.id))


def _invoice_upload(ctx) -> Form:
    from tests import invoice_fixtures as fx

    event, registration, request = _invoice_event(ctx, requested=True)
    invoice = fx.FakeInvoice(number=fx.invoice_number(ctx.run * 100 + 3),
                             buyer_name=request.buyer_name, buyer_tax_id=request.buyer_tax_id,
                             total=request.total, remark=request.remark)
    return Form(f"/admin/invoices/events/{event.id}", f"/admin/invoices/events/{event.id}/upload",
                files={"file": (fx.zip_of(fx.invoice_files(invoice)), "发票.zip")})


def _bank_decision(part: str, start: dict, *, confirmed: bool = False, ignored: bool = False,
                   on_debit: bool = False):
    def setup(ctx) -> Form:
        from confreg.services import bank

        _registration_row, transfer, debit = _bank_transfers(ctx, debit=on_debit)
        if confirmed:
            bank.confirm_transaction(transfer.id, actor="测试")
        if ignored:
            bank.ignore_transaction(transfer.id, "会员会费", actor="测试")
        db.session.commit()
        target = debit if on_debit else transfer
        page = f"/admin/bank/transactions/{target.id}"
        return Form(page, f"{page}/{part}", start=start)
    return setup


def _user_new(ctx) -> Form:
    return Form("/admin/users/new", "/admin/users/new",
                start={"email": f"colleague-{ctx.run}@example.cn", "name": "新同事",
                       "role": "staff", "password": "a long enough password"})


def _user_edit(ctx) -> Form:
    user = add_user("staff", f"colleague-{ctx.run}@example.cn", "老同事")
    url = f"/admin/users/{user.id}/edit"
    return Form(url, url)


FORMS: dict[str, Fuzzed] = {
    # --- public pages ---
    "public.register": Fuzzed(_register_form, 60),
    # A file that passed its check is kept even when the rest of the form is refused, so
    # that the unit is not asked for it again (CarriedUploads): stored_file may grow.
    "cases.submit": Fuzzed(_case_form, 40, frozenset({"stored_file"})),
    "cases.replace_text": Fuzzed(
        _case_page("text", {"text_docx": (WORD, "新正文.docx")}), 20,
        frozenset({"stored_file"})),
    "cases.replace_photos": Fuzzed(
        _case_page("photos", {"photo_1": (image_file("JPEG"), "新照片.jpg")}), 20,
        frozenset({"stored_file"})),
    "cases.replace_forms": Fuzzed(
        _case_page("forms", {"application_form": (image_file("PNG"), "新申报表.png")}), 15,
        frozenset({"stored_file"})),
    "manage.edit": Fuzzed(_manage("edit"), 40),
    "manage.invoice": Fuzzed(_manage("invoice"), 20),
    "manage.cancel": Fuzzed(_manage("cancel"), 6),
    "manage.material": Fuzzed(_manage("material", {"title": "党建引领物业服务的实践与思考",
                                                   "authors": "马晓明"},
                                      {"file": (WORD, "交流材料.docx")}), 25),
    "recover.recover": Fuzzed(_recover_form, 15),
    # The new link is shown on the page itself (a 200), not behind a redirect.
    "recover.confirm": Fuzzed(_recover_confirm, 6,
                              accepted=lambda response: response.status_code in (200, 302)),
    # A wrong password counts towards the account's lock-out (user_account.failed_logins).
    "admin_auth.login": Fuzzed(_login_form, 15, frozenset({"user_account"})),
    # --- the desk ---
    "admin_attendance.save": Fuzzed(_attendance(""), 15),
    "admin_attendance.complete_all": Fuzzed(_attendance("/complete", {"min_days": "1"}), 10),
    "admin_certificates.generate": Fuzzed(_generate_certificates, 5),
    "admin_certificates.void": Fuzzed(_void_certificate, 8),
    "admin_certificates.print_all": Fuzzed(_print_certificates, 4),
    "admin_booklet.pdf": Fuzzed(_booklet("pdf"), 4),
    "admin_booklet.docx": Fuzzed(_booklet("docx"), 4),
    "admin_events.new": Fuzzed(_event_new, 30),
    "admin_events.edit": Fuzzed(_event_edit, 30),
    "admin_events.copy": Fuzzed(_event_copy, 4),
    "admin_materials.extend": Fuzzed(_materials_extend, 10),
    "admin_reminders.send": Fuzzed(_reminders, 6),
    "admin_review.assign": Fuzzed(_board(None, lambda first, second, reviewer: {
        "submission_ids": [str(first.id), str(second.id)],
        "reviewer_ids": [str(reviewer.id)]}), 12),
    "admin_review.select": Fuzzed(_board("selection", lambda first, second, reviewer: {
        "submission_ids": [str(first.id)], "selection": "selected"}), 12),
    "admin_review.marks": Fuzzed(_board("marks", lambda first, second, reviewer: {
        "submission_ids": [str(first.id)], "mark": "presented:1"}), 10),
    "admin_review.unassign_reviewer": Fuzzed(_unassign, 5),
    "admin_review.criteria": Fuzzed(_criteria, 20),
    "admin_review.score": Fuzzed(_score, 20),
    "admin_members.upload": Fuzzed(_members_upload, 15),
    "admin_members.confirm": Fuzzed(_members_confirm, 5),
    "admin_members.approve": Fuzzed(_claim("approve", {
        "add_to_registry": "y", "member_type": "committee_member",
        "valid_until": "2027-12-31"}), 10),
    "admin_members.reject": Fuzzed(_claim("reject", {"reason": "名录中未查到该单位"}), 8),
    "admin_finance.new_payment": Fuzzed(_finance(
        lambda r, _: f"/admin/registrations/{r.id}/payments/new",
        {"amount": "1,000.00", "received_on": _today(),
         "bank_reference": "FUZZ-0001"}), 20),
    "admin_finance.invoice": Fuzzed(_finance(
        lambda r, _: f"/admin/registrations/{r.id}/invoice"), 12),
    "admin_finance.issue": Fuzzed(_finance(
        lambda r, _: f"/admin/registrations/{r.id}/receipts", paid=True, voided=True), 4),
    "admin_finance.void": Fuzzed(_finance(
        lambda _, receipt: f"/admin/receipts/{receipt.id}/void", {"reason": "抬头有误"},
        paid=True), 8),
    "admin_registrations.substitute": Fuzzed(_desk("substitute", lambda r: {
        "attendee_id": str(r.attendees[0].id), "name": "赵敏", "gender": "F",
        "title": "科员", "mobile": "13700001111", "diet": "none"}), 15),
    "admin_registrations.cancel": Fuzzed(_desk("cancel", lambda r: {"reason": "单位通知取消"}), 6),
    "admin_registrations.extend": Fuzzed(_desk("extend", lambda r: {
        "until": (r.event.registration_deadline + timedelta(days=3)).isoformat()}), 10),
    "admin_registrations.edit_unit": Fuzzed(_desk("unit", lambda r: {}, query="?edit=unit"), 15),
    # A statement that passed the upload's check is queued as a job even if reading it
    # fails later: that is the worker's answer, on the statement's page.
    "admin_bank.upload": Fuzzed(_bank_upload, 15),
    "admin_bank.mapping": Fuzzed(_bank_mapping, 15),
    "admin_bank.confirm_matched": Fuzzed(_bank_confirm, 8),
    "admin_bank.take_candidate": Fuzzed(_bank_candidate, 6),
    "admin_bank.transaction": Fuzzed(_bank_assign, 25),
    "admin_bank.ignore": Fuzzed(_bank_decision("ignore", {"note": "会员会费，非本次会议"}), 10),
    "admin_bank.reopen": Fuzzed(_bank_decision("reopen", {}, ignored=True), 5),
    "admin_bank.unassign": Fuzzed(_bank_decision("unassign", {"reason": "分错了单位"},
                                                 confirmed=True), 10),
    # A debit refunding the surplus of the confirmed credit (the select's only choice).
    "admin_bank.refund": Fuzzed(_bank_decision("refund", {}, confirmed=True, on_debit=True), 15),
    "admin_invoices.request_batch": Fuzzed(_invoice_queue(
        "ready", lambda event, *_: f"/admin/invoices/events/{event.id}/request"), 10),
    "admin_invoices.remind": Fuzzed(_invoice_queue(
        "waiting", lambda event, *_: f"/admin/invoices/events/{event.id}/remind",
        prepare=lambda ctx, event, *_: register(event, people=1)), 5),
    # An upload that passed the content check is queued as a job (the worker reads it).
    "admin_invoices.upload": Fuzzed(_invoice_upload, 15),
    "admin_invoices.resolve": Fuzzed(_invoice_queue(
        "", lambda event, request, invoice: f"/admin/invoices/issued/{invoice.id}/resolve",
        lambda request, invoice: {f"r{invoice.id}-request_id": str(request.id)},
        requested=True, prepare=_issued_invoice), 12),
    "admin_invoices.reverse": Fuzzed(_invoice_queue(
        "to_reverse", lambda event, request, _: f"/admin/invoices/requests/{request.id}/reverse",
        lambda request, _: {f"v{request.id}-number": "26632000000000999999"},
        requested=True, prepare=_to_reverse), 15),
    "admin_invoices.decide": Fuzzed(_invoice_queue(
        "", lambda event, request, change: f"/admin/invoices/changes/{change.id}",
        lambda request, change: {"note": "抬头须与付款单位一致"},
        requested=True, prepare=_invoice_change), 10),
    "admin_users.new": Fuzzed(_user_new, 15),
    "admin_users.edit": Fuzzed(_user_edit, 15),
}


# Forms fuzzed by one role of those the matrix lets in: the bank's and the invoices' are
# finance's work (an admin takes the same code path), and their setups read files each.
FUZZ_ROLES = {endpoint: ["finance"] for endpoint in FORMS
              if endpoint.startswith(("admin_bank.", "admin_invoices."))}


def roles_of(endpoint: str) -> list[str | None]:
    """Who may use a form: anyone (None) for the public pages and sign-in, else its roles."""
    if endpoint in FUZZ_ROLES:
        return FUZZ_ROLES[endpoint]
    if endpoint not in EXPECTED_ROLES:
        return [None]
    return [role for role in sorted(EXPECTED_ROLES[endpoint])
            if (endpoint, role) not in UNREACHABLE]


CASES = [(endpoint, role) for endpoint in FORMS for role in roles_of(endpoint)]


def test_every_post_route_is_fuzzed_or_excluded_with_its_reason(app):
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}

    assert posts - FORMS.keys() - NOT_FUZZED == set(), "a form nobody fuzzes"
    assert FORMS.keys() - posts == set() and NOT_FUZZED - posts == set(), "no such route"
    assert FORMS.keys() & NOT_FUZZED == set()


# --- what gets posted ------------------------------------------------------------------------

CONTROL = "".join(map(chr, [*range(0x00, 0x20), 0x7f, *range(0x80, 0xa0)]))
ODD = "\u200b\u200e\u202e\u2028\u2029\ufeff\u00a0\u0301\u3000"
FULL_WIDTH = "".join(map(chr, range(0xff01, 0xff5f)))
HAN = "张王李赵刘陈中华人民共和国西宁市城东区街道办事处社区委员会𠀀𠮷"
SPECIAL = [
    "", " ", "\t\r\n", "\u3000\u3000", "０１２３４５６７８９", "ＡＢＣ＠ｅｘａｍｐｌｅ．ｃｎ", "张伟",
    "\x00", "a\x00b", "\x1b[31m红\x1b[0m", "\ud7ff\ue000", "😀👨‍👩‍👧", "𠀀𠮷𪚥",
    "<script>alert(1)</script>", "'; DROP TABLE users; --", "{{ 7*7 }}", "%s%n", "../../etc/passwd",
    "y", "on", "true", "false", "None", "null", "[]", "{}",
    "a@b", "a@b.c", "name@例子.中国", "x@" + "a" * 300 + ".cn",
    "91630100MA752345X", "913301006727891234", "1391234500", "139123450001", "+8613912345678",
]
LONG_UNITS = ["字", "a", "０", "😀", " ", "\x00", "\n"]


NUMBERS = ["-1", "0", "-0", "00", "+1", "0.001", "1.5", "1e3", "1e-30", "1e309", "-1e309",
           "NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "1,000", "1，000", "¥2980", "2980元",
           "９９", "٣", "²", "Ⅻ", "9" * 30, "-" + "9" * 30, str(2 ** 31), str(2 ** 31 - 1),
           str(2 ** 63), str(-(2 ** 63) - 1), "9999999999.99", "10000000000", "0x1F", "1_000"]
DATES = ["2026-02-30", "2026-02-29", "2028-02-29", "2026-13-01", "2026-00-10", "2026-04-31",
         "0000-00-00", "0001-01-01", "1900-01-01", "9999-12-31", "10000-01-01", "2026/03/01",
         "2026-3-1", "20260301", "２０２６－０３－０１", "2026-03-01T00:00", "2026-03-01 ",
         "-2026-03-01", "+2026-03-01"]


def odd_number():
    return st.one_of(st.sampled_from(NUMBERS),
                     st.integers(min_value=-10 ** 40, max_value=10 ** 40).map(str),
                     st.integers(min_value=0, max_value=60).map(str),  # another row's id
                     st.decimals(allow_nan=True, allow_infinity=True).map(str))


def odd_date():
    return st.one_of(st.sampled_from(DATES), st.dates().map(date.isoformat),
                     st.tuples(st.integers(0, 99999), st.integers(0, 99), st.integers(0, 99))
                     .map(lambda d: f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}"))


def odd_text():
    return st.one_of(
        st.sampled_from(SPECIAL),
        st.text(max_size=30),
        st.text(alphabet=HAN + FULL_WIDTH + CONTROL + ODD + "0123456789-@. ", max_size=60),
        odd_number(),
        odd_date(),
        st.builds(lambda unit, n: unit * n, st.sampled_from(LONG_UNITS), st.integers(100, 20_000)),
    )


NUMBER_LIKE = re.compile(r"-?[0-9][0-9,.]*")
DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER_NAMES = re.compile(r"amount|capacity|limit|weight|score|min_days|_id$|^id$|-id$")
DATE_NAMES = re.compile(r"_on$|date|deadline|until|day$")


def twisted(name: str, current: str, values: tuple[str, str, str]) -> str:
    """An odd value of the field's own kind: a number for a number, a date for a date."""
    number, day, text = values
    if DATE_LIKE.fullmatch(current) or (not current and DATE_NAMES.search(name)):
        return day
    if NUMBER_LIKE.fullmatch(current) or (not current and NUMBER_NAMES.search(name)):
        return number
    return text


ROW = re.compile(r"^(.+?)-(\d+)-(.+)$")
ROW_INDICES = ["99999", "50", "51", "61", "1", "2", "-1", "01", "²", "１", "1e3", "9" * 30, ""]
EXTRA_NAMES = [
    "attendees-99999-name", "attendees-0-id", "attendees-1-id", "attendees-2-name",
    "attendees-5000-mobile", "attendees-²-name", "attendees--name", "fee_tiers-99999-code",
    "fee_tiers-0-id", "schedule_items-9999-day", "contacts-50-kind", "criteria-99999-weight",
    "criteria-0-key", "add_attendee", "remove_attendee", "add_fee_tier", "remove_fee_tier",
    "add_schedule_item", "remove_schedule_item", "add_contact", "remove_contact",
    "submission_ids", "reviewer_ids", "present", "listed", "completed", "day", "back", "mark",
    "selection", "submission_key", "credit_code_confirmed", "id_number", "kept_text_docx",
    "kept_text_pdf", "kept_photo_1", "kept_application_form", "remove_1", "upload", "kind",
    "next", "id", "csrf_token", "status", "published", "role", "active",
]
FILE_NAMES = ["材料.docx", "正文.pdf", "照片.jpg", "图片.png", "名录.csv", "名录.xlsx", "file",
              "", ".docx", "a" * 300 + ".pdf", "../../etc/passwd", "名\x00录.csv", "申报表.PNG"]
MAGIC = [b"", b"PK\x03\x04", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0",
         b"\xef\xbb\xbf", b"MZ"]


def odd_uploads():
    """A file as a browser would send it: junk, a renamed program, empty, none, or the form's
    good file under another name or cut short (resolved against the form when posted)."""
    named = st.sampled_from(FILE_NAMES)
    return st.one_of(
        st.tuples(st.just("bytes"), st.builds(bytes.__add__, st.sampled_from(MAGIC),
                                              st.binary(max_size=2048)), named),
        st.tuples(st.just("bytes"), st.just(EXE),
                  st.sampled_from(["材料.docx", "正文.pdf", "照片.jpg", "名录.csv", "名录.xlsx",
                                   "申报表.png"])),
        st.tuples(st.just("bytes"), st.just(b""), named),
        st.just(("bytes", b"", "")),  # the input left empty
        st.tuples(st.just("good"), st.just(1.0), named),
        st.tuples(st.just("good"), st.floats(0, 1, exclude_max=True), named),  # cut short
    )


# An edit names its field by a number, taken modulo the form's own list when it is applied:
# the strategy does not depend on the page, which changes between examples.
PICK = st.integers(0, 2 ** 16)


def edits():
    """Edits to the page's values: set, drop, repeat or add a field, press a button, change a file."""
    new_name = st.one_of(
        st.tuples(st.just("extra"), st.sampled_from(EXTRA_NAMES)),
        st.tuples(st.just("extra"), st.text(max_size=20)),
        st.tuples(st.just("row"), PICK, st.sampled_from(ROW_INDICES)
                  | st.integers(0, 10 ** 12).map(str)),
        st.tuples(st.just("button"), PICK))
    return st.lists(st.one_of(
        st.tuples(st.just("set"), PICK, odd_text()),
        st.tuples(st.just("twist"), PICK, st.tuples(odd_number(), odd_date(), odd_text())),
        st.tuples(st.just("drop"), PICK, st.none()),
        st.tuples(st.just("repeat"), PICK, odd_text()),
        st.tuples(st.just("add"), new_name, odd_text()),
        st.tuples(st.just("press"), PICK, st.none()),
        st.tuples(st.just("file"), PICK, odd_uploads()),
    ), max_size=8)


def _pick(items: list, number: int):
    return items[number % len(items)] if items else None


def resolve(edit, pairs: list, names: list[str], files: dict,
            buttons: list) -> tuple | None:
    """An edit as (op, field name, value) on this form; None where the form has no such thing."""
    op, which, value = edit
    if op == "twist":
        name = _pick(names, which)
        current = next((v for n, v in pairs if n == name and isinstance(v, str)), "")
        return ("set", name, twisted(name, current, value)) if name else None
    if op in ("set", "drop", "repeat"):
        name = _pick(names, which)
        return (op, name, value) if name else None
    if op == "press":
        button = _pick(buttons, which)
        return ("add", *button) if button else None
    if op == "file":
        name = _pick(sorted(files), which)
        if name is None:
            return None
        kind, content, filename = value
        if kind == "good":
            good = files[name]
            if not good:
                return None
            content = good[:max(1, int(len(good) * content))] if content < 1 else good
        return "set", name, (content, filename)
    how, *what = which
    if how == "extra":
        return "add", what[0], value
    if how == "button":
        button = _pick(buttons, what[0])
        return ("add", button[0], value) if button else None
    rows = [match.groups() for name in names if (match := ROW.match(name))]
    row = _pick(rows, what[0])
    return ("add", f"{row[0]}-{what[1]}-{row[2]}", value) if row else None


def apply(pairs: list, changes: list) -> list:
    pairs = list(pairs)
    for op, name, value in changes:
        if op in ("set", "drop"):
            pairs = [(n, v) for n, v in pairs if n != name]
        if op != "drop":
            pairs.append((name, value))
    return pairs


# --- what is stored -------------------------------------------------------------------------

def table_digests(app) -> dict[str, int]:
    """A checksum of every table's rows: what changed, not only how many there are."""
    with app.app_context(), db.engine.connect() as connection:
        return {table.name: hash(tuple(sorted(repr(tuple(row))
                                              for row in connection.execute(table.select()))))
                for table in db.metadata.sorted_tables}


# --- the fuzzing ----------------------------------------------------------------------------

class Fuzzing:
    """One form, one client, many posts. After an accepted post the next example starts from
    a form made afresh (an accepted post may have used its target up: a cancelled
    registration, a voided receipt, a key now taken); after a refused one the same page and
    the same tables serve again, since nothing changed."""

    def __init__(self, app, client, spec: Fuzzed, ctx: SimpleNamespace):
        self.app, self.client, self.spec, self.ctx = app, client, spec, ctx
        self.form: Form | None = None
        self.stale = True

    def _setup(self) -> Form:
        with self.app.app_context():
            try:
                self.ctx.run += 1
                return self.spec.setup(self.ctx)
            finally:
                db.session.remove()

    def refresh(self) -> None:
        for _attempt in range(2):
            if self.form is None:
                self.form = self._setup()
            page = self.client.get(self.form.page)
            found = page_form(page.text, self.form.action, self.form.page) if page.status_code == 200 else None
            if found is not None:
                break
            self.form = None  # used up by an accepted post: make another
        else:
            raise AssertionError(f"{self.ctx.endpoint}: the form is not on its page "
                                 f"({page.status_code})")
        start = self.form.start
        pairs = [(n, v) for n, v in found.pairs if n not in start]
        for name, value in start.items():
            pairs += [(name, v) for v in (value if isinstance(value, list) else [value])]
        pairs += [(name, self.form.files[name]) for name in found.files if name in self.form.files]
        self.pairs = pairs
        self.names = sorted({n for n, _ in pairs if not n.endswith("csrf_token")}
                            - set(found.files))
        self.files = {name: self.form.files.get(name, (None,))[0] for name in found.files}
        self.buttons = found.buttons
        self.url = self.form.post_to or found.action
        self.multipart = bool(found.files)
        self.before = table_digests(self.app)
        self.stale = False

    def post(self, edits: list):
        self.changes = [change for edit in edits
                        if (change := resolve(edit, self.pairs, self.names, self.files,
                                               self.buttons))]
        data = MultiDict()
        for name, value in apply(self.pairs, self.changes):
            data.add(name, (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value)
        extra = {"content_type": "multipart/form-data"} if self.multipart else {}
        response = self.client.post(self.url, data=data, **extra)
        response.close()
        return response

    def check(self, response) -> None:
        edits = self.changes
        status = response.status_code
        assert status < 500, (status, edits)
        if self.ctx.role is not None:
            assert "/admin/login" not in response.headers.get("Location", ""), "signed out"
        if self.spec.accepted(response):
            self.form, self.stale = None, True  # the next example starts from a fresh form
            return
        after = table_digests(self.app)
        changed = {t for t in after if after[t] != self.before[t]} - self.spec.refused_may_change
        assert changed == set(), f"refused ({status}) but stored in {sorted(changed)}: {edits}"
        self.before = after
        if status == 422 and response.mimetype == "text/html":
            assert FIELD_ERROR in response.text, f"422 without an error beside a field: {edits}"


# A deeper run (say FUZZ_SCALE=20, nightly) multiplies every form's budget; still reproducible.
BUDGET_SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FUZZ_SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("endpoint, role", CASES,
                         ids=[f"{e}-{r or 'anyone'}" for e, r in CASES])
def test_fuzzed_posts_never_fail_and_refused_ones_store_nothing(app, staff_client, tmp_path,
                                                                 monkeypatch, endpoint, role):
    monkeypatch.setitem(app.config, "MEMBER_IMPORT_DIR", str(tmp_path / "member-imports"))
    spec = FORMS[endpoint]
    anonymous = app.test_client()
    client = staff_client(role) if role else anonymous
    with app.app_context():
        from confreg.models import User
        user_id = db.session.scalar(select(User.id).where(User.email == f"{role}@example.cn"))
    fuzzing = Fuzzing(app, client, spec, SimpleNamespace(
        endpoint=endpoint, role=role, client=client, anonymous=anonymous, user_id=user_id, run=0))

    @settings(max_examples=spec.budget * BUDGET_SCALE, **FUZZ_SETTINGS)
    @given(edits())
    def post_variations(changes):
        if fuzzing.stale:
            fuzzing.refresh()
        fuzzing.check(fuzzing.post(changes))

    post_variations()
