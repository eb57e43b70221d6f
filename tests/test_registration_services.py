"""The registration rules, called directly: pricing, the member registry, capacity,
deadlines, changes with their audit trail, codes and private tokens, queued mail."""
import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

import confreg.services.registrations as registrations
from confreg.checks import REGISTRATION_CODE_ALPHABET
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Attendee, AuditEntry, OutboundMail, Registration
from confreg.services import ServiceError
from confreg.services.registrations import (AttendeeDetails, UnitDetails, cancel_registration,
                                            find_by_token, quote_fee,
                                            register_unit, seats_left,
                                            update_registration)
from confreg.templating import money
from confreg.timeutil import china_today
from tests.conftest import add_member, make_event

MEMBER_PRICE = Decimal("2980")
STANDARD_PRICE = Decimal("3580")
# Valid GB 32100 codes (check character computed).
CODE_A = "91630100MA7523456C"
CODE_B = "51630102MJ2000123F"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]


def unit(**overrides) -> UnitDetails:
    values = dict(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other", province="青海省",
                  city="西宁市", contact_name="马晓明", contact_mobile="13912345678",
                  contact_email="contact@example.cn")
    values.update(overrides)
    return UnitDetails(**values)


def people(event, count: int, first: int = 0) -> list[AttendeeDetails]:
    return [
        AttendeeDetails(name=NAMES[(first + i) % len(NAMES)], gender="M", title="主任",
                        mobile=f"1391234{5000 + first + i:04d}", accommodation="shared",
                        arrival_on=event.starts_on, departure_on=event.ends_on)
        for i in range(count)
    ]


def details_of(attendee: Attendee, **changes) -> AttendeeDetails:
    """The attendee as the edit form would send it back, with `changes` applied."""
    values = {name: getattr(attendee, name) for name in registrations.ATTENDEE_FIELDS}
    values.update(changes)
    return AttendeeDetails(id=attendee.id, **values)


def unit_of(registration: Registration) -> UnitDetails:
    values = {name: getattr(registration, name)
              for name in registrations.UNIT_FIELDS + registrations.INVOICE_FIELDS}
    values["credit_code"] = values["credit_code"] or ""
    return UnitDetails(**values)


def register(event, count=1, *, today=None, **unit_overrides):
    today = today or china_today()
    return register_unit(event.id, unit(**unit_overrides), people(event, count),
                         today=today, now=utcnow())


@pytest.fixture
def event(app_ctx):
    return make_event()


# --- pricing and the member registry ----------------------------------------------------

def test_member_claim_matched_by_normalised_name_gets_verified_member_price(event):
    add_member("西宁市城东区（东关）社区服务中心")
    registration, _ = register(event, 2, tier_claim="committee_member",
                               unit_name=" 西宁市 城东区(东关) 社区服务中心 ")
    db.session.commit()

    assert registration.tier_status == "member_verified"
    assert registration.member_unit is not None
    assert registration.member_unit.name == "西宁市城东区（东关）社区服务中心"
    assert [a.fee for a in registration.attendees] == [MEMBER_PRICE, MEMBER_PRICE]
    assert registration.total_amount == MEMBER_PRICE * 2
    assert registration.price_if_rejected is None


def test_member_claim_matched_by_credit_code_under_another_name_is_verified(event):
    add_member("青海省社会工作协会", credit_code=CODE_A)
    registration, _ = register(event, 1, tier_claim="federation_member",
                               unit_name="青海社工协会", credit_code=CODE_A.lower())

    assert registration.tier_status == "member_verified"
    assert registration.member_unit.credit_code == CODE_A
    assert registration.total_amount == MEMBER_PRICE


def test_member_claim_without_registry_match_waits_for_review(event):
    add_member("青海省社会工作协会", credit_code=CODE_A)
    registration, _ = register(event, 3, tier_claim="committee_member",
                               unit_name="格尔木市河西街道办事处", credit_code=CODE_B)

    assert registration.tier_status == "member_pending"
    assert registration.member_unit is None
    assert registration.total_amount == MEMBER_PRICE * 3
    assert registration.price_if_rejected == STANDARD_PRICE * 3
    quote = quote_fee(event, "committee_member", "格尔木市河西街道办事处", CODE_B, china_today())
    assert (quote.tier_status, quote.unit_price) == ("member_pending", MEMBER_PRICE)


