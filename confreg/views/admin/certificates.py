"""event_id>/certificates:Certificates of an event: generated in bulk, numbered, printed, voided."""
from flask import Blueprint

bp = Blueprint("admin_certificates", __name__, url_prefix="/admin/events/<int")
