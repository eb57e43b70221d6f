"""Certificates of an event: generated in bulk, numbered, printed, voided."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...extensions import db
from ...forms.certificates import VoidCertificateForm
from ...forms.jobs import StartJobForm
from ...forms.errors import show_beside_field
from ...models import Certificate
from ...models.certificates import CERTIFICATE_KINDS
from ...pdf.certificate import render_certificates
from ...services import ServiceError
from ...services.jobs import start_job
from ...services.certificates import (certificate_document_of, certificates_of,
                                      eligible_subjects, kinds_for,
                                      outdated_certificates, pending_subjects,
                                      void_certificate)
from ..files import set_download_name
from .access import actor_name, roles_required
from .booklet import recent_jobs
from .events import event_or_404
from .jobs import redirect_to_job

bp = Blueprint("admin_certificates", __name__,
               url_prefix="/admin/events/<int:event_id>/certificates")

ROLES = ("staff",)


def _kind_or_404(event, kind: str) -> str:
    if kind not in kinds_for(event):
        abort(404)
    return kind


def _certificate_or_404(event, certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.event_id != event.id:
        abort(404)
    return certificate


def certificates_response(certificates: list[Certificate], filename: str):
    """The certificates as one PDF (one page each), shown in the browser.

    Named `filename`.pdf: quoted by werkzeug for old browsers (an ASCII stand-in) and in
    full as RFC 5987 filename* (Chinese, spaces and all).
    """
    response = make_response(render_certificates(
        [certificate_document_of(c) for c in certificates]))
    response.headers["Content-Type"] = "application/pdf"
    set_download_name(response, "inline", f"{filename}.pdf", fallback="certificates")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("")
@roles_required(*ROLES)
def index(event_id: int):
    event = event_or_404(event_id)
    kinds = kinds_for(event)
    kind = request.args.get("kind") or ("completion" if event.kind == "training" else "written")
    if kind not in kinds:
        kind = kinds[0]
    summary = {}
    for k in kinds:
        issued = [c for c in certificates_of(event, k) if not c.is_void]
        summary[k] = {"eligible": len(eligible_subjects(event, k)), "issued": len(issued)}
    return render_template(
        "admin/certificates/index.html", event=event, kinds=kinds, kind=kind,
        kind_labels={k: CERTIFICATE_KINDS[k][0] for k in kinds}, summary=summary,
        pending=pending_subjects(event, kind), certificates=certificates_of(event, kind),
        outdated=outdated_certificates(event),
        generate_form=StartJobForm(formdata=None),
        jobs=recent_jobs(event, ("certificates_issue", "certificates_pdf")),
    )


def _start(event_id: int, kind: str, job_kind: str):
    event = event_or_404(event_id)
    kind = _kind_or_404(event, kind)
    if not StartJobForm().validate():
        flash("页面已过期，请重试。", "error")
        return redirect(url_for(".index", event_id=event.id, kind=kind))
    job = start_job(job_kind, event=event, params={"kind": kind}, actor=actor_name(),
                    user_id=current_user.id)
    db.session.commit()
    return redirect_to_job(job)


@bp.route("/<kind>/generate", methods=["POST"])
@roles_required(*ROLES)
def generate(event_id: int, kind: str):
    """Issue the certificates owed (a job: numbering hundreds takes a moment)."""
    return _start(event_id, kind, "certificates_issue")


@bp.route("/<kind>/all.pdf", methods=["POST"])
@roles_required(*ROLES)
def print_all(event_id: int, kind: str):
    """Print every valid certificate of a kind into one PDF (a job)."""
    return _start(event_id, kind, "certificates_pdf")


@bp.route("/<int:certificate_id>.pdf")
@roles_required(*ROLES)
def pdf(event_id: int, certificate_id: int):
    event = event_or_404(event_id)
    certificate = _certificate_or_404(event, certificate_id)
    return certificates_response([certificate], certificate.number)


@bp.route("/<int:certificate_id>/void", methods=["GET", "POST"])
@roles_required(*ROLES)
def void(event_id: int, certificate_id: int):
    event = event_or_404(event_id)
    certificate = _certificate_or_404(event, certificate_id)
    back = url_for(".index", event_id=event.id, kind=certificate.kind)
    if certificate.is_void:
        flash(f"证书 {certificate.number} 已作废。", "info")
        return redirect(back)
    form = VoidCertificateForm()
    if form.validate_on_submit():
        try:
            void_certificate(certificate, form.reason.data, actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            if not show_beside_field(form, error):
                flash(error.message, "error")
                return redirect(back)
            return _void_page(event, certificate.id, form, 422)
        db.session.commit()
        flash(f"证书 {certificate.number} 已作废；该编号保留，不再使用。"
              "如需重新发证，点“生成证书”将以新编号开具。", "success")
        return redirect(back)
    return _void_page(event, certificate.id, form, 422 if request.method == "POST" else 200)


def _void_page(event, certificate_id: int, form: VoidCertificateForm, status: int):
    certificate = db.session.get(Certificate, certificate_id)
    return render_template("admin/certificates/void.html", event=event, certificate=certificate,
                           form=form), status
