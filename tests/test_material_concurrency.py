"""Two replacements of one material at once: each gets its own version number, on SQLite
and PostgreSQL, even when one request read the material before the other committed."""
import io
import threading

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from confreg.extensions import db
from confreg.models import Registration, Submission
from confreg.services.materials import MaterialDetails, material_of, save_material
from confreg.timeutil import china_today
from tests.test_admin_registrations import new_event, register
from tests.test_materials import PDF, WORD, upload

DETAILS = MaterialDetails(title="物业管理服务创新的东关实践", authors="马晓明")


def file(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def test_a_replacement_read_before_another_commits_still_takes_the_next_number(app, client):
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    assert upload(client, unit.token).status_code == 302  # version 1
    # Requests (not scripts): their reads run in a deferred transaction that takes no lock.
    with app.test_request_context():
        # Request A reads the material (as its page does) before taking the lock ...
        registration = db.session.get(Registration, unit.id)
        seen = material_of(registration)  # held, as the page's state holds it
        assert seen.version_count == 1

        def request_b():  # ... while request B replaces the file and commits.
            with app.test_request_context():
                save_material(db.session.get(Registration, unit.id), DETAILS, file(PDF, "b.pdf"),
                              today=china_today(), actor="B")
                db.session.commit()
                db.session.remove()

        other = threading.Thread(target=request_b)
        other.start()
        other.join()
        saved = save_material(registration, DETAILS, file(WORD, "a.docx"), today=china_today(),
                              actor="A")
        db.session.commit()
        assert saved.version_number == 3
        submission = db.session.scalar(select(Submission))
        assert [v.number for v in submission.versions] == [1, 2, 3]
        assert submission.version_count == 3
        assert seen is submission  # the copy read before the lock was brought up to date


def test_simultaneous_replacements_number_their_versions_without_a_gap(app, client):
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    assert upload(client, unit.token).status_code == 302
    start, errors = threading.Barrier(6), []

    def replace(n: int):
        with app.test_request_context():
            try:
                start.wait()
                save_material(db.session.get(Registration, unit.id), DETAILS,
                              file(PDF, f"{n}.pdf"), today=china_today(), actor=f"unit {n}")
                db.session.commit()
            except Exception as error:  # noqa: BLE001 -- collected and asserted below
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=replace, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        assert [v.number for v in submission.versions] == [1, 2, 3, 4, 5, 6, 7]


def test_a_selection_and_a_cancellation_at_once_do_not_deadlock(app, client, monkeypatch):
    """The review desk and the unit take the same locks in the same order (event first), so
    neither waits on the other in a cycle (PostgreSQL would abort one with a deadlock)."""
    import time

    from confreg.database import utcnow
    from confreg.models import Event
    from confreg.services import review
    from confreg.services.registrations import cancel_registration

    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    assert upload(client, unit.token).status_code == 302
    with app.app_context():
        submission_id = db.session.scalar(select(Submission.id))
    selecting, cancelling, errors = threading.Event(), threading.Event(), []
    record_audit = review.record_audit

    def slow_audit(**entry):  # the selection holds its locks while the cancel starts
        selecting.set()
        cancelling.wait(5)
        time.sleep(0.5)
        return record_audit(**entry)

    monkeypatch.setattr(review, "record_audit", slow_audit)

    def select_it():
        with app.test_request_context():
            try:
                review.mark_selection(db.session.get(Event, event.id), [submission_id],
                                      "selected", "", actor="admin", now=utcnow())
                db.session.commit()
            except Exception as error:  # noqa: BLE001 -- asserted below
                errors.append(("select", repr(error)))
            finally:
                db.session.remove()

    def cancel_it():
        selecting.wait(5)
        with app.test_request_context():
            try:
                registration = db.session.get(Registration, unit.id)
                cancelling.set()
                cancel_registration(registration, today=china_today(), now=utcnow(),
                                    actor="unit")
                db.session.commit()
            except Exception as error:  # noqa: BLE001 -- asserted below
                errors.append(("cancel", repr(error)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=select_it), threading.Thread(target=cancel_it)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with app.app_context():
        submission = db.session.get(Submission, submission_id)
        # The cancellation came second: it saw the selection and withdrew the material.
        assert (submission.selection, submission.status) == ("selected", "withdrawn")
