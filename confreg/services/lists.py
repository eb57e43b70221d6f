"""Assembling the printed lists of an event: the participant list and the sign-in sheets."""
from datetime import date, timedelta

from sqlalchemy import select

from ..checks import PROVINCES, mask_id_number, mask_mobile
from ..extensions import db
from ..models import Attendee, Event, Registration
from ..models.registrations import ACCOMMODATIONS, GENDERS
from ..pdf.lists import ListedAttendee, ListTotals, ParticipantList, SigninSheet

# Printed as a word only when it asks something of the kitchen; "none" stays blank.
PRINTED_DIETS = {"halal": "清真", "vegetarian": "素食"}
_PROVINCE_ORDER = {name: index for index, name in enumerate(PROVINCES)}

_COLUMNS = (Registration.province, Registration.unit_name, Attendee.name, Attendee.gender,
            Attendee.ethnicity, Attendee.title, Attendee.mobile, Attendee.id_number,
            Attendee.accommodation, Attendee.diet)


def event_days(event: Event) -> list[date]:
    """Return every day of the event, first to last."""
    return [event.starts_on + timedelta(days=n)
            for n in range((event.ends_on - event.starts_on).days + 1)]


def _province_key(province: str) -> tuple[int, str]:
    # The official order (北京, 天津, 河北 …), as on every national list; unknown ones last.
    return _PROVINCE_ORDER.get(province, len(PROVINCES)), province


def _listed(row, *, show_in_full: bool, with_id_numbers: bool) -> ListedAttendee:
    (province, unit_name, name, gender, ethnicity, title, mobile, id_number, accommodation,
     diet) = row
    if not show_in_full:
        mobile = mask_mobile(mobile) if mobile else ""
        id_number = mask_id_number(id_number) if id_number else ""
    return ListedAttendee(
        province=province, unit_name=unit_name.strip(), name=name,
        gender=GENDERS.get(gender, gender), ethnicity=ethnicity, title=title, mobile=mobile,
        id_number=id_number if with_id_numbers else "",
        accommodation=ACCOMMODATIONS.get(accommodation, accommodation),
        diet=PRINTED_DIETS.get(diet, ""),
    )


def _active_attendee_rows(event: Event, *where, order_by=()) -> list:
    query = (select(*_COLUMNS).join(Registration, Attendee.registration_id == Registration.id)
             .where(Attendee.event_id == event.id, Registration.status == "active", *where)
             .order_by(*order_by))
    return db.session.execute(query).all()


def participant_list_of(event: Event, *, show_in_full: bool, today: date) -> ParticipantList:
    """Collect the active attendees of an event by province and unit, with the totals."""
    # Within a unit, the order in which the unit listed its people (the leader first).
    rows = _active_attendee_rows(event, order_by=(Registration.id, Attendee.position))
    rows = sorted(rows, key=lambda r: (_province_key(r.province), r.unit_name.strip()))
    attendees = [_listed(r, show_in_full=show_in_full, with_id_numbers=event.ask_id_number)
                 for r in rows]
    totals = ListTotals(
        attendees=len(rows),
        units=len({(r.province, r.unit_name.strip()) for r in rows}),
        men=sum(r.gender == "M" for r in rows),
        women=sum(r.gender == "F" for r in rows),
        halal=sum(r.diet == "halal" for r in rows),
        vegetarian=sum(r.diet == "vegetarian" for r in rows),
        single_rooms=sum(r.accommodation == "single" for r in rows),
        shared_rooms=sum(r.accommodation == "shared" for r in rows),
        no_room=sum(r.accommodation == "none" for r in rows),
    )
    return ParticipantList(
        event_title=event.title, organiser=event.organiser, printed_on=today,
        attendees=attendees, totals=totals, with_id_numbers=event.ask_id_number,
        shown_in_full=show_in_full,
    )


def signin_sheet_of(event: Event, day: date, *, show_in_full: bool) -> SigninSheet:
    """Collect the active attendees present on `day` (arrived, not yet left), sorted."""
    rows = _active_attendee_rows(event, Attendee.arrival_on <= day, Attendee.departure_on >= day)
    rows = sorted(rows, key=lambda r: (_province_key(r.province), r.unit_name.strip(), r.name))
    return SigninSheet(
        event_title=event.title, organiser=event.organiser, day=day,
        attendees=[_listed(r, show_in_full=show_in_full, with_id_numbers=False) for r in rows],
        shown_in_full=show_in_full,
    )
