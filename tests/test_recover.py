"""找回私密链接: a unit that lost its private link gets a new one by e-mail at /recover,
with the same answer for any input, at most three mails a day; and every mail that sends a
unit to its private page says where to get the link back (real SMTP throughout)."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from confreg.extensions import db
from confreg.models import AuditEntry, OutboundMail, Registration, Submission
from confreg.notifications import deliver_mail
from confreg.services.reminders import send_reminders
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, post_form
from tests.test_cases import new_call, submitted
from tests.test_registration_views import new_event, register_via_form

ANSWER = "如编号和邮箱与记录相符，我们已把新的私密链接发到该邮箱"
RECOVER_LINE = ("如找不到报名时收到的私密链接，请到 http://confreg.test/recover "
                "用报名编号和联系人邮箱找回。")


def ask(client, code: str, email: str):
    """Fill in /recover as a unit would; return the page it ends on."""
    response = post_form(client, "/recover", {"code": code, "email": email})
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].endswith("/recover?sent=1")
    # The mail goes once the response is closed (a server does that after sending it).
    response.close()
    return client.get(response.headers["Location"])


def link_in(smtp, message, kind: str = "r") -> str:
    body = smtp.body(message)
    match = re.search(rf"http://confreg\.test/{kind}/([A-Za-z0-9_-]{{16,}})", body)
    assert match, body
    return match.group(1)


def code_of(app, model) -> str:
    with app.app_context():
        return db.session.scalar(select(model.code))


def recoveries(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "link.recovered")).all())


@pytest.fixture
def registered(app, client, smtp):
    """A unit registered through the form; its confirmation mail already received."""
    event = new_event(app)
    token = register_via_form(app, client, event, attendees=1)
    smtp.messages.clear()
    return event, token, code_of(app, Registration)


def test_right_code_and_email_mail_a_new_link_and_the_old_one_stops_working(
        app, client, smtp, registered):
    event, old_token, code = registered

    # typed as a person might: lower case with spaces, the address in capitals
    page = ask(client, f" {code[:4].lower()} {code[4:].lower()} ", "Contact@Example.CN")

    assert ANSWER in page.text
    [message] = smtp.messages
    assert message["To"] == "contact@example.cn" and code in message["Subject"]
    body = smtp.body(message)
    assert "原来的私密链接" in body and "已经失效" in body
    new_token = link_in(smtp, message)
    assert new_token != old_token
    assert client.get(f"/r/{old_token}").status_code == 404
    mine = client.get(f"/r/{new_token}")
    assert mine.status_code == 200 and code in mine.text
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "link.recovered")).all()
        registration = db.session.scalar(select(Registration))
        assert entry.registration_id == registration.id and code in entry.summary
        assert new_token not in entry.summary
        stored = db.session.scalar(select(OutboundMail).where(
            OutboundMail.kind == "link_recovered"))
        assert stored.status == "sent" and new_token not in stored.body_text
        assert stored.registration_id == registration.id


@pytest.mark.parametrize("typed", ["wrong email", "unknown code", "blank-looking code"])
def test_a_wrong_email_or_unknown_code_gets_the_same_answer_and_no_mail(
        app, client, smtp, registered, typed):
    event, old_token, code = registered
    right = ask(client, code, "contact@example.cn").text
    smtp.messages.clear()
    with app.app_context():
        before = db.session.scalar(select(Registration.token_hash))
    code_typed, email = {"wrong email": (code, "someone.else@example.cn"),
                         "unknown code": ("ZZZZ2345", "contact@example.cn"),
                         "blank-looking code": ("--", "contact@example.cn")}[typed]

    page = ask(client, code_typed, email)

    assert page.text == right  # the same words whether or not anything matched
    assert smtp.messages == []
    assert recoveries(app) == 1  # only the first, right request
    with app.app_context():
        assert db.session.scalar(select(Registration.token_hash)) == before
    assert client.get(f"/r/{old_token}").status_code == 404  # the first, right request's doing


def test_a_case_code_mails_a_new_case_link(app, client, smtp):
    event = new_call(app)
    old_token = submitted(client, event)
    code = code_of(app, Submission)
    smtp.messages.clear()

    page = ask(client, code, "CASE@example.cn")

    assert ANSWER in page.text
    [message] = smtp.messages
    assert message["To"] == "case@example.cn" and code in message["Subject"]
    assert "申报编号" in smtp.body(message)
    new_token = link_in(smtp, message, "c")
    assert client.get(f"/c/{old_token}").status_code == 404
    assert client.get(f"/c/{new_token}").status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "link.recovered"))
        assert entry.object_type == "submission" and entry.registration_id is None


def test_the_fourth_request_in_a_day_sends_nothing_and_keeps_the_link(
        app, client, smtp, registered):
    event, _, code = registered
    for _ in range(3):
        ask(client, code, "contact@example.cn")
    assert len(smtp.messages) == 3
    third = link_in(smtp, smtp.messages[-1])

    page = ask(client, code, "contact@example.cn")

    assert ANSWER in page.text
    assert len(smtp.messages) == 3 and recoveries(app) == 3
    assert client.get(f"/r/{third}").status_code == 200

    # a day later the unit may ask again
    with app.app_context():
        for entry in db.session.scalars(select(AuditEntry)):
            entry.at -= timedelta(hours=25)
        db.session.commit()
    ask(client, code, "contact@example.cn")
    assert len(smtp.messages) == 4
    assert client.get(f"/r/{third}").status_code == 404


def test_missing_or_malformed_input_is_flagged_beside_the_field(app, client, smtp, registered):
    response = post_form(client, "/recover", {"code": "", "email": "not-an-address"})

    assert response.status_code == 422
    assert "请填写报名编号或申报编号。" in response.text
    assert "邮箱格式不正确" in response.text and 'value="not-an-address"' in response.text
    assert smtp.messages == [] and recoveries(app) == 0


def test_a_post_without_the_csrf_token_is_refused(app, client, smtp, registered):
    _, _, code = registered
    response = client.post("/recover", data={"code": code, "email": "contact@example.cn"})

    assert response.status_code == 400
    assert smtp.messages == [] and recoveries(app) == 0


def test_the_form_page_and_the_notice_link_to_it(app, client):
    event = new_event(app)
    page = client.get("/recover")
    assert page.status_code == 200
    assert 'name="code"' in page.text and 'name="email"' in page.text
    csrf_token_from(page.text)
    notice = client.get(f"/events/{event.key}")
    assert notice.text.count('href="/recover"') == 2  # beside the notice and in the footer
    assert "找不到私密链接？" in notice.text


# --- the way back is in every mail that sends a unit to its private page --------------------

def test_the_reminder_mails_say_where_to_recover_the_link(app, client, smtp):
    event = new_event(app, payment_deadline=china_today() + timedelta(days=3),
                      materials_note="请将交流材料发送至 materials@163.com。")
    register_via_form(app, client, event, attendees=1)
    smtp.messages.clear()

    with app.app_context():
        for kind in ("payment_due", "materials_due"):
            send_reminders(event.id, kind, today=china_today(), actor="会务 测试")
        db.session.commit()
        assert deliver_mail() == 2

    bodies = {str(m["Subject"]).strip()[:4]: smtp.body(m) for m in smtp.messages}
    assert set(bodies) == {"缴费提醒", "交流材料"}
    for body in bodies.values():
        assert RECOVER_LINE in body
    materials = bodies["交流材料"]
    assert "materials@163.com" not in materials  # the notice's e-mail it in is not repeated
    assert "私密链接页面上传" in materials


def test_the_material_received_mail_says_where_to_recover_the_link(app, client, smtp):
    from tests.test_materials import upload

    event = new_event(app)
    token = register_via_form(app, client, event, attendees=1)
    smtp.messages.clear()

    assert upload(client, token).status_code == 302

    [message] = smtp.messages
    assert "已收到交流材料" in message["Subject"]
    assert RECOVER_LINE in smtp.body(message)


def test_over_real_http_the_mail_follows_the_answer(app, smtp, registered, live_server):
    import time

    import requests

    _event, _token, code = registered
    session = requests.Session()
    page = session.get(f"{live_server.url}/recover")
    response = session.post(f"{live_server.url}/recover", allow_redirects=False,
                            data={"code": code, "email": "contact@example.cn",
                                  "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302
    for _ in range(50):  # the server sends it once the answer has gone out
        if smtp.messages:
            break
        time.sleep(0.1)
    assert len(smtp.messages) == 1
    assert "/r/" in smtp.body(smtp.messages[0])
