"""The bank statement as the source of truth for money received.

Finance uploads the bank's export; the worker reads it (confreg.bank.statement), stores each
transaction once (the bank's serial number keys it; without one, a fingerprint of its
contents and its occurrence in the file), and proposes who paid (confreg.bank.matching).
Nothing becomes a payment until finance confirms: confirming allocates the transaction over
one or more registrations, each allocation records a payment (the receipt follows as for a
payment typed by hand) and the unit is told "款项已收到".  Undone, an allocation is marked
reversed and its payment offset by a reversal payment: nothing is deleted.

Locks: the transaction row first, then each event and registration in id order (the order
every other writer uses), so two finance users confirming one transaction produce one set
of payments, and the database's check (allocated <= amount) backs the rule.
"""
import hashlib
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.datastructures import FileStorage

from ..bank import matching
from ..bank.statement import (MappingNeeded, ParsedStatement, StatementError, read_statement,
                              statement_format)
from ..checks import normalize_unit_name, parse_amount
from ..database import begin_write, utcnow
from ..extensions import db
from ..models import (BankAllocation, BankLayout, BankStatement, BankTransaction, Event, Job,
                      PayerAlias, Payment, Registration)
from ..notifications import queue_mail
from ..timeutil import CHINA, china_today, format_date_cn
from . import ServiceError
from .audit import record_audit
from .finance import add_payment
from .jobs import JobOutcome, Progress, job_kind, job_params, start_job
from .money import CENT, balance_of, money_columns, to_money
from .registrations import lock_registration
from .uploads import read_file, store_file

MAX_STATEMENT_BYTES = 10 * 1024 * 1024
MAX_STATEMENT_ROWS = 20_000
CHUNK = 500  # ids per IN (...) list

def statement_kind(data: bytes, filename: str = "") -> str:
    """The stored kind of an uploaded statement: xls, xlsx or csv (text); or refuse it."""
    try:
        return statement_format(data, filename)
    except StatementError as error:
        raise ServiceError(error.message, field="file") from None


# --- upload ------------------------------------------------------------------------------

def upload_statement(storage: FileStorage | None, *, actor: str,
                     user_id: int | None = None) -> BankStatement:
    """Keep the uploaded export and queue it for the worker to read and match."""
    if storage is None or not storage.filename:
        raise ServiceError("请选择要导入的银行流水文件。", field="file")
    data = storage.stream.read(MAX_STATEMENT_BYTES + 1)
    if not data:
        raise ServiceError("文件是空的。", field="file")
    if len(data) > MAX_STATEMENT_BYTES:
        raise ServiceError(f"文件超过 {MAX_STATEMENT_BYTES // 1024 // 1024} MB：请按月份分批导出。",
                           field="file")
    kind = statement_kind(data, storage.filename)
    begin_write(db.session)
    stored = store_file(data, kind, storage.filename, field="file", label="流水文件")
    statement = BankStatement(file_id=stored.id, filename=stored.original_name, status="queued",
                              file_format=kind, uploaded_by=actor, uploaded_by_id=user_id,
                              created_at=utcnow())
    db.session.add(statement)
    db.session.flush()
    job = start_job("bank_statement", params={"statement_id": statement.id}, actor=actor,
                    user_id=user_id)
    statement.job_id = job.id
    record_audit(actor=actor, action="bank_statement.uploaded", object_type="bank_statement",
                 object_id=statement.id,
                 summary=f"上传银行流水 {statement.filename}（{stored.size:,} 字节）",
                 changes={"file": [None, stored.sha256]})
    return statement


def save_layout(statement: BankStatement, mapping: dict[str, int], *, actor: str) -> Job:
    """Remember finance's column mapping for the statement's layout and read it again."""
    if statement.status != "needs_mapping":
        raise ServiceError("这份流水不需要指定列。")
    headers = statement.headers or []
    for name, index in mapping.items():
        if not 0 <= index < len(headers):
            raise ServiceError("所选的列不存在。", field=name)
    begin_write(db.session)
    layout = db.session.scalar(select(BankLayout).where(BankLayout.layout == statement.layout))
    if layout is None:
        layout = BankLayout(layout=statement.layout, created_by=actor, created_at=utcnow())
        db.session.add(layout)
    layout.headers, layout.mapping = headers, dict(mapping)
    statement.status = "queued"
    statement.error = ""
    job = start_job("bank_statement", params={"statement_id": statement.id}, actor=actor)
    statement.job_id = job.id
    record_audit(actor=actor, action="bank_layout.saved", object_type="bank_statement",
                 object_id=statement.id,
                 summary=f"指定流水格式的列：{describe_mapping(headers, mapping)}",
                 changes={"mapping": [None, dict(mapping)]})
    return job


