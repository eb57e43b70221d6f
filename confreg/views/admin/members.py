"""The member registry (import from Excel/CSV with a preview) and the queue of member-price
claims that did not match it."""
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ...database import utcnow
from ...extensions import db
from ...forms.members import (ApproveClaimForm, ConfirmImportForm, MemberImportForm,
                              RejectClaimForm)
from ...models import Registration
from ...models.members import MEMBER_TYPES
from ...services import ServiceError
from ...services.members import (IMPORT_COLUMNS, approve_member_claim, import_members,
                                 pending_claims, plan_import, registry_hints,
                                 registry_page, reject_member_claim)
from ...timeutil import china_today
from ..paging import page_arg
from .access import actor_name, roles_required

bp = Blueprint("admin_members", __name__, url_prefix="/admin/members")

PER_PAGE = 50
IMPORT_ROLES = ("staff",)  # and admin; finance reads the registry
# An upload waits this long for its confirmation, then it is forgotten.
UPLOAD_MAX_AGE = 24 * 3600


def _page() -> int:
    return page_arg()


# --- the registry -------------------------------------------------------------------------

@bp.route("/")
@roles_required("staff", "finance")
def index():
    return _render_index(MemberImportForm(formdata=None))


def _render_index(form, status=200):
    query = request.args.get("q", "").strip()[:100]
    page = _page()
    entries, total = registry_page(query, page, PER_PAGE)
    return render_template(
        "admin/members/index.html", entries=entries, total=total, query=query, page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), form=form,
        can_import=current_user.role in ("admin", *IMPORT_ROLES), today=china_today(),
        member_types=MEMBER_TYPES, columns=[names[0] for names in IMPORT_COLUMNS.values()],
    ), status


@dataclass
class KeptUpload:
    path: Path
    filename: str
    data: bytes


def _upload_folder() -> Path:
    folder = Path(current_app.config.get("MEMBER_IMPORT_DIR")
                  or Path(current_app.instance_path) / "member-imports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="member-import")


def _keep_upload(data: bytes, filename: str) -> str:
    """Save the upload under a random name until it is confirmed; return the signed name."""
    folder = _upload_folder()
    for stale in folder.glob("*.upload"):  # previews nobody confirmed
        if stale.stat().st_mtime < time.time() - UPLOAD_MAX_AGE:
            stale.unlink(missing_ok=True)
    name = secrets.token_hex(16)
    (folder / f"{name}.upload").write_bytes(data)
    return _signer().dumps({"file": name, "name": filename})


def _kept_upload(signed: str | None) -> KeptUpload | None:
    """The upload a signed name points at; None if forged, expired or already imported."""
    try:
        payload = _signer().loads(signed or "", max_age=UPLOAD_MAX_AGE)
    except BadSignature:
        return None
    name = payload.get("file") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"[0-9a-f]{32}", name):
        return None
    path = _upload_folder() / f"{name}.upload"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return KeptUpload(path, str(payload.get("name") or "")[:200], data)


@bp.route("/upload", methods=["POST"])
@roles_required(*IMPORT_ROLES)
def upload():
    form = MemberImportForm()
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            # The content, not the name: a renamed program or a file without the columns
            # is refused here, beside the field.
            plan_import(data, today=china_today())
        except ServiceError as error:
            form.file.errors.append(error.message)
        else:
            filename = Path(form.file.data.filename or "").name[:200]
            return redirect(url_for(".preview", upload=_keep_upload(data, filename)))
    return _render_index(form, 422)


def _expired_preview():
    flash("该预览已失效（已导入或超过 24 小时），请重新上传文件。", "error")
    return redirect(url_for(".index"))


@bp.route("/preview")
@roles_required(*IMPORT_ROLES)
def preview():
    signed = request.args.get("upload", "")
    kept = _kept_upload(signed)
    if kept is None:
        return _expired_preview()
    try:
        plan = plan_import(kept.data, today=china_today())
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for(".index"))
    return render_template("admin/members/preview.html", plan=plan, filename=kept.filename,
                           form=ConfirmImportForm(formdata=None, upload=signed),
                           member_types=MEMBER_TYPES, today=china_today())


