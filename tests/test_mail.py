"""The confirmation e-mail, received by a real SMTP server (aiosmtpd) and parsed; mail
queued in the registration's transaction is sent by the real background worker (huey), survives
an SMTP outage, is retried, gives up after MAIL_MAX_ATTEMPTS and is never sent twice."""
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Event, OutboundMail, Registration
from confreg import notifications
from confreg.notifications import deliver_mail
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import china_today, format_date_cn
from tests.conftest import add_member, form_values, make_event, post_form, registration_form

UNIT_NAME = "西宁市城东区东关大街街道办事处"
SLOW_SMTP_SECONDS = 2


@pytest.fixture
def event(app):
    with app.app_context():
        event = make_event()
        add_member(UNIT_NAME)
        return {"id": event.id, "form_url": f"/events/{event.key}/register",
                "form": registration_form(event, 3, tier_claim="committee_member"),
                "payment_deadline": event.payment_deadline, "title": event.title}


def the_mail(app) -> OutboundMail:
    with app.app_context():
        row = db.session.scalars(select(OutboundMail)).one()
        db.session.expunge(row)
        return row


def queue_registration(app, event_id: int, number: int = 0) -> None:
    """Register a unit through the service and commit: its mail is queued, not sent."""
    with app.app_context():
        event = db.session.get(Event, event_id)
        register_unit(
            event_id,
            UnitDetails(unit_name=f"排队单位{number}", tier_claim="other", province="青海省",
                        city="西宁市", contact_name="马晓明", contact_mobile="13912345678",
                        contact_email=f"unit{number}@example.cn"),
            [AttendeeDetails(name="张伟", gender="M", title="主任", mobile="13912345000",
                             accommodation="shared", arrival_on=event.starts_on,
                             departure_on=event.ends_on)],
            today=china_today(), now=utcnow(),
        )
        db.session.commit()


