"""材料汇编: the proceedings booklet of an event's selected materials, as PDF and as .docx.

The PDF is one ReportLab document: a cover, a table of contents (ReportLab's own
TableOfContents, filled by afterFlowable notifications, built with multiBuild), then each
material on a new page with its title, unit and authors, and its text. Word text keeps its
paragraphs (first line indented two characters) and headings. A PDF material keeps its
own pages: the build reserves one box per original page, sized to that page's shape, and
afterwards pypdf draws each original page, scaled, into its box. Page numbers are those
of the PDF file itself (the cover is page 1 and shows none), so the number a reader types
into a PDF viewer is the number printed in the contents.

Each material starts on a new page, not necessarily an odd one: a booklet of 100
materials would otherwise carry up to 50 blank pages.

One layout pass: ReportLab's TableOfContents normally needs a second pass to learn its
page numbers (and a third when its own length moves the pages). Its size does not depend
on the numbers, though, so it is seeded with every entry before the build and takes its
final room at once; each number is a form XObject placed at the end of its line and drawn
when the canvas is saved, once every page is known (ReportLab's "page x of y" technique,
with ReportLab's own drawPageNumbers drawing the leader and number).
"""
from __future__ import annotations

import io
import re
from ast import literal_eval
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, NextPageTemplate,
                                PageBreak, PageTemplate, Paragraph, Spacer)
from reportlab.platypus.tableofcontents import TableOfContents, drawPageNumbers

from confreg.checks import normalize_title, strip_control_chars
from confreg.pdf.layout import (ACCENT, FONT, INK, MUTED, RULE, SMALL_SIZE, _fit_text, markup,
                                register_fonts, table_style)

# --- Page geometry (millimetres) ----------------------------------------------------------

MARGIN_LEFT_MM = 22
MARGIN_RIGHT_MM = 22
MARGIN_TOP_MM = 25
MARGIN_BOTTOM_MM = 22
HEADER_BASELINE_MM = 14      # from the top edge
HEADER_RULE_MM = 16          # from the top edge
FOOTER_BASELINE_MM = 11      # from the bottom edge
COVER_TITLE_TOP_MM = 70      # the cover's block starts this far below the top margin
TOC_NUMBER_COLUMN_MM = 12    # kept free at the right of each contents line for its number
ORIGINAL_PAGE_CAPTION_MM = 7  # below each included PDF page: "原文第 x 页 / 共 y 页"
# An original page is not squeezed under the material's heading below this share of the
# scale it gets on a page of its own; it moves to the next page instead.
ORIGINAL_PAGE_MIN_SCALE = 0.8

BODY_SIZE = 11
HEADING_SIZES = {1: 13.5, 2: 12.5, 3: 11.5}

# --- Styles -------------------------------------------------------------------------------

STYLE_TEXT = ParagraphStyle(
    "booklet-text", fontName=FONT, fontSize=BODY_SIZE, leading=BODY_SIZE * 1.75, textColor=INK,
    firstLineIndent=2 * BODY_SIZE, alignment=TA_JUSTIFY, wordWrap="CJK", spaceAfter=0.8 * mm,
)
STYLE_TEXT_HEADINGS = {
    level: ParagraphStyle(
        f"booklet-h{level}", parent=STYLE_TEXT, fontSize=size, leading=size * 1.6,
        textColor=ACCENT if level == 1 else INK, firstLineIndent=2 * BODY_SIZE,
        alignment=0, spaceBefore=2.5 * mm, spaceAfter=1.5 * mm, keepWithNext=1,
    )
    for level, size in HEADING_SIZES.items()
}
STYLE_NOTE = ParagraphStyle("booklet-note", parent=STYLE_TEXT, textColor=MUTED, firstLineIndent=0,
                            alignment=TA_CENTER)
STYLE_CATEGORY = ParagraphStyle("booklet-category", parent=STYLE_TEXT, fontSize=9.5,
                                leading=9.5 * 1.5, textColor=MUTED, firstLineIndent=0,
                                alignment=TA_CENTER, spaceAfter=2 * mm)
