"""What units submit: exchange materials for a meeting and case reports for a call.

A submission keeps every version of its text file; photos and stamped forms are
attachments, kept too when replaced. Files live on disk by their SHA-256
(services/uploads.py); the rows say whose they are.
"""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

FILE_KINDS = {"docx": "Word 文档（.docx）", "pdf": "PDF 文件", "jpeg": "JPEG 图片", "png": "PNG 图片"}
SUBMISSION_KINDS = {"material": "交流材料", "case": "经验案例"}
SUBMISSION_STATUSES = {"submitted": "已提交", "withdrawn": "已撤回"}
SELECTIONS = {"pending": "待评定", "selected": "入选", "not_selected": "未入选"}
# A non-member unit's case needs a second endorsement: which one it sends.
RECOMMENDATIONS = {
    "member": "本单位是委员单位（申报表加盖本单位公章即可）",
    "unit_seal": "申报表另加盖上级推荐单位公章",
    "expert": "附专家签字的推荐意见",
}
ATTACHMENT_ROLES = {
    "photo": "图片",
    "application_form": "申报表（加盖公章）",
    "recommendation": "推荐意见（专家签字）",
    "text_pdf": "正文 PDF 版",
}


class StoredFile(db.Model):
    """An uploaded file: its bytes are on disk under their SHA-256."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(8))  # by content: docx, pdf, jpeg, png
    original_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    @property
    def kind_label(self) -> str:
        return FILE_KINDS.get(self.kind, self.kind)

    @property
    def extension(self) -> str:
        return {"jpeg": "jpg"}.get(self.kind, self.kind)


class Submission(db.Model):
    """One unit's material for a meeting, or one case report for a call."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # A meeting's material belongs to a registration (its private link is the unit's);
    # a case has its own private link.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    submission_key: Mapped[str | None] = mapped_column(String(43), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")

    unit_name: Mapped[str] = mapped_column(String(200))
    unit_name_key: Mapped[str] = mapped_column(String(200), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18))
    province: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_mobile: Mapped[str] = mapped_column(String(20), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    member_unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    recommendation: Mapped[str] = mapped_column(String(16), default="")  # RECOMMENDATIONS

    category: Mapped[str] = mapped_column(String(16), default="")  # the event's category code
    title: Mapped[str] = mapped_column(String(200))
    title_key: Mapped[str] = mapped_column(String(200), default="")  # normalised, for repeats
    authors: Mapped[str] = mapped_column(String(200), default="")
    author_unit: Mapped[str] = mapped_column(String(200), default="")
    abstract: Mapped[str] = mapped_column(Text, default="")

    # The latest version's figures, kept here so lists need no join.
    version_count: Mapped[int] = mapped_column(default=0)
    char_count: Mapped[int] = mapped_column(default=0)

    selection: Mapped[str] = mapped_column(String(16), default="pending")
    selection_note: Mapped[str] = mapped_column(Text, default="")
    selected_by: Mapped[str] = mapped_column(String(120), default="")
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The unit spoke at the meeting and an expert commented: 专家点评证书.
    presented: Mapped[bool] = mapped_column(default=False)
    commented: Mapped[bool] = mapped_column(default=False)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped["Event"] = relationship()  # noqa: F821
    registration: Mapped["Registration | None"] = relationship()  # noqa: F821
    versions: Mapped[list["SubmissionVersion"]] = relationship(
        back_populates="submission", order_by="SubmissionVersion.number",
        cascade="all, delete-orphan",
    )
    attachments: Mapped[list["SubmissionAttachment"]] = relationship(
        back_populates="submission",
        order_by="(SubmissionAttachment.role, SubmissionAttachment.position, SubmissionAttachment.id)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        CheckConstraint("kind IN ('material', 'case')", name="kind_known"),
        CheckConstraint("status IN ('submitted', 'withdrawn')", name="status_known"),
        CheckConstraint("selection IN ('pending', 'selected', 'not_selected')",
                        name="selection_known"),
        CheckConstraint("char_count >= 0", name="char_count_not_negative"),
        # One material per registration (a withdrawn one may be followed by a new one).
        Index("uq_submission_one_material_per_registration", "registration_id", unique=True,
              sqlite_where=text("status = 'submitted'"),
              postgresql_where=text("status = 'submitted'")),
    )

    @property
    def kind_label(self) -> str:
        return SUBMISSION_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return SUBMISSION_STATUSES.get(self.status, self.status)

    @property
    def selection_label(self) -> str:
        return SELECTIONS.get(self.selection, self.selection)

    @property
    def recommendation_label(self) -> str:
        return RECOMMENDATIONS.get(self.recommendation, self.recommendation)

    @property
    def is_submitted(self) -> bool:
        return self.status == "submitted"

    @property
    def latest_version(self) -> "SubmissionVersion | None":
        return self.versions[-1] if self.versions else None

    def current_attachments(self, role: str) -> list["SubmissionAttachment"]:
        return [a for a in self.attachments if a.role == role and a.replaced_at is None]

    @property
    def files(self) -> dict[int, "StoredFile"]:
        """Every file it has ever had (all versions, all attachments, replaced ones too), by id."""
        files = {v.file_id: v.file for v in self.versions}
        files.update({a.file_id: a.file for a in self.attachments})
        return files


class SubmissionVersion(db.Model):
    """One uploaded version of a submission's text; never deleted."""

    __tablename__ = "submission_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    # From Word: [{"kind": "heading", "level": 1, "text": ...}, {"kind": "p", "text": ...}];
    # from PDF: one {"kind": "page", "text": ...} per page.
    paragraphs: Mapped[list] = mapped_column(JSON, default=list)
    char_count: Mapped[int] = mapped_column(default=0)  # Chinese characters (汉字)
    page_count: Mapped[int | None] = mapped_column()    # PDF only
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="versions")
    file: Mapped[StoredFile] = relationship()

    __table_args__ = (
        UniqueConstraint("submission_id", "number", name="uq_submission_version_number"),
    )

    @property
    def text(self) -> str:
        return "\n".join(p["text"] for p in self.paragraphs)


class SubmissionAttachment(db.Model):
    """A photo with its caption, a stamped application form, a recommendation, a PDF copy."""

    __tablename__ = "submission_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(24))
    position: Mapped[int] = mapped_column(default=0)
    caption: Mapped[str] = mapped_column(String(200), default="")
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept, not deleted

    submission: Mapped[Submission] = relationship(back_populates="attachments")
    file: Mapped[StoredFile] = relationship()

    @property
    def role_label(self) -> str:
        return ATTACHMENT_ROLES.get(self.role, self.role)
