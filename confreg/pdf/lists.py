"""参会人员名单 and 签到表: the lists the desk prints for the people on site.

Both documents are drawn by one helper, `attendee_table()`, from the same row type; they
differ only in their columns, their grouping and the height of a row. Long text (unit
names above all) is shrunk to fit its column instead of wrapping line after line: it is
measured with stringWidth, drawn smaller down to MIN_FIT_SIZE, and only then wrapped.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from itertools import groupby

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer

from confreg.pdf.layout import (
    ACCENT,
    CELL_PADDING_X_MM,
    CELL_PADDING_Y_MM,
    CELL_SIZE,
    FONT,
    INK,
    LABEL_FILL,
    STYLE_BODY,
    STYLE_CELL,
    STYLE_HEADING,
    STYLE_SMALL_CENTER,
    STYLE_SUBTITLE,
    STYLE_TITLE,
    banner,
    build_pdf,
    content_width_mm,
    data_table,
    field_table,
    markup,
    plain,
)
from confreg.timeutil import format_date_cn, format_weekday_cn


@dataclass(frozen=True)
class ListedAttendee:
    """One attendee as the printed lists show them (mobile and ID already masked or not)."""

    province: str
    unit_name: str
    name: str
    gender: str          # "男" / "女"
    ethnicity: str
    title: str           # 职务
    mobile: str
    id_number: str       # "" when the event does not collect ID numbers
    accommodation: str   # "单间" / "合住" / "不住宿"
    diet: str            # "清真" / "素食" / "" (no special requirement)


@dataclass(frozen=True)
class ListTotals:
    attendees: int
    units: int
    men: int
    women: int
    halal: int
    vegetarian: int
    single_rooms: int
    shared_rooms: int
    no_room: int


@dataclass
class ParticipantList:
    event_title: str
    organiser: str
    printed_on: date
    attendees: list[ListedAttendee]   # sorted by province, then unit
    totals: ListTotals
    with_id_numbers: bool             # the event collects ID numbers: print the column
    shown_in_full: bool               # mobiles and ID numbers are not masked


@dataclass
class SigninSheet:
    event_title: str
    organiser: str
    day: date
    attendees: list[ListedAttendee]   # present that day, sorted by province, unit, name
    shown_in_full: bool


# --- Layout (millimetres, points for type) --------------------------------------------------

WIDTH_MM = content_width_mm()
MIN_FIT_SIZE = 6.0           # smallest type a shrunk cell may use before it wraps
FIT_STEP = 0.25              # font sizes are tried in steps of this many points
FIT_LEADING = 1.2            # line height of fitted text, as a multiple of its size
GROUP_TEXT_SIZE = 10         # unit headings in the participant list
SIGNIN_ROW_MM = 11           # tall enough for a handwritten signature
GROUP_NOSPLIT_ROWS = 12      # units up to this size never straddle a page break
TITLE_GAP_MM = 3
PROVINCE_KEEP_MM = 40        # a province heading needs this much page below it
FULL_NUMBERS_WARNING = "本表含完整手机号码和身份证号码，请妥善保管，用后及时销毁。"


@dataclass(frozen=True)
class Column:
    """A column of an attendee table: its header, width, alignment and value."""

    header: str
    width_mm: float
    value: Callable[[ListedAttendee], str] | None   # None: an empty column to write in
    align: str = "LEFT"
    fit: bool = False        # shrink long text to the column instead of wrapping it


def _number_column(width_mm: float) -> Column:
    return Column("序号", width_mm, None, "CENTER", fit=True)


PARTICIPANT_COLUMNS = (
    _number_column(11),
    Column("姓名", 20, lambda a: a.name, fit=True),
    Column("性别", 10, lambda a: a.gender, "CENTER"),
    Column("民族", 14, lambda a: a.ethnicity, "CENTER", fit=True),
    Column("职务", 0, lambda a: a.title, fit=True),     # takes the width left over
    Column("手机", 25, lambda a: a.mobile, "CENTER"),
    Column("住宿", 14, lambda a: a.accommodation, "CENTER"),
    Column("饮食", 12, lambda a: a.diet, "CENTER"),
)
ID_NUMBER_COLUMN = Column("身份证号", 38, lambda a: a.id_number, "CENTER", fit=True)
SIGNIN_COLUMNS = (
    _number_column(11),
    Column("姓名", 19, lambda a: a.name, fit=True),
    Column("单位", 54, lambda a: a.unit_name, fit=True),
    Column("职务", 27, lambda a: a.title, fit=True),
    Column("手机", 25, lambda a: a.mobile, "CENTER"),
    Column("签名", 0, None),                           # takes the width left over
)


def _fill_width(columns: Sequence[Column]) -> list[Column]:
    """Give the one column of width 0 whatever the others leave of the page width."""
    rest = WIDTH_MM - sum(c.width_mm for c in columns)
    return [Column(c.header, rest, c.value, c.align, c.fit) if c.width_mm == 0 else c
            for c in columns]


# --- Text shrunk to fit ---------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _char_width(char: str) -> float:
    """Width of one character at 1 pt (text widths scale linearly with the size)."""
    return pdfmetrics.stringWidth(char, FONT, 1)


def _wrap_chars(text: str, width: float, size: float) -> list[str]:
    """Break text into lines no wider than `width` points, between any two characters."""
    limit = width / size
    lines, start, used = [], 0, 0.0
    for index, char in enumerate(text):
        char_width = _char_width(char)
        if index > start and used + char_width > limit:
            lines.append(text[start:index])
            start, used = index, 0.0
        used += char_width
    return [*lines, text[start:]] if text else []


# A unit's name recurs on the rows of all its people: fit each text once per box.
@lru_cache(maxsize=8192)
def fit_text(text: str, width: float, *, size: float, max_height: float,
             min_size: float = MIN_FIT_SIZE) -> tuple[float, tuple[str, ...]]:
    """Choose a font size and lines for `text` in a box `width` points wide.

    The larger of: one line shrunk (not below `min_size`), or lines wrapped within
    `max_height` (a tall row has room for two). If neither fits, `min_size` wrapped.
    """
    unit_width = pdfmetrics.stringWidth(text, FONT, 1)
    if unit_width * size <= width:
        return size, (text,)
    one_line = int(width / unit_width / FIT_STEP) * FIT_STEP
    candidate = size
    while candidate > max(one_line, min_size):
        lines = _wrap_chars(text, width, candidate)
        if len(lines) * candidate * FIT_LEADING <= max_height:
            return candidate, tuple(lines)
        candidate -= FIT_STEP
    if one_line >= min_size:
        return one_line, (text,)
    return min_size, tuple(_wrap_chars(text, width, min_size))


class FittedText(Flowable):
    """Text drawn at the size fit_text() chose, one drawString per line."""

    def __init__(self, text: str, width: float, *, size: float = CELL_SIZE,
                 max_height: float = 0, min_height: float = 0, align: str = "LEFT",
                 color=INK) -> None:
        super().__init__()
        self.text = text
        self.size, self.lines = fit_text(text, width, size=size, max_height=max_height)
        self.leading = self.size * FIT_LEADING
        self.width = width
        self.text_height = self.leading * len(self.lines)
        # At least min_height tall, text centred: then it alone holds a tall row up.
        self.height = max(self.text_height, min_height)
        self.align = align
        self.color = color

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFont(FONT, self.size)
        canvas.setFillColor(self.color)
        # Baselines sit a fifth of the line above its foot, as ReportLab's own cells do.
        y = (self.height + self.text_height) / 2 - self.leading + self.size * 0.2
        for line in self.lines:
            if self.align == "CENTER":
                canvas.drawCentredString(self.width / 2, y, line)
            elif self.align == "RIGHT":
                canvas.drawRightString(self.width, y, line)
            else:
                canvas.drawString(0, y, line)
            y -= self.leading


def _cell_width(width_mm: float) -> float:
    return (width_mm - 2 * CELL_PADDING_X_MM) * mm


def _fitted(text: str, width: float, *, max_height: float, min_height: float,
            align: str) -> str | Flowable:
    # Text that fits as it is stays a string: the table draws those far faster.
    if not text or pdfmetrics.stringWidth(text, FONT, CELL_SIZE) <= width:
        return text
    return FittedText(text, width, max_height=max_height, min_height=min_height, align=align)


# --- The one table helper -------------------------------------------------------------------

@dataclass(frozen=True)
class GroupHeading:
    """A full-width row that introduces a group of attendees, e.g. one unit."""

    text: str
    continued: str = ""   # repeats it at the top of each further page the group runs onto


def attendee_table(columns: Sequence[Column], entries: Iterable[ListedAttendee | GroupHeading],
                   *, row_height_mm: float | None = None, first_number: int = 1) -> Flowable:
    """Build the table of the participant list and of the sign-in sheet.

    Columns without a value are numbered (序号) when first, else left blank to write in.
    `row_height_mm` makes every attendee row at least that tall (room for a signature).
    Group headings span the table; without them the table streams (layout.data_table).
    """
    columns = _fill_width(columns)
    widths = [_cell_width(c.width_mm) for c in columns]
    padding_mm = 2 * CELL_PADDING_Y_MM + 0.4     # as layout's grid pads every cell
    text_height = STYLE_CELL.leading              # one line of ordinary cell text
    min_height, strut = 0.0, None
    if row_height_mm:
        text_height = min_height = max(text_height, (row_height_mm - padding_mm) * mm)
        # A row holds its height by a shrunk cell (made that tall) or else by an invisible
        # strut in the writing column (签名): one flowable per row at most, as they are slow.
        strut = Spacer(0, min_height)
    strut_column = next((i for i, c in enumerate(columns) if c.value is None and i > 0), None)
    if strut is not None and strut_column is None:
        raise ValueError("a table with tall rows needs a blank column to write in")

    rows: list[list] = []
    group_rows: list[int] = []
    number = first_number
    for entry in entries:
        if isinstance(entry, GroupHeading):
            group_rows.append(len(rows) + 1)            # + 1: the header is row 0
            heading = FittedText(entry.text, sum(c.width_mm for c in columns) * mm
                                 - 2 * CELL_PADDING_X_MM * mm,
                                 size=GROUP_TEXT_SIZE, max_height=0, color=ACCENT)
            rows.append([heading] + [""] * (len(columns) - 1))
            continue
        row: list = []
        for index, (column, width) in enumerate(zip(columns, widths, strict=True)):
            if column.value is None:
                text = str(number) if index == 0 else ""
            else:
                text = column.value(entry)
            row.append(_fitted(text, width, max_height=text_height, min_height=min_height,
                               align=column.align) if column.fit else text)
        if strut is not None and not any(isinstance(cell, Flowable) for cell in row):
            row[strut_column] = strut
        rows.append(row)
        number += 1

    extra_style: list[tuple] = []
    for group_row, next_group in zip(group_rows, [*group_rows[1:], len(rows) + 1]):
        extra_style += [("SPAN", (0, group_row), (-1, group_row)),
                        ("BACKGROUND", (0, group_row), (-1, group_row), LABEL_FILL)]
        # Keep a heading with its first attendee, and a small unit on one page.
        last = next_group - 1 if next_group - group_row <= GROUP_NOSPLIT_ROWS else group_row + 1
        extra_style.append(("NOSPLIT", (0, group_row), (-1, min(last, len(rows)))))
    return data_table(
        [c.header for c in columns], rows, [c.width_mm for c in columns],
        align=[c.align for c in columns], zebra=not group_rows, extra_style=extra_style,
    )


class _GroupedTable(Flowable):
    """An attendee table with group headings that repeats, as "（续）", the heading of a
    group running onto a new page, so that no page starts with people of no known unit."""

    def __init__(self, columns: Sequence[Column], entries: list[ListedAttendee | GroupHeading],
                 first_number: int) -> None:
        super().__init__()
        self.hAlign = "CENTER"  # as a Table
        self._columns, self._entries, self._first_number = columns, entries, first_number
        self._table = attendee_table(columns, entries, first_number=first_number)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width, self.height = self._table.wrap(avail_width, avail_height)
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        parts = self._table.split(avail_width, avail_height)
        if len(parts) < 2:
            return parts
        shown = len(parts[0]._cellvalues) - 1   # less the header row
        done, rest = self._entries[:shown], self._entries[shown:]
        if not isinstance(rest[0], GroupHeading):
            heading = next(e for e in reversed(done) if isinstance(e, GroupHeading))
            rest = [GroupHeading(heading.continued or heading.text, heading.continued), *rest]
        number = self._first_number + sum(not isinstance(e, GroupHeading) for e in done)
        return [parts[0], _GroupedTable(self._columns, rest, number)]

    def draw(self) -> None:
        self._table.drawOn(self.canv, 0, 0)


# --- 参会人员名单 --------------------------------------------------------------------------

def render_participant_list(data: ParticipantList) -> bytes:
    """Render the participant list, by province and unit, as an A4 PDF."""
    columns = list(PARTICIPANT_COLUMNS)
    if data.with_id_numbers:
        columns.insert(-2, ID_NUMBER_COLUMN)
    totals = data.totals
    story: list[Flowable] = [
        Paragraph("参会人员名单", STYLE_TITLE),
        plain(data.event_title, STYLE_SUBTITLE),
        Paragraph(f"共 {totals.attendees} 人，{totals.units} 个单位　"
                  f"打印日期：{format_date_cn(data.printed_on)}", STYLE_SMALL_CENTER),
        Spacer(0, TITLE_GAP_MM * mm),
    ]
    if data.shown_in_full:
        story += [banner(FULL_NUMBERS_WARNING, tone="warning"), Spacer(0, TITLE_GAP_MM * mm)]
    if not data.attendees:
        story.append(Paragraph("暂无参会人员。", STYLE_BODY))
    number = 1
    for province, in_province in groupby(data.attendees, key=lambda a: a.province):
        people = list(in_province)
        entries: list[ListedAttendee | GroupHeading] = []
        for unit_name, in_unit in groupby(people, key=lambda a: a.unit_name):
            unit_people = list(in_unit)
            entries.append(GroupHeading(f"{unit_name}（{len(unit_people)} 人）",
                                        f"{unit_name}（续，共 {len(unit_people)} 人）"))
            entries.extend(unit_people)
        heading = Paragraph(f"{markup(province or '未填省份')}（{len(people)} 人）", STYLE_HEADING)
        # One table per province: spans stop layout from streaming a table, so each stays
        # the size of a province rather than of the whole list.
        story += [CondPageBreak(PROVINCE_KEEP_MM * mm), heading,
                  _GroupedTable(columns, entries, number)]
        number += len(people)
    story.append(KeepTogether([Paragraph("合计", STYLE_HEADING), _totals_table(totals)]))
    return build_pdf(
        story,
        title=f"参会人员名单 {data.event_title}",
        header_text=f"{data.event_title}　参会人员名单",
        author=data.organiser,
    )


def _totals_table(totals: ListTotals) -> Flowable:
    shared_rooms = (totals.shared_rooms + 1) // 2
    return field_table(
        [[("人数", f"共 {totals.attendees} 人（男 {totals.men} 人，女 {totals.women} 人），"
                   f"{totals.units} 个单位")],
         [("饮食", f"清真 {totals.halal} 人，素食 {totals.vegetarian} 人")],
         [("住宿", f"单间 {totals.single_rooms} 人，合住 {totals.shared_rooms} 人"
                   f"（约 {shared_rooms} 间），不住宿 {totals.no_room} 人")]],
        width_mm=WIDTH_MM,
    )


# --- 签到表 ---------------------------------------------------------------------------------

def render_signin_sheet(data: SigninSheet) -> bytes:
    """Render the sign-in sheet of one day, with a signature column, as an A4 PDF."""
    day = f"{format_date_cn(data.day)}（{format_weekday_cn(data.day)}）"
    story: list[Flowable] = [
        Paragraph("签到表", STYLE_TITLE),
        plain(data.event_title, STYLE_SUBTITLE),
        Paragraph(f"{day}　应到 {len(data.attendees)} 人", STYLE_SMALL_CENTER),
        Spacer(0, TITLE_GAP_MM * mm),
    ]
    if data.shown_in_full:
        story += [banner(FULL_NUMBERS_WARNING, tone="warning"), Spacer(0, TITLE_GAP_MM * mm)]
    if data.attendees:
        story.append(attendee_table(SIGNIN_COLUMNS, data.attendees, row_height_mm=SIGNIN_ROW_MM))
    else:
        story.append(Paragraph("当天没有在会的参会人员。", STYLE_BODY))
    return build_pdf(
        story,
        title=f"签到表 {data.event_title} {format_date_cn(data.day)}",
        header_text=f"{data.event_title}　签到表　{day}",
        author=data.organiser,
    )
