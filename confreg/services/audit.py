"""Writing the audit log."""
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import insert

from ..checks import mask_id_number, mask_mobile
from ..extensions import db
from ..models import AuditEntry

# Personal numbers are kept in the audit log masked, as every list shows them: the log says
# that they changed, not what they are.
MASKED = {"mobile": mask_mobile, "contact_mobile": mask_mobile, "id_number": mask_id_number}


def _json_safe(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _logged(key: str, value):
    if value and key in MASKED:
        return MASKED[key](str(value))
    return _json_safe(value)


def diff(before: dict, after: dict) -> dict:
    """Return {field: [before, after]} for the fields whose values differ (numbers masked)."""
    return {
        key: [_logged(key, before.get(key)), _logged(key, after.get(key))]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _audit_values(*, actor: str, action: str, object_type: str, object_id: int | None,
                  summary: str, changes: dict | None, event_id: int | None,
                  registration_id: int | None) -> dict:
    return dict(actor=actor, action=action, object_type=object_type, object_id=object_id,
                summary=summary, changes=changes or {}, event_id=event_id,
                registration_id=registration_id)


def record_audit(*, actor: str, action: str, object_type: str, object_id: int | None,
                 summary: str, changes: dict | None = None, event_id: int | None = None,
                 registration_id: int | None = None) -> AuditEntry:
    """Add an audit entry to the current transaction."""
    entry = AuditEntry(**_audit_values(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        summary=summary, changes=changes, event_id=event_id, registration_id=registration_id))
    db.session.add(entry)
    return entry


@cache
def _insert_audit_statement():
    return insert(AuditEntry.__table__)


def insert_audit(*, actor: str, action: str, object_type: str, object_id: int | None,
                 summary: str, changes: dict | None = None, event_id: int | None = None,
                 registration_id: int | None = None) -> None:
    """Write the same entry as record_audit with one INSERT now, no ORM object (no flush):
    for a hot path that needs the entry written, never read back."""
    db.session.execute(_insert_audit_statement(), _audit_values(
        actor=actor, action=action, object_type=object_type, object_id=object_id,
        summary=summary, changes=changes, event_id=event_id, registration_id=registration_id))