def describe_mapping(headers: list[str], mapping: dict[str, int]) -> str:
    from ..bank.statement import CANONICAL_FIELDS

    return "；".join(f"{CANONICAL_FIELDS.get(name, name)} = {headers[index]}"
                    for name, index in mapping.items() if 0 <= index < len(headers))


# --- reading a statement (in the worker) ---------------------------------------------------

def _known_accounts() -> set[str]:
    return {"".join(account.split()) for account in db.session.scalars(
        select(Event.bank_account).where(Event.bank_account != "")).all()}


def _parse(data: bytes, filename: str) -> ParsedStatement | MappingNeeded:
    """The statement read, with the layout's remembered columns where it needs them; or
    what finance must be asked (a layout seen for the first time)."""
    try:
        return read_statement(data, filename, max_rows=MAX_STATEMENT_ROWS,
                              max_bytes=MAX_STATEMENT_BYTES)
    except MappingNeeded as needed:
        layout = db.session.scalar(select(BankLayout).where(BankLayout.layout == needed.layout))
        if layout is None:
            return needed
        return read_statement(data, filename,
                              mapping={k: int(v) for k, v in layout.mapping.items()},
                              max_rows=MAX_STATEMENT_ROWS, max_bytes=MAX_STATEMENT_BYTES)


def _keys(parsed: ParsedStatement) -> list[tuple[str | None, str | None]]:
    """(serial, fingerprint) per row: the serial where the bank gives one, else the
    fingerprint of the row and how many identical rows came before it in this file (two
    identical transfers on one day are two transfers; the same one in two exports, one)."""
    seen: Counter = Counter()
    keys = []
    for row in parsed.rows:
        serial = "".join(row.serial.split()).upper() or None
        if serial is not None:
            keys.append((serial[:64], None))
            continue
        base = row.fingerprint()
        seen[base] += 1
        keys.append((None, hashlib.sha256(f"{base}:{seen[base]}".encode()).hexdigest()))
    return keys


def _existing(column, values: list[str]) -> dict[str, BankTransaction]:
    found = {}
    for start in range(0, len(values), CHUNK):
        for transaction in db.session.scalars(
                select(BankTransaction).where(column.in_(values[start:start + CHUNK]))):
            found[getattr(transaction, column.key)] = transaction
    return found


def import_statement(statement: BankStatement, progress: Progress) -> str:
    """Read the statement's file, store its new transactions, match what is open."""
    # Read and parse first, without the write lock: progress is written meanwhile on
    # another connection, which on SQLite must not wait behind this session.
    progress(0, 3, "读取文件")
    try:
        parsed = _parse(read_file(statement.file), statement.filename)
    except StatementError as error:
        begin_write(db.session)
        statement.status, statement.error = "failed", error.message
        return error.message
    progress(1, 3, "比对已导入的交易并匹配报名")
    begin_write(db.session)
    if isinstance(parsed, MappingNeeded):
        statement.status, statement.layout = "needs_mapping", parsed.layout
        statement.headers, statement.guess = list(parsed.headers), dict(parsed.guess)
        statement.error = parsed.message
        return "需要先指定这种流水格式的列。"
    account = "".join(parsed.account.split())
    known = _known_accounts()
    if account and known and account not in known:
        statement.status = "failed"
        statement.error = (f"这是账号 {account}（{parsed.account_name or '户名未知'}）的流水，"
                           f"不是活动的收款账户（{'、'.join(sorted(known))}）：没有导入任何一笔。")
        return statement.error
    statement.file_format, statement.account = parsed.file_format, account
    statement.account_name, statement.period = parsed.account_name[:200], parsed.period[:100]
    statement.layout, statement.headers = parsed.layout, list(parsed.headers)
    statement.skipped = [[line, reason] for line, reason in parsed.skipped][:200]
    statement.rows_total = len(parsed.rows)
    if parsed.rows:
        statement.first_date = min(row.booked_on for row in parsed.rows)
        statement.last_date = max(row.booked_on for row in parsed.rows)
    new_ids = _store_rows(statement, parsed, account)
    piles = rematch_open(new_ids) if new_ids else Counter()
    statement.matched = piles.get("matched", 0)
    statement.suggested = piles.get("suggested", 0)
    statement.unmatched = piles.get("unmatched", 0)
    statement.status, statement.error = "done", ""
    record_audit(actor="后台任务", action="bank_statement.imported", object_type="bank_statement",
                 object_id=statement.id, summary=import_summary(statement))
    return import_summary(statement)


