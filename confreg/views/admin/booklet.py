"""The proceedings booklet (材料汇编) of an event's selected materials, as PDF and .docx.

Laying out the booklet of a big event takes a while: the buttons start a job for the
background worker and lead to its progress page (views/admin/jobs.py).
"""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ...extensions import db
from ...forms.jobs import StartJobForm
from ...models import Job
from ...services.booklet import booklet_entries
from ...services.jobs import start_job
from .access import actor_name, roles_required
from .events import event_or_404
from .jobs import redirect_to_job

bp = Blueprint("admin_booklet", __name__, url_prefix="/admin/events/<int:event_id>/booklet")

# Compiling and printing the booklet is the secretariat's job (admin always).
BOOKLET_ROLES = ("staff",)
RECENT_JOBS = 5


def recent_jobs(event, kinds: tuple[str, ...]) -> list[Job]:
    """The event's latest jobs of these kinds, newest first, for the page that starts them."""
    return db.session.scalars(select(Job).where(Job.event_id == event.id, Job.kind.in_(kinds))
                              .order_by(Job.id.desc()).limit(RECENT_JOBS)).all()


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
    return render_template("admin/booklet/show.html", event=event, entries=entries, counts=counts,
                           form=StartJobForm(formdata=None),
                           jobs=recent_jobs(event, ("booklet_pdf", "booklet_docx")))


def _start(event_id: int, kind: str):
    event = event_or_404(event_id)
    if not StartJobForm().validate():
        flash("页面已过期，请重试。", "error")
        return redirect(url_for(".show", event_id=event.id))
    job = start_job(kind, event=event, actor=actor_name(), user_id=current_user.id)
    db.session.commit()
    return redirect_to_job(job)


@bp.route("/booklet.pdf", methods=["POST"])
@roles_required(*BOOKLET_ROLES)
def pdf(event_id: int):
    return _start(event_id, "booklet_pdf")


@bp.route("/booklet.docx", methods=["POST"])
@roles_required(*BOOKLET_ROLES)
def docx(event_id: int):
    return _start(event_id, "booklet_docx")
