"""Read a bank statement exactly as corporate online banking (企业网银) exports it.

The format is decided by the content, never by the file name: an .xlsx workbook (a zip with
xl/workbook.xml, read with openpyxl in read-only mode), an old binary .xls (OLE2, read with
xlrd) or text (.csv/.txt, comma- or tab-separated) in UTF-8 with or without BOM, UTF-16 with
BOM (Excel's "Unicode 文本") or GBK/GB18030.

Banks put account lines above the table (账号：… / 户名：… / 查询区间 …, the value after a
colon or in the next cell) and totals below it (合计, 借方合计, 总笔数, 本页小计 …). The header
row is the row with the most recognised column names among the first rows and must name a
date and an amount; the table is read below it. Totals, blank and note lines are skipped
and listed in `skipped`; inside the table a date or an amount that cannot be read is an
error naming its line, since guessing would book money wrongly.

Column names are matched after NFKC (full-width letters, digits and brackets made
half-width), without whitespace and, failing an exact match, without a bracketed part:
CCB's 借方发生额（支取） and BOC's bilingual 交易日期[ Transaction Date ] are found as
借方发生额 and 交易日期. Where several columns name one field, the most specific name wins
(交易流水号 before 流水号 before 凭证号). The lists below come from the big four banks'
corporate exports as far as we know them; banks rename columns from time to time, which is
why an unknown layout raises `MappingNeeded` and finance's mapping is remembered by
`ParsedStatement.layout`.

Amounts are Decimal: spreadsheet numbers through their two-decimal text, text amounts
without thousands separators, currency signs or full-width digits. One amount column with a
direction column (借/贷, D/C, 收/支, 来账/往账, 1 = 借 and 2 = 贷 as in the banks' interface
codes) or a signed amount are handled as well as separate 借方/贷方 columns; a negative
amount in a 借方/贷方 column is a reversal (冲正) and counts for the other direction.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import chain, islice

CENT = Decimal("0.01")
MAX_ROWS = 20000
MAX_BYTES = 10 * 1024 * 1024
# The header row is looked for among this many rows at the top of a sheet.
HEADER_SEARCH_ROWS = 60

CANONICAL_FIELDS: dict[str, str] = {
    "booked_on": "交易日期",
    "booked_at": "交易时间",
    "serial": "交易流水号",
    "amount_in": "收入金额（贷方）",
    "amount_out": "支出金额（借方）",
    "amount": "交易金额（只有一列金额时）",
    "direction": "借贷标志（收/支、借/贷）",
    "balance": "余额",
    "payer_name": "对方户名",
    "payer_account": "对方账号",
    "payer_bank": "对方开户行",
    "from_name": "付款人名称",
    "from_account": "付款人账号",
    "from_bank": "付款人开户行",
    "to_name": "收款人名称",
    "to_account": "收款人账号",
    "to_bank": "收款人开户行",
    "summary": "摘要",
    "remark": "用途/附言",
    "own_account": "本方账号",
}

# Field -> the column names banks use for it, most specific first.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "booked_on": ("交易日期", "记账日期", "入账日期", "日期", "交易日期时间", "交易时间",
                  "记账时间"),
    "booked_at": ("交易时间", "交易日期时间", "记账时间", "时间"),
    "serial": ("交易流水号", "账户明细编号-交易流水号", "业务流水号", "交易参考号", "柜员流水号",
               "流水号", "交易序号", "凭证号", "传票号"),
    "amount_in": ("贷方发生额", "贷方金额", "收入金额", "收入", "贷方", "存入金额", "收款金额",
                  "转入金额"),
    "amount_out": ("借方发生额", "借方金额", "支出金额", "支出", "借方", "支取金额", "付款金额",
                   "转出金额"),
    "amount": ("交易金额", "发生额", "金额"),
    "direction": ("借贷标志", "借贷方向", "借贷标识", "借贷标记", "借/贷", "借贷", "收支",
                  "收/支", "收支方向", "收支标志", "交易方向", "来往账标识"),
    "balance": ("余额", "账户余额", "本次余额", "交易后余额", "当前余额", "联机余额"),
    "payer_name": ("对方户名", "对方账户名称", "对方单位名称", "对方单位", "对方账户名",
                   "对方名称", "收/付方名称", "收付方名称"),
    "payer_account": ("对方账号", "对方账户", "收/付方账号", "收付方账号", "对方卡号/账号"),
    "payer_bank": ("对方开户行", "对方行名", "对方开户机构", "对方开户行名", "对方开户银行",
                   "收/付方开户行", "收付方开户行"),
    "from_name": ("付款人名称", "付款方名称", "付款人户名", "付款方户名", "付款户名", "付款人"),
    "from_account": ("付款人账号", "付款方账号", "付款账号"),
    "from_bank": ("付款人开户行名", "付款人开户行", "付款方开户行", "付款行名", "付款人开户银行"),
    "to_name": ("收款人名称", "收款方名称", "收款人户名", "收款方户名", "收款户名", "收款人"),
    "to_account": ("收款人账号", "收款方账号", "收款账号"),
    "to_bank": ("收款人开户行名", "收款人开户行", "收款方开户行", "收款行名", "收款人开户银行"),
    "summary": ("摘要", "交易摘要", "交易类型", "交易名称", "业务类型"),
    "remark": ("用途/附言", "附言", "用途", "交易附言", "摘要附言", "交易用途", "备注"),
    "own_account": ("本方账号", "本方账户", "本方账号/卡号"),
}
AMOUNT_FIELDS = ("amount_in", "amount_out", "amount")

# Normalised column name -> [(field, rank)]; one name may serve two fields (交易时间 is the
# date where there is no date column, and the time).
_HEADER_INDEX: dict[str, list[tuple[str, int]]] = {}
for _field, _names in HEADER_NAMES.items():
    for _rank, _name in enumerate(_names):
        _HEADER_INDEX.setdefault("".join(unicodedata.normalize("NFKC", _name).split()).lower(),
                                 []).append((_field, _rank))

_BRACKETED = re.compile(r"\(.*?\)|\[.*?\]|【.*?】|〔.*?〕|<.*?>")

# Lines above the table: label -> what it gives.
_ACCOUNT_LABELS = {
    "account": ("账号", "帐号", "账户", "本方账号", "查询账号", "账户号码", "单位账号", "客户账号"),
    "account_name": ("户名", "账户名称", "账户名", "本方户名", "单位名称", "客户名称", "公司名称",
                     "账户全称"),
    "period": ("查询区间", "查询期间", "起止日期", "交易期间", "日期范围", "查询时间段",
               "交易日期范围", "查询日期"),
    "start": ("起始日期", "开始日期", "起始日", "查询起始日期", "起始时间", "开始时间"),
    "end": ("终止日期", "截止日期", "结束日期", "终止日", "查询终止日期", "截止时间", "结束时间"),
    "other": ("币种", "币别", "开户行", "开户机构", "打印日期", "打印时间", "钞汇标志"),
}
_LABEL_KIND = {label: kind for kind, labels in _ACCOUNT_LABELS.items() for label in labels}
_LABEL_RE = re.compile("(" + "|".join(sorted(map(re.escape, _LABEL_KIND), key=len, reverse=True))
                       + r")\s*:")

_TOTALS = ("合计", "总计", "小计", "本页小计", "本页合计", "本月合计", "本日合计", "本期合计",
           "本年累计", "累计", "共计", "总笔数", "笔数", "借方合计", "贷方合计", "借方笔数",
           "贷方笔数", "借方总额", "贷方总额", "借方总金额", "贷方总金额", "收入合计", "支出合计",
           "收入笔数", "支出笔数", "承前页", "过次页")

_DIRECTIONS = {
    "借": "out", "借方": "out", "d": "out", "dr": "out", "debit": "out", "支": "out",
    "支出": "out", "出": "out", "付": "out", "付款": "out", "往账": "out", "转出": "out",
    "1": "out", "-": "out",
    "贷": "in", "贷方": "in", "c": "in", "cr": "in", "credit": "in", "收": "in",
    "收入": "in", "入": "in", "收款": "in", "来账": "in", "转入": "in", "2": "in", "+": "in",
}

_MONEY_DROP = str.maketrans("", "", ", ¥$元")
_MONEY_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_EMPTY_MONEY = frozenset(("", "-", "--", "—", "——", "/", "无"))
_MOMENT_RE = re.compile(
    r"(?:(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2})))?"
    r"\s*T?\s*"
    r"(?:(\d{1,2})[:时.]?(\d{2})(?:[:分.]?(\d{2})(?:\.\d+)?秒?)?)?")
_EXCEL_EPOCH = datetime(1899, 12, 30)


class StatementError(Exception):
    """The file cannot be read as a statement; the message is for the user."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