def import_summary(statement: BankStatement) -> str:
    text = (f"读取 {statement.rows_total} 笔，新增 {statement.rows_new} 笔，"
            f"已导入过 {statement.rows_known} 笔")
    if statement.rows_debit:
        text += f"（新增中支出 {statement.rows_debit} 笔）"
    return (text + f"；收入中已匹配 {statement.matched}、待确认 {statement.suggested}、"
            f"未匹配 {statement.unmatched} 笔。")


def _store_rows(statement: BankStatement, parsed: ParsedStatement, account: str) -> list[int]:
    keys = _keys(parsed)
    by_serial = _existing(BankTransaction.serial, [s for s, _ in keys if s])
    by_print = _existing(BankTransaction.fingerprint, [f for _, f in keys if f])
    now = utcnow()
    new_rows, known = [], 0
    batch_keys: set = set()
    for row, (serial, fingerprint) in zip(parsed.rows, keys):
        earlier = by_serial.get(serial) if serial else by_print.get(fingerprint)
        if earlier is not None or (serial or fingerprint) in batch_keys:
            known += 1
            if earlier is not None and earlier.source == "manual" and earlier.statement_id is None:
                # Typed by hand first: the statement now gives what the bank knows of it.
                earlier.statement_id, earlier.line, earlier.account = statement.id, row.line, account
                earlier.payer_account, earlier.payer_bank = row.payer_account, row.payer_bank
                earlier.summary, earlier.remark, earlier.raw = row.summary, row.remark, row.raw
                earlier.payer_name = earlier.payer_name or row.payer_name
            continue
        batch_keys.add(serial or fingerprint)
        new_rows.append({
            "statement_id": statement.id, "source": "import", "line": row.line,
            "account": account, "serial": serial, "fingerprint": fingerprint,
            "booked_on": row.booked_on,
            "booked_time": row.booked_at.strftime("%H:%M:%S") if row.booked_at else "",
            "direction": row.direction, "amount": row.amount, "allocated": Decimal("0"),
            "payer_name": row.payer_name[:200], "payer_account": row.payer_account[:64],
            "payer_bank": row.payer_bank[:200], "summary": row.summary, "remark": row.remark,
            "raw": row.raw, "status": "open", "pile": "unmatched", "rule": "",
            "explanation": "", "proposal": {}, "note": "", "handled_by": "", "created_at": now,
        })
    db.session.flush()
    ids: list[int] = []
    if new_rows:
        db.session.execute(BankTransaction.__table__.insert(), new_rows)
        ids = list(db.session.scalars(select(BankTransaction.id).where(
            BankTransaction.statement_id == statement.id, BankTransaction.source == "import")))
    statement.rows_new = len(new_rows)
    statement.rows_known = known
    statement.rows_debit = sum(1 for row in new_rows if row["direction"] == "out")
    return ids


# --- matching ------------------------------------------------------------------------------

def open_items() -> list[matching.OpenItem]:
    """Every active registration that owes money, with what it still owes."""
    money = money_columns()
    rows = db.session.execute(money.join(
        select(Registration.id, Registration.code, Registration.event_id,
               Registration.unit_name, Registration.invoice_title,
               money.expected.label("expected"), money.received.label("received"))
        .where(Registration.status == "active", Registration.total_amount > 0))).all()
    aliases: dict[str, list[str]] = defaultdict(list)
    for unit_key, payer_name in db.session.execute(
            select(PayerAlias.unit_key, PayerAlias.payer_name)):
        aliases[unit_key].append(payer_name)
    items = []
    for row in rows:
        names = [row.invoice_title] if row.invoice_title else []
        names += aliases.get(normalize_unit_name(row.unit_name), [])
        items.append(matching.OpenItem(
            registration_id=row.id, code=row.code, event_id=row.event_id,
            unit_name=row.unit_name, payer_names=tuple(names),
            outstanding=to_money(row.expected) - to_money(row.received),
            label=f"{row.code} {row.unit_name}"))
    return items


