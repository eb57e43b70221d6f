"""The print desk: participant list and sign-in sheets of an event, as PDFs."""
from datetime import date
from io import BytesIO

from flask import Blueprint, render_template, request, send_file

from ...forms.printing import ParticipantListForm, SigninSheetForm
from ...pdf.lists import render_participant_list, render_signin_sheet
from ...services.lists import event_days, participant_list_of, signin_sheet_of
from ...timeutil import china_today, format_month_day_cn, format_weekday_cn
from .access import roles_required
from .events import event_or_404

bp = Blueprint("admin_print", __name__, url_prefix="/admin/events/<int:event_id>/print")

# Lists and printing are the on-site staff's (and may show numbers in full); finance has the money.
PRINT_ROLES = ("staff",)


def _signin_form(event, formdata=None) -> SigninSheetForm:
    form = SigninSheetForm(formdata=formdata)
    days = event_days(event)
    form.day.choices = [(d.isoformat(), f"{format_month_day_cn(d)}（{format_weekday_cn(d)}）")
                        for d in days]
    if formdata is None:
        today = china_today()
        form.day.data = (today if today in days else days[0]).isoformat()
    return form


def _page(event, signin_form=None, status=200):
    return render_template(
        "admin/print/index.html", event=event, participants_form=ParticipantListForm(formdata=None),
        signin_form=signin_form or _signin_form(event),
    ), status


def _pdf(content: bytes, filename: str):
    response = send_file(BytesIO(content), mimetype="application/pdf", download_name=filename)
    # Names and mobile numbers: no copy in shared or browser caches.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("")
@roles_required(*PRINT_ROLES)
def index(event_id: int):
    return _page(event_or_404(event_id))


@bp.route("/participants.pdf")
@roles_required(*PRINT_ROLES)
def participants(event_id: int):
    event = event_or_404(event_id)
    form = ParticipantListForm(formdata=request.args)
    data = participant_list_of(event, show_in_full=form.full.data, today=china_today())
    return _pdf(render_participant_list(data), f"参会人员名单-{event.short_title or event.id}.pdf")


@bp.route("/signin.pdf")
@roles_required(*PRINT_ROLES)
def signin(event_id: int):
    event = event_or_404(event_id)
    form = _signin_form(event, request.args)
    if not form.validate():
        return _page(event, form, 422)
    day = date.fromisoformat(form.day.data)
    data = signin_sheet_of(event, day, show_in_full=form.full.data)
    return _pdf(render_signin_sheet(data),
                f"签到表-{event.short_title or event.id}-{day.isoformat()}.pdf")
