"""A unit's receipts and official e-invoices, downloaded from its private link."""
from flask import Blueprint, abort
from sqlalchemy import select

from ..extensions import db
from ..models import Receipt
from ..services.registrations import find_by_token
from ..services.invoices import unit_invoice_file
from .admin.finance import receipt_response
from .files import stored_file_response

bp = Blueprint("unit_receipts", __name__, url_prefix="/r")


@bp.route("/<token>/receipts/<number>.pdf")
def receipt_pdf(token: str, number: str):
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number,
                                                      Receipt.registration_id == registration.id))
    if receipt is None:
        abort(404)  # another unit's receipt and a wrong number look the same
    response = receipt_response(receipt)
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key
    return response


@bp.route("/<token>/invoices/<int:invoice_id>.<kind>")
def invoice_file(token: str, invoice_id: int, kind: str):
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    stored = unit_invoice_file(registration, invoice_id, kind)
    if stored is None:
        abort(404)  # another unit's invoice and a wrong number look the same
    response = stored_file_response(stored, f"invoice-{invoice_id}", inline=())
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
