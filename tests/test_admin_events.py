"""Events without code: create, edit and copy an event in the browser (admins only)."""
from datetime import date, timedelta
from decimal import Decimal

import re

import pytest
from sqlalchemy import select

from confreg.extensions import db
from confreg.models import AuditEntry, Event, Registration
from confreg.services import ServiceError
from confreg.services.events import EventDetails, TierDetails, save_event
from tests.conftest import (csrf_token_from, form_values, make_event, post_form,
                            registration_form)

START = date(2031, 8, 20)


def event_form(**overrides) -> dict:
    """Valid event-form data: a four-day meeting with two tiers, a schedule and contacts."""
    data = {
        "kind": "meeting", "key": "xining-2031", "title": "2031年全国基层物业管理服务经验交流会",
        "short_title": "西宁交流会", "notice_heading": "城乡社区工作委员会〔2031〕5号",
        "addressees": "各有关单位：",
        "preamble": "为深入交流基层物业管理服务经验，\n经研究决定召开本次会议。\n\n现将有关事项通知如下。",
        "requirements": "请按时报名\n请自备笔记本电脑", "organiser": "中国社会工作联合会城乡社区工作委员会",
        "co_organiser": "青海省社会工作协会", "supporters_note": "",
        "city": "青海省西宁市", "venue_name": "西宁大厦", "venue_address": "城东区建国路61号",
        "venue_phone": "0971-8164800",
        "starts_on": START.isoformat(), "ends_on": (START + timedelta(days=3)).isoformat(),
        "registration_deadline": (START - timedelta(days=10)).isoformat(),
        "materials_deadline": (START - timedelta(days=19)).isoformat(),
        "payment_deadline": (START - timedelta(days=5)).isoformat(),
        "published_on": (START - timedelta(days=60)).isoformat(),
        "capacity": "200", "fee_covers": "含食宿、场地、资料等费用", "fee_note": "",
        "payee_name": "中国社会工作联合会", "bank_name": "中国工商银行北京朝阳支行",
        "bank_account": "0200003409014427548", "payment_remark": "城乡社区工作委员会服务费",
        "invoice_note": "收到汇款后开具正式电子发票。", "invoice_content": "培训服务",
        "materials_note": "3000字以内", "materials_char_limit": "3000",
        "status": "draft",
        "fee_tiers-0-id": "", "fee_tiers-0-code": "member", "fee_tiers-0-label": "会员单位",
        "fee_tiers-0-amount": "2980.00", "fee_tiers-0-is_member": "y",
        "fee_tiers-1-id": "", "fee_tiers-1-code": "standard", "fee_tiers-1-label": "其他单位",
        "fee_tiers-1-amount": "3580.00",
        "schedule_items-0-day": START.isoformat(), "schedule_items-0-period": "全天",
        "schedule_items-0-text": "报到",
        "schedule_items-1-day": (START + timedelta(days=1)).isoformat(),
        "schedule_items-1-period": "上午", "schedule_items-1-text": "开幕式",
        "contacts-0-kind": "person", "contacts-0-label": "王老师", "contacts-0-value": "13681260509",
        "contacts-1-kind": "email", "contacts-1-label": "", "contacts-1-value": "a@example.cn",
        "save": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create(client, **overrides):
    return post_form(client, "/admin/events/new", event_form(**overrides))


def the_event(key="xining-2031") -> Event:
    return db.session.scalar(select(Event).where(Event.key == key))


def field_box(html: str, name: str) -> str:
    """The HTML of the field wrapper around input `name` (label, input, error)."""
    at = html.index(f'name="{name}"')
    start = html.rindex('<div class="field', 0, at)
    end = html.index("</div>", at)
    return html[start:end]


def assert_typed_values_kept(html: str, posted: dict):
    shown = form_values(html)
    for name, value in posted.items():
        if name in ("save", "csrf_token") or name.startswith(("add_", "remove_")):
            continue
        assert shown.get(name) == value, (name, shown.get(name), value)


# --- creating and publishing ----------------------------------------------------------

def test_an_event_created_as_a_draft_is_not_public_until_published(app, client, staff_client):
    admin = staff_client("admin")

    response = create(admin)

    assert response.status_code == 302
    with app.app_context():
        event = the_event()
        assert response.headers["Location"].endswith(f"/admin/events/{event.id}/edit")
        assert not event.published
        assert [(t.code, t.amount, t.is_member) for t in event.fee_tiers] == [
            ("member", Decimal("2980.00"), True), ("standard", Decimal("3580.00"), False)]
        assert [(s.period, s.text) for s in event.schedule] == [("全天", "报到"), ("上午", "开幕式")]
        assert [c.as_line() for c in event.contacts] == ["王老师 13681260509", "邮箱 a@example.cn"]
        assert event.requirements == ["请按时报名", "请自备笔记本电脑"]
        assert event.preamble.count("\n\n") == 1
        event_id = event.id
    assert "2031年全国基层物业管理服务经验交流会" not in client.get("/").text
    assert client.get("/events/xining-2031").status_code == 404

    published = post_form(admin, f"/admin/events/{event_id}/edit",
                          event_form(status="published", **{"fee_tiers-0-id": None,
                                                            "fee_tiers-1-id": None}))

    assert published.status_code == 302
    assert "2031年全国基层物业管理服务经验交流会" in client.get("/").text
    notice = client.get("/events/xining-2031").text
    assert "2,980.00" in notice and "开幕式" in notice and "13681260509" in notice


def test_the_edit_form_shows_the_event_and_saving_it_unchanged_changes_nothing(app, staff_client):
    admin = staff_client("admin")
    create(admin)
    with app.app_context():
        event_id = the_event().id
    page = admin.get(f"/admin/events/{event_id}/edit")
    values = form_values(page.text)
    assert values["title"] == "2031年全国基层物业管理服务经验交流会"
    assert values["preamble"] == event_form()["preamble"]
    assert values["fee_tiers-1-amount"] == "3580.00"

    response = admin.post(f"/admin/events/{event_id}/edit", data={**values, "save": "1"})

    assert response.status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.event_id == event_id)).all()
        assert sorted(actions) == ["event.created", "fee_tier.created", "fee_tier.created"]


