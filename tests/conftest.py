"""Fixtures: the app on SQLite or PostgreSQL (TEST_DATABASE_URL), a real SMTP server,
a live HTTP server for browser and concurrency tests, and form helpers."""
import contextlib
import io
import os
import re
import socket
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

from config import TestConfig
from confreg import create_app
from confreg.extensions import db
from confreg.models import Event, EventContact, FeeTier, MemberUnit, ScheduleItem
from confreg.checks import normalize_unit_name
from confreg.timeutil import china_today

CSRF_RE = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = _postgres_url()
    if base is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    name = f"confreg_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from flask_migrate import upgrade

    broker = TestConfig.WORKER_BROKER_URL or \
        f"sqlite:///{tmp_path_factory.mktemp('worker') / 'queue.db'}"
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                             WORKER_BROKER_URL=broker,
                             WORKER_QUEUE_NAME=f"confreg-test-{uuid.uuid4().hex[:8]}",
                             UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")),
                             SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 20}
                             if database_url.startswith("postgresql") else {})
    with application.app_context():
        upgrade()  # the real migrations, not create_all()
    return application


@pytest.fixture(autouse=True)
def _clean_tables(request, app):
    yield
    if "app" not in request.fixturenames:
        return
    with app.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


def docx_bytes(blocks: list[tuple[str, str]]) -> bytes:
    """A Word file of ("heading", text) and ("paragraph", text) blocks; headings at level 1."""
    from docx import Document

    document = Document()
    for kind, text in blocks:
        if kind == "heading":
            document.add_heading(text, level=1)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_event(**overrides) -> Event:
    """An open meeting like Xining's, shifted to start 30 days from today (China time)."""
    today = china_today()
    start = overrides.pop("starts_on", today + timedelta(days=30))
    values = dict(
        key=f"test-{uuid.uuid4().hex[:6]}", kind="meeting", published=True,
        title="全国基层物业管理服务创新发展经验交流会", short_title="测试会议",
        organiser="中国社会工作联合会城乡社区工作委员会", co_organiser="青海省社会工作协会",
        city="青海省西宁市", venue_name="西宁大厦", venue_address="青海省西宁市城东区建国路61号",
        venue_phone="0971-8164800", starts_on=start, ends_on=start + timedelta(days=3),
        registration_deadline=start - timedelta(days=10),
        materials_deadline=start - timedelta(days=19),
        payment_deadline=start - timedelta(days=5), capacity=200,
        fee_covers="含食宿、场地、资料等费用", payee_name="中国社会工作联合会",
        bank_name="中国工商银行北京朝阳支行", bank_account="0200003409014427548",
        payment_remark="城乡社区工作委员会服务费", invoice_content="培训服务",
        invoice_note="收到汇款后开具正式电子发票。",
    )
    values.update(overrides)
    event = Event(**values)
    event.fee_tiers = [
        FeeTier(code="member", label="委员会委员单位或联合会会员单位", amount=Decimal("2980"),
                is_member=True, position=0),
        FeeTier(code="standard", label="其他单位、相关社会机构或个人等", amount=Decimal("3580"),
                is_member=False, position=1),
    ]
    event.schedule = [ScheduleItem(day=start, period="全天", text="报到", position=0)]
    event.contacts = [EventContact(kind="person", label="王老师", value="13681260509", position=0)]
    db.session.add(event)
    db.session.commit()
    return event


def add_member(name: str, credit_code: str | None = None,
               member_type: str = "committee_member") -> MemberUnit:
    member = MemberUnit(name=name, name_key=normalize_unit_name(name), credit_code=credit_code,
                        member_type=member_type)
    db.session.add(member)
    db.session.commit()
    return member


