"""Turning validated forms into the services' input, and a registration into form data."""
import re

from ..services.registrations import (ATTENDEE_FIELDS, INVOICE_FIELDS, UNIT_FIELDS,
                                      AttendeeDetails, UnitDetails)

ROW_ID = re.compile(r"[0-9]{1,9}")


def unit_details(form) -> UnitDetails:
    values = {name: getattr(form, name).data for name in UNIT_FIELDS + INVOICE_FIELDS}
    values["credit_code_confirmed"] = bool(values["credit_code_confirmed"])
    return UnitDetails(**{k: "" if v is None else v for k, v in values.items()})


def attendee_details(form) -> list[AttendeeDetails]:
    details = []
    for entry in form.attendees.entries:
        row = entry.form
        raw_id = row.id.data or ""
        details.append(AttendeeDetails(
            id=int(raw_id) if ROW_ID.fullmatch(raw_id) else None,
            **{name: "" if getattr(row, name).data is None else getattr(row, name).data
               for name in ATTENDEE_FIELDS},
        ))
    return details


def form_data_of(registration) -> dict:
    """The edit form's initial data: the registration as the unit entered it."""
    data = {name: getattr(registration, name) for name in UNIT_FIELDS + INVOICE_FIELDS}
    data["credit_code"] = data["credit_code"] or ""
    data["credit_code_confirmed"] = False  # asked again only if the code changes
    data["attendees"] = [
        {"id": str(a.id), **{name: getattr(a, name) for name in ATTENDEE_FIELDS}}
        for a in registration.attendees
    ]
    return data
