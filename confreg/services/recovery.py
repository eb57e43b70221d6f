"""Recovering a lost private link, in two steps, so that asking revokes nothing.

1. Asking (/recover): the unit gives its registration or case code and the contact e-mail
   it registered with. If both match, a mail goes to that address with a CONFIRM link; the
   current private link keeps working. The code is printed on payment notices, receipts and
   bank transfer remarks, so anyone may know it: asking must not be able to lock a unit out.
   At most MAX_REQUESTS_PER_DAY such mails go to one registration or case in 24 hours
   (counted from the audit log); further requests quietly do nothing. The caller answers
   every request alike and does this work only after the answer has gone out.
2. Confirming (/recover/r|c/<signed>): the confirm link is a timed signed token naming the
   row and a fingerprint of its current token hash. It is valid for CONFIRM_MAX_AGE and only
   until the link is rotated, so it works once. Opening it changes nothing (mail scanners
   open links); the POST from its page makes a new private link, shows it once and mails it
   to the contact address, and the old link stops working.
"""
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEntry, Event, Registration, Submission
from ..models.registrations import hash_token
from ..notifications import case_link, private_link, queue_mail
from . import ServiceError
from .audit import record_audit
from .registrations import lock_with_event

MAX_REQUESTS_PER_DAY = 3
REQUEST_WINDOW = timedelta(hours=24)
CONFIRM_MAX_AGE = timedelta(hours=24)
REQUESTED = "link.requested"
RECOVERED = "link.recovered"
_SALT = "confreg.recover-link.confirm"
FINGERPRINT_CHARS = 16

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


def _kind(row) -> str:
    """"r" for a registration, "c" for a case: the letter its private link uses."""
    return "r" if isinstance(row, Registration) else "c"


def _object_type(row) -> str:
    return "registration" if isinstance(row, Registration) else "submission"


def _fingerprint(row) -> str:
    return (row.token_hash or "")[:FINGERPRINT_CHARS]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def confirmation_token(row) -> str:
    """The signed part of the confirm link: the row and its current token hash's fingerprint.

    The payload is a short list, so its first part has no dot and matches the private-link
    pattern that sent mails are redacted by (the confirm link is /recover/r/<signed>)."""
    return _serializer().dumps([_kind(row), row.id, _fingerprint(row)])


def confirm_link(row) -> str:
    return (f"{current_app.config['BASE_URL'].rstrip('/')}/recover/{_kind(row)}/"
            f"{confirmation_token(row)}")


def _recent_requests(row, now: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == REQUESTED, AuditEntry.object_type == _object_type(row),
        AuditEntry.object_id == row.id, AuditEntry.at > now - REQUEST_WINDOW))


def _mail_context(row, event: Event, now: datetime, **more) -> dict:
    is_registration = isinstance(row, Registration)
    return {"event": event, "code": row.code, "unit_name": row.unit_name,
            "contact_name": row.contact_name, "is_registration": is_registration,
            "title": "" if is_registration else row.title, "at": now, **more}


def request_link(code: str, email: str, *, now: datetime) -> int | None:
    """Queue a mail with a confirm link if the code and contact e-mail match and the day's
    limit is not reached; change nothing else. Return the queued mail's id (for the caller
    to send after the commit, and for tests and logs: never show it to the visitor)."""
    row = _find(normalize_code(code))
    if row is None or not row.token_hash or not _same_email(email, row.contact_email):
        return None
    # begin_write, then the event and the row FOR UPDATE: two requests at once count right.
    row, event = lock_with_event(row)
    if not row.token_hash or not _same_email(email, row.contact_email):
        return None  # changed while we waited for the lock
    if _recent_requests(row, now) >= MAX_REQUESTS_PER_DAY:
        return None
    is_registration = isinstance(row, Registration)
    record_audit(
        actor="访客（找回私密链接页面）", action=REQUESTED,
        object_type=_object_type(row), object_id=row.id, event_id=event.id,
        registration_id=row.id if is_registration else None,
        summary=f"{'报名' if is_registration else '申报'} {row.code} 申请找回私密链接：确认邮件已发至"
                f"联系人邮箱 {row.contact_email}，原链接仍有效",
    )
    context = _mail_context(row, event, now, confirm_link=confirm_link(row),
                            valid_hours=int(CONFIRM_MAX_AGE.total_seconds() // 3600))
    message = queue_mail("link_request", row.contact_email, context=context,
                         registration=row if is_registration else None)
    db.session.flush()
    return message.id


class ConfirmLinkInvalid(ServiceError):
    """The confirm link is expired, already used (the link was rotated since) or not ours.
    `status` is the HTTP status to answer with: 410 expired or used, 400 tampered."""

    def __init__(self, status: int):
        super().__init__("链接已失效或已使用，请重新申请。")
        self.status = status


@dataclass(frozen=True)
class Recovered:
    row: Registration | Submission
    event: Event
    token: str
    link: str


def _load(signed: str, kind: str):
    """The row a confirm link names if it is genuine, fresh and unused; else raise."""
    try:
        payload = _serializer().loads(signed, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise ConfirmLinkInvalid(410) from None
    except BadSignature:
        raise ConfirmLinkInvalid(400) from None
    try:
        signed_kind, row_id, fingerprint = payload
    except (TypeError, ValueError):
        raise ConfirmLinkInvalid(400) from None
    if signed_kind != kind or kind not in ("r", "c") or not isinstance(row_id, int):
        raise ConfirmLinkInvalid(400)
    model = Registration if kind == "r" else Submission
    row = db.session.get(model, row_id)
    if row is None or not row.token_hash or not secrets.compare_digest(
            _fingerprint(row), str(fingerprint)):
        raise ConfirmLinkInvalid(410)  # the link was made anew since (this one, or another)
    return row


def pending_confirmation(signed: str, kind: str) -> Registration | Submission:
    """What a confirm link would renew; reads only (raise ConfirmLinkInvalid if unusable)."""
    return _load(signed, kind)


def confirm_new_link(signed: str, kind: str, *, now: datetime) -> Recovered:
    """Make a new private link for the row a valid confirm link names, audit it and queue
    a mail with it to the contact e-mail; the old link (and this confirm link) stop working."""
    row = _load(signed, kind)
    row, event = lock_with_event(row)  # begin_write, then the event and the row FOR UPDATE
    _load(signed, kind)  # again under the lock: a second click waiting here finds it used
    token = secrets.token_urlsafe(24)
    row.token_hash = hash_token(token)  # the old link stops working here
    is_registration = isinstance(row, Registration)
    link = private_link(token) if is_registration else case_link(token)
    actor = f"{'单位' if is_registration else '申报单位'}联系人 {row.contact_name}（找回私密链接）"
    record_audit(
        actor=actor, action=RECOVERED,
        object_type=_object_type(row), object_id=row.id, event_id=event.id,
        registration_id=row.id if is_registration else None,
        summary=f"{'报名' if is_registration else '申报'} {row.code} 经联系人邮箱确认，生成新的"
                f"私密链接（已发至 {row.contact_email}），原链接作废",
    )
    queue_mail("link_recovered", row.contact_email,
               context=_mail_context(row, event, now, link=link),
               registration=row if is_registration else None)
    db.session.flush()
    return Recovered(row=row, event=event, token=token, link=link)
