"""系统状态, for admins: is the worker alive, how long is its queue, which mail failed.

What an operator looks at first when "the mail did not come": the heartbeat of every
`flask worker` process (worker.Heartbeat), the queue in the broker, the outbox rows that are
due or failed, and the latest long jobs.
"""
from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from ...database import utcnow
from ...extensions import db
from ...models import Job, OutboundMail, WorkerHeartbeat
from ...services.jobs import JOB_KINDS
from ...worker import HEARTBEAT_STALE
from .access import roles_required

bp = Blueprint("admin_system", __name__, url_prefix="/admin/system")


@bp.route("/")
@roles_required("admin")
def index():
    now = utcnow()
    worker = current_app.extensions["worker"]
    beats = db.session.scalars(select(WorkerHeartbeat)
                               .order_by(WorkerHeartbeat.seen_at.desc()).limit(20)).all()
    workers = [{"beat": beat,
                "state": ("stopped" if beat.stopped_at is not None
                          else "stale" if now - beat.seen_at > HEARTBEAT_STALE else "alive")}
               for beat in beats]
    counts = dict(db.session.execute(
        select(OutboundMail.status, func.count()).group_by(OutboundMail.status)).all())
    due = db.session.scalar(select(func.count()).select_from(OutboundMail)
                            .where(OutboundMail.status == "pending",
                                   OutboundMail.next_attempt_at <= now))
    failed = db.session.scalars(select(OutboundMail).where(OutboundMail.status == "failed")
                                .order_by(OutboundMail.id.desc()).limit(20)).all()
    jobs = db.session.scalars(select(Job).order_by(Job.id.desc()).limit(10)).all()
    labels = {name: kind.label for name, kind in JOB_KINDS.items()}
    return render_template(
        "admin/system/index.html", workers=workers,
        alive=sum(1 for w in workers if w["state"] == "alive"),
        scheduler=any(w["state"] == "alive" and w["beat"].periodic for w in workers),
        queue_length=worker.queue_length(), scheduled=worker.scheduled_count(),
        broker=worker.url.split("://", 1)[0], counts=counts, due=due, failed=failed, jobs=jobs,
        labels=labels)
