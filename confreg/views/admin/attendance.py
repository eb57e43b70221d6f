"""event_id>/attendance:On-site check-in per day, and completion (结业) of a training course's trainees."""
from flask import Blueprint

bp = Blueprint("admin_attendance", __name__, url_prefix="/admin/events/<int")
