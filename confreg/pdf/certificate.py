"""证书: written-exchange, expert-comment and completion certificates, A4 landscape.

One page per certificate, laid out like the printed certificates the association hands
out: a double border, the title in large type, the number at the top right, the
recipient and one sentence saying what the certificate is for, and at the bottom right
the issuing organisation and the date, under a dashed circle where the seal goes.
Many certificates print as one PDF (one page each) for the printer.  Long unit names
and titles wrap and, if need be, shrink so the page never overflows.  A voided
certificate keeps its number and prints with "作废" across the page.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from confreg.pdf.layout import (DANGER, FONT, FONT_MONO, INK, MUTED, WATERMARK_ALPHA,
                                register_fonts)

VOID_WATERMARK = "作废"


@dataclass
class CertificateData:
    kind: str               # written, comment, completion
    title: str              # 书面交流证书 …
    number: str             # e.g. "JY2027-012-0001"
    recipient: str          # the unit (written, comment) or the trainee's name (completion)
    unit_name: str
    work_title: str         # the material's title (written, comment)
    event_title: str
    event_dates: str        # e.g. "2027年8月20日至23日"
    organiser: str
    issued_on: date
    void: bool = False
    void_reason: str = ""


# --- Layout (millimetres) -----------------------------------------------------------------

PAGE_SIZE = landscape(A4)                        # 297 × 210
PAGE_W_MM, PAGE_H_MM = PAGE_SIZE[0] / mm, PAGE_SIZE[1] / mm
BORDER_OUTER_MM = 9                              # from the page edge
BORDER_INNER_MM = 12.5
BORDER_OUTER_PT = 3.2
BORDER_INNER_PT = 0.8
CORNER_MM = 9                                    # the little squares in the inner corners
NUMBER_TOP_MM = 29                               # number's baseline, from the top edge
NUMBER_RIGHT_MM = 27
TITLE_BASELINE_MM = 48                           # from the top edge
TITLE_SIZE = 40
TITLE_CHAR_SPACE = 10                            # points between the title's characters
TITLE_RULE_GAP_MM = 8
TEXT_LEFT_MM = 36
TEXT_RIGHT_MM = 36
TEXT_TOP_MM = 72                                 # from the top edge
TEXT_BOTTOM_MM = 76                              # from the bottom edge: room for the signature
TEXT_SIZE = 19                                   # shrinks down to TEXT_MIN_SIZE to fit
TEXT_MIN_SIZE = 11
TEXT_LEADING = 1.75
SIGN_CENTRE_X_MM = 218                           # centre of the organiser, date and seal
SIGN_WIDTH_MM = 118
SIGN_DATE_BASELINE_MM = 34                       # from the bottom edge
SIGN_SIZE = 16
SIGN_MIN_SIZE = 10
SEAL_RADIUS_MM = 21                              # an official seal is 42 mm across
SEAL_CENTRE_Y_MM = 47                            # from the bottom edge

BORDER_COLOUR = colors.HexColor("#9E1B1B")
TITLE_COLOUR = colors.HexColor("#9E1B1B")
SEAL_COLOUR = colors.HexColor("#C0392B")
WATERMARK_SIZE = 170
WATERMARK_ANGLE = 28

_STYLE_TEXT = ParagraphStyle("certificate-text", fontName=FONT, fontSize=TEXT_SIZE,
                             leading=TEXT_SIZE * TEXT_LEADING, textColor=INK, wordWrap="CJK",
                             alignment=TA_JUSTIFY)
_STYLE_SIGN = ParagraphStyle("certificate-sign", fontName=FONT, fontSize=SIGN_SIZE,
                             leading=SIGN_SIZE * 1.4, textColor=INK, wordWrap="CJK",
                             alignment=TA_CENTER)


# --- Wording ------------------------------------------------------------------------------

def body_sentences(data: CertificateData) -> tuple[str | None, str]:
    """The salutation (None for a completion certificate) and the sentence, as plain text."""
    if data.kind == "written":
        return (f"{data.recipient}：",
                f"贵单位报送的《{data.work_title}》经专家评审，入选“{data.event_title}”"
                f"书面交流材料。特发此证。")
    if data.kind == "comment":
        return (f"{data.recipient}：",
                f"贵单位在“{data.event_title}”上作交流发言《{data.work_title}》，经专家点评。"
                f"特发此证。")
    unit = f"（{data.unit_name}）" if data.unit_name else ""
    return (None,
            f"{data.recipient} 同志{unit}于 {data.event_dates} 参加“{data.event_title}”，"
            f"完成全部培训课程，准予结业。特发此证。")


_DIGITS = "〇一二三四五六七八九"


def date_in_chinese(day: date) -> str:
    """The date as certificates write it: 2027-08-23 -> 二〇二七年八月二十三日."""
    def small(n: int) -> str:
        tens, ones = divmod(n, 10)
        return ((_DIGITS[tens] if tens > 1 else "") + ("十" if tens else "")
                + (_DIGITS[ones] if ones or not tens else ""))
    year = "".join(_DIGITS[int(c)] for c in str(day.year))
    return f"{year}年{small(day.month)}月{small(day.day)}日"


# --- Line breaking ------------------------------------------------------------------------
# ReportLab's CJK wrapping breaks after any character and only knows a few of the Chinese
# rules (its textsplit.ALL_CANNOT_START lacks 》 ” ， ； ： ？ ！, and it has no "cannot end a
# line" rule at all), so a certificate could read "…《红色物业的实践与思考 / 》经专家…" or end
# "特发此 / 证。".  The text is therefore cut into units that must not be split -- a closing
# mark with the character before it, an opening mark with the one after, a date, a number,
# a name -- and the lines are filled with whole units; ReportLab then draws the lines as
# given (<br/> between them).

# 避头: never at the start of a line.  避尾: never at the end of one.
NO_LINE_START = frozenset("》」』】〕〉）)］]｝}”’，。、；：？！,.;:?!…—·％%～ \xa0")
NO_LINE_END = frozenset("《「『【〔〈（(［[｛{“‘")
# Spans kept on one line when they fit: "2027年8月20日至23日", "特发此证。", numbers, words.
KEEP_TOGETHER = re.compile(
    r"\d{4}年\d{1,2}月\d{1,2}日(?:至(?:\d{4}年)?(?:\d{1,2}月)?\d{1,2}日)?"
    r"|特发此证。|[A-Za-z0-9]+(?:[.\-/][A-Za-z0-9]+)*")
MIN_LAST_LINE_CHARS = 3     # the last line never holds a lone character ("证。")


@dataclass(frozen=True)
class Run:
    """A stretch of text in one size; `before`/`after` is the markup around it."""

    text: str
    size: float
    before: str = ""
    after: str = ""
    whole: bool = False     # never split (a trainee's name)


def _units(runs: Sequence[Run]) -> list[list[tuple[str, int]]]:
    """The runs' characters, (char, run index), grouped into units that must stay together."""
    atoms = [(char, index) for index, run in enumerate(runs) for char in run.text]
    text = "".join(char for char, _ in atoms)
    joined = [False] * len(atoms)       # joined[i]: no break between atom i-1 and atom i
    for i in range(1, len(atoms)):
        char, run = atoms[i]
        joined[i] = (char in NO_LINE_START or atoms[i - 1][0] in NO_LINE_END
                     or (runs[run].whole and atoms[i - 1][1] == run))
    for match in KEEP_TOGETHER.finditer(text):
        for i in range(match.start() + 1, match.end()):
            joined[i] = True
    units: list[list[tuple[str, int]]] = []
    for i, atom in enumerate(atoms):
        if i and joined[i]:
            units[-1].append(atom)
        else:
            units.append([atom])
    return units