def _transfer(transaction) -> matching.Transfer:
    text = " ".join(part for part in (transaction.summary, transaction.remark) if part)
    return matching.Transfer(key=transaction.id, amount=Decimal(transaction.amount),
                             payer_name=transaction.payer_name, text=text)


def _proposal_json(proposal: matching.Proposal) -> dict:
    return {"shares": [[share.registration_id, f"{share.amount:.2f}"]
                       for share in proposal.shares],
            "surplus": f"{proposal.surplus:.2f}", "fit": proposal.amount_fit,
            "candidates": [{"ids": list(c.registration_ids), "score": c.score, "rule": c.rule,
                            "explanation": c.explanation} for c in proposal.candidates]}


def rematch_open(counted_ids: list[int] | None = None) -> Counter:
    """Match every open credit again, oldest first; count the piles of `counted_ids`."""
    open_rows = db.session.execute(
        select(BankTransaction.id, BankTransaction.amount, BankTransaction.payer_name,
               BankTransaction.summary, BankTransaction.remark)
        .where(BankTransaction.status == "open", BankTransaction.direction == "in")
        .order_by(BankTransaction.booked_on, BankTransaction.booked_time, BankTransaction.id)
    ).all()
    proposals = matching.match_all(open_items(), [_transfer(row) for row in open_rows])
    if proposals:
        table = BankTransaction.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("key")).values(
                pile=bindparam("pile"), rule=bindparam("rule"),
                explanation=bindparam("explanation"), proposal=bindparam("proposal")),
            [{"key": p.transfer_key, "pile": p.pile, "rule": p.rule[:16],
              "explanation": p.explanation, "proposal": _proposal_json(p)} for p in proposals],
            execution_options={"synchronize_session": False})
    counted = set(counted_ids or ())
    return Counter(p.pile for p in proposals if p.transfer_key in counted)


@job_kind("bank_statement", "导入银行流水")
def _import_job(job: Job, progress: Progress) -> JobOutcome:
    statement = db.session.get(BankStatement, job_params(job)["statement_id"])
    if statement is None:
        raise ServiceError("流水记录不存在。")
    return JobOutcome(import_statement(statement, progress))


# --- confirming, assigning, undoing ---------------------------------------------------------

@dataclass
class ShareRequest:
    registration_id: int
    amount: Decimal


