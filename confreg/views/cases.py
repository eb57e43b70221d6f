"""The call for case materials: a unit's submission form and its private page (/c/<token>)."""

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..database import utcnow
from ..extensions import db
from ..forms.cases import PHOTO_SLOTS, CaseFormsForm, CaseForm, CasePhotosForm, CaseTextForm
from ..forms.errors import show_beside_field
from ..models import Event, StoredFile
from ..services import ServiceError
from ..services.cases import (MIN_PHOTOS, CaseDetails, CaseFiles, DuplicateCase, PhotoChange,
                              change_refusal, find_case_by_token, keep_upload, replace_case_forms, replace_case_photos, replace_case_text,
                              submit_case)
from ..services.submissions import materials_deadline_of, materials_open
from ..services.uploads import IMAGE_KINDS, SCAN_KINDS, UploadRefused
from ..timeutil import china_today, format_date_cn
from .files import submission_file_response
from .public import published_event_or_404

bp = Blueprint("cases", __name__)

CARRIED_FOR_SECONDS = 12 * 3600
UPLOAD_SALT = "case-upload"
TEXT_SLOTS = {"text_docx": (frozenset({"docx"}), "Word 版正文"),
              "text_pdf": (frozenset({"pdf"}), "PDF 版正文")}
PHOTO_SLOT_KINDS = {f"photo_{n}": (IMAGE_KINDS, f"第 {n} 张图片") for n in PHOTO_SLOTS}
FORM_SLOTS = {"application_form": (SCAN_KINDS, "申报表"),
              "recommendation_file": (SCAN_KINDS, "专家推荐意见")}
CASE_SLOTS = {**TEXT_SLOTS, **PHOTO_SLOT_KINDS, **FORM_SLOTS}


