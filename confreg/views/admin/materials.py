"""event_id>/materials:Staff: who has submitted materials or cases, and what they sent."""
from flask import Blueprint

bp = Blueprint("admin_materials", __name__, url_prefix="/admin/events/<int")