STYLE_MATERIAL_TITLE = ParagraphStyle(
    "booklet-title", parent=STYLE_TEXT, fontSize=17, leading=17 * 1.45, textColor=ACCENT,
    firstLineIndent=0, alignment=TA_CENTER, spaceAfter=3 * mm,
)
STYLE_MATERIAL_UNIT = ParagraphStyle("booklet-unit", parent=STYLE_TEXT, fontSize=11.5,
                                     leading=11.5 * 1.5, firstLineIndent=0, alignment=TA_CENTER)
STYLE_MATERIAL_AUTHORS = ParagraphStyle("booklet-authors", parent=STYLE_MATERIAL_UNIT,
                                        fontSize=10.5, leading=10.5 * 1.5, textColor=MUTED)
STYLE_COVER_TITLE = ParagraphStyle("booklet-cover-title", parent=STYLE_TEXT, fontSize=24,
                                   leading=24 * 1.45, textColor=INK, firstLineIndent=0,
                                   alignment=TA_CENTER)
STYLE_COVER_NAME = ParagraphStyle("booklet-cover-name", parent=STYLE_COVER_TITLE, fontSize=40,
                                  leading=40 * 1.3, textColor=ACCENT)
STYLE_COVER_LINE = ParagraphStyle("booklet-cover-line", parent=STYLE_COVER_TITLE, fontSize=14,
                                  leading=14 * 1.6)
STYLE_TOC_HEADING = ParagraphStyle("booklet-toc-heading", parent=STYLE_COVER_TITLE, fontSize=20,
                                   leading=20 * 1.4, textColor=ACCENT, spaceAfter=8 * mm)
STYLE_ORIGINAL_CAPTION = ParagraphStyle("booklet-original-caption", parent=STYLE_NOTE,
                                        fontSize=SMALL_SIZE, leading=SMALL_SIZE * 1.4)
_TOC_RIGHT = TOC_NUMBER_COLUMN_MM * mm
STYLE_TOC_CATEGORY = ParagraphStyle(
    "booklet-toc-category", fontName=FONT, fontSize=12, leading=12 * 1.6, textColor=ACCENT,
    wordWrap="CJK", rightIndent=_TOC_RIGHT, spaceBefore=3 * mm,
)
STYLE_TOC_ENTRY = ParagraphStyle(
    "booklet-toc-entry", fontName=FONT, fontSize=11, leading=11 * 1.65, textColor=INK,
    wordWrap="CJK", rightIndent=_TOC_RIGHT, leftIndent=2 * 11, firstLineIndent=-2 * 11 + 11,
)
# Without categories: flush left, a wrapped line hangs by one character.
STYLE_TOC_ENTRY_FLAT = ParagraphStyle("booklet-toc-flat", parent=STYLE_TOC_ENTRY, leftIndent=11,
                                      firstLineIndent=-11)

COVER_NAME = "材料汇编"
TOC_NAME = "目　录"
MISSING_TEXT_NOTE = "（本材料没有可排入的正文）"
UNREADABLE_PDF_NOTE = "（原文 PDF 无法读取，未能排入）"
NO_MATERIALS_NOTE = "（尚无入选材料）"
PDF_IN_DOCX_NOTE = "（原文为 PDF，以下为从中提取的文字，版式以 PDF 版汇编为准）"


# --- Data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class BookletMaterial:
    """One material as the booklet prints it.

    kind "docx": `paragraphs` are [{"kind": "heading", "level": n, "text": ...} |
    {"kind": "p", "text": ...}]. kind "pdf": `pdf` holds the file's bytes and `paragraphs`
    its extracted text ({"kind": "page", "text": ...} per page), used by the .docx export.
    """

    title: str
    unit: str
    authors: str = ""
    category: str = ""
    kind: str = "docx"
    paragraphs: Sequence[dict] = ()
    pdf: bytes | None = None


