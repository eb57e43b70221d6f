"""The background worker (issue 8): huey's real consumer sends the mail a request committed,
two workers never send a mail twice, periodic jobs run at China time, long jobs show their
progress and keep their result, and the operator sees the worker's heartbeat and queue."""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from config import TestConfig
from confreg import create_app
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Event, Job, OutboundMail, WorkerHeartbeat
from confreg.services import jobs as job_service
from confreg.services.reminders import scheduled_reminders_due
from confreg.tasks import at_china_time, daily_at
from confreg.worker import HEARTBEAT_STALE, Heartbeat
from confreg.timeutil import china_today
from tests.conftest import (RunningWorker, csrf_token_from, docx_bytes, make_event, post_form,
                            registration_form, run_job)
from tests.test_booklet import add_material, word_text
from tests.test_dashboard import add_registration, china_time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def event(app):
    with app.app_context():
        event = make_event()
        return {"id": event.id, "form_url": f"/events/{event.key}/register",
                "form": registration_form(event, 2)}


def mail_rows(app) -> list[tuple[str, int]]:
    with app.app_context():
        return db.session.execute(select(OutboundMail.status, OutboundMail.attempts)
                                  .order_by(OutboundMail.id)).all()


# --- mail through the queue -----------------------------------------------------------------

def test_the_request_only_queues_the_mail_and_the_worker_sends_it(app, client, smtp, worker,
                                                                  event):
    with worker.paused():
        response = post_form(client, event["form_url"], event["form"])
        assert response.status_code == 302
        assert mail_rows(app) == [("pending", 0)]  # committed with the registration, not sent
        assert worker.huey.pending_count() == 1    # one message for the commit
        assert smtp.received == []
    assert len(smtp.messages) == 1
    assert mail_rows(app) == [("sent", 1)]
    with app.app_context():
        mail_id = db.session.scalar(select(OutboundMail.id))
    assert smtp.messages[0]["Message-ID"] == f"<outbox-{mail_id}@confreg.test>"


def test_a_commit_the_broker_never_got_is_sent_by_the_sweep(app, client, smtp, worker, event,
                                                           monkeypatch):
    queue = app.extensions["worker"]

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(queue, "enqueue", broker_down)
    response = post_form(client, event["form_url"], event["form"])
    assert response.status_code == 302  # the registration stands without the broker
    assert smtp.messages == [] and mail_rows(app) == [("pending", 0)]
    monkeypatch.undo()

    with app.app_context():
        assert queue.call("sweep_mail") == 1  # what the scheduler runs every minute
    assert len(smtp.messages) == 1 and mail_rows(app) == [("sent", 1)]


def test_two_workers_and_a_sweep_send_each_of_many_mails_exactly_once(app, database_url, smtp,
                                                                      worker, tmp_path):
    """A second worker process (its own app, the same database and queue) and the
    periodic sweep race the first for twelve registrations' mail."""
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                       UPLOAD_DIR=app.config["UPLOAD_DIR"],
                       WORKER_BROKER_URL=app.config["WORKER_BROKER_URL"],
                       WORKER_QUEUE_NAME=app.config["WORKER_QUEUE_NAME"])
    state = other.extensions["mail"]
    state.server, state.port = app.extensions["mail"].server, app.extensions["mail"].port
    second = RunningWorker(other, threads=2)
    second.start()
    try:
        with app.app_context():
            event = make_event()
            form_url, form = f"/events/{event.key}/register", registration_form(event, 1)
        clients = [app.test_client() for _ in range(12)]
        stop = threading.Event()

        def sweep():
            with app.app_context():
                while not stop.is_set():
                    app.extensions["worker"].call("sweep_mail")
                    time.sleep(0.02)

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        for number, client in enumerate(clients):
            data = {**form, "contact_email": f"unit{number}@example.cn",
                    "unit_name": f"并发单位{number}"}
            assert post_form(client, form_url, data).status_code == 302
        worker.settle()
        second.settle()
        stop.set()
        sweeper.join(10)
    finally:
        second.close()
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sorted(m["To"] for m in smtp.messages) == sorted(
        f"unit{n}@example.cn" for n in range(12))
    assert second.executed + worker.executed >= 12
    with app.app_context():
        assert set(db.session.scalars(select(OutboundMail.attempts))) == {1}