def registration_form(event: Event, attendees: int = 1, **overrides) -> dict:
    """Valid form data for `attendees` people; overrides replace fields by name."""
    data = {
        "unit_name": "西宁市城东区东关大街街道办事处", "tier_claim": "other",
        "credit_code": "", "province": "青海省", "city": "西宁市", "address": "建国路1号",
        "contact_name": "马晓明", "contact_mobile": "13912345678",
        "contact_email": "contact@example.cn", "invoice_title": "", "invoice_taxpayer_id": "",
        "invoice_type": "ordinary", "invoice_content": "培训服务", "invoice_email": "",
        "consent": "y", "submit": "1",
    }
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]
    for i in range(attendees):
        data.update({
            f"attendees-{i}-name": names[i % len(names)] + ("" if i < len(names) else str(i)),
            f"attendees-{i}-gender": "M" if i % 2 == 0 else "F",
            f"attendees-{i}-ethnicity": "回族" if i == 0 else "",
            f"attendees-{i}-title": "主任",
            f"attendees-{i}-mobile": f"1391234{5000 + i:04d}",
            f"attendees-{i}-email": "",
            f"attendees-{i}-accommodation": "shared",
            f"attendees-{i}-arrival_on": event.starts_on.isoformat(),
            f"attendees-{i}-departure_on": event.ends_on.isoformat(),
            f"attendees-{i}-diet": "halal" if i == 0 else "none",
            f"attendees-{i}-remarks": "",
        })
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


class FormState(HTMLParser):
    """What a browser would submit from the page's POST form(s): name -> value."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            elif kind not in ("submit", "button"):
                self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.values.setdefault(self._select, self._select_first or "")
            self._select = None
        elif tag == "textarea" and self._textarea:
            # HTML drops one newline right after <textarea>; CRLF counts as one newline.
            value = self.values[self._textarea].replace("\r\n", "\n").replace("\r", "\n")
            self.values[self._textarea] = value.removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str) -> dict[str, str]:
    parser = FormState()
    parser.feed(html)
    return parser.values


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client, url: str, data: dict, *, form_url: str | None = None,
              follow_redirects: bool = False):
    """GET the form page for a CSRF token, then POST the data the way a browser would."""
    page = client.get(form_url or url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token_from(page.text)},
                       follow_redirects=follow_redirects)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- a real SMTP server ---------------------------------------------------------------

class Inbox:
    """Messages received by the test SMTP server, parsed."""

    def __init__(self):
        self.received = []
        self.worker = None
        self.lock = threading.Lock()

    @property
    def messages(self) -> list:
        """What arrived once the worker has sent everything queued."""
        if self.worker is not None:
            self.worker.settle()
        return self.received

    def body(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


class _Receiver:
    """aiosmtpd's handler (a class of its own: aiosmtpd inspects its handler's attributes)."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.inbox.lock:
            self.inbox.received.append(message)
        return "250 OK"


# --- the real background worker ---------------------------------------------------------

class RunningWorker:
    """huey's own consumer for the test app (worker threads, its scheduler for delayed
    retries; the periodic jobs are called by the tests that test them)."""

    def __init__(self, app, threads: int = 2):
        from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING

        self.app, self.threads = app, threads
        self.worker = app.extensions["worker"]
        self.huey = self.worker.huey
        self.busy = 0
        self.executed = 0
        self._lock = threading.Lock()
        self.consumer = None

        @self.huey.signal(SIGNAL_EXECUTING)
        def _started(signal, task, *args):
            with self._lock:
                self.busy += 1

        @self.huey.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
        def _finished(signal, task, *args):
            with self._lock:
                self.busy -= 1
                self.executed += 1

        self._handlers = (_started, _finished)

    def start(self) -> None:
        self.consumer = self.worker.consumer(workers=self.threads, periodic=False,
                                             scheduler_interval=1)
        self.consumer._set_signal_handlers = lambda: None  # the test runner keeps its own
        self.consumer.start()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop(graceful=True)
            self.consumer = None

    def settle(self, timeout: float = 30) -> None:
        """Wait until the queue is empty and no task runs (twice in a row: a task may have
        been taken but not yet begun)."""
        import time

        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker still busy after {timeout} s "
                                     f"({self.huey.pending_count()} queued, {self.busy} running)")
            idle = self.huey.pending_count() == 0 and self.busy == 0
            quiet = quiet + 1 if idle else 0
            time.sleep(0.03)

    @contextlib.contextmanager
    def paused(self):
        """Tasks queued inside stay in the queue until the block ends."""
        self.settle()
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def close(self) -> None:
        self.stop()
        for handler in self._handlers:
            self.huey.disconnect_signal(handler)


