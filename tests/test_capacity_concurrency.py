"""The capacity is never exceeded, whatever the concurrency (issue 2).

200 units register one attendee each at the same moment, over real HTTP, against an
event with 50 places.  The same race is then run with the event lock removed, as a
control: it must be caught, so a pass above means something.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from sqlalchemy import event as event_api
from sqlalchemy import func, select

import confreg.database
import confreg.services.registrations as registrations
from confreg.extensions import db
from confreg.models import Attendee, Event, Registration

from tests.conftest import csrf_token_from, make_event, registration_form

CAPACITY = 50
ATTEMPTS = 200
FULL_MESSAGES = ("名额已满", "名额不足")
# Generous: a run takes 5-10 s; these only stop a broken run from hanging the suite.
BARRIER_TIMEOUT = 30
REQUEST_TIMEOUT = 60


@dataclass
class Answer:
    """What one unit's POST got back."""

    status: int
    text: str = ""
    location: str = ""
    code: str | None = None  # the registration code the success redirect put in the session
    error: str = ""  # a client-side failure (timeout, reset connection)


@dataclass
class RaceResult:
    answers: list[Answer]
    stored_attendees: int
    stored_codes: list[str]
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)


def _unit_form(event: Event, number: int) -> dict:
    mobile = f"1390{number:07d}"
    return registration_form(event, 1, unit_name=f"并发测试单位{number:03d}",
                             contact_mobile=mobile, **{"attendees-0-mobile": mobile})


def race_registrations(app, base_url: str, event: Event, attempts: int = ATTEMPTS) -> RaceResult:
    """Fire `attempts` single-attendee registrations at once; return the answers and the db."""
    form_url = f"{base_url}/events/{event.key}/register"
    forms = [_unit_form(event, number) for number in range(attempts)]
    event_id = event.id
    # Outside a request a transaction begins with BEGIN IMMEDIATE on SQLite: end it, or
    # this thread would hold the write lock through the whole race.
    db.session.close()

    serializer = app.session_interface.get_signing_serializer(app)
    barrier = threading.Barrier(attempts, timeout=BARRIER_TIMEOUT)

    def register(form: dict) -> Answer:
        with requests.Session() as http:
            try:
                page = http.get(form_url, timeout=REQUEST_TIMEOUT)
                assert page.status_code == 200, page.status_code
                form = {**form, "csrf_token": csrf_token_from(page.text)}
            except BaseException:
                barrier.abort()  # the others must not wait for a worker that will never come
                raise
            barrier.wait()  # the POSTs start together (the GET left the connection open)
            try:
                response = http.post(form_url, data=form, allow_redirects=False,
                                     timeout=REQUEST_TIMEOUT)
            except requests.RequestException as exc:
                return Answer(status=0, error=f"{type(exc).__name__}: {exc}")
            code = None
            if response.status_code == 302 and "session" in response.cookies:
                code = serializer.loads(response.cookies["session"]).get("new_registration")
            return Answer(status=response.status_code, text=response.text,
                          location=response.headers.get("Location", ""), code=code)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(register, forms))
    seconds = time.monotonic() - started

    stored_attendees = db.session.scalar(
        select(func.count(Attendee.id)).join(Registration)
        .where(Attendee.event_id == event_id, Registration.status == "active")
    )
    stored_codes = list(db.session.scalars(
        select(Registration.code).where(Registration.event_id == event_id,
                                        Registration.status == "active")
    ))
    db.session.close()
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    return RaceResult(answers, stored_attendees, stored_codes, seconds,
                      dict(sorted(statuses.items())))


def capacity_violations(result: RaceResult, capacity: int) -> list[str]:
    """List every way the race broke the capacity rule; empty when it held."""
    problems = []
    if result.stored_attendees != capacity:
        problems.append(f"{result.stored_attendees} attendees stored for {capacity} places")
    accepted = [a for a in result.answers if a.status == 302]
    if len(accepted) != capacity:
        problems.append(f"{len(accepted)} registrations accepted (302) for {capacity} places")
    server_errors = [a for a in result.answers if a.status >= 500]
    if server_errors:
        problems.append(f"{len(server_errors)} server errors (5xx)")
    refused_wrongly = [a for a in result.answers if a.status == 409
                       and not any(message in a.text for message in FULL_MESSAGES)]
    if refused_wrongly:
        problems.append(f"{len(refused_wrongly)} answers 409 without saying the event is full")
    unexpected = [a for a in result.answers if a.status not in (302, 409) and a.status < 500]
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected answers: "
                        f"{sorted({a.status for a in unexpected})} {unexpected[0].error}".rstrip())
    codes = [a.code for a in accepted]
    if None in codes or len(set(codes)) != len(codes):
        problems.append(f"registration codes not one per success: {len(set(codes) - {None})} "
                        f"distinct for {len(codes)} successes")
    elif sorted(codes) != sorted(result.stored_codes):
        problems.append("the codes the units were given are not the codes stored")
    if len(set(result.stored_codes)) != len(result.stored_codes):
        problems.append("duplicate registration codes stored")
    return problems


