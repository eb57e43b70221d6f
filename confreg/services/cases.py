"""The call for case materials: a unit submits a case, follows it by its private link,
and may replace its text, photos and stamped form until the deadline.

A case is free; it needs its text (Word and/or PDF), 3-5 captioned photos and the
application form bearing the unit's seal (a non-member unit adds an expert's signed
recommendation, or has the form sealed by its recommending body). A case sent to an
earlier year's call is not taken again.
"""
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from ..checks import (normalize_credit_code, normalize_mobile, normalize_title,
                      normalize_unit_name)
from ..database import begin_write
from ..extensions import db
from ..models import Event, StoredFile, Submission, SubmissionAttachment
from ..models.materials import RECOMMENDATIONS
from ..models.registrations import hash_token
from ..notifications import case_link, queue_mail
from ..timeutil import format_date_cn
from . import ServiceError
from .audit import record_audit
from .materials import DECIDED_MESSAGE, is_decided
from .members import find_member
from .registrations import lock_event, lock_with_event
from .submissions import add_version, materials_deadline_of, materials_open, new_submission_code
from .uploads import read_file, save_upload

MIN_PHOTOS, MAX_PHOTOS = 3, 5


@dataclass
class CaseDetails:
    unit_name: str
    province: str
    city: str
    contact_name: str
    contact_mobile: str
    contact_email: str
    recommendation: str
    category: str
    title: str
    abstract: str
    credit_code: str = ""


@dataclass
class CaseFiles:
    """The files of a case, already checked by content and stored."""

    application_form: StoredFile | None = None
    text_docx: StoredFile | None = None
    text_pdf: StoredFile | None = None
    photos: list[tuple[StoredFile, str]] = field(default_factory=list)  # (file, caption)
    recommendation_file: StoredFile | None = None


class DuplicateCase(ServiceError):
    """The same form was sent twice; the first one was taken."""

    def __init__(self, submission: Submission):
        super().__init__(f"此申报已经提交成功（编号 {submission.code}），请勿重复提交。")
        self.submission = submission


def keep_upload(storage: FileStorage, *, allowed: frozenset, field: str, label: str) -> StoredFile:
    """Check an uploaded file by content and store it, so that a failed form loses nothing."""
    begin_write(db.session)
    return save_upload(storage, allowed=allowed, field=field, label=label)


def _require_call_open(event: Event, today: date) -> None:
    if event.kind != "call" or not event.published:
        raise ServiceError("该活动不接受案例申报。")
    if not materials_open(event, today):
        raise ServiceError(f"申报已于 {format_date_cn(materials_deadline_of(event))} 截止。")


def _check_not_repeated(event: Event, unit_key: str, title_key: str) -> None:
    """Refuse a case this unit already sent: to an earlier year's call, or to this one."""
    earlier = db.session.execute(
        select(Submission, Event).join(Event, Submission.event_id == Event.id)
        .where(Submission.kind == "case", Submission.status == "submitted",
               Submission.unit_name_key == unit_key, Submission.title_key == title_key,
               Event.kind == "call")
        .order_by(Event.starts_on.desc())
    ).all()
    for submission, call in earlier:
        if call.id == event.id:
            raise ServiceError(f"贵单位已在本次征集中报送过《{submission.title}》"
                               f"（编号 {submission.code}），请勿重复报送；如需修改，"
                               "请打开报送成功后收到的私密链接。", field="title")
        if call.starts_on.year < event.starts_on.year:
            raise ServiceError(f"贵单位已于 {call.starts_on.year} 年报送过《{submission.title}》，"
                               "往年已报材料请勿重复报送。", field="title")


def _check_files(details: CaseDetails, files: CaseFiles) -> None:
    if files.text_docx is None and files.text_pdf is None:
        raise ServiceError("请上传正文（Word 或 PDF，建议两者都上传）。", field="text_docx")
    if not MIN_PHOTOS <= len(files.photos) <= MAX_PHOTOS:
        raise ServiceError(f"请上传 {MIN_PHOTOS}～{MAX_PHOTOS} 张图片。", field="photo_1")
    if any(not caption.strip() for _, caption in files.photos):
        raise ServiceError("每张图片都需要填写说明。", field="photo_1")
    if files.application_form is None:
        raise ServiceError("请上传加盖公章的申报表。", field="application_form")
    if details.recommendation == "expert" and files.recommendation_file is None:
        raise ServiceError("选择“附专家签字的推荐意见”时，请上传推荐意见。",
                           field="recommendation_file")


