"""What the machine room sees: /healthz, the request id on the response and on every log line
of the request, the access log line, and the 503 page when the database cannot be reached
(an app on a database that is not there: SQLite in a missing folder, PostgreSQL on a port
where nothing listens)."""
import io
import logging
import re

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from config import TestConfig
from confreg import create_app
from confreg.extensions import db
from confreg.ops import HANDLER_NAME, database_unreachable
from tests.conftest import free_port

UNREACHABLE = "系统暂时无法连接数据库，请稍后再试。您填写的内容没有提交成功"


def app_on(url: str, tmp_path, **overrides):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url,
                      WORKER_BROKER_URL=f"sqlite:///{tmp_path / 'queue.db'}",
                      UPLOAD_DIR=str(tmp_path / "uploads"), **overrides)


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'confreg.db'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/confreg"


@pytest.fixture
def broken_app(unreachable_url, tmp_path):
    """An app whose database cannot be reached (CSRF off: its forms cannot be loaded)."""
    application = app_on(unreachable_url, tmp_path, WTF_CSRF_ENABLED=False)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def app_log(tmp_path):
    """Run a block with the app's own log handler configured (as in production); read
    what it wrote."""
    logger = logging.getLogger("confreg")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    buffer = io.StringIO()

    def make(url):
        application = app_on(url, tmp_path, LOG_REQUESTS=True)
        (handler,) = [h for h in logger.handlers if h.name == HANDLER_NAME]
        handler.setStream(buffer)
        return application

    yield make, buffer
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


# --- /healthz --------------------------------------------------------------------------------

def test_healthz_says_ok_with_the_database_and_the_queue_length(app, client):
    queue = app.extensions["worker"].huey
    queue.flush()  # what earlier tests queued without a worker running
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "worker_queue": 0}
    app.extensions["worker"].enqueue("send_mail", [])
    assert client.get("/healthz").json["worker_queue"] == 1
    queue.flush()
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_is_503_while_the_database_cannot_be_reached(broken_app):
    response = broken_app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
    assert response.json["status"] != "ok"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_app_reconnects_by_itself_once_the_database_is_there(tmp_path):
    folder = tmp_path / "not-yet"
    application = app_on(f"sqlite:///{folder / 'confreg.db'}", tmp_path)
    client = application.test_client()
    assert client.get("/healthz").status_code == 503

    folder.mkdir()  # the volume is back

    assert client.get("/healthz").status_code == 200
    with application.app_context():
        db.engine.dispose()


# --- the request id --------------------------------------------------------------------------

def test_the_proxys_request_id_is_sent_back(client):
    response = client.get("/", headers={"X-Request-ID": "0f3c2a9e-nginx.7"})

    assert response.headers["X-Request-ID"] == "0f3c2a9e-nginx.7"


def test_a_request_without_an_id_is_given_a_new_one_each_time(client):
    first = client.get("/").headers["X-Request-ID"]
    second = client.get("/").headers["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@pytest.mark.parametrize("offered", ["short", "x" * 65, "has space in it", "<script>alert1",
                                     "id]injected[into-log"])
def test_an_unsafe_request_id_is_replaced(client, offered):
    sent_back = client.get("/", headers={"X-Request-ID": offered}).headers["X-Request-ID"]

    assert sent_back != offered
    assert re.fullmatch(r"[0-9a-f]{32}", sent_back)


def test_the_access_line_has_the_request_id_and_no_secret_of_the_link(
        app_log, database_url):
    make, written = app_log
    application = make(database_url)

    application.test_client().get("/r/private-token-in-path?next=secret-query-token",
                                  headers={"X-Request-ID": "req-from-nginx-01"})

    lines = written.getvalue().splitlines()
    access = [line for line in lines if " confreg.access: " in line]
    assert len(access) == 1
    assert re.search(r" INFO \[req-from-nginx-01\] confreg\.access: "
                     r"GET /r/priv… 404 \d+ms$", access[0]), access[0]
    assert "secret-query-token" not in written.getvalue()
    assert "private-token-in-path" not in written.getvalue()
    with application.app_context():
        db.engine.dispose()


def test_an_error_logged_during_a_request_carries_the_request_id(app_log, tmp_path):
    make, written = app_log
    application = make(f"sqlite:///{tmp_path / 'gone' / 'confreg.db'}")

    response = application.test_client().get("/", headers={"X-Request-ID": "req-db-down-02"})

    assert response.status_code == 503
    errors = [line for line in written.getvalue().splitlines() if " ERROR " in line]
    assert errors and all("[req-db-down-02] confreg.ops: database unreachable" in line
                          for line in errors), errors
    assert "req-db-down-02" in response.text  # the page shows it, to quote to the desk


# --- the 503 page ----------------------------------------------------------------------------

def test_a_page_answers_503_in_chinese_while_the_database_cannot_be_reached(broken_app):
    response = broken_app.test_client().get("/")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "text/html"
    assert UNREACHABLE in response.text
    assert "Traceback" not in response.text and "OperationalError" not in response.text


def test_a_registration_sent_while_the_database_is_down_is_told_it_did_not_go_through(
        broken_app):
    response = broken_app.test_client().post("/events/xining-2026/register",
                                             data={"unit_name": "西宁市城东区"})

    assert response.status_code == 503
    assert UNREACHABLE in response.text
    assert "Traceback" not in response.text


def test_only_a_lost_connection_counts_as_unreachable():
    refused = OperationalError("SELECT 1", {}, Exception(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        "Connection refused"))
    shut_down = OperationalError("SELECT 1", {}, Exception(
        "terminating connection due to administrator command"))
    invalidated = OperationalError("SELECT 1", {}, Exception("?"), connection_invalidated=True)
    deadlock = OperationalError("UPDATE", {}, Exception("deadlock detected"))
    bad_sql = ProgrammingError("SELEC 1", {}, Exception('syntax error at or near "SELEC"'))

    assert database_unreachable(refused) and database_unreachable(shut_down)
    assert database_unreachable(invalidated)
    assert not database_unreachable(deadlock) and not database_unreachable(bad_sql)
