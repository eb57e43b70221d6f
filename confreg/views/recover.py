"""找回私密链接: a unit that lost the e-mail with its private link gets a new one.

/recover answers every valid form with the same redirect, at once: the lookup, the daily
limit and the mail with the confirm link happen in the background worker (the task
request_private_link), so
neither its words nor its timing tell anyone which codes exist or which address a code
belongs to. Asking revokes nothing; the confirm link from the mail (/recover/r|c/<signed>)
shows a page whose button makes the new link, shows it once and mails it.
"""
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..database import utcnow
from ..extensions import db
from ..forms.recover import ConfirmNewLinkForm, RecoverLinkForm
from ..services.recovery import (
    CONFIRM_MAX_AGE, ConfirmLinkInvalid, confirm_new_link, pending_confirmation, request_link,
)

bp = Blueprint("recover", __name__)


@bp.route("/recover", methods=["GET", "POST"])
def recover():
    form = RecoverLinkForm()
    if form.validate_on_submit():
        current_app.extensions["worker"].enqueue("request_private_link", form.code.data,
                                                 form.email.data)
        return redirect(url_for(".recover", sent=1))
    sent = request.method == "GET" and request.args.get("sent") == "1"
    return render_template("public/recover.html", form=form, sent=sent,
                           valid_hours=int(CONFIRM_MAX_AGE.total_seconds() // 3600)), \
        422 if request.method == "POST" else 200


def _invalid(error: ConfirmLinkInvalid):
    db.session.rollback()
    response = current_app.make_response(
        (render_template("public/recover_invalid.html"), error.status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/recover/<any(r, c):kind>/<signed>", methods=["GET", "POST"])
def confirm(kind, signed):
    form = ConfirmNewLinkForm()
    try:
        row = pending_confirmation(signed, kind)
    except ConfirmLinkInvalid as error:
        return _invalid(error)
    if form.validate_on_submit():
        try:
            recovered = confirm_new_link(signed, kind, now=utcnow())
        except ConfirmLinkInvalid as error:  # used by a second click while this one waited
            return _invalid(error)
        context = {"row": recovered.row, "event": recovered.event, "link": recovered.link,
                   "is_registration": kind == "r"}
        db.session.commit()
        # The new link is on this page only: a reload finds the confirm link used.
        response = current_app.make_response(render_template("public/recover_done.html",
                                                             **context))
        response.headers["Cache-Control"] = "no-store"
        return response
    response = current_app.make_response(render_template(
        "public/recover_confirm.html", form=form, row=row, event=row.event,
        is_registration=kind == "r"))
    response.headers["Cache-Control"] = "no-store"
    if request.method == "POST":  # the form without its CSRF token is refused before this
        response.status_code = 400
    return response
