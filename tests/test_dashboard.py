"""The event dashboard: seats, money, member claims and deadlines from a known set of
registrations and payments; the two charts drawn as SVG, read back; a fixed number of
queries whatever the number of registrations."""
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event

from confreg.charts import Bar, column_bars, horizontal_bars, nice_ticks
from confreg.extensions import db
from confreg.models import Attendee, Payment, Registration
from confreg.services.dashboard import event_dashboard
from confreg.timeutil import CHINA, china_today
from tests.conftest import make_event

SVG = "{http://www.w3.org/2000/svg}"
MEMBER, STANDARD = Decimal("2980"), Decimal("3580")


def china_time(day, hour: int, minute: int = 0) -> datetime:
    """An aware UTC instant at a China wall-clock time."""
    return datetime.combine(day, time(hour, minute), CHINA).astimezone(timezone.utc)


def add_registration(event, *, province: str, people: int, created_at: datetime,
                     price: Decimal = STANDARD, tier_status: str = "standard",
                     status: str = "active", payments: tuple = ()) -> Registration:
    """A registration written straight to the database, with its attendees and payments."""
    code = uuid.uuid4().hex[:8].upper()
    registration = Registration(
        event_id=event.id, code=code, token_hash=uuid.uuid4().hex, status=status,
        unit_name=f"{province}测试单位{code}", tier_claim="other", tier_status=tier_status,
        province=province, city="某市", contact_name="马晓明", contact_mobile="13912345678",
        contact_email=f"{code.lower()}@example.cn", total_amount=price * people,
        consent_at=created_at, created_at=created_at, updated_at=created_at,
    )
    for position in range(people):
        registration.attendees.append(Attendee(
            event_id=event.id, position=position, name=f"参会人{position}", gender="M",
            title="主任", mobile="13912345000", accommodation="shared",
            arrival_on=event.starts_on, departure_on=event.ends_on, fee=price))
    db.session.add(registration)
    db.session.flush()
    for number, amount in enumerate(payments):
        db.session.add(Payment(registration_id=registration.id, amount=Decimal(amount),
                               received_on=china_today(), bank_reference=f"{code}-{number}"))
    db.session.commit()
    return registration


@pytest.fixture
def known_event(app_ctx):
    """Five active registrations and a cancelled one, over three China days."""
    today = china_today()
    event = make_event()
    two_days_ago, yesterday = today - timedelta(days=2), today - timedelta(days=1)
    add_registration(event, province="青海省", people=3, created_at=china_time(two_days_ago, 10),
                     payments=("10740",))                        # paid in full
    add_registration(event, province="青海省", people=2, created_at=china_time(two_days_ago, 15),
                     price=MEMBER, tier_status="member_pending",
                     payments=("3000",))                         # part paid, claim pending
    # 00:30 in China is still the day before in UTC: it counts for the China day.
    add_registration(event, province="云南省", people=1, created_at=china_time(yesterday, 0, 30))
    add_registration(event, province="上海市", people=4, created_at=china_time(today, 0, 5),
                     price=MEMBER, tier_status="member_verified")  # unpaid
    add_registration(event, province="云南省", people=1, created_at=china_time(today, 0, 10),
                     payments=("3000", "1000"))                  # over-paid by 420
    add_registration(event, province="北京市", people=5, created_at=china_time(yesterday, 9),
                     status="cancelled", payments=("1000",))     # counts for nothing
    return event


def test_dashboard_figures_come_from_active_registrations_and_their_payments(known_event):
    figures = event_dashboard(known_event, today=china_today())

    assert (figures.units, figures.attendees, figures.seats_left) == (5, 11, 189)
    assert figures.expected == Decimal("35780.00")
    assert figures.received == Decimal("17740.00")
    # What unpaid and part-paid units owe; an over-payment does not pay for someone else.
    assert figures.outstanding == Decimal("18460.00")
    assert figures.overpaid == Decimal("420.00")
    assert (figures.units_paid, figures.units_part_paid, figures.units_unpaid) == (2, 1, 2)
    assert figures.member_claims_pending == 1


def test_attendees_are_counted_per_china_day_and_per_province(known_event):
    today = china_today()

    figures = event_dashboard(known_event, today=today)

    assert [(b.label, b.value) for b in figures.per_day] == [
        (f"{d.month}/{d.day}", n) for d, n in
        ((today - timedelta(days=2), 5), (today - timedelta(days=1), 1), (today, 5))]
    assert [(b.label, b.value) for b in figures.by_province] == [
        ("青海省", 5), ("上海市", 4), ("云南省", 2)]


def test_days_without_registrations_are_shown_as_zero_bars(app_ctx):
    today = china_today()
    event = make_event()
    add_registration(event, province="青海省", people=2,
                     created_at=china_time(today - timedelta(days=3), 9))
    add_registration(event, province="青海省", people=1, created_at=china_time(today, 9))

    figures = event_dashboard(event, today=today)

    assert [b.value for b in figures.per_day] == [2, 0, 0, 1]


