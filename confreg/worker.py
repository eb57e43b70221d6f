"""The background worker: huey, with its queue in an SQLite file (the embedded default that
`make run` uses, nothing to install) or in Redis (the scale-out set-up).

Each app gets its own huey instance (create_app -> init_worker), holding the tasks of
confreg/tasks.py bound to that app: a task runs in an app context of the app that made it,
so the tests' app and its worker share their configuration (mail server, upload folder).

What the worker does and what the database keeps:
- Mail: the outbox table is the source of truth. A commit that queued mail hands the ids to
  the worker (`send_mail`); the worker claims each row with one UPDATE (so of two workers
  only one sends it) and records the result. `sweep_mail`, every minute, sends whatever a
  lost task missed and retries what failed, with the back-off of notifications.py.
- Periodic jobs: huey's scheduler runs in the worker started without --no-periodic (run
  exactly one such worker); their times are China time (the tasks' `at_china_time`).
- Long jobs (services/jobs.py): a Job row is committed first, then its id is queued; the
  row carries the progress the page shows and the result file.
"""
import functools
import logging
import os
import socket
import tempfile
import threading
from datetime import timedelta
from urllib.parse import urlsplit

from huey import Huey
from huey.storage import RedisStorage, SqliteStorage

log = logging.getLogger(__name__)

# Registered by confreg/tasks.py: name -> (function, huey options); periodic ones also have
# a validate(datetime) -> bool of when to run.
TASKS: dict[str, tuple] = {}
PERIODIC: dict[str, tuple] = {}


def task(**options):
    """Declare a worker task (a thin wrapper around one service call)."""
    def register(func):
        TASKS[func.__name__] = (func, options)
        return func
    return register


def periodic(schedule, **options):
    """Declare a periodic task; schedule(app config) gives the validate(utc datetime) -> bool
    that says whether it is due that minute."""
    def register(func):
        PERIODIC[func.__name__] = (func, schedule, options)
        return func
    return register


def storage_options(url: str) -> dict:
    """huey's storage class and arguments for WORKER_BROKER_URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        filename = url.split(":///", 1)[1] if ":///" in url else ""
        if not filename:
            raise RuntimeError(f"WORKER_BROKER_URL {url!r}: sqlite:///<file> expected")
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        return {"storage_class": SqliteStorage, "filename": filename, "timeout": 30}
    if parts.scheme in ("redis", "rediss", "unix"):
        return {"storage_class": RedisStorage, "url": url}
    raise RuntimeError(f"WORKER_BROKER_URL {url!r}: use sqlite:///<file> or redis://host/db")


class Worker:
    """The app's huey instance and its tasks."""

    def __init__(self, app):
        from . import tasks  # noqa: F401  (fills TASKS and PERIODIC)

        self.app = app
        # An app made without a queue of its own (a test's extra app) gets a private file.
        self.url = app.config.get("WORKER_BROKER_URL") or \
            f"sqlite:///{tempfile.gettempdir()}/confreg-worker-{os.getpid()}-{id(app)}.db"
        self.huey = Huey(app.config.get("WORKER_QUEUE_NAME") or "confreg", results=False,
                         utc=True, **storage_options(self.url))
        self._tasks = {}
        for name, (func, options) in TASKS.items():
            self._tasks[name] = self.huey.task(name=name, **options)(self._in_app(func))
        for name, (func, schedule, options) in PERIODIC.items():
            self._tasks[name] = self.huey.periodic_task(schedule(app.config), name=name,
                                                        **options)(
                self._in_app(func))

    def _in_app(self, func):
        app = self.app

        @functools.wraps(func)
        def run(*args, **kwargs):
            from .extensions import db

            with app.app_context():
                try:
                    return func(*args, **kwargs)
                except Exception:
                    db.session.rollback()
                    raise
                finally:
                    db.session.remove()
        return run

    def enqueue(self, name: str, *args, **kwargs) -> None:
        """Queue a task; the database row it works on is already committed."""
        self._tasks[name](*args, **kwargs)

    def call(self, name: str, *args, **kwargs):
        """Run a task's function here and now, outside the queue (CLI commands, tests)."""
        return self._tasks[name].call_local(*args, **kwargs)

    def queue_length(self) -> int | None:
        """Tasks waiting in the queue, or None when the broker cannot be reached."""
        try:
            return self.huey.pending_count()
        except Exception:  # noqa: BLE001 -- the status page shows "unreachable"
            return None

    def scheduled_count(self) -> int | None:
        try:
            return self.huey.scheduled_count()
        except Exception:  # noqa: BLE001
            return None

    def consumer(self, *, workers: int = 2, periodic: bool = True, **options):
        """huey's consumer for this app: worker threads and, if periodic, the scheduler."""
        settings = dict(workers=workers, periodic=periodic, worker_type="thread",
                        initial_delay=0.05, backoff=1.5, max_delay=1.0,
                        check_worker_health=True)
        settings.update(options)
        return self.huey.create_consumer(**settings)


