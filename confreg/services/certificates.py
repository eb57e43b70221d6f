"""Certificates: who is owed one, issuing them numbered, voiding a mistaken one.

Three kinds (models/certificates.CERTIFICATE_KINDS):
- 书面交流证书 (written): a unit whose material or case was selected by the experts;
- 专家点评证书 (comment): a unit that presented at the meeting and was commented on;
- 结业证书 (completion): a trainee of a training course marked as having completed it.

Numbers run per event and kind, e.g. "SM2027-012-0001": the prefix of the kind, the
event's year at issue, the event's id and the sequence.  They come from a document counter
of the event and kind -- not of a year, so moving the event's dates never restarts it --
that is locked before anything is checked, so two people pressing "生成证书" at once never
hand out a number twice, nor two certificates to one subject (a partial unique index
backs that too).  A certificate is a snapshot: what it says is copied at issue.  A
mistaken one is voided, keeping its number; its subject can then be issued a new one.
A certificate whose reason has gone (the material withdrawn or no longer selected, the
marks or the completion taken back, the registration cancelled) stays valid until staff
void it; the desk lists those (outdated_certificates).
"""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select

from ..database import begin_write, utcnow
from ..extensions import db
from ..models import Attendee, Certificate, Event, Registration, Submission
from ..models.certificates import CERTIFICATE_KINDS
from ..pdf.certificate import CertificateData
from ..timeutil import china_today
from . import ServiceError, finance
from .audit import record_audit
from .registrations import lock_event, submission_in_play
from .review import MARKS

KINDS_FOR_SUBMISSIONS = ("written", "comment")
# The counter's kind names the event and the certificate kind already; its "year" is fixed,
# so a counter never depends on the event's (changeable) dates.
COUNTER_YEAR = 0


@dataclass
class Eligible:
    """Someone owed a certificate of a kind, and what it will say."""

    subject_key: str               # "submission:12" or "attendee:34"
    recipient: str                 # the unit, or the trainee's name
    unit_name: str
    work_title: str = ""
    registration_id: int | None = None
    submission_id: int | None = None
    attendee_id: int | None = None


# --- Numbers and wording --------------------------------------------------------------------

def counter_kind(event_id: int, kind: str) -> str:
    """The document counter a kind of certificate of an event is numbered from."""
    return f"cert-{kind}-{event_id}"


def certificate_number(kind: str, year: int, event_id: int, sequence: int) -> str:
    """A readable number: JY2027-012-0001 (kind, year, event, sequence)."""
    return f"{CERTIFICATE_KINDS[kind][1]}{year}-{event_id:03d}-{sequence:04d}"


def event_dates_cn(event: Event) -> str:
    """The event's dates as a certificate writes them: 2027年8月20日至23日."""
    start, end = event.starts_on, event.ends_on
    first = f"{start.year}年{start.month}月{start.day}日"
    if end == start:
        return first
    if end.year != start.year:
        return f"{first}至{end.year}年{end.month}月{end.day}日"
    if end.month != start.month:
        return f"{first}至{end.month}月{end.day}日"
    return f"{first}至{end.day}日"


def kinds_for(event: Event) -> list[str]:
    """The kinds of certificate an event can give: completion only on a training course;
    no 专家点评证书 for a call for cases (there is no meeting to speak at)."""
    kinds = list(KINDS_FOR_SUBMISSIONS)
    if event.kind == "call":
        kinds.remove("comment")
    if event.kind == "training":
        kinds.append("completion")
    return kinds


def _check_kind(event: Event, kind: str) -> None:
    if kind not in CERTIFICATE_KINDS:
        raise ServiceError("没有这种证书。", field="kind")
    if kind == "completion" and event.kind != "training":
        raise ServiceError("结业证书只发给培训班的学员；本活动不是培训班。", field="kind")
    if kind == "comment" and event.kind == "call":
        raise ServiceError("材料征集没有会上交流发言，不发专家点评证书；入选案例发书面交流证书。",
                           field="kind")