def test_only_admins_may_open_the_event_form(app, staff_client):
    assert staff_client("staff").get("/admin/events/new").status_code == 403
    assert staff_client("admin").get("/admin/events/new").status_code == 200


# --- validation: the message beside the field, every typed value kept -------------------

def test_a_deadline_after_the_end_comes_back_beside_its_field_with_everything_kept(
        app, staff_client):
    admin = staff_client("admin")
    data = event_form(payment_deadline=(START + timedelta(days=4)).isoformat())

    response = post_form(admin, "/admin/events/new", data)

    assert response.status_code == 422
    assert "缴费截止日期不能晚于活动结束日期" in field_box(response.text, "payment_deadline")
    assert_typed_values_kept(response.text, data)
    with app.app_context():
        assert the_event() is None


def test_an_end_before_the_start_is_refused_beside_the_end_date(staff_client):
    response = create(staff_client("admin"), ends_on=(START - timedelta(days=1)).isoformat(),
                      registration_deadline=(START - timedelta(days=20)).isoformat())

    assert response.status_code == 422
    assert "结束日期不能早于开始日期" in field_box(response.text, "ends_on")


def test_a_bad_key_is_refused_beside_the_key(app, staff_client):
    data = event_form(key="Xining 2031!")

    response = post_form(staff_client("admin"), "/admin/events/new", data)

    assert response.status_code == 422
    assert "只能用小写字母、数字和连字符" in field_box(response.text, "key")
    assert_typed_values_kept(response.text, {k: v for k, v in data.items() if k != "key"})
    with app.app_context():
        assert db.session.scalar(select(Event.id)) is None


def test_a_key_another_event_uses_is_refused_beside_the_key(app, staff_client):
    with app.app_context():
        make_event(key="xining-2031")
    data = event_form(title="另一个活动")

    response = post_form(staff_client("admin"), "/admin/events/new", data)

    assert response.status_code == 422
    assert "该网址标识已被其他活动使用" in field_box(response.text, "key")
    assert_typed_values_kept(response.text, data)


def test_a_negative_fee_is_refused_beside_the_amount(app, staff_client):
    data = event_form(**{"fee_tiers-1-amount": "-10"})

    response = post_form(staff_client("admin"), "/admin/events/new", data)

    assert response.status_code == 422
    assert "金额不能为负数" in field_box(response.text, "fee_tiers-1-amount")
    assert_typed_values_kept(response.text, data)
    # ...and the summary at the top names the row by its list and links to the field.
    assert re.search(r'href="#fee_tiers-1-amount">收费档次第 2 行 · [^<]*金额不能为负数',
                     response.text)


