"""What meeting materials and call cases share: codes, versions of the text, deadlines."""
from datetime import date

from sqlalchemy import func, select

from ..checks import new_registration_code
from ..extensions import db
from ..models import Event, Registration, StoredFile, Submission, SubmissionVersion
from ..timeutil import is_on_or_before
from .uploads import ExtractedText, extract_text


def new_submission_code() -> str:
    """A code for a submission, unused by any other (same alphabet as registrations)."""
    while True:
        code = "C" + new_registration_code(7)
        if db.session.scalar(select(Submission.id).where(Submission.code == code)) is None:
            return code


def materials_deadline_of(event: Event) -> date:
    """The last day (China time, inclusive) materials or cases are taken."""
    return event.materials_deadline or event.registration_deadline


def materials_open(event: Event, today: date, registration: Registration | None = None) -> bool:
    """Until the materials deadline, or the later day an organiser allowed this unit."""
    if is_on_or_before(materials_deadline_of(event), today):
        return True
    extended = registration.materials_extended_until if registration is not None else None
    return extended is not None and today <= extended


def add_version(submission: Submission, stored: StoredFile, data: bytes, *,
                uploaded_by: str, extracted: ExtractedText | None = None) -> SubmissionVersion:
    """Add the next version of a submission's text (the file already checked and stored;
    the caller holds the lock that serialises changes to this submission)."""
    extracted = extracted or extract_text(data, stored.kind)
    # Numbered from the database, not from a copy loaded before the lock was taken.
    last = db.session.scalar(select(func.max(SubmissionVersion.number))
                             .where(SubmissionVersion.submission_id == submission.id)) \
        if submission.id is not None else None
    version = SubmissionVersion(
        number=(last or 0) + 1, file_id=stored.id, file=stored,
        paragraphs=extracted.paragraphs, char_count=extracted.char_count,
        page_count=extracted.page_count, uploaded_by=uploaded_by,
    )
    submission.versions.append(version)
    submission.version_count = version.number
    submission.char_count = extracted.char_count
    db.session.flush()
    return version