# --- Who is owed one ------------------------------------------------------------------------

def eligible_subjects(event: Event, kind: str) -> list[Eligible]:
    """Everyone owed a certificate of `kind` at this event, in the order they are numbered."""
    _check_kind(event, kind)
    if kind == "completion":
        attendees = db.session.scalars(
            select(Attendee).join(Registration, Attendee.registration_id == Registration.id)
            .where(Attendee.event_id == event.id, Registration.status == "active",
                   Attendee.completed_at.is_not(None))).all()
        attendees = sorted(attendees, key=lambda a: (a.registration.unit_name.strip(),
                                                     a.registration_id, a.position, a.id))
        return [Eligible(subject_key=f"attendee:{a.id}", recipient=a.name,
                         unit_name=a.registration.unit_name, registration_id=a.registration_id,
                         attendee_id=a.id) for a in attendees]
    condition = (Submission.selection == "selected" if kind == "written"
                 else Submission.presented.is_(True) & Submission.commented.is_(True))
    submissions = db.session.scalars(
        select(Submission).where(Submission.event_id == event.id,
                                 Submission.status == "submitted", submission_in_play(),
                                 condition)
        .order_by(Submission.unit_name_key, Submission.id)).all()
    return [Eligible(subject_key=f"submission:{s.id}", recipient=s.unit_name,
                     unit_name=s.unit_name, work_title=s.title,
                     registration_id=s.registration_id, submission_id=s.id)
            for s in submissions]


def _issued_keys(event: Event, kind: str) -> set[str]:
    return set(db.session.scalars(
        select(Certificate.subject_key).where(Certificate.event_id == event.id,
                                              Certificate.kind == kind,
                                              Certificate.status == "issued")))


def pending_subjects(event: Event, kind: str) -> list[Eligible]:
    """Those owed a certificate of `kind` who have no valid one yet."""
    issued = _issued_keys(event, kind)
    return [e for e in eligible_subjects(event, kind) if e.subject_key not in issued]


def certificates_of(event: Event, kind: str | None = None) -> list[Certificate]:
    """The event's certificates (voided ones included), by kind and number."""
    statement = select(Certificate).where(Certificate.event_id == event.id)
    if kind is not None:
        statement = statement.where(Certificate.kind == kind)
    return list(db.session.scalars(statement.order_by(Certificate.kind, Certificate.sequence)))


@dataclass
class Outdated:
    """A valid certificate whose subject is no longer owed it, and why."""

    certificate: Certificate
    reason: str


def _why_not_owed(certificate: Certificate) -> str:
    """Why a certificate's subject is no longer owed it (called only for those not owed)."""
    if certificate.submission_id is not None:
        submission = db.session.get(Submission, certificate.submission_id)
        if submission is None:
            return "材料已不存在"
        if submission.registration is not None and not submission.registration.is_active:
            return "报名已取消"
        if not submission.is_submitted:
            return f"{submission.kind_label}已撤回"
        if certificate.kind == "written":
            return f"评审结果已改为“{submission.selection_label}”"
        missing = [label for mark, label in MARKS.items() if not getattr(submission, mark)]
        return "已取消" + "、".join(f"“{label}”" for label in missing) + "标记"
    if certificate.attendee_id is not None:
        attendee = db.session.get(Attendee, certificate.attendee_id)
        if attendee is None:
            return "该学员已从报名中删除"
        if not attendee.registration.is_active:
            return "报名已取消"
        if attendee.completed_at is None:
            return "已取消结业标记"
    return "已不符合发证条件"


def outdated_certificates(event: Event) -> list[Outdated]:
    """The event's valid certificates whose subjects are no longer owed them, by kind and number.

    Nothing is voided here: staff check each one and void it on the desk.
    """
    kinds = kinds_for(event)
    owed = {kind: {e.subject_key for e in eligible_subjects(event, kind)} for kind in kinds}
    outdated = []
    for certificate in certificates_of(event):
        if certificate.is_void:
            continue
        if certificate.kind not in kinds:
            outdated.append(Outdated(certificate, "材料征集不发专家点评证书"
                                     if certificate.kind == "comment" else "本活动已不是培训班"))
        elif certificate.subject_key not in owed[certificate.kind]:
            outdated.append(Outdated(certificate, _why_not_owed(certificate)))
    return outdated