# --- periodic jobs at China time ------------------------------------------------------------

def utc(*args) -> datetime:
    return datetime(*args)  # huey hands the schedule naive UTC (Huey(utc=True))


def test_a_daily_job_runs_at_its_china_time_not_at_that_hour_utc():
    nine = at_china_time(9, 0)
    assert nine(utc(2026, 12, 7, 1, 0))        # 09:00 in Beijing
    assert not nine(utc(2026, 12, 7, 9, 0))    # 17:00 in Beijing
    assert not nine(utc(2026, 12, 7, 1, 1))
    assert at_china_time(0, 30)(utc(2026, 12, 6, 16, 30))  # past midnight: the next day there
    every = at_china_time(every_minutes=15)
    assert [m for m in range(60) if every(utc(2026, 12, 7, 3, m))] == [0, 15, 30, 45]


def test_the_configured_times_drive_the_schedule():
    schedule = daily_at("REMINDERS_AT")({"REMINDERS_AT": "08:45"})
    assert schedule(utc(2026, 12, 7, 0, 45)) and not schedule(utc(2026, 12, 7, 1, 0))


def test_the_scheduler_knows_every_periodic_job(app):
    huey = app.extensions["worker"].huey
    names = {task.__name__ for task in huey._registry._periodic_tasks}
    assert names == {"sweep_mail", "send_scheduled_reminders", "prune_uploads",
                     "recover_stalled_jobs"}


def test_scheduled_reminders_fall_on_their_days(app_ctx):
    today = date(2027, 3, 1)
    week = make_event(payment_deadline=today + timedelta(days=7),
                      starts_on=today + timedelta(days=20), ends_on=today + timedelta(days=22))
    eve = make_event(payment_deadline=today + timedelta(days=1),
                     starts_on=today + timedelta(days=20), ends_on=today + timedelta(days=22))
    quiet = make_event(payment_deadline=today + timedelta(days=4),
                       starts_on=today + timedelta(days=20), ends_on=today + timedelta(days=22))
    db.session.commit()
    due = set(scheduled_reminders_due(today))
    assert (week.id, "payment_due") in due and (eve.id, "payment_due") in due
    assert not any(event_id == quiet.id for event_id, _ in due)


def test_the_reminder_job_mails_the_units_that_owe_on_the_day(app, smtp, worker):
    with app.app_context():
        today = china_today()
        event = make_event(payment_deadline=today + timedelta(days=7))
        owing = add_registration(event, province="青海省", people=1,
                                 created_at=china_time(today, 8))
        add_registration(event, province="青海省", people=1, created_at=china_time(today, 8),
                         payments=("3580",))
        email = owing.contact_email
        db.session.commit()  # the job runs in a session of its own
        assert app.extensions["worker"].call("send_scheduled_reminders") == 1
        assert app.extensions["worker"].call("send_scheduled_reminders") == 0  # once a day
    assert [m["To"] for m in smtp.messages] == [email]


# --- long jobs ------------------------------------------------------------------------------

@pytest.fixture
def booklet_event(app):
    with app.app_context():
        event = make_event()
        for number in range(6):
            add_material(event, f"第{number + 1}篇交流材料", docx_bytes(word_text(4)), "docx",
                         unit=f"单位{number}")
        return event.id


def test_a_long_job_waits_in_the_queue_shows_its_progress_and_keeps_its_file(
        app, staff_client, worker, booklet_event):
    client = staff_client("staff")
    page_url = f"/admin/events/{booklet_event}/booklet"
    with worker.paused():
        page = client.get(page_url)
        started = client.post(f"{page_url}/booklet.pdf",
                              data={"csrf_token": csrf_token_from(page.text)})
        assert started.status_code == 302
        job_url = urlsplit(started.headers["Location"]).path
        waiting = client.get(job_url)
        assert waiting.status_code == 200 and "排队" in waiting.text
        assert 'src="/static/js/job-progress.js"' in waiting.text
        assert client.get(f"{job_url}/status").get_json()["status"] == "queued"
        assert client.get(f"{job_url}/file").status_code == 404  # nothing yet
    worker.settle(timeout=120)
    state = client.get(f"{job_url}/status").get_json()
    assert state["status"] == "done" and state["percent"] == 100
    assert state["done"] == state["total"] >= 7  # the contents and six materials
    assert "6 篇" in state["summary"]
    result = client.get(state["file_url"])
    assert result.status_code == 200 and result.data.startswith(b"%PDF-")
    again = client.get(state["file_url"])
    assert again.data == result.data  # kept, the same bytes each time
    shown = client.get(page_url).text
    assert state["file_url"] in shown  # the page that started it lists it to download