def test_two_member_tiers_are_refused(app, staff_client):
    response = create(staff_client("admin"), **{"fee_tiers-1-is_member": "y"})

    assert response.status_code == 422
    assert "最多一个会员价档次和一个非会员价档次" in response.text


def test_a_schedule_day_outside_the_event_is_refused_beside_it(staff_client):
    response = create(staff_client("admin"),
                      **{"schedule_items-1-day": (START + timedelta(days=9)).isoformat()})

    assert response.status_code == 422
    assert "日程日期须在活动期间" in field_box(response.text, "schedule_items-1-day")


# --- rows without JavaScript ----------------------------------------------------------

def test_a_fee_tier_row_is_added_and_removed_without_javascript(app, staff_client):
    admin = staff_client("admin")
    data = event_form(**{"fee_tiers-1-is_member": None})
    del data["fee_tiers-1-code"], data["fee_tiers-1-label"], data["fee_tiers-1-amount"]
    del data["fee_tiers-1-id"]

    added = post_form(admin, "/admin/events/new", {**data, "add_fee_tier": "1"})

    assert added.status_code == 200
    values = form_values(added.text)
    assert values["fee_tiers-0-label"] == "会员单位" and values["fee_tiers-0-amount"] == "2980.00"
    assert values["fee_tiers-1-code"] == "" and "fee_tiers-2-code" not in values
    assert values["title"] == data["title"] and values["contacts-1-value"] == "a@example.cn"

    values.update({"fee_tiers-1-code": "standard", "fee_tiers-1-label": "其他单位",
                   "fee_tiers-1-amount": "3580", "remove_fee_tier": "0"})
    removed = admin.post("/admin/events/new", data=values)

    assert removed.status_code == 200
    left = form_values(removed.text)
    assert left["fee_tiers-0-code"] == "standard" and left["fee_tiers-0-amount"] == "3580"
    assert "fee_tiers-1-code" not in left
    with app.app_context():
        assert db.session.scalar(select(Event.id)) is None  # nothing saved yet

    saved = admin.post("/admin/events/new", data={**left, "save": "1"})

    assert saved.status_code == 302
    with app.app_context():
        tiers = [(t.code, t.amount) for t in the_event().fee_tiers]
        assert tiers == [("standard", Decimal("3580.00"))]


def test_every_tier_removed_makes_a_free_event(app, staff_client):
    admin = staff_client("admin")
    page = post_form(admin, "/admin/events/new", {**event_form(), "remove_fee_tier": "0"})
    values = form_values(page.text)
    page = admin.post("/admin/events/new", data={**values, "remove_fee_tier": "0"})
    values = form_values(page.text)
    assert not any(name.startswith("fee_tiers-") for name in values)

    assert admin.post("/admin/events/new", data={**values, "save": "1"}).status_code == 302
    with app.app_context():
        assert the_event().is_free


# --- fees of an event that already has registrations ----------------------------------

def _registered_event(app, client) -> int:
    """A published event with one unit's registration of two attendees at 3580 each."""
    with app.app_context():
        event = make_event()
        url, data, event_id = f"/events/{event.key}/register", registration_form(event, 2), event.id
    assert post_form(client, url, data).status_code == 302
    return event_id


def test_changing_a_fee_after_registrations_is_audited_and_does_not_reprice_them(
        app, client, staff_client):
    event_id = _registered_event(app, client)
    admin = staff_client("admin")
    values = form_values(admin.get(f"/admin/events/{event_id}/edit").text)
    values["fee_tiers-1-amount"] = "3880.00"

    response = admin.post(f"/admin/events/{event_id}/edit", data={**values, "save": "1"},
                          follow_redirects=True)

    assert "已有的 1 个报名仍按原金额收费" in response.text
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        assert registration.total_amount == Decimal("7160.00")  # 2 × 3580, as registered
        assert db.session.get(Event, event_id).tier(False).amount == Decimal("3880.00")
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "fee_tier.updated"))
        assert entry.changes == {"amount": ["3580.00", "3880.00"]}
        assert entry.event_id == event_id and "管理员" in entry.actor