@bp.route("/confirm", methods=["POST"])
@roles_required(*IMPORT_ROLES)
def confirm():
    form = ConfirmImportForm()
    kept = _kept_upload(form.upload.data) if form.validate_on_submit() else None
    if kept is None:
        return _expired_preview()
    try:
        plan = import_members(kept.data, filename=kept.filename, actor=actor_name(),
                              today=china_today())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".preview", upload=form.upload.data))
    db.session.commit()
    kept.path.unlink(missing_ok=True)
    flash(f"会员名录已导入：{plan.summary()}。", "success")
    for row in plan.skipped[:20]:
        flash(f"第 {row.line} 行未导入（{row.name or '无单位名称'}）：{'；'.join(row.errors)}", "error")
    if len(plan.skipped) > 20:
        flash(f"另有 {len(plan.skipped) - 20} 行有错误未导入。", "error")
    return redirect(url_for(".index"))


# --- member-price claims waiting for verification ---------------------------------------

def _approve_form(registration: Registration, formdata=None) -> ApproveClaimForm:
    today = china_today()
    return ApproveClaimForm(
        formdata=formdata, prefix=f"approve-{registration.id}",
        member_type=registration.tier_claim if registration.tier_claim in MEMBER_TYPES else None,
        valid_until=date(today.year, 12, 31),  # memberships run by the calendar year
    )


@bp.route("/claims")
@roles_required("staff", "finance")
def claims():
    return _render_claims()


def _render_claims(bound: dict | None = None, status: int = 200):
    """The queue; `bound` holds the posted form of the one claim whose input was wrong."""
    page = _page()
    rows, total = pending_claims(page, PER_PAGE)
    bound = bound or {}
    can_decide = current_user.role in ("admin", "staff")
    forms = {
        r.id: {"approve": bound.get(("approve", r.id)) or _approve_form(r),
               "reject": bound.get(("reject", r.id))
               or RejectClaimForm(formdata=None, prefix=f"reject-{r.id}")}
        for r in rows
    } if can_decide else {}
    return render_template("admin/members/claims.html", claims=rows, total=total, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
                           hints=registry_hints(rows), forms=forms, can_decide=can_decide,
                           member_types=MEMBER_TYPES, today=china_today()), status


def _claim_or_404(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        abort(404)
    return registration


@bp.route("/claims/<int:registration_id>/approve", methods=["POST"])
@roles_required("staff")
def approve(registration_id):
    registration = _claim_or_404(registration_id)
    form = _approve_form(registration, formdata=request.form)
    if not form.validate_on_submit():
        return _render_claims({("approve", registration.id): form}, 422)
    unit_name = registration.unit_name
    try:
        approve_member_claim(
            registration, actor=actor_name(), now=utcnow(),
            member_type=form.member_type.data if form.add_to_registry.data else None,
            valid_until=form.valid_until.data if form.add_to_registry.data else None)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".claims"))
    db.session.commit()
    flash(f"已核准 {unit_name} 的会员价"
          f"{'，并记入会员名录' if form.add_to_registry.data else ''}；已发邮件通知联系人。",
          "success")
    return redirect(url_for(".claims"))


@bp.route("/claims/<int:registration_id>/reject", methods=["POST"])
@roles_required("staff")
def reject(registration_id):
    registration = _claim_or_404(registration_id)
    form = RejectClaimForm(formdata=request.form, prefix=f"reject-{registration.id}")
    if not form.validate_on_submit():
        return _render_claims({("reject", registration.id): form}, 422)
    try:
        registration = reject_member_claim(registration, actor=actor_name(), now=utcnow(),
                                           reason=form.reason.data or "")
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".claims"))
    message = (f"{registration.unit_name} 的会员价未通过核实，已按标准价重新计价，应缴 "
               f"{registration.total_amount:,.2f} 元；已发邮件通知联系人。")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".claims"))