# --- Issuing --------------------------------------------------------------------------------

def _hold_numbering(event: Event, kind: str) -> int:
    """Begin writing and lock the kind's counter before checking who has a certificate.

    Whoever holds the counter is the only one issuing this kind at this event, so the
    check "no valid certificate yet" stays true until the commit.  Returns the year the
    numbers show: the event's year now (the counter itself has no year).
    """
    # The event first, as cancelling, completion and the review marks lock it: a unit's
    # cancellation and its certificate are then never decided at the same moment.
    lock_event(event.id)
    counter = finance.lock_counter(counter_kind(event.id, kind), COUNTER_YEAR)
    # Never behind a number already given (e.g. by a counter of an earlier scheme).
    highest = db.session.scalar(select(func.max(Certificate.sequence)).where(
        Certificate.event_id == event.id, Certificate.kind == kind)) or 0
    if counter.last_number < highest:
        counter.last_number = highest
    return event.starts_on.year


def _issue(event: Event, kind: str, subject: Eligible, year: int, *, actor: str,
           today: date) -> Certificate:
    sequence = finance.take_number(counter_kind(event.id, kind), COUNTER_YEAR)
    certificate = Certificate(
        event_id=event.id, kind=kind, sequence=sequence,
        number=certificate_number(kind, year, event.id, sequence),
        subject_key=subject.subject_key, registration_id=subject.registration_id,
        submission_id=subject.submission_id, attendee_id=subject.attendee_id,
        recipient=subject.recipient, unit_name=subject.unit_name,
        work_title=subject.work_title, event_title=event.title,
        event_dates=event_dates_cn(event), organiser=event.organiser,
        issued_on=today, issued_by=actor, status="issued", created_at=utcnow(),
    )
    db.session.add(certificate)
    return certificate


def issue_certificates(event: Event, kind: str, *, actor: str,
                       today: date | None = None) -> list[Certificate]:
    """Issue a certificate of `kind` to everyone owed one who has none; return the new ones.

    Running it again issues nothing new (it is safe to press twice).
    """
    today = today or china_today()
    _check_kind(event, kind)
    year = _hold_numbering(event, kind)
    issued = [_issue(event, kind, subject, year, actor=actor, today=today)
              for subject in pending_subjects(event, kind)]
    db.session.flush()
    if issued:
        label = CERTIFICATE_KINDS[kind][0]
        record_audit(
            actor=actor, action="certificate.issued", object_type="event", object_id=event.id,
            event_id=event.id,
            summary=(f"生成{label} {len(issued)} 张：{issued[0].number}"
                     + (f" 至 {issued[-1].number}" if len(issued) > 1 else "")),
            changes={"issued": [f"{c.number} {c.recipient}" for c in issued]},
        )
        notify_certificates(event, issued)
    return issued


def notify_certificates(event: Event, issued: list[Certificate]) -> int:
    """Tell each unit (or case) by mail which new certificates it may download: one mail per
    registration or case, sent by the worker after this transaction commits."""
    from ..notifications import queue_mail

    by_owner: dict[tuple, list[Certificate]] = {}
    for certificate in issued:
        owner = (("registration", certificate.registration_id) if certificate.registration_id
                 else ("submission", certificate.submission_id))
        by_owner.setdefault(owner, []).append(certificate)
    labels = {kind: label for kind, (label, _prefix) in CERTIFICATE_KINDS.items()}
    sent = 0
    for (owner, owner_id), certificates in by_owner.items():
        if owner == "registration":
            registration = db.session.get(Registration, owner_id)
            if registration is None or not registration.contact_email:
                continue
            queue_mail("certificates_issued", registration.contact_email,
                       registration=registration,
                       context={"event": event, "certificates": certificates, "labels": labels,
                                "code": registration.code,
                                "contact_name": registration.contact_name})
        else:
            submission = db.session.get(Submission, owner_id) if owner_id else None
            if submission is None or not submission.contact_email:
                continue
            queue_mail("certificates_issued", submission.contact_email,
                       context={"event": event, "certificates": certificates, "labels": labels,
                                "code": None, "case_code": submission.code,
                                "contact_name": submission.contact_name})
        sent += 1
    return sent


