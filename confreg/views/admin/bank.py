"""Finance's bank statements: upload, review in three piles, assign, undo, reconcile."""
from datetime import date
from decimal import Decimal

from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import func, or_, select

from ...extensions import db
from ...forms.bank import (ActionForm, IgnoreForm, RefundForm, UnassignForm, UploadStatementForm,
                           mapping_form)
from ...forms.errors import show_beside_field
from ...checks import parse_amount
from ...models import BankStatement, BankTransaction, Event, Registration
from ...models.bank import PILES, RULES
from ...services import ServiceError
from ...services import bank as bank_service
from ...services.bank import ShareRequest
from ..files import set_download_name
from ..formdata import ROW_ID
from ..paging import page_arg
from .access import actor_name, roles_required
from .events import event_or_404
from .jobs import redirect_to_job

bp = Blueprint("admin_bank", __name__, url_prefix="/admin/bank")

READERS = ("finance", "staff")  # staff see where the money is, read-only
WRITERS = ("finance",)
PAGE_SIZE = 50
# The review page's tabs: the three piles of open credits, then what was handled.
TABS = {**PILES, "debit": "支出", "confirmed": "已确认", "ignored": "非报名款项"}


def _can_write() -> bool:
    return current_user.role in ("admin", *WRITERS)


def _tab_filter(tab: str):
    if tab in PILES:
        return [BankTransaction.direction == "in", BankTransaction.status == "open",
                BankTransaction.pile == tab]
    if tab == "debit":
        return [BankTransaction.direction == "out", BankTransaction.status == "open"]
    return [BankTransaction.status == tab]


def _counts() -> dict[str, int]:
    counts = {}
    for tab in TABS:
        counts[tab] = db.session.scalar(select(func.count()).select_from(BankTransaction)
                                        .where(*_tab_filter(tab)))
    return counts


def _index_page(form: UploadStatementForm, status: int = 200):
    statements = list(db.session.scalars(select(BankStatement)
                                         .order_by(BankStatement.id.desc()).limit(50)))
    return render_template("admin/bank/index.html", statements=statements, counts=_counts(),
                           tabs=TABS, form=form, can_write=_can_write()), status


@bp.route("/")
@roles_required(*READERS)
def index():
    return _index_page(UploadStatementForm())


@bp.route("/upload", methods=["POST"])
@roles_required(*WRITERS)
def upload():
    form = UploadStatementForm()
    if form.validate_on_submit():
        try:
            statement = bank_service.upload_statement(form.file.data, actor=actor_name(),
                                                      user_id=current_user.id)
        except ServiceError as error:
            db.session.rollback()
            if not show_beside_field(form, error):
                flash(error.message, "error")
        else:
            db.session.commit()
            flash("流水文件已上传，后台正在读取与匹配。", "success")
            return redirect(url_for(".statement", statement_id=statement.id))
    return _index_page(form, 422)


@bp.route("/statements/<int:statement_id>")
@roles_required(*READERS)
def statement(statement_id: int):
    statement = db.get_or_404(BankStatement, statement_id)
    from .jobs import job_state

    state = job_state(statement.job) if statement.job else None
    return render_template("admin/bank/statement.html", statement=statement, state=state,
                           can_write=_can_write())


