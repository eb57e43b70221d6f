"""A meeting's exchange materials: a registered unit uploads (and replaces) its material
before the materials deadline; staff see who has sent one and who has not, and may let one
unit past the deadline.

One material per registration (a partial unique index backs it); every version of the file
is kept. The count of Chinese characters is checked against the event's limit: over it, the
unit is warned -- or refused, if the organiser made the limit binding.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, false, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from ..checks import normalize_title, normalize_unit_name
from ..database import utcnow
from ..extensions import db
from ..models import Registration, Submission
from ..notifications import queue_mail
from ..timeutil import format_date_cn
from . import ServiceError
from .audit import diff, record_audit
from .registrations import extend_until, lock_registration
from .submissions import add_version, materials_deadline_of, materials_open, new_submission_code
from .uploads import DOCUMENT_KINDS, check_upload, extract_text, store_file

DETAIL_FIELDS = ("title", "authors", "author_unit", "abstract")
DETAIL_LABELS = {"title": "标题", "authors": "作者", "author_unit": "作者单位", "abstract": "摘要"}
ABSTRACT_MAX = 300

# Once 入选/未入选 is decided the unit may no longer change what was judged (cases too).
DECIDED_MESSAGE = "评审结果已确定，材料不能再更换；如需更正请联系会务组。"

# The staff list's filters: name -> label (the empty name is everything).
MATERIAL_FILTERS = {"": "全部", "submitted": "已提交", "missing": "未提交", "over": "超字数"}


@dataclass(frozen=True)
class MaterialDetails:
    title: str
    authors: str
    author_unit: str = ""
    abstract: str = ""


@dataclass(frozen=True)
class MaterialSaved:
    submission: Submission
    version_number: int | None  # None: only the title, authors or abstract changed
    created: bool
    changed: list[str]  # labels of the details that changed
    warning: str  # over the character limit, in words; "" when within it


def material_of(registration: Registration) -> Submission | None:
    """The unit's submitted material for its meeting, or None."""
    # Read afresh: a page may have loaded it before the service took the lock, and on
    # PostgreSQL the identity map would otherwise hand back that stale copy.
    return db.session.scalar(
        select(Submission).where(Submission.registration_id == registration.id,
                                 Submission.kind == "material",
                                 Submission.status == "submitted")
        .execution_options(populate_existing=True))


def is_decided(submission: Submission | None) -> bool:
    """入选 or 未入选 has been decided: the unit can no longer change the submission."""
    return submission is not None and submission.selection != "pending"


def over_limit(event, char_count: int) -> bool:
    return bool(event.materials_char_limit) and char_count > event.materials_char_limit


def limit_warning(event, char_count: int) -> str:
    """"正文约 3,412 字，超过本次会议建议的 3000 字" -- or "" within the limit."""
    if not over_limit(event, char_count):
        return ""
    word = "规定" if event.materials_limit_blocks else "建议"
    return f"正文约 {char_count:,} 字，超过本次会议{word}的 {event.materials_char_limit:,} 字"


def materials_closed_message(event, registration: Registration) -> str:
    until = registration.materials_extended_until
    last = max(materials_deadline_of(event), until) if until else materials_deadline_of(event)
    return (f"交流材料已于 {format_date_cn(last)} 截止提交，材料不能再修改。"
            "如需补交或更换，请联系会务组。")


def _clean(details: MaterialDetails, registration: Registration) -> dict:
    values = {name: (getattr(details, name) or "").strip() for name in DETAIL_FIELDS}
    values["author_unit"] = values["author_unit"] or registration.unit_name
    if not values["title"]:
        raise ServiceError("请填写材料标题。", field="title")
    if not values["authors"]:
        raise ServiceError("请填写作者。", field="authors")
    if len(values["abstract"]) > ABSTRACT_MAX:
        raise ServiceError(f"摘要不超过 {ABSTRACT_MAX} 字。", field="abstract")
    return values