def lock_transaction(transaction_id: int) -> BankTransaction:
    """Hold the transaction's row until commit and read it again."""
    begin_write(db.session)
    transaction = db.session.execute(
        select(BankTransaction).where(BankTransaction.id == transaction_id)
        .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if transaction is None:
        raise ServiceError("这笔流水不存在。")
    return transaction


def proposed_shares(transaction: BankTransaction) -> list[ShareRequest]:
    return [ShareRequest(int(reg_id), Decimal(amount))
            for reg_id, amount in (transaction.proposal or {}).get("shares", [])]


def _who(transaction: BankTransaction) -> str:
    return (f"{format_date_cn(transaction.booked_on)} {transaction.payer_name or '付款人未知'} "
            f"{transaction.amount:,.2f} 元")


def confirm_transaction(transaction_id: int, shares: list[ShareRequest] | None = None, *,
                        actor: str, user_id: int | None = None, rule: str | None = None,
                        today: date | None = None) -> list[BankAllocation]:
    """Allocate a credit over registrations: one payment each, receipts, the units told.

    Without `shares`, the matcher's proposal is confirmed. A confirmed transaction with
    credit left (paid over) may be allocated again: the surplus moved to another unit."""
    today = today or china_today()
    transaction = lock_transaction(transaction_id)
    if transaction.direction != "in":
        raise ServiceError("这是一笔支出，不能作为收款分配；退款请在该笔支出上登记。")
    if transaction.status == "ignored":
        raise ServiceError("这笔流水已标记为非报名款项：请先撤销标记。")
    if transaction.status == "confirmed" and shares is None:
        raise ServiceError(f"这笔流水（{_who(transaction)}）已由 {transaction.handled_by} 确认，"
                           "无需再次确认。")
    from_proposal = shares is None
    shares = proposed_shares(transaction) if from_proposal else shares
    rule = rule or (transaction.rule if from_proposal else "manual")
    if not shares:
        raise ServiceError("请选择要分配到的报名。")
    merged: dict[int, Decimal] = defaultdict(Decimal)
    for share in shares:
        amount = Decimal(share.amount).quantize(CENT)
        if amount <= 0:
            raise ServiceError("分配金额须大于 0。", field="amount")
        merged[share.registration_id] += amount
    total = sum(merged.values(), Decimal("0"))
    left = transaction.amount - transaction.allocated
    if total > left:
        raise ServiceError(f"分配合计 {total:,.2f} 元超过这笔流水可分配的 {left:,.2f} 元。",
                           field="amount")
    registrations = {r.id: r for r in db.session.scalars(
        select(Registration).where(Registration.id.in_(list(merged))))}
    if len(registrations) != len(merged):
        raise ServiceError("所选报名不存在。")
    allocations = []
    now = utcnow()
    for registration in sorted(registrations.values(), key=lambda r: (r.event_id, r.id)):
        registration, event = lock_registration(registration)
        if not registration.is_active:
            raise ServiceError(f"报名 {registration.code} 已取消，不能分配收款。")
        amount = merged[registration.id]
        payment, _receipt = add_payment(
            registration, event, amount=amount, received_on=transaction.booked_on,
            payer_name=transaction.payer_name, reference=transaction.serial,
            method="bank_transfer", note=f"银行流水：{transaction.text[:100]}".rstrip("："),
            transaction_id=transaction.id, actor=actor, recorded_by_id=user_id, today=today)
        allocation = BankAllocation(transaction_id=transaction.id, registration_id=registration.id,
                                    amount=amount, rule=rule[:16], status="confirmed",
                                    payment_id=payment.id, confirmed_by=actor, confirmed_at=now)
        db.session.add(allocation)
        allocations.append(allocation)
        _learn_payer(transaction.payer_name, registration.unit_name)
        balance = balance_of(registration)
        queue_mail("payment_received", registration.contact_email, registration=registration,
                   context={"registration": registration, "event": event, "amount": amount,
                            "balance": balance, "received_on": transaction.booked_on})
    transaction.allocated = transaction.allocated + total
    transaction.status, transaction.handled_by, transaction.handled_at = "confirmed", actor, now
    db.session.flush()
    record_audit(
        actor=actor, action="bank_transaction.confirmed", object_type="bank_transaction",
        object_id=transaction.id,
        summary=(f"确认银行流水 {transaction.serial or '#' + str(transaction.id)}（{_who(transaction)}）"
                 f"：" + "；".join(f"{registrations[i].code} {a:,.2f} 元" for i, a in merged.items())
                 + (f"；余 {transaction.credit:,.2f} 元待处理" if transaction.credit else "")),
        changes={"allocations": [None, {registrations[i].code: f"{a:.2f}"
                                        for i, a in merged.items()}],
                 "rule": [None, rule], "allocated": [None, f"{transaction.allocated:.2f}"]})
    return allocations


def _learn_payer(payer_name: str, unit_name: str) -> None:
    payer_key, unit_key = normalize_unit_name(payer_name or ""), normalize_unit_name(unit_name)
    if not payer_key or payer_key == unit_key:
        return
    dialect = db.session.connection().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(PayerAlias).values(
        unit_key=unit_key[:200], payer_key=payer_key[:200], payer_name=payer_name[:200],
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["unit_key", "payer_key"]))


@dataclass
class BulkResult:
    confirmed: int = 0
    problems: list[str] = field(default_factory=list)


def confirm_many(transaction_ids: list[int], *, actor: str, user_id: int | None = None) -> BulkResult:
    """Confirm the proposals of several transactions; one refused does not stop the rest."""
    result = BulkResult()
    begin_write(db.session)  # before the savepoints: on SQLite it begins the transaction anew
    for transaction_id in sorted(set(transaction_ids)):
        try:
            with db.session.begin_nested():
                confirm_transaction(transaction_id, actor=actor, user_id=user_id)
            result.confirmed += 1
        except ServiceError as error:
            result.problems.append(f"流水 #{transaction_id}：{error.message}")
    return result


