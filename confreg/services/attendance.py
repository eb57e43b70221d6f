"""On-site attendance: who signed in on each day, and which trainees completed the course.

Staff tick the people present on a day (one form, the whole list or a search of it);
ticking again changes nothing, unticking removes that day's record.  On a training
course they also tick completion (结业) per trainee, or let the sign-in record decide:
everyone signed in on every day (or on at least N days, a number staff choose).
Completion is what the 结业证书 are issued from (services/certificates.py).
"""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select

from ..database import utcnow
from ..extensions import db
from ..models import AttendanceRecord, Attendee, Certificate, Event, Registration
from ..timeutil import format_month_day_cn
from . import ServiceError
from .audit import record_audit
from .lists import event_days
from .registrations import lock_event

__all__ = ["AttendanceRow", "attendance_rows", "complete_from_attendance", "event_days",
           "record_attendance", "set_completion", "signed_in_on"]


@dataclass
class AttendanceRow:
    """One attendee on the attendance page."""

    attendee: Attendee
    unit_name: str
    present: bool = False          # signed in on the chosen day
    days_signed: int = 0           # days signed in, over the whole event
    has_certificate: bool = False  # an issued 结业证书


def _active_attendees(event: Event, query: str = "") -> list[Attendee]:
    statement = (select(Attendee).join(Registration, Attendee.registration_id == Registration.id)
                 .where(Attendee.event_id == event.id, Registration.status == "active"))
    query = (query or "").strip()
    if query:
        statement = statement.where(Attendee.name.contains(query, autoescape=True)
                                    | Registration.unit_name.contains(query, autoescape=True))
    attendees = db.session.scalars(statement).all()
    # Grouped by unit (as signed in at the desk), the unit's own order within it.
    return sorted(attendees, key=lambda a: (a.registration.unit_name.strip(),
                                            a.registration_id, a.position, a.id))


def signed_in_on(event: Event, day: date) -> set[int]:
    """Return the ids of the event's attendees signed in on `day`."""
    return set(db.session.scalars(
        select(AttendanceRecord.attendee_id).join(Attendee)
        .where(Attendee.event_id == event.id, AttendanceRecord.day == day)))


def _days_signed(event: Event) -> dict[int, int]:
    return dict(db.session.execute(
        select(AttendanceRecord.attendee_id, func.count(AttendanceRecord.id))
        .join(Attendee).where(Attendee.event_id == event.id)
        .group_by(AttendanceRecord.attendee_id)).all())


def _certified_attendees(event: Event) -> set[int]:
    return set(db.session.scalars(
        select(Certificate.attendee_id).where(Certificate.event_id == event.id,
                                              Certificate.kind == "completion",
                                              Certificate.status == "issued")))


def attendance_rows(event: Event, day: date, query: str = "") -> list[AttendanceRow]:
    """The active attendees (optionally searched by name or unit) with their sign-ins."""
    present = signed_in_on(event, day)
    counts = _days_signed(event)
    certified = _certified_attendees(event)
    return [AttendanceRow(attendee=a, unit_name=a.registration.unit_name,
                          present=a.id in present, days_signed=counts.get(a.id, 0),
                          has_certificate=a.id in certified)
            for a in _active_attendees(event, query)]


def _check_day(event: Event, day: date) -> None:
    if day not in event_days(event):
        raise ServiceError(f"{format_month_day_cn(day)}不是本活动的日期"
                           f"（{format_month_day_cn(event.starts_on)}—"
                           f"{format_month_day_cn(event.ends_on)}）。", field="day")


def _attendees_by_id(event: Event, ids: Iterable[int]) -> dict[int, Attendee]:
    ids = set(ids)
    if not ids:
        return {}
    found = {a.id: a for a in db.session.scalars(
        select(Attendee).join(Registration, Attendee.registration_id == Registration.id)
        .where(Attendee.id.in_(ids), Attendee.event_id == event.id,
               Registration.status == "active"))}
    if set(found) != ids:
        raise ServiceError("名单已变化（有人员已取消或不属于本活动），请刷新页面后重试。")
    return found


