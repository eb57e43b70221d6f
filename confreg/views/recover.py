"""找回私密链接: a unit that lost the e-mail with its private link gets a new one.

The page answers the same whatever was typed, so it tells no one which codes exist or
which address a code belongs to; the new link goes only to the contact e-mail on record.
"""
from flask import Blueprint, redirect, render_template, request, url_for

from ..database import utcnow
from ..extensions import db
from ..forms.recover import RecoverLinkForm
from ..notifications import send_queued_mail_after
from ..services.recovery import recover_link

bp = Blueprint("recover", __name__)


@bp.route("/recover", methods=["GET", "POST"])
def recover():
    form = RecoverLinkForm()
    if form.validate_on_submit():
        recover_link(form.code.data, form.email.data, now=utcnow())
        db.session.commit()
        # Sent after the answer: a match must not take visibly longer than a miss.
        return send_queued_mail_after(redirect(url_for(".recover", sent=1)))
    sent = request.method == "GET" and request.args.get("sent") == "1"
    return render_template("public/recover.html", form=form, sent=sent,
                           event_key=request.args.get("event", "")), \
        422 if request.method == "POST" else 200