class MappingNeeded(StatementError):
    """The date or amount columns were not recognised: finance maps the columns once per
    layout and the file is read again with `mapping=`."""

    def __init__(self, headers: list[str], header_line: int, layout: str,
                 guess: dict[str, int]):
        super().__init__("未能自动识别流水中的日期或金额列，请指定各列对应的内容（同样格式的流水以后"
                         "会自动按此读取）。", line=header_line)
        self.headers = headers
        self.header_line = header_line
        self.layout = layout
        self.guess = guess


@dataclass
class StatementRow:
    line: int
    booked_on: date
    booked_at: datetime | None
    serial: str
    direction: str
    amount: Decimal
    balance: Decimal | None
    payer_name: str
    payer_account: str
    payer_bank: str
    summary: str
    remark: str
    raw: dict[str, str] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Return what identifies this transaction in any export of the same statement."""
        parts = (self.booked_on.isoformat(), self.direction, f"{self.amount:.2f}",
                 _collapse(self.payer_name), "".join(_collapse(self.payer_account).split()),
                 _collapse(self.remark))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class ParsedStatement:
    file_format: str
    encoding: str | None
    account: str
    account_name: str
    period: str
    header_line: int
    headers: list[str]
    layout: str
    mapping: dict[str, int]
    unrecognised: list[str]
    rows: list[StatementRow]
    skipped: list[tuple[int, str]]


# --- the file ------------------------------------------------------------------------------

def read_statement(data: bytes, filename: str = "", *, mapping: dict[str, int] | None = None,
                   max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> ParsedStatement:
    """Read a bank statement file into its account lines and transactions."""
    if len(data) > max_bytes:
        raise StatementError(f"文件大小 {len(data) / 1048576:.1f} MB，超过上限 "
                             f"{max_bytes / 1048576:g} MB，请按月份分批导出。")
    if not data.strip():
        raise StatementError("文件是空的，请重新从网银导出流水。")
    file_format, encoding, sheets = _open(data, filename)
    chosen = None
    first_filled = None
    for rows in sheets:
        it = iter(rows())
        head = list(islice(it, HEADER_SEARCH_ROWS))
        found = _find_header(head)
        if found is None:
            continue
        index, recognised = found
        if first_filled is None:
            first_filled = (head, it, index)
        if recognised:
            chosen = (head, it, index)
            break
    if chosen is None:
        if first_filled is None:
            raise StatementError("文件中找不到流水表格（工作表为空或只有一列），请确认导出的是"
                                 "账户交易明细。")
        chosen = first_filled
    head, rest, index = chosen
    header_values = head[index]
    headers = _display_headers(header_values)
    layout = _layout(header_values)
    if mapping is None:
        used = _guess_mapping(header_values)
        if "booked_on" not in used or not any(f in used for f in AMOUNT_FIELDS):
            raise MappingNeeded(headers, index + 1, layout, used)
    else:
        used = _checked_mapping(mapping, len(headers))
    above = head[:index]
    account, account_name, period = _account_lines(above)
    rows, skipped = _read_rows(chain(head[index + 1:], rest), index + 2,
                               _RowReader(headers, used, account), max_rows)
    if not rows:
        raise StatementError("表头下面没有交易记录，请确认导出的查询区间内有收支。",
                             line=index + 1)
    if not account and "own_account" in used:
        account = rows[0].raw.get(headers[used["own_account"]], "")
    in_use = set(used.values())
    return ParsedStatement(
        file_format=file_format, encoding=encoding, account=account,
        account_name=account_name, period=period, header_line=index + 1, headers=headers,
        layout=layout, mapping=used,
        unrecognised=[h for i, h in enumerate(headers)
                      if i not in in_use and _cell_text(header_values[i])],
        rows=rows, skipped=skipped)


def statement_format(data: bytes, filename: str = "") -> str:
    """"xlsx", "xls" or "csv", told by the content; a file of another kind is refused with a
    message saying what it is (an upload checks this before the worker reads the file)."""
    return _kind(data, filename)[0]


def _kind(data: bytes, filename: str) -> tuple[str, str | None, str | None]:
    if data[:4] == b"PK\x03\x04":
        return "xlsx", None, None
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls", None, None
    kind = _binary_kind(data)
    if kind:
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        mismatch = f"（扩展名 .{ext} 与内容不符）" if ext else ""
        raise StatementError(f"上传的文件是{kind}，不是银行流水{mismatch}。请从网银导出 Excel"
                             "（.xls/.xlsx）或 CSV 格式的交易明细后上传。")
    text, encoding = _decode(data)
    if text.lstrip()[:1] == "<":
        raise StatementError("上传的文件是网页或 XML 格式（有的网银以 .xls 为名导出网页表格）。"
                             "请用 Excel 打开后另存为 .xlsx 再上传，或在网银选择 CSV 格式导出。")
    return "csv", encoding, text


def _open(data: bytes, filename: str) -> tuple[str, str | None, list[Callable[[], Iterable]]]:
    """The format, the text encoding and one row source per sheet, told by the content."""
    file_format, encoding, text = _kind(data, filename)
    if file_format == "xlsx":
        return "xlsx", None, _xlsx_sheets(data)
    if file_format == "xls":
        return "xls", None, _xls_sheets(data)
    return "csv", encoding, [lambda: _csv_rows(text)]


def _binary_kind(data: bytes) -> str:
    """A name for a binary file that is not a spreadsheet, or "" when it may be text."""
    magic = {b"\x89PNG": "PNG 图片", b"\xff\xd8\xff": "JPEG 图片", b"GIF8": "GIF 图片",
             b"%PDF": "PDF 文件", b"BM": "BMP 图片", b"Rar!": "RAR 压缩包",
             b"7z\xbc\xaf": "7z 压缩包", b"\x1f\x8b": "gzip 压缩包"}
    for prefix, kind in magic.items():
        if data.startswith(prefix):
            return kind
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return ""
    return "无法识别的二进制文件" if b"\x00" in data[:4096] else ""


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8", "gbk", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:4096]
        if sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n") \
                > len(sample) // 100:
            break
        return text, encoding
    raise StatementError("文件既不是 Excel 工作簿，也不是可读的 CSV/文本文件（编码无法识别）。"
                         "请从网银导出 Excel 或 CSV 格式的交易明细后上传。")


def _csv_rows(text: str) -> Iterator[list[str]]:
    sample = [line for line in text[:65536].splitlines()[:HEADER_SEARCH_ROWS] if line.strip()]
    # Tab wins a tie: amounts such as 29,800.00 put commas in every line of a tab file.
    delimiter = max(("\t", ",", "|"), key=lambda d: sum(d in line for line in sample))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def _xlsx_sheets(data: bytes) -> list[Callable[[], Iterable]]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise StatementError("Excel 文件（.xlsx）已损坏，无法打开，请重新从网银导出。") from None
    if "xl/workbook.xml" not in names:
        raise StatementError("上传的是压缩包或 Word 等文件，不是 Excel 工作簿。请从网银导出 Excel"
                             "（.xls/.xlsx）或 CSV 格式的交易明细后上传。")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a broken workbook
        raise StatementError("Excel 文件（.xlsx）已损坏，无法打开，请重新从网银导出。") from None

    def source(sheet):
        def rows():
            try:
                return _xlsx_rows(book, sheet)
            except AttributeError:  # openpyxl's insides changed: its own, slower reading
                # Some generators write a wrong dimension; read what the sheet really holds.
                sheet.reset_dimensions()
                return sheet.iter_rows(values_only=True)
        return rows
    return [source(sheet) for sheet in book.worksheets if sheet.sheet_state == "visible"
            and hasattr(sheet, "iter_rows")]


_SML = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _INLINE, _TEXT, _RUN = (
    _SML + tag for tag in ("row", "c", "v", "is", "t", "r"))


def _xlsx_rows(book, sheet) -> Iterator[list]:
    """The sheet's rows as lists of values, read straight from its XML.

    openpyxl has found the sheet, its shared strings and which styles are dates; its own cell
    reader costs twice as long (inline strings, as written by openpyxl and by the streaming
    writers banks use, most of all) and a 5,000-row statement should read well within a
    second. Cell values are as openpyxl's read_only/data_only gives them: formulas by their
    cached value, dates as datetime."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.datetime import from_excel, from_ISO8601

    archive, path = book._archive, sheet._worksheet_path
    shared, date_styles, epoch = sheet._shared_strings, book._date_formats, book.epoch
    columns: dict[str, int] = {}

    def column(ref: str) -> int:
        letters = ref.rstrip("0123456789")
        index = columns.get(letters)
        if index is None:
            index = 0
            for ch in letters:
                index = index * 26 + ord(ch) - 64
            columns[letters] = index = index - 1
        return index

    def rows():
        next_row = 1
        with archive.open(path) as source:
            for _, element in iterparse(source):
                if element.tag != _ROW:
                    continue
                number = int(element.get("r") or next_row)
                while next_row < number:
                    next_row += 1
                    yield []
                values: list = []
                for cell in element.iter(_CELL):
                    ref = cell.get("r")
                    if ref:
                        index = column(ref)
                        if index > len(values):
                            values.extend([None] * (index - len(values)))
                    kind = cell.get("t", "n")
                    if kind == "inlineStr":
                        inline = cell.find(_INLINE)
                        value = None if inline is None else "".join(
                            (part.text or "") if part.tag == _TEXT else (part.findtext(_TEXT) or "")
                            for part in inline if part.tag in (_TEXT, _RUN))
                    else:
                        value = cell.findtext(_VALUE)
                        if value is not None:
                            if kind == "n":
                                value = float(value) if "." in value or "E" in value \
                                    or "e" in value else int(value)
                                if int(cell.get("s", 0)) in date_styles:
                                    value = from_excel(value, epoch)
                            elif kind == "s":
                                value = shared[int(value)]
                            elif kind == "b":
                                value = value == "1"
                            elif kind == "e":
                                value = None
                            elif kind == "d":
                                value = from_ISO8601(value)
                    values.append(value)
                element.clear()
                next_row = number + 1
                yield values
    return rows()