def test_the_progress_is_recorded_while_the_job_runs(app, staff_client, worker, booklet_event,
                                                     monkeypatch):
    from confreg.pdf import booklet as booklet_pdf

    seen = []
    render = booklet_pdf.render_booklet

    def watched(booklet, progress=None):
        def spy(done):
            progress(done)
            with app.app_context():
                seen.append(db.session.scalar(select(Job.done)))
        return render(booklet, progress=spy)

    monkeypatch.setattr(booklet_pdf, "render_booklet", watched)
    monkeypatch.setattr(job_service, "PROGRESS_INTERVAL_S", 0)
    state, _ = run_job(staff_client("staff"), f"/admin/events/{booklet_event}/booklet/booklet.pdf",
                       worker, page_url=f"/admin/events/{booklet_event}/booklet")
    assert state["status"] == "done"
    assert len(seen) >= 6 and seen == sorted(seen) and seen[-1] > seen[0]


def test_a_failing_job_says_so_and_keeps_no_file(app, staff_client, worker, booklet_event,
                                                 monkeypatch):
    from confreg.pdf import booklet as booklet_pdf

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(booklet_pdf, "render_booklet", broken)
    client = staff_client("staff")
    state, result = run_job(client, f"/admin/events/{booklet_event}/booklet/booklet.pdf", worker,
                            page_url=f"/admin/events/{booklet_event}/booklet")
    assert state["status"] == "failed" and result is None
    assert "处理出错" in state["error"] and "disk on fire" not in state["error"]
    page = client.get(f"/admin/jobs/{state['id']}")
    assert "失败" in page.text and "处理出错" in page.text


def test_a_job_whose_worker_died_is_run_again_and_given_up_after_three_tries(
        app, worker, booklet_event):
    with app.app_context():
        long_ago = utcnow() - timedelta(minutes=10)
        job = Job(kind="booklet_pdf", event_id=booklet_event, status="running", attempts=1,
                  created_at=long_ago, started_at=long_ago, touched_at=long_ago)
        hopeless = Job(kind="booklet_pdf", event_id=booklet_event, status="running", attempts=3,
                       created_at=long_ago, started_at=long_ago, touched_at=long_ago)
        fresh = Job(kind="booklet_pdf", event_id=booklet_event, status="running", attempts=1,
                    created_at=utcnow(), started_at=utcnow(), touched_at=utcnow())
        db.session.add_all([job, hopeless, fresh])
        db.session.flush()
        ids = job.id, hopeless.id, fresh.id
        db.session.commit()  # the task runs in a session of its own
        assert app.extensions["worker"].call("recover_stalled_jobs") == 1  # one queued again
    worker.settle(timeout=120)
    with app.app_context():
        again, given_up, running = (db.session.get(Job, i) for i in ids)
        assert (again.status, again.attempts) == ("done", 2) and again.result_path
        assert given_up.status == "failed" and "多次中断" in given_up.error
        assert running.status == "running"  # still heard from: left alone


def test_a_job_is_run_once_even_if_its_message_arrives_twice(app, worker, booklet_event):
    with app.app_context():
        job = job_service.start_job("booklet_pdf", event=db.session.get(Event, booklet_event),
                                    actor="测试")
        db.session.commit()
        job_id = job.id
        app.extensions["worker"].enqueue("run_jobs", [job_id])  # a duplicate message
    worker.settle(timeout=120)
    with app.app_context():
        assert db.session.get(Job, job_id).attempts == 1


