"""A registered unit's exchange material, on its private pages (routes of manage.bp)."""
from .manage import bp  # noqa: F401