def _xls_sheets(data: bytes) -> list[Callable[[], Iterable]]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data)
    except Exception:  # xlrd raises XLRDError, struct and assertion errors for broken files
        raise StatementError("无法读取该 Excel 文件（.xls）：文件已损坏、加密，或不是 Excel 工作簿。"
                             "请重新从网银导出。") from None

    def source(sheet):
        def rows():
            for r in range(sheet.nrows):
                yield [_xls_value(cell, book.datemode) for cell in sheet.row(r)]
        return rows
    return [source(sheet) for sheet in book.sheets() if sheet.visibility == 0]


def _xls_value(cell, datemode: int):
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        if cell.value < 1:
            return (_EXCEL_EPOCH + timedelta(days=cell.value)).time().replace(microsecond=0)
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError):
            return cell.value
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    return cell.value


# --- the table -----------------------------------------------------------------------------

def _norm_header(value) -> str:
    return "".join(unicodedata.normalize("NFKC", _cell_text(value)).split()).lower()


def _header_fields(value) -> list[tuple[str, int]]:
    name = _norm_header(value)
    if not name:
        return []
    found = _HEADER_INDEX.get(name)
    if found is None:
        found = _HEADER_INDEX.get(_BRACKETED.sub("", name), [])
    return found


def _find_header(head: list) -> tuple[int, bool] | None:
    """The header row's index and whether it names a date and an amount; None when empty."""
    best, best_key = None, None
    for i, values in enumerate(head):
        filled = sum(1 for v in values if _cell_text(v))
        if filled < 2:
            continue
        fields = {f for v in values for f, _ in _header_fields(v)}
        usable = "booked_on" in fields and any(f in fields for f in AMOUNT_FIELDS)
        key = (usable, len(fields), filled)
        if best_key is None or key > best_key:
            best, best_key = i, key
    if best is None:
        return None
    return best, best_key[0]