@dataclass(frozen=True)
class Booklet:
    title: str
    dates_text: str
    organiser: str
    materials: Sequence[BookletMaterial]
    short_title: str = ""   # running header; the title when empty
    place: str = ""


# --- PDF ----------------------------------------------------------------------------------

@dataclass
class _Placements:
    """Where each reserved box for an original PDF page landed: (material, page) -> box."""

    boxes: dict[tuple[int, int], tuple[int, float, float, float, float]] = field(
        default_factory=dict)


class _OriginalPage(Flowable):
    """A box the size of one original PDF page, scaled to the frame; filled in by pypdf."""

    def __init__(self, material: int, page: int, page_count: int, size: tuple[float, float],
                 frame_height: float, placements: _Placements) -> None:
        super().__init__()
        self.hAlign = "CENTER"
        self._key = (material, page)
        self._original_size = size
        self._frame_height = frame_height
        self._placements = placements
        self._caption = Paragraph(f"原文第 {page + 1} 页 / 共 {page_count} 页", STYLE_ORIGINAL_CAPTION)
        self._scale = 1.0

    def _scale_for(self, width: float, height: float) -> float:
        original_width, original_height = self._original_size
        return min(width / original_width,
                   (height - ORIGINAL_PAGE_CAPTION_MM * mm) / original_height)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        scale = self._scale_for(avail_width, avail_height)
        if scale < ORIGINAL_PAGE_MIN_SCALE * self._scale_for(avail_width, self._frame_height):
            # Too little room left under the heading: say so, and go to the next page.
            return avail_width, avail_height + 1
        self._scale = scale
        self.width = self._original_size[0] * scale
        self.height = self._original_size[1] * scale + ORIGINAL_PAGE_CAPTION_MM * mm
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        return []

    def draw(self) -> None:
        canvas = self.canv
        box_height = self.height - ORIGINAL_PAGE_CAPTION_MM * mm
        bottom = ORIGINAL_PAGE_CAPTION_MM * mm
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.rect(0, bottom, self.width, box_height)
        canvas.restoreState()
        self._caption.wrapOn(canvas, self.width, ORIGINAL_PAGE_CAPTION_MM * mm)
        self._caption.drawOn(canvas, 0, 1 * mm)
        # The absolute position of the box: the frame draws us at a translated origin.
        x, y = canvas.absolutePosition(0, bottom)
        self._placements.boxes[self._key] = (canvas.getPageNumber(), x, y, self.width, box_height)


class _Contents(TableOfContents):
    """ReportLab's table of contents whose page numbers are drawn once all pages are known."""

    def __init__(self, seed: list[tuple], **kwds: Any) -> None:
        super().__init__(**kwds)
        # Every entry with page 0: beforeBuild() makes them the entries laid out.
        self.addEntries(seed)
        self._pending: list[tuple] = []

    def beforeBuild(self) -> None:  # noqa: N802 (ReportLab's name)
        super().beforeBuild()
        self._pending = []

    def isSatisfied(self) -> bool:  # noqa: N802
        # The numbers are filled in at save time: the pass is good if the lines are the same.
        def lines(entries):
            return [(level, text, key) for level, text, _page, key in entries]
        return lines(self._entries) == lines(self._lastEntries)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        size = super().wrap(avail_width, avail_height)

        def defer_number(canvas, _kind: str, label: str) -> None:
            _page, level, key = label.split(",")  # as TableOfContents.wrap writes it
            name = f"booklet-contents-{len(self._pending)}"
            info = canvas._curr_tx_info
            self._pending.append((name, int(level), literal_eval(key), info["cur_x"],
                                  info["cur_y"], avail_width, avail_height))
            canvas.doForm(name)  # defined in draw_numbers(), when the canvas is saved

        # Replaces the callback super().wrap() registered under the same name.
        self.canv.setNamedCB("drawTOCEntryEnd", defer_number)
        return size

    def draw_numbers(self, canvas: Canvas) -> None:
        """Define each line's number form: leader dots and the page, right-aligned."""
        pages = {key: page for _level, _text, page, key in self._entries}
        for name, level, key, x, y, width, height in self._pending:
            style = self.getLevelStyle(level)
            canvas.beginForm(name, 0, y - style.leading, width, y + style.leading)
            canvas._curr_tx_info = {"cur_x": x, "cur_y": y}
            # No link key: an annotation made inside a form would land on the last page.
            drawPageNumbers(canvas, style, [(pages.get(key, 0), None)], width, height,
                            " . " if level >= self.dotsMinLevel else "")
            canvas.endForm()


