"""Certificate numbers stay unique and gapless, and no subject gets two valid certificates,
whatever the concurrency (SQLite and PostgreSQL).

As in test_receipt_concurrency: every thread has its own app context and session and
starts as a reader like a request does; a barrier releases them together.  Races: thirty
single issues at once (one subject each), eight bulk generations of the same event and
kind at once, and ten single issues of one subject at once.  The bulk race is then run
with the counter lock removed, as a control: the checks must catch it.
"""
import time

from sqlalchemy import event as event_api
from sqlalchemy import func, select

import confreg.database
import confreg.services.certificates as certificates
import confreg.services.finance as finance
from confreg.extensions import db
from confreg.models import Certificate, DocumentCounter, Event
from confreg.services import ServiceError
from confreg.services.certificates import counter_kind, issue_certificate, issue_certificates
from tests.conftest import make_event
from tests.conftest import run_at_once as run_together
from tests.test_certificates import add_submission

SUBJECTS = 30
BULK_RUNS = 8
BARRIER_TIMEOUT = 60


def event_with_selected_materials(count: int) -> tuple[int, list[str]]:
    """An event with `count` selected materials; returns its id and their subject keys."""
    event = make_event()
    keys = [f"submission:{add_submission(event, unit_name=f'并发测试单位{n:03d}', selection='selected').id}"
            for n in range(count)]
    event_id = event.id
    db.session.close()  # this thread must not hold SQLite's write lock during the race
    return event_id, keys


def run_at_once(app, event_id: int, jobs: list) -> list:
    """Run every job(event) at once, each with the event loaded in its own session."""
    return run_together(app, [lambda job=job: job(db.session.get(Event, event_id))
                              for job in jobs], timeout=BARRIER_TIMEOUT)


def numbering_problems(event_id: int, count: int, results: list,
                       allowed_errors: tuple = ()) -> list[str]:
    """Every way the certificates issued at once broke the rules; empty when they held."""
    problems = []
    errors = [r for r in results if isinstance(r, Exception) and not isinstance(r, allowed_errors)]
    if errors:
        problems.append(f"{len(errors)} runs failed, e.g. {type(errors[0]).__name__}: "
                        f"{str(errors[0])[:200]}")
    event = db.session.get(Event, event_id)
    stored = db.session.execute(select(Certificate.sequence, Certificate.number,
                                       Certificate.subject_key, Certificate.status)
                                .where(Certificate.event_id == event_id)).all()
    sequences = sorted(s for s, *_ in stored)
    if sequences != list(range(1, count + 1)):
        problems.append(f"stored sequences are not 1..{count}: {sequences}")
    prefix = f"SM{event.starts_on.year}-{event_id:03d}-"
    if sorted(n for _, n, *_ in stored) != [f"{prefix}{s:04d}" for s in range(1, count + 1)]:
        problems.append(f"stored numbers do not match {prefix}0001..")
    issued = [k for _, _, k, status in stored if status == "issued"]
    if len(issued) != len(set(issued)):
        problems.append("a subject has two valid certificates")
    counter = db.session.scalar(select(DocumentCounter.last_number).where(
        DocumentCounter.kind == counter_kind(event_id, "written")))
    if counter != count:
        problems.append(f"counter at {counter} after {count} certificates")
    db.session.close()
    return problems


def test_thirty_single_issues_at_once_are_numbered_one_to_thirty(app, app_ctx):
    event_id, keys = event_with_selected_materials(SUBJECTS)
    jobs = [lambda event, key=key: issue_certificate(event, "written", key, actor="并发测试").sequence
            for key in keys]

    results = run_at_once(app, event_id, jobs)

    assert numbering_problems(event_id, SUBJECTS, results) == []
    assert sorted(results) == list(range(1, SUBJECTS + 1))


def test_eight_bulk_generations_at_once_issue_each_subject_exactly_once(app, app_ctx):
    event_id, keys = event_with_selected_materials(SUBJECTS)
    jobs = [lambda event: len(issue_certificates(event, "written", actor="并发测试"))] * BULK_RUNS

    results = run_at_once(app, event_id, jobs)

    assert numbering_problems(event_id, SUBJECTS, results) == []
    assert sum(results) == SUBJECTS and sorted(results)[-1] == SUBJECTS  # one run issued all


def test_ten_issues_of_one_subject_at_once_give_it_one_certificate(app, app_ctx):
    event_id, (key,) = event_with_selected_materials(1)
    jobs = [lambda event: issue_certificate(event, "written", key, actor="并发测试").number] * 10

    results = run_at_once(app, event_id, jobs)

    assert numbering_problems(event_id, 1, results, allowed_errors=(ServiceError,)) == []
    assert len([r for r in results if isinstance(r, str)]) == 1
    assert all("已有有效" in r.message for r in results if isinstance(r, ServiceError))
    assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_the_race_harness_catches_duplicates_when_the_counter_lock_is_removed(app, app_ctx,
                                                                             monkeypatch):
    """Control: without the counter lock the same race and checks must report a problem."""
    event_id, keys = event_with_selected_materials(SUBJECTS)
    event = db.session.get(Event, event_id)
    # The counter row exists already, so that the race is over the numbers themselves.
    db.session.add(DocumentCounter(kind=counter_kind(event_id, "written"),
                                   year=event.starts_on.year, last_number=0))
    db.session.commit()
    db.session.close()

    def counter_without_lock(kind: str, year: int) -> DocumentCounter:
        counter = db.session.scalar(select(DocumentCounter).where(
            DocumentCounter.kind == kind, DocumentCounter.year == year)
            .execution_options(populate_existing=True))
        time.sleep(0.05)  # widen the window between reading the number and writing it
        return counter

    monkeypatch.setattr(finance, "lock_counter", counter_without_lock)
    # SQLite: the write lock (BEGIN IMMEDIATE) is what serialises issuing there, so it goes
    # too: transactions stay DEFERRED and the guard against that is lifted.
    monkeypatch.setattr(certificates, "begin_write", lambda session: None)
    monkeypatch.setattr(confreg.database, "wants_write", lambda: False)
    event_api.remove(db.session, "before_flush", confreg.database._refuse_unlocked_flush)
    try:
        jobs = [lambda event: len(issue_certificates(event, "written", actor="并发测试"))] * BULK_RUNS
        results = run_at_once(app, event_id, jobs)
    finally:
        confreg.database.guard_sqlite_writes(db.session)

    problems = numbering_problems(event_id, SUBJECTS, results)
    print("control found:", problems)
    assert problems != []
