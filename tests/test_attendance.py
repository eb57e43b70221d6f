"""On-site attendance per day and completion (结业) of a training course: ticking, unticking,
bulk completion from the sign-in record, and the page staff use at the desk."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from confreg.extensions import db
from confreg.models import AttendanceRecord, AuditEntry
from confreg.services import ServiceError
from confreg.services.attendance import (attendance_rows, complete_from_attendance,
                                         record_attendance, set_completion, signed_in_on)
from confreg.services.certificates import eligible_subjects, issue_certificates
from tests.conftest import csrf_token_from, form_values, make_event, post_form
from tests.test_certificates import register, training_event


def course_with_trainees(people=3):
    event = training_event()
    registration, _ = register(event, "昆明市五华区华山街道", people=people)
    return event, registration.attendees


def days_of(event):
    return [event.starts_on + timedelta(days=n) for n in range((event.ends_on - event.starts_on).days + 1)]


def test_signing_in_is_idempotent_and_unticking_removes_only_that_day(app_ctx):
    event, (a, b, c) = course_with_trainees()
    first, second = days_of(event)[:2]
    ids = [a.id, b.id, c.id]

    assert record_attendance(event, first, [a.id, b.id], ids, actor="测试")[0] == [a.name, b.name]
    record_attendance(event, second, [a.id], ids, actor="测试")
    db.session.commit()
    again = record_attendance(event, first, [a.id, b.id], ids, actor="测试")
    db.session.commit()
    assert again == ([], [])
    added, removed = record_attendance(event, first, [a.id], ids, actor="测试")
    db.session.commit()

    assert (added, removed) == ([], [b.name])
    assert signed_in_on(event, first) == {a.id}
    assert signed_in_on(event, second) == {a.id}
    assert db.session.query(AttendanceRecord).count() == 2
    audits = db.session.scalars(select(AuditEntry.summary).where(
        AuditEntry.action == "attendance.recorded")).all()
    assert len(audits) == 3  # the unchanged save wrote nothing


def test_a_saved_search_changes_only_the_people_it_listed(app_ctx):
    event, (a, b, c) = course_with_trainees()
    day = event.starts_on
    record_attendance(event, day, [a.id, b.id, c.id], [a.id, b.id, c.id], actor="测试")
    db.session.commit()

    record_attendance(event, day, [], [a.id], actor="测试")  # a search showed only a
    db.session.commit()

    assert signed_in_on(event, day) == {b.id, c.id}


def test_a_day_outside_the_event_or_someone_elses_attendee_is_refused(app_ctx):
    event, (a, _, _) = course_with_trainees()
    other, (stranger, *_) = course_with_trainees()
    with pytest.raises(ServiceError) as outside:
        record_attendance(event, event.ends_on + timedelta(days=1), [a.id], [a.id], actor="测试")
    assert outside.value.field == "day"
    db.session.rollback()
    with pytest.raises(ServiceError, match="刷新"):
        record_attendance(event, event.starts_on, [stranger.id], [stranger.id], actor="测试")


def test_completion_is_ticked_and_unticked_per_trainee(app_ctx):
    event, (a, b, c) = course_with_trainees()
    ids = [a.id, b.id, c.id]

    assert set_completion(event, [a.id, c.id], ids, actor="测试") == ([a.name, c.name], [])
    db.session.commit()
    assert [e.attendee_id for e in eligible_subjects(event, "completion")] == [a.id, c.id]
    assert set_completion(event, [a.id], ids, actor="测试") == ([], [c.name])
    db.session.commit()

    assert a.completed_at is not None and a.completed_by == "测试" and c.completed_at is None


def test_a_trainee_with_a_completion_certificate_cannot_be_unticked(app_ctx):
    event, (a, b, _) = course_with_trainees()
    set_completion(event, [a.id], [a.id], actor="测试")
    issue_certificates(event, "completion", actor="测试")
    db.session.commit()

    with pytest.raises(ServiceError, match="先作废"):
        set_completion(event, [], [a.id], actor="测试")


def test_completion_is_only_for_a_training_course(app_ctx):
    meeting = make_event()
    registration, _ = register(meeting)
    attendee = registration.attendees[0]
    with pytest.raises(ServiceError, match="培训班"):
        set_completion(meeting, [attendee.id], [attendee.id], actor="测试")
    db.session.rollback()
    with pytest.raises(ServiceError, match="培训班"):
        complete_from_attendance(meeting, actor="测试")


def test_bulk_completion_takes_those_signed_in_every_day_or_on_enough_days(app_ctx):
    event, (a, b, c) = course_with_trainees()
    days = days_of(event)
    ids = [a.id, b.id, c.id]
    for n, day in enumerate(days):
        present = [a.id] + ([b.id] if n < len(days) - 1 else []) + ([c.id] if n == 0 else [])
        record_attendance(event, day, present, ids, actor="测试")
    db.session.commit()

    assert complete_from_attendance(event, actor="测试") == [a.name]
    db.session.commit()
    assert complete_from_attendance(event, actor="测试") == []  # nothing new
    assert complete_from_attendance(event, min_days=len(days) - 1, actor="测试") == [b.name]
    db.session.commit()
    with pytest.raises(ServiceError) as too_many:
        complete_from_attendance(event, min_days=len(days) + 1, actor="测试")

    assert too_many.value.field == "min_days"
    assert c.completed_at is None
    assert [r.attendee.name for r in attendance_rows(event, days[0]) if r.attendee.completed_at] == [a.name, b.name]


# --- the page -----------------------------------------------------------------------------

def test_staff_tick_a_day_and_completion_on_one_form(app, staff_client):
    with app.app_context():
        event, (a, b, c) = course_with_trainees()
        event_id, day = event.id, event.starts_on
        names = {a.id: a.name, b.id: b.name, c.id: c.name}
        a_id, b_id = a.id, b.id
    client = staff_client("staff")
    url = f"/admin/events/{event_id}/attendance?day={day.isoformat()}"
    page = client.get(url)
    assert page.status_code == 200
    assert "昆明市五华区华山街道" in page.text and all(n in page.text for n in names.values())

    values = form_values(page.text)
    response = client.post(f"/admin/events/{event_id}/attendance", data={
        "csrf_token": values["csrf_token"], "day": day.isoformat(),
        "listed": list(names), "present": [a_id, b_id], "completed": [a_id]},
        follow_redirects=True)

    assert response.status_code == 200
    assert "签到：新增 2 人，取消 0 人" in response.text and "结业：标记 1 人" in response.text
    assert 'id="present-count">2<' in response.text
    # The page shows what was saved: a browser submitting it unchanged keeps it.
    again = form_values(response.text)
    assert again["day"] == day.isoformat()
    with app.app_context():
        event = db.session.get(type(event), event_id)
        assert signed_in_on(event, day) == {a_id, b_id}


def test_the_page_searches_by_name_or_unit_and_saves_only_those(app, staff_client):
    with app.app_context():
        event = training_event()
        mine, _ = register(event, "甲街道办事处", people=1)
        other, _ = register(event, "乙街道办事处", people=1)
        record_attendance(event, event.starts_on, [other.attendees[0].id],
                          [other.attendees[0].id], actor="测试")
        db.session.commit()
        event_id, day, mine_id, other_id = event.id, event.starts_on, mine.attendees[0].id, other.attendees[0].id
    client = staff_client("staff")
    page = client.get(f"/admin/events/{event_id}/attendance?day={day}&q=甲街道")
    assert "甲街道办事处" in page.text and "乙街道办事处" not in page.text

    client.post(f"/admin/events/{event_id}/attendance?q=甲街道", data={
        "csrf_token": csrf_token_from(page.text), "day": day.isoformat(),
        "listed": [mine_id], "present": [mine_id]})

    with app.app_context():
        event = db.session.get(type(event), event_id)
        assert signed_in_on(event, day) == {mine_id, other_id}


def test_a_tampered_attendee_id_is_refused_without_a_500(app, staff_client):
    with app.app_context():
        event, (a, *_ ) = course_with_trainees()
        event_id, day = event.id, event.starts_on
    client = staff_client("staff")
    page = client.get(f"/admin/events/{event_id}/attendance")
    response = client.post(f"/admin/events/{event_id}/attendance", data={
        "csrf_token": csrf_token_from(page.text), "day": day.isoformat(),
        "listed": ["999999", "abc"], "present": ["999999"]}, follow_redirects=True)
    assert response.status_code == 200 and "名单已变化" in response.text
    with app.app_context():
        assert db.session.query(AttendanceRecord).count() == 0


def test_the_bulk_completion_form_keeps_a_bad_number_beside_its_field(app, staff_client):
    with app.app_context():
        event, (a, *_ ) = course_with_trainees()
        for day in days_of(event):
            record_attendance(event, day, [a.id], [a.id], actor="测试")
        db.session.commit()
        event_id, name = event.id, a.name
    client = staff_client("staff")

    bad = post_form(client, f"/admin/events/{event_id}/attendance/complete", {"min_days": "9"},
                    form_url=f"/admin/events/{event_id}/attendance")
    assert bad.status_code == 422 and "签到天数应在 1 到 4 之间" in bad.text
    assert form_values(bad.text)["min_days"] == "9"
    good = post_form(client, f"/admin/events/{event_id}/attendance/complete", {"min_days": "4"},
                     form_url=f"/admin/events/{event_id}/attendance", follow_redirects=True)
    assert f"已将 1 名学员标记为结业：{name}" in good.text


def test_a_meeting_has_sign_in_but_no_completion_column(app, staff_client):
    with app.app_context():
        event = make_event()
        register(event)
        event_id = event.id
    page = staff_client("staff").get(f"/admin/events/{event_id}/attendance")
    assert page.status_code == 200 and "签到" in page.text
    assert 'name="completed"' not in page.text and "标记为结业" not in page.text