def test_old_results_are_pruned_and_the_page_no_longer_offers_them(app, staff_client, worker,
                                                                   booklet_event):
    client = staff_client("staff")
    state, result = run_job(client, f"/admin/events/{booklet_event}/booklet/booklet.pdf", worker,
                            page_url=f"/admin/events/{booklet_event}/booklet")
    assert result.status_code == 200
    with app.app_context():
        assert job_service.prune_job_results(timedelta(days=7)) == 0  # still fresh
        db.session.execute(update(Job).values(finished_at=utcnow() - timedelta(days=8)))
        db.session.commit()
        assert job_service.prune_job_results(timedelta(days=7)) == 1
        db.session.commit()
    assert client.get(state["file_url"]).status_code == 404


def test_a_job_of_the_booklet_is_not_shown_to_finance(app, staff_client, worker, booklet_event):
    state, _ = run_job(staff_client("staff"), f"/admin/events/{booklet_event}/booklet/booklet.pdf",
                       worker, page_url=f"/admin/events/{booklet_event}/booklet")
    finance = staff_client("finance")
    # Finance opens the jobs of its own kinds (bank statements): another kind's job is not
    # there for it, the same answer as a job that does not exist.
    assert finance.get(f"/admin/jobs/{state['id']}").status_code == 404
    assert finance.get(state["file_url"]).status_code == 404
    assert staff_client("reviewer").get(f"/admin/jobs/{state['id']}").status_code == 403


# --- the operator's view --------------------------------------------------------------------

def test_the_status_page_shows_heartbeats_queue_and_failed_mail(app, staff_client, worker):
    with app.app_context():
        beat = Heartbeat(app, threads=4, periodic=True)
        beat.beat()
        db.session.add(OutboundMail(kind="confirmation", to_addr="lost@example.cn", subject="测",
                                    body_text="正文", status="failed", attempts=8,
                                    last_error="SMTPRecipientsRefused: 550 no such user"))
        db.session.commit()
    admin = staff_client("admin")
    page = admin.get("/admin/system/")
    assert page.status_code == 200
    assert beat.name in page.text and "运行中" in page.text
    assert 'id="mail-failed">1<' in page.text and "550 no such user" in page.text
    assert 'id="queue-length">0<' in page.text
    assert "worker-down" not in page.text

    with app.app_context():
        db.session.execute(update(WorkerHeartbeat).values(
            seen_at=utcnow() - HEARTBEAT_STALE - timedelta(seconds=1)))
        db.session.commit()
    with worker.paused():
        with app.app_context():
            app.extensions["worker"].enqueue("send_mail", [])
        page = admin.get("/admin/system/").text
    assert "无心跳" in page and "worker-down" in page
    assert 'id="queue-length">1<' in page
    assert staff_client("staff").get("/admin/system/").status_code == 403


def test_flask_worker_runs_as_its_own_process_sends_mail_and_stops_cleanly(
        app, database_url, smtp, worker, event, client, tmp_path):
    """The command an operator runs (`flask worker`), as a process of its own."""
    worker.stop()  # only the process consumes the queue here
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": database_url,
           "WORKER_BROKER_URL": app.config["WORKER_BROKER_URL"],
           "WORKER_QUEUE_NAME": app.config["WORKER_QUEUE_NAME"],
           "UPLOAD_DIR": app.config["UPLOAD_DIR"], "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(app.extensions["mail"].port), "BASE_URL": "http://confreg.test",
           "SECRET_KEY": "test"}
    env.pop("MAIL_OUTBOX_DIR", None)
    process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "flask"), "worker",
                                "--workers", "2"], cwd=PROJECT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert post_form(client, event["form_url"], event["form"]).status_code == 302
        deadline = time.monotonic() + 30
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp.received) == 1
        with app.app_context():
            beat = db.session.scalar(select(WorkerHeartbeat).where(
                WorkerHeartbeat.pid == process.pid))
            assert beat is not None and beat.stopped_at is None and beat.periodic
    finally:
        process.send_signal(signal.SIGINT)  # huey's graceful stop
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    with app.app_context():
        beat = db.session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.pid == process.pid))
        assert beat.stopped_at is not None
    worker.start()