def break_lines(runs: Sequence[Run], width: float, first_indent: float = 0) -> list[list[tuple[str, int]]]:
    """Fill lines of `width` points (the first `first_indent` narrower) with whole units."""
    def unit_width(unit) -> float:
        return sum(pdfmetrics.stringWidth(char, FONT, runs[run].size) for char, run in unit)

    def room(line_number: int) -> float:
        return width - (first_indent if line_number == 0 else 0)

    lines: list[list[list[tuple[str, int]]]] = [[]]
    used = 0.0
    for unit in _units(runs):
        w = unit_width(unit)
        if lines[-1] and used + w > room(len(lines) - 1) + 1e-6:
            lines.append([])
            used = 0.0
        if w > room(len(lines) - 1) + 1e-6:
            # Longer than a whole line (never in practice): split it where it must.
            for char in unit:
                cw = unit_width([char])
                if lines[-1] and used + cw > room(len(lines) - 1) + 1e-6:
                    lines.append([])
                    used = 0.0
                lines[-1].append([char])
                used += cw
            continue
        lines[-1].append(unit)
        used += w
    # No lone character on the last line: bring units down from the line before.
    def chars(line) -> int:
        return sum(1 for unit in line for char, _ in unit if char not in NO_LINE_START)
    while (len(lines) > 1 and chars(lines[-1]) < MIN_LAST_LINE_CHARS
           and len(lines[-2]) > 1):
        moved = lines[-2][-1]
        if sum(unit_width(u) for u in [moved, *lines[-1]]) > room(len(lines) - 1) + 1e-6:
            break
        lines[-2].pop()
        lines[-1].insert(0, moved)
    return [[atom for unit in line for atom in unit] for line in lines if line]


