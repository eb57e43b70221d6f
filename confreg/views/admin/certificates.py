"""Certificates of an event: generated in bulk, numbered, printed, voided."""
import re
import unicodedata
from urllib.parse import quote

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

from ...extensions import db
from ...forms.certificates import GenerateCertificatesForm, VoidCertificateForm
from ...forms.errors import show_beside_field
from ...models import Certificate
from ...models.certificates import CERTIFICATE_KINDS
from ...pdf.certificate import render_certificates
from ...services import ServiceError
from ...services.certificates import (certificate_document_of, certificates_of,
                                      eligible_subjects, issue_certificates, kinds_for,
                                      outdated_certificates, pending_subjects,
                                      void_certificate)
from .access import actor_name, roles_required
from .events import event_or_404

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


# Kept out of a file name: control characters and what file systems or headers choke on.
NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')
ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def certificates_response(certificates: list[Certificate], filename: str):
    """The certificates as one PDF (one page each), shown in the browser.

    Named `filename`.pdf: quoted by werkzeug for old browsers (an ASCII stand-in) and in
    full as RFC 5987 filename* (Chinese, spaces and all).
    """
    response = make_response(render_certificates(
        [certificate_document_of(c) for c in certificates]))
    response.headers["Content-Type"] = "application/pdf"
    name = NAME_UNSAFE.sub("_", filename).strip(" .") or "certificates"
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    simple = ASCII_UNSAFE.sub("_", simple).strip("_.") or "certificates"
    response.headers.set("Content-Disposition", "inline", filename=f"{simple}.pdf",
                         **{"filename*": f"UTF-8''{quote(name + '.pdf', safe='')}"})
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
        generate_form=GenerateCertificatesForm(formdata=None),
    )


@bp.route("/<kind>/generate", methods=["POST"])
@roles_required(*ROLES)
def generate(event_id: int, kind: str):
    event = event_or_404(event_id)
    kind = _kind_or_404(event, kind)
    form = GenerateCertificatesForm()
    back = url_for(".index", event_id=event.id, kind=kind)
    if not form.validate():
        flash("页面已过期，请重试。", "error")
        return redirect(back)
    try:
        issued = issue_certificates(event, kind, actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    label = CERTIFICATE_KINDS[kind][0]
    if issued:
        flash(f"已生成{label} {len(issued)} 张（{issued[0].number}"
              f"{' 至 ' + issued[-1].number if len(issued) > 1 else ''}）。", "success")
    else:
        flash(f"没有需要生成的{label}：符合条件的都已发证。", "info")
    return redirect(back)


@bp.route("/<kind>/all.pdf")
@roles_required(*ROLES)
def print_all(event_id: int, kind: str):
    event = event_or_404(event_id)
    kind = _kind_or_404(event, kind)
    issued = [c for c in certificates_of(event, kind) if not c.is_void]
    if not issued:
        flash(f"还没有有效的{CERTIFICATE_KINDS[kind][0]}可打印。", "info")
        return redirect(url_for(".index", event_id=event.id, kind=kind))
    return certificates_response(
        issued, f"{CERTIFICATE_KINDS[kind][0]}-{event.short_title or event.id}")


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
