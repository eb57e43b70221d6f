"""event_id>/booklet:The proceedings booklet (材料汇编) of an event's selected materials, as PDF and .docx."""
from flask import Blueprint

bp = Blueprint("admin_booklet", __name__, url_prefix="/admin/events/<int")
