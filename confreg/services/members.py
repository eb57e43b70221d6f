"""Matching a unit's member claim against the member registry."""
from datetime import date

from sqlalchemy import or_, select

from ..checks import normalize_credit_code, normalize_unit_name
from ..extensions import db
from ..models import MemberUnit


def find_member(unit_name: str, credit_code: str | None, today: date) -> MemberUnit | None:
    """Return the registry entry valid today whose normalised name or credit code matches."""
    conditions = [MemberUnit.name_key == normalize_unit_name(unit_name)]
    code = normalize_credit_code(credit_code or "")
    if code:
        conditions.append(MemberUnit.credit_code == code)
    candidates = db.session.scalars(select(MemberUnit).where(or_(*conditions))).all()
    return next((m for m in candidates if m.is_valid_on(today)), None)
