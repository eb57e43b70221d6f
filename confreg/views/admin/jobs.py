"""Long jobs on the desk: the page that shows a job's progress, its status, its file.

A job is seen by the roles that may start its kind (the booklet's and the certificates'
roles: staff; admin always); the job page polls /status with static/js/job-progress.js,
or, without JavaScript, reloads itself every few seconds until the job has finished.
"""
from flask import Blueprint, abort, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user

from ...extensions import db
from ...models import Job
from ...services.jobs import JOB_KINDS, job_result_path
from ..files import set_download_name
from .access import roles_required

bp = Blueprint("admin_jobs", __name__, url_prefix="/admin/jobs")

# Who may see a job of each kind: the roles of the page that starts it (admin always).
JOB_ROLES = {"booklet_pdf": {"staff"}, "booklet_docx": {"staff"},
             "certificates_issue": {"staff"}, "certificates_pdf": {"staff"},
             "bank_statement": {"finance"}, "invoice_files": {"finance"}}
ROLES = sorted(set().union(*JOB_ROLES.values()))


def job_or_404(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or (current_user.role != "admin"
                       and current_user.role not in JOB_ROLES.get(job.kind, ())):
        abort(404)
    return job


def job_state(job: Job) -> dict:
    """What the page and its script show of a job."""
    return {"id": job.id, "status": job.status, "status_label": job.status_label,
            "done": job.done, "total": job.total, "percent": job.percent, "step": job.step,
            "summary": job.summary, "error": job.error, "finished": job.finished,
            "file_url": url_for(".file", job_id=job.id) if job.result_path else None,
            "file_name": job.result_name}


@bp.route("/<int:job_id>")
@roles_required(*ROLES)
def show(job_id: int):
    job = job_or_404(job_id)
    return render_template("admin/jobs/show.html", job=job, label=JOB_KINDS[job.kind].label,
                           state=job_state(job), file_ready=job_result_path(job) is not None,
                           back=_back_url(job))


@bp.route("/<int:job_id>/status")
@roles_required(*ROLES)
def status(job_id: int):
    response = jsonify(job_state(job_or_404(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:job_id>/file")
@roles_required(*ROLES)
def file(job_id: int):
    job = job_or_404(job_id)
    path = job_result_path(job)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=job.result_mime, max_age=0)
    set_download_name(response, "inline" if job.result_mime == "application/pdf" else "attachment",
                      job.result_name or path.name)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back_url(job: Job) -> str | None:
    if job.kind == "bank_statement":
        from ...services.jobs import job_params

        return url_for("admin_bank.statement", statement_id=job_params(job)["statement_id"])
    if job.event_id is None:
        return None
    if job.kind.startswith("booklet"):
        return url_for("admin_booklet.show", event_id=job.event_id)
    if job.kind.startswith("certificates"):
        return url_for("admin_certificates.index", event_id=job.event_id)
    return None


def redirect_to_job(job: Job):
    return redirect(url_for("admin_jobs.show", job_id=job.id))
