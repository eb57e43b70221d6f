"""Every e-mail the system sends, composed in one place.

Mail is queued as an OutboundMail row in the same transaction as the change that
causes it; when that transaction commits, the ids are handed to the background worker
(confreg/worker.py), which sends them. A rollback sends nothing, an SMTP outage loses
nothing (the row waits and the worker's sweep retries it with back-off), and no request
waits for a mail server.
"""
import re
import smtplib
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
import flask_mail
from flask_mail import Message
from sqlalchemy import insert, or_, select, update

from .database import begin_write, utcnow, write_intent
from .extensions import db
from .models import OutboundMail
from .worker import enqueue_after_commit

RETRY_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360, 720)]
# A claimed row whose sender died is retried after MAIL_SENDING_LEASE_SECONDS.


def private_link(token: str) -> str:
    """The unit's private link, as written in e-mails."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/r/{token}"


def case_link(token: str) -> str:
    """A case's private link (call for case materials), as written in e-mails."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}/c/{token}"


def render_mail(kind: str, context: dict) -> tuple[str, str]:
    """Subject and body of templates/email/<kind>/ with this context.

    Rendered by the Jinja environment itself, without Flask's per-request template context
    (request, session, g, the logged-in user): a mail is the same whoever's request, or
    the worker, composes it, and skipping it made a registration POST cheaper.
    """
    env = current_app.jinja_env
    context = {**context, "private_link": private_link, "config": current_app.config}
    subject = env.get_template(f"email/{kind}/subject.txt").render(context).strip()
    body = env.get_template(f"email/{kind}/body.txt").render(context)
    return subject, body


def _mail_values(kind: str, to_addr: str, context: dict, registration) -> dict:
    subject, body = render_mail(kind, context)
    now = utcnow()
    return dict(kind=kind, to_addr=to_addr, subject=subject, body_text=body,
                registration_id=registration.id if registration else None,
                status="pending", attempts=0, created_at=now, next_attempt_at=now)


def queue_mail(kind: str, to_addr: str, *, context: dict, registration=None,
               attachment=None, attachment_name: str = "") -> OutboundMail:
    """Compose mail from templates/email/<kind>/ and queue it in the current transaction.

    The worker sends it once the transaction commits; a rollback forgets it. `attachment`
    is a StoredFile sent with it (read from the upload storage when the mail goes out).
    """
    message = OutboundMail(**_mail_values(kind, to_addr, context, registration))
    if attachment is not None:
        message.attachment_file_id = attachment.id
        message.attachment_name = (attachment_name or attachment.original_name)[:200]
    db.session.add(message)
    db.session.flush()
    enqueue_after_commit("send_mail", message.id)
    return message


@cache
def _insert_mail_statement():
    return insert(OutboundMail.__table__)


def queue_mail_row(kind: str, to_addr: str, *, context: dict, registration=None) -> int:
    """Queue the same mail as queue_mail with one INSERT now, no ORM object (no flush), and
    return its id: for a hot path that needs the mail sent, never the row read back."""
    result = db.session.execute(_insert_mail_statement(),
                                _mail_values(kind, to_addr, context, registration))
    mail_id = result.inserted_primary_key[0]
    enqueue_after_commit("send_mail", mail_id)
    return mail_id


@dataclass(frozen=True)
class _Envelope:
    id: int
    kind: str
    to_addr: str
    subject: str
    body_text: str
    attachment_file_id: int | None = None
    attachment_name: str = ""


def _claim(mail_id: int, now: datetime) -> _Envelope | None:
    """Mark a due mail as being sent by us; commit so that no transaction stays open."""
    begin_write(db.session)
    claimed = db.session.execute(
        update(OutboundMail)
        .where(OutboundMail.id == mail_id,
               OutboundMail.status.in_(("pending", "sending")),
               OutboundMail.next_attempt_at <= now)
        # The lease runs from this moment, not from the start of a long sweep (`now`):
        # else a mail claimed late in a sweep would be free again while it is being sent.
        .values(status="sending", attempts=OutboundMail.attempts + 1,
                next_attempt_at=max(now, utcnow()) + timedelta(
                    seconds=current_app.config["MAIL_SENDING_LEASE_SECONDS"]))
    ).rowcount
    envelope = None
    if claimed:
        row = db.session.get(OutboundMail, mail_id)
        envelope = _Envelope(row.id, row.kind, row.to_addr, row.subject, row.body_text,
                             row.attachment_file_id, row.attachment_name)
    db.session.commit()
    return envelope