@pytest.mark.parametrize("offset, status, state", [
    (5, "还有 5 天", "open"), (0, "今天截止", "today"), (-3, "已截止 3 天", "passed")])
def test_days_left_to_a_deadline_are_counted_in_china_dates(app_ctx, offset, status, state):
    today = china_today()
    event = make_event(payment_deadline=today + timedelta(days=offset))

    payment = event_dashboard(event, today=today).deadlines[2]

    assert payment.label == "缴费截止" and payment.status == status and payment.state == state


def test_an_event_without_a_materials_deadline_says_so(app_ctx):
    event = make_event(materials_deadline=None)

    materials = event_dashboard(event, today=china_today()).deadlines[1]

    assert materials.status == "未设定"


def _count_queries(event) -> int:
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        db.session.expire_all()
        event_dashboard(event, today=china_today())
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_the_dashboard_takes_the_same_few_queries_for_5_or_60_registrations(app_ctx):
    event = make_event(capacity=0)
    now = china_time(china_today(), 9)
    for _ in range(5):
        add_registration(event, province="青海省", people=2, created_at=now, payments=("100",))
    few = _count_queries(event)
    for _ in range(55):
        add_registration(event, province="云南省", people=2, created_at=now, payments=("100",))

    many = _count_queries(event)

    assert many == few <= 4  # the event itself, then three aggregates


# --- the charts -------------------------------------------------------------------------

def svg_of(html: str, css_class: str) -> ET.Element:
    match = re.search(rf'<svg[^>]*class="chart {css_class}".*?</svg>', html, re.S)
    assert match, f"no {css_class} chart on the page"
    return ET.fromstring(match.group(0))


def bars_of(svg: ET.Element) -> dict[str, tuple[int, float]]:
    """label -> (value, drawn length) of each bar."""
    bars = {}
    for rect in svg.iter(f"{SVG}rect"):
        if rect.get("class") == "bar":
            bars[rect.get("data-label")] = (int(rect.get("data-value")), float(rect.get("width")))
    return bars


def test_the_dashboard_page_shows_the_figures_and_a_bar_per_province(app, known_event,
                                                                    staff_client):
    event_id = known_event.id
    db.session.close()  # outside a request a transaction holds SQLite's write lock
    page = staff_client("finance").get(f"/admin/events/{event_id}")

    assert page.status_code == 200
    for shown in ('id="fig-attendees">11<', 'id="fig-units">5<', "35,780.00", "17,740.00",
                  "18,460.00", 'id="fig-pending">1<', "剩余 <span id=\"fig-seats-left\">189<",
                  'id="fig-materials-missing"><a href="/admin/events/'
                  f'{event_id}/registrations?filter=materials_missing">5 / 5</a>'):
        assert shown in page.text, shown
    provinces = svg_of(page.text, "chart-hbars")
    bars = bars_of(provinces)
    assert {label: value for label, (value, _) in bars.items()} == {
        "青海省": 5, "上海市": 4, "云南省": 2}
    # The drawn lengths are proportional to the counts.
    assert bars["青海省"][1] / bars["云南省"][1] == pytest.approx(5 / 2, rel=0.01)
    labels = [t.text for t in provinces.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == ["青海省", "上海市", "云南省"]
    days = bars_of(svg_of(page.text, "chart-columns"))
    assert sorted(value for value, _ in days.values()) == [1, 5, 5]


def test_a_chart_scales_to_its_container(app_ctx):
    svg = ET.fromstring(str(horizontal_bars([Bar("新疆维吾尔自治区", 3)], title="按省份")))

    assert svg.get("width") == "100%"
    assert re.fullmatch(r"0 0 \d+ \d+(\.\d+)?", svg.get("viewBox"))
    assert svg.get("height") is None  # the height follows the width through the viewBox
    label = next(t for t in svg.iter(f"{SVG}text") if t.get("class") == "label")
    bar = next(r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar")
    assert float(bar.get("x")) > float(label.get("x")) > 0  # a long label is not cut off


def test_column_chart_labels_at_most_max_labels_days(app_ctx):
    bars = [Bar(f"8/{day}", day % 4) for day in range(1, 31)]

    svg = ET.fromstring(str(column_bars(bars, title="每日", max_labels=8)))

    ticks = [t.text for t in svg.iter(f"{SVG}text")
             if t.get("class") == "tick" and "/" in (t.text or "")]
    assert ticks[0] == "8/1" and len(ticks) <= 8
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 30


@pytest.mark.parametrize("largest, expected", [
    (1, [0, 1]), (4, [0, 1, 2, 3, 4]), (11, [0, 5, 10, 15]), (37, [0, 10, 20, 30, 40]),
    (180, [0, 50, 100, 150, 200])])
def test_axis_ticks_are_round_numbers_past_the_largest_value(largest, expected):
    assert nice_ticks(largest) == expected


def test_an_event_without_registrations_shows_no_empty_chart(app, staff_client):
    with app.app_context():
        event_id = make_event().id

    page = staff_client("staff").get(f"/admin/events/{event_id}")

    assert page.status_code == 200
    assert "<svg" not in page.text and page.text.count("暂无报名") == 2