def lines_markup(runs: Sequence[Run], width: float, first_indent: float = 0) -> str:
    """Paragraph markup of the runs broken into lines by break_lines, <br/> between them."""
    out = []
    for line in break_lines(runs, width, first_indent):
        pieces, current, text = [], None, ""
        for char, run in line + [("", -1)]:
            if run != current:
                if current is not None and text:
                    pieces.append(runs[current].before + escape(text) + runs[current].after)
                current, text = run, ""
            text += char
        out.append("".join(pieces))
    return "<br/>".join(out)


# --- Drawing ------------------------------------------------------------------------------

def render_certificates(certificates: Sequence[CertificateData]) -> bytes:
    """Render the certificates as one PDF, one A4 landscape page each."""
    if not certificates:
        raise ValueError("no certificates to render")
    register_fonts()
    buffer = BytesIO()
    first = certificates[0]
    canvas = Canvas(buffer, pagesize=PAGE_SIZE, initialFontName=FONT, pageCompression=1)
    canvas.setTitle(first.title if len(certificates) > 1 else f"{first.title} {first.number}")
    canvas.setAuthor(first.organiser)
    canvas.setCreator("confreg")
    for data in certificates:
        _draw_certificate(canvas, data)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_certificate(data: CertificateData) -> bytes:
    """Render one certificate as a one-page PDF."""
    return render_certificates([data])


def _draw_certificate(canvas: Canvas, data: CertificateData) -> None:
    _draw_border(canvas)
    _draw_number(canvas, data.number)
    _draw_title(canvas, data.title)
    _draw_text(canvas, data)
    _draw_signature(canvas, data)
    if data.void:
        _draw_void(canvas, data)


