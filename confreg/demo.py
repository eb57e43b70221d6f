"""Loading the demo events, moved forward by whole years so that they are open today."""
import io
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from .checks import normalize_unit_name
from .demo_events import CASE_CALL, DEMO_CASES, DEMO_EVENTS
from .extensions import db
from .models import (Event, EventContact, FeeTier, MemberUnit, ScheduleItem, Submission,
                     SubmissionAttachment, User)

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


def build_event(spec: dict, today: date, *, years_earlier: int = 0) -> Event:
    """Make an Event from a demo spec, shifted so that registration is open on `today`
    (or that many years earlier: last year's call, closed, is loaded beside this year's)."""
    shift = years_to_open(spec["registration_deadline"], today) - years_earlier
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
              ("staff@demo.confreg", "演示会务", "staff"),
              ("reviewer@demo.confreg", "演示评审专家", "reviewer")]


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
    # Last year's call (past and closed) comes too, with its cases: the "already sent
    # last year" guard of this year's call can then be tried.
    builds = [build_event(spec, today) for spec in DEMO_EVENTS]
    builds.append(build_event(CASE_CALL, today, years_earlier=1))
    for event in builds:
        if db.session.scalar(select(Event.id).where(Event.key == event.key)) is None:
            db.session.add(event)
            added.append(event)
    db.session.flush()
    calls = {event.starts_on.year: event for event in added if event.kind == "call"}
    this_year = build_event(CASE_CALL, today).starts_on.year
    for number, spec in enumerate(DEMO_CASES, start=1):
        call = calls.get(this_year - spec["years_back"])
        if call is not None:  # only into a call loaded now: a second load adds nothing
            add_demo_case(call, spec, number)
    for name, credit_code, member_type in DEMO_MEMBERS:
        key = normalize_unit_name(name)
        if db.session.scalar(select(MemberUnit.id).where(MemberUnit.name_key == key)) is None:
            db.session.add(MemberUnit(name=name, name_key=key, credit_code=credit_code,
                                      member_type=member_type))
    db.session.flush()
    return added


# --- demo case reports: real files made here, so the pages and reviews have something ---

def demo_case_token(event: Event, number: int) -> str:
    """A demo case's private link token (fixed, so the README can point at it)."""
    return f"demo-{event.key}-case-{number}"


def add_demo_case(event: Event, spec: dict, number: int) -> Submission:
    """Add one demo case with its Word text, a PDF copy, photos and a sealed form."""
    from .models.registrations import hash_token
    from .checks import normalize_title
    from .services.submissions import add_version, new_submission_code
    from .services.uploads import store_file

    from .database import utcnow

    # Sent some weeks into the call, and never later than now (this year's call may not
    # have reached its nominal start yet: the demo moves whole years).
    now = min(datetime(event.starts_on.year, event.starts_on.month, event.starts_on.day, 2,
                       tzinfo=timezone.utc) + timedelta(days=20 + number),
              utcnow() - timedelta(hours=number))
    case = Submission(
        event_id=event.id, kind="case", code=new_submission_code(),
        token_hash=hash_token(demo_case_token(event, number)), status="submitted",
        unit_name=spec["unit_name"], unit_name_key=normalize_unit_name(spec["unit_name"]),
        province=spec["province"], city=spec["city"], contact_name=spec["contact_name"],
        contact_mobile=spec["contact_mobile"], contact_email=spec["contact_email"],
        recommendation=spec["recommendation"], category=spec["category"],
        title=spec["title"], title_key=normalize_title(spec["title"]),
        author_unit=spec["unit_name"], abstract=spec["abstract"], created_at=now, updated_at=now,
    )
    db.session.add(case)
    db.session.flush()
    word = _demo_docx(spec)
    add_version(case, store_file(word, "docx", f"{spec['title']}.docx"), word,
                uploaded_by=f"申报单位联系人 {spec['contact_name']}（演示数据）")
    case.versions[-1].uploaded_at = now
    attachments = [("text_pdf", 0, "", store_file(_demo_pdf(spec), "pdf", f"{spec['title']}.pdf"))]
    for position, caption in enumerate(spec["photos"], start=1):
        photo = _demo_photo(caption, position)
        attachments.append(("photo", position, caption,
                            store_file(photo, "jpeg", f"图片{position}.jpg")))
    attachments.append(("application_form", 0, "",
                        store_file(_demo_form(spec), "png", "申报表（盖章）.png")))
    if spec["recommendation"] == "expert":
        attachments.append(("recommendation", 0, "",
                            store_file(_demo_form(spec, expert=True), "png", "专家推荐意见.png")))
    for role, position, caption, stored in attachments:
        case.attachments.append(SubmissionAttachment(role=role, position=position,
                                                     caption=caption, file=stored,
                                                     created_at=now))
    db.session.flush()
    return case