def submit_case(event_id: int, details: CaseDetails, files: CaseFiles, *, today: date,
                now: datetime, submission_key: str | None = None) -> tuple[Submission, str]:
    """Take a unit's case for a call; return the submission and its private token."""
    event = lock_event(event_id)  # one writer per call: the repeat check cannot race
    if submission_key:
        earlier = db.session.scalar(
            select(Submission).where(Submission.submission_key == submission_key))
        if earlier is not None:
            raise DuplicateCase(earlier)
    _require_call_open(event, today)
    if details.recommendation not in RECOMMENDATIONS:
        raise ServiceError("请选择推荐方式。", field="recommendation")
    if event.category(details.category) is None:
        raise ServiceError("请选择申报类别。", field="category")
    _check_files(details, files)
    unit_name = details.unit_name.strip()
    unit_key = normalize_unit_name(unit_name)
    title_key = normalize_title(details.title)
    _check_not_repeated(event, unit_key, title_key)

    credit_code = normalize_credit_code(details.credit_code) or None
    member = find_member(unit_name, credit_code, today)
    token = secrets.token_urlsafe(24)
    submission = Submission(
        event_id=event.id, kind="case", code=new_submission_code(),
        token_hash=hash_token(token), submission_key=submission_key or None, status="submitted",
        unit_name=unit_name, unit_name_key=unit_key, credit_code=credit_code,
        province=details.province, city=details.city.strip(),
        contact_name=details.contact_name.strip(),
        contact_mobile=normalize_mobile(details.contact_mobile),
        contact_email=details.contact_email.strip(),
        member_unit_id=member.id if member is not None else None,
        recommendation=details.recommendation, category=details.category,
        title=details.title.strip(), title_key=title_key, author_unit=unit_name,
        abstract=details.abstract.strip(), created_at=now, updated_at=now,
    )
    db.session.add(submission)
    db.session.flush()
    actor = f"申报单位联系人 {submission.contact_name}"
    _add_text(submission, files.text_docx, files.text_pdf, now=now, actor=actor)
    for position, (stored, caption) in enumerate(files.photos, start=1):
        _attach(submission, "photo", stored, now, position=position, caption=caption.strip())
    _attach(submission, "application_form", files.application_form, now)
    if details.recommendation == "expert":
        _attach(submission, "recommendation", files.recommendation_file, now)
    db.session.flush()

    record_audit(
        actor=actor, action="case.submitted", object_type="submission",
        object_id=submission.id, event_id=event.id,
        summary=f"报送案例 {submission.code}《{submission.title}》"
                f"（{event.category_label(submission.category)}；{submission.unit_name}）",
        changes={"title": [None, submission.title], "category": [None, submission.category],
                 "photos": [None, len(files.photos)],
                 "text": [None, submission.latest_version.file.original_name]},
    )
    queue_mail("case_received", submission.contact_email,
               context={"submission": submission, "event": event, "token": token,
                        "link": case_link(token),
                        "category": event.category_label(submission.category),
                        "deadline": materials_deadline_of(event)})
    return submission, token


def _attach(submission: Submission, role: str, stored: StoredFile, now: datetime, *,
            position: int = 0, caption: str = "") -> SubmissionAttachment:
    attachment = SubmissionAttachment(role=role, position=position, caption=caption,
                                      file_id=stored.id, file=stored, created_at=now)
    submission.attachments.append(attachment)
    return attachment


def _retire(attachments: list[SubmissionAttachment], now: datetime) -> None:
    for attachment in attachments:
        attachment.replaced_at = now  # kept, so what was sent before can still be seen


def _add_text(submission: Submission, docx: StoredFile | None, pdf: StoredFile | None, *,
              now: datetime, actor: str) -> None:
    """A new version from the Word file if there is one (its PDF kept beside it), else the PDF."""
    main = docx or pdf
    add_version(submission, main, read_file(main), uploaded_by=actor)
    if docx is not None and pdf is not None:
        _retire(submission.current_attachments("text_pdf"), now)
        _attach(submission, "text_pdf", pdf, now)
    elif docx is None:
        # The PDF is now the text itself: an older PDF copy of an older Word text is retired.
        _retire(submission.current_attachments("text_pdf"), now)


