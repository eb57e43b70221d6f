"""The worker's tasks: each loads what it needs by id, calls one service and commits.

The rules stay in the services, so that a page, a CLI command and the worker share them.
"""
import logging
from datetime import datetime, timedelta, timezone

from flask import current_app

from .extensions import db
from .timeutil import CHINA
from .worker import periodic, task

log = logging.getLogger(__name__)


def at_china_time(hour: int | None = None, minute: int = 0, *, every_minutes: int | None = None):
    """A huey schedule in China time: daily at hour:minute, or every n minutes."""
    def due(moment: datetime) -> bool:
        # huey passes the minute as naive UTC (Huey(utc=True)).
        local = moment.replace(tzinfo=timezone.utc).astimezone(CHINA)
        if every_minutes is not None:
            return (local.hour * 60 + local.minute) % every_minutes == 0
        return local.hour == hour and local.minute == minute
    return due


def daily_at(setting: str):
    """The schedule of a daily task whose China time ("HH:MM") is the app's config[setting]."""
    def schedule(config):
        hour, minute = config[setting].split(":")
        return at_china_time(int(hour), int(minute))
    return schedule


@task()
def send_mail(ids: list[int]) -> int:
    """Send the outbox rows a commit just queued (claimed one by one: never twice)."""
    from .notifications import deliver_mail

    return deliver_mail(ids)


@periodic(lambda config: at_china_time(every_minutes=1))
def sweep_mail() -> int:
    """Send every mail that is due: ones a lost task missed, and retries after back-off."""
    from .notifications import deliver_mail

    return deliver_mail()


@periodic(daily_at("REMINDERS_AT"))
def send_scheduled_reminders() -> int:
    """The day's reminders (services.reminders.SCHEDULED_REMINDERS), at REMINDERS_AT China time."""
    from .services import ServiceError
    from .services.reminders import scheduled_reminders_due, send_reminders
    from .timeutil import china_today

    today = china_today()
    due = scheduled_reminders_due(today)
    db.session.commit()
    sent = 0
    for event_id, kind in due:
        try:
            batch = send_reminders(event_id, kind, today=today, actor="定时任务")
        except ServiceError as error:
            db.session.rollback()
            log.warning("reminder %s for event %s not sent: %s", kind, event_id, error.message)
            continue
        db.session.commit()  # hands its mail to the worker
        sent += len(batch.sent)
    return sent


@periodic(daily_at("UPLOADS_PRUNE_AT"))
def prune_uploads() -> tuple[int, int]:
    """Forget uploads of case forms never sent, and expired job results."""
    from .services.jobs import prune_job_results
    from .services.uploads import prune_unattached

    rows, files = prune_unattached(timedelta(hours=24))
    db.session.commit()
    jobs = prune_job_results(timedelta(days=current_app.config["JOB_RESULT_DAYS"]))
    db.session.commit()
    return rows, files + jobs


@task()
def run_jobs(ids: list[int]) -> None:
    """Run long jobs (services/jobs.py): each row records its progress and result."""
    from .services.jobs import run_job

    for job_id in ids:
        run_job(job_id)


@periodic(lambda config: at_china_time(every_minutes=1))
def recover_stalled_jobs() -> int:
    """Queue again the jobs whose worker died or whose message was lost."""
    from .services.jobs import recover_stalled_jobs as recover

    count = recover()
    db.session.commit()
    return count


@task()
def request_private_link(code: str, email: str) -> None:
    """A /recover form: look the code up and mail the confirm link (services/recovery.py)."""
    from .database import utcnow
    from .services.recovery import request_link

    request_link(code, email, now=utcnow())
    db.session.commit()  # hands the mail, if any, to the worker
