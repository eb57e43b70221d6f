"""A unit's certificates, downloaded from its private link (registration or case)."""
from flask import Blueprint, abort, g, request

from ..models import Registration, Submission
from ..services.cases import find_case_by_token
from ..services.certificates import certificates_for_unit, unit_certificate
from ..services.registrations import find_by_token
from .admin.certificates import certificates_response

bp = Blueprint("unit_certificates", __name__)


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key
    return response


def _own_certificate_pdf(number: str, **owner):
    """The certificate of the registration or case the private link opened (None: no such link)."""
    if None in owner.values():
        abort(404)
    certificate = unit_certificate(number, **owner)
    if certificate is None:
        abort(404)  # another unit's certificate and a wrong number look the same
    return _private(certificates_response([certificate], certificate.number))


@bp.route("/r/<token>/certificates/<number>.pdf")
def registration_pdf(token: str, number: str):
    return _own_certificate_pdf(number, registration=find_by_token(token))


@bp.route("/c/<token>/certificates/<number>.pdf")
def case_pdf(token: str, number: str):
    return _own_certificate_pdf(number, submission=find_case_by_token(token))


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
