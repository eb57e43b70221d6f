"""The HTTP side of registering: the event list, the notice, the form (errors, rows without
JavaScript, CSRF, deadline, capacity), the private pages and the payment notice PDF.

Each test opens short app contexts for set-up and checks, so that the test client's
requests run in their own app context, with their own `g` and database session."""
import re
import subprocess
from datetime import timedelta
from decimal import Decimal
from html import unescape
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from confreg.checks import credit_code_is_valid
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Attendee, AuditEntry, Event, Registration
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.templating import money
from confreg.timeutil import china_today, format_date_cn
from tests.conftest import (add_member, csrf_token_from, form_values, make_event, post_form,
                            registration_form)

VALID_CREDIT_CODE = "91630100MA7523456C"
BAD_CHECK_CREDIT_CODE = "91630100MA7523456D"  # same code, wrong check character
UNIT_NAME = "西宁市城东区东关大街街道办事处"


# --- helpers ----------------------------------------------------------------------------

def assert_everything_kept(html: str, sent: dict) -> None:
    """Every value the user sent is back in the form, as typed."""
    shown = form_values(html)
    lost = {k: (v, shown.get(k)) for k, v in sent.items()
            if k not in ("csrf_token", "submit") and shown.get(k) != v}
    assert not lost, f"values lost or changed (sent, shown): {lost}"


