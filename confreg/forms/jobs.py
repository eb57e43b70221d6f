"""The button that starts a long job (a booklet, bulk certificates)."""
from flask_wtf import FlaskForm

from .registration import FormMeta


class StartJobForm(FlaskForm):
    """Only the CSRF token."""

    Meta = FormMeta
