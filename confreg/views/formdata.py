"""Turning validated forms into the services' input."""
from ..services.registrations import AttendeeDetails, UnitDetails

UNIT_FORM_FIELDS = ("unit_name", "tier_claim", "credit_code", "credit_code_confirmed", "province",
                    "city", "address", "contact_name", "contact_mobile", "contact_email",
                    "invoice_title", "invoice_taxpayer_id", "invoice_type", "invoice_content",
                    "invoice_email")
ATTENDEE_FORM_FIELDS = ("name", "gender", "ethnicity", "title", "mobile", "email", "id_number",
                        "accommodation", "arrival_on", "departure_on", "diet", "remarks")


def unit_details(form) -> UnitDetails:
    return UnitDetails(**{name: getattr(form, name).data or ("" if name != "credit_code_confirmed"
                                                               else False)
                          for name in UNIT_FORM_FIELDS})


def attendee_details(form) -> list[AttendeeDetails]:
    details = []
    for entry in form.attendees.entries:
        row = entry.form
        raw_id = (row.id.data or "").strip()
        details.append(AttendeeDetails(
            id=int(raw_id) if raw_id.isdigit() else None,
            **{name: getattr(row, name).data if getattr(row, name).data is not None else ""
               for name in ATTENDEE_FORM_FIELDS},
        ))
    return details


def form_data_of(registration) -> dict:
    """The edit form's initial data: the registration as the unit entered it."""
    data = {name: getattr(registration, name) for name in UNIT_FORM_FIELDS}
    data["credit_code"] = data["credit_code"] or ""
    data["attendees"] = [
        {"id": str(a.id), **{name: getattr(a, name) for name in ATTENDEE_FORM_FIELDS}}
        for a in registration.attendees
    ]
    return data
