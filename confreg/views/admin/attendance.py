"""On-site check-in per day, and completion (结业) of a training course's trainees."""
from datetime import date
from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ...extensions import db
from ...forms.certificates import AttendanceSheetForm, CompleteFromAttendanceForm
from ...forms.errors import show_beside_field
from ...models import Attendee, Registration
from ...services import ServiceError
from ...services.attendance import (attendance_rows, complete_from_attendance, event_days,
                                    record_attendance, set_completion)
from ...timeutil import china_today, format_month_day_cn
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_attendance", __name__,
               url_prefix="/admin/events/<int:event_id>/attendance")

# Checking people in happens at the desk: the on-site staff's page.
ROLES = ("staff",)


def _day_arg(event, value: str | None) -> date:
    """The chosen day: ?day=YYYY-MM-DD if it is one of the event's days, else today or day one."""
    days = event_days(event)
    try:
        chosen = date.fromisoformat(value or "")
    except ValueError:
        chosen = None
    if chosen in days:
        return chosen
    today = china_today()
    return today if today in days else days[0]


def _active_ids(event) -> list[int]:
    return list(db.session.scalars(
        select(Attendee.id).join(Registration, Attendee.registration_id == Registration.id)
        .where(Attendee.event_id == event.id, Registration.status == "active")))


def _page(event, day: date, query: str, sheet_form=None, bulk_form=None, status: int = 200):
    rows = attendance_rows(event, day, query)
    if sheet_form is None:
        sheet_form = AttendanceSheetForm(formdata=None)
    if bulk_form is None:
        bulk_form = CompleteFromAttendanceForm(formdata=None, min_days=len(event_days(event)))
    units = [(unit, list(group)) for unit, group in
             groupby(rows, key=lambda r: (r.attendee.registration_id, r.unit_name))]
    everyone = attendance_rows(event, day) if query else rows
    return render_template(
        "admin/attendance/index.html", event=event, day=day, days=event_days(event),
        query=query, units=units, rows=rows, sheet_form=sheet_form, bulk_form=bulk_form,
        is_training=event.kind == "training",
        present_count=sum(r.present for r in everyone), total=len(everyone),
        completed_count=sum(r.attendee.completed_at is not None for r in everyone),
        format_month_day_cn=format_month_day_cn,
    ), status


@bp.route("")
@roles_required(*ROLES)
def index(event_id: int):
    event = event_or_404(event_id)
    day = _day_arg(event, request.args.get("day"))
    query = (request.args.get("q") or "").strip()[:100]
    return _page(event, day, query)


@bp.route("", methods=["POST"])
@roles_required(*ROLES)
def save(event_id: int):
    event = event_or_404(event_id)
    form = AttendanceSheetForm()
    form.set_rows(_active_ids(event))
    day = _day_arg(event, form.day.data)
    query = (request.args.get("q") or "").strip()[:100]
    back = url_for(".index", event_id=event.id, day=day.isoformat(), q=query or None)
    if not form.validate():
        flash("名单已变化，请刷新页面后重新勾选。", "error")
        return redirect(back)
    actor = actor_name()
    try:
        added, removed = record_attendance(event, day, form.present.data or [],
                                           form.listed.data or [], actor=actor)
        marked = unmarked = []
        if event.kind == "training":
            marked, unmarked = set_completion(event, form.completed.data or [],
                                              form.listed.data or [], actor=actor)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    parts = [f"{format_month_day_cn(day)}签到：新增 {len(added)} 人，取消 {len(removed)} 人"]
    if event.kind == "training":
        parts.append(f"结业：标记 {len(marked)} 人，取消 {len(unmarked)} 人")
    flash("已保存。" + "；".join(parts) + "。", "success")
    return redirect(back)


@bp.route("/complete", methods=["POST"])
@roles_required(*ROLES)
def complete_all(event_id: int):
    event = event_or_404(event_id)
    form = CompleteFromAttendanceForm()
    day = _day_arg(event, request.args.get("day"))
    if not form.validate():
        return _page(event, day, "", bulk_form=form, status=422)
    try:
        marked = complete_from_attendance(event, min_days=form.min_days.data,
                                          actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        if show_beside_field(form, error):
            return _page(event, day, "", bulk_form=form, status=422)
        flash(error.message, "error")
        return redirect(url_for(".index", event_id=event.id, day=day.isoformat()))
    db.session.commit()
    if marked:
        flash(f"已将 {len(marked)} 名学员标记为结业：{'、'.join(marked[:20])}"
              f"{' 等' if len(marked) > 20 else ''}。", "success")
    else:
        flash("没有新的学员需要标记为结业（符合条件的都已标记）。", "info")
    return redirect(url_for(".index", event_id=event.id, day=day.isoformat()))