def text_of(html: str) -> str:
    """The page's text as a reader sees it: no tags, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def attendee_rows(html: str) -> int:
    return html.count('class="attendee" id="attendee-')


def new_event(app, **overrides) -> SimpleNamespace:
    """Create an event and return a detached copy of what the tests need of it."""
    with app.app_context():
        event = make_event(**overrides)
        return SimpleNamespace(
            id=event.id, key=event.key, title=event.title, starts_on=event.starts_on,
            ends_on=event.ends_on, registration_deadline=event.registration_deadline,
            materials_deadline=event.materials_deadline, payment_deadline=event.payment_deadline,
            form_url=f"/events/{event.key}/register",
        )


def fill_places(app, event, count: int) -> None:
    """Take `count` places through the service, as another unit would."""
    with app.app_context():
        attendees = [AttendeeDetails(name=f"占位{chr(0x4e00 + i)}", gender="F", title="干事",
                                     mobile=f"1380000{i:04d}", accommodation="none",
                                     arrival_on=event.starts_on, departure_on=event.ends_on)
                     for i in range(count)]
        register_unit(event.id, UnitDetails(unit_name="其他报名单位", tier_claim="other",
                                            province="北京市", city="北京市", contact_name="李四",
                                            contact_mobile="13800001111",
                                            contact_email="other@example.cn"),
                      attendees, today=china_today(), now=utcnow())
        db.session.commit()


def count_registrations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Registration.id)))


def token_of(response) -> str:
    assert response.status_code == 302, response.status_code
    path = urlsplit(response.headers["Location"]).path
    assert path.startswith("/r/"), path
    return path.removeprefix("/r/")


def register_via_form(app, client, event, attendees=3, **overrides) -> str:
    response = post_form(client, event.form_url, registration_form(event, attendees, **overrides))
    return token_of(response)


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def event(app):
    return new_event(app)


# --- the list and the notice ------------------------------------------------------------

def test_event_list_shows_open_events_and_hides_unpublished_ones(app, client, today):
    new_event(app, title="西宁经验交流会")
    new_event(app, title="尚未发布的内部会议", published=False)
    new_event(app, title="已截止的培训班", registration_deadline=today - timedelta(days=1))

    page = client.get("/")

    assert page.status_code == 200
    open_part, rest = page.text.split("<h2>报名已截止</h2>")
    assert "西宁经验交流会" in open_part
    assert "已截止的培训班" not in open_part and "已截止的培训班" in rest
    assert "尚未发布的内部会议" not in page.text


def test_unpublished_event_pages_are_not_found(app, client):
    hidden = new_event(app, published=False)
    assert client.get(f"/events/{hidden.key}").status_code == 404
    assert client.get(hidden.form_url).status_code == 404
    assert client.get(f"/events/{hidden.key}/print").status_code == 404


def test_notice_shows_venue_schedule_fees_deadlines_account_and_contacts(client, event):
    page = client.get(f"/events/{event.key}")

    assert page.status_code == 200
    html = page.text
    text = text_of(html)
    for expected in (
        event.title, "中国社会工作联合会城乡社区工作委员会", "青海省社会工作协会",
        "西宁大厦", "青海省西宁市城东区建国路61号", "0971-8164800",
        "报到", "含食宿、场地、资料等费用",
        "2,980.00 元/人", "3,580.00 元/人",
        format_date_cn(event.registration_deadline), format_date_cn(event.materials_deadline),
        format_date_cn(event.payment_deadline),
        "0200003409014427548", "中国工商银行北京朝阳支行", "中国社会工作联合会",
        "城乡社区工作委员会服务费", "收到汇款后开具正式电子发票。", "王老师 13681260509",
    ):
        assert expected in text, expected
    assert f'href="{event.form_url}"' in html


def test_printable_notice_has_the_whole_notice(client, event):
    page = client.get(f"/events/{event.key}/print")

    assert page.status_code == 200
    assert "data-print" in page.text and "/static/js/print-button.js" in page.text
    text = text_of(page.text)
    for expected in (event.title, "0200003409014427548", "3,580.00 元/人",
                     format_date_cn(event.payment_deadline), f"/events/{event.key}"):
        assert expected in text, expected


# --- the form: success ------------------------------------------------------------------

def test_valid_registration_redirects_to_the_private_page_that_shows_how_to_pay(app, client,
                                                                               event):
    response = post_form(client, event.form_url, registration_form(event, 3))
    token = token_of(response)
    with app.app_context():
        code = db.session.scalar(select(Registration.code))

    page = client.get(f"/r/{token}")

    assert page.status_code == 200
    text = text_of(page.text)
    assert "报名成功" in text
    assert code in text
    assert re.search(r"¥ ?10,740\.00", text)
    assert f"{code} 城乡社区工作委员会服务费" in text
    assert format_date_cn(event.payment_deadline) in text
    assert f"http://localhost/r/{token}" in text
    assert page.headers["Cache-Control"] == "no-store"

    again = client.get(f"/r/{token}")
    assert again.status_code == 200
    text = text_of(again.text)
    assert "报名成功" not in text
    assert f"http://localhost/r/{token}" not in text  # the link is shown once
    assert code in text


def test_unmatched_member_claim_shows_both_amounts(app, client, event):
    token = register_via_form(app, client, event, 2, tier_claim="committee_member",
                              unit_name="格尔木市河西街道办事处")

    text = text_of(client.get(f"/r/{token}").text)

    assert "会员价待核实" in text
    assert re.search(r"¥ ?5,960\.00", text)
    assert "如未通过核实，应按标准价缴纳 7,160.00 元" in text


# --- the form: bad input ----------------------------------------------------------------

def _bad_inputs(event):
    start, end = event.starts_on, event.ends_on
    return {
        "mobile": ({"attendees-1-mobile": "12345"}, "attendees-1-mobile",
                   "请填写 11 位中国大陆手机号码"),
        "contact_mobile": ({"contact_mobile": "12345"}, "contact_mobile",
                           "请填写 11 位中国大陆手机号码"),
        "email": ({"contact_email": "x@"}, "contact_email", "邮箱格式不正确"),
        "departure_before_arrival": ({"attendees-0-arrival_on": end.isoformat(),
                                      "attendees-0-departure_on": start.isoformat()},
                                     "attendees-0-departure_on", "离开日期不能早于到达日期。"),
        "date_outside_event": ({"attendees-1-arrival_on": (start - timedelta(days=1)).isoformat()},
                               "attendees-1-arrival_on", "日期须在活动期间"),
        "empty_name": ({"attendees-0-name": ""}, "attendees-0-name", "请填写姓名。"),
        "one_character_name": ({"attendees-0-name": "张"}, "attendees-0-name",
                               "姓名应为 2～30 个字。"),
        "forty_character_name": ({"attendees-1-name": "阿" * 40}, "attendees-1-name",
                                 "姓名应为 2～30 个字。"),
        "credit_code_check": ({"credit_code": BAD_CHECK_CREDIT_CODE}, "credit_code",
                              "代码校验位不符"),
    }


@pytest.mark.parametrize("case", ["mobile", "contact_mobile", "email", "departure_before_arrival",
                                  "date_outside_event", "empty_name", "one_character_name",
                                  "forty_character_name", "credit_code_check"])
def test_bad_input_is_flagged_beside_its_field_and_nothing_typed_is_lost(app, client, event,
                                                                        case):
    overrides, field_id, message = _bad_inputs(event)[case]
    data = registration_form(event, 2, address="城东区建国路1号院3单元",
                             **{"attendees-1-remarks": "需要无障碍房间",
                                "attendees-0-email": "zhang@example.cn"}, **overrides)

    response = post_form(client, event.form_url, data)

    assert response.status_code == 422
    assert f'id="{field_id}-error">{message}' in response.text
    assert_everything_kept(response.text, data)
    assert count_registrations(app) == 0


def test_missing_consent_is_flagged_and_nothing_typed_is_lost(app, client, event):
    data = registration_form(event, 2, consent=None)

    response = post_form(client, event.form_url, data)

    assert response.status_code == 422
    assert 'id="consent-error">请阅读并同意个人信息收集与使用说明后提交。' in response.text
    assert_everything_kept(response.text, data)
    assert "consent" not in form_values(response.text)  # left unticked, not ticked for them
    assert 'name="consent"' in response.text
    assert count_registrations(app) == 0


def test_credit_code_failing_the_check_is_accepted_once_confirmed(app, client, event):
    data = registration_form(event, 1, credit_code=BAD_CHECK_CREDIT_CODE)
    flagged = post_form(client, event.form_url, data)
    assert flagged.status_code == 422
    assert 'name="credit_code_confirmed"' in flagged.text  # the box to confirm it appears

    confirmed = post_form(client, event.form_url, {**data, "credit_code_confirmed": "y"})

    token_of(confirmed)
    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        assert registration.credit_code == BAD_CHECK_CREDIT_CODE
        assert registration.credit_code_confirmed is True


def test_valid_credit_code_needs_no_confirmation(app, client, event):
    response = post_form(client, event.form_url,
                         registration_form(event, 1, credit_code=VALID_CREDIT_CODE))
    token_of(response)


def test_date_that_is_not_a_date_gets_a_chinese_message(app, client, event):
    """Browsers without a date picker let people type a date as text, e.g. 2025/8/20."""
    typed = event.starts_on.strftime("%Y/%m/%d")
    data = registration_form(event, 1, **{"attendees-0-arrival_on": typed})

    response = post_form(client, event.form_url, data)

    assert response.status_code == 422
    message = re.search(r'id="attendees-0-arrival_on-error">([^<]*)<', response.text)
    assert message, "no message beside the arrival date"
    assert re.search(r"[\u4e00-\u9fff]", message.group(1)), message.group(1)
    assert_everything_kept(response.text, data)


def test_more_attendees_than_the_form_takes_are_refused_not_silently_dropped(app, client,
                                                                            event):
    data = registration_form(event, 51)
    for i in range(51):  # distinct names without digits, so every row is valid
        data[f"attendees-{i}-name"] = "张" + chr(0x4E00 + i)

    response = post_form(client, event.form_url, data)

    assert response.status_code == 422
    assert 'id="attendees-error">' in response.text  # told why, beside the attendee list
    with app.app_context():
        assert db.session.scalar(select(func.count(Attendee.id))) == 0


# --- the form: rows without JavaScript --------------------------------------------------

def test_adding_a_row_without_javascript_keeps_the_rows_already_typed(app, client, event):
    data = registration_form(event, 2, add_attendee="1", submit=None)

    response = post_form(client, event.form_url, data)

    assert response.status_code == 200
    assert attendee_rows(response.text) == 3
    assert_everything_kept(response.text, {k: v for k, v in data.items() if k != "add_attendee"})
    shown = form_values(response.text)
    assert shown["attendees-2-name"] == ""
    assert shown["attendees-2-arrival_on"] == event.starts_on.isoformat()
    assert shown["attendees-2-departure_on"] == event.ends_on.isoformat()
    assert "field-error" not in response.text  # nothing was validated yet
    assert count_registrations(app) == 0


def test_removing_a_row_without_javascript_keeps_the_other_rows(app, client, event):
    data = registration_form(event, 3, remove_attendee="1", submit=None)

    response = post_form(client, event.form_url, data)

    assert response.status_code == 200
    assert attendee_rows(response.text) == 2
    shown = form_values(response.text)
    for field in ("name", "gender", "title", "mobile", "diet", "arrival_on"):
        assert shown[f"attendees-0-{field}"] == data[f"attendees-0-{field}"]
        assert shown[f"attendees-1-{field}"] == data[f"attendees-2-{field}"]
    assert "attendees-2-name" not in shown
    assert shown["unit_name"] == data["unit_name"]
    assert count_registrations(app) == 0


# --- the form: CSRF, deadline, capacity -------------------------------------------------

def test_post_without_csrf_token_is_refused(app, client, event):
    response = client.post(event.form_url, data=registration_form(event, 1))

    assert response.status_code == 400
    assert "页面已过期" in response.text
    assert count_registrations(app) == 0


def test_form_after_the_deadline_is_closed_and_stores_nothing(app, client, event, today):
    closed = new_event(app, registration_deadline=today - timedelta(days=1))

    page = client.get(closed.form_url)
    assert page.status_code == 200
    assert (f"报名已于 {format_date_cn(closed.registration_deadline)} 截止，在线报名已关闭。"
            in page.text)
    assert 'name="unit_name"' not in page.text

    response = post_form(client, closed.form_url, registration_form(closed, 1),
                         form_url=event.form_url)  # a CSRF token from a page that has a form
    assert response.status_code == 409
    assert "在线报名已关闭" in response.text
    assert count_registrations(app) == 0


def test_form_on_the_deadline_day_is_open(app, client, today):
    last_day = new_event(app, registration_deadline=today)
    token_of(post_form(client, last_day.form_url, registration_form(last_day, 1)))


def test_full_event_says_so_on_the_notice_the_form_and_a_post(app, client, today):
    full = new_event(app, capacity=2)
    open_event = new_event(app)
    fill_places(app, full, 2)

    assert "名额已满" in client.get(f"/events/{full.key}").text
    form_page = client.get(full.form_url)
    assert "名额已满" in form_page.text
    response = post_form(client, full.form_url, registration_form(full, 1),
                         form_url=open_event.form_url)
    assert response.status_code == 409
    assert "名额已满" in response.text
    assert count_registrations(app) == 1


def test_group_larger_than_the_places_left_is_refused_and_keeps_the_form(app, client):
    small = new_event(app, capacity=3)
    fill_places(app, small, 1)
    data = registration_form(small, 3)

    response = post_form(client, small.form_url, data)

    assert response.status_code == 409
    assert "仅剩 2 个名额" in text_of(response.text)
    assert_everything_kept(response.text, data)
    assert count_registrations(app) == 1


# --- the private pages ------------------------------------------------------------------

def test_wrong_or_guessed_private_links_get_the_same_not_found_page(app, client, event):
    token = register_via_form(app, client, event, 1)
    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        code, token_hash = registration.code, registration.token_hash
    missing = client.get("/r/no/such/page/here")
    assert missing.status_code == 404

    for guess in ("x" * 32, token[:-1], token + "A", token.swapcase(), code, token_hash,
                  f"{token_hash}/edit", f"{code}/payment-notice.pdf", f"{token[:-1]}/cancel"):
        response = client.get(f"/r/{guess}")
        assert response.status_code == 404, guess
        assert response.data == missing.data, guess
    assert client.get(f"/r/{token}").status_code == 200


def test_editing_through_the_private_link_renames_reprices_and_records_the_change(app, client,
                                                                                  event):
    token = register_via_form(app, client, event, 2)
    client.get(f"/r/{token}")  # the success page, once
    edit_page = client.get(f"/r/{token}/edit")
    assert edit_page.status_code == 200
    data = form_values(edit_page.text)
    assert data["attendees-0-name"] == "张伟"
    data["attendees-0-name"] = "张卫"
    data.update({
        "attendees-2-name": "赵敏", "attendees-2-gender": "F", "attendees-2-title": "社工",
        "attendees-2-mobile": "13912347777", "attendees-2-accommodation": "single",
        "attendees-2-arrival_on": event.starts_on.isoformat(),
        "attendees-2-departure_on": event.ends_on.isoformat(), "attendees-2-diet": "none",
        "submit": "1",
    })

    response = client.post(f"/r/{token}/edit", data=data)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/r/{token}"
    text = text_of(client.get(f"/r/{token}").text)
    history = text.split("变更记录", 1)[1]
    assert "参会人员 张伟 改为 张卫" in history
    assert "新增参会人员 赵敏" in history
    assert f"应缴金额 {money(7160)} 元 → {money(10740)} 元" in history
    assert re.search(r"应缴金额：¥ ?10,740\.00", text)
    people = re.search(r"参会人员（3 人）(.*?)电子发票", text).group(1)
    assert "张卫" in people and "赵敏" in people and "张伟" not in people
    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        assert registration.total_amount == Decimal("10740.00")
        assert [a.name for a in registration.attendees] == ["张卫", "王芳", "赵敏"]
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "registration.updated")) == 1


def test_edit_with_bad_input_keeps_what_was_typed(app, client, event):
    token = register_via_form(app, client, event, 2)
    data = form_values(client.get(f"/r/{token}/edit").text)
    data.update({"attendees-0-name": "张卫", "attendees-1-mobile": "12345"})

    response = client.post(f"/r/{token}/edit", data=data)

    assert response.status_code == 422
    assert 'id="attendees-1-mobile-error">请填写 11 位中国大陆手机号码' in response.text
    assert_everything_kept(response.text, data)
    with app.app_context():
        assert db.session.scalar(select(Attendee.name).where(Attendee.position == 0)) == "张伟"


def test_edit_after_the_deadline_is_refused(app, client, today):
    event = new_event(app, registration_deadline=today)
    token = register_via_form(app, client, event, 1)
    with app.app_context():
        db.session.get(Event, event.id).registration_deadline = today - timedelta(days=1)
        db.session.commit()

    page = client.get(f"/r/{token}").text
    assert "报名已截止，参会人员不能在线修改" in text_of(page)
    assert f"/r/{token}/edit" not in page
    assert client.get(f"/r/{token}/edit").status_code == 302
    data = registration_form(event, 1, **{"attendees-0-name": "张卫"})
    data["csrf_token"] = csrf_token_from(client.get(f"/r/{token}/cancel").text)
    response = client.post(f"/r/{token}/edit", data=data)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Attendee.name)) == "张伟"


def test_cancelling_through_the_private_link_marks_it_cancelled(app, client, event):
    token = register_via_form(app, client, event, 2)
    confirm = client.get(f"/r/{token}/cancel")
    assert confirm.status_code == 200
    assert "确认取消报名" in confirm.text
    with app.app_context():
        assert db.session.scalar(select(Registration.status)) == "active"  # GET changed nothing

    response = client.post(f"/r/{token}/cancel", data={"csrf_token": csrf_token_from(confirm.text),
                                                        "confirm": "1"})

    assert response.status_code == 302
    page = client.get(f"/r/{token}").text
    assert "取消，请勿付款" in text_of(page)
    assert f"/r/{token}/payment-notice.pdf" not in page  # nothing to pay any more
    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        assert registration.status == "cancelled"
        assert registration.cancelled_at is not None


def test_cancel_without_csrf_token_changes_nothing(app, client, event):
    token = register_via_form(app, client, event, 1)
    assert client.post(f"/r/{token}/cancel", data={"confirm": "1"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Registration.status)) == "active"


def test_payment_notice_pdf_has_unit_code_account_and_amount_in_capitals(app, client, event,
                                                                         tmp_path):
    with app.app_context():
        add_member(UNIT_NAME)
    token = register_via_form(app, client, event, 3, tier_claim="committee_member")
    with app.app_context():
        code = db.session.scalar(select(Registration.code))

    response = client.get(f"/r/{token}/payment-notice.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data, tmp_path)
    assert UNIT_NAME in text
    assert code in text
    assert "0200003409014427548" in text
    assert f"{code} 城乡社区工作委员会服务费" in text
    assert "人民币捌仟玖佰肆拾元整" in text
    assert "8,940.00" in text


# --- no input gives a 500 ---------------------------------------------------------------

LONG = "长" * 5000
FUZZ = {
    "long_unit_name": {"unit_name": LONG},
    "long_everything": {k: LONG for k in (
        "unit_name", "city", "address", "contact_name", "contact_mobile", "contact_email",
        "credit_code", "invoice_title", "invoice_taxpayer_id", "invoice_content", "invoice_email",
        "attendees-0-name", "attendees-0-title", "attendees-0-mobile", "attendees-0-email",
        "attendees-0-remarks", "attendees-0-arrival_on")},
    "long_id_number": {"attendees-0-id_number": "1" * 200},
    "long_remarks": {"attendees-0-remarks": "备" * 201},
    "emoji": {"unit_name": "😀社区服务中心🎉", "attendees-0-name": "张😀伟",
              "attendees-0-remarks": "🙏" * 20, "city": "西宁🏔"},
    "nul_in_unit_name": {"unit_name": "东关\x00街道办事处"},
    "nul_in_remarks": {"attendees-0-remarks": "\x00"},
    "nul_in_address": {"address": "建国路\x001号"},
    "sql_quotes": {"unit_name": "O'Brien\"; DROP TABLE registration; --",
                   "address": "' OR '1'='1", "attendees-0-remarks": "'); DELETE FROM event; --"},
    "huge_attendee_index": {"attendees-999-name": "王五"},
    "enormous_attendee_index": {"attendees-99999999999999999999-name": "王五"},
    "huge_index_with_add": {"attendees-999-name": "王五", "add_attendee": "1"},
    "non_date_strings": {"attendees-0-arrival_on": "明天",
                         "attendees-0-departure_on": "2025-02-30"},
    "far_dates": {"attendees-0-arrival_on": "99999-01-01",
                  "attendees-0-departure_on": "0000-00-00"},
    "remove_attendee_word": {"remove_attendee": "abc"},
    "remove_attendee_huge": {"remove_attendee": "9" * 40},
    "remove_attendee_negative": {"remove_attendee": "-1"},
    "unknown_choices": {"tier_claim": "vip", "province": "火星", "attendees-0-gender": "X",
                        "attendees-0-ethnicity": "精灵族", "invoice_type": "free"},
    "superscript_index": {"attendees-²-name": "王五"},
    "index_past_int_limit": {f"attendees-{'9' * 5000}-name": "王五"},
    "superscript_attendee_id": {"attendees-0-id": "²"},
    "attendee_id_past_int_limit": {"attendees-0-id": "9" * 5000},
    "full_width_digits": {"contact_mobile": "１３９１２３４５６７８",
                          "credit_code": "９１６３０１００ＭＡ７５２３４５６Ｃ"},
}


@pytest.fixture
def served_as_in_production(app, monkeypatch):
    """Let an unhandled error become the 500 page a user would get, instead of raising."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


