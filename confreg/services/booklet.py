"""材料汇编: which materials go into an event's booklet, in what order, with what text.

The booklet holds the event's submissions that are still submitted (a material only while
its registration is active) and were selected by the review -- meeting materials and call
cases alike -- each in its latest version, ordered by the event's categories (in the order
the event lists them) and then by title (in code-point order, which for Chinese is the
radical-stroke order of the Unicode tables).
Staff do not reorder by hand: the order is the one the contents page shows, and a
category keeps its materials together.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pypinyin import Style, lazy_pinyin
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Event, Submission, SubmissionVersion
from ..pdf.booklet import Booklet, BookletMaterial
from ..timeutil import format_date_cn
from .registrations import submission_in_play
from .uploads import count_chinese, file_path, read_file


@dataclass
class BookletEntry:
    """One selected submission as the booklet will print it, and what staff should check."""

    submission: Submission
    version: SubmissionVersion | None
    category_label: str
    warnings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.version.file.kind if self.version is not None else ""

    @property
    def unit(self) -> str:
        return self.submission.author_unit or self.submission.unit_name


def format_event_dates(event: Event) -> str:
    """2026年8月10日至13日; across months or years, the full second date."""
    start, end = event.starts_on, event.ends_on
    if start == end:
        return format_date_cn(start)
    if start.year != end.year:
        return f"{format_date_cn(start)}至{format_date_cn(end)}"
    if start.month != end.month:
        return f"{format_date_cn(start)}至{end.month}月{end.day}日"
    return f"{format_date_cn(start)}至{end.day}日"


def _warnings(version: SubmissionVersion | None) -> list[str]:
    if version is None:
        return ["尚未上传正文：汇编中只有标题和单位。"]
    warnings = []
    if not file_path(version.file).exists():
        warnings.append("原文件在服务器上缺失：PDF 原页无法排入，请让单位重新上传。"
                        if version.file.kind == "pdf" else "原文件在服务器上缺失（正文已提取，不影响汇编）。")
    has_text = any((p.get("text") or "").strip() for p in version.paragraphs or [])
    if version.file.kind == "pdf":
        if not has_text or count_chinese(version.text) == 0:
            warnings.append("PDF 中没有可提取的文字（多为扫描件）：PDF 版汇编照排原页，"
                            "Word 版汇编只有标题。")
    elif not has_text:
        warnings.append("Word 正文中没有文字：汇编中只有标题和单位。")
    return warnings


def pinyin_key(text: str) -> tuple[str, ...]:
    """Order Chinese titles as a dictionary does: by pinyin, syllable by syllable, the tone
    (1-4, 5 for the neutral one) deciding between equal spellings (安 an1 < 北 bei3 < 张 zhang1;
    code-point order would put 北 first). Digits and Latin letters keep their own order."""
    return tuple(syllable.lower() for syllable in lazy_pinyin(
        text or "", style=Style.TONE3, neutral_tone_with_five=True))


def booklet_entries(event: Event) -> list[BookletEntry]:
    """The event's selected, submitted materials in booklet order, with warnings."""
    submissions = db.session.scalars(
        select(Submission)
        .where(Submission.event_id == event.id, Submission.status == "submitted",
               Submission.selection == "selected", submission_in_play())
        .options(selectinload(Submission.versions).selectinload(SubmissionVersion.file))
    ).all()
    order = {str(category.get("code", "")): position
             for position, category in enumerate(event.categories or [])}
    submissions = sorted(submissions, key=lambda s: (order.get(s.category, len(order)),
                                                     pinyin_key(s.title), s.title, s.id))
    return [BookletEntry(submission=s, version=s.latest_version,
                         category_label=event.category_label(s.category) if s.category in order else "",
                         warnings=_warnings(s.latest_version))
            for s in submissions]


def _material(entry: BookletEntry) -> BookletMaterial:
    submission, version = entry.submission, entry.version
    common = dict(title=submission.title, unit=entry.unit, authors=submission.authors,
                  category=entry.category_label)
    if version is None:
        return BookletMaterial(**common, kind="docx", paragraphs=[])
    if version.file.kind != "pdf":
        # Word text was extracted at upload; the file itself is not needed.
        return BookletMaterial(**common, kind="docx", paragraphs=list(version.paragraphs or []))
    try:
        data = read_file(version.file)
    except OSError:
        data = None  # printed as a note; the page shows the warning
    return BookletMaterial(**common, kind="pdf", paragraphs=list(version.paragraphs or []),
                           pdf=data)


def booklet_of(event: Event, entries: list[BookletEntry] | None = None) -> Booklet:
    """The booklet's data: the event, and each selected material with its text or PDF."""
    if entries is None:
        entries = booklet_entries(event)
    return Booklet(
        title=event.title, short_title=event.short_title, dates_text=format_event_dates(event),
        organiser=event.organiser, place=event.city,
        materials=[_material(entry) for entry in entries],
    )