class _Message(Message):
    """Flask-Mail's message, serialised without re-folding headers it has already encoded.

    Flask-Mail RFC 2047-encodes the headers itself and then sets policy.SMTP, whose
    header re-folding was 18% of a registration request; compat32 writes them as they are.
    """

    def _message(self):
        message = super()._message()
        message.policy = policy.compat32.clone(linesep="\r\n")
        return message


def message_id(mail_id: int) -> str:
    """The Message-ID of an outbox row."""
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "confreg.local"
    return f"<outbox-{mail_id}@{host}>"


def _transmit(envelope: _Envelope, accepted=None) -> None:
    """Hand the mail to the server; `accepted()` runs as soon as the server has taken it
    (its "250" to DATA), before the goodbye: the smaller the gap between the server taking
    a mail and the outbox recording it, the rarer a resend after a worker is killed."""
    message = _Message(subject=envelope.subject, recipients=[envelope.to_addr],
                       body=envelope.body_text, sender=current_app.config["MAIL_DEFAULT_SENDER"])
    # One Message-ID per outbox row: a mail re-sent after a worker died mid-send (between
    # the server's "250 OK" and recording it) is the same message to the recipient's client.
    message.msgId = message_id(envelope.id)
    if envelope.attachment_file_id is not None:
        _attach(message, envelope)
    outbox = current_app.config.get("MAIL_OUTBOX_DIR")
    if outbox:
        folder = Path(outbox)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%d-%H%M%S")
        (folder / f"{stamp}-{envelope.id:06d}-{envelope.kind}.eml").write_bytes(message.as_bytes())
        if accepted is not None:
            accepted()
    else:
        with _TimedConnection(current_app.extensions["mail"]) as connection:
            message.send(connection)
            if accepted is not None:
                accepted()


ATTACHMENT_TYPES = {"pdf": "application/pdf", "ofd": "application/ofd", "xml": "application/xml"}


def _attach(message: Message, envelope: _Envelope) -> None:
    """Attach the stored file; read now (no transaction stays open while sending)."""
    from .models import StoredFile
    from .services.uploads import read_file

    with write_intent(False):
        stored = db.session.get(StoredFile, envelope.attachment_file_id)
        data = read_file(stored)
        db.session.commit()
    message.attach(envelope.attachment_name or f"attachment.{stored.kind}",
                   ATTACHMENT_TYPES.get(stored.kind, "application/octet-stream"), data)


class _TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection, opened with MAIL_TIMEOUT: Flask-Mail gives smtplib no timeout,
    so a mail server that accepts and then hangs would hold the worker indefinitely."""

    def configure_host(self):
        smtp = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp(self.mail.server, self.mail.port, timeout=current_app.config["MAIL_TIMEOUT"])
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


# The private link's token: only its hash is kept in the registration, so once a mail has
# gone out (or given up) its stored copy must not keep the link either.
PRIVATE_LINK_TOKEN = re.compile(r"(/[rc]/)[A-Za-z0-9_-]{16,}")  # /r/ registration, /c/ case


def redact_private_links(text: str) -> str:
    return PRIVATE_LINK_TOKEN.sub(r"\1……（私密链接已隐去，见所发邮件）", text)


def _record_result(mail_id: int, error: Exception | None, now: datetime) -> None:
    begin_write(db.session)
    row = db.session.get(OutboundMail, mail_id, populate_existing=True)
    if row is None:  # deleted meanwhile (only a test's clean-up does that)
        db.session.commit()
        return
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", utcnow(), ""
        row.body_text = redact_private_links(row.body_text)
    else:
        row.last_error = f"{type(error).__name__}: {error}"[:1000]
        if row.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            row.status = "failed"
            row.body_text = redact_private_links(row.body_text)
        else:
            row.status = "pending"
            row.next_attempt_at = now + RETRY_DELAYS[min(row.attempts - 1, len(RETRY_DELAYS) - 1)]
        current_app.logger.warning("mail %s to %s not sent: %s", row.id, row.to_addr,
                                   row.last_error)
    db.session.commit()


def _send(envelope: _Envelope, now: datetime) -> bool:
    recorded = []

    def accepted():
        _record_result(envelope.id, None, now)
        recorded.append(True)

    try:
        _transmit(envelope, accepted)  # no transaction is open while the server is slow
    except Exception as exc:  # any SMTP or socket failure: keep it for a retry
        if recorded:  # the server took it; only the goodbye failed
            current_app.logger.info("mail %s sent; closing the connection failed: %s",
                                    envelope.id, exc)
            return True
        _record_result(envelope.id, exc, now)
        return False
    if not recorded:
        _record_result(envelope.id, None, now)
    return True


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
            if envelope is not None:
                sent += _send(envelope, now)
        return sent


