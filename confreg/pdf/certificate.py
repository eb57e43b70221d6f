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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from confreg.pdf.layout import (DANGER, FONT, FONT_MONO, INK, MUTED, WATERMARK_ALPHA, markup,
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

    def parts(size: float) -> list[tuple[str, dict]]:
        if salutation is not None:
            return [(markup(salutation), {"spaceAfter": size * 0.5}),
                    (markup(sentence), {"firstLineIndent": 2 * size})]
        # The trainee's name stands out: a little larger and underlined, as if written in.
        name = markup(data.recipient)
        rest = markup(sentence[len(data.recipient):])
        return [(f'<font size="{size + 4}"><u>&nbsp;{name}&nbsp;</u></font>{rest}',
                 {"firstLineIndent": 2 * size})]

    left = TEXT_LEFT_MM * mm
    width = PAGE_SIZE[0] - (TEXT_LEFT_MM + TEXT_RIGHT_MM) * mm
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
    organiser = _fitted(lambda size: [(markup(data.organiser), {})], _STYLE_SIGN, width,
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