def test_two_hundred_simultaneous_registrations_fill_fifty_places_exactly(app, app_ctx,
                                                                          live_server):
    event = make_event(capacity=CAPACITY)

    result = race_registrations(app, live_server.url, event)

    assert capacity_violations(result, CAPACITY) == [], \
        f"{result.statuses} in {result.seconds:.1f} s"
    assert result.statuses == {302: CAPACITY, 409: ATTEMPTS - CAPACITY}
    assert all(a.location.startswith("/r/") for a in result.answers if a.status == 302)


def test_race_harness_catches_an_oversell_when_the_event_lock_is_removed(app, app_ctx,
                                                                         live_server,
                                                                         monkeypatch):
    """Control: without the lock, the same race and the same checks must report a violation."""
    event = make_event(capacity=CAPACITY)

    def load_event_without_lock(event_id: int) -> Event:
        return db.session.execute(
            select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
        ).scalar_one()

    count_seats = registrations.seats_taken

    def slow_seats_taken(event: Event) -> int:
        taken = count_seats(event)
        time.sleep(0.05)  # widen the window between the check and the insert
        return taken

    monkeypatch.setattr(registrations, "lock_event", load_event_without_lock)
    monkeypatch.setattr(registrations, "seats_taken", slow_seats_taken)
    # SQLite: begin every transaction DEFERRED, so the database lock no longer serialises
    # the check and the insert (the "begin" listener looks the name up at BEGIN time).
    monkeypatch.setattr(confreg.database, "wants_write", lambda: False)
    # ...and let writes through in such transactions (the guard would refuse them).
    event_api.remove(db.session, "before_flush", confreg.database._refuse_unlocked_flush)
    try:
        result = race_registrations(app, live_server.url, event)
    finally:
        confreg.database.guard_sqlite_writes(db.session)

    violations = capacity_violations(result, CAPACITY)
    oversold = result.stored_attendees > CAPACITY
    failed = any(a.status not in (302, 409) for a in result.answers)
    # PostgreSQL oversells; SQLite's deferred transactions fail with "database is locked".
    assert violations, f"race without the lock not caught: {result.statuses}"
    assert oversold or failed, violations


def test_the_same_form_submitted_twenty_times_at_once_registers_once(app, app_ctx, live_server):
    event = make_event(capacity=CAPACITY)
    form_url = f"{live_server.url}/events/{event.key}/register"
    form = registration_form(event, 2, submission_key="same-form-double-tapped")
    db.session.close()
    barrier = threading.Barrier(20, timeout=BARRIER_TIMEOUT)

    def submit(_):
        with requests.Session() as http:
            page = http.get(form_url, timeout=REQUEST_TIMEOUT)
            data = {**form, "csrf_token": csrf_token_from(page.text)}
            barrier.wait()
            return http.post(form_url, data=data, allow_redirects=False,
                             timeout=REQUEST_TIMEOUT)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(submit, range(20)))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [302] + [409] * 19, statuses
    assert all("请勿重复提交" in a.text for a in answers if a.status_code == 409)
    stored = db.session.scalar(select(func.count(Registration.id))
                               .where(Registration.event_id == event.id))
    assert stored == 1


def test_ten_simultaneous_cancels_of_one_registration_cancel_it_once(app, app_ctx, live_server):
    from confreg.models import AuditEntry, OutboundMail

    event = make_event(capacity=CAPACITY)
    form_url = f"{live_server.url}/events/{event.key}/register"
    form = registration_form(event, 1)
    db.session.close()
    with requests.Session() as http:
        page = http.get(form_url)
        created = http.post(form_url, data={**form,
                                  "csrf_token": csrf_token_from(page.text)},
                            allow_redirects=False)
    cancel_url = live_server.url + created.headers["Location"] + "/cancel"
    barrier = threading.Barrier(10, timeout=BARRIER_TIMEOUT)

    def cancel(_):
        with requests.Session() as http:
            token = csrf_token_from(http.get(cancel_url, timeout=REQUEST_TIMEOUT).text)
            barrier.wait()
            return http.post(cancel_url, data={"csrf_token": token, "confirm": "1"},
                             allow_redirects=False, timeout=REQUEST_TIMEOUT).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(cancel, range(10)))

    assert all(status == 302 for status in statuses), statuses
    cancellations = db.session.scalar(select(func.count(AuditEntry.id))
                                      .where(AuditEntry.action == "registration.cancelled"))
    cancel_mails = db.session.scalar(select(func.count(OutboundMail.id))
                                     .where(OutboundMail.kind == "registration_cancelled"))
    assert (cancellations, cancel_mails) == (1, 1)