def _guess_mapping(header_values) -> dict[str, int]:
    chosen: dict[str, tuple[int, int]] = {}
    for i, value in enumerate(header_values):
        for name, rank in _header_fields(value):
            if name not in chosen or rank < chosen[name][0]:
                chosen[name] = (rank, i)
    return {name: i for name, (_, i) in chosen.items()}


def _checked_mapping(mapping: dict[str, int], width: int) -> dict[str, int]:
    used = {}
    for name, index in mapping.items():
        if name not in CANONICAL_FIELDS:
            raise StatementError(f"列对应关系中有未知的字段“{name}”。")
        if not isinstance(index, int) or not 0 <= index < width:
            raise StatementError(f"列对应关系中“{CANONICAL_FIELDS[name]}”指向的列不存在，"
                                 "请重新指定。")
        used[name] = index
    if "booked_on" not in used or not any(f in used for f in AMOUNT_FIELDS):
        raise StatementError("请至少指定交易日期列和金额列（收入/支出或交易金额）。")
    return used


def _display_headers(values) -> list[str]:
    headers, seen = [], set()
    width = len(values)
    while width and not _cell_text(values[width - 1]):
        width -= 1
    for i in range(width):
        name = _cell_text(values[i]) or f"第{i + 1}列"
        base, n = name, 2
        while name in seen:
            name, n = f"{base}({n})", n + 1
        seen.add(name)
        headers.append(name)
    return headers


