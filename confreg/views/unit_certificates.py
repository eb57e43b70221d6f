"""A unit's certificates, downloaded from its private link (registration or case)."""
from flask import Blueprint

bp = Blueprint("unit_certificates", __name__)
