"""A registered unit's exchange material, on its private pages (routes of manage.bp)."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from ..extensions import db
from ..forms.errors import show_beside_field
from ..forms.materials import MaterialForm
from ..models import SubmissionVersion
from ..services import ServiceError
from ..services.materials import (DECIDED_MESSAGE, MaterialDetails, is_decided, limit_warning,
                                  material_of, materials_closed_message, save_material)
from ..services.submissions import materials_deadline_of, materials_open
from ..timeutil import china_today
from .files import stored_file_response
from .manage import _actor, bp


REPLACE_FILE_LABEL = "更换文件（选填）"


def _material_state(registration, form=None) -> dict:
    """What the material section and page show: the material, whether it is open, the form."""
    event = registration.event
    submission = material_of(registration)
    decided = is_decided(submission)
    is_open = (registration.is_active and event.takes_registrations and not decided
               and materials_open(event, china_today(), registration))
    if is_open and form is None:
        data = ({name: getattr(submission, name)
                 for name in ("title", "authors", "author_unit", "abstract")}
                if submission else {"author_unit": registration.unit_name})
        form = MaterialForm(formdata=None, data=data)
    if form is not None and submission is not None:
        # The same name beside the field and in the error summary.
        form.file.label.text = REPLACE_FILE_LABEL
    latest = submission.latest_version if submission else None
    return {
        "submission": submission, "is_open": is_open, "form": form if is_open else None,
        "deadline": materials_deadline_of(event),
        "extended_until": registration.materials_extended_until,
        "decided": decided,
        "closed_message": ("" if is_open else "该报名已取消，不能提交交流材料。"
                           if not registration.is_active else DECIDED_MESSAGE if decided
                           else materials_closed_message(event, registration)),
        "warning": limit_warning(event, latest.char_count) if latest else "",
    }


@bp.app_template_global()
def material_state(registration) -> dict:
    """The unit's material section (templates/manage/_material.html) asks for this."""
    return _material_state(registration)


@bp.route("/<token>/material", methods=["GET", "POST"])
def material(token=None):
    registration = g.registration
    if not registration.event.takes_registrations:
        abort(404)
    form = MaterialForm()
    state = _material_state(registration, form if request.method == "POST" else None)
    if request.method == "GET":
        return _render(state)
    if not state["is_open"]:
        flash(state["closed_message"], "error")
        return redirect(url_for(".show") + "#material")
    if not form.validate_on_submit():
        return _render(state, status=422)
    details = MaterialDetails(title=form.title.data, authors=form.authors.data,
                              author_unit=form.author_unit.data or "",
                              abstract=(form.abstract.data or "").replace("\r\n", "\n"))
    try:
        saved = save_material(registration, details, form.file.data, today=china_today(),
                              actor=_actor(registration))
    except ServiceError as error:
        db.session.rollback()
        if show_beside_field(form, error):
            return _render(_material_state(g.registration, form), status=422)
        flash(error.message, "error")
        return redirect(url_for(".show") + "#material")
    code = saved.submission.code
    db.session.commit()
    if saved.version_number is None:
        message = ("已保存：" + "、".join(saved.changed)) if saved.changed else "材料信息没有变化。"
    else:
        message = (f"已收到交流材料（第 {saved.version_number} 版，材料编号 {code}），"
                   "确认邮件已发往联系人邮箱。")
    flash(message, "success")
    if saved.warning:
        flash(f"请注意：{saved.warning}，建议删减后重新上传。", "error")
    return redirect(url_for(".show") + "#material")


def _render(state: dict, *, status: int = 200):
    registration = g.registration
    return render_template("manage/material.html", registration=registration,
                           event=registration.event, state=state,
                           posted=request.method == "POST"), status


@bp.route("/<token>/material/versions/<int:number>")
def material_version(token=None, number: int = 0):
    submission = material_of(g.registration)
    if submission is None:
        abort(404)  # no material, or another unit's: the same answer
    version = db.session.scalar(select(SubmissionVersion).where(
        SubmissionVersion.submission_id == submission.id, SubmissionVersion.number == number))
    if version is None:
        abort(404)
    return stored_file_response(version.file, f"{submission.code}-v{version.number}")
