"""收据: the receipt for a registration paid in full, on half an A4 sheet (A5 landscape).

Laid out like the printed receipt books finance offices use: the title and a red number,
交款单位, 收款事由 with the fee lines, the amount in figures and in capitals, and the
place for 收款单位（盖章） and 经手人.  A voided receipt keeps its number and prints
across the page "作废".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepInFrame, Paragraph, Spacer, Table

from confreg.pdf.layout import (
    ACCENT,
    DANGER,
    FONT_MONO,
    INK,
    LABEL_FILL,
    STYLE_BODY,
    STYLE_CELL,
    STYLE_LABEL,
    STYLE_SMALL,
    build_pdf,
    content_width_mm,
    data_table,
    field_table,
    format_amount,
    format_yuan,
    markup,
    plain,
    table_style,
)
from confreg.timeutil import format_date_cn

VOID_WATERMARK = "作废"


@dataclass
class ReceiptLine:
    label: str           # the fee tier, e.g. "委员会委员单位或联合会会员单位"
    unit_price: Decimal
    quantity: int
    amount: Decimal


@dataclass
class ReceiptData:
    number: str                  # e.g. "SJ2027-000001"
    issued_on: date
    payer_name: str              # 交款单位: the invoice title, or the unit's name
    event_title: str
    organiser: str               # 收款单位
    lines: list[ReceiptLine]
    total: Decimal
    total_capitals: str          # e.g. "人民币捌仟玖佰肆拾元整"
    registration_code: str = ""
    void: bool = False
    void_reason: str = ""
    extra_notes: list[str] = field(default_factory=list)


# --- Layout (millimetres) -----------------------------------------------------------------

PAGE_SIZE = landscape(A5)        # half an A4 sheet, as receipt books are
WIDTH_MM = content_width_mm(PAGE_SIZE)
LABEL_MM = 28
NUMBER_MM = 60
LINE_COLUMNS = ("收款事由", "单价（元/人）", "人数", "金额（元）")
LINE_WIDTHS_MM = (WIDTH_MM - 82, 30, 16, 36)
LINE_ALIGN = ("LEFT", "RIGHT", "CENTER", "RIGHT")
SEAL_ROW_MM = 19                 # room for the seal, which is set half over the text
OUTLINE_PT = 1.2
GAP_MM = 2

_STYLE_TITLE = ParagraphStyle("receipt-title", parent=STYLE_BODY, fontSize=22, leading=26,
                              alignment=TA_CENTER, textColor=INK)
_STYLE_NUMBER = ParagraphStyle("receipt-number", parent=STYLE_BODY, fontName=FONT_MONO,
                               fontSize=12, leading=15, alignment=TA_RIGHT, textColor=DANGER)
_STYLE_META = ParagraphStyle("receipt-meta", parent=STYLE_BODY, fontSize=9.5, leading=13)
_STYLE_META_RIGHT = ParagraphStyle("receipt-meta-right", parent=_STYLE_META, alignment=TA_RIGHT)
_STYLE_VALUE = ParagraphStyle("receipt-value", parent=STYLE_CELL, fontSize=10.5, leading=14)
_STYLE_AMOUNT = ParagraphStyle("receipt-amount", parent=_STYLE_VALUE, fontSize=12, leading=16)
_STYLE_VOID = ParagraphStyle("receipt-void", parent=STYLE_BODY, fontSize=11, leading=14,
                             textColor=DANGER)
_STYLE_SIGN = ParagraphStyle("receipt-sign", parent=STYLE_CELL, fontSize=10, leading=14)


def render_receipt(data: ReceiptData) -> bytes:
    """Render a receipt as a one-page PDF, half an A4 sheet in landscape."""
    story: list[Flowable] = [_title_row(data), _meta_row(data), Spacer(0, GAP_MM * mm)]
    if data.void:
        reason = f"：{data.void_reason}" if data.void_reason else ""
        story += [Paragraph(f"本收据已作废{markup(reason)}", _STYLE_VOID), Spacer(0, GAP_MM * mm)]
    story += [
        field_table([[("交款单位", Paragraph(markup(data.payer_name), _STYLE_VALUE))]],
                    width_mm=WIDTH_MM, label_width_mm=LABEL_MM, outline_pt=OUTLINE_PT),
        _lines_table(data),
        _signature_row(data),
        Spacer(0, 1.5 * mm),
        plain("本收据为收款凭证；正式发票由收款单位另行开具。" + "".join(data.extra_notes),
              STYLE_SMALL),
    ]
    for flowable in story:
        flowable.hAlign = "LEFT"  # stays aligned with the paragraphs if the frame shrinks
    # One receipt, one sheet: a long payer name or many lines shrink instead of spilling over.
    return build_pdf(
        [KeepInFrame(0, 0, story, mode="shrink")],
        title=f"收据 {data.number}",
        header_text=f"收据　{data.number}　{data.event_title}",
        pagesize=PAGE_SIZE,
        author=data.organiser,
        watermark=VOID_WATERMARK if data.void else None,
    )


def _title_row(data: ReceiptData) -> Table:
    side = NUMBER_MM * mm
    middle = (WIDTH_MM - 2 * NUMBER_MM) * mm
    title = Paragraph('<u>收　　据</u>', _STYLE_TITLE)
    number = Paragraph(f"No. {markup(data.number)}", _STYLE_NUMBER)
    return Table([["", title, number]], colWidths=[side, middle, side],
                 style=table_style([("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))


def _meta_row(data: ReceiptData) -> Table:
    half = WIDTH_MM / 2 * mm
    code = f"报名编号：{markup(data.registration_code)}" if data.registration_code else ""
    return Table(
        [[Paragraph(code, _STYLE_META),
          Paragraph(f"开具日期：{format_date_cn(data.issued_on)}", _STYLE_META_RIGHT)]],
        colWidths=[half, half],
        style=table_style([("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                           ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT)]),
    )


def _lines_table(data: ReceiptData) -> Flowable:
    rows: list[tuple] = [(f"{data.event_title} 参会费用", "", "", "")]
    rows += [(f"　{line.label}", format_amount(line.unit_price), f"× {line.quantity}",
              format_amount(line.amount)) for line in data.lines]
    figures_row = len(rows) + 1  # the header is row 0
    rows.append((Paragraph("金额合计（小写）", STYLE_LABEL), "", "",
                 Paragraph(format_yuan(data.total), ParagraphStyle(
                     "receipt-total", parent=_STYLE_AMOUNT, alignment=TA_RIGHT))))
    rows.append((Paragraph(f'人民币（大写）：<font size="12">{markup(data.total_capitals)}</font>',
                           _STYLE_VALUE), "", "", ""))
    capitals_row = figures_row + 1
    return data_table(
        LINE_COLUMNS, rows, LINE_WIDTHS_MM, align=LINE_ALIGN, zebra=False,
        extra_style=[
            ("SPAN", (0, 1), (-1, 1)),
            ("SPAN", (0, figures_row), (2, figures_row)),
            ("SPAN", (0, capitals_row), (-1, capitals_row)),
            ("BACKGROUND", (0, figures_row), (-1, capitals_row), LABEL_FILL),
            ("LINEABOVE", (0, figures_row), (-1, figures_row), 1, ACCENT),
            ("BOX", (0, 0), (-1, -1), OUTLINE_PT, INK),
        ],
    )


def _signature_row(data: ReceiptData) -> Table:
    payee = Paragraph(f"收款单位（盖章）：<br/>{markup(data.organiser)}", _STYLE_SIGN)
    handler = Paragraph("经手人：", _STYLE_SIGN)
    left = WIDTH_MM * 0.62 * mm
    return Table(
        [[payee, handler]],
        colWidths=[left, WIDTH_MM * mm - left],
        rowHeights=[SEAL_ROW_MM * mm],
        style=table_style([("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("BOX", (0, 0), (-1, -1), OUTLINE_PT, INK),
                           ("LINEBEFORE", (1, 0), (1, 0), 0.5, INK),
                           ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
                           ("LEFTPADDING", (0, 0), (-1, -1), 2 * mm)]),
    )