@bp.route("/statements/<int:statement_id>/mapping", methods=["GET", "POST"])
@roles_required(*WRITERS)
def mapping(statement_id: int):
    from ...bank.statement import CANONICAL_FIELDS

    statement = db.get_or_404(BankStatement, statement_id)
    if statement.status != "needs_mapping":
        return redirect(url_for(".statement", statement_id=statement.id))
    form = mapping_form(CANONICAL_FIELDS, statement.headers or [], statement.guess or {})()
    if form.validate_on_submit():
        chosen = {name: int(getattr(form, name).data) for name in CANONICAL_FIELDS
                  if (getattr(form, name).data or "").isdigit()}
        try:
            job = bank_service.save_layout(statement, chosen, actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            if not show_beside_field(form, error):
                flash(error.message, "error")
        else:
            db.session.commit()
            flash("已记住这种流水格式的列，正在重新读取。", "success")
            return redirect_to_job(job)
    return render_template("admin/bank/mapping.html", statement=statement, form=form,
                           fields=CANONICAL_FIELDS), 422 if request.method == "POST" else 200


@bp.route("/review")
@roles_required(*READERS)
def review():
    tab = request.args.get("pile", "matched")
    tab = tab if tab in TABS else "matched"
    query = (request.args.get("q") or "").strip()[:100]
    statement = select(BankTransaction).where(*_tab_filter(tab))
    if query:
        like = f"%{query}%"
        conditions = [BankTransaction.payer_name.ilike(like), BankTransaction.remark.ilike(like),
                      BankTransaction.summary.ilike(like), BankTransaction.serial.ilike(like)]
        amount, _ = parse_amount(query)
        if amount is not None:
            conditions.append(BankTransaction.amount == amount)
        statement = statement.where(or_(*conditions))
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page_arg(), pages)
    transactions = list(db.session.scalars(
        statement.order_by(BankTransaction.booked_on.desc(), BankTransaction.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    registrations = _proposed_registrations(transactions)
    return render_template("admin/bank/review.html", tab=tab, tabs=TABS, counts=_counts(),
                           transactions=transactions, registrations=registrations,
                           total=total, page=page, pages=pages, query=query,
                           form=ActionForm(), can_write=_can_write())


@bp.route("/review/confirm", methods=["POST"])
@roles_required(*WRITERS)
def confirm_matched():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [int(i) for i in request.form.getlist("transaction") if ROW_ID.fullmatch(i)]
    if not ids:
        flash("没有勾选要确认的流水。", "error")
        return redirect(url_for(".review", pile="matched"))
    result = bank_service.confirm_many(ids, actor=actor_name(), user_id=current_user.id)
    db.session.commit()
    if result.confirmed:
        flash(f"已确认 {result.confirmed} 笔流水，已登记收款并通知单位。", "success")
    for problem in result.problems[:10]:
        flash(problem, "error")
    return redirect(url_for(".review", pile="matched"))


@bp.route("/transactions/<int:transaction_id>/candidate/<int:index>", methods=["POST"])
@roles_required(*WRITERS)
def take_candidate(transaction_id: int, index: int):
    """One click on a suggestion: allocate the transfer to that candidate's registrations."""
    transaction = db.get_or_404(BankTransaction, transaction_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    candidates = (transaction.proposal or {}).get("candidates", [])
    if not 0 <= index < len(candidates):
        abort(404)
    candidate = candidates[index]
    try:
        shares = _candidate_shares(transaction, candidate["ids"])
        bank_service.confirm_transaction(transaction.id, shares, actor=actor_name(),
                                         user_id=current_user.id, rule=candidate["rule"])
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("已按建议分配，已登记收款并通知单位。", "success")
    return redirect(request.form.get("next") or url_for(".review", pile="suggested"))


def _candidate_shares(transaction: BankTransaction, ids: list[int]) -> list[ShareRequest]:
    """Each registration its outstanding, in order, until the transfer is used up."""
    owed = dict(bank_service.outstanding_of(ids))
    left = transaction.amount - transaction.allocated
    shares = []
    for registration_id in ids:
        amount = min(max(owed.get(registration_id, Decimal("0")), Decimal("0")), left)
        if amount > 0:
            shares.append(ShareRequest(registration_id, amount))
            left -= amount
    if not shares:
        raise ServiceError("所选报名已无欠款：请在流水详情页手工分配金额。")
    return shares


@bp.route("/transactions/<int:transaction_id>", methods=["GET", "POST"])
@roles_required(*READERS)
def transaction(transaction_id: int):
    transaction = db.get_or_404(BankTransaction, transaction_id)
    query = (request.values.get("q") or "").strip()[:100]
    error, typed = None, {}
    if request.method == "POST":
        if not _can_write():
            abort(403)
        form = ActionForm()
        if not form.validate_on_submit():
            abort(400)
        picked = [i for i in request.form.getlist("pick") if ROW_ID.fullmatch(i)]
        typed = {i: request.form.get(f"amount-{i}", "") for i in picked}
        try:
            shares = []
            for registration_id in picked:
                amount, _ = parse_amount(typed[registration_id])
                if amount is None or amount <= 0:
                    raise ServiceError(f"请填写分配金额（大于 0 的数字），"
                                       f"“{typed[registration_id] or '空'}”不是金额。",
                                       field="amount")
                shares.append(ShareRequest(int(registration_id), amount))
            if not shares:
                raise ServiceError("请勾选要分配到的报名，并填写金额。")
            bank_service.confirm_transaction(transaction.id, shares, actor=actor_name(),
                                             user_id=current_user.id)
        except ServiceError as exc:
            db.session.rollback()
            error = exc.message
            transaction = db.get_or_404(BankTransaction, transaction_id)
        else:
            db.session.commit()
            flash("已分配并登记收款，已通知单位。", "success")
            return redirect(url_for(".transaction", transaction_id=transaction.id))
    results = bank_service.search_registrations(query) if query else []
    if typed:
        # The registrations ticked before the error stay on the page with what was typed.
        shown = {r.id for r, _ in results}
        extra = [int(i) for i in typed if int(i) not in shown]
        results += [(r, o) for r, o in bank_service.registrations_with_outstanding(extra)]
    return render_template(
        "admin/bank/transaction.html", transaction=transaction, query=query, results=results,
        typed=typed, error=error, form=ActionForm(), ignore_form=IgnoreForm(),
        unassign_form=UnassignForm(), refund_form=_refund_form(transaction),
        proposal_registrations=_proposed_registrations([transaction]), RULES=RULES,
        can_write=_can_write()), 422 if error else 200


def _proposed_registrations(transactions: list[BankTransaction]) -> dict[int, Registration]:
    """The registrations the transactions' proposals name (shares and candidates), by id."""
    ids = set()
    for transaction in transactions:
        proposal = transaction.proposal or {}
        ids |= {int(share[0]) for share in proposal.get("shares", [])}
        ids |= {int(i) for candidate in proposal.get("candidates", []) for i in candidate["ids"]}
    if not ids:
        return {}
    return {r.id: r for r in db.session.scalars(select(Registration)
                                                .where(Registration.id.in_(ids)))}


def _refund_form(transaction: BankTransaction) -> RefundForm:
    form = RefundForm()
    if transaction.direction == "out":
        credits = db.session.scalars(
            select(BankTransaction).where(BankTransaction.direction == "in",
                                          BankTransaction.status == "confirmed",
                                          BankTransaction.allocated < BankTransaction.amount)
            .order_by(BankTransaction.booked_on.desc()).limit(100)).all()
        form.credit_id.choices = [("", "（不是退多付款）")] + [
            (str(c.id), f"{c.booked_on:%Y-%m-%d} {c.payer_name} 多付 {c.credit:,.2f} 元")
            for c in credits if c.credit >= transaction.amount]
    return form


def _decide(transaction_id: int, form_class, action, success: str):
    transaction = db.get_or_404(BankTransaction, transaction_id)
    form = form_class()
    if form.validate_on_submit():
        try:
            action(transaction, form)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(success, "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".transaction", transaction_id=transaction_id))


@bp.route("/transactions/<int:transaction_id>/ignore", methods=["POST"])
@roles_required(*WRITERS)
def ignore(transaction_id: int):
    return _decide(transaction_id, IgnoreForm, lambda t, f: bank_service.ignore_transaction(
        t.id, f.note.data, actor=actor_name()), "已标记为非报名款项。")


@bp.route("/transactions/<int:transaction_id>/reopen", methods=["POST"])
@roles_required(*WRITERS)
def reopen(transaction_id: int):
    return _decide(transaction_id, ActionForm, lambda t, f: bank_service.reopen_transaction(
        t.id, actor=actor_name()), "已撤销标记，这笔流水重新待处理。")


@bp.route("/transactions/<int:transaction_id>/unassign", methods=["POST"])
@roles_required(*WRITERS)
def unassign(transaction_id: int):
    return _decide(transaction_id, UnassignForm, lambda t, f: bank_service.unassign_transaction(
        t.id, f.reason.data, actor=actor_name(), user_id=current_user.id),
        "已撤销分配：相应收款已冲销，收据已作废（如有）。")


@bp.route("/transactions/<int:transaction_id>/refund", methods=["POST"])
@roles_required(*WRITERS)
def refund(transaction_id: int):
    def record(transaction, form):
        code = (form.registration_code.data or "").strip().upper()
        registration_id = None
        if code:
            registration_id = db.session.scalar(select(Registration.id)
                                                .where(Registration.code == code))
            if registration_id is None:
                raise ServiceError(f"没有报名编号为 {code} 的报名。")
        credit = form.credit_id.data
        bank_service.record_refund(transaction.id, registration_id,
                                   int(credit) if credit and ROW_ID.fullmatch(credit) else None,
                                   actor=actor_name(), user_id=current_user.id)
    return _decide(transaction_id, RefundForm, record, "已登记为退款。")


# --- reconciliation -------------------------------------------------------------------------

def _period() -> tuple[date | None, date | None]:
    def day(name):
        try:
            return date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None
    return day("start"), day("end")


@bp.route("/events/<int:event_id>/reconciliation")
@roles_required(*READERS)
def reconciliation(event_id: int):
    event = event_or_404(event_id)
    start, end = _period()
    result = bank_service.reconciliation(event, start, end)
    return render_template("admin/bank/reconciliation.html", event=event, rec=result,
                           start=start, end=end)


@bp.route("/events/<int:event_id>/reconciliation.xlsx")
@roles_required(*READERS)
def reconciliation_export(event_id: int):
    event: Event = event_or_404(event_id)
    start, end = _period()
    response = make_response(bank_service.allocation_workbook(event, start, end))
    response.mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    set_download_name(response, "attachment",
                      f"流水分配-{event.short_title or event.id}.xlsx")
    response.headers["Cache-Control"] = "no-store"
    return response
