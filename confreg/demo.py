"""Loading the demo events, moved forward by whole years so that they are open today."""
from datetime import date

from sqlalchemy import select

from .checks import normalize_unit_name
from .demo_events import DEMO_EVENTS
from .extensions import db
from .models import Event, EventContact, FeeTier, MemberUnit, ScheduleItem, User

DATE_FIELDS = ("starts_on", "ends_on", "registration_deadline", "materials_deadline",
               "payment_deadline", "published_on", "signed_on")
TEXT_FIELDS = ("title", "short_title", "notice_heading", "addressees", "preamble", "fee_note",
               "materials_note", "supporters_note")

# A few registry entries so that member pricing can be tried before the organisers'
# import exists (issue 3). Names are examples, not a statement of membership.
DEMO_MEMBERS = [
    ("青海省社会工作协会", None, "committee_standing"),
    ("北京市朝阳区社区服务指导中心", None, "committee_member"),
    ("云南省昆明市五华区社会工作服务中心", None, "federation_member"),
    ("上海市徐汇区社区发展促进会", "51310104MJ49471538", "committee_vice_chair"),
]


def add_years(day: date, years: int) -> date:
    """Move a date by whole years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def years_to_open(registration_deadline: date, today: date) -> int:
    """The fewest whole years that put the registration deadline on or after today."""
    years = 0
    while add_years(registration_deadline, years) < today:
        years += 1
    return years


def build_event(spec: dict, today: date) -> Event:
    """Make an Event from a demo spec, shifted so that registration is open on `today`."""
    shift = years_to_open(spec["registration_deadline"], today)
    dates = {name: add_years(spec[name], shift) if spec.get(name) else None for name in DATE_FIELDS}
    year = dates["starts_on"].year
    fill = {"year": year, "prev_year": year - 1}

    def text(value):
        return value.format(**fill) if isinstance(value, str) else value

    event = Event(
        key=f"{spec['key']}-{year}", kind=spec["kind"], published=True,
        requirements=[text(r) for r in spec["requirements"]],
        sections=[{k: text(v) for k, v in s.items()} for s in spec["sections"]],
        categories=[{k: text(v) for k, v in c.items()} for c in spec["categories"]],
        organiser=spec["organiser"], co_organiser=spec["co_organiser"], city=spec["city"],
        venue_name=spec["venue_name"], venue_address=spec["venue_address"],
        venue_phone=spec["venue_phone"], capacity=spec["capacity"],
        fee_covers=spec["fee_covers"], payee_name=spec["payee_name"],
        bank_name=spec["bank_name"], bank_account=spec["bank_account"],
        payment_remark=spec["payment_remark"], invoice_note=spec["invoice_note"],
        invoice_content=spec["invoice_content"],
        materials_char_limit=spec["materials_char_limit"], signed_by=spec["signed_by"],
        **dates, **{name: text(spec[name]) for name in TEXT_FIELDS},
    )
    event.schedule = [
        ScheduleItem(day=add_years(day, shift), period=period, text=text(body), position=n)
        for n, (day, period, body) in enumerate(spec["schedule"])
    ]
    event.fee_tiers = [FeeTier(position=n, **tier) for n, tier in enumerate(spec["fee_tiers"])]
    event.contacts = [EventContact(position=n, **c) for n, c in enumerate(spec["contacts"])]
    return event


# Staff accounts for trying the desk on a demo installation (never load demo data into a
# real one: this password is in the README).
DEMO_PASSWORD = "confreg-demo-2027"
DEMO_STAFF = [("admin@demo.confreg", "演示管理员", "admin"),
              ("finance@demo.confreg", "演示财务", "finance"),
              ("staff@demo.confreg", "演示会务", "staff")]


def load_demo_staff() -> list[User]:
    """Add the demo staff accounts that are not there yet; return those added."""
    added = []
    for email, name, role in DEMO_STAFF:
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            user = User(email=email, name=name, role=role)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
            added.append(user)
    db.session.flush()
    return added


def load_demo(today: date) -> list[Event]:
    """Add the demo events and member units that are not there yet; return the events added."""
    added = []
    for spec in DEMO_EVENTS:
        event = build_event(spec, today)
        if db.session.scalar(select(Event.id).where(Event.key == event.key)) is None:
            db.session.add(event)
            added.append(event)
    for name, credit_code, member_type in DEMO_MEMBERS:
        key = normalize_unit_name(name)
        if db.session.scalar(select(MemberUnit.id).where(MemberUnit.name_key == key)) is None:
            db.session.add(MemberUnit(name=name, name_key=key, credit_code=credit_code,
                                      member_type=member_type))
    db.session.flush()
    return added