class _BookletCanvas(Canvas):
    """A canvas that fills in the contents' page numbers before it writes the file."""

    def __init__(self, *args: Any, contents: _Contents, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._contents = contents

    def save(self) -> None:
        self._contents.draw_numbers(self)
        super().save()


class _BookletDoc(BaseDocTemplate):
    """Cover, contents and materials; every material title feeds the contents and outline."""

    def __init__(self, buffer: io.BytesIO, booklet: Booklet,
                 progress: Callable[[int], None] | None = None) -> None:
        self._progress = progress  # told how many materials are laid out, as they are
        super().__init__(
            buffer, pagesize=A4,
            leftMargin=MARGIN_LEFT_MM * mm, rightMargin=MARGIN_RIGHT_MM * mm,
            topMargin=MARGIN_TOP_MM * mm, bottomMargin=MARGIN_BOTTOM_MM * mm,
            title=f"{booklet.title} {COVER_NAME}", author=booklet.organiser, creator="confreg",
            initialFontName=FONT,
        )
        self._header = f"{booklet.short_title or booklet.title} · {COVER_NAME}"
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([
            PageTemplate(id="cover", frames=[frame]),
            PageTemplate(id="body", frames=[frame], onPage=self._decorate),
        ])

    def _decorate(self, canvas, doc) -> None:
        width, height = self.pagesize
        left, right = self.leftMargin, width - self.rightMargin
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, SMALL_SIZE)
        canvas.drawString(left, height - HEADER_BASELINE_MM * mm,
                          _fit_text(self._header, SMALL_SIZE, right - left))
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(left, height - HEADER_RULE_MM * mm, right, height - HEADER_RULE_MM * mm)
        canvas.setFont(FONT, 9)
        canvas.drawCentredString(width / 2, FOOTER_BASELINE_MM * mm,
                                 f"— {canvas.getPageNumber()} —")
        canvas.restoreState()

    def afterFlowable(self, flowable: Flowable) -> None:
        entries = getattr(flowable, "booklet_entries", None)
        if not entries:
            return
        for level, toc_text, outline_text, key in entries:
            if self._progress is not None and key.startswith("material-"):
                self._progress(int(key.removeprefix("material-")) + 1)
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(outline_text, key, level=level, closed=True)
            self.notify("TOCEntry", (level, toc_text, self.page, key))


def _toc_line(material: BookletMaterial) -> str:
    """Title, then the unit smaller and muted; the leader and number follow the unit."""
    if not material.unit:
        return markup(material.title)
    return f'{markup(material.title)}　<font size="9.5" color="#5F6368">{markup(material.unit)}</font>'





# --- The material's own title -------------------------------------------------------------
# Almost every Word file opens with its own title (and often the unit and authors under
# it), which the booklet has just printed as the material's heading.  Those leading
# paragraphs are left out when they say the same, compared without spaces and punctuation.

# What may stand beside the unit or authors on a byline: "作者：" "执笔人：" "供稿：" …
_BYLINE_WORDS = re.compile("作者|执笔人?|撰稿人?|供稿单位|供稿|报送单位|申报单位|单位|联系人")
# A byline is short; a longer paragraph is text even if it names the unit.
_BYLINE_MAX_CHARS = 80


