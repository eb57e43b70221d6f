"""Reminders: choose one, preview who gets it, send it (never twice a day to a unit)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf, InputRequired

from ...extensions import db
from ...models.reminders import REMINDER_KINDS
from ...notifications import render_mail
from ...services import ServiceError
from ...services.reminders import (reminder_kinds, reminder_mail_context, reminder_recipients,
                                  send_reminders)
from ...timeutil import china_today
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_reminders", __name__, url_prefix="/admin/events")


class SendRemindersForm(FlaskForm):
    kind = HiddenField("提醒类型", [InputRequired("请选择提醒类型。"),
                                   AnyOf(list(REMINDER_KINDS), message="请选择提醒类型。")])


def _page(event, kind: str | None, form: SendRemindersForm, *, status: int = 200):
    today = china_today()
    kinds = reminder_kinds(event, today)
    chosen = next((c for c in kinds if c.kind == kind), None)
    recipients = reminder_recipients(event, kind, today) if chosen and chosen.available else []
    if chosen and form.kind.data is None:
        form.kind.data = chosen.kind
    sample = next((r for r in recipients if not r.sent_today), None)
    if sample is not None:
        subject, body = render_mail(f"reminder_{kind}", reminder_mail_context(event, sample, today))
        sample = {"to": sample.contact_email, "subject": subject, "body": body}
    return render_template(
        "admin/reminders/index.html", event=event, kinds=kinds, chosen=chosen,
        recipients=recipients, to_send=sum(not r.sent_today for r in recipients),
        sample=sample, form=form, today=today,
    ), status


@bp.route("/<int:event_id>/reminders")
@roles_required("staff")
def index(event_id: int):
    event = event_or_404(event_id)
    return _page(event, request.args.get("kind"), SendRemindersForm())


@bp.route("/<int:event_id>/reminders", methods=["POST"])
@roles_required("staff")
def send(event_id: int):
    event = event_or_404(event_id)
    form = SendRemindersForm()
    if not form.validate_on_submit():
        return _page(event, form.kind.data, form, status=422)
    try:
        batch = send_reminders(event.id, form.kind.data, today=china_today(),
                               actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        form.kind.errors = [error.message]
        return _page(event, form.kind.data, form, status=422)
    db.session.commit()
    label = REMINDER_KINDS[batch.kind]
    if batch.sent:
        flash(f"已发送{label}：{len(batch.sent)} 个单位"
              + (f"；{len(batch.skipped)} 个单位今天已发过，已跳过。" if batch.skipped else "。"),
              "success")
    else:
        flash(f"没有需要发送的{label}"
              + (f"：{len(batch.skipped)} 个单位今天已发过。" if batch.skipped else "。"), "info")
    return redirect(url_for(".index", event_id=event.id, kind=batch.kind))
