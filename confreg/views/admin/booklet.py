"""The proceedings booklet (材料汇编) of an event's selected materials, as PDF and .docx."""
from io import BytesIO

from flask import Blueprint, render_template, send_file

from ...pdf.booklet import render_booklet, render_booklet_docx
from ...services.booklet import booklet_entries, booklet_of
from ...services.uploads import MIME_TYPES
from .access import roles_required
from .events import event_or_404

bp = Blueprint("admin_booklet", __name__, url_prefix="/admin/events/<int:event_id>/booklet")

# Compiling and printing the booklet is the secretariat's job (admin always).
BOOKLET_ROLES = ("staff",)


def _file_name(event, extension: str) -> str:
    return f"材料汇编-{event.short_title or event.id}.{extension}"


@bp.route("")
@roles_required(*BOOKLET_ROLES)
def show(event_id: int):
    event = event_or_404(event_id)
    entries = booklet_entries(event)
    counts = {
        "total": len(entries),
        "docx": sum(1 for e in entries if e.kind == "docx"),
        "pdf": sum(1 for e in entries if e.kind == "pdf"),
        "warned": sum(1 for e in entries if e.warnings),
        "characters": sum(e.submission.char_count for e in entries),
    }
    return render_template("admin/booklet/show.html", event=event, entries=entries, counts=counts)


@bp.route("/booklet.pdf")
@roles_required(*BOOKLET_ROLES)
def pdf(event_id: int):
    event = event_or_404(event_id)
    response = send_file(BytesIO(render_booklet(booklet_of(event))), mimetype=MIME_TYPES["pdf"],
                         download_name=_file_name(event, "pdf"))
    response.headers["Cache-Control"] = "no-store"  # selection may still change
    return response


@bp.route("/booklet.docx")
@roles_required(*BOOKLET_ROLES)
def docx(event_id: int):
    event = event_or_404(event_id)
    response = send_file(BytesIO(render_booklet_docx(booklet_of(event))),
                         mimetype=MIME_TYPES["docx"], as_attachment=True,
                         download_name=_file_name(event, "docx"))
    response.headers["Cache-Control"] = "no-store"
    return response