def test_registration_sends_a_confirmation_with_code_amount_account_remark_and_link(
        app, client, smtp, event):
    response = post_form(client, event["form_url"], event["form"])

    assert response.status_code == 302
    with app.app_context():
        code = db.session.scalar(select(Registration.code))
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "contact@example.cn"
    assert code in message["Subject"]
    assert event["title"] in message["Subject"]
    body = smtp.body(message)
    assert f"报名编号：{code}" in body
    assert "应缴金额：8,940.00 元" in body
    assert "0200003409014427548" in body
    assert f"汇款备注：{code} 城乡社区工作委员会服务费" in body
    assert format_date_cn(event["payment_deadline"]) in body
    assert "张伟、王芳、李娜（3 人）" in body
    token = urlsplit(response.headers["Location"]).path.removeprefix("/r/")
    link = f"http://confreg.test/r/{token}"
    assert link in body.split()

    page = client.get(urlsplit(link).path)
    assert page.status_code == 200
    assert code in page.text
    row = the_mail(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_registration_succeeds_while_smtp_is_down_and_mail_goes_out_when_it_is_back(
        app, client, smtp_down, worker, event, request):
    before = utcnow()
    response = post_form(client, event["form_url"], event["form"])

    assert response.status_code == 302
    worker.settle()  # the worker tried once
    row = the_mail(app)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error  # the connection error is kept for the organisers
    assert row.next_attempt_at >= before + timedelta(seconds=30)  # retried later, not at once
    assert row.sent_at is None

    smtp = request.getfixturevalue("smtp")  # the mail server comes back
    with app.app_context():
        assert deliver_mail(now=row.next_attempt_at - timedelta(seconds=1)) == 0  # not yet due
    assert smtp.messages == []
    with app.app_context():
        assert deliver_mail(now=row.next_attempt_at + timedelta(seconds=1)) == 1

    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "contact@example.cn"
    with app.app_context():
        code = db.session.scalar(select(Registration.code))
    assert code in smtp.body(smtp.messages[0])
    row = the_mail(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")


def test_mail_failing_max_attempts_times_is_marked_failed_and_not_retried(
        app, client, smtp_down, worker, event, request):
    max_attempts = app.config["MAIL_MAX_ATTEMPTS"]
    assert post_form(client, event["form_url"], event["form"]).status_code == 302
    worker.settle()

    for attempt in range(2, max_attempts + 1):
        row = the_mail(app)
        assert (row.status, row.attempts) == ("pending", attempt - 1)
        with app.app_context():
            assert deliver_mail(now=row.next_attempt_at + timedelta(seconds=1)) == 0

    row = the_mail(app)
    assert (row.status, row.attempts) == ("failed", max_attempts)
    assert row.last_error

    smtp = request.getfixturevalue("smtp")
    with app.app_context():
        assert deliver_mail(now=utcnow() + timedelta(days=30)) == 0
    assert smtp.messages == []
    assert the_mail(app).attempts == max_attempts


def test_mail_is_never_sent_twice_when_delivery_runs_twice(app, smtp, worker, event):
    with worker.paused():  # the worker's task waits in the queue...
        queue_registration(app, event["id"])
        assert the_mail(app).status == "pending"
        assert worker.huey.pending_count() == 1

        with app.app_context():
            assert deliver_mail() == 1  # ...while a sweep sends the mail
        mail_id = the_mail(app).id
        with app.app_context():
            assert deliver_mail() == 0
            assert deliver_mail(now=utcnow() + timedelta(days=1)) == 0
            assert deliver_mail([mail_id], now=utcnow() + timedelta(days=1)) == 0  # by id
    # then the worker runs its task, finds the mail sent and sends nothing
    assert len(smtp.messages) == 1
    assert worker.executed >= 1
    assert the_mail(app).status == "sent"


def test_mail_sent_after_the_request_is_not_sent_again_by_the_next_run(app, client, smtp,
                                                                       event):
    assert post_form(client, event["form_url"], event["form"]).status_code == 302
    assert len(smtp.messages) == 1

    with app.app_context():
        assert deliver_mail(now=utcnow() + timedelta(days=1)) == 0

    assert len(smtp.messages) == 1


def test_concurrent_delivery_runs_send_each_mail_once(app, smtp, worker, event, monkeypatch):
    worker.stop()  # four sweeps race for the mail; the worker's own tasks come after
    for number in range(4):
        queue_registration(app, event["id"], number)
    transmit = notifications._transmit

    def slow_transmit(row, accepted=None):
        time.sleep(0.2)  # a slow mail server: the other runs see the mail mid-send
        transmit(row, accepted)

    monkeypatch.setattr(notifications, "_transmit", slow_transmit)
    barrier = threading.Barrier(4)
    sent_counts, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                sent_counts.append(deliver_mail())
        except Exception as exc:  # reported below; a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sum(sent_counts) == 4
    worker.start()  # its four queued tasks find every mail sent
    assert sorted(m["To"] for m in smtp.messages) == [f"unit{n}@example.cn" for n in range(4)]
    assert worker.executed == 4


def test_slow_mail_server_does_not_hold_up_other_registrations(app, smtp, worker, event,
                                                               monkeypatch):
    """Sending happens outside any database lock: a unit registering while a confirmation is
    on its way to a slow mail server is not kept waiting for it."""
    worker.stop()  # the sweep below sends this mail, not the worker
    queue_registration(app, event["id"], 0)
    transmit = notifications._transmit
    sending = threading.Event()

    def slow_transmit(row, accepted=None):
        sending.set()
        time.sleep(SLOW_SMTP_SECONDS)
        transmit(row, accepted)

    monkeypatch.setattr(notifications, "_transmit", slow_transmit)
    results = []

    def deliver():
        with app.app_context():
            results.append(deliver_mail())

    sender = threading.Thread(target=deliver)
    sender.start()
    assert sending.wait(10), "the mail was never handed to the mail server"

    started = time.monotonic()
    queue_registration(app, event["id"], 1)
    waited = time.monotonic() - started
    sender.join(30)

    assert results == [1]
    assert waited < SLOW_SMTP_SECONDS / 2, f"registration waited {waited:.2f} s for the mail"
    worker.start()


def register_in_this_request(event_id: int, contact_email: str) -> None:
    """Register one person through the service inside the current request: mail is queued."""
    ev = db.session.get(Event, event_id)
    register_unit(
        event_id,
        UnitDetails(unit_name="请求内单位", tier_claim="other", province="青海省", city="西宁市",
                    contact_name="马晓明", contact_mobile="13912345678",
                    contact_email=contact_email),
        [AttendeeDetails(name="张伟", gender="M", title="主任", mobile="13912345000",
                         accommodation="shared", arrival_on=ev.starts_on, departure_on=ev.ends_on)],
        today=china_today(), now=utcnow(),
    )


def test_mail_queued_in_a_request_that_rolls_back_is_never_sent(app, smtp, event):
    with app.test_request_context(method="POST"):
        register_in_this_request(event["id"], "rolled-back@example.cn")
        db.session.rollback()  # e.g. a later step of the request failed
        db.session.commit()  # a later commit of the same request hands nothing over

    assert smtp.worker.huey.pending_count() == 0
    assert smtp.messages == []
    with app.app_context():
        assert db.session.scalar(select(OutboundMail.id)) is None


def test_a_sent_mail_keeps_no_copy_of_the_private_link(app, client, smtp, event):
    response = post_form(client, event["form_url"], event["form"])
    token = urlsplit(response.headers["Location"]).path.removeprefix("/r/")

    assert token in smtp.body(smtp.messages[0])  # the unit got it...
    row = the_mail(app)
    assert row.status == "sent"
    assert token not in row.body_text  # ...and the database keeps no copy
    assert "私密链接已隐去" in row.body_text


def test_changing_the_contact_email_tells_the_old_address_too(app, client, smtp, event):
    response = post_form(client, event["form_url"], event["form"])
    token = urlsplit(response.headers["Location"]).path.removeprefix("/r/")
    data = form_values(client.get(f"/r/{token}/edit").text)
    data["contact_email"] = "new-contact@example.cn"

    edited = client.post(f"/r/{token}/edit", data=data)

    assert edited.status_code == 302
    changed = [m for m in smtp.messages if "已修改" in m["Subject"]]
    assert sorted(m["To"] for m in changed) == ["contact@example.cn", "new-contact@example.cn"]


def test_a_savepoint_rolled_back_keeps_the_mail_the_request_already_queued(app, smtp, event):
    with app.test_request_context(method="POST"):
        register_in_this_request(event["id"], "kept@example.cn")
        savepoint = db.session.begin_nested()
        savepoint.rollback()  # e.g. one row of a batch lost a race
        db.session.commit()  # hands the mail to the worker

    assert [m["To"] for m in smtp.messages] == ["kept@example.cn"]


def test_a_mail_server_that_accepts_and_then_hangs_is_given_up_after_the_timeout(
        app, client, worker, event):
    """Flask-Mail passes smtplib no timeout; ours does, so a hung server cannot hold a worker;
    and the request that registered does not wait for the mail at all."""
    import socket
    import time

    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(8)  # accepts connections, never says a word
    state = app.extensions["mail"]
    saved = (state.server, state.port, app.config["MAIL_TIMEOUT"])
    state.server, state.port = "127.0.0.1", tarpit.getsockname()[1]
    app.config["MAIL_TIMEOUT"] = 1
    try:
        started = time.monotonic()
        response = post_form(client, event["form_url"], event["form"])
        elapsed = time.monotonic() - started
        worker.settle()
        gave_up = time.monotonic() - started
    finally:
        state.server, state.port, app.config["MAIL_TIMEOUT"] = saved
        tarpit.close()
    assert response.status_code == 302  # the registration stands
    assert elapsed < 0.9  # less than MAIL_TIMEOUT: the request never touched the mail server
    assert gave_up < 5
    row = the_mail(app)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "timed out" in row.last_error


class _Refusing:
    """An SMTP server that is up but refuses every recipient for now (a 4xx: try later)."""

    def __init__(self):
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.refused += 1
        return "451 4.3.2 System not accepting network messages"


def test_a_mail_server_refusing_then_hanging_then_back_gets_each_mail_exactly_once(
        app, worker, event, request):
    """The three ways a mail server fails in turn, with mail queued during each; when it is
    back, the retries deliver every mail once, and later runs send nothing again."""
    import socket

    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    state = app.extensions["mail"]
    saved = (state.server, state.port, app.config["MAIL_TIMEOUT"])
    refusing = _Refusing()
    controller = Controller(refusing, hostname="127.0.0.1", port=free_port())
    controller.start()
    tarpit = socket.socket()
    try:
        # 1. Up, but refusing: the mail stays pending with the server's answer kept.
        state.server, state.port = "127.0.0.1", controller.port
        queue_registration(app, event["id"], 1)
        worker.settle()
        assert refusing.refused == 1
        # 2. Hanging: accepts the connection, never answers; given up after MAIL_TIMEOUT.
        tarpit.bind(("127.0.0.1", 0))
        tarpit.listen(8)
        state.server, state.port = "127.0.0.1", tarpit.getsockname()[1]
        app.config["MAIL_TIMEOUT"] = 1
        queue_registration(app, event["id"], 2)
        worker.settle()
    finally:
        state.server, state.port, app.config["MAIL_TIMEOUT"] = saved
        controller.stop()
        tarpit.close()
    with app.app_context():
        rows = {row.to_addr: (row.status, row.attempts, row.last_error)
                for row in db.session.scalars(select(OutboundMail))}
    assert rows["unit1@example.cn"][:2] == ("pending", 1)
    assert "451" in rows["unit1@example.cn"][2]
    assert rows["unit2@example.cn"][:2] == ("pending", 1)
    assert "timed out" in rows["unit2@example.cn"][2]

    # 3. Back: the retries, when due, send both; another run (or the sweep) sends nothing.
    smtp = request.getfixturevalue("smtp")
    with app.app_context():
        assert deliver_mail(now=utcnow() + timedelta(hours=2)) == 2
        assert deliver_mail(now=utcnow() + timedelta(hours=4)) == 0
    received = smtp.messages
    assert sorted(m["To"] for m in received) == ["unit1@example.cn", "unit2@example.cn"]
    assert len({m["Message-ID"] for m in received}) == 2
    with app.app_context():
        assert {row.status for row in db.session.scalars(select(OutboundMail))} == {"sent"}
