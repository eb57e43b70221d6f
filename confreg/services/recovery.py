"""Recovering a lost private link: the unit gives its registration or case code and the
contact e-mail it registered with; if both match, a new link is made and mailed to that
address, and the old link stops working (only a token's hash is stored, so the old link
cannot be sent again).

The caller always tells the visitor the same thing, whatever happened here: whether a
code exists, or which address it belongs to, is never revealed. At most
MAX_RECOVERIES_PER_DAY mails go to one registration or case in 24 hours (counted from
the audit log); further requests quietly do nothing.
"""
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEntry, Registration, Submission
from ..models.registrations import hash_token
from ..notifications import case_link, private_link, queue_mail
from .audit import record_audit
from .registrations import lock_with_event

MAX_RECOVERIES_PER_DAY = 3
RECOVERY_WINDOW = timedelta(hours=24)
ACTION = "link.recovered"

_SEPARATORS = re.compile(r"[\s\-－—_]+")


def normalize_code(code: str) -> str:
    """A code as typed (spaces, dashes, lower case, full-width letters) in its stored form."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", code or "")).upper()


def _same_email(typed: str, stored: str | None) -> bool:
    typed, stored = (typed or "").strip().casefold(), (stored or "").strip().casefold()
    return bool(typed) and secrets.compare_digest(typed.encode(), stored.encode())


def _find(code: str) -> Registration | Submission | None:
    if not code or len(code) > 16:
        return None
    registration = db.session.scalar(select(Registration).where(Registration.code == code))
    if registration is not None:
        return registration
    return db.session.scalar(select(Submission).where(
        Submission.code == code, Submission.kind == "case"))


def _recent_recoveries(row, now: datetime) -> int:
    object_type = "registration" if isinstance(row, Registration) else "submission"
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == ACTION, AuditEntry.object_type == object_type,
        AuditEntry.object_id == row.id, AuditEntry.at > now - RECOVERY_WINDOW))


def recover_link(code: str, email: str, *, now: datetime) -> bool:
    """Mail a new private link if the code and contact e-mail match; return whether a mail
    was queued (for tests and logs only: never show it to the visitor)."""
    row = _find(normalize_code(code))
    if row is None or not _same_email(email, row.contact_email):
        return False
    row, event = lock_with_event(row)  # begin_write, then the event and the row FOR UPDATE
    if not _same_email(email, row.contact_email):  # changed while we waited for the lock
        return False
    if _recent_recoveries(row, now) >= MAX_RECOVERIES_PER_DAY:
        return False
    token = secrets.token_urlsafe(24)
    row.token_hash = hash_token(token)  # the old link stops working here
    is_registration = isinstance(row, Registration)
    actor = f"{'单位' if is_registration else '申报单位'}联系人 {row.contact_name}（找回私密链接）"
    record_audit(
        actor=actor, action=ACTION,
        object_type="registration" if is_registration else "submission", object_id=row.id,
        event_id=event.id, registration_id=row.id if is_registration else None,
        summary=f"{'报名' if is_registration else '申报'} {row.code} 找回私密链接：新链接已发至"
                f"联系人邮箱 {row.contact_email}，原链接作废",
    )
    context = {"event": event, "code": row.code, "unit_name": row.unit_name,
               "contact_name": row.contact_name, "is_registration": is_registration,
               "link": private_link(token) if is_registration else case_link(token),
               "title": "" if is_registration else row.title, "at": now}
    queue_mail("link_recovered", row.contact_email, context=context,
               registration=row if is_registration else None)
    db.session.flush()
    return True