def unassign_transaction(transaction_id: int, reason: str, *, actor: str,
                         user_id: int | None = None, today: date | None = None) -> BankTransaction:
    """Undo a confirmed transaction: offset its payments, void the receipts, keep history."""
    today = today or china_today()
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("请填写撤销原因。", field="reason")
    transaction = lock_transaction(transaction_id)
    live = [a for a in transaction.allocations if not a.is_reversed]
    if transaction.status != "confirmed" or not live:
        raise ServiceError("这笔流水没有已确认的分配，无需撤销。")
    now = utcnow()
    for allocation in sorted(live, key=lambda a: (a.registration.event_id, a.registration_id)):
        registration, event = lock_registration(allocation.registration)
        reversal, _ = add_payment(
            registration, event, amount=-allocation.amount, received_on=today,
            payer_name=transaction.payer_name, reference=transaction.serial,
            method="bank_transfer", note=f"撤销银行流水分配：{reason}",
            transaction_id=transaction.id, reverses_id=allocation.payment_id, actor=actor,
            recorded_by_id=user_id, today=today, void_reason=f"撤销银行流水分配：{reason}")
        allocation.status, allocation.reversal_payment_id = "reversed", reversal.id
        allocation.reversed_by, allocation.reversed_at = actor, now
        allocation.reverse_reason = reason
    transaction.allocated = Decimal("0")
    transaction.status, transaction.handled_by, transaction.handled_at = "open", actor, now
    db.session.flush()
    record_audit(actor=actor, action="bank_transaction.unassigned", object_type="bank_transaction",
                 object_id=transaction.id,
                 summary=f"撤销银行流水 {transaction.serial or '#' + str(transaction.id)} 的分配"
                         f"（{_who(transaction)}）：{reason}",
                 changes={"status": ["confirmed", "open"], "reason": [None, reason]})
    rematch_open()
    return transaction


def ignore_transaction(transaction_id: int, note: str, *, actor: str) -> BankTransaction:
    """Mark a transaction as not money for a registration (another business), with a note."""
    note = (note or "").strip()
    if not note:
        raise ServiceError("请说明这笔款项的用途（例如：会员会费、其他项目）。", field="note")
    transaction = lock_transaction(transaction_id)
    if transaction.status == "confirmed":
        raise ServiceError("这笔流水已确认分配：请先撤销分配。")
    before = transaction.status
    transaction.status, transaction.note = "ignored", note[:500]
    transaction.handled_by, transaction.handled_at = actor, utcnow()
    record_audit(actor=actor, action="bank_transaction.ignored", object_type="bank_transaction",
                 object_id=transaction.id,
                 summary=f"标记为非报名款项（{_who(transaction)}）：{note}",
                 changes={"status": [before, "ignored"], "note": [None, note]})
    return transaction


def reopen_transaction(transaction_id: int, *, actor: str) -> BankTransaction:
    """Take back "not for an event": the transaction is open again and matched."""
    transaction = lock_transaction(transaction_id)
    if transaction.status != "ignored":
        raise ServiceError("这笔流水没有被标记为非报名款项。")
    transaction.status, transaction.handled_by, transaction.handled_at = "open", actor, utcnow()
    record_audit(actor=actor, action="bank_transaction.reopened", object_type="bank_transaction",
                 object_id=transaction.id, summary=f"撤销“非报名款项”标记（{_who(transaction)}）",
                 changes={"status": ["ignored", "open"]})
    db.session.flush()
    rematch_open()
    return transaction