def _is_byline(text: str, material: BookletMaterial) -> bool:
    """A line that is just the unit's name and/or the authors' names."""
    line = normalize_title(text)
    if not line or len(text) > _BYLINE_MAX_CHARS:
        return False
    names = [normalize_title(material.unit)]
    names += [normalize_title(name) for name in re.split(r"[、，,；;/\s]+", material.authors or "")]
    names.append(normalize_title(material.authors or ""))
    for name in sorted((n for n in names if n), key=len, reverse=True):
        line = line.replace(name, "")
    return normalize_title(_BYLINE_WORDS.sub("", line)) == ""


def body_paragraphs(material: BookletMaterial, paragraphs: Sequence | None = None) -> list:
    """The material's paragraphs without a leading repeat of its title (one paragraph, or a
    title and subtitle in two) and the unit/authors line(s) right after it.

    `paragraphs` are dicts with "text" (Word) or plain strings (lines of a PDF's text)."""
    items = list(material.paragraphs if paragraphs is None else paragraphs)

    def text_of(item) -> str:
        return (item if isinstance(item, str) else item.get("text") or "").strip()

    start = 0
    while start < len(items) and not text_of(items[start]):
        start += 1
    title = normalize_title(material.title)
    if not title or start >= len(items):
        return items
    first = normalize_title(text_of(items[start]))
    if first == title:
        start += 1
    elif first and title.startswith(first) and start + 1 < len(items) \
            and first + normalize_title(text_of(items[start + 1])) == title:
        start += 2  # the title over two lines: main title, then its subtitle
    else:
        return items
    while start < len(items) and (not text_of(items[start])
                                  or _is_byline(text_of(items[start]), material)):
        start += 1
    return items[start:]


def _original_pages(data: bytes | None) -> list[tuple[float, float]] | None:
    """The (width, height) in points of each page of a PDF as shown; None if unreadable."""
    if not data:
        return None
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        sizes = []
        for page in reader.pages:
            box = page.cropbox
            width, height = float(box.width), float(box.height)
            if not (0 < abs(width) < 100_000 and 0 < abs(height) < 100_000):
                return None  # a page of no size cannot be scaled onto A4: a note instead
            if (page.get("/Rotate") or 0) % 180:
                width, height = height, width
            sizes.append((abs(width), abs(height)))
        return sizes or None
    except Exception:  # noqa: BLE001 -- a damaged file is printed as a note, not a 500
        return None


def _category_entry(materials: Sequence[BookletMaterial], index: int,
                    levels: tuple[int, int]) -> tuple | None:
    """The contents line of a category, for the first material of each category."""
    category = materials[index].category
    if index > 0 and materials[index - 1].category == category:
        return None
    label = category or "其他"
    return (levels[0], markup(label), label, f"category-{index}")


def _contents_seed(materials: Sequence[BookletMaterial], levels: tuple[int, int]) -> list[tuple]:
    """Every contents line the build will report, with page 0."""
    seed = []
    with_categories = levels[0] != levels[1]
    for index, material in enumerate(materials):
        category = _category_entry(materials, index, levels) if with_categories else None
        if category is not None:
            seed.append((category[0], category[1], 0, category[3]))
        seed.append((levels[1], _toc_line(material), 0, f"material-{index}"))
    return seed


def _text_flowables(paragraphs: Sequence[dict]) -> list[Flowable]:
    story: list[Flowable] = []
    for paragraph in paragraphs:
        text = (paragraph.get("text") or "").strip()
        if not text:
            continue
        if paragraph.get("kind") == "heading":
            level = min(max(int(paragraph.get("level") or 1), 1), 3)
            story.append(Paragraph(markup(text), STYLE_TEXT_HEADINGS[level]))
        else:
            story.append(Paragraph(markup(text), STYLE_TEXT))
    return story