def test_other_units_pay_the_standard_price_even_when_in_the_registry(event):
    add_member("西宁市城东区东关大街街道办事处")
    registration, _ = register(event, 2, tier_claim="other")

    assert registration.tier_status == "standard"
    assert registration.total_amount == STANDARD_PRICE * 2
    assert registration.price_if_rejected is None


def test_expired_registry_entry_does_not_match(event, today):
    member = add_member("青海省社会工作协会", credit_code=CODE_A)
    member.valid_until = today - timedelta(days=1)
    db.session.commit()

    registration, _ = register(event, 1, tier_claim="committee_member",
                               unit_name="青海省社会工作协会", credit_code=CODE_A)

    assert registration.tier_status == "member_pending"
    assert registration.member_unit is None


def test_registry_entry_valid_until_today_still_matches(event, today):
    member = add_member("青海省社会工作协会")
    member.valid_until = today
    db.session.commit()

    registration, _ = register(event, 1, tier_claim="committee_member",
                               unit_name="青海省社会工作协会")

    assert registration.tier_status == "member_verified"


# --- capacity ---------------------------------------------------------------------------

def test_group_larger_than_the_places_left_is_refused_with_the_number_left(app_ctx):
    event = make_event(capacity=3)
    with pytest.raises(ServiceError) as refused:
        register(event, 4)
    assert "仅剩 3 个名额" in refused.value.message
    assert refused.value.field == "attendees"
    db.session.rollback()
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_full_event_refuses_with_the_full_message(app_ctx):
    event = make_event(capacity=3)
    register(event, 3)
    db.session.commit()
    assert seats_left(event) == 0

    with pytest.raises(ServiceError) as refused:
        register(event, 1, unit_name="另一个单位")
    assert "名额已满" in refused.value.message


def test_cancelling_frees_the_places(app_ctx):
    event = make_event(capacity=3)
    registration, _ = register(event, 3)
    db.session.commit()

    cancel_registration(registration, today=china_today(), now=utcnow(), actor="测试")
    db.session.commit()

    assert registration.status == "cancelled"
    assert seats_left(event) == 3
    other, _ = register(event, 3, unit_name="另一个单位")
    db.session.commit()
    assert other.status == "active"
    assert seats_left(event) == 0


def test_cancelling_twice_is_refused(event):
    registration, _ = register(event, 1)
    cancel_registration(registration, today=china_today(), now=utcnow(), actor="测试")
    with pytest.raises(ServiceError):
        cancel_registration(registration, today=china_today(), now=utcnow(), actor="测试")


def test_replacing_an_attendee_on_a_full_event_is_allowed(app_ctx):
    """Removing one person and adding another leaves the head count unchanged."""
    event = make_event(capacity=2)
    registration, _ = register(event, 2)
    db.session.commit()
    first, second = registration.attendees
    newcomer = people(event, 1, first=4)[0]

    update_registration(registration, unit_of(registration), [details_of(first), newcomer],
                        today=china_today(), now=utcnow(), actor="测试")
    db.session.commit()

    assert [a.name for a in registration.attendees] == [first.name, newcomer.name]
    assert seats_left(event) == 0


# --- the registration deadline (whole days in China time) -------------------------------

def test_registration_after_the_deadline_is_refused(app_ctx, today):
    event = make_event(registration_deadline=today - timedelta(days=1))
    with pytest.raises(ServiceError) as refused:
        register(event, 1, today=today)
    assert "截止" in refused.value.message


def test_registration_on_the_deadline_day_is_accepted(app_ctx, today):
    event = make_event(registration_deadline=today)
    registration, _ = register(event, 1, today=today)
    assert registration.id is not None


def test_deadline_day_lasts_until_midnight_china_time(app_ctx):
    deadline = china_today() + timedelta(days=5)
    event = make_event(registration_deadline=deadline)
    # 23:59 in Shanghai on the deadline day is 15:59 UTC; 00:00 the next day is 16:00 UTC.
    last_minute = datetime(deadline.year, deadline.month, deadline.day, 15, 59, tzinfo=timezone.utc)
    too_late = last_minute + timedelta(minutes=1)

    registration, _ = register_unit(event.id, unit(), people(event, 1),
                                    today=china_today(last_minute), now=last_minute)
    assert registration.id is not None
    with pytest.raises(ServiceError):
        register_unit(event.id, unit(unit_name="另一个单位"), people(event, 1),
                      today=china_today(too_late), now=too_late)


# --- changing a registration ------------------------------------------------------------