def record_refund(debit_id: int, registration_id: int | None, credit_id: int | None, *,
                  actor: str, user_id: int | None = None,
                  today: date | None = None) -> BankTransaction:
    """A debit line of a statement is a refund: to a registration, or of a credit's surplus."""
    today = today or china_today()
    if (registration_id is None) == (credit_id is None):
        raise ServiceError("请选择退款对应的报名，或对应的多付款项。")
    debit = lock_transaction(debit_id)
    if debit.direction != "out" or debit.status != "open":
        raise ServiceError("只有尚未处理的支出流水可以登记为退款。")
    now = utcnow()
    if credit_id is not None:
        credit = lock_transaction(credit_id)
        if credit.direction != "in" or credit.status != "confirmed" or credit.credit < debit.amount:
            raise ServiceError(f"所选收款没有 {debit.amount:,.2f} 元的多付余额可退。")
        credit.allocated = credit.allocated + debit.amount
        debit.refund_of_id, debit.allocated = credit.id, debit.amount
        summary = f"退还多付款 {debit.amount:,.2f} 元（原收款 {_who(credit)}）"
    else:
        registration = db.session.get(Registration, registration_id)
        if registration is None:
            raise ServiceError("所选报名不存在。")
        registration, event = lock_registration(registration)
        payment, _ = add_payment(
            registration, event, amount=-debit.amount, received_on=debit.booked_on,
            payer_name=debit.payer_name, reference=debit.serial, method="bank_transfer",
            note="退款（银行流水支出）", transaction_id=debit.id, actor=actor,
            recorded_by_id=user_id, today=today)
        db.session.add(BankAllocation(transaction_id=debit.id, registration_id=registration.id,
                                      amount=debit.amount, rule="refund", status="confirmed",
                                      payment_id=payment.id, confirmed_by=actor, confirmed_at=now))
        debit.allocated = debit.amount
        summary = f"退款 {debit.amount:,.2f} 元给报名 {registration.code}"
    debit.status, debit.handled_by, debit.handled_at = "confirmed", actor, now
    db.session.flush()
    record_audit(actor=actor, action="bank_transaction.refund", object_type="bank_transaction",
                 object_id=debit.id, summary=f"{summary}（{_who(debit)}）")
    return debit


# --- finding registrations for a transfer (the review page's search) -------------------------

def search_registrations(query: str, *, limit: int = 20) -> list[tuple[Registration, Decimal]]:
    """Active registrations by code, unit, attendee or contact name, or amount owed."""
    from ..models import Attendee
    from .recovery import normalize_code

    query = (query or "").strip()
    if not query:
        return []
    money = money_columns()
    like = f"%{query}%"
    conditions = [Registration.code.like(f"{normalize_code(query)}%"),
                  Registration.unit_name.ilike(like), Registration.invoice_title.ilike(like),
                  Registration.contact_name.ilike(like),
                  Registration.id.in_(select(Attendee.registration_id)
                                      .where(Attendee.name.ilike(like)))]
    amount, _ = parse_amount(query)
    if amount is not None:
        amount = amount.quantize(CENT)
        conditions.append(func.round(money.expected - money.received, 2) == amount)
        conditions.append(func.round(Registration.total_amount, 2) == amount)
    return _with_outstanding(money, Registration.status == "active", or_(*conditions),
                             newest_first=True, limit=limit)


def registrations_with_outstanding(ids: list[int]) -> list[tuple[Registration, Decimal]]:
    """The registrations of `ids` with what each still owes."""
    if not ids:
        return []
    return _with_outstanding(money_columns(), Registration.id.in_(ids))


def _with_outstanding(money, *where, newest_first: bool = False,
                      limit: int | None = None) -> list[tuple[Registration, Decimal]]:
    statement = money.join(select(Registration,
                                  (money.expected - money.received).label("outstanding")))
    statement = statement.where(*where)
    if newest_first:
        statement = statement.order_by(Registration.created_at.desc())
    rows = db.session.execute(statement.limit(limit)).all()
    return [(row[0], to_money(row.outstanding)) for row in rows]


def outstanding_of(ids: list[int]) -> list[tuple[int, Decimal]]:
    return [(registration.id, owed) for registration, owed in registrations_with_outstanding(ids)]


# --- reconciliation -------------------------------------------------------------------------

@dataclass
class Reconciliation:
    start: date | None
    end: date | None
    money_in: Decimal            # credits of the statements in the period (every event)
    allocated_here: Decimal      # of which confirmed to this event's registrations
    allocated_elsewhere: Decimal
    ignored: Decimal             # not for an event
    open: Decimal                # not handled yet
    surplus: Decimal             # held on confirmed transfers (paid over)
    expected: Decimal            # this event's registrations
    received: Decimal
    outstanding: Decimal
    payments_outside: list       # payments of this event not from a statement line
    open_transactions: list      # unexplained: still to be handled
    surplus_transactions: list