def _material_story(index: int, material: BookletMaterial, levels: tuple[int, int],
                    category_entry: tuple | None, frame_height: float,
                    placements: _Placements) -> list[Flowable]:
    category_level, material_level = levels
    story: list[Flowable] = [NextPageTemplate("body"), PageBreak()]
    entries = []
    if category_entry is not None:
        entries.append(category_entry)
    entries.append((material_level, _toc_line(material), material.title, f"material-{index}"))
    if material.category:
        story.append(Paragraph(markup(material.category), STYLE_CATEGORY))
    title = Paragraph(markup(material.title), STYLE_MATERIAL_TITLE)
    # The title reports itself to the contents and the outline once it is on its page.
    title.booklet_entries = entries
    story.append(title)
    if material.unit:
        story.append(Paragraph(markup(material.unit), STYLE_MATERIAL_UNIT))
    if material.authors:
        story.append(Paragraph(markup(material.authors), STYLE_MATERIAL_AUTHORS))
    story.append(Spacer(1, 6 * mm))

    if material.kind == "pdf":
        sizes = _original_pages(material.pdf)
        if sizes is None:
            story.append(Paragraph(UNREADABLE_PDF_NOTE, STYLE_NOTE))
        else:
            story.extend(_OriginalPage(index, page, len(sizes), size, frame_height, placements)
                         for page, size in enumerate(sizes))
    else:
        text = _text_flowables(body_paragraphs(material))
        story.extend(text or [Paragraph(MISSING_TEXT_NOTE, STYLE_NOTE)])
    return story


# The cover's title: one line if it fits, else two balanced lines broken at a natural
# point (a space, before 暨 or ——, after a comma or colon), never "…材料 / 征集".
_COVER_BREAK_AFTER = set(" \u3000，、：；）》”")
_COVER_BREAK_BEFORE = ("暨", "——", "（", "《", "“")
# Characters that often end a word in event titles: a break after one reads naturally.
_COVER_WORD_ENDS = set("会班库区务理新度国展作设化业建心市省县镇村道例料训")
_COVER_NO_START = set("》」』】〕）)”’，。、；：？！…—·")
_COVER_NO_END = set("《「『【〔（(“‘")
COVER_TITLE_MIN_SIZE = 18