@pytest.mark.parametrize("case", sorted(FUZZ))
def test_odd_input_to_the_registration_form_never_gives_a_500(app, client, event, case,
                                                              served_as_in_production):
    response = post_form(client, event.form_url, registration_form(event, 1, **FUZZ[case]))

    assert response.status_code in (200, 302, 409, 422), response.status_code


@pytest.mark.parametrize("case", sorted(FUZZ))
def test_odd_input_to_the_edit_form_never_gives_a_500(app, client, event, case,
                                                      served_as_in_production):
    token = register_via_form(app, client, event, 1)
    data = form_values(client.get(f"/r/{token}/edit").text)
    data.update(FUZZ[case])

    response = client.post(f"/r/{token}/edit", data=data)

    assert response.status_code in (200, 302, 409, 422), response.status_code


def test_quotes_are_stored_as_typed(app, client, event):
    name = "O'Brien\"; DROP TABLE registration; --"
    register_via_form(app, client, event, 1, unit_name=name)
    with app.app_context():
        assert db.session.scalar(select(Registration.unit_name)) == name


def test_a_double_tapped_submit_registers_once_and_says_so(app, client, event):
    page = client.get(event.form_url)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page.text).group(1)
    data = {**registration_form(event, 2), "submission_key": key,
            "csrf_token": csrf_token_from(page.text)}

    first = client.post(event.form_url, data=data)
    second = client.post(event.form_url, data=data)

    assert first.status_code == 302
    assert second.status_code == 409
    with app.app_context():
        code = db.session.scalar(select(Registration.code))
    assert "请勿重复提交" in second.text and code in second.text
    assert count_registrations(app) == 1