def _layout(values) -> str:
    names = [_norm_header(v) for v in values]
    while names and not names[-1]:
        names.pop()
    return hashlib.sha1("\x1f".join(names).encode()).hexdigest()[:16]


def _account_lines(rows: list) -> tuple[str, str, str]:
    """The account number, account name and period from the lines above the table."""
    found: dict[str, str] = {}
    for values in rows:
        texts = [unicodedata.normalize("NFKC", _cell_text(v)) for v in values]
        texts = [t for t in texts if t]
        for i, text in enumerate(texts):
            label = _BRACKETED.sub("", text.rstrip(":")).strip()
            if label in _LABEL_KIND and i + 1 < len(texts) and not _LABEL_RE.match(texts[i + 1]):
                found.setdefault(_LABEL_KIND[label], texts[i + 1].strip())
                continue
            matches = list(_LABEL_RE.finditer(text))
            for m, after in zip(matches, matches[1:] + [None]):
                value = text[m.end():after.start() if after else None].strip()
                if value:
                    found.setdefault(_LABEL_KIND[m.group(1)], value)
    period = found.get("period", "")
    if "start" in found:
        period = f"{found['start']} 至 {found['end']}" if "end" in found else found["start"]
    return ("".join(found.get("account", "").split()), found.get("account_name", ""),
            period)


