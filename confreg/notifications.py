"""Every e-mail the system sends, composed in one place.

Mail is queued as an OutboundMail row in the same transaction as the change that
causes it, and sent after commit by deliver_mail(): a rollback sends nothing and
an SMTP outage loses nothing (the row waits and is retried with back-off, from
the next request that sends mail or from `flask mail send` run by cron).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, g, render_template
from flask_mail import Message
from sqlalchemy import or_, select, update

from .database import begin_write, utcnow, write_intent
from .extensions import db, mail
from .models import OutboundMail

RETRY_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360, 720)]
# A claimed row whose sender died is retried after this long.
SENDING_LEASE = timedelta(minutes=10)


def private_link(token: str) -> str:
    """The unit's private link, as written in e-mails."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/r/{token}"


def queue_mail(kind: str, to_addr: str, *, context: dict, registration=None) -> OutboundMail:
    """Compose mail from templates/email/<kind>/ and queue it in the current transaction."""
    context = {**context, "private_link": private_link}
    subject = render_template(f"email/{kind}/subject.txt", **context).strip()
    body = render_template(f"email/{kind}/body.txt", **context)
    message = OutboundMail(kind=kind, to_addr=to_addr, subject=subject, body_text=body,
                           registration_id=registration.id if registration else None)
    db.session.add(message)
    db.session.flush()
    g.setdefault("queued_mail_ids", []).append(message.id)
    return message


def queued_in_this_request() -> list[int]:
    return list(g.pop("queued_mail_ids", []))


@dataclass(frozen=True)
class _Envelope:
    id: int
    kind: str
    to_addr: str
    subject: str
    body_text: str


def _claim(mail_id: int, now: datetime) -> _Envelope | None:
    """Mark a due mail as being sent by us; commit so that no transaction stays open."""
    begin_write(db.session)
    claimed = db.session.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id,
               OutboundMail.status.in_(("pending", "sending")),
               OutboundMail.next_attempt_at <= now)
        .values(status="sending", attempts=OutboundMail.attempts + 1,
                next_attempt_at=now + SENDING_LEASE)
    ).rowcount
    envelope = None
    if claimed:
        row = db.session.get(OutboundMail, mail_id)
        envelope = _Envelope(row.id, row.kind, row.to_addr, row.subject, row.body_text)
    db.session.commit()
    return envelope


def _transmit(envelope: _Envelope) -> None:
    message = Message(subject=envelope.subject, recipients=[envelope.to_addr],
                      body=envelope.body_text, sender=current_app.config["MAIL_DEFAULT_SENDER"])
    outbox = current_app.config.get("MAIL_OUTBOX_DIR")
    if outbox:
        folder = Path(outbox)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%d-%H%M%S")
        (folder / f"{stamp}-{envelope.id:06d}-{envelope.kind}.eml").write_bytes(message.as_bytes())
    else:
        mail.send(message)


def _record_result(mail_id: int, error: Exception | None, now: datetime) -> None:
    begin_write(db.session)
    row = db.session.get(OutboundMail, mail_id, populate_existing=True)
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", utcnow(), ""
    else:
        row.last_error = f"{type(error).__name__}: {error}"[:1000]
        if row.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            row.status = "failed"
        else:
            row.status = "pending"
            row.next_attempt_at = now + RETRY_DELAYS[min(row.attempts - 1, len(RETRY_DELAYS) - 1)]
        current_app.logger.warning("mail %s to %s not sent: %s", row.id, row.to_addr,
                                   row.last_error)
    db.session.commit()


def deliver_mail(ids: list[int] | None = None, *, now: datetime | None = None,
                 limit: int = 100) -> int:
    """Send the given queued mails (or every one that is due); return how many went out."""
    now = now or utcnow()
    with write_intent(True):
        if ids is None:
            ids = db.session.scalars(
                select(OutboundMail.id)
                .where(or_(OutboundMail.status == "pending", OutboundMail.status == "sending"),
                       OutboundMail.next_attempt_at <= now)
                .order_by(OutboundMail.id).limit(limit)
            ).all()
            db.session.commit()
        sent = 0
        for mail_id in ids:
            envelope = _claim(mail_id, now)
            if envelope is None:
                continue
            try:
                _transmit(envelope)  # no transaction is open while the mail server is slow
            except Exception as exc:  # any SMTP or socket failure: keep it for a retry
                _record_result(mail_id, exc, now)
            else:
                _record_result(mail_id, None, now)
                sent += 1
        return sent


def send_queued_mail() -> int:
    """After a commit: send what this request queued; never fails the request."""
    ids = queued_in_this_request()
    if not ids:
        return 0
    try:
        return deliver_mail(ids)
    except Exception:  # the rows stay queued; cron retries them
        db.session.rollback()
        current_app.logger.exception("sending queued mail failed")
        return 0
