"""The organisers' list of events, and creating, editing and copying events."""
import re
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from ...extensions import db
from ...forms.events import ROW_LISTS, EventForm
from ...forms.registration_rows import clean_rows, rebuild_rows, row_action
from ...models import Attendee, Event, Registration, Submission
from ...services import ServiceError
from ...services.events import (EVENT_FIELDS, ContactDetails, EventDetails, ScheduleDetails,
                                TierDetails, copy_event, save_event)
from ...services.submissions import materials_deadline_of, materials_open
from ...timeutil import china_today
from ...forms.errors import show_beside_field
from .access import STAFF_ROLES, actor_name, roles_required

bp = Blueprint("admin_events", __name__, url_prefix="/admin/events")

ROW_ID = re.compile(r"[0-9]{1,9}")


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
    cases = dict(db.session.execute(
        select(Submission.event_id, func.count(Submission.id))
        .where(Submission.kind == "case", Submission.status == "submitted")
        .group_by(Submission.event_id)
    ).all())
    events = db.session.scalars(select(Event).order_by(Event.starts_on.desc())).all()
    today = china_today()
    return render_template("admin/events/index.html", events=events, counts=counts,
                           cases=cases, statuses={e.id: status_of(e, today) for e in events},
                           deadline_of=materials_deadline_of, today=today)


PHASE_LABELS = {"open": "报名中", "closed": "报名已截止", "past": "已结束"}
CALL_PHASE_LABELS = {"open": "征集中", "closed": "征集已截止", "past": "已结束"}


def status_of(event: Event, today) -> str:
    """报名中 / 报名已截止 / 已结束; a call is 征集中 until its deadline for cases."""
    phase = event.phase(today)
    if event.kind != "call":
        return PHASE_LABELS[phase]
    if phase != "past":
        phase = "open" if event.published and materials_open(event, today) else "closed"
    return CALL_PHASE_LABELS[phase]


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new():
    return _event_form(None)


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def edit(event_id):
    return _event_form(event_or_404(event_id))


@bp.route("/<int:event_id>/copy", methods=["POST"])
@roles_required("admin")
def copy(event_id):
    source = event_or_404(event_id)
    copied = copy_event(source, actor=actor_name())
    copied_id, title, key = copied.id, copied.title, copied.key
    db.session.commit()
    flash(f"已复制为草稿「{title}」（{key}），日期均已顺延一年，请核对后发布。", "success")
    return redirect(url_for(".edit", event_id=copied_id))


def _event_form(event: Event | None):
    action = url_for(".edit", event_id=event.id) if event else url_for(".new")
    if request.method == "POST":
        posted = request.form
        for prefix in ROW_LISTS:
            posted = clean_rows(posted, prefix=prefix)
        for prefix, (most, blank) in ROW_LISTS.items():
            wanted = row_action(request.form, prefix=prefix)
            if wanted is not None:  # add or remove a row: show the form again, save nothing
                add, drop = wanted
                if prefix == "schedule_items":
                    blank = [("day", posted.get("starts_on", "")), *blank]
                formdata = rebuild_rows(posted, prefix=prefix, add=add, drop=drop,
                                        max_rows=most, min_rows=0, blank=blank)
                return _render(EventForm(formdata), event, action)
        form = EventForm(posted)
    else:
        form = EventForm(data=_form_data(event))
    if form.validate_on_submit():
        try:
            saved, notes = save_event(event, _details(form), actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            return _render(form, event, action, service_error=_show_error(form, error),
                           status=422)
        saved_id, title = saved.id, saved.title
        db.session.commit()
        flash(f"已{'保存' if event else '创建'}活动「{title}」。", "success")
        for note in notes:
            flash(note, "warning")
        return redirect(url_for(".edit", event_id=saved_id))
    return _render(form, event, action, status=422 if request.method == "POST" else 200)


def _render(form, event, action, *, service_error=None, status=200):
    return render_template("admin/events/form.html", form=form, event=event, action=action,
                           service_error=service_error), status


def _show_error(form, error: ServiceError) -> ServiceError | None:
    """Put a service's message beside its field; return it if no field can show it."""
    return None if show_beside_field(form, error) else error


def _form_data(event: Event | None) -> dict:
    """The form's initial data: the event as stored, or a new event's defaults."""
    if event is None:
        return {"kind": "meeting", "status": "draft", "capacity": 0,
                "fee_tiers": [{"code": "member", "label": "委员会委员单位或联合会会员单位",
                               "is_member": True},
                              {"code": "standard", "label": "其他单位、相关社会机构或个人等"}],
                "contacts": [{"kind": "person"}]}
    data = {name: getattr(event, name) for name in EVENT_FIELDS}
    data["requirements"] = "\n".join(event.requirements or [])
    data["status"] = "published" if event.published else "draft"
    data["fee_tiers"] = [{"id": str(t.id), "code": t.code, "label": t.label, "amount": t.amount,
                          "is_member": t.is_member} for t in event.fee_tiers]
    data["schedule_items"] = [{"day": s.day, "period": s.period, "text": s.text}
                              for s in event.schedule]
    data["contacts"] = [{"kind": c.kind, "label": c.label, "value": c.value}
                        for c in event.contacts]
    return data


def _text(value) -> str:
    # Browsers post CRLF from a textarea; store plain newlines.
    return "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")


def _details(form: EventForm) -> EventDetails:
    values = {}
    for name in EVENT_FIELDS:
        if name in ("requirements", "published"):
            continue
        value = getattr(form, name).data
        values[name] = _text(value) if isinstance(value, str) or value is None else value
    for name in ("materials_deadline", "payment_deadline", "published_on",
                 "materials_char_limit"):
        values[name] = getattr(form, name).data  # None stays None
    values["capacity"] = form.capacity.data or 0
    if values.get("invoice_tax_rate") is None:
        values["invoice_tax_rate"] = Decimal("0.06")
    values["ask_id_number"] = bool(form.ask_id_number.data)
    requirements = [line.strip() for line in _text(form.requirements.data).split("\n")
                    if line.strip()]
    return EventDetails(
        **values, requirements=requirements, published=form.status.data == "published",
        fee_tiers=[TierDetails(code=row.code.data, label=row.label.data, amount=row.amount.data,
                               is_member=bool(row.is_member.data),
                               id=int(row.id.data) if ROW_ID.fullmatch(row.id.data or "") else None)
                   for row in (entry.form for entry in form.fee_tiers)],
        schedule=[ScheduleDetails(day=row.day.data, period=row.period.data,
                                  text=_text(row.text.data))
                  for row in (entry.form for entry in form.schedule_items)],
        contacts=[ContactDetails(kind=row.kind.data, label=row.label.data or "",
                                 value=row.value.data)
                  for row in (entry.form for entry in form.contacts)],
    )