def _read_rows(rows: Iterable, first_line: int, reader: _RowReader,
               max_rows: int) -> tuple[list[StatementRow], list[tuple[int, str]]]:
    parsed: list[StatementRow] = []
    skipped: list[tuple[int, str]] = []
    counted = 0
    after_totals = False
    for line, values in enumerate(rows, start=first_line):
        texts = [_cell_text(v) for v in values]
        first = next((t for t in texts if t), "")
        if not first:
            skipped.append((line, "空行"))
            continue
        # A totals line names itself in its first cell and has no date (a payer named 合计…
        # on a dated line is a payer), or says so in the summary.
        first = "".join(first.split())
        if (first.startswith(_TOTALS) and not _is_date(reader.value(values, "booked_on"))) \
                or "".join(reader.text(texts, "summary").split()) in _TOTALS:
            skipped.append((line, "合计行"))
            after_totals = True
            continue
        if reader.text(texts, "booked_on") == reader.date_header:
            skipped.append((line, "重复的表头"))
            continue
        counted += 1
        if counted > max_rows:
            # Only counted from here on, for the message; a file far over the limit (a
            # compressed workbook can hold millions of rows) is not read to its end.
            if counted > 10 * max_rows:
                raise StatementError(f"流水超过 {10 * max_rows} 行，超过单次导入上限 {max_rows} "
                                     "行，请按月份分批导出。")
            continue
        row = reader.read(line, values, texts, after_totals)
        if isinstance(row, str):
            skipped.append((line, row))
        else:
            parsed.append(row)
    if counted > max_rows:
        raise StatementError(f"流水共 {counted} 行，超过单次导入上限 {max_rows} 行，请按月份分批导出。")
    return parsed, skipped