def find_case_by_token(token: str) -> Submission | None:
    """Return the case a private link opens, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Submission).where(
        Submission.kind == "case", Submission.token_hash == hash_token(token)))


def lock_case(submission: Submission) -> tuple[Submission, Event]:
    """Begin writing, lock the call and the case, and read both again."""
    return lock_with_event(submission)


def change_refusal(submission: Submission, event: Event, today: date) -> str:
    """Why the unit can no longer change its case, or "" while it can."""
    if not submission.is_submitted:
        return "该申报已撤回，不能再修改。"
    if not materials_open(event, today):
        return (f"申报已于 {format_date_cn(materials_deadline_of(event))} 截止，"
                "材料不能再更换。如有疑问请联系委员会。")
    if is_decided(submission):
        return DECIDED_MESSAGE
    return ""


def _require_changeable(submission: Submission, event: Event, today: date) -> None:
    refusal = change_refusal(submission, event, today)
    if refusal:
        raise ServiceError(refusal)


def _actor(submission: Submission) -> str:
    return f"申报单位联系人 {submission.contact_name}（私密链接）"


def _record_change(submission: Submission, event: Event, action: str, summary: str, *,
                   now: datetime, changes: dict | None = None) -> None:
    """Stamp the case as changed by its unit and put the change in the audit log."""
    submission.updated_at = now
    db.session.flush()
    record_audit(actor=_actor(submission), action=action, object_type="submission",
                 object_id=submission.id, event_id=event.id, summary=summary, changes=changes)


def replace_case_text(submission: Submission, docx: StoredFile | None, pdf: StoredFile | None,
                      *, today: date, now: datetime) -> int:
    """Add a new version of the case's text (every earlier version is kept); return its number."""
    if docx is None and pdf is None:
        raise ServiceError("请选择新的正文文件（Word 或 PDF）。", field="text_docx")
    submission, event = lock_case(submission)
    _require_changeable(submission, event, today)
    before = submission.version_count
    _add_text(submission, docx, pdf, now=now, actor=_actor(submission))
    version = submission.latest_version
    _record_change(submission, event, "case.text_replaced",
                   f"更换案例 {submission.code} 的正文：第 {version.number} 版"
                   f"（{version.file.original_name}，{version.char_count:,} 字）",
                   now=now, changes={"version": [before, version.number]})
    return version.number


@dataclass
class PhotoChange:
    """One photo slot as the unit left it: a new file, a new caption, or removed."""

    position: int
    caption: str = ""
    new_file: StoredFile | None = None
    remove: bool = False


def replace_case_photos(submission: Submission, changes: list[PhotoChange], *, today: date,
                        now: datetime) -> list[str]:
    """Replace, add, re-caption or remove photos (old ones kept as replaced); 3-5 remain."""
    submission, event = lock_case(submission)
    _require_changeable(submission, event, today)
    current = {a.position: a for a in submission.current_attachments("photo")}
    result: list[tuple[int, StoredFile, str, SubmissionAttachment | None]] = []
    for change in changes:
        old = current.get(change.position)
        if change.remove:
            continue
        stored = change.new_file or (old.file if old is not None else None)
        if stored is None:
            if change.caption.strip():
                raise ServiceError("填写了说明但没有图片，请选择图片或清空说明。",
                                   field=f"photo_{change.position}")
            continue
        if not change.caption.strip():
            raise ServiceError("请填写这张图片的说明。", field=f"caption_{change.position}")
        result.append((change.position, stored, change.caption.strip(), old))
    if not MIN_PHOTOS <= len(result) <= MAX_PHOTOS:
        raise ServiceError(f"须保留 {MIN_PHOTOS}～{MAX_PHOTOS} 张图片，现在是 {len(result)} 张。",
                           field="photo_1")
    notes = []
    kept_positions = {position for position, *_ in result}
    for position, old in current.items():
        if position not in kept_positions:
            _retire([old], now)
            notes.append(f"删除第 {position} 张图片")
    for position, stored, caption, old in result:
        if old is not None and old.file_id == stored.id and old.caption == caption:
            continue
        if old is not None:
            _retire([old], now)
        _attach(submission, "photo", stored, now, position=position, caption=caption)
        if old is None:
            notes.append(f"新增第 {position} 张图片")
        elif old.file_id != stored.id:
            notes.append(f"更换第 {position} 张图片")
        else:
            notes.append(f"修改第 {position} 张图片的说明")
    if not notes:
        return []
    _record_change(submission, event, "case.photos_replaced",
                   f"案例 {submission.code}：" + "；".join(notes), now=now)
    return notes


def replace_case_forms(submission: Submission, *, application_form: StoredFile | None,
                       recommendation_file: StoredFile | None, today: date,
                       now: datetime) -> list[str]:
    """Replace the stamped application form and/or the expert's recommendation."""
    if application_form is None and recommendation_file is None:
        raise ServiceError("请选择要更换的文件。", field="application_form")
    submission, event = lock_case(submission)
    _require_changeable(submission, event, today)
    notes = []
    for role, stored in (("application_form", application_form),
                         ("recommendation", recommendation_file)):
        if stored is None:
            continue
        _retire(submission.current_attachments(role), now)
        _attach(submission, role, stored, now)
        notes.append("更换" + ("申报表" if role == "application_form" else "专家推荐意见"))
    _record_change(submission, event, "case.forms_replaced",
                   f"案例 {submission.code}：" + "；".join(notes), now=now)
    return notes