def test_each_form_page_carries_its_own_submission_key(client, event):
    keys = {re.search(r'name="submission_key" type="hidden" value="([^"]+)"',
                      client.get(event.form_url).text).group(1) for _ in range(3)}
    assert len(keys) == 3


def test_private_pages_are_not_cached_and_send_no_referrer(app, client, event):
    token = register_via_form(app, client, event, attendees=1)

    private = client.get(f"/r/{token}")
    public = client.get(event.form_url)

    assert private.headers["Cache-Control"] == "no-store"
    assert private.headers["Referrer-Policy"] == "no-referrer"
    assert public.headers["Referrer-Policy"] == "same-origin"
    for response in (private, public):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_payment_notice_of_an_unmatched_member_claim_gives_both_amounts(app, client, event,
                                                                        tmp_path):
    token = register_via_form(app, client, event, attendees=3, tier_claim="committee_member",
                              unit_name="名录中没有的社区服务中心")

    text = " ".join(pdf_text(client.get(f"/r/{token}/payment-notice.pdf").data, tmp_path).split())

    assert "会员价待核实" in text
    assert "8,940.00" in text and "10,740.00" in text
    assert "人民币捌仟玖佰肆拾元整" in text


@pytest.mark.parametrize("path", ["/events/%00", "/events/%00/register", "/events/%00/print",
                                  "/events/" + "x" * 300, "/events/X%27--"])
