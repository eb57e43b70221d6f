"""缴费通知单: the payment notice a unit hands to its finance office."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from confreg.pdf.layout import (
    ACCENT,
    FONT_MONO,
    HIGHLIGHT_FILL,
    INK,
    LABEL_FILL,
    STYLE_BODY,
    STYLE_CELL,
    STYLE_HEADING,
    STYLE_LABEL,
    STYLE_RIGHT,
    STYLE_SMALL,
    STYLE_SMALL_CENTER,
    STYLE_SUBTITLE,
    STYLE_TITLE,
    banner,
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


@dataclass
class FeeLine:
    label: str          # e.g. "委员会委员单位或联合会会员单位"
    unit_price: Decimal
    quantity: int
    amount: Decimal


@dataclass
class NoticeAttendee:
    name: str
    gender: str          # "男"/"女"
    position: str
    accommodation: str   # "单间" / "合住" / "不住宿"
    stay: str            # e.g. "8月20日—8月23日"
    fee: Decimal


@dataclass
class PaymentNotice:
    event_title: str
    organiser: str
    code: str                    # registration code, e.g. "K7M4P2QX"
    issued_on: date
    unit_name: str
    contact_name: str
    contact_mobile: str          # already masked by the caller
    attendees: list[NoticeAttendee]
    fee_lines: list[FeeLine]
    total: Decimal
    total_capitals: str          # e.g. "人民币捌仟玖佰肆拾元整" (computed by caller)
    payee_name: str
    bank_name: str
    bank_account: str
    remark: str                  # the exact transfer remark to write
    payment_deadline: date
    invoice_note: str
    contacts: list[str]          # e.g. ["王老师 13681260509", "电话 010-65081896（城乡工委）"]
    pending_note: str | None = None   # shown prominently when set
    status_note: str | None = None    # e.g. "已取消"; shown prominently when set


# --- Layout (millimetres) -----------------------------------------------------------------

WIDTH_MM = content_width_mm()
ATTENDEE_COLUMNS = ("序号", "姓名", "性别", "职务", "住宿", "日期", "费用（元）")
ATTENDEE_WIDTHS_MM = (11, 24, 11, WIDTH_MM - 113, 16, 31, 20)
ATTENDEE_ALIGN = ("CENTER", "LEFT", "CENTER", "LEFT", "CENTER", "CENTER", "RIGHT")
FEE_COLUMNS = ("收费标准", "单价（元/人）", "人数", "金额（元）")
FEE_WIDTHS_MM = (WIDTH_MM - 84, 30, 20, 34)
FEE_ALIGN = ("LEFT", "RIGHT", "CENTER", "RIGHT")
FIELD_LABEL_MM = 24
PAYMENT_LABEL_MM = 28
PAYMENT_OUTLINE_PT = 1.6
META_GAP_MM = 3
SIGNATURE_GAP_MM = 3
CONTACT_SEPARATOR = "；&nbsp;&nbsp;"  # ReportLab collapses ordinary and ideographic spaces
PAYMENT_PADDING_TOP_MM = 1.8
PAYMENT_PADDING_BOTTOM_MM = 2.2

# Styles specific to this document, built once at import.
_STYLE_CODE = ParagraphStyle("notice-code", parent=STYLE_BODY, fontSize=11)
_STYLE_CODE_RIGHT = ParagraphStyle("notice-code-right", parent=_STYLE_CODE, alignment=TA_RIGHT)
_STYLE_TOTAL = ParagraphStyle("notice-total", parent=STYLE_CELL, fontSize=11, leading=15)
_STYLE_TOTAL_RIGHT = ParagraphStyle("notice-total-right", parent=_STYLE_TOTAL, alignment=TA_RIGHT)
_STYLE_PAY_VALUE = ParagraphStyle("notice-pay", parent=STYLE_CELL, fontSize=12, leading=17)
_STYLE_PAY_LABEL = ParagraphStyle(
    "notice-pay-label", parent=STYLE_LABEL, fontSize=10.5, leading=15, textColor=INK,
)
_STYLE_NOTE = ParagraphStyle("notice-note", parent=STYLE_SMALL, fontSize=8.5, textColor=INK)
_STYLE_PAY_EXACT = ParagraphStyle(
    "notice-pay-exact", parent=_STYLE_PAY_VALUE, fontName=FONT_MONO, fontSize=15, leading=21,
)


def render_payment_notice(notice: PaymentNotice) -> bytes:
    """Render the payment notice as an A4 PDF."""
    story: list[Flowable] = [
        Paragraph("缴费通知单", STYLE_TITLE),
        plain(notice.event_title, STYLE_SUBTITLE),
        Spacer(0, META_GAP_MM * mm),
        _meta_line(notice),
    ]
    if notice.status_note:
        story += [Spacer(0, 3 * mm), banner(notice.status_note, tone="danger")]
    if notice.pending_note:
        story += [Spacer(0, 3 * mm), banner(notice.pending_note, tone="warning")]

    story += [
        Paragraph("一、参会单位", STYLE_HEADING),
        field_table(
            [[("单位名称", notice.unit_name)],
             [("联系人", notice.contact_name), ("联系电话", notice.contact_mobile)]],
            width_mm=WIDTH_MM, label_width_mm=FIELD_LABEL_MM,
        ),
        Paragraph(f"二、参会人员（共 {len(notice.attendees)} 人）", STYLE_HEADING),
        _attendee_table(notice.attendees),
        Paragraph("三、费用", STYLE_HEADING),
        _fee_table(notice),
        KeepTogether([
            Paragraph("四、汇款信息（请财务按此办理转账）", STYLE_HEADING),
            _payment_block(notice),
            Spacer(0, 1.5 * mm),
            Paragraph(
                "请在转账的“用途／附言／备注”栏完整填写上述汇款备注，以便核对到账。",
                _STYLE_NOTE,
            ),
        ]),
        KeepTogether([
            *_invoice_and_contacts(notice),
            Spacer(0, SIGNATURE_GAP_MM * mm),
            Paragraph(
                f"{markup(notice.organiser)}<br/>{format_date_cn(notice.issued_on)}", STYLE_RIGHT
            ),
            Spacer(0, SIGNATURE_GAP_MM * mm),
            Paragraph(
                f"本通知单由报名系统生成，报名编号 {markup(notice.code)}。"
                "如信息有误，请及时与会务组联系。",
                STYLE_SMALL_CENTER,
            ),
        ]),
    ]
    return build_pdf(
        story,
        title=f"缴费通知单 {notice.code}",
        header_text=f"缴费通知单　报名编号 {notice.code}　{notice.event_title}",
        author=notice.organiser,
        watermark=notice.status_note,
    )


def _invoice_and_contacts(notice: PaymentNotice) -> list[Flowable]:
    lines = []
    if notice.invoice_note:
        lines.append(Paragraph(f"发票：{markup(notice.invoice_note)}", STYLE_BODY))
    if notice.contacts:
        contacts = CONTACT_SEPARATOR.join(markup(c) for c in notice.contacts)
        lines.append(Paragraph(f"联系方式：{contacts}", STYLE_BODY))
    return [Paragraph("五、发票与联系方式", STYLE_HEADING), *lines] if lines else []


def _meta_line(notice: PaymentNotice) -> Table:
    half = WIDTH_MM / 2 * mm
    code = Paragraph(
        f'报名编号：<font face="{FONT_MONO}" size="13">{markup(notice.code)}</font>', _STYLE_CODE
    )
    issued = Paragraph(f"开具日期：{format_date_cn(notice.issued_on)}", _STYLE_CODE_RIGHT)
    return Table(
        [[code, issued]],
        colWidths=[half, half],
        style=table_style([
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.8 * mm),
        ]),
    )


def _attendee_table(attendees: list[NoticeAttendee]) -> Flowable:
    rows = [
        (i, a.name, a.gender, a.position, a.accommodation, a.stay, format_amount(a.fee))
        for i, a in enumerate(attendees, start=1)
    ]
    return data_table(ATTENDEE_COLUMNS, rows, ATTENDEE_WIDTHS_MM, align=ATTENDEE_ALIGN)


def _fee_table(notice: PaymentNotice) -> Flowable:
    rows: list[tuple] = [
        (line.label, format_amount(line.unit_price), f"× {line.quantity}",
         format_amount(line.amount))
        for line in notice.fee_lines
    ]
    total_row = len(rows) + 1  # the header is row 0
    rows.append((
        Paragraph(f"合计（大写）：{markup(notice.total_capitals)}", _STYLE_TOTAL),
        "", "",
        Paragraph(format_yuan(notice.total), _STYLE_TOTAL_RIGHT),
    ))
    return data_table(
        FEE_COLUMNS, rows, FEE_WIDTHS_MM, align=FEE_ALIGN, zebra=False,
        extra_style=[
            ("SPAN", (0, total_row), (2, total_row)),
            ("BACKGROUND", (0, total_row), (-1, total_row), LABEL_FILL),
            ("LINEABOVE", (0, total_row), (-1, total_row), 1, ACCENT),
        ],
    )


def _payment_block(notice: PaymentNotice) -> Table:
    amount = (f'<font size="14">{format_yuan(notice.total)}</font>'
              f"（{markup(notice.total_capitals)}）")
    rows = [
        [("收款单位", Paragraph(markup(notice.payee_name), _STYLE_PAY_VALUE))],
        [("开户银行", Paragraph(markup(notice.bank_name), _STYLE_PAY_VALUE))],
        [("账号", Paragraph(markup(notice.bank_account), _STYLE_PAY_EXACT))],
        [("汇款金额", Paragraph(amount, _STYLE_PAY_VALUE))],
        [("汇款备注", Paragraph(markup(notice.remark), _STYLE_PAY_EXACT))],
        [("缴费截止日期",
          Paragraph(f"{format_date_cn(notice.payment_deadline)}（含当日）", _STYLE_PAY_VALUE))],
    ]
    table = field_table(rows, width_mm=WIDTH_MM, label_width_mm=PAYMENT_LABEL_MM,
                        label_style=_STYLE_PAY_LABEL, outline_pt=PAYMENT_OUTLINE_PT)
    remark_row = 4
    table.setStyle(TableStyle([
        ("TOPPADDING", (0, 0), (-1, -1), PAYMENT_PADDING_TOP_MM * mm),
        ("BOTTOMPADDING", (0, 0), (-1, -1), PAYMENT_PADDING_BOTTOM_MM * mm),
        ("BACKGROUND", (1, remark_row), (1, remark_row), HIGHLIGHT_FILL),
    ]))
    return table
