"""The call for case materials: a unit's submission form and its private page (/c/<token>)."""
from flask import Blueprint

bp = Blueprint("cases", __name__)