def test_an_odd_event_key_is_simply_not_found(client, path, served_as_in_production):
    assert client.get(path).status_code == 404


def test_two_rows_claiming_one_attendee_are_refused(app, client, event):
    token = register_via_form(app, client, event, 2)
    data = form_values(client.get(f"/r/{token}/edit").text)
    data["attendees-1-id"] = data["attendees-0-id"]

    response = client.post(f"/r/{token}/edit", data=data)

    assert response.status_code == 422
    assert "参会人员数据有误" in text_of(response.text)
    with app.app_context():
        assert db.session.scalar(select(func.count(Attendee.id))) == 2


def test_taxpayer_id_takes_only_digits_and_capital_letters(app, client, event):
    response = post_form(client, event.form_url,
                         registration_form(event, 1, invoice_taxpayer_id="纳税人识别号纳税人识别号纳税人"))

    assert response.status_code == 422
    assert "纳税人识别号一般为 15～20 位数字或字母" in text_of(response.text)


def test_the_same_mobile_written_with_spaces_is_still_a_duplicate(app, client, event):
    response = post_form(client, event.form_url, registration_form(
        event, 2, **{"attendees-0-mobile": "139 1234 5000", "attendees-1-mobile": "13912345000"}))

    assert response.status_code == 422
    assert "与第 1 位参会人员的手机号相同" in text_of(response.text)