def reconciliation(event: Event, start: date | None = None,
                   end: date | None = None) -> Reconciliation:
    """Money in the statements vs allocated vs owed, for an event and a period."""
    period = []
    if start is not None:
        period.append(BankTransaction.booked_on >= start)
    if end is not None:
        period.append(BankTransaction.booked_on <= end)
    # A transfer typed by hand is no money of a statement until a statement brings it; till
    # then its payment is listed among payments_outside, not counted twice.
    credits = select(BankTransaction).where(BankTransaction.direction == "in",
                                            BankTransaction.statement_id.is_not(None), *period)
    transactions = list(db.session.scalars(credits.order_by(BankTransaction.booked_on,
                                                            BankTransaction.id)))
    here = elsewhere = Decimal("0")
    allocated = db.session.execute(
        select(BankAllocation.transaction_id, Registration.event_id,
               func.sum(BankAllocation.amount))
        .join(Registration, Registration.id == BankAllocation.registration_id)
        .where(BankAllocation.status == "confirmed",
               BankAllocation.transaction_id.in_(select(credits.with_only_columns(
                   BankTransaction.id).subquery())))
        .group_by(BankAllocation.transaction_id, Registration.event_id)).all()
    for _, event_id, amount in allocated:
        if event_id == event.id:
            here += to_money(amount)
        else:
            elsewhere += to_money(amount)
    money = money_columns(event.id)
    totals = db.session.execute(money.join(select(
        func.coalesce(func.sum(money.expected), 0), func.coalesce(func.sum(money.received), 0)))
        .where(Registration.event_id == event.id)).one()
    outside = list(db.session.execute(
        select(Payment, Registration.code).join(Registration)
        .outerjoin(BankTransaction, BankTransaction.id == Payment.bank_transaction_id)
        .where(Registration.event_id == event.id,
               or_(Payment.bank_transaction_id.is_(None), BankTransaction.statement_id.is_(None)))
        .order_by(Payment.received_on, Payment.id)).all())
    expected, received = to_money(totals[0]), to_money(totals[1])
    return Reconciliation(
        start=start, end=end,
        money_in=sum((t.amount for t in transactions), Decimal("0")),
        allocated_here=here, allocated_elsewhere=elsewhere,
        ignored=sum((t.amount for t in transactions if t.status == "ignored"), Decimal("0")),
        open=sum((t.amount for t in transactions if t.status == "open"), Decimal("0")),
        surplus=sum((t.credit for t in transactions if t.status == "confirmed"), Decimal("0")),
        expected=expected, received=received, outstanding=expected - received,
        payments_outside=outside,
        open_transactions=[t for t in transactions if t.status == "open"],
        surplus_transactions=[t for t in transactions if t.status == "confirmed" and t.credit > 0])


def allocation_workbook(event: Event, start: date | None = None, end: date | None = None) -> bytes:
    """The allocation of the statements to this event's registrations, for the accountant."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    statement = (select(BankAllocation, BankTransaction, Registration)
                 .join(BankTransaction, BankTransaction.id == BankAllocation.transaction_id)
                 .join(Registration, Registration.id == BankAllocation.registration_id)
                 .where(Registration.event_id == event.id))
    if start is not None:
        statement = statement.where(BankTransaction.booked_on >= start)
    if end is not None:
        statement = statement.where(BankTransaction.booked_on <= end)
    rows = db.session.execute(statement.order_by(BankTransaction.booked_on, BankTransaction.id,
                                                 BankAllocation.id)).all()
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = "流水分配"
    headers = ["到账日期", "交易流水号", "付款人", "付款账号", "流水金额", "附言", "报名编号",
               "单位", "分配金额", "匹配方式", "状态", "确认人", "确认时间", "撤销原因"]
    sheet.append([f"{event.title}：银行流水分配明细"])
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    from ..models.bank import RULES

    for allocation, transaction, registration in rows:
        sheet.append([
            transaction.booked_on, transaction.serial or "", transaction.payer_name,
            transaction.payer_account, float(transaction.amount), transaction.text,
            registration.code, registration.unit_name, float(allocation.amount),
            RULES.get(allocation.rule, allocation.rule),
            "已撤销" if allocation.is_reversed else "有效", allocation.confirmed_by,
            allocation.confirmed_at.astimezone(CHINA)
            .strftime("%Y-%m-%d %H:%M") if allocation.confirmed_at else "",
            allocation.reverse_reason])
    for row in sheet.iter_rows(min_row=3):
        row[0].number_format = "yyyy-mm-dd"
        row[4].number_format = row[8].number_format = "#,##0.00"
    widths = [12, 22, 28, 22, 12, 36, 12, 28, 12, 18, 8, 10, 17, 24]
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
