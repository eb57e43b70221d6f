"""A unit's private pages, reached only by the secret link."""
from flask import (Blueprint, abort, flash, g, make_response, redirect, render_template, request,
                   session, url_for)
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..forms.registration import ConfirmForm, InvoiceForm, RegistrationEditForm
from ..forms.registration_rows import clean_rows, rebuild_rows, row_action
from ..models import AuditEntry
from ..pdf.payment_notice import render_payment_notice
from ..services import ServiceError
from ..services.documents import payment_notice_of
from ..services.finance import balance_of, receipts_for
from ..services.invoices import invoices_of, unit_status
from ..services.registrations import (INVOICE_SAVED, can_cancel, can_edit_attendees, can_edit_invoice,
                                      cancel_refusal, cancel_registration, find_by_token, update_invoice_details,
                                      update_registration)
from ..timeutil import china_today
from .formdata import attendee_details, form_data_of, unit_details

bp = Blueprint("manage", __name__, url_prefix="/r")


@bp.url_value_preprocessor
def load_registration(endpoint, values):
    token = (values or {}).pop("token", "")
    registration = find_by_token(token)
    if registration is None:
        abort(404)  # a wrong link and another unit's missing page look the same
    g.registration = registration
    g.token = token


@bp.url_defaults
def keep_token(endpoint, values):
    if "token" not in values and getattr(g, "token", None):
        values["token"] = g.token


@bp.after_request
def private_headers(response):
    # The link is the key: keep it out of caches and out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _actor(registration) -> str:
    return f"单位联系人 {registration.contact_name}（私密链接）"


@bp.route("/<token>")
def show(token=None):
    registration = g.registration
    today = china_today()
    just_registered = session.pop("new_registration", None) == registration.code
    balance = balance_of(registration)
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.registration_id == registration.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    return render_template(
        "manage/show.html", registration=registration, event=registration.event,
        just_registered=just_registered, history=history,
        can_edit=can_edit_attendees(registration, today),
        can_edit_invoice=can_edit_invoice(registration, today),
        can_cancel=can_cancel(registration, today),
        receipts=receipts_for(registration), balance=balance,
        invoice=unit_status(registration, balance.received)
        if registration.event.gives_invoices else None,
        invoices=invoices_of(registration) if registration.event.gives_invoices else [],
        private_url=url_for(".show", _external=True),
    )


@bp.route("/<token>/edit", methods=["GET", "POST"])
def edit(token=None):
    registration = g.registration
    event = registration.event
    today = china_today()
    if not can_edit_attendees(registration, today):
        flash("报名已截止或已取消，不能再修改参会人员。如需换人请联系会务组。", "error")
        return redirect(url_for(".show"))
    confirmed = registration.credit_code if registration.credit_code_confirmed else None
    posted = clean_rows(request.form) if request.method == "POST" else None
    action = row_action(request.form) if posted is not None else None
    if action is not None:
        add, drop = action
        formdata = rebuild_rows(posted, add=add, drop=drop, starts_on=event.starts_on,
                                ends_on=event.ends_on)
        return _render_edit(RegistrationEditForm(formdata, event=event,
                                                 confirmed_credit_code=confirmed))
    form = RegistrationEditForm(posted, event=event, confirmed_credit_code=confirmed,
                                data=form_data_of(registration) if posted is None else None)
    if form.validate_on_submit():
        try:
            notes = update_registration(registration, unit_details(form), attendee_details(form),
                                        today=today, now=utcnow(), actor=_actor(registration))
        except ServiceError as error:
            db.session.rollback()
            return _render_edit(form, service_error=error, status=409)
        db.session.commit()
        flash("已保存修改：" + "；".join(notes) if notes else "没有需要保存的修改。", "success")
        return redirect(url_for(".show"))
    return _render_edit(form, status=422 if request.method == "POST" else 200)


def _render_edit(form, *, service_error=None, status=200):
    registration = g.registration
    return render_template("manage/edit.html", registration=registration,
                           event=registration.event, form=form,
                           service_error=service_error), status


@bp.route("/<token>/invoice", methods=["GET", "POST"])
def invoice(token=None):
    registration = g.registration
    today = china_today()
    if not can_edit_invoice(registration, today):
        flash("该报名已取消或活动已结束，发票信息不能再修改。", "error")
        return redirect(url_for(".show"))
    form = InvoiceForm(obj=registration if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = update_invoice_details(registration, form.data, today=today, now=utcnow(),
                                             actor=_actor(registration))
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".show"))
        db.session.commit()
        flash(INVOICE_SAVED[changed], "success")
        return redirect(url_for(".show"))
    status = 422 if request.method == "POST" else 200
    return render_template("manage/invoice.html", registration=registration,
                           event=registration.event, form=form), status


@bp.route("/<token>/cancel", methods=["GET", "POST"])
def cancel(token=None):
    registration = g.registration
    today = china_today()
    refusal = cancel_refusal(registration, today)
    if refusal:
        flash(refusal, "info")
        return redirect(url_for(".show"))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            cancel_registration(registration, today=today, now=utcnow(),
                                actor=_actor(registration))
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".show"))
        db.session.commit()
        flash("报名已取消，名额已释放。", "success")
        return redirect(url_for(".show"))
    return render_template("manage/cancel.html", registration=registration,
                           event=registration.event, form=form)


@bp.route("/<token>/payment-notice.pdf")
def payment_notice(token=None):
    registration = g.registration
    pdf = render_payment_notice(payment_notice_of(registration, today=china_today()))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    filename = f"payment-notice-{registration.code}.pdf"
    response.headers["Content-Disposition"] = (
        f"inline; filename={filename}; filename*=UTF-8''%E7%BC%B4%E8%B4%B9%E9%80%9A%E7%9F%A5"
        f"%E5%8D%95-{registration.code}.pdf"
    )
    return response
