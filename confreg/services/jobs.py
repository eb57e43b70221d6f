"""Long jobs: started from a page, run by the background worker, their progress on the page.

start_job() commits a Job row and queues its id; the worker's run_job() claims the row
(queued -> running, one UPDATE: two workers never run one job), calls the job's runner
with a progress callback, keeps the result file under UPLOAD_DIR/jobs/ (storage every app
instance shares) and marks the row done or failed. A job whose worker died is found by
recover_stalled_jobs() (no sign of life for JOB_STALL) and run again, at most
MAX_JOB_ATTEMPTS times; every runner is safe to run twice.
"""
import json
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from flask import current_app
from sqlalchemy import select, update

from ..database import begin_write, utcnow, write_intent
from ..extensions import db
from ..models import Event, Job
from ..worker import enqueue_after_commit
from . import ServiceError
from .uploads import MIME_TYPES, upload_dir

log = logging.getLogger(__name__)

JOB_STALL = timedelta(minutes=5)
MAX_JOB_ATTEMPTS = 3
# Progress is written at most this often (and always at the end): a separate short write.
PROGRESS_INTERVAL_S = 0.3

Progress = Callable[[int, int, str], None]


@dataclass
class JobOutcome:
    summary: str
    data: bytes | None = None
    name: str | None = None
    mime: str | None = None


@dataclass(frozen=True)
class JobKind:
    label: str
    run: Callable[[Job, Progress], JobOutcome]


JOB_KINDS: dict[str, JobKind] = {}


def job_kind(name: str, label: str):
    """Register the runner of a kind of job."""
    def register(run):
        JOB_KINDS[name] = JobKind(label, run)
        return run
    return register


def start_job(kind: str, *, event: Event | None = None, params: dict | None = None,
              actor: str, user_id: int | None = None) -> Job:
    """Record a job and queue it for the worker (after this transaction commits)."""
    if kind not in JOB_KINDS:
        raise ServiceError("未知的任务类型。")
    begin_write(db.session)
    job = Job(kind=kind, event_id=event.id if event else None,
              params=json.dumps(params or {}, ensure_ascii=False), status="queued",
              started_by=actor, user_id=user_id, created_at=utcnow(), step="排队等待后台处理")
    db.session.add(job)
    db.session.flush()
    enqueue_after_commit("run_jobs", job.id)
    return job


def job_params(job: Job) -> dict:
    return json.loads(job.params or "{}")


def _claim(job_id: int) -> bool:
    begin_write(db.session)
    now = utcnow()
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued")
        .values(status="running", attempts=Job.attempts + 1, started_at=now, touched_at=now,
                step="开始处理")
    ).rowcount
    db.session.commit()
    return claimed == 1


def _progress_writer(job_id: int) -> Progress:
    last = [0.0]

    def progress(done: int, total: int, step: str = "") -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_INTERVAL_S and done < total:
            return
        last[0] = now
        # Its own short transaction on its own connection: the page sees it at once, and
        # the job's session keeps what it has loaded.
        with write_intent(True), db.engine.begin() as connection:
            connection.execute(update(Job).where(Job.id == job_id).values(
                done=max(0, done), total=max(0, total), step=step[:200], touched_at=utcnow()))
    return progress


def run_job(job_id: int) -> str:
    """Run a queued job (the worker calls this); return its final status."""
    if not _claim(job_id):
        return "skipped"  # already run, running elsewhere, or gone
    runner = None
    try:
        # Read first, as a request does (the transaction begins here, as a reader): the
        # runner's services lock (begin_write) only to write, so on SQLite the progress
        # writes on their own connection are not kept waiting behind the job's session.
        with write_intent(False):
            job = db.session.get(Job, job_id)
            runner = JOB_KINDS[job.kind]
            outcome = runner.run(job, _progress_writer(job.id))
    except ServiceError as error:
        db.session.rollback()
        return _finish(job_id, "failed", error=error.message)
    except Exception as exc:  # noqa: BLE001 -- the page says it failed; the log says why
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, runner.label if runner else "?")
        return _finish(job_id, "failed", error=f"处理出错（{type(exc).__name__}），已记录，请重试或联系管理员。")
    db.session.commit()
    path = _save_result(job_id, outcome) if outcome.data is not None else None
    return _finish(job_id, "done", outcome=outcome, path=path)


