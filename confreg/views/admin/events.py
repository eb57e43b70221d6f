"""The organisers' list of events: where every staff page starts."""
from flask import Blueprint, abort, render_template
from sqlalchemy import func, select

from ...extensions import db
from ...models import Attendee, Event, Registration
from ...timeutil import china_today
from .access import STAFF_ROLES, roles_required

bp = Blueprint("admin_events", __name__, url_prefix="/admin/events")


def event_or_404(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    return event


@bp.route("/")
@roles_required(*STAFF_ROLES)
def index():
    counts = dict(db.session.execute(
        select(Attendee.event_id, func.count(Attendee.id)).join(Registration)
        .where(Registration.status == "active").group_by(Attendee.event_id)
    ).all())
    events = db.session.scalars(select(Event).order_by(Event.starts_on.desc())).all()
    return render_template("admin/events/index.html", events=events, counts=counts,
                           today=china_today())