def _is_date(value) -> bool:
    try:
        return _moment(value, prefer_time=False)[0] is not None
    except ValueError:
        return False


class _RowReader:
    """Reads the transaction on one line of the table, by the column mapping."""

    def __init__(self, headers: list[str], used: dict[str, int], account: str):
        self.headers = headers
        self.used = used
        self.account = account
        self.date_header = headers[used["booked_on"]]
        self.separate_time = used.get("booked_at", used["booked_on"]) != used["booked_on"]
        self.two_columns = "amount_in" in used or "amount_out" in used
        self.amount_fields = [name for name in AMOUNT_FIELDS if name in used]
        # BOC gives payer and payee (付款人/收款人) instead of one counterparty.
        self.sides = not ("payer_name" in used or "payer_account" in used) and any(
            name in used for name in ("from_name", "from_account", "to_name", "to_account"))

    def value(self, values, name: str):
        index = self.used.get(name)
        return values[index] if index is not None and index < len(values) else None

    def text(self, texts: list[str], name: str) -> str:
        index = self.used.get(name)
        return texts[index] if index is not None and index < len(texts) else ""

    def read(self, line: int, values, texts: list[str], after_totals: bool) -> StatementRow | str:
        """The transaction, or why the line is skipped (a note, no amount)."""
        try:
            day, at_time = _moment(self.value(values, "booked_on"), prefer_time=False)
        except ValueError:
            day = at_time = None
        if day is None:
            if after_totals or not any(self.text(texts, name) for name in self.amount_fields):
                return "说明行（没有交易日期）"
            text = self.text(texts, "booked_on")
            if not text:
                raise StatementError(f"第 {line} 行有金额但没有交易日期，请检查流水文件。", line=line)
            raise StatementError(f"第 {line} 行的交易日期“{text}”无法识别。", line=line)
        at_day = day
        if self.separate_time:
            try:
                other_day, other_time = _moment(self.value(values, "booked_at"), prefer_time=True)
            except ValueError:
                raise StatementError(f"第 {line} 行的交易时间“{self.text(texts, 'booked_at')}”"
                                     "无法识别。", line=line) from None
            if other_time is not None:
                at_day, at_time = other_day or day, other_time
        at = datetime.combine(at_day, at_time) if at_time is not None else None
        direction, amount = self.direction_amount(line, values, texts)
        if amount is None:
            return "没有发生额（如期初、期末余额行）"
        balance = None
        if "balance" in self.used:
            balance = _money_at(line, self.value(values, "balance"), "余额")
        raw = dict(zip(self.headers, texts))
        for i in range(len(self.headers), len(texts)):
            if texts[i]:
                raw[f"第{i + 1}列"] = texts[i]
        side = "payer"
        if self.sides:
            side = "from" if direction == "in" else "to"
            # A reversal can list this account on the side the direction points to.
            own = self.text(texts, "own_account") or self.account
            if own and self.text(texts, f"{side}_account") == own:
                side = "to" if side == "from" else "from"
        return StatementRow(
            line=line, booked_on=day, booked_at=at, serial=self.text(texts, "serial"),
            direction=direction, amount=amount, balance=balance,
            payer_name=self.text(texts, f"{side}_name"),
            payer_account=self.text(texts, f"{side}_account"),
            payer_bank=self.text(texts, f"{side}_bank"),
            summary=self.text(texts, "summary"), remark=self.text(texts, "remark"), raw=raw)

    def direction_amount(self, line: int, values, texts) -> tuple[str, Decimal | None]:
        if self.two_columns:
            money_in = _money_at(line, self.value(values, "amount_in"), "贷方金额") or Decimal(0)
            money_out = _money_at(line, self.value(values, "amount_out"), "借方金额") or Decimal(0)
            if money_in > 0 and money_out > 0:
                raise StatementError(f"第 {line} 行同时有收入和支出金额，无法判断方向。", line=line)
            # A negative debit is a reversal (冲正): money that comes back in, and the other
            # way round.
            net = money_in - money_out
            if not net:
                return "", None
            return ("in", net) if net > 0 else ("out", -net)
        amount = _money_at(line, self.value(values, "amount"), "交易金额")
        if not amount:
            return "", None
        if "direction" not in self.used:
            return ("in", amount) if amount > 0 else ("out", -amount)
        flag = self.text(texts, "direction")
        direction = _DIRECTIONS.get(unicodedata.normalize("NFKC", flag).lower())
        if direction is None:
            raise StatementError(f"第 {line} 行的借贷标志“{flag}”无法识别（应为借/贷或收/支）。",
                                 line=line)
        return direction, abs(amount)


