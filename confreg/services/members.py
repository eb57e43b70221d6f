"""The member registry: matching a unit's claim, importing the registry from Excel or CSV,
and staff verifying the member-price claims that did not match."""
import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import joinedload, selectinload

from ..checks import (CREDIT_CODE_ALPHABET, credit_code_is_valid, normalize_credit_code,
                      normalize_unit_name)
from ..database import begin_write
from ..extensions import db
from ..models import Event, MemberUnit, Registration
from ..models.members import MEMBER_TYPES
from ..models.registrations import TIER_CLAIMS
from ..notifications import queue_mail
from ..timeutil import format_date_cn
from . import ServiceError
from .audit import diff, record_audit
from .money import received_amount


def find_member(unit_name: str, credit_code: str | None, today: date) -> MemberUnit | None:
    """Return the registry entry valid today whose normalised name or credit code matches."""
    conditions = [MemberUnit.name_key == normalize_unit_name(unit_name)]
    code = normalize_credit_code(credit_code or "")
    if code:
        conditions.append(MemberUnit.credit_code == code)
    candidates = db.session.scalars(select(MemberUnit).where(or_(*conditions))).all()
    return next((m for m in candidates if m.is_valid_on(today)), None)


# --- importing the registry from .xlsx or CSV -------------------------------------------

MAX_IMPORT_ROWS = 10_000
# An .xlsx is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
HEADER_SEARCH_ROWS = 10

# field -> the header texts accepted for it (the first is the one the page asks for).
IMPORT_COLUMNS = {
    "name": ("单位名称", "会员单位名称", "名称"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码"),
    "member_type": ("会员类型", "会员类别", "类型"),
    "valid_until": ("有效期至", "有效期", "有效期限", "有效期截止"),
}
IMPORT_ACTIONS = {"add": "新增", "update": "更新", "unchanged": "无变化", "skip": "跳过"}
NOT_A_TABLE = ("无法读取该文件：它既不是 Excel 工作簿（.xlsx），也不是 CSV 文本文件。"
               "请在 Excel 中“另存为” Excel 工作簿（.xlsx）或 CSV 后重新上传。")
_LONG_TERM = {"长期", "长期有效", "永久", "永久有效"}
_DATE_TEXT = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?"
                        r"(?:\s*[T ]?\s*[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?")


@dataclass
class ImportRow:
    """One data row of an uploaded registry file, checked and matched against the registry."""

    line: int
    name: str
    credit_code: str
    member_type: str | None
    member_type_text: str
    valid_until: date | None
    valid_until_text: str
    date_ok: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    action: str = "skip"
    member: MemberUnit | None = None
    changes: dict = field(default_factory=dict)

    @property
    def action_label(self) -> str:
        return IMPORT_ACTIONS[self.action]

    @property
    def member_type_label(self) -> str:
        return MEMBER_TYPES.get(self.member_type or "", self.member_type_text)


@dataclass
class ImportPlan:
    """What importing a file would do, row by row; nothing is saved by building it."""

    rows: list[ImportRow]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def skipped(self) -> list[ImportRow]:
        return [row for row in self.rows if row.action == "skip"]

    @property
    def has_changes(self) -> bool:
        return any(row.action in ("add", "update") for row in self.rows)

    def summary(self) -> str:
        return (f"新增 {self.count('add')} 家，更新 {self.count('update')} 家，"
                f"无变化 {self.count('unchanged')} 家，跳过 {self.count('skip')} 行")


def read_table(data: bytes) -> list[tuple[int, list]]:
    """Return the rows of an .xlsx or CSV file with their line numbers; refuse anything else.

    The content decides, not the file name: a renamed program or Word file is refused.
    """
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ServiceError("这是旧版 Excel（.xls）文件：请在 Excel 中“另存为” Excel 工作簿（.xlsx）"
                           "或 CSV 后再上传。", "file")
    return _read_csv(_decode_text(data))


def _read_xlsx(data: bytes) -> list[tuple[int, list]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            content_types = (archive.read("[Content_Types].xml")
                             if "[Content_Types].xml" in names else b"")
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, EOFError):
        raise ServiceError(NOT_A_TABLE, "file") from None
    if b"spreadsheetml.sheet.main+xml" not in content_types:
        raise ServiceError(NOT_A_TABLE, "file")  # e.g. a Word document renamed to .xlsx
    if unpacked > MAX_UNPACKED_BYTES:
        raise ServiceError("该 Excel 文件解压后过大，请只保留名录所在的工作表后重新上传。", "file")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged workbook
        raise ServiceError("Excel 文件已损坏或无法读取，请在 Excel 中重新保存后再上传。",
                           "file") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, list(cells)))
            if number > MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
                raise ServiceError(f"文件超过 {MAX_IMPORT_ROWS} 行，请分批导入。", "file")
        return rows
    finally:
        workbook.close()


