"""Public pages: the list of events, each notice, the registration form."""
import re
from functools import cache

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from sqlalchemy import bindparam, select

from ..database import utcnow
from ..extensions import db
from ..forms.registration import RegistrationForm
from ..forms.registration_rows import clean_rows, rebuild_rows, row_action
from ..models import Event
from ..services import DuplicateSubmission, ServiceError
from ..services.registrations import register_unit, seats_left
from ..timeutil import china_today, format_date_cn
from .formdata import attendee_details, unit_details

bp = Blueprint("public", __name__)


EVENT_KEY = re.compile(r"[a-z0-9-]{1,64}")


@cache
def _published_event_query():
    # Built once: every public page of an event runs it.
    return select(Event).where(Event.key == bindparam("key"), Event.published.is_(True))


def published_event_or_404(key: str) -> Event:
    if not EVENT_KEY.fullmatch(key):
        abort(404)  # and no NUL byte or oddity reaches the database
    event = db.session.scalar(_published_event_query(), {"key": key})
    if event is None:
        abort(404)
    return event


@bp.route("/")
def index():
    today = china_today()
    events = db.session.scalars(
        select(Event).where(Event.published.is_(True)).order_by(Event.starts_on)
    ).all()
    groups = {"open": [], "closed": [], "past": []}
    for event in events:
        groups[event.phase(today)].append(event)
    groups["past"].reverse()
    return render_template("public/index.html", groups=groups, today=today)


@bp.route("/events/<key>")
def notice(key):
    event = published_event_or_404(key)
    return render_template("public/notice.html", event=event, today=china_today(),
                           seats_left=seats_left(event) if event.takes_registrations else None)


@bp.route("/events/<key>/print")
def notice_print(key):
    event = published_event_or_404(key)
    return render_template("public/notice_print.html", event=event, today=china_today())


@bp.route("/privacy")
def privacy():
    return render_template("public/privacy.html")


def _closed_reason(event: Event, today, *, count_seats: bool) -> str | None:
    if not event.registration_open(today):
        return f"报名已于 {format_date_cn(event.registration_deadline)} 截止，在线报名已关闭。"
    # A POST is checked for seats under the lock by the service; counting here too is waste.
    if count_seats and seats_left(event) == 0:
        return "本次活动名额已满，报名已停止。如有疑问请联系会务组。"
    return None


@bp.route("/events/<key>/register", methods=["GET", "POST"])
def register(key):
    event = published_event_or_404(key)
    if not event.takes_registrations:
        abort(404)
    today = china_today()
    closed = _closed_reason(event, today, count_seats=request.method == "GET")
    posted = clean_rows(request.form) if request.method == "POST" else None
    action = row_action(request.form) if posted is not None else None
    if action is not None:
        add, drop = action
        formdata = rebuild_rows(posted, add=add, drop=drop, starts_on=event.starts_on,
                                ends_on=event.ends_on)
        return _render_form(event, RegistrationForm(formdata, event=event), closed)

    form = RegistrationForm(posted, event=event)
    if request.method == "GET":
        form.issue_submission_key()
        form.invoice_content.data = event.invoice_content
        for entry in form.attendees.entries:
            entry.form.arrival_on.data = event.starts_on
            entry.form.departure_on.data = event.ends_on
    if closed:
        return _render_form(event, form, closed, status=409 if request.method == "POST" else 200)
    if form.validate_on_submit():
        try:
            registration, token = register_unit(
                event.id, unit_details(form), attendee_details(form), today=today, now=utcnow(),
                submission_key=form.posted_submission_key,
            )
        except DuplicateSubmission as duplicate:
            db.session.rollback()
            return render_template("public/duplicate.html", event=event,
                                   registration=duplicate.registration), 409
        except ServiceError as error:
            db.session.rollback()
            return _render_form(event, form, None, service_error=error, status=409)
        code = registration.code  # read before the commit expires it
        db.session.commit()
        session["new_registration"] = code
        return redirect(url_for("manage.show", token=token))
    return _render_form(event, form, None, status=422 if request.method == "POST" else 200)


def _render_form(event, form, closed, *, service_error=None, status=200):
    return render_template("public/register.html", event=event, form=form, closed=closed,
                           service_error=service_error, seats_left=seats_left(event)), status