@bp.after_request
def private_headers(response):
    # The form carries signed file ids and the private page is opened by its link:
    # neither belongs in a cache, and the link must not leak in a Referer header.
    response.headers["Cache-Control"] = "no-store"
    if request.path.startswith("/c/"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


class CarriedUploads:
    """The files of a form: new ones checked by content and stored at once, earlier ones
    carried in signed hidden fields, so a form that fails never asks for a file again."""

    def __init__(self, slots: dict):
        self.slots = slots
        self.files: dict[str, StoredFile] = {}
        self.refused = False
        self._serializer = URLSafeTimedSerializer(current_app.secret_key, salt=UPLOAD_SALT)

    def take(self, form) -> "CarriedUploads":
        for slot, (allowed, label) in self.slots.items():
            field = form[slot]
            earlier = self._carried(slot, field, allowed)
            storage = request.files.get(slot)
            if storage is not None and storage.filename:
                try:
                    self.files[slot] = keep_upload(storage, allowed=allowed, field=slot, label=label)
                    continue
                except UploadRefused as refused:
                    field.errors.append(refused.message)
                    self.refused = True
            if earlier is not None:
                self.files[slot] = earlier
        db.session.commit()  # what was valid is kept, whatever happens to the rest
        return self

    def _carried(self, slot: str, field, allowed) -> StoredFile | None:
        value = request.form.get(f"kept_{slot}", "")
        if not value:
            return None
        try:
            # Well within `flask uploads prune`'s day: a kept file never vanishes mid-form.
            file_id = self._serializer.loads(value, max_age=CARRIED_FOR_SECONDS)
        except BadSignature:
            file_id = None
        stored = db.session.get(StoredFile, file_id) if type(file_id) is int else None
        if stored is None or stored.kind not in allowed:
            field.errors.append("已上传文件的记录无效，请重新选择该文件。")
            self.refused = True
            return None
        return stored

    def signed(self) -> dict[str, str]:
        return {slot: self._serializer.dumps(stored.id) for slot, stored in self.files.items()}


def _call_or_404(key: str) -> Event:
    event = published_event_or_404(key)
    if event.kind != "call":
        abort(404)
    return event


def _closed_message(event: Event) -> str:
    return (f"本次征集已于 {format_date_cn(materials_deadline_of(event))} 截止，"
            "在线申报已关闭。")


@bp.route("/events/<key>/submit", methods=["GET", "POST"])
def submit(key):
    event = _call_or_404(key)
    today = china_today()
    if not materials_open(event, today):
        return render_template("cases/closed.html", event=event,
                               message=_closed_message(event),
                               deadline=materials_deadline_of(event)), \
            409 if request.method == "POST" else 200
    form = CaseForm(event=event)
    if request.method == "GET":
        form.issue_submission_key()
        return _render_form(event, form, None)

    valid = form.validate_on_submit()
    uploads = CarriedUploads(CASE_SLOTS).take(form)
    files = _check_case_files(form, uploads.files)
    if not valid or uploads.refused or files is None:
        return _render_form(event, form, uploads, status=422)
    try:
        submission, token = submit_case(
            event.id, _details(form), files, today=today, now=utcnow(),
            submission_key=form.posted_submission_key)
    except DuplicateCase as duplicate:
        db.session.rollback()
        return render_template("cases/duplicate.html", event=event,
                               submission=duplicate.submission), 409
    except ServiceError as error:
        db.session.rollback()
        shown = show_beside_field(form, error)
        return _render_form(event, form, uploads, service_error=None if shown else error,
                            status=409)
    code = submission.code
    db.session.commit()
    session["new_case"] = code
    return redirect(url_for(".show", token=token))


def _render_form(event, form, uploads, *, service_error=None, status=200):
    return render_template(
        "cases/submit.html", event=event, form=form, service_error=service_error,
        kept=uploads.files if uploads else {}, signed=uploads.signed() if uploads else {},
        deadline=materials_deadline_of(event), min_photos=MIN_PHOTOS,
        has_errors=any(f.errors for f in form)), status


def _details(form: CaseForm) -> CaseDetails:
    return CaseDetails(
        unit_name=form.unit_name.data, credit_code=form.credit_code.data or "",
        province=form.province.data, city=form.city.data, contact_name=form.contact_name.data,
        contact_mobile=form.contact_mobile.data, contact_email=form.contact_email.data,
        recommendation=form.recommendation.data, category=form.category.data,
        title=form.title.data, abstract=form.abstract.data)


def _add_error(field, message: str) -> None:
    field.errors.append(message)


def _check_case_files(form: CaseForm, files: dict) -> CaseFiles | None:
    """The rules that join files and typed fields; errors go beside their fields."""
    ok = True
    if "text_docx" not in files and "text_pdf" not in files:
        if not form.text_docx.errors and not form.text_pdf.errors:
            _add_error(form.text_docx, "请上传正文：Word（.docx）或 PDF，建议两者都上传。")
        ok = False
    photos = []
    for n in PHOTO_SLOTS:
        stored, caption = files.get(f"photo_{n}"), (form.caption(n).data or "").strip()
        if stored is not None and not caption:
            _add_error(form.caption(n), "请填写这张图片的说明（如拍摄内容、时间、地点）。")
            ok = False
        elif stored is None and caption and not form.photo(n).errors:
            _add_error(form.photo(n), "已填写说明，请选择这张图片（或清空说明）。")
            ok = False
        if stored is not None:
            photos.append((stored, caption))
    refused_photo = any(form.photo(n).errors for n in PHOTO_SLOTS)
    if len(photos) < MIN_PHOTOS and not refused_photo:
        empty = [n for n in PHOTO_SLOTS if f"photo_{n}" not in files]
        target = next((n for n in empty if not form.photo(n).errors), None)
        if target is not None:
            _add_error(form.photo(target), f"请上传 {MIN_PHOTOS}～5 张图片，目前只有 {len(photos)} 张。")
    if len(photos) < MIN_PHOTOS:
        ok = False
    if "application_form" not in files:
        if not form.application_form.errors:
            _add_error(form.application_form, "请上传加盖公章的申报表（扫描件或照片）。")
        ok = False
    expert = form.recommendation.data == "expert"
    if expert and "recommendation_file" not in files:
        if not form.recommendation_file.errors:
            _add_error(form.recommendation_file, "选择“附专家签字的推荐意见”时，须上传推荐意见。")
        ok = False
    if not ok:
        return None
    return CaseFiles(application_form=files["application_form"], text_docx=files.get("text_docx"),
                     text_pdf=files.get("text_pdf"), photos=photos,
                     recommendation_file=files.get("recommendation_file") if expert else None)


# --- the private page ------------------------------------------------------------------

def _case_or_404(token: str):
    submission = find_case_by_token(token)
    if submission is None:
        abort(404)  # a wrong link and another unit's case look the same
    return submission


@bp.route("/c/<token>")
def show(token):
    submission = _case_or_404(token)
    return _render_show(submission, token)


def _photos_form_data(submission) -> dict:
    return {f"caption_{a.position}": a.caption for a in submission.current_attachments("photo")}


def _render_show(submission, token, *, text_form=None, photos_form=None, forms_form=None,
                 uploads=None, service_error=None, open_form=None, status=200):
    event = submission.event
    just_submitted = session.pop("new_case", None) == submission.code
    refusal = change_refusal(submission, event, china_today())
    return render_template(
        "cases/show.html", submission=submission, event=event, token=token,
        just_submitted=just_submitted, private_url=url_for(".show", token=token, _external=True),
        refusal=refusal, can_change=not refusal,
        deadline=materials_deadline_of(event), category=event.category_label(submission.category),
        photos={a.position: a for a in submission.current_attachments("photo")},
        replaced=[a for a in submission.attachments if a.replaced_at is not None],
        text_form=text_form or CaseTextForm(formdata=None),
        photos_form=photos_form or CasePhotosForm(formdata=None,
                                                  data=_photos_form_data(submission)),
        forms_form=forms_form or CaseFormsForm(formdata=None),
        kept=uploads.files if uploads else {}, signed=uploads.signed() if uploads else {},
        service_error=service_error, open_form=open_form, min_photos=MIN_PHOTOS), status


def _change(submission, token, form_name: str, form, slots: dict, apply):
    """Validate a private-page form, keep its files, apply the change, commit, redirect."""
    valid = form.validate_on_submit()
    uploads = CarriedUploads(slots).take(form)
    if valid and not uploads.refused:
        try:
            notes = apply(uploads.files)
        except ServiceError as error:
            db.session.rollback()
            shown = show_beside_field(form, error)
            return _render_show(submission, token, uploads=uploads, status=409,
                                service_error=None if shown else error, open_form=form_name,
                                **{form_name: form})
        db.session.commit()
        flash(notes, "success")
        return redirect(url_for(".show", token=token))
    return _render_show(submission, token, uploads=uploads, status=422, open_form=form_name,
                        **{form_name: form})


@bp.route("/c/<token>/text", methods=["POST"])
def replace_text(token):
    submission = _case_or_404(token)

    def apply(files):
        number = replace_case_text(submission, files.get("text_docx"), files.get("text_pdf"),
                                   today=china_today(), now=utcnow())
        return f"已上传新的正文（第 {number} 版），以前的版本仍保留。"

    return _change(submission, token, "text_form", CaseTextForm(), TEXT_SLOTS, apply)


@bp.route("/c/<token>/photos", methods=["POST"])
def replace_photos(token):
    submission = _case_or_404(token)
    form = CasePhotosForm()

    def apply(files):
        changes = [PhotoChange(position=n, caption=form.caption(n).data or "",
                               new_file=files.get(f"photo_{n}"),
                               remove=bool(form[f"remove_{n}"].data))
                   for n in PHOTO_SLOTS]
        notes = replace_case_photos(submission, changes, today=china_today(), now=utcnow())
        return "已保存图片：" + "；".join(notes) if notes else "图片没有变化。"

    return _change(submission, token, "photos_form", form, PHOTO_SLOT_KINDS, apply)


@bp.route("/c/<token>/forms", methods=["POST"])
def replace_forms(token):
    submission = _case_or_404(token)

    def apply(files):
        notes = replace_case_forms(submission, application_form=files.get("application_form"),
                                   recommendation_file=files.get("recommendation_file"),
                                   today=china_today(), now=utcnow())
        return "已保存：" + "、".join(notes) + "（原文件仍保留）。"

    return _change(submission, token, "forms_form", CaseFormsForm(), FORM_SLOTS, apply)


@bp.route("/c/<token>/files/<int:file_id>")
def download(token, file_id):
    submission = _case_or_404(token)
    return submission_file_response(
        submission, file_id, inline=() if "download" in request.args else IMAGE_KINDS)