def _decode_text(data: bytes) -> str:
    """Decode a CSV: UTF-8 with or without BOM, UTF-16 with BOM, else GB18030 (Excel in China)."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = [(data[3:], "utf-8")]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [(data, "utf-16")]
    else:
        candidates = [(data, "utf-8"), (data, "gb18030")]
    for raw, encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A text file has no control characters but tabs and line ends (a program has many).
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
            break
        return text
    raise ServiceError(NOT_A_TABLE, "file")


def _read_csv(text: str) -> list[tuple[int, list]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    rows = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""),
                                                  delimiter=delimiter), start=1):
            rows.append((number, cells))
            if number > MAX_IMPORT_ROWS + HEADER_SEARCH_ROWS:
                raise ServiceError(f"文件超过 {MAX_IMPORT_ROWS} 行，请分批导入。", "file")
    except csv.Error:
        raise ServiceError(NOT_A_TABLE, "file") from None
    return rows


def _header(value) -> str:
    text = unicodedata.normalize("NFKC", str(value or ""))
    return re.sub(r"[\s*＊:：]|[(（].*?[)）]", "", text)  # "单位名称*", "有效期至（日期）"


def _columns(rows: list[tuple[int, list]]) -> tuple[int, dict[str, int]]:
    """Find the header row (a title row may come first) and the position of each column."""
    for index, (_number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        headers = [_header(cell) for cell in cells]
        columns = {}
        for name, accepted in IMPORT_COLUMNS.items():
            found = next((headers.index(text) for text in accepted if text in headers), None)
            if found is not None:
                columns[name] = found
        if "name" not in columns:
            continue
        missing = [IMPORT_COLUMNS[name][0] for name in IMPORT_COLUMNS if name not in columns]
        if missing:
            raise ServiceError(f"表头缺少以下列：{'、'.join(missing)}。表头应为："
                               f"{'、'.join(a[0] for a in IMPORT_COLUMNS.values())}。", "file")
        return index, columns
    raise ServiceError(f"找不到表头：第一个工作表的前 {HEADER_SEARCH_ROWS} 行中没有“单位名称”列。"
                       f"表头应为：{'、'.join(a[0] for a in IMPORT_COLUMNS.values())}。", "file")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _member_type(text: str) -> str | None:
    """The member type code for a code or a Chinese label (the registry's or the form's)."""
    cleaned = "".join(unicodedata.normalize("NFKC", text).split())
    if cleaned.lower() in MEMBER_TYPES:
        return cleaned.lower()
    for code, label in MEMBER_TYPES.items():
        if cleaned in (label, TIER_CLAIMS.get(code)):
            return code
    return None


def parse_valid_until(value) -> tuple[date | None, bool]:
    """Read a 有效期 cell: a date cell, 2027-12-31, 2027/12/31, 2027年12月31日, or 长期.

    Returns (day, ok); a blank or 长期 cell gives (None, True): no expiry.
    """
    if isinstance(value, datetime):
        return value.date(), True
    if isinstance(value, date):
        return value, True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # A date cell Excel left without a date format: its serial number of days.
        if 20_000 <= value <= 100_000:
            return (datetime(1899, 12, 30) + timedelta(days=int(value))).date(), True
        return None, False
    text = "".join(unicodedata.normalize("NFKC", str(value or "")).split())
    if not text or text in _LONG_TERM:
        return None, True
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        return None, False
    try:
        return date(*(int(part) for part in match.groups())), True
    except ValueError:
        return None, False


def _check_row(number: int, cells: list, columns: dict[str, int], today: date) -> ImportRow | None:
    def cell(name):
        position = columns[name]
        return cells[position] if position < len(cells) else None

    raw_date = cell("valid_until")
    texts = {name: _cell_text(cell(name)) for name in columns}
    if not any(texts.values()):
        return None  # a blank line
    name = " ".join(texts["name"].split())
    code = normalize_credit_code(texts["credit_code"])
    row = ImportRow(line=number, name=name, credit_code=code,
                    member_type=_member_type(texts["member_type"]),
                    member_type_text=texts["member_type"], valid_until=None,
                    valid_until_text=texts["valid_until"])
    if not name:
        row.errors.append("缺少单位名称")
    elif len(name) > 200:
        row.errors.append("单位名称超过 200 个字")
    if code:
        if len(code) != 18 or not set(code) <= set(CREDIT_CODE_ALPHABET):
            row.errors.append("统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）")
        elif not credit_code_is_valid(code):
            row.warnings.append("统一社会信用代码校验位不符（部分早期代码无法通过校验），请核对；"
                                "仍会导入")
    if not texts["member_type"]:
        row.errors.append("缺少会员类型")
    elif row.member_type is None:
        row.errors.append(f"会员类型“{texts['member_type']}”无法识别，应为："
                          + "、".join(MEMBER_TYPES.values()))
    row.valid_until, row.date_ok = parse_valid_until(raw_date)
    if not row.date_ok:
        row.errors.append(f"有效期“{texts['valid_until']}”不是日期，请写成 2027-12-31、"
                          "2027/12/31 或 2027年12月31日")
    elif not texts["valid_until"]:
        row.warnings.append("未填有效期，将视为长期有效")
    elif row.valid_until is not None and row.valid_until < today:
        row.warnings.append(f"有效期已过（{format_date_cn(row.valid_until)}），"
                            "导入后不会按会员价匹配")
    return row


def _registry_entries(keys: set[str], codes: set[str]) -> list[MemberUnit]:
    entries: dict[int, MemberUnit] = {}
    for column, values in ((MemberUnit.name_key, sorted(keys)),
                           (MemberUnit.credit_code, sorted(codes))):
        for start in range(0, len(values), 500):  # keep each IN list short
            for member in db.session.scalars(
                    select(MemberUnit).where(column.in_(values[start:start + 500]))):
                entries[member.id] = member
    return list(entries.values())


def _registry_values(row: ImportRow, member: MemberUnit | None) -> dict:
    return {
        "name": row.name,
        "name_key": normalize_unit_name(row.name),
        # A blank code in the file keeps the one on record.
        "credit_code": row.credit_code or (member.credit_code if member else None),
        "member_type": row.member_type,
        "valid_until": row.valid_until,
    }


def plan_import(data: bytes, *, today: date) -> ImportPlan:
    """Read an uploaded registry file and say, row by row, what importing it would do."""
    rows = read_table(data)
    header_index, columns = _columns(rows)
    checked = [row for number, cells in rows[header_index + 1:]
               if (row := _check_row(number, cells, columns, today)) is not None]
    if not checked:
        raise ServiceError("文件中只有表头，没有数据行。", "file")

    seen_names: dict[str, int] = {}
    seen_codes: dict[str, int] = {}
    for row in checked:
        if not row.name:
            continue
        key = normalize_unit_name(row.name)
        if key in seen_names:
            row.errors.append(f"与第 {seen_names[key]} 行重复（单位名称相同）")
        else:
            seen_names[key] = row.line
        if row.credit_code:
            if row.credit_code in seen_codes:
                row.errors.append(f"与第 {seen_codes[row.credit_code]} 行重复（信用代码相同）")
            else:
                seen_codes[row.credit_code] = row.line

    entries = _registry_entries(set(seen_names), set(seen_codes))
    by_key = {m.name_key: m for m in entries}
    by_code = {m.credit_code: m for m in entries if m.credit_code}
    matched_by: dict[int, int] = {}
    for row in checked:
        if row.errors:
            continue
        named = by_key.get(normalize_unit_name(row.name))
        coded = by_code.get(row.credit_code) if row.credit_code else None
        if named is not None and coded is not None and named is not coded:
            row.errors.append(f"单位名称与名录中的“{named.name}”相同，但信用代码属于名录中的"
                              f"“{coded.name}”，请核对")
            continue
        member = named or coded
        if member is not None and member.id in matched_by:
            row.errors.append(f"与第 {matched_by[member.id]} 行对应名录中的同一单位（{member.name}）")
            continue
        if member is None:
            row.action = "add"
            continue
        matched_by[member.id] = row.line
        row.member = member
        before = {name: getattr(member, name) for name in ("name", "credit_code", "member_type",
                                                           "valid_until")}
        after = _registry_values(row, member)
        row.changes = diff(before, {name: after[name] for name in before})
        row.action = "update" if row.changes else "unchanged"
    return ImportPlan(checked)


def lock_registry() -> None:
    """Begin writing and keep other writers off the registry until commit (names are unique)."""
    begin_write(db.session)
    if db.session.connection().dialect.name == "postgresql":
        # Blocks other imports and registry edits, not the readers that match claims.
        db.session.execute(text("LOCK TABLE member_unit IN SHARE ROW EXCLUSIVE MODE"))


def import_members(data: bytes, *, filename: str, actor: str, today: date) -> ImportPlan:
    """Add and update registry entries from a file; rows with errors are skipped."""
    lock_registry()
    plan = plan_import(data, today=today)  # again, under the lock: the registry may have changed
    if not any(row.action != "skip" for row in plan.rows):
        raise ServiceError("文件中没有可以导入的行：每一行都有错误。", "file")
    changes: dict = {}
    for row in plan.rows:
        if row.action == "add":
            member = MemberUnit(**_registry_values(row, None))
            db.session.add(member)
            row.member = member
        elif row.action == "update":
            for name, value in _registry_values(row, row.member).items():
                setattr(row.member, name, value)
    db.session.flush()
    for row in plan.rows:
        if row.action == "add":
            changes[f"member_unit:{row.member.id}"] = [None, row.name]
        elif row.action == "update":
            changes[f"member_unit:{row.member.id}"] = row.changes
    if plan.skipped:
        changes["skipped_lines"] = [None, [row.line for row in plan.skipped]]
    record_audit(actor=actor, action="member_registry.imported", object_type="member_unit",
                 object_id=None, summary=f"导入会员名录（{filename}）：{plan.summary()}",
                 changes=changes)
    return plan


def registry_page(query: str, page: int, per_page: int) -> tuple[list[MemberUnit], int]:
    """One page of the registry, searched by name or credit code; and how many match."""
    statement = select(MemberUnit)
    query = query.strip()
    if query:
        conditions = [MemberUnit.name_key.contains(normalize_unit_name(query), autoescape=True)]
        code = normalize_credit_code(query)
        if code:
            conditions.append(MemberUnit.credit_code.startswith(code, autoescape=True))
        statement = statement.where(or_(*conditions))
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    entries = db.session.scalars(statement.order_by(MemberUnit.name, MemberUnit.id)
                                 .offset((page - 1) * per_page).limit(per_page)).all()
    return list(entries), total


# --- verifying member-price claims that did not match -----------------------------------

def pending_claims(page: int, per_page: int) -> tuple[list[Registration], int]:
    """Active registrations whose member claim waits for staff, oldest first; and the count."""
    where = (Registration.tier_status == "member_pending", Registration.status == "active")
    total = db.session.scalar(select(func.count(Registration.id)).where(*where))
    claims = db.session.scalars(
        select(Registration).where(*where)
        .options(joinedload(Registration.event).selectinload(Event.fee_tiers),
                 selectinload(Registration.attendees))
        .order_by(Registration.created_at, Registration.id)
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(claims), total


def registry_hints(claims: list[Registration]) -> dict[int, list[MemberUnit]]:
    """Registry entries that resemble each claim but did not match it (e.g. expired)."""
    keys = {normalize_unit_name(r.unit_name) for r in claims}
    codes = {r.credit_code for r in claims if r.credit_code}
    entries = _registry_entries(keys, codes) if claims else []
    return {r.id: [m for m in entries
                   if m.name_key == normalize_unit_name(r.unit_name)
                   or (r.credit_code and m.credit_code == r.credit_code)]
            for r in claims}


def keep_rejection(tier_status_before: str, quote, event: Event):
    """A claim staff rejected stays rejected at the standard price when the unit edits it.

    Used by update_registration on its fresh quote: editing the name, claim or credit code
    must not put a rejected claim back in the queue at the member price; a registry match
    (member_verified) or a switch to the standard claim still applies.
    """
    standard = event.tier(False)
    if (tier_status_before == "member_rejected" and quote.tier_status == "member_pending"
            and standard is not None):
        return replace(quote, tier_status="member_rejected", unit_price=standard.amount,
                       member_unit=None)
    return quote


def _locked_pending_claim(registration: Registration) -> tuple[Registration, Event]:
    from .registrations import lock_registration  # services.registrations imports this module

    registration, event = lock_registration(registration)
    if not registration.is_active:
        raise ServiceError("该报名已取消，无需审核。")
    if registration.tier_status != "member_pending":
        raise ServiceError(f"{registration.unit_name} 的会员价申请已处理"
                           f"（{registration.tier_status_label}），未作改动。")
    return registration, event


def _claim_state(registration: Registration) -> dict:
    return {"tier_status": registration.tier_status,
            "member_unit_id": registration.member_unit_id,
            "total_amount": registration.total_amount}


def _registry_entry_for(registration: Registration, member_type: str,
                        valid_until: date | None) -> tuple[MemberUnit, dict]:
    """The registry entry for an approved unit: the one with its name or code, else a new one."""
    lock_registry()
    key = normalize_unit_name(registration.unit_name)
    code = registration.credit_code
    candidates = _registry_entries({key}, {code} if code else set())
    member = (next((m for m in candidates if m.name_key == key), None)
              or next(iter(candidates), None))
    if member is None:
        member = MemberUnit(name=registration.unit_name, name_key=key, credit_code=code or None,
                            member_type=member_type, valid_until=valid_until)
        db.session.add(member)
        db.session.flush()
        return member, {f"member_unit:{member.id}": [None, registration.unit_name]}
    before = {"member_type": member.member_type, "valid_until": member.valid_until}
    member.member_type, member.valid_until = member_type, valid_until
    changed = diff(before, {"member_type": member_type, "valid_until": valid_until})
    return member, ({f"member_unit:{member.id}": changed} if changed else {})


def approve_member_claim(registration: Registration, *, actor: str, now: datetime,
                         member_type: str | None = None,
                         valid_until: date | None = None) -> Registration:
    """Confirm a pending member claim at the member price; optionally enter it in the registry."""
    registration, event = _locked_pending_claim(registration)
    before = _claim_state(registration)
    registry_changes: dict = {}
    if member_type:
        if member_type not in MEMBER_TYPES:
            raise ServiceError("请选择会员类型。", "member_type")
        member, registry_changes = _registry_entry_for(registration, member_type, valid_until)
        registration.member_unit = member
    registration.tier_status = "member_verified"
    registration.updated_at = now
    db.session.flush()
    note = "，已记入会员名录" if member_type else ""
    record_audit(actor=actor, action="registration.tier_verified", object_type="registration",
                 object_id=registration.id, event_id=event.id, registration_id=registration.id,
                 summary=f"核准会员价（{registration.tier_claim_label}）{note}；应缴金额 "
                         f"{registration.total_amount:,.2f} 元不变",
                 changes={**diff(before, _claim_state(registration)), **registry_changes,
                          "total_amount": [f"{before['total_amount']:.2f}",
                                           f"{registration.total_amount:.2f}"]})
    _queue_decision(registration, event, approved=True, total_before=before["total_amount"])
    _receipt_if_settled(registration, actor)
    return registration


def reject_member_claim(registration: Registration, *, actor: str, now: datetime,
                        reason: str = "") -> Registration:
    """Refuse a pending member claim: every attendee repriced to the standard tier."""
    registration, event = _locked_pending_claim(registration)
    standard = event.tier(False)
    if standard is None:
        raise ServiceError("该活动没有标准价，无法按标准价重新计价。")
    before = _claim_state(registration)
    fees_before = {f"attendee:{a.id}": a.fee for a in registration.attendees}
    for attendee in registration.attendees:
        attendee.fee = standard.amount
    registration.total_amount = standard.amount * len(registration.attendees)
    registration.tier_status = "member_rejected"
    registration.member_unit = None
    registration.updated_at = now
    db.session.flush()
    if registration.total_amount != before["total_amount"]:
        from .invoices import registration_undone  # invoices imports the registrations service

        registration_undone(registration, "会员价未通过核实，按标准价重新计价", actor=actor)
    reason = reason.strip()
    record_audit(actor=actor, action="registration.tier_rejected", object_type="registration",
                 object_id=registration.id, event_id=event.id, registration_id=registration.id,
                 summary=f"会员价未通过核实，按标准价 {standard.amount:,.2f} 元/人重新计价；"
                         f"应缴金额 {before['total_amount']:,.2f} 元 → "
                         f"{registration.total_amount:,.2f} 元"
                         + (f"。说明：{reason}" if reason else ""),
                 changes={**diff(before, _claim_state(registration)),
                          **{key: {"fee": [f"{fee:.2f}", f"{standard.amount:.2f}"]}
                             for key, fee in fees_before.items() if fee != standard.amount}})
    _queue_decision(registration, event, approved=False, total_before=before["total_amount"],
                    reason=reason)
    _receipt_if_settled(registration, actor)
    return registration


def _receipt_if_settled(registration: Registration, actor: str) -> None:
    # No receipt is issued while the price is unverified; now that it is decided, one is
    # due if the money already received covers it.
    from .finance import issue_receipt_if_settled  # finance imports this module's callers

    issue_receipt_if_settled(registration, actor=actor)


def _queue_decision(registration: Registration, event: Event, *, approved: bool,
                    total_before: Decimal, reason: str = "") -> None:
    paid = received_amount(registration)
    queue_mail("tier_decided", registration.contact_email, registration=registration,
               context={"registration": registration, "event": event, "approved": approved,
                        "total_before": total_before, "paid": paid,
                        "outstanding": registration.total_amount - paid,
                        "unit_price": event.tier(approved).amount, "reason": reason})
