"""Shared building blocks for every printed document: fonts, styles, page frame, tables.

Every document (payment notice, receipt, participant list, sign-in sheet, certificate)
is built from these pieces so that they look alike and print the same on any PC: the
Chinese font is embedded (ReportLab subsets TrueType fonts), all measurements are named
constants in millimetres, and the styles are created once per process and reused.

User-entered text must go through `plain()` or the table helpers, which escape it:
ReportLab paragraphs parse a small XML markup, so a unit called "A&B<集团>" would
otherwise break the render.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, Table, TableStyle

# --- Fonts -------------------------------------------------------------------------------

FONT_PATH = Path(__file__).resolve().parent.parent / "static" / "fonts" / "wqy-microhei.ttc"
FONT = "WQY"            # WenQuanYi Micro Hei: body text, tables, titles
FONT_MONO = "WQYMono"   # WenQuanYi Micro Hei Mono: account numbers, codes, remarks
_FONT_SUBFONTS = {FONT: 0, FONT_MONO: 1}

_fonts_lock = threading.Lock()
_fonts_registered = False


def register_fonts() -> None:
    """Register the embedded Chinese fonts with ReportLab, once per process."""
    global _fonts_registered
    if _fonts_registered:
        return
    with _fonts_lock:
        if _fonts_registered:
            return
        for name, index in _FONT_SUBFONTS.items():
            pdfmetrics.registerFont(TTFont(name, str(FONT_PATH), subfontIndex=index))
            # The TTC has no bold or italic faces; map them to the regular face so that
            # <b>/<i> markup never falls back to a non-embedded standard font.
            pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
            addMapping(name, 0, 0, name)  # so that the face itself reads back as regular
        _fonts_registered = True


# Paragraphs look their font family up when they are created, not when they are drawn,
# so the fonts must exist before any document module builds a Paragraph.
register_fonts()

# --- Page geometry (millimetres) ----------------------------------------------------------

PAGE_MARGIN_LEFT_MM = 18
PAGE_MARGIN_RIGHT_MM = 18
PAGE_MARGIN_TOP_MM = 22
PAGE_MARGIN_BOTTOM_MM = 20
HEADER_BASELINE_MM = 12      # from the top edge of the page
HEADER_RULE_MM = 14          # from the top edge of the page
FOOTER_RULE_MM = 14          # from the bottom edge of the page
FOOTER_BASELINE_MM = 9       # from the bottom edge of the page
CELL_PADDING_X_MM = 1.6
CELL_PADDING_Y_MM = 1.1
SECTION_GAP_MM = 4.5
STREAM_WINDOW_ROWS = 48      # rows laid out per page break in long tables (> one A4 page)
WATERMARK_MAX_SIZE_PT = 120
WATERMARK_SPAN = 0.55        # share of the page diagonal a long watermark may cover
WATERMARK_ANGLE = 40
WATERMARK_ALPHA = 0.16


def content_width_mm(pagesize: tuple[float, float] = A4) -> float:
    """Return the width between the page margins, in millimetres."""
    return pagesize[0] / mm - PAGE_MARGIN_LEFT_MM - PAGE_MARGIN_RIGHT_MM


# --- Colours and type sizes ---------------------------------------------------------------

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#5F6368")
ACCENT = colors.HexColor("#1F3A5F")
RULE = colors.HexColor("#8C9199")
HEADER_FILL = colors.HexColor("#DFE5EE")
LABEL_FILL = colors.HexColor("#EEF1F5")
ZEBRA_FILL = colors.HexColor("#F6F8FA")
HIGHLIGHT_FILL = colors.HexColor("#FFF6D6")
DANGER = colors.HexColor("#B3261E")
DANGER_FILL = colors.HexColor("#FCEBEA")
WARNING = colors.HexColor("#8A5300")
WARNING_FILL = colors.HexColor("#FFF3DC")

BODY_SIZE = 10
CELL_SIZE = 9
SMALL_SIZE = 8
TITLE_SIZE = 20

# --- Paragraph styles (created once, shared by every document) -----------------------------

STYLE_BODY = ParagraphStyle(
    "body", fontName=FONT, fontSize=BODY_SIZE, leading=BODY_SIZE * 1.5,
    textColor=INK, wordWrap="CJK",
)
STYLE_SMALL = ParagraphStyle(
    "small", parent=STYLE_BODY, fontSize=SMALL_SIZE, leading=SMALL_SIZE * 1.45, textColor=MUTED,
)
STYLE_SMALL_CENTER = ParagraphStyle("small-center", parent=STYLE_SMALL, alignment=TA_CENTER)
STYLE_TITLE = ParagraphStyle(
    "title", parent=STYLE_BODY, fontSize=TITLE_SIZE, leading=TITLE_SIZE * 1.3,
    alignment=TA_CENTER, textColor=ACCENT, spaceAfter=1.5 * mm,
)
STYLE_SUBTITLE = ParagraphStyle(
    "subtitle", parent=STYLE_BODY, fontSize=12, leading=12 * 1.45, alignment=TA_CENTER,
)
STYLE_HEADING = ParagraphStyle(
    "heading", parent=STYLE_BODY, fontSize=11.5, leading=11.5 * 1.4, textColor=ACCENT,
    spaceBefore=SECTION_GAP_MM * mm, spaceAfter=1.8 * mm,
)
STYLE_RIGHT = ParagraphStyle("right", parent=STYLE_BODY, alignment=TA_RIGHT)
STYLE_CELL = ParagraphStyle(
    "cell", parent=STYLE_BODY, fontSize=CELL_SIZE, leading=CELL_SIZE * 1.35, alignment=TA_LEFT,
)
STYLE_CELL_CENTER = ParagraphStyle("cell-center", parent=STYLE_CELL, alignment=TA_CENTER)
STYLE_CELL_RIGHT = ParagraphStyle("cell-right", parent=STYLE_CELL, alignment=TA_RIGHT)
STYLE_CELL_HEADER = ParagraphStyle("cell-header", parent=STYLE_CELL_CENTER, textColor=ACCENT)
STYLE_LABEL = ParagraphStyle("label", parent=STYLE_CELL, textColor=MUTED)
STYLE_BANNER_DANGER = ParagraphStyle(
    "banner-danger", parent=STYLE_BODY, fontSize=12, leading=12 * 1.4, textColor=DANGER,
)
STYLE_BANNER_WARNING = ParagraphStyle(
    "banner-warning", parent=STYLE_BANNER_DANGER, textColor=WARNING,
)

_CELL_STYLE_BY_ALIGN = {"LEFT": STYLE_CELL, "CENTER": STYLE_CELL_CENTER, "RIGHT": STYLE_CELL_RIGHT}
_BANNER_TONES = {
    "danger": (STYLE_BANNER_DANGER, DANGER, DANGER_FILL),
    "warning": (STYLE_BANNER_WARNING, WARNING, WARNING_FILL),
}

# --- Formatting ---------------------------------------------------------------------------

_CENT = Decimal("0.01")


def format_amount(value: Decimal) -> str:
    """Format money with thousands separators and two decimals: 8940 -> "8,940.00"."""
    return f"{Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


def format_yuan(value: Decimal) -> str:
    """Format money with the yuan sign: 8940 -> "¥8,940.00"."""
    text = format_amount(value)
    return f"-¥{text[1:]}" if text.startswith("-") else f"¥{text}"


def markup(text: str) -> str:
    """Escape plain text for use inside ReportLab paragraph markup; newlines become breaks."""
    return escape(text).replace("\n", "<br/>")


def plain(text: str, style: ParagraphStyle = STYLE_BODY) -> Paragraph:
    """Return a paragraph showing `text` literally (no markup is interpreted)."""
    return Paragraph(markup(text), style)


def _cell(value: Any, style: ParagraphStyle) -> Flowable | str:
    if isinstance(value, Flowable):
        return value
    if value is None or value == "":
        return ""
    return Paragraph(markup(str(value)), style)


def _body_cell(value: Any, style: ParagraphStyle, text_width: float) -> Flowable | str:
    # Text that fits on one line is left as a string for the table to draw with the
    # same font, size and alignment: a Paragraph costs ~20x more to lay out, which
    # matters on sign-in sheets of 10,000 rows. Only text that must wrap becomes one.
    if isinstance(value, Flowable):
        return value
    if value is None:
        return ""
    text = str(value)
    if "\n" not in text and pdfmetrics.stringWidth(text, FONT, style.fontSize) <= text_width:
        return text
    return Paragraph(markup(text), style)


# --- Tables -------------------------------------------------------------------------------

def table_style(commands: Iterable[tuple] = ()) -> TableStyle:
    """Return a TableStyle that uses the embedded font, plus `commands`.

    Every table needs this, even one holding only paragraphs: ReportLab selects the
    cell font (Helvetica by default, which is not embedded) before drawing each cell.
    """
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


_GRID_COMMANDS = (
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING_X_MM * mm),
    ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING_X_MM * mm),
    ("TOPPADDING", (0, 0), (-1, -1), CELL_PADDING_Y_MM * mm),
    ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PADDING_Y_MM * mm + 0.4 * mm),
    ("GRID", (0, 0), (-1, -1), 0.5, RULE),
)
_DATA_TABLE_COMMANDS = _GRID_COMMANDS + (
    # Settings for cells drawn as plain strings; they match STYLE_CELL.
    ("FONTSIZE", (0, 0), (-1, -1), STYLE_CELL.fontSize),
    ("LEADING", (0, 0), (-1, -1), STYLE_CELL.leading),
    ("TEXTCOLOR", (0, 0), (-1, -1), STYLE_CELL.textColor),
    ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
    ("LINEBELOW", (0, 0), (-1, 0), 1, ACCENT),
    ("BOX", (0, 0), (-1, -1), 0.9, INK),
)
_ZEBRA_COMMAND = ("ROWBACKGROUNDS", (0, 1), (-1, -1), (colors.white, ZEBRA_FILL))


def data_table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    col_widths_mm: Sequence[float],
    *,
    align: Sequence[str] | None = None,
    zebra: bool = True,
    extra_style: Sequence[tuple] = (),
) -> Flowable:
    """Build a gridded table whose header row repeats on every page.

    Cells may be text (shown literally, wrapped to the column), numbers (shown with
    str()), None (blank) or ready-made flowables. `align` gives "LEFT", "CENTER" or
    "RIGHT" per column; `extra_style` adds TableStyle commands, e.g. a SPAN for a totals
    row. Returns a LongTable; a table longer than STREAM_WINDOW_ROWS without
    `extra_style` comes back as a flowable that lays its rows out a window at a time.
    """
    if len(col_widths_mm) != len(header):
        raise ValueError("one column width per header cell is required")
    aligns = [a.upper() for a in (align or ["LEFT"] * len(header))]
    columns = [
        (_CELL_STYLE_BY_ALIGN[a], (w - 2 * CELL_PADDING_X_MM) * mm)
        for a, w in zip(aligns, col_widths_mm, strict=True)
    ]
    header_row = [_cell(h, STYLE_CELL_HEADER) for h in header]
    body_rows = [
        [_body_cell(value, style, text_width)
         for value, (style, text_width) in zip(row, columns, strict=True)]
        for row in rows
    ]
    commands = list(_DATA_TABLE_COMMANDS)
    commands.extend(("ALIGN", (c, 1), (c, -1), a) for c, a in enumerate(aligns))
    if zebra:
        commands.append(_ZEBRA_COMMAND)
    commands.extend(extra_style)
    style = table_style(commands)
    widths = [w * mm for w in col_widths_mm]

    def make_table(body: list[list[Any]]) -> LongTable:
        return LongTable([header_row, *body], colWidths=widths, repeatRows=1, style=style)

    if len(body_rows) > STREAM_WINDOW_ROWS and not extra_style:
        return _RowStream(make_table, body_rows)
    return make_table(body_rows)


class _RowStream(Flowable):
    """A long table handed to ReportLab one window of rows at a time.

    At every page break ReportLab (4.5) rebuilds the table from *all* remaining rows,
    so a 10,000-row sign-in sheet takes quadratic time (≈9 s). Splitting a window
    that just overfills the page keeps every break bounded, hence linear time.
    """

    def __init__(
        self, make_table: Callable[[list[list[Any]]], LongTable], body_rows: list[list[Any]],
        window_rows: int = STREAM_WINDOW_ROWS,
    ) -> None:
        super().__init__()
        self.hAlign = "CENTER"  # as a Table
        self._make_table = make_table
        self._body_rows = body_rows
        # Rows to lay out first: the previous page's rows + 1 is just enough to overfill
        # the next page, so a page of tall rows does not lay out and split twice its rows.
        self._window_rows = window_rows
        self._laid_out: tuple[tuple[float, float], LongTable, tuple[float, float]] | None = None

    def _window(self, avail_width: float, avail_height: float) -> LongTable:
        if self._laid_out and self._laid_out[0] == (avail_width, avail_height):
            return self._laid_out[1]
        count = self._window_rows
        while True:  # grow the window until it overfills the frame, so that split() has work
            table = self._make_table(self._body_rows[:count])
            size = table.wrap(avail_width, avail_height)
            if size[1] > avail_height or count >= len(self._body_rows):
                break
            count *= 2
        self._laid_out = ((avail_width, avail_height), table, size)
        return table

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self._window(avail_width, avail_height)
        assert self._laid_out is not None
        self.width, self.height = self._laid_out[2]
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        parts = self._window(avail_width, avail_height).split(avail_width, avail_height)
        if not parts:
            return []
        # ReportLab has no public row count; the first part holds the header + shown rows.
        shown = len(parts[0]._cellvalues) - 1
        rest = self._body_rows[shown:]
        if not rest:
            return [parts[0]]
        if len(rest) <= STREAM_WINDOW_ROWS:
            return [parts[0], self._make_table(rest)]
        return [parts[0], _RowStream(self._make_table, rest, max(shown + 1, 2))]

    def draw(self) -> None:
        # Reached only when everything left fits in the frame.
        assert self._laid_out is not None
        self._laid_out[1].drawOn(self.canv, 0, 0)


def field_table(
    rows: Sequence[Sequence[tuple[str, Any]]],
    *,
    width_mm: float,
    label_width_mm: float = 24,
    label_style: ParagraphStyle = STYLE_LABEL,
    value_style: ParagraphStyle = STYLE_CELL,
    outline_pt: float = 0.9,
) -> Table:
    """Build a label/value grid, e.g. 单位名称 | …; 联系人 | … | 联系电话 | ….

    Each row holds one or more (label, value) pairs; a row with fewer pairs than the
    widest row stretches its last value to the right edge. Values may be flowables.
    """
    pairs_per_row = max(len(row) for row in rows)
    value_width_mm = (width_mm - pairs_per_row * label_width_mm) / pairs_per_row
    col_widths = [label_width_mm * mm, value_width_mm * mm] * pairs_per_row
    data: list[list[Any]] = []
    commands = list(_GRID_COMMANDS)
    commands.append(("BOX", (0, 0), (-1, -1), outline_pt, INK))
    for r, row in enumerate(rows):
        cells: list[Any] = []
        for c, (label, value) in enumerate(row):
            cells.append(_cell(label, label_style))
            cells.append(_cell(value, value_style))
            commands.append(("BACKGROUND", (2 * c, r), (2 * c, r), LABEL_FILL))
        if len(row) < pairs_per_row:
            commands.append(("SPAN", (len(cells) - 1, r), (-1, r)))
            cells.extend([""] * (2 * pairs_per_row - len(cells)))
        data.append(cells)
    return Table(data, colWidths=col_widths, style=table_style(commands))


def banner(text: str, *, tone: str = "warning", width_mm: float | None = None) -> Table:
    """Build a boxed, tinted one-line notice (tone "warning" or "danger")."""
    style, border, fill = _BANNER_TONES[tone]
    width = (width_mm if width_mm is not None else content_width_mm()) * mm
    return Table(
        [[plain(text, style)]],
        colWidths=[width],
        style=table_style([
            ("BOX", (0, 0), (-1, -1), 1.2, border),
            ("BACKGROUND", (0, 0), (-1, -1), fill),
            ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3 * mm),
            ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.4 * mm),
        ]),
    )


# --- Page frame ---------------------------------------------------------------------------

class _NumberedCanvas(Canvas):
    """Canvas that holds finished pages until save(), so each footer can say 共 y 页."""

    def __init__(self, *args: Any, watermark: str | None = None, **kwargs: Any) -> None:
        # Without this every page starts by selecting Helvetica, which is not embedded.
        kwargs["initialFontName"] = kwargs.get("initialFontName") or FONT
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict[str, Any]] = []
        self._watermark = watermark

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held_pages)
        for number, page_state in enumerate(self._held_pages, start=1):
            self.__dict__.update(page_state)
            if self._watermark:
                self._draw_watermark(self._watermark)
            self._draw_footer(number, total)
            Canvas.showPage(self)
        Canvas.save(self)

    def _draw_watermark(self, text: str) -> None:
        # Drawn over the finished page, translucent, so table fills cannot hide it.
        width, height = self._pagesize
        diagonal = (width ** 2 + height ** 2) ** 0.5
        size = min(WATERMARK_MAX_SIZE_PT,
                   WATERMARK_SPAN * diagonal / pdfmetrics.stringWidth(text, FONT, 1))
        self.saveState()
        self.setFillColor(DANGER, alpha=WATERMARK_ALPHA)
        self.setFont(FONT, size)
        self.translate(width / 2, height / 2)
        self.rotate(WATERMARK_ANGLE)
        self.drawCentredString(0, -size / 3, text)
        self.restoreState()

    def _draw_footer(self, number: int, total: int) -> None:
        width, _ = self._pagesize
        left = PAGE_MARGIN_LEFT_MM * mm
        right = width - PAGE_MARGIN_RIGHT_MM * mm
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.4)
        self.line(left, FOOTER_RULE_MM * mm, right, FOOTER_RULE_MM * mm)
        self.setFillColor(MUTED)
        self.setFont(FONT, SMALL_SIZE)
        self.drawCentredString(width / 2, FOOTER_BASELINE_MM * mm, f"第 {number} 页 / 共 {total} 页")
        self.restoreState()


def _fit_text(text: str, font_size: float, max_width: float) -> str:
    """Shorten text with an ellipsis so that it fits max_width points."""
    if pdfmetrics.stringWidth(text, FONT, font_size) <= max_width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, font_size) > max_width:
        text = text[:-1]
    return text + "…"


def _page_decorator(header_text: str | None):
    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        if not header_text:
            return
        width, height = doc.pagesize
        left = PAGE_MARGIN_LEFT_MM * mm
        right = width - PAGE_MARGIN_RIGHT_MM * mm
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, SMALL_SIZE)
        canvas.drawString(left, height - HEADER_BASELINE_MM * mm,
                          _fit_text(header_text, SMALL_SIZE, right - left))
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(left, height - HEADER_RULE_MM * mm, right, height - HEADER_RULE_MM * mm)
        canvas.restoreState()
    return decorate


def build_pdf(
    story: Iterable[Flowable],
    *,
    title: str,
    header_text: str | None = None,
    pagesize: tuple[float, float] = A4,
    author: str = "",
    watermark: str | None = None,
) -> bytes:
    """Lay out `story` on pages with a header line and 第 x 页 / 共 y 页 footers; return the PDF.

    `watermark` prints large translucent diagonal text across every page (e.g. "已作废").
    """
    register_fonts()
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=PAGE_MARGIN_LEFT_MM * mm,
        rightMargin=PAGE_MARGIN_RIGHT_MM * mm,
        topMargin=PAGE_MARGIN_TOP_MM * mm,
        bottomMargin=PAGE_MARGIN_BOTTOM_MM * mm,
        title=title,
        author=author,
        creator="confreg",
        initialFontName=FONT,
    )
    decorate = _page_decorator(header_text)
    doc.build(list(story), onFirstPage=decorate, onLaterPages=decorate,
              canvasmaker=partial(_NumberedCanvas, watermark=watermark))
    return buffer.getvalue()
