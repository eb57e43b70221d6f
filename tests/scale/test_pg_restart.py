"""PostgreSQL restarted under load: every answer meanwhile is a page (2xx/3xx) or the 503
page in Chinese -- never a 500 or a traceback -- and once the server is back the same app
process serves again without being restarted (pool_pre_ping replaces the dead connections).
A control run without the restart sees no 503 at all.

This restarts the shared cluster (`pg_ctlcluster ... restart -m fast`): other test runs on
PostgreSQL at that moment lose their connections. Run it on purpose: `make test-scale`."""
import itertools
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from confreg.extensions import db
from tests.conftest import csrf_token_from, form_values, make_event, registration_form

pytestmark = [
    pytest.mark.scale,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                       reason="needs PostgreSQL (TEST_DATABASE_URL)"),
]

UNREACHABLE = "系统暂时无法连接数据库，请稍后再试。您填写的内容没有提交成功"
CLIENTS = 6
TIMEOUT = 30
_numbers = itertools.count(1)


@dataclass
class Answer:
    started: float
    what: str
    status: int  # 0: no HTTP answer at all
    text: str = ""
    location: str = ""

    @property
    def acceptable(self) -> bool:
        if "Traceback" in self.text:
            return False
        return 200 <= self.status < 400 or (self.status == 503 and UNREACHABLE in self.text)


@pytest.fixture
def served(app):
    """The app over real HTTP, one thread per request, and an event open for registration."""
    with app.app_context():
        event = make_event(capacity=100_000)
        key, starts_on, ends_on = event.key, event.starts_on, event.ends_on
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", key, (starts_on, ends_on)
    finally:
        server.shutdown()
        thread.join(5)


def _registration(page_html: str, dates) -> dict:
    from types import SimpleNamespace

    number = next(_numbers)
    mobile = f"1370{number:07d}"
    event = SimpleNamespace(starts_on=dates[0], ends_on=dates[1])
    data = registration_form(event, 1, unit_name=f"重启测试单位{number:05d}",
                             contact_mobile=mobile, **{"attendees-0-mobile": mobile})
    # Whatever else the page carries (the one-time submission key), as a browser sends it.
    return {**form_values(page_html), **data, "csrf_token": csrf_token_from(page_html)}


def _client(base: str, key: str, dates, stop: threading.Event, answers: list) -> None:
    steps = [("index", "GET", "/"), ("notice", "GET", f"/events/{key}"),
             ("form", "GET", f"/events/{key}/register"), ("register", "POST", None)]
    with requests.Session() as http:
        page = ""
        while not stop.is_set():
            for what, method, path in steps:
                started = time.monotonic()
                try:
                    if method == "GET":
                        response = http.get(base + path, timeout=TIMEOUT)
                        if what == "form":
                            page = response.text if response.status_code == 200 else ""
                    elif page:
                        response = http.post(f"{base}/events/{key}/register",
                                             data=_registration(page, dates),
                                             allow_redirects=False, timeout=TIMEOUT)
                    else:
                        continue  # the form did not load: nothing to send
                except requests.RequestException as error:
                    answers.append(Answer(started, what, 0, f"{type(error).__name__}: {error}"))
                    continue
                answers.append(Answer(started, what, response.status_code, response.text,
                                      response.headers.get("Location", "")))


def run_load(base: str, key: str, dates, *, seconds: float, during=None) -> tuple[list, dict]:
    """CLIENTS browsers reading and registering for `seconds` after `during()` (if any) ends."""
    stop, answers = threading.Event(), []
    clients = [threading.Thread(target=_client, args=(base, key, dates, stop, answers))
               for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    marks = {}
    try:
        time.sleep(1.5)  # under load before anything happens
        if during is not None:
            marks["began"] = time.monotonic()
            during()
            marks["back"] = time.monotonic()
        time.sleep(seconds)
    finally:
        stop.set()
        for client in clients:
            client.join(TIMEOUT + 5)
    return answers, marks


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart",
                    "-m", "fast"], check=True, capture_output=True, timeout=120)


def describe(answers) -> str:
    counts: dict = {}
    for answer in answers:
        counts[(answer.what, answer.status)] = counts.get((answer.what, answer.status), 0) + 1
    return ", ".join(f"{what} {status}: {n}" for (what, status), n in sorted(counts.items()))


def test_without_a_restart_nothing_is_refused(served):
    base, key, dates = served

    answers, _ = run_load(base, key, dates, seconds=3)

    assert len(answers) > 4 * CLIENTS, describe(answers)
    assert all(200 <= a.status < 400 for a in answers), describe(answers)
    assert any(a.what == "register" and a.status == 302 for a in answers)


@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"),
                    reason="the PostgreSQL server is not a local Debian cluster")
def test_a_postgresql_restart_under_load_gives_503_pages_then_the_app_serves_again(served):
    base, key, dates = served

    answers, marks = run_load(base, key, dates, seconds=5, during=restart_postgresql)

    bad = [a for a in answers if not a.acceptable]
    assert not bad, (f"{len(bad)} unacceptable answers, first: {bad[0].what} {bad[0].status} "
                     f"{bad[0].text[:300]!r}; all: {describe(answers)}")
    during = [a for a in answers if marks["began"] <= a.started <= marks["back"]]
    assert during, "no request was made while PostgreSQL restarted"
    # A second after the server is back, the same process answers everything again.
    after = [a for a in answers if a.started > marks["back"] + 1.0]
    assert len(after) > 2 * CLIENTS, describe(after)
    assert all(200 <= a.status < 400 for a in after), describe(after)
    assert any(a.what == "register" and a.status == 302 for a in after)
    refused = sum(a.status == 503 for a in answers)
    print(f"\n{len(answers)} answers, {refused} of them 503 pages: {describe(answers)}")

    health = requests.get(f"{base}/healthz", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json()["database"] == "ok"
    # Every registration that was confirmed (302 to its private page) is really there.
    with requests.Session() as http:
        for answer in answers:
            if answer.what == "register" and answer.status == 302:
                assert http.get(base + answer.location if answer.location.startswith("/")
                                else answer.location, timeout=TIMEOUT).status_code == 200