def _save_result(job_id: int, outcome: JobOutcome) -> str:
    folder = upload_dir() / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    extension = Path(outcome.name or "").suffix or ".bin"
    name = f"{job_id}-{secrets.token_hex(8)}{extension}"
    fd, draft = tempfile.mkstemp(dir=folder, prefix=".job-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(outcome.data)
        os.replace(draft, folder / name)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
    return name


def _finish(job_id: int, status: str, *, error: str = "", outcome: JobOutcome | None = None,
            path: str | None = None) -> str:
    begin_write(db.session)
    job = db.session.get(Job, job_id, populate_existing=True)
    if job is None:
        db.session.commit()
        return "skipped"
    job.status, job.error, job.finished_at = status, error, utcnow()
    job.touched_at = job.finished_at
    if outcome is not None:
        job.summary = outcome.summary[:500]
        job.done = job.total = max(job.total, 1)
        job.step = ""  # the status says it: 已完成
        if path is not None:
            job.result_path, job.result_name = path, outcome.name
            job.result_mime, job.result_size = outcome.mime, len(outcome.data)
    else:
        job.step = "失败"
    db.session.commit()
    return status


def job_result_path(job: Job) -> Path | None:
    """Where a finished job's file is, or None (no file, or it has expired)."""
    if not job.result_path:
        return None
    path = upload_dir() / "jobs" / job.result_path
    return path if path.is_file() else None


def recover_stalled_jobs(now=None) -> int:
    """Queue again the jobs a dead worker left (or a lost message never started)."""
    now = now or utcnow()
    cutoff = now - JOB_STALL
    begin_write(db.session)
    stalled = db.session.scalars(
        select(Job).where(
            ((Job.status == "running") & (Job.touched_at < cutoff))
            | ((Job.status == "queued") & (Job.created_at < now - timedelta(minutes=2))))
        .order_by(Job.id)
    ).all()
    again = []
    for job in stalled:
        if job.status == "running" and job.attempts >= MAX_JOB_ATTEMPTS:
            job.status, job.finished_at, job.step = "failed", now, "失败"
            job.error = "后台任务多次中断，已放弃，请重新发起。"
        else:
            job.status, job.step = "queued", "重新排队（上次处理中断）"
            again.append(job.id)
    db.session.flush()
    for job_id in again:
        enqueue_after_commit("run_jobs", job_id)
    return len(again)


def prune_job_results(older_than: timedelta) -> int:
    """Delete the files of jobs finished before `older_than`; the rows stay (the history)."""
    begin_write(db.session)
    cutoff = utcnow() - older_than
    old = db.session.scalars(select(Job).where(Job.finished_at < cutoff,
                                               Job.result_path.is_not(None))).all()
    removed = 0
    for job in old:
        path = upload_dir() / "jobs" / job.result_path
        if path.exists():
            path.unlink()
            removed += 1
        job.result_path = None
    db.session.flush()
    return removed


# --- the runners --------------------------------------------------------------------------

def _event_of(job: Job) -> Event:
    event = db.session.get(Event, job.event_id)
    if event is None:
        raise ServiceError("活动不存在。")
    return event


def _booklet(job: Job, progress: Progress, *, docx: bool) -> JobOutcome:
    from ..pdf.booklet import render_booklet, render_booklet_docx
    from .booklet import booklet_entries, booklet_of

    event = _event_of(job)
    entries = booklet_entries(event)  # none yet: a cover and a note, as a draft to look at
    total = len(entries) + 1
    progress(0, total, "读取入选材料")
    booklet = booklet_of(event, entries)
    name = f"材料汇编-{event.short_title or event.id}"
    count = len(booklet.materials)
    if docx:
        data = render_booklet_docx(booklet)
        return JobOutcome(f"材料汇编 Word 版：{count} 篇。", data, f"{name}.docx",
                          MIME_TYPES["docx"])
    data = render_booklet(booklet, progress=lambda done: progress(
        done, total, f"排版第 {min(done + 1, count)}/{count} 篇"))
    return JobOutcome(f"材料汇编 PDF：{count} 篇。", data, f"{name}.pdf", MIME_TYPES["pdf"])


@job_kind("booklet_pdf", "材料汇编（PDF）")
def _booklet_pdf(job: Job, progress: Progress) -> JobOutcome:
    return _booklet(job, progress, docx=False)


@job_kind("booklet_docx", "材料汇编（Word）")
def _booklet_docx(job: Job, progress: Progress) -> JobOutcome:
    return _booklet(job, progress, docx=True)


@job_kind("certificates_issue", "批量生成证书")
def _certificates_issue(job: Job, progress: Progress) -> JobOutcome:
    from ..models.certificates import CERTIFICATE_KINDS
    from .certificates import issue_certificates

    event = _event_of(job)
    kind = job_params(job)["kind"]
    progress(0, 1, "编号并生成证书")
    issued = issue_certificates(event, kind, actor=job.started_by)
    label = CERTIFICATE_KINDS[kind][0]
    if not issued:
        return JobOutcome(f"没有需要生成的{label}：符合条件的都已发证。")
    return JobOutcome(f"已生成{label} {len(issued)} 张（{issued[0].number}"
                      f"{' 至 ' + issued[-1].number if len(issued) > 1 else ''}）。")


@job_kind("certificates_pdf", "打印全部证书")
def _certificates_pdf(job: Job, progress: Progress) -> JobOutcome:
    from ..models.certificates import CERTIFICATE_KINDS
    from ..pdf.certificate import render_certificates
    from .certificates import certificate_document_of, certificates_of

    event = _event_of(job)
    kind = job_params(job)["kind"]
    label = CERTIFICATE_KINDS[kind][0]
    issued = [c for c in certificates_of(event, kind) if not c.is_void]
    if not issued:
        raise ServiceError(f"还没有有效的{label}可打印。")
    documents = []
    for index, certificate in enumerate(issued):
        documents.append(certificate_document_of(certificate))
        progress(index + 1, len(issued) + 1, f"准备第 {index + 1}/{len(issued)} 张")
    data = render_certificates(documents)
    return JobOutcome(f"{label} {len(issued)} 张，每张一页。", data,
                      f"{label}-{event.short_title or event.id}.pdf", MIME_TYPES["pdf"])