def _cover_title_lines(title: str, width: float) -> tuple[list[str], float]:
    """The cover title's lines and font size: one line, or two balanced ones."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    title = " ".join(title.split())
    size = STYLE_COVER_TITLE.fontSize
    if stringWidth(title, FONT, size) <= width:
        return [title], size
    best: tuple[float, float, int] | None = None
    for at in range(1, len(title)):
        head, tail = title[:at].rstrip(), title[at:].lstrip()
        if not head or not tail or tail[0] in _COVER_NO_START or head[-1] in _COVER_NO_END:
            continue
        if head[-1].isascii() and head[-1].isalnum() and tail[0].isascii() and tail[0].isalnum():
            continue  # inside a number or a word
        widths = stringWidth(head, FONT, 1), stringWidth(tail, FONT, 1)
        fit = min(size, width / max(widths))
        if fit < COVER_TITLE_MIN_SIZE:
            continue
        natural = (title[at - 1] in _COVER_BREAK_AFTER or title[at] == " "
                   or title[at:].startswith(_COVER_BREAK_BEFORE))
        penalty = 0 if natural else 0.3 if head[-1] in _COVER_WORD_ENDS else 0.6
        score = 0.5 * abs(widths[0] - widths[1]) / sum(widths) + penalty + (size - fit) / size
        if best is None or score < best[0]:
            best = (score, fit, at)
    if best is None:
        return [title], size  # too long for two lines: ReportLab wraps it
    _, fit, at = best
    return [title[:at].rstrip(), title[at:].lstrip()], fit


def _cover_title(title: str, width: float) -> Paragraph:
    lines, size = _cover_title_lines(title, width)
    style = ParagraphStyle(f"{STYLE_COVER_TITLE.name}-{size}", parent=STYLE_COVER_TITLE,
                           fontSize=size, leading=size * 1.45)
    return Paragraph("<br/>".join(markup(line) for line in lines), style)


def _cover_story(booklet: Booklet, width: float) -> list[Flowable]:
    lines = [booklet.organiser, booklet.place, booklet.dates_text]
    return [
        Spacer(1, COVER_TITLE_TOP_MM * mm),
        _cover_title(booklet.title, width),
        Spacer(1, 14 * mm),
        Paragraph(COVER_NAME, STYLE_COVER_NAME),
        Spacer(1, 70 * mm),
        *[Paragraph(markup(line), STYLE_COVER_LINE) for line in lines if line],
    ]


def render_booklet(booklet: Booklet, progress: Callable[[int], None] | None = None) -> bytes:
    """Lay out the booklet (cover, contents, every material) and return the PDF;
    progress(n), if given, hears of each material as it is laid out."""
    register_fonts()
    buffer = io.BytesIO()
    doc = _BookletDoc(buffer, booklet, progress)
    placements = _Placements()

    with_categories = any(m.category for m in booklet.materials)
    levels = (0, 1) if with_categories else (0, 0)
    level_styles = ([STYLE_TOC_CATEGORY, STYLE_TOC_ENTRY] if with_categories
                    else [STYLE_TOC_ENTRY_FLAT])
    toc = _Contents(
        _contents_seed(booklet.materials, levels), levelStyles=level_styles,
        dotsMinLevel=levels[1],
        # A table selects its cell font before drawing: ours, not Helvetica.
        tableStyle=table_style([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0)]),
    )
    story: list[Flowable] = [NextPageTemplate("cover"), *_cover_story(booklet, doc.width),
                             NextPageTemplate("body"), PageBreak(),
                             Paragraph(TOC_NAME, STYLE_TOC_HEADING)]
    # Without entries ReportLab's contents would print an English placeholder.
    story.append(toc if booklet.materials else Paragraph(NO_MATERIALS_NOTE, STYLE_NOTE))
    for index, material in enumerate(booklet.materials):
        category_entry = (_category_entry(booklet.materials, index, levels)
                          if with_categories else None)
        story.extend(_material_story(index, material, levels, category_entry, doc.height,
                                     placements))
    # One pass: the seeded contents are satisfied as soon as their lines come out the same.
    doc.multiBuild(story, canvasmaker=partial(_BookletCanvas, contents=toc))
    pdf = buffer.getvalue()
    if placements.boxes:
        pdf = _fill_original_pages(pdf, booklet, placements)
    return pdf


def _fill_original_pages(pdf: bytes, booklet: Booklet, placements: _Placements) -> bytes:
    """Draw each original PDF page, scaled, into the box reserved for it."""
    from pypdf import PdfReader, PdfWriter, Transformation

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    sources: dict[int, Any] = {}
    for (material, page), (page_number, x, y, width, height) in sorted(placements.boxes.items()):
        if material not in sources:
            # A writer's pages can be changed: a rotated page is turned upright first.
            sources[material] = PdfWriter(clone_from=PdfReader(
                io.BytesIO(booklet.materials[material].pdf), strict=False))
        original = sources[material].pages[page]
        if original.rotation % 360:
            original.transfer_rotation_to_content()
        box = original.cropbox
        scale = min(width / float(box.width), height / float(box.height))
        offset_x = x + (width - float(box.width) * scale) / 2 - float(box.left) * scale
        offset_y = y + (height - float(box.height) * scale) / 2 - float(box.bottom) * scale
        writer.pages[page_number - 1].merge_transformed_page(
            original, Transformation().scale(scale).translate(offset_x, offset_y))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- .docx --------------------------------------------------------------------------------

DOCX_BODY_FONT = "宋体"
DOCX_HEADING_FONT = "黑体"
DOCX_LATIN_FONT = "Times New Roman"
DOCX_BODY_PT = 12
_SENTENCE_END = re.compile(r"[。！？；：…」』”）)]$")


def _set_fonts(style, east_asia: str, size_pt: float | None = None, color=None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    style.font.name = DOCX_LATIN_FONT
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)
    if size_pt is not None:
        style.font.size = Pt(size_pt)
    if color is not None:
        style.font.color.rgb = color


def _pdf_text_paragraphs(material: BookletMaterial) -> list[str]:
    """Rejoin the lines a PDF broke: a line ending a sentence ends a paragraph.  The
    leading lines repeating the title (and the byline under it) are left out first."""
    lines = [line.strip() for page in material.paragraphs
             for line in (page.get("text") or "").splitlines() if line.strip()]
    paragraphs: list[str] = []
    current = ""
    for line in body_paragraphs(material, lines):
        current += line
        if _SENTENCE_END.search(line):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _add_toc_field(document) -> None:
    """A TOC field of the level-1 headings; Word fills it in when its fields are updated."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph = document.add_paragraph()

    def field_char(kind: str):
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        run = paragraph.add_run()
        run._r.append(element)

    field_char("begin")
    instruction = OxmlElement("w:instrText")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = r'TOC \o "1-1" \h \z \u'
    paragraph.add_run()._r.append(instruction)
    field_char("separate")
    paragraph.add_run("（目录：在此处单击右键，选择“更新域”即可生成页码。）")
    field_char("end")
    # Ask Word to update the fields when the file is opened.
    settings = document.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    settings.append(update)


