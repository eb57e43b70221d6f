"""The finance desk: what each registration owes and paid, payments, receipts (收据)."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...database import utcnow
from ...extensions import db
from ...forms.finance import IssueReceiptForm, PaymentForm, VoidReceiptForm
from ...forms.errors import show_beside_field
from ...forms.registration import InvoiceForm
from ...models import Receipt, Registration
from ...pdf.receipt import render_receipt
from ...services import ServiceError
from ...services.finance import (PAYMENT_STATUSES, RECEIPT_STATUSES, PaymentDetails,
                                 active_receipt, balance_of, event_finance, issue_receipt,
                                 payments_for, receipt_document_of, receipts_for,
                                 record_payment, void_receipt)
from ...services.registrations import INVOICE_SAVED, update_invoice_details
from ...timeutil import china_today
from ..paging import page_arg
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_finance", __name__, url_prefix="/admin")

READERS = ("finance", "staff")  # staff see the money, read-only
WRITERS = ("finance",)


def _registration_or_404(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        abort(404)
    return registration


def _receipt_or_404(receipt_id: int) -> Receipt:
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        abort(404)
    return receipt


def _can_write() -> bool:
    return current_user.role in ("admin", *WRITERS)


@bp.route("/events/<int:event_id>/finance")
@roles_required(*READERS)
def index(event_id: int):
    event = event_or_404(event_id)
    status = request.args.get("status") or None
    query = (request.args.get("q") or "").strip()[:100]
    page = event_finance(event.id, status=status, query=query,
                         page=page_arg(), receipts_page=page_arg("receipts_page"))
    return render_template("admin/finance/index.html", event=event, page=page,
                           status=status if status in PAYMENT_STATUSES else None, query=query,
                           statuses=PAYMENT_STATUSES, receipt_statuses=RECEIPT_STATUSES,
                           can_write=_can_write())


@bp.route("/registrations/<int:registration_id>/payments/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new_payment(registration_id: int):
    registration = _registration_or_404(registration_id)
    form = PaymentForm()
    if request.method == "GET":
        form.received_on.data = china_today()
        form.payer_name.data = registration.invoice_title or registration.unit_name
    if form.validate_on_submit():
        details = PaymentDetails(
            amount=form.amount.amount, received_on=form.received_on.data,
            payer_name=form.payer_name.data or "", bank_reference=form.bank_reference.data or "",
            method=form.method.data, note=form.note.data or "")
        try:
            payment, receipt = record_payment(registration, details, actor=actor_name(),
                                              recorded_by_id=current_user.id)
        except ServiceError as error:
            db.session.rollback()
            return _payment_page(registration, form, error=error)
        db.session.commit()
        kind = "退款" if payment.amount < 0 else "收款"
        message = f"已登记{kind} {payment.amount:,.2f} 元。"
        if receipt is not None:
            message += f"已付清，已开具收据 {receipt.number} 并通知单位。"
        flash(message, "success")
        return redirect(url_for(".new_payment", registration_id=registration.id))
    return _payment_page(registration, form, status=422 if request.method == "POST" else 200)


def _payment_page(registration: Registration, form: PaymentForm, *,
                  error: ServiceError | None = None, status: int = 200,
                  invoice_form: InvoiceForm | None = None):
    """The registration's money: balance, payments, receipts, and the payment form."""
    general_error = None
    if error is not None:
        if not show_beside_field(form, error):
            general_error = error.message
        status = 422
    # The form keeps what was typed; the page around it is read again from the database.
    registration = db.session.get(Registration, registration.id)
    return render_template(
        "admin/finance/registration.html", registration=registration, event=registration.event,
        form=form, general_error=general_error, balance=balance_of(registration),
        payments=payments_for(registration), receipts=receipts_for(registration),
        current_receipt=active_receipt(registration), issue_form=IssueReceiptForm(),
        invoice_form=invoice_form or InvoiceForm(obj=registration),
    ), status


@bp.route("/registrations/<int:registration_id>/invoice", methods=["POST"])
@roles_required(*WRITERS)
def invoice(registration_id: int):
    """Finance sees and corrects the invoice details (抬头, 纳税人识别号) before issuing the 发票."""
    registration = _registration_or_404(registration_id)
    form = InvoiceForm()
    if form.validate_on_submit():
        changed = update_invoice_details(registration, form.data, today=china_today(),
                                         now=utcnow(), actor=actor_name(), by_finance=True)
        db.session.commit()
        flash(INVOICE_SAVED[changed], "success")
        return redirect(url_for(".new_payment", registration_id=registration.id))
    return _payment_page(registration, PaymentForm(formdata=None), invoice_form=form, status=422)


@bp.route("/registrations/<int:registration_id>/receipts", methods=["POST"])
@roles_required(*WRITERS)
def issue(registration_id: int):
    registration = _registration_or_404(registration_id)
    back = url_for(".new_payment", registration_id=registration.id)
    if not IssueReceiptForm().validate_on_submit():
        abort(400)
    try:
        receipt = issue_receipt(registration, actor=actor_name(), issued_by_id=current_user.id)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(f"已开具收据 {receipt.number} 并通知单位。", "success")
    return redirect(back)


@bp.route("/receipts/<int:receipt_id>/void", methods=["GET", "POST"])
@roles_required(*WRITERS)
def void(receipt_id: int):
    receipt = _receipt_or_404(receipt_id)
    form = VoidReceiptForm()
    back = url_for(".new_payment", registration_id=receipt.registration_id)
    if receipt.is_void:
        flash(f"收据 {receipt.number} 已作废。", "info")
        return redirect(back)
    if form.validate_on_submit():
        try:
            void_receipt(receipt, form.reason.data, actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            if error.field == "reason":
                form.reason.errors = [*form.reason.errors, error.message]
                return _void_page(receipt, form, 422)
            flash(error.message, "error")
            return redirect(back)
        db.session.commit()
        flash(f"收据 {receipt.number} 已作废；该编号保留，不再使用。如需重新开具，请点“重新开具”。",
              "success")
        return redirect(back)
    return _void_page(receipt, form, 422 if request.method == "POST" else 200)


def _void_page(receipt: Receipt, form: VoidReceiptForm, status: int):
    receipt = db.session.get(Receipt, receipt.id)
    return render_template("admin/finance/void.html", receipt=receipt,
                           registration=receipt.registration, event=receipt.registration.event,
                           form=form), status


@bp.route("/receipts/<int:receipt_id>.pdf")
@roles_required(*READERS)
def receipt_pdf(receipt_id: int):
    receipt = _receipt_or_404(receipt_id)
    return receipt_response(receipt)


def receipt_response(receipt: Receipt):
    """The receipt's PDF as a response, shown in the browser, named by its number."""
    response = make_response(render_receipt(receipt_document_of(receipt)))
    response.headers["Content-Type"] = "application/pdf"
    # 收据 in UTF-8 for browsers that read filename*, the number alone for the others.
    response.headers["Content-Disposition"] = (
        f"inline; filename=receipt-{receipt.number}.pdf; "
        f"filename*=UTF-8''%E6%94%B6%E6%8D%AE-{receipt.number}.pdf")
    response.headers["Cache-Control"] = "no-store"
    return response