FAILING_CODE = "91630100MA7523456A"  # 18 valid characters, wrong check character


def test_a_confirmed_credit_code_is_not_asked_again_but_a_new_failing_one_is(app, client, event):
    assert not credit_code_is_valid(FAILING_CODE)
    assert not credit_code_is_valid(FAILING_CODE[:-1] + "D")
    token = register_via_form(app, client, event, 1, credit_code=FAILING_CODE,
                              credit_code_confirmed="y")
    data = form_values(client.get(f"/r/{token}/edit").text)
    assert "credit_code_confirmed" not in data

    unchanged = client.post(f"/r/{token}/edit", data={**data, "contact_name": "马晓红"})
    changed = client.post(f"/r/{token}/edit",
                          data={**data, "credit_code": FAILING_CODE[:-1] + "D"})

    assert unchanged.status_code == 302
    assert changed.status_code == 422
    assert "代码校验位不符" in text_of(changed.text)


@pytest.mark.parametrize("id_number, message", [
    ("", "请填写身份证号"),
    ("110105194912310021", "身份证号校验不符"),  # the GB 11643 example with a wrong check digit
])
def test_an_event_that_asks_for_id_numbers_checks_them(app, client, id_number, message):
    course = new_event(app, kind="training", ask_id_number=True)

    response = post_form(client, course.form_url,
                         registration_form(course, 1, **{"attendees-0-id_number": id_number}))

    assert response.status_code == 422
    assert message in text_of(response.text)


def test_a_valid_id_number_is_accepted_and_never_shown_in_full(app, client):
    course = new_event(app, kind="training", ask_id_number=True)

    token = register_via_form(app, client, course, 1,
                              **{"attendees-0-id_number": "11010519491231002x"})

    with app.app_context():
        assert db.session.scalar(select(Attendee.id_number)) == "11010519491231002X"
    assert "11010519491231002X" not in client.get(f"/r/{token}").text
