"""The registrations desk: an event's registrations, one registration's file and the staff
actions on it (换人, cancel, let it past the deadline, correct the unit), Excel exports."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...checks import mask_id_number
from ...database import utcnow
from ...extensions import db
from ...forms.desk import CancelForm, ExtendForm, SubstituteForm, UnitForm
from ...models import Registration
from ...services import ServiceError
from ...services.desk import (ATTENDEE_COLUMNS, FILTERS, PERSON_FIELDS, registration_columns,
                              UNIT_EDIT_FIELDS, attendee_sheet_rows, cancel_by_staff,
                              extend_deadline, list_registrations, registration_file,
                              registration_sheet_rows, render_sheet, substitute_attendee,
                              update_unit_details)
from ...timeutil import china_today
from ..paging import page_arg
from ...forms.errors import show_beside_field
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_registrations", __name__, url_prefix="/admin")

READERS = ("staff", "finance")
WRITERS = ("staff",)


def _registration_or_404(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        abort(404)
    return registration


@bp.route("/events/<int:event_id>/registrations")
@roles_required(*READERS)
def index(event_id: int):
    event = event_or_404(event_id)
    filter_name = request.args.get("filter", "")
    filter_name = filter_name if filter_name in FILTERS else ""
    query = request.args.get("q", "").strip()[:100]
    today = china_today()
    page = list_registrations(event, today=today, filter_name=filter_name or None, query=query,
                              page=page_arg())
    return render_template("admin/registrations/index.html", event=event, page=page,
                           filters=FILTERS, filter_name=filter_name, query=query, today=today)


def _can_act() -> bool:
    return current_user.role in ("admin", *WRITERS)


def _render_show(registration: Registration, *, status: int = 200, **forms):
    today = china_today()
    event = registration.event
    made = {
        "substitute_form": SubstituteForm(formdata=None, registration=registration),
        "cancel_form": CancelForm(formdata=None),
        "extend_form": ExtendForm(formdata=None, until=registration.deadline_extended_until),
        "unit_form": UnitForm(formdata=None, obj=registration),
    }
    made.update(forms)
    # The unit form holds the contact's mobile in full: shown when asked for, or with errors.
    editing_unit = _can_act() and ("unit_form" in forms or request.args.get("edit") == "unit")
    full = _can_act() and request.args.get("full") == "1"
    return render_template(
        "admin/registrations/show.html", registration=registration, event=event,
        file=registration_file(registration, today), today=today, full=full,
        editing_unit=editing_unit,
        mask_id=mask_id_number, can_act=_can_act(), can_change_attendees=registration.can_change_attendees(today),
        **made), status


@bp.route("/registrations/<int:registration_id>")
@roles_required(*READERS)
def show(registration_id: int):
    return _render_show(_registration_or_404(registration_id))


def _back(registration_id: int):
    return redirect(url_for(".show", registration_id=registration_id))


def _run(registration: Registration, form_name: str, form, action, success: str):
    """Validate, call the one service function, commit, flash, redirect (or 422 with errors)."""
    if not form.validate_on_submit():
        return _render_show(registration, status=422, **{form_name: form})
    try:
        result = action(form)
    except ServiceError as error:
        db.session.rollback()
        if show_beside_field(form, error):
            return _render_show(_registration_or_404(registration.id), status=422,
                                **{form_name: form})
        flash(error.message, "error")
        return _back(registration.id)
    db.session.commit()
    flash(success(result) if callable(success) else success, "success")
    return _back(registration.id)


@bp.route("/registrations/<int:registration_id>/substitute", methods=["POST"])
@roles_required(*WRITERS)
def substitute(registration_id: int):
    registration = _registration_or_404(registration_id)
    form = SubstituteForm(registration=registration)
    return _run(
        registration, "substitute_form", form,
        lambda f: substitute_attendee(
            registration, f.attendee_id.data, {k: getattr(f, k).data for k in PERSON_FIELDS},
            today=china_today(), now=utcnow(), actor=actor_name()),
        lambda attendee: f"已换人：新参会人员 {attendee.name}，费用不变。")


@bp.route("/registrations/<int:registration_id>/cancel", methods=["POST"])
@roles_required(*WRITERS)
def cancel(registration_id: int):
    registration = _registration_or_404(registration_id)
    return _run(registration, "cancel_form", CancelForm(),
                lambda f: cancel_by_staff(registration, f.reason.data, now=utcnow(),
                                          actor=actor_name()),
                "报名已取消，名额已释放；已通知联系人。")


@bp.route("/registrations/<int:registration_id>/extend", methods=["POST"])
@roles_required(*WRITERS)
def extend(registration_id: int):
    registration = _registration_or_404(registration_id)
    return _run(registration, "extend_form", ExtendForm(),
                lambda f: extend_deadline(registration, f.until.data, today=china_today(),
                                          now=utcnow(), actor=actor_name()),
                lambda _: "已保存：单位可凭私密链接在延期日之前修改参会人员。"
                if registration.deadline_extended_until else "已撤销逾期修改许可。")


@bp.route("/registrations/<int:registration_id>/unit", methods=["POST"])
@roles_required(*WRITERS)
def edit_unit(registration_id: int):
    registration = _registration_or_404(registration_id)
    return _run(registration, "unit_form", UnitForm(),
                lambda f: update_unit_details(
                    registration, {k: getattr(f, k).data for k in UNIT_EDIT_FIELDS},
                    now=utcnow(), actor=actor_name()),
                lambda labels: "已修改：" + "、".join(labels) if labels else "单位信息没有变化。")


def _xlsx(content: bytes, ascii_name: str, chinese_name: str):
    from urllib.parse import quote

    response = make_response(content)
    response.headers["Content-Type"] = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = (
        f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(chinese_name)}")
    response.headers["Cache-Control"] = "no-store"  # mobiles in full: keep it out of caches
    return response


@bp.route("/events/<int:event_id>/registrations.xlsx")
@roles_required(*READERS)
def export_registrations(event_id: int):
    event = event_or_404(event_id)
    with_invoice = current_user.role in ("admin", "finance")  # staff see no invoice details
    content = render_sheet("报名单位", registration_columns(with_invoice),
                           registration_sheet_rows(event, china_today(), with_invoice=with_invoice))
    return _xlsx(content, f"registrations-{event.key}.xlsx",
                 f"报名单位-{event.short_title or event.key}.xlsx")


@bp.route("/events/<int:event_id>/attendees.xlsx")
@roles_required(*WRITERS)  # every attendee's mobile and ID number in full: the staff's list
def export_attendees(event_id: int):
    event = event_or_404(event_id)
    content = render_sheet("参会人员", ATTENDEE_COLUMNS,
                           attendee_sheet_rows(event, china_today()))
    return _xlsx(content, f"attendees-{event.key}.xlsx",
                 f"参会人员-{event.short_title or event.key}.xlsx")
