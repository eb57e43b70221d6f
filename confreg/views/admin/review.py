"""Expert review: admins assign submissions to reviewers; reviewers read and score; admins select."""
from flask import Blueprint

bp = Blueprint("admin_review", __name__, url_prefix="/admin")