def test_renaming_adding_and_removing_attendees_reprices_and_is_audited(event, today):
    registration, _ = register(event, 2)
    db.session.commit()
    first, second = registration.attendees
    added = people(event, 2, first=3)

    notes = update_registration(
        registration, unit_of(registration),
        [details_of(first, name="张卫"), *added],
        today=today, now=utcnow(), actor="单位联系人 马晓明（私密链接）",
    )
    db.session.commit()

    assert [a.name for a in registration.attendees] == ["张卫", added[0].name, added[1].name]
    assert [a.position for a in registration.attendees] == [0, 1, 2]
    assert all(a.fee == STANDARD_PRICE for a in registration.attendees)
    assert registration.total_amount == STANDARD_PRICE * 3
    assert db.session.scalar(select(func.count(Attendee.id))) == 3
    assert "参会人员 张伟 改为 张卫" in notes
    assert f"删除参会人员 {second.name}" in notes
    assert f"新增参会人员 {added[0].name}" in notes
    assert f"应缴金额 {money(7160)} 元 → {money(10740)} 元" in notes

    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.registration_id == registration.id,
                                 AuditEntry.action == "registration.updated")
    ).one()
    assert entry.actor == "单位联系人 马晓明（私密链接）"
    assert entry.summary == "；".join(notes)
    assert entry.changes["total_amount"] == ["7160.00", "10740.00"]


def test_removing_an_attendee_lowers_the_total(event, today):
    registration, _ = register(event, 3, tier_claim="committee_member")
    db.session.commit()
    keep = registration.attendees[:2]

    notes = update_registration(registration, unit_of(registration),
                                [details_of(a) for a in keep], today=today, now=utcnow(),
                                actor="测试")
    db.session.commit()

    assert registration.total_amount == MEMBER_PRICE * 2
    assert registration.price_if_rejected == STANDARD_PRICE * 2
    assert notes == [f"删除参会人员 {NAMES[2]}",
                     f"应缴金额 {money(8940)} 元 → {money(5960)} 元"]


def test_unchanged_registration_writes_no_audit_entry(event, today):
    registration, _ = register(event, 2)
    db.session.commit()

    notes = update_registration(registration, unit_of(registration),
                                [details_of(a) for a in registration.attendees],
                                today=today, now=utcnow(), actor="测试")

    assert notes == []
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "registration.updated")) == 0


def test_changing_attendees_after_the_deadline_is_refused(app_ctx, today):
    event = make_event(registration_deadline=today)
    registration, _ = register(event, 1, today=today)
    db.session.commit()
    attendee = registration.attendees[0]

    with pytest.raises(ServiceError) as refused:
        update_registration(registration, unit_of(registration),
                            [details_of(attendee, name="张卫")],
                            today=today + timedelta(days=1), now=utcnow(), actor="测试")
    assert "截止" in refused.value.message
    db.session.rollback()
    assert db.session.get(Attendee, attendee.id).name == NAMES[0]


# --- codes, tokens and mail -------------------------------------------------------------

def test_registration_code_uses_only_unambiguous_characters(event):
    codes = [register(event, 1, unit_name=f"单位{i}")[0].code for i in range(40)]
    assert all(set(code) <= set(REGISTRATION_CODE_ALPHABET) for code in codes)
    assert not set("".join(codes)) & set("01OI")
    assert len(set(codes)) == len(codes)


def test_registration_code_drawn_twice_is_replaced(event, monkeypatch):
    first, _ = register(event, 1)
    db.session.commit()
    draws = iter([first.code, first.code, "NEWC9DE2"])
    monkeypatch.setattr(registrations, "new_registration_code", lambda: next(draws))

    second, _ = register(event, 1, unit_name="另一个单位")

    assert second.code == "NEWC9DE2"


def test_private_token_is_stored_only_as_its_hash(event):
    registration, token = register(event, 1)
    db.session.commit()

    assert len(token) >= 32
    assert registration.token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = db.session.execute(text("SELECT * FROM registration")).mappings().one()
    assert not any(token in str(value) for value in row.values())
    assert find_by_token(token).id == registration.id
    assert find_by_token(registration.token_hash) is None


def test_rollback_after_registering_leaves_no_mail_to_send(event):
    register(event, 2)
    db.session.flush()
    assert db.session.scalar(select(func.count(OutboundMail.id))) == 1  # queued in the transaction

    db.session.rollback()

    assert db.session.scalar(select(func.count(OutboundMail.id))) == 0
    assert db.session.scalar(select(func.count(Registration.id))) == 0