def issue_certificate(event: Event, kind: str, subject_key: str, *, actor: str,
                      today: date | None = None) -> Certificate:
    """Issue one certificate of `kind` to one subject owed it ("submission:12", "attendee:3")."""
    today = today or china_today()
    _check_kind(event, kind)
    year = _hold_numbering(event, kind)
    subject = next((e for e in eligible_subjects(event, kind) if e.subject_key == subject_key),
                   None)
    if subject is None:
        raise ServiceError("该单位或学员不符合发证条件。")
    if subject_key in _issued_keys(event, kind):
        raise ServiceError(f"{subject.recipient} 已有有效的{CERTIFICATE_KINDS[kind][0]}。")
    certificate = _issue(event, kind, subject, year, actor=actor, today=today)
    db.session.flush()
    record_audit(
        actor=actor, action="certificate.issued", object_type="certificate",
        object_id=certificate.id, event_id=event.id, registration_id=certificate.registration_id,
        summary=f"开具{certificate.kind_label} {certificate.number}：{certificate.recipient}",
        changes={"number": [None, certificate.number]},
    )
    notify_certificates(event, [certificate])
    return certificate


def void_certificate(certificate: Certificate, reason: str, *, actor: str,
                     now: datetime | None = None) -> Certificate:
    """Void a certificate: its number stays, marked void, and is never issued again."""
    reason = finance.void_reason_of(reason)
    begin_write(db.session)
    certificate = db.session.execute(
        select(Certificate).where(Certificate.id == certificate.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)).scalar_one()
    finance.mark_void(certificate, "证书", reason, now or utcnow())
    record_audit(
        actor=actor, action="certificate.voided", object_type="certificate",
        object_id=certificate.id, event_id=certificate.event_id,
        registration_id=certificate.registration_id,
        summary=f"作废{certificate.kind_label} {certificate.number}（{certificate.recipient}）：{reason}",
        changes={"status": ["issued", "void"], "void_reason": [None, reason]},
    )
    return certificate


# --- What is printed, and who may download it ---------------------------------------------

def certificate_document_of(certificate: Certificate) -> CertificateData:
    """What the PDF shows: the snapshot taken at issue, never today's data."""
    return CertificateData(
        kind=certificate.kind, title=certificate.kind_label, number=certificate.number,
        recipient=certificate.recipient, unit_name=certificate.unit_name,
        work_title=certificate.work_title, event_title=certificate.event_title,
        event_dates=certificate.event_dates, organiser=certificate.organiser,
        issued_on=certificate.issued_on, void=certificate.is_void,
        void_reason=certificate.void_reason,
    )


def certificates_for_unit(*, registration: Registration | None = None,
                          submission: Submission | None = None) -> list[Certificate]:
    """The valid certificates a unit may download: its registration's or its case's."""
    if registration is not None:
        owner = or_(Certificate.registration_id == registration.id,
                    Certificate.submission_id.in_(
                        select(Submission.id).where(Submission.registration_id == registration.id)))
    elif submission is not None:
        owner = Certificate.submission_id == submission.id
    else:
        return []
    return list(db.session.scalars(
        select(Certificate).where(owner, Certificate.status == "issued")
        .order_by(Certificate.kind, Certificate.sequence)))


def unit_certificate(number: str, *, registration: Registration | None = None,
                     submission: Submission | None = None) -> Certificate | None:
    """The unit's valid certificate with this number, or None (another unit's is None too)."""
    return next((c for c in certificates_for_unit(registration=registration,
                                                  submission=submission)
                 if c.number == number), None)
