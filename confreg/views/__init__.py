"""Blueprints: public (notices, registration), manage (a unit's private pages)."""
from werkzeug.routing import IntegerConverter

MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """`<int:…>` in every route: a number a database key can hold, so that a 30-digit "id"
    is a plain 404 and never reaches the database (where it would overflow)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ROW_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