def _demo_docx(spec: dict) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(spec["title"], level=1)
    document.add_paragraph(spec["unit_name"])
    for heading, paragraphs in spec["sections"]:
        document.add_heading(heading, level=2)
        for text in paragraphs:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _demo_pdf(spec: dict) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    from .pdf.layout import STYLE_BODY, STYLE_HEADING, STYLE_SUBTITLE, STYLE_TITLE

    story = [Paragraph(spec["title"], STYLE_TITLE), Paragraph(spec["unit_name"], STYLE_SUBTITLE)]
    for heading, paragraphs in spec["sections"]:
        story.append(Paragraph(heading, STYLE_HEADING))
        story.extend(Paragraph(text, STYLE_BODY) for text in paragraphs)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title=spec["title"]).build(story)
    return out.getvalue()


def _demo_font(size: int):
    from PIL import ImageFont

    from .pdf.layout import FONT_PATH

    return ImageFont.truetype(str(FONT_PATH), size, index=0)


def _demo_photo(caption: str, position: int) -> bytes:
    """A landscape 'photo': a coloured scene with its caption written on it."""
    from PIL import Image, ImageDraw

    palette = [(70, 120, 160), (90, 140, 90), (160, 110, 70), (120, 90, 150), (60, 130, 130)]
    sky, ground = palette[(position - 1) % len(palette)], (150, 150, 130)
    image = Image.new("RGB", (800, 600), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, 800, 600), fill=ground)
    for i in range(5):  # buildings
        x = 40 + i * 150
        draw.rectangle((x, 200 + (i % 3) * 40, x + 110, 420), fill=(225, 220, 205))
        for row in range(4):
            for col in range(3):
                wx, wy = x + 12 + col * 32, 225 + (i % 3) * 40 + row * 45
                draw.rectangle((wx, wy, wx + 18, wy + 24), fill=(120, 150, 180))
    draw.rectangle((0, 520, 800, 600), fill=(0, 0, 0))
    draw.text((24, 538), caption, font=_demo_font(30), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _demo_form(spec: dict, *, expert: bool = False) -> bytes:
    """The application form (or an expert's recommendation) 'scanned', with a red seal."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (840, 1188), (252, 252, 250))
    draw = ImageDraw.Draw(image)
    title = "专家推荐意见" if expert else "经验案例材料申报表"
    draw.text((420, 90), title, font=_demo_font(44), fill=(20, 20, 20), anchor="mm")
    rows = [("申报单位", spec["unit_name"]), ("案例标题", spec["title"]),
            ("联系人", spec["contact_name"]), ("联系电话", spec["contact_mobile"])]
    if expert:
        rows = [("被推荐单位", spec["unit_name"]), ("案例标题", spec["title"]),
                ("推荐意见", "该案例做法扎实、成效明显，同意推荐。"), ("专家签字", "（签字）")]
    body = _demo_font(22)
    for i, (label, value) in enumerate(rows):
        top = 180 + i * 90
        draw.rectangle((60, top, 780, top + 90), outline=(40, 40, 40), width=2)
        draw.line((230, top, 230, top + 90), fill=(40, 40, 40), width=2)
        draw.text((80, top + 32), label, font=body, fill=(20, 20, 20))
        draw.text((250, top + 32), value[:24], font=body, fill=(20, 20, 20))
    if not expert:  # the unit's seal
        draw.ellipse((520, 820, 740, 1040), outline=(200, 20, 20), width=8)
        draw.text((630, 930), "★", font=_demo_font(60), fill=(200, 20, 20), anchor="mm")
        draw.text((630, 1000), "（公章）", font=_demo_font(20), fill=(200, 20, 20), anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
