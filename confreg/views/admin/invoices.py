"""Finance's e-invoice desk for an event: the queue, the batch for the tax platform, the
upload of the issued files, held invoices, units' changes and red-letter reversals.

Invoice details are personal and financial data: only finance and admin open these pages
(staff lists show nothing of them)."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...extensions import db
from ...forms.errors import show_beside_field
from ...forms.invoices import DecideChangeForm, ReversalForm, ResolveForm, UploadInvoicesForm
from ...forms.bank import ActionForm
from ...models import InvoiceChange, InvoiceRequest, InvoiceUpload, IssuedInvoice
from ...services import ServiceError
from ...services import invoices as invoice_service
from ...services.invoices import QUEUE_STATES
from ...services.reminders import send_reminders
from ...timeutil import china_today
from ..files import set_download_name, stored_file_response
from ..formdata import ROW_ID
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_invoices", __name__, url_prefix="/admin/invoices")

ROLES = ("finance",)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _queue_page(event, *, upload_form=None, resolve_forms=None, reversal_forms=None,
                change_form=None, status=200):
    state = request.args.get("state", "")
    state = state if state in QUEUE_STATES else ""
    query = (request.args.get("q") or "").strip()[:100]
    queue = invoice_service.invoice_queue(event, state or None, query)
    open_requests = invoice_service.open_requests(event)
    resolve_forms = resolve_forms or {}
    for invoice in queue.held + queue.unmatched:
        if invoice.id not in resolve_forms:
            form = ResolveForm(formdata=None, prefix=f"r{invoice.id}")
            form.request_id.data = str(invoice.proposed_request_id or "")
            resolve_forms[invoice.id] = form
    choices = [("", "请选择")] + [
        (str(r.id), f"{r.serial} · {r.buyer_name} · ¥{r.total:,.2f}"
                    f"{' · 待红冲' if r.status == 'to_reverse' else ''}") for r in open_requests]
    for form in resolve_forms.values():
        form.request_id.choices = choices
    reversal_forms = reversal_forms or {}
    for row in queue.rows:
        if row.state == "to_reverse" and row.request.id not in reversal_forms:
            reversal_forms[row.request.id] = ReversalForm(formdata=None, prefix=f"v{row.request.id}")
    uploads = db.session.scalars(db.select(InvoiceUpload).where(
        InvoiceUpload.event_id == event.id).order_by(InvoiceUpload.id.desc()).limit(10)).all()
    return render_template(
        "admin/invoices/queue.html", event=event, queue=queue, state=state, query=query,
        states=QUEUE_STATES, upload_form=upload_form or UploadInvoicesForm(formdata=None),
        action_form=ActionForm(), resolve_forms=resolve_forms, reversal_forms=reversal_forms,
        change_form=change_form or DecideChangeForm(formdata=None), uploads=uploads,
        batches=invoice_service.batches(event), labels=invoice_service.DETAIL_LABELS,
        reversed=invoice_service.reversed_requests(event) if state == "reversed" else []), status


@bp.route("/events/<int:event_id>")
@roles_required(*ROLES)
def queue(event_id: int):
    event = event_or_404(event_id)
    if not event.takes_registrations:
        abort(404)
    return _queue_page(event)


@bp.route("/events/<int:event_id>/request", methods=["POST"])
@roles_required(*ROLES)
def request_batch(event_id: int):
    """Ask for the ready invoices (all, or the ticked ones): they become a batch."""
    event = event_or_404(event_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    chosen = None
    query = (request.form.get("q") or "").strip()[:100]
    if request.form.get("scope") != "chosen" and query:
        # "all" of a searched list means the ones shown, not every ready one
        chosen = [row.registration.id
                  for row in invoice_service.invoice_queue(event, "ready", query).rows]
    elif request.form.get("scope") == "chosen":
        chosen = [int(v) for v in request.form.getlist("registration_id") if ROW_ID.fullmatch(v)]
        if not chosen:
            flash("请先勾选要申请开票的报名。", "error")
            return redirect(url_for(".queue", event_id=event.id, state="ready"))
    try:
        batch = invoice_service.request_invoices(event, chosen, actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".queue", event_id=event.id, state="ready"))
    db.session.commit()
    flash(f"已申请开票 {len(batch.requests)} 张（批次 {batch.label}）：请下载批量开具模板，"
          "在电子发票服务平台“批量开具”中导入。"
          + (f"未能申请：{'、'.join(batch.skipped)}（已不再可开票）。" if batch.skipped else ""),
          "success")
    return redirect(url_for(".queue", event_id=event.id, state="requested", batch=batch.label))


@bp.route("/events/<int:event_id>/batches/<batch>.xlsx")
@roles_required(*ROLES)
def batch_xlsx(event_id: int, batch: str):
    event = event_or_404(event_id)
    requests = invoice_service.batch_requests(event, batch)
    if not requests:
        abort(404)
    response = make_response(invoice_service.batch_workbook(requests))
    response.headers["Content-Type"] = XLSX
    response.headers["Cache-Control"] = "private, no-store"
    return set_download_name(response, "attachment", f"发票批量开具_{batch}.xlsx", "invoices")


@bp.route("/events/<int:event_id>/remind", methods=["POST"])
@roles_required(*ROLES)
def remind(event_id: int):
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        batch = send_reminders(event.id, "invoice_details", today=china_today(),
                               actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".queue", event_id=event.id, state="waiting"))
    db.session.commit()
    flash(f"已发送开票信息补充提醒 {len(batch.sent)} 封"
          + (f"，今日已提醒过的 {len(batch.skipped)} 个单位未重复发送" if batch.skipped else "")
          + "。", "success")
    return redirect(url_for(".queue", event_id=event.id, state="waiting"))


@bp.route("/events/<int:event_id>/upload", methods=["POST"])
@roles_required(*ROLES)
def upload(event_id: int):
    event = event_or_404(event_id)
    form = UploadInvoicesForm()
    if form.validate_on_submit():
        try:
            upload = invoice_service.upload_invoices(event, form.file.data, actor=actor_name(),
                                                     user_id=current_user.id)
        except ServiceError as error:
            db.session.rollback()
            show_beside_field(form, error) or flash(error.message, "error")
        else:
            db.session.commit()
            return redirect(url_for(".upload_result", upload_id=upload.id))
    return _queue_page(event, upload_form=form, status=422)


@bp.route("/uploads/<int:upload_id>")
@roles_required(*ROLES)
def upload_result(upload_id: int):
    upload = db.get_or_404(InvoiceUpload, upload_id)
    from .jobs import job_state

    state = job_state(upload.job) if upload.job else None
    return render_template("admin/invoices/upload.html", upload=upload, event=upload.event,
                           state=state, labels=invoice_service.OUTCOME_LABELS,
                           summary=invoice_service.upload_summary(upload))


@bp.route("/issued/<int:invoice_id>/resolve", methods=["POST"])
@roles_required(*ROLES)
def resolve(invoice_id: int):
    invoice = db.get_or_404(IssuedInvoice, invoice_id)
    event = event_or_404(invoice.event_id)
    form = ResolveForm(prefix=f"r{invoice.id}")
    form.request_id.choices = []
    if not form.validate_on_submit():
        abort(400)
    accept = request.form.get("decision") != "reject"
    raw = form.request_id.data or ""
    try:
        invoice_service.resolve_held(invoice.id, int(raw) if ROW_ID.fullmatch(raw) else None,
                                     accept=accept, note=form.note.data or "",
                                     actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        show_beside_field(form, error) or flash(error.message, "error")
        return _queue_page(event, resolve_forms={invoice.id: form}, status=422)
    db.session.commit()
    flash(f"发票 {invoice.number} " + ("已匹配" if accept else "已退回") + "。", "success")
    return redirect(url_for(".queue", event_id=event.id))


@bp.route("/requests/<int:request_id>/reverse", methods=["POST"])
@roles_required(*ROLES)
def reverse(request_id: int):
    invoice_request = db.get_or_404(InvoiceRequest, request_id)
    event = event_or_404(invoice_request.event_id)
    form = ReversalForm(prefix=f"v{request_id}")
    if form.validate_on_submit():
        try:
            red = invoice_service.record_reversal(request_id, form.number.data,
                                                  actor=actor_name(), red_file=form.file.data,
                                                  issued_on=form.issued_on.data)
        except ServiceError as error:
            db.session.rollback()
            show_beside_field(form, error) or flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"已登记红字发票 {red.number}。", "success")
            return redirect(url_for(".queue", event_id=event.id, state="to_reverse"))
    return _queue_page(event, reversal_forms={request_id: form}, status=422)


@bp.route("/changes/<int:change_id>", methods=["POST"])
@roles_required(*ROLES)
def decide(change_id: int):
    change = db.get_or_404(InvoiceChange, change_id)
    event = event_or_404(change.registration.event_id)
    form = DecideChangeForm()
    if not form.validate_on_submit():
        abort(400)
    accept = request.form.get("decision") == "accept"
    try:
        invoice_service.decide_change(change.id, accept, form.note.data or "", actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        show_beside_field(form, error) or flash(error.message, "error")
        return _queue_page(event, change_form=form, status=422)
    db.session.commit()
    flash("已接受修改。" if accept else "已不接受修改，单位页面会显示原因。", "success")
    return redirect(url_for(".queue", event_id=event.id))


@bp.route("/issued/<int:invoice_id>.<kind>")
@roles_required(*ROLES)
def issued_file(invoice_id: int, kind: str):
    invoice = db.get_or_404(IssuedInvoice, invoice_id)
    stored = getattr(invoice, f"{kind}_file", None) if kind in ("pdf", "ofd", "xml") else None
    if stored is None:
        abort(404)
    return stored_file_response(stored, f"invoice-{invoice.number}", inline=())