def test_a_tier_of_an_event_with_registrations_cannot_be_removed(app, client, staff_client):
    event_id = _registered_event(app, client)
    admin = staff_client("admin")
    values = form_values(admin.get(f"/admin/events/{event_id}/edit").text)
    values = form_values(admin.post(f"/admin/events/{event_id}/edit",
                                    data={**values, "remove_fee_tier": "0"}).text)

    response = admin.post(f"/admin/events/{event_id}/edit", data={**values, "save": "1"})

    assert response.status_code == 422
    assert "不能增加或删除" in response.text
    with app.app_context():
        assert len(db.session.get(Event, event_id).fee_tiers) == 2


def test_capacity_below_the_registered_attendees_is_refused(app, client, staff_client):
    event_id = _registered_event(app, client)
    admin = staff_client("admin")
    values = form_values(admin.get(f"/admin/events/{event_id}/edit").text)

    response = admin.post(f"/admin/events/{event_id}/edit",
                          data={**values, "capacity": "1", "save": "1"})

    assert response.status_code == 422
    assert "名额不能少于已报名的 2 人" in field_box(response.text, "capacity")


# --- copying --------------------------------------------------------------------------

def test_copying_makes_a_draft_one_year_later_with_every_tier_contact_and_schedule_item(
        app, staff_client):
    with app.app_context():
        source = make_event(key="xining-2030", title="2030年全国基层物业管理服务经验交流会",
                            starts_on=date(2030, 8, 20), published=True,
                            materials_deadline=date(2030, 8, 1), payment_deadline=date(2030, 8, 15),
                            registration_deadline=date(2030, 8, 10), preamble="第一段\n\n第二段")
        source_id = source.id
    admin = staff_client("admin")
    page = admin.get(f"/admin/events/{source_id}/edit")

    response = admin.post(f"/admin/events/{source_id}/copy",
                          data={"csrf_token": csrf_token_from(page.text)})

    assert response.status_code == 302
    with app.app_context():
        copy = the_event("xining-2031")
        assert response.headers["Location"].endswith(f"/admin/events/{copy.id}/edit")
        assert copy.published is False
        assert copy.title == "2031年全国基层物业管理服务经验交流会"
        assert (copy.starts_on, copy.ends_on) == (date(2031, 8, 20), date(2031, 8, 23))
        assert (copy.registration_deadline, copy.materials_deadline, copy.payment_deadline) == (
            date(2031, 8, 10), date(2031, 8, 1), date(2031, 8, 15))
        assert copy.preamble == "第一段\n\n第二段" and copy.bank_account == "0200003409014427548"
        def tiers(event):
            return [(t.code, t.label, t.amount, t.is_member) for t in event.fee_tiers]
        assert tiers(copy) == tiers(db.session.get(Event, source_id)) and len(tiers(copy)) == 2
        assert [(s.day, s.period, s.text) for s in copy.schedule] == [
            (date(2031, 8, 20), "全天", "报到")]
        assert [(c.kind, c.label, c.value) for c in copy.contacts] == [
            ("person", "王老师", "13681260509")]
        assert db.session.get(Event, source_id).published is True  # the source is untouched
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.copied"))
        assert entry.event_id == copy.id and "xining-2030" in entry.summary


def test_copying_twice_gives_each_copy_its_own_key(app, staff_client):
    with app.app_context():
        source_id = make_event(key="kunming", starts_on=date(2030, 5, 6),
                               registration_deadline=date(2030, 4, 20),
                               materials_deadline=None, payment_deadline=None).id
    admin = staff_client("admin")
    token = csrf_token_from(admin.get(f"/admin/events/{source_id}/edit").text)

    for _ in range(2):
        assert admin.post(f"/admin/events/{source_id}/copy",
                          data={"csrf_token": token}).status_code == 302

    with app.app_context():
        keys = set(db.session.scalars(select(Event.key)))
        assert keys == {"kunming", "kunming-2031", "kunming-2031-2"}


# --- the service directly -------------------------------------------------------------

def test_save_event_refuses_a_member_tier_without_a_standard_one(app_ctx):
    details = EventDetails(kind="meeting", key="solo", title="只有会员价", starts_on=START,
                           ends_on=START, registration_deadline=START,
                           fee_tiers=[TierDetails(code="member", label="会员", amount=Decimal("1"),
                                                  is_member=True)])
    with pytest.raises(ServiceError) as refused:
        save_event(None, details, actor="测试")

    assert refused.value.field == "fee_tiers"
    db.session.rollback()
