"""Staff: who has submitted materials (a meeting) or cases (a call), what each sent, its files;
letting one unit send its material after the deadline."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...forms.errors import show_beside_field
from ...forms.materials import MaterialsExtendForm
from ...models import Registration, Submission
from ...services import ServiceError
from ...services.materials import (MATERIAL_FILTERS, extend_materials_deadline,
                                   limit_warning, list_cases, list_materials, material_of,
                                   over_limit)
from ...services.submissions import materials_deadline_of, materials_open
from ...timeutil import china_today
from ..files import submission_file_response
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_materials", __name__, url_prefix="/admin/events/<int:event_id>/materials")

def _submission_or_404(event_id: int, submission_id: int) -> Submission:
    submission = db.session.scalar(
        select(Submission).where(Submission.id == submission_id, Submission.event_id == event_id)
        .options(selectinload(Submission.versions), selectinload(Submission.attachments)))
    if submission is None:
        abort(404)
    return submission


@bp.route("/")
@roles_required("staff")
def index(event_id: int):
    event = event_or_404(event_id)
    if event.kind == "call":
        cases = list_cases(event)
        return render_template("admin/materials/cases.html", event=event, cases=cases)
    filter_name = request.args.get("filter", "")
    filter_name = filter_name if filter_name in MATERIAL_FILTERS else ""
    listing = list_materials(event, filter_name)
    return render_template("admin/materials/index.html", event=event, listing=listing,
                           filters=MATERIAL_FILTERS, filter_name=filter_name,
                           deadline=materials_deadline_of(event), today=china_today())


@bp.route("/<int:submission_id>")
@roles_required("staff")
def show(event_id: int, submission_id: int):
    event = event_or_404(event_id)
    submission = _submission_or_404(event.id, submission_id)
    latest = submission.latest_version
    return render_template(
        "admin/materials/show.html", event=event, submission=submission, latest=latest,
        category=event.category_label(submission.category, with_title=False),
        warning=limit_warning(event, latest.char_count) if latest else "",
        over=bool(latest) and over_limit(event, latest.char_count))


@bp.route("/<int:submission_id>/files/<int:file_id>")
@roles_required("staff")
def file(event_id: int, submission_id: int, file_id: int):
    return submission_file_response(_submission_or_404(event_id, submission_id), file_id)


def _registration_of_event_or_404(event_id: int, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event_id:
        abort(404)
    return registration


@bp.route("/units/<int:registration_id>/extend", methods=["GET", "POST"])
@roles_required("staff")
def extend(event_id: int, registration_id: int):
    event = event_or_404(event_id)
    registration = _registration_of_event_or_404(event.id, registration_id)
    if request.method == "GET":
        form = MaterialsExtendForm(formdata=None, until=registration.materials_extended_until)
        return _render_extend(event, registration, form)
    form = MaterialsExtendForm()
    if not form.validate_on_submit():
        return _render_extend(event, registration, form, status=422)
    try:
        extend_materials_deadline(registration, form.until.data, today=china_today(),
                                  actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        registration = _registration_of_event_or_404(event_id, registration_id)
        if not show_beside_field(form, error):
            flash(error.message, "error")
        return _render_extend(event_or_404(event_id), registration, form, status=422)
    until = form.until.data
    unit = registration.unit_name
    db.session.commit()
    flash(f"已允许「{unit}」提交或更换交流材料至 {until:%Y-%m-%d}（含当日）。" if until
          else f"已撤销「{unit}」逾期提交材料的许可。", "success")
    return redirect(url_for(".index", event_id=event_id))


def _render_extend(event, registration, form, *, status: int = 200):
    today = china_today()
    return render_template(
        "admin/materials/extend.html", event=event, registration=registration, form=form,
        submission=material_of(registration), deadline=materials_deadline_of(event),
        is_open=materials_open(event, today, registration), today=today), status