def _draw_border(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setStrokeColor(BORDER_COLOUR)
    outer, inner = BORDER_OUTER_MM * mm, BORDER_INNER_MM * mm
    width, height = PAGE_SIZE
    canvas.setLineWidth(BORDER_OUTER_PT)
    canvas.rect(outer, outer, width - 2 * outer, height - 2 * outer)
    canvas.setLineWidth(BORDER_INNER_PT)
    canvas.rect(inner, inner, width - 2 * inner, height - 2 * inner)
    corner = CORNER_MM * mm
    for x, y in ((inner, inner), (width - inner - corner, inner),
                 (inner, height - inner - corner), (width - inner - corner, height - inner - corner)):
        canvas.rect(x + 1.5 * mm if x == inner else x - 1.5 * mm,
                    y + 1.5 * mm if y == inner else y - 1.5 * mm, corner, corner)
    canvas.restoreState()


def _draw_number(canvas: Canvas, number: str) -> None:
    canvas.saveState()
    canvas.setFillColor(INK)
    right = PAGE_SIZE[0] - NUMBER_RIGHT_MM * mm
    baseline = PAGE_SIZE[1] - NUMBER_TOP_MM * mm
    canvas.setFont(FONT_MONO, 11)
    number_width = pdfmetrics.stringWidth(number, FONT_MONO, 11)
    canvas.drawRightString(right, baseline, number)
    canvas.setFont(FONT, 11)
    canvas.setFillColor(MUTED)
    canvas.drawRightString(right - number_width - 1 * mm, baseline, "证书编号：")
    canvas.restoreState()


def _draw_title(canvas: Canvas, title: str) -> None:
    canvas.saveState()
    canvas.setFillColor(TITLE_COLOUR)
    width = (pdfmetrics.stringWidth(title, FONT, TITLE_SIZE)
             + TITLE_CHAR_SPACE * (len(title) - 1))
    baseline = PAGE_SIZE[1] - TITLE_BASELINE_MM * mm
    text = canvas.beginText((PAGE_SIZE[0] - width) / 2, baseline)
    text.setFont(FONT, TITLE_SIZE)
    text.setCharSpace(TITLE_CHAR_SPACE)
    text.textOut(title)
    canvas.drawText(text)
    # A short double rule under the title.
    canvas.setStrokeColor(BORDER_COLOUR)
    rule_y = baseline - TITLE_RULE_GAP_MM * mm
    half = width / 2 + 6 * mm
    centre = PAGE_SIZE[0] / 2
    canvas.setLineWidth(1.2)
    canvas.line(centre - half, rule_y, centre + half, rule_y)
    canvas.setLineWidth(0.5)
    canvas.line(centre - half, rule_y - 1.3 * mm, centre + half, rule_y - 1.3 * mm)
    canvas.restoreState()


def _fitted(parts: Callable[[float], list[tuple[str, dict]]], style: ParagraphStyle,
            width: float, height: float, min_size: float) -> list[Paragraph]:
    """Lay the paragraphs out at the largest size (down to min_size) at which they fit.

    `parts(size)` gives each paragraph's markup and style overrides at that font size.
    """
    size = style.fontSize
    while True:
        fitted = ParagraphStyle(f"{style.name}-{size}", parent=style, fontSize=size,
                                leading=size * style.leading / style.fontSize)
        paragraphs = [Paragraph(text, ParagraphStyle(f"{fitted.name}-{i}", parent=fitted, **extra))
                      for i, (text, extra) in enumerate(parts(size))]
        total = sum(p.wrap(width, height)[1] + p.style.spaceAfter for p in paragraphs)
        if total <= height or size <= min_size:
            return paragraphs
        size -= 0.5


def _draw_text(canvas: Canvas, data: CertificateData) -> None:
    salutation, sentence = body_sentences(data)
    width = PAGE_SIZE[0] - (TEXT_LEFT_MM + TEXT_RIGHT_MM) * mm

    def parts(size: float) -> list[tuple[str, dict]]:
        if salutation is not None:
            return [(lines_markup([Run(salutation, size)], width), {"spaceAfter": size * 0.5}),
                    (lines_markup([Run(sentence, size)], width, 2 * size),
                     {"firstLineIndent": 2 * size})]
        # The trainee's name stands out: a little larger and underlined, as if written in.
        name = Run(f"\xa0{data.recipient}\xa0", size + 4, f'<font size="{size + 4}"><u>',
                   "</u></font>", whole=True)
        rest = Run(sentence[len(data.recipient):], size)
        return [(lines_markup([name, rest], width, 2 * size), {"firstLineIndent": 2 * size})]

    left = TEXT_LEFT_MM * mm
    top = PAGE_SIZE[1] - TEXT_TOP_MM * mm
    height = top - TEXT_BOTTOM_MM * mm
    y = top
    for paragraph in _fitted(parts, _STYLE_TEXT, width, height, TEXT_MIN_SIZE):
        _, h = paragraph.wrap(width, height)
        paragraph.drawOn(canvas, left, y - h)
        y -= h + paragraph.style.spaceAfter


def _draw_signature(canvas: Canvas, data: CertificateData) -> None:
    centre_x = SIGN_CENTRE_X_MM * mm
    seal_y = SEAL_CENTRE_Y_MM * mm
    radius = SEAL_RADIUS_MM * mm
    # The seal's place: a dashed circle, labelled, drawn first so the text sits over it.
    canvas.saveState()
    canvas.setStrokeColor(SEAL_COLOUR)
    canvas.setLineWidth(0.8)
    canvas.setDash(4, 3)
    canvas.circle(centre_x, seal_y, radius)
    canvas.setDash()
    canvas.setFillColor(colors.HexColor("#B0B6BE"))
    canvas.setFont(FONT, 10)
    canvas.drawCentredString(centre_x, seal_y + radius - 7 * mm, "（盖章）")
    canvas.restoreState()

    width = SIGN_WIDTH_MM * mm
    date_baseline = SIGN_DATE_BASELINE_MM * mm
    organiser = _fitted(lambda size: [(lines_markup([Run(data.organiser, size)], width), {})],
                        _STYLE_SIGN, width,
                        _STYLE_SIGN.leading * 2, SIGN_MIN_SIZE)[0]
    _, h = organiser.wrap(width, _STYLE_SIGN.leading * 2)
    date_size = SIGN_SIZE
    gap = 3 * mm
    organiser.drawOn(canvas, centre_x - width / 2, date_baseline + date_size + gap)
    canvas.saveState()
    canvas.setFillColor(INK)
    canvas.setFont(FONT, date_size)
    canvas.drawCentredString(centre_x, date_baseline, date_in_chinese(data.issued_on))
    canvas.restoreState()


def _draw_void(canvas: Canvas, data: CertificateData) -> None:
    width, height = PAGE_SIZE
    canvas.saveState()
    canvas.setFillColor(DANGER, alpha=WATERMARK_ALPHA + 0.1)
    canvas.setFont(FONT, WATERMARK_SIZE)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(WATERMARK_ANGLE)
    canvas.drawCentredString(0, -WATERMARK_SIZE / 3, VOID_WATERMARK)
    canvas.restoreState()
    canvas.saveState()
    canvas.setFillColor(DANGER)
    canvas.setFont(FONT, 11)
    reason = f"：{data.void_reason}" if data.void_reason else ""
    line = f"本证书已作废{reason}"
    if len(line) > 60:
        line = line[:59] + "…"
    canvas.drawString(NUMBER_RIGHT_MM * mm, height - NUMBER_TOP_MM * mm, line)
    canvas.restoreState()