def save_material(registration: Registration, details: MaterialDetails,
                  upload: FileStorage | None, *, today: date, actor: str) -> MaterialSaved:
    """Upload the unit's material, replace its file, or change its title, authors, abstract."""
    has_file = upload is not None and bool(upload.filename)
    # Read and parse the file before taking the write lock (a 20 MB PDF takes a moment);
    # its refusal is raised after the deadline's, which matters more.
    data = kind = extracted = None
    chars = 0
    refused = None
    if has_file:
        try:
            data, kind = check_upload(upload, allowed=DOCUMENT_KINDS, field="file",
                                      label="材料文件")
            extracted = extract_text(data, kind)
            chars = extracted.char_count
        except ServiceError as error:
            refused = error
    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消，不能提交交流材料。")
    if not event.takes_registrations:
        raise ServiceError("该活动不收交流材料。")
    if not materials_open(event, today, registration):
        raise ServiceError(materials_closed_message(event, registration))
    submission = material_of(registration)
    if is_decided(submission):
        raise ServiceError(DECIDED_MESSAGE)
    values = _clean(details, registration)
    if submission is None and not has_file:
        raise ServiceError("请选择要上传的材料文件（.docx 或 .pdf）。", field="file")

    if refused is not None:
        raise refused
    warning = limit_warning(event, chars) if has_file else ""
    if warning and event.materials_limit_blocks:
        raise ServiceError(f"{warning}，请删减后重新上传。", field="file")

    created = submission is None
    if created:
        submission = Submission(
            event_id=event.id, kind="material", code=new_submission_code(),
            registration_id=registration.id, unit_name=registration.unit_name,
            unit_name_key=normalize_unit_name(registration.unit_name),
            credit_code=registration.credit_code, province=registration.province,
            city=registration.city, contact_name=registration.contact_name,
            contact_mobile=registration.contact_mobile,
            contact_email=registration.contact_email, member_unit_id=registration.member_unit_id,
            title=values["title"], title_key=normalize_title(values["title"]),
            authors=values["authors"], author_unit=values["author_unit"],
            abstract=values["abstract"],
        )
        db.session.add(submission)
        before = {}
    else:
        before = {name: getattr(submission, name) for name in DETAIL_FIELDS}
    changes = diff(before, values)
    for name, value in values.items():
        setattr(submission, name, value)
    submission.title_key = normalize_title(values["title"])
    submission.updated_at = utcnow()
    db.session.flush()

    version = None
    previous = submission.version_count or None
    if has_file:
        stored = store_file(data, kind, upload.filename)
        version = add_version(submission, stored, data, uploaded_by=actor, extracted=extracted)
    elif not changes:  # nothing new: no audit entry, no mail
        return MaterialSaved(submission, None, False, [], "")

    changed = [DETAIL_LABELS[name] for name in DETAIL_FIELDS if name in changes]
    if created:
        action, summary = "material.uploaded", (
            f"提交交流材料《{submission.title}》（第 1 版，约 {version.char_count:,} 字）")
    elif version is not None:
        action, summary = "material.replaced", (
            f"更换交流材料《{submission.title}》的文件（第 {version.number} 版，"
            f"约 {version.char_count:,} 字）")
    else:
        action, summary = "material.updated", (
            f"修改交流材料《{submission.title}》：" + "、".join(changed))
    if version is not None:
        changes = {**changes, "version": [previous, version.number],
                   "char_count": [None, version.char_count],
                   "file": [None, version.file.original_name]}
    record_audit(actor=actor, action=action, object_type="submission", object_id=submission.id,
                 event_id=event.id, registration_id=registration.id, summary=summary,
                 changes=changes)
    if version is not None:
        queue_mail("material_received", registration.contact_email, registration=registration,
                   context={"registration": registration, "event": event,
                            "submission": submission, "version": version,
                            "created": created, "warning": warning,
                            "deadline": materials_deadline_of(event),
                            "extended_until": registration.materials_extended_until})
    return MaterialSaved(submission, version.number if version else None, created, changed,
                         warning)


def extend_materials_deadline(registration: Registration, until: date | None, *, today: date,
                              actor: str) -> None:
    """Let one unit send or replace its material after the deadline, until a day (or stop)."""
    extend_until(registration, "materials_extended_until", until, today=today, now=utcnow(),
                 actor=actor, action="registration.materials_extended",
                 granted="允许逾期提交交流材料", revoked="撤销逾期提交交流材料的许可",
                 later_than=(materials_deadline_of(registration.event), "材料截止日"))


# --- what staff see ------------------------------------------------------------------------

def submitted_material_exists():
    """SQL: the registration in the outer query has a submitted material."""
    return exists().where(Submission.registration_id == Registration.id,
                          Submission.kind == "material", Submission.status == "submitted")


def materials_missing_condition(event):
    """SQL: an active registration of an event with a materials deadline and no material."""
    if event.materials_deadline is None or not event.takes_registrations:
        return false()
    return and_(Registration.status == "active", ~submitted_material_exists())


@dataclass(frozen=True)
class MaterialRow:
    registration: Registration
    submission: Submission | None
    over_limit: bool

    @property
    def last_upload(self):
        version = self.submission.latest_version if self.submission else None
        return version.uploaded_at if version else None


@dataclass(frozen=True)
class MaterialList:
    rows: list[MaterialRow]
    counts: dict  # filter name -> count


def list_materials(event, filter_name: str = "") -> MaterialList:
    """Every active registration of a meeting with its material (or none), filtered."""
    registrations = db.session.scalars(
        select(Registration).where(Registration.event_id == event.id,
                                   Registration.status == "active")
        .order_by(Registration.created_at, Registration.id)
    ).all()
    materials = {s.registration_id: s for s in db.session.scalars(
        select(Submission).where(Submission.event_id == event.id, Submission.kind == "material",
                                 Submission.status == "submitted")
        .options(selectinload(Submission.versions))
    )}
    rows = [MaterialRow(r, materials.get(r.id),
                        r.id in materials and over_limit(event, materials[r.id].char_count))
            for r in registrations]
    counts = {"": len(rows), "submitted": sum(1 for r in rows if r.submission),
              "missing": sum(1 for r in rows if r.submission is None),
              "over": sum(1 for r in rows if r.over_limit)}
    keep = {"submitted": lambda r: r.submission is not None,
            "missing": lambda r: r.submission is None,
            "over": lambda r: r.over_limit}.get(filter_name, lambda r: True)
    return MaterialList([r for r in rows if keep(r)], counts)


def list_cases(event) -> list[Submission]:
    """A call's case submissions, newest first, with their attachments for the photo count."""
    return db.session.scalars(
        select(Submission).where(Submission.event_id == event.id, Submission.kind == "case")
        .order_by(Submission.created_at.desc(), Submission.id.desc())
        .options(selectinload(Submission.attachments))
    ).all()