def record_attendance(event: Event, day: date, present_ids: Iterable[int],
                      listed_ids: Iterable[int], *, actor: str) -> tuple[list[str], list[str]]:
    """Set who of the listed attendees signed in on `day`; return (names added, removed).

    Only the listed attendees change (a search shows part of the list): ticked ones get
    a record of the day if they have none, unticked ones lose it.  Saving twice is harmless.
    """
    event = lock_event(event.id)  # begin_write first; one sheet saved at a time per event
    _check_day(event, day)
    present_ids, listed_ids = set(present_ids), set(listed_ids)
    if not present_ids <= listed_ids:
        raise ServiceError("勾选的人员不在名单中，请刷新页面后重试。")
    listed = _attendees_by_id(event, listed_ids)
    already = signed_in_on(event, day) & listed_ids
    to_add = sorted(present_ids - already)
    to_remove = sorted((listed_ids - present_ids) & already)
    now = utcnow()
    for attendee_id in to_add:
        db.session.add(AttendanceRecord(attendee_id=attendee_id, day=day, recorded_by=actor,
                                        recorded_at=now))
    if to_remove:
        db.session.execute(delete(AttendanceRecord).where(
            AttendanceRecord.attendee_id.in_(to_remove), AttendanceRecord.day == day))
    db.session.flush()
    added = [listed[i].name for i in to_add]
    removed = [listed[i].name for i in to_remove]
    if added or removed:
        record_audit(
            actor=actor, action="attendance.recorded", object_type="event", object_id=event.id,
            event_id=event.id,
            summary=(f"{format_month_day_cn(day)}签到：新增 {len(added)} 人"
                     + (f"，取消 {len(removed)} 人" if removed else "")),
            changes={"day": day.isoformat(), "added": added, "removed": removed},
        )
    return added, removed


def _require_training(event: Event) -> None:
    if event.kind != "training":
        raise ServiceError("只有培训班才有结业；本活动不是培训班。")


def _apply_completion(event: Event, attendees: list[Attendee], completed: bool, *, actor: str,
                      now: datetime) -> list[Attendee]:
    changed = [a for a in attendees if (a.completed_at is not None) != completed]
    if not completed:
        certified = _certified_attendees(event)
        blocked = [a.name for a in changed if a.id in certified]
        if blocked:
            raise ServiceError(f"{'、'.join(blocked)} 已有结业证书，请先作废证书再取消结业。")
    for attendee in changed:
        attendee.completed_at = now if completed else None
        attendee.completed_by = actor if completed else ""
    return changed


def set_completion(event: Event, completed_ids: Iterable[int], listed_ids: Iterable[int], *,
                   actor: str, now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Set which of the listed trainees completed the course; return (names marked, unmarked)."""
    event = lock_event(event.id)
    _require_training(event)
    completed_ids, listed_ids = set(completed_ids), set(listed_ids)
    if not completed_ids <= listed_ids:
        raise ServiceError("勾选的人员不在名单中，请刷新页面后重试。")
    listed = _attendees_by_id(event, listed_ids)
    now = now or utcnow()
    marked = _apply_completion(event, [listed[i] for i in sorted(completed_ids)], True,
                               actor=actor, now=now)
    unmarked = _apply_completion(event, [listed[i] for i in sorted(listed_ids - completed_ids)],
                                 False, actor=actor, now=now)
    db.session.flush()
    _audit_completion(event, marked, unmarked, actor=actor, how="逐人勾选")
    return [a.name for a in marked], [a.name for a in unmarked]


def complete_from_attendance(event: Event, *, min_days: int | None = None, actor: str,
                             now: datetime | None = None) -> list[str]:
    """Mark as completed every trainee signed in on at least `min_days` days (default: all).

    Returns the names newly marked; trainees already completed stay so, and nobody is
    unmarked (a trainee ticked by hand keeps it).
    """
    event = lock_event(event.id)
    _require_training(event)
    days = len(event_days(event))
    min_days = days if min_days is None else min_days
    if not 1 <= min_days <= days:
        raise ServiceError(f"签到天数应在 1 到 {days} 之间。", field="min_days")
    counts = _days_signed(event)
    qualifying = [a for a in _active_attendees(event) if counts.get(a.id, 0) >= min_days]
    marked = _apply_completion(event, qualifying, True, actor=actor, now=now or utcnow())
    db.session.flush()
    rule = "全部签到" if min_days == days else f"签到满 {min_days} 天"
    _audit_completion(event, marked, [], actor=actor, how=f"按签到记录（{rule}）")
    return [a.name for a in marked]


def _audit_completion(event: Event, marked: list[Attendee], unmarked: list[Attendee], *,
                      actor: str, how: str) -> None:
    if not marked and not unmarked:
        return
    summary = f"结业标记（{how}）：标记 {len(marked)} 人"
    if unmarked:
        summary += f"，取消 {len(unmarked)} 人"
    record_audit(
        actor=actor, action="attendee.completion", object_type="event", object_id=event.id,
        event_id=event.id, summary=summary,
        changes={"completed": [f"{a.name}（{a.registration.unit_name}）" for a in marked],
                 "not_completed": [f"{a.name}（{a.registration.unit_name}）" for a in unmarked]},
    )