@pytest.fixture
def worker(app):
    """The real worker consuming the app's queue for this test (emptied first)."""
    running = RunningWorker(app)
    running.huey.flush()
    running.start()
    try:
        yield running
    finally:
        running.close()
        running.huey.flush()


@pytest.fixture
def smtp(app, worker):
    """Run an aiosmtpd server and point the app's mail at it; the worker sends the mail."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(_Receiver(inbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    state = app.extensions["mail"]
    saved = (state.server, state.port)
    state.server, state.port = "127.0.0.1", controller.port
    inbox.controller = controller
    inbox.worker = worker
    try:
        yield inbox
    finally:
        controller.stop()
        state.server, state.port = saved


@pytest.fixture
def smtp_down(app, worker):
    """Point the app's mail at a port where nothing listens."""
    port = free_port()
    state = app.extensions["mail"]
    saved = (state.server, state.port)
    state.server, state.port = "127.0.0.1", port
    try:
        yield port
    finally:
        state.server, state.port = saved



# --- many writers at once ---------------------------------------------------------------

def run_at_once(app, jobs: list, *, timeout: float = 60) -> list:
    """Run every job() at the same moment, each in its own thread, app context and session,
    begun as a reader as a request is; return what each returned, or the exception it raised
    (every failure is a finding). The barrier comes before any connection is taken: the pool
    may be smaller than the number of jobs."""
    from concurrent.futures import ThreadPoolExecutor

    from confreg.database import write_intent

    barrier = threading.Barrier(len(jobs), timeout=timeout)

    def one(job):
        with app.app_context(), write_intent(False):
            try:
                barrier.wait()
                result = job()
                db.session.commit()
                return result
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                return exc
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(one, jobs))

# --- a live HTTP server ----------------------------------------------------------------

@pytest.fixture
def live_server(app):
    """Serve the app over real HTTP on a free port, one thread per request."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def today() -> date:
    return china_today()


# --- staff ------------------------------------------------------------------------------

STAFF_PASSWORD = "correct horse battery"


def add_user(role: str, email: str | None = None, name: str | None = None):
    """Create a staff account with STAFF_PASSWORD (inside an app context)."""
    from confreg.models import User

    user = User(email=email or f"{role}@example.cn", name=name or f"测试{role}", role=role)
    user.set_password(STAFF_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def sign_in(client, email: str, password: str = STAFF_PASSWORD):
    """Sign in through the login form, as a person would."""
    return post_form(client, "/admin/login", {"email": email, "password": password})


@pytest.fixture
def staff_client(app):
    """A factory: staff_client("finance") is a test client signed in with that role."""
    def make(role: str):
        with app.app_context():
            from confreg.models import User

            email = f"{role}@example.cn"
            if db.session.scalar(select(User.id).where(User.email == email)) is None:
                add_user(role, email)
        client = app.test_client()
        response = sign_in(client, email)
        assert response.status_code == 302, response.status_code
        return client
    return make


def run_job(client, url: str, worker, *, page_url: str, data: dict | None = None):
    """Start a long job the way its page does (POST with the page's CSRF token), let the
    real worker run it, and return (the job page's state, the GET of its result file)."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    started = client.post(url, data={**(data or {}), "csrf_token": csrf_token_from(page.text)})
    assert started.status_code == 302, started.status_code
    job_url = urlsplit(started.headers["Location"]).path
    assert re.fullmatch(r"/admin/jobs/\d+", job_url), job_url
    worker.settle(timeout=120)
    state = client.get(f"{job_url}/status").get_json()
    assert state["finished"], state
    result = client.get(f"{job_url}/file") if state["file_url"] else None
    return state, result


# --- headless Chromium -----------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def field_label(text: str) -> re.Pattern:
    """A label exactly as shown, allowing for the red "*" of a required field."""
    return re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$")