def render_booklet_docx(booklet: Booklet) -> bytes:
    """The booklet as a Word document for the printer: cover, contents field, materials."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Mm, Pt, RGBColor

    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(MARGIN_LEFT_MM + 3)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP_MM), Mm(MARGIN_BOTTOM_MM)

    styles = document.styles
    accent = RGBColor(0x1F, 0x3A, 0x5F)
    _set_fonts(styles["Normal"], DOCX_BODY_FONT, DOCX_BODY_PT)
    styles["Normal"].paragraph_format.line_spacing = 1.5
    _set_fonts(styles["Title"], DOCX_HEADING_FONT, 26, accent)
    for level, size in ((1, 16), (2, 14), (3, 13), (4, 12)):
        _set_fonts(styles[f"Heading {level}"], DOCX_HEADING_FONT, size,
                   accent if level <= 2 else RGBColor(0x1A, 0x1A, 0x1A))
    styles["Heading 1"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    styles["Heading 1"].paragraph_format.page_break_before = True

    def centred(text: str, size: float, *, color=None, space_before: float = 0):
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_before = Pt(space_before)
        run = paragraph.add_run(text)
        run.font.size = Pt(size)
        if color is not None:
            run.font.color.rgb = color
        return paragraph

    def body(text: str):
        paragraph = document.add_paragraph(text)
        paragraph.paragraph_format.first_line_indent = Pt(2 * DOCX_BODY_PT)
        return paragraph

    centred(booklet.title, 20, space_before=160)
    document.add_paragraph(COVER_NAME, style="Title").alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in (booklet.organiser, booklet.place, booklet.dates_text):
        if line:
            centred(line, 14, space_before=12 if line is booklet.organiser else 0)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    centred(TOC_NAME, 18, color=accent)
    _add_toc_field(document)

    muted = RGBColor(0x5F, 0x63, 0x68)
    for material in booklet.materials:
        document.add_heading(material.title, level=1)
        for line in (material.unit, material.authors, material.category):
            if line:
                centred(line, 11, color=None if line is material.unit else muted)
        if material.kind == "pdf":
            centred(PDF_IN_DOCX_NOTE, 10, color=muted, space_before=6)
            texts = [strip_control_chars(text) for text in _pdf_text_paragraphs(material)]
            for text in texts:
                body(text)
            if not texts:
                centred(MISSING_TEXT_NOTE, 11, color=muted)
            continue
        written = 0
        for paragraph in body_paragraphs(material):
            text = strip_control_chars(paragraph.get("text") or "").strip()
            if not text:
                continue
            written += 1
            if paragraph.get("kind") == "heading":
                level = min(max(int(paragraph.get("level") or 1), 1), 3)
                document.add_heading(text, level=level + 1)
            else:
                body(text)
        if not written:
            centred(MISSING_TEXT_NOTE, 11, color=muted)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