def enqueue_after_commit(name: str, row_id: int) -> None:
    """Queue task `name` for a row of this transaction once it commits.

    Such tasks take the list of ids one transaction recorded (one message per commit, not
    per row); a rollback forgets them. If the queue cannot be reached, the rows wait in the
    database for the periodic sweeps.
    """
    from flask import g

    g.setdefault("after_commit_tasks", {}).setdefault(name, []).append(row_id)


def _dispatch(_session) -> None:
    from flask import current_app, g, has_app_context

    if not has_app_context():
        return
    for name, ids in g.pop("after_commit_tasks", {}).items():
        try:
            current_app.extensions["worker"].enqueue(name, ids)
        except Exception:  # noqa: BLE001 -- the broker is down: the sweep finds the rows
            current_app.logger.exception("%s %s not handed to the worker; the sweep will",
                                         name, ids)


def _forget(_session, previous_transaction) -> None:
    from flask import g, has_app_context

    # A savepoint rolled back inside the transaction keeps the transaction, and its tasks.
    if has_app_context() and previous_transaction.parent is None \
            and not previous_transaction.nested:
        g.pop("after_commit_tasks", None)


def dispatch_on_commit(session) -> None:
    """A commit hands what it queued to the worker; a rollback drops it."""
    from sqlalchemy import event

    if not event.contains(session, "after_soft_rollback", _forget):
        event.listen(session, "after_soft_rollback", _forget)
    if not event.contains(session, "after_commit", _dispatch):
        event.listen(session, "after_commit", _dispatch)


def init_worker(app) -> Worker:
    """Create the app's worker queue (not the consumer: `flask worker` runs that)."""
    worker = Worker(app)
    app.extensions["worker"] = worker
    return worker


def current_worker() -> Worker:
    from flask import current_app

    return current_app.extensions["worker"]


HEARTBEAT_SECONDS = 20
# A worker not heard of for this long is shown as stopped on the status page.
HEARTBEAT_STALE = timedelta(seconds=3 * HEARTBEAT_SECONDS)


class Heartbeat:
    """A thread of the worker process that records, every HEARTBEAT_SECONDS, that it lives."""

    def __init__(self, app, *, threads: int, periodic: bool):
        self.app = app
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.threads, self.periodic = threads, periodic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.beat(stopping=True)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 -- the database may be restarting; try again
                log.exception("worker heartbeat not recorded")

    def beat(self, *, stopping: bool = False) -> None:
        from .database import utcnow
        from .extensions import db
        from .models import WorkerHeartbeat

        with self.app.app_context():
            try:
                now = utcnow()
                row = db.session.get(WorkerHeartbeat, self.name)
                if row is None:
                    row = WorkerHeartbeat(name=self.name, hostname=socket.gethostname(),
                                          pid=os.getpid(), started_at=now)
                    db.session.add(row)
                row.threads, row.periodic, row.seen_at = self.threads, self.periodic, now
                row.stopped_at = now if stopping else None
                db.session.commit()
            finally:
                db.session.remove()