# --- cells ---------------------------------------------------------------------------------

def _cell_text(value) -> str:
    """A cell as the text a person reads in it (numbers without a float's tail)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        # Exports write ="000123" or a leading apostrophe so that Excel keeps the zeros.
        if text.startswith('="') and text.endswith('"'):
            return text[2:-1].strip()
        if text.startswith("'") and text[1:].isdigit():
            return text[1:]
        return text
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        # xls stores long serials and account numbers as floats (1.23e+15): whole numbers
        # below 2**53 come back exactly.
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()


def _money(value) -> Decimal | None:
    """An amount as Decimal with two places; None when empty; ValueError when unreadable."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        return Decimal(f"{value:.2f}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value).quantize(CENT, ROUND_HALF_UP)
    text = unicodedata.normalize("NFKC", _cell_text(value)).translate(_MONEY_DROP)
    text = text.removeprefix("RMB").removeprefix("CNY").strip()
    if text in _EMPTY_MONEY:
        return None
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    if not _MONEY_RE.fullmatch(text):
        raise ValueError(value)
    try:
        amount = Decimal(text).quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(value) from None
    return -amount if negative else amount


def _money_at(line: int, value, what: str) -> Decimal | None:
    try:
        return _money(value)
    except ValueError:
        raise StatementError(f"第 {line} 行的{what}“{_cell_text(value)}”无法识别为金额。",
                             line=line) from None


def _moment(value, *, prefer_time: bool) -> tuple[date | None, time | None]:
    """The date and time in a cell, either may be None; ValueError when unreadable.

    Numbers are yyyymmdd or an Excel serial date in a date column, hhmmss or a fraction of a
    day in a time column."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        moment = value.replace(microsecond=0)
        return moment.date(), (moment.time() if moment.time() != time(0) else None)
    if isinstance(value, date):
        return value, None
    if isinstance(value, time):
        return None, value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_moment(value, prefer_time)
    text = unicodedata.normalize("NFKC", _cell_text(value))
    if not text:
        return None, None
    m = _MOMENT_RE.fullmatch(text)
    if m is None or not any(m.groups()):
        raise ValueError(value)
    year, month, day, month8, day8, hour, minute, second = m.groups()
    found_day = None
    if year:
        found_day = date(int(year), int(month or month8), int(day or day8))
    found_time = None
    if hour:
        found_time = time(int(hour), int(minute), int(second or 0))
    return found_day, found_time


def _number_moment(value: float, prefer_time: bool) -> tuple[date | None, time | None]:
    if prefer_time and 0 <= value < 1:
        return None, (_EXCEL_EPOCH + timedelta(days=value)).time().replace(microsecond=0)
    if prefer_time and value == int(value) and 0 <= value <= 235959:
        n = int(value)
        return None, time(n // 10000, n // 100 % 100, n % 100)
    if value == int(value):
        n = int(value)
        if 19000101 <= n <= 29991231:
            return date(n // 10000, n // 100 % 100, n % 100), None
        if 19000101000000 <= n <= 29991231235959:
            d, t = divmod(n, 1000000)
            return (date(d // 10000, d // 100 % 100, d % 100),
                    time(t // 10000, t // 100 % 100, t % 100))
    if 1 <= value < 2958466:
        moment = _EXCEL_EPOCH + timedelta(days=value)
        moment = moment.replace(microsecond=0) + timedelta(seconds=round(moment.microsecond / 1e6))
        return moment.date(), (moment.time() if moment.time() != time(0) else None)
    raise ValueError(value)


def _collapse(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())
