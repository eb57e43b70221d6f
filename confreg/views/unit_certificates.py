"""A unit's certificates, downloaded from its private link (registration or case)."""
from flask import Blueprint, abort, g, request
from sqlalchemy import select

from ..extensions import db
from ..models import Registration, Submission
from ..models.registrations import hash_token
from ..services.certificates import certificates_for_unit, unit_certificate
from ..services.registrations import find_by_token
from .admin.certificates import certificates_response

bp = Blueprint("unit_certificates", __name__)


def find_case_by_token(token: str) -> Submission | None:
    """Return the case (or material) a /c/ private link opens, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Submission).where(Submission.token_hash == hash_token(token)))


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key
    return response


@bp.route("/r/<token>/certificates/<number>.pdf")
def registration_pdf(token: str, number: str):
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    certificate = unit_certificate(number, registration=registration)
    if certificate is None:
        abort(404)  # another unit's certificate and a wrong number look the same
    return _private(certificates_response([certificate], certificate.number))


@bp.route("/c/<token>/certificates/<number>.pdf")
def case_pdf(token: str, number: str):
    submission = find_case_by_token(token)
    if submission is None:
        abort(404)
    certificate = unit_certificate(number, submission=submission)
    if certificate is None:
        abort(404)
    return _private(certificates_response([certificate], certificate.number))


@bp.app_template_global()
def unit_certificates(registration: Registration | None = None,
                      submission: Submission | None = None, token: str | None = None) -> list:
    """The unit's valid certificates, each with its download link: [(certificate, url)].

    The link uses the private token of the page being shown (g.token on /r/<token>, the
    route's token on /c/<token>) unless one is given.
    """
    from flask import url_for

    token = token or getattr(g, "token", None) or (request.view_args or {}).get("token")
    if not token:
        return []
    endpoint = ".registration_pdf" if registration is not None else ".case_pdf"
    return [(c, url_for(f"unit_certificates{endpoint}", token=token, number=c.number))
            for c in certificates_for_unit(registration=registration, submission=submission)]
