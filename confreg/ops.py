"""What the machine room needs from the app: /healthz for nginx and the load balancer, a
request id on every request and every log line, an access log line per request, and a
clear 503 page (never a traceback) while the database cannot be reached.

The request id comes from the proxy (nginx sends X-Request-ID: $request_id) when it looks
like one, else the app makes one; the response carries it back in X-Request-ID, so a
user's "请求编号" on a screenshot, nginx's log and the app's log name the same request.

A database that restarts is survived, not handled: the engine's pool_pre_ping (config.py)
replaces dead connections at checkout, so once the server answers again the next request
works without restarting the app. Requests caught in the gap get the 503 page.
"""
import logging
import re
import sys
import time
import uuid

from flask import Flask, current_app, g, has_request_context, jsonify, render_template, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from .extensions import csrf, db

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy may hand us: long enough to be unique, nothing that could forge a log line.
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# The URL parts that are a private link's secret (/r/<token>, /c/<token>, /recover/…/<signed>).
SECRET_VIEW_ARGS = frozenset({"token", "signed"})
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
HANDLER_NAME = "confreg.ops"
RETRY_AFTER_SECONDS = 5

# How the drivers say that the server is not there (refused, restarting, shut down, gone
# mid-query). Anything else -- a constraint, a deadlock -- is a bug or a conflict, not this.
DISCONNECT_MESSAGES = re.compile(
    "|".join([
        r"could not connect", r"connection refused", r"connection failed",
        r"connection to server .* failed", r"is the server running",
        r"server closed the connection", r"terminating connection",
        r"the database system is (?:starting up|shutting down|in recovery mode)",
        r"connection (?:is|was|has been) closed", r"no connection to the server",
        r"ssl connection has been closed", r"connection timed out", r"could not receive data",
        r"could not send data", r"unable to open database file",  # SQLite: the file's folder
    ]),
    re.IGNORECASE,
)

log = logging.getLogger(__name__)
access_log = logging.getLogger("confreg.access")


def request_id() -> str:
    """The id of the current request ("-" outside one), made on first use."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Give every log record the request id it was logged under."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


def database_unreachable(error: DBAPIError) -> bool:
    """Tell whether a driver error means the server cannot be reached (not a bad query)."""
    return bool(error.connection_invalidated) or \
        bool(DISCONNECT_MESSAGES.search(str(error.orig or error)))


def init_ops(app: Flask) -> None:
    """Add /healthz, request ids, the access log and the database-unreachable page."""
    if not app.config.get("TESTING") or app.config.get("LOG_REQUESTS"):
        _configure_logging(app)
    # First of all before_request functions (CSRF's included), so the clock starts first.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.url_value_preprocessor(_note_link_secrets)
    app.after_request(_finish_request)
    app.register_error_handler(DBAPIError, _database_error)
    # Runs before Flask-SQLAlchemy's own teardown (teardowns run last registered first).
    app.teardown_appcontext(_close_session)
    app.add_url_rule("/healthz", "healthz", csrf.exempt(healthz), methods=["GET", "HEAD"])


def _configure_logging(app: Flask) -> None:
    from flask.logging import default_handler

    logger = app.logger  # "confreg": the modules' loggers (confreg.worker, …) are below it
    for handler in list(logger.handlers):
        if handler is default_handler or handler.name == HANDLER_NAME:
            logger.removeHandler(handler)  # one handler however many apps a process makes
    handler = logging.StreamHandler(sys.stderr)
    handler.name = HANDLER_NAME
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.propagate = False  # `flask worker` also logs to the root: not every line twice


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response):
    response.headers[REQUEST_ID_HEADER] = request_id()
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    access_log.info("%s %s %s %.0fms", request.method, loggable_path(), response.status_code,
                    elapsed)
    return response


def loggable_path() -> str:
    """The path without its query string, private links' secrets cut to their first
    characters: a log is read by more people than the link was sent to."""
    path = request.path
    for secret in g.get("link_secrets", ()):
        path = path.replace(secret, secret[:4] + "…")
    return path


def _note_link_secrets(_endpoint, values) -> None:
    # Before the blueprints' own preprocessors, which take the token out of view_args.
    g.link_secrets = [value for name, value in (values or {}).items()
                      if name in SECRET_VIEW_ARGS and isinstance(value, str) and len(value) > 4]


def _database_error(error: DBAPIError):
    if not database_unreachable(error):
        raise error  # handled as before: the 500 page, logged with its traceback
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 -- the connection is gone; the pool replaces it
        pass
    log.error("database unreachable: %s", str(error.orig or error).strip().splitlines()[0])
    response = current_app.make_response(
        (render_template("errors/503.html", request_id=request_id()), 503))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _close_session(_exc) -> None:
    """End the request's session even when its connection died after the response was made.

    The database restarting between the view and the teardown makes the session's closing
    ROLLBACK fail; raised from the teardown, that would turn a page already rendered into a
    bare 500. The connection is dropped instead and the pool opens a new one next time."""
    try:
        db.session.remove()
    except DBAPIError as error:
        log.warning("session closed on a dead connection: %s",
                    str(error.orig or error).strip().splitlines()[0])
        try:
            db.session.registry().invalidate()
        except Exception:  # noqa: BLE001 -- nothing more can be done with it
            pass
        db.session.registry.clear()


def healthz():
    """200 while the database answers SELECT 1, else 503; the worker queue's length too."""
    status = 200
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 -- any failure means "not healthy"
        log.warning("health check: database unreachable: %s",
                    str(error).strip().splitlines()[0] if str(error).strip() else error)
        database, status = "unreachable", 503
    worker = current_app.extensions.get("worker")
    body = {"status": "ok" if status == 200 else "unavailable", "database": database,
            "worker_queue": worker.queue_length() if worker is not None else None}
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
