"""找回私密链接: a unit that lost its private link asks at /recover with its code and contact
e-mail; the answer is the same for any input and comes before any lookup; a match mails a
confirm link (at most three a day) and revokes nothing; the confirm link's page makes the new
link on a POST, shows it once and mails it; a used, expired or tampered confirm link gets a
clear page. Every mail that sends a unit to its private page says where to get the link back
(real SMTP throughout)."""
import re
import time
from datetime import timedelta

import itsdangerous
import pytest
from sqlalchemy import select

from confreg.extensions import db
from confreg.models import AuditEntry, OutboundMail, Registration, Submission
from confreg.services.recovery import confirmation_token
from tests.conftest import csrf_token_from, post_form
from tests.test_cases import new_call, submitted
from tests.test_registration_views import new_event, register_via_form

ANSWER = "如编号和邮箱与记录相符，我们已把确认邮件发到该邮箱"
CONFIRM_PAGE = "确认后将生成新的私密链接，原链接随即失效"
INVALID_PAGE = "链接已失效或已使用，请重新申请"
RECOVER_LINE = ("如找不到报名时收到的私密链接，请到 http://confreg.test/recover "
                "用报名编号和联系人邮箱找回。")


def answer(client, code: str, email: str):
    """POST /recover as a unit would; return the response once it is closed (a server closes
    it after sending it, and only then is the request looked at and any mail sent)."""
    response = post_form(client, "/recover", {"code": code, "email": email})
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].endswith("/recover?sent=1")
    response.close()
    return response


def ask(client, code: str, email: str):
    """Fill in /recover; return the page it ends on."""
    return client.get(answer(client, code, email).headers["Location"])


def link_in(smtp, message, kind: str = "r") -> str:
    body = smtp.body(message)
    match = re.search(rf"http://confreg\.test/{kind}/([A-Za-z0-9_-]{{16,}})", body)
    assert match, body
    return match.group(1)


def confirm_path_in(smtp, message, kind: str = "r") -> str:
    body = smtp.body(message)
    match = re.search(rf"http://confreg\.test(/recover/{kind}/[A-Za-z0-9_.-]{{20,}})", body)
    assert match, body
    return match.group(1)


def confirm(client, path: str):
    """Open the confirm link and press its button; return the POST's response."""
    page = client.get(path)
    assert page.status_code == 200 and CONFIRM_PAGE in page.text, page.status_code
    return client.post(path, data={"csrf_token": csrf_token_from(page.text)})


def code_of(app, model) -> str:
    with app.app_context():
        return db.session.scalar(select(model.code))


def token_hash_of(app, model=Registration) -> str:
    with app.app_context():
        return db.session.scalar(select(model.token_hash))


def audited(app, action: str) -> list:
    with app.app_context():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


@pytest.fixture
def registered(app, client, smtp):
    """A unit registered through the form; its confirmation mail already received."""
    event = new_event(app)
    token = register_via_form(app, client, event, attendees=1)
    smtp.messages.clear()
    return event, token, code_of(app, Registration)


# --- asking: a confirm link by mail, nothing revoked ----------------------------------------

def test_asking_mails_a_confirm_link_and_the_old_link_keeps_working(
        app, client, smtp, registered):
    event, old_token, code = registered
    before = token_hash_of(app)

    # typed as a person might: lower case with spaces, the address in capitals
    page = ask(client, f" {code[:4].lower()} {code[4:].lower()} ", "Contact@Example.CN")

    assert ANSWER in page.text and "原来的私密链接照常有效" in page.text
    [message] = smtp.messages
    assert message["To"] == "contact@example.cn" and code in message["Subject"]
    body = smtp.body(message)
    assert "如是您本人申请" in body and "24 小时内" in body
    assert "请忽略本邮件" in body and "原来的私密链接照常有效" in body
    path = confirm_path_in(smtp, message)
    assert "/r/" not in body.replace(path, "")  # no private link in it, only the confirm link
    assert token_hash_of(app) == before
    assert client.get(f"/r/{old_token}").status_code == 200
    assert audited(app, "link.recovered") == []
    [entry] = audited(app, "link.requested")
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        assert entry.registration_id == registration.id and code in entry.summary
        stored = db.session.scalar(select(OutboundMail).where(OutboundMail.kind == "link_request"))
        assert stored.status == "sent" and stored.registration_id == registration.id
        # once sent, the stored copy no longer holds a usable confirm link
        assert path.rsplit("/", 1)[1] not in stored.body_text


def test_asking_five_times_never_touches_the_link(app, client, smtp, registered):
    event, old_token, code = registered
    before = token_hash_of(app)

    for _ in range(5):
        ask(client, code, "contact@example.cn")

    assert token_hash_of(app) == before
    assert client.get(f"/r/{old_token}").status_code == 200
    assert len(smtp.messages) == 3  # the day's limit bounds only the mail


def test_the_fourth_request_in_a_day_sends_no_mail(app, client, smtp, registered):
    event, old_token, code = registered
    for _ in range(3):
        ask(client, code, "contact@example.cn")
    assert len(smtp.messages) == 3

    page = ask(client, code, "contact@example.cn")

    assert ANSWER in page.text
    assert len(smtp.messages) == 3 and len(audited(app, "link.requested")) == 3

    # a day later the unit may ask again
    with app.app_context():
        for entry in db.session.scalars(select(AuditEntry)):
            entry.at -= timedelta(hours=25)
        db.session.commit()
    ask(client, code, "contact@example.cn")
    assert len(smtp.messages) == 4
    assert client.get(f"/r/{old_token}").status_code == 200


@pytest.mark.parametrize("typed", ["wrong email", "unknown code", "blank-looking code"])
def test_every_valid_form_gets_a_byte_identical_answer_and_only_a_match_gets_mail(
        app, client, smtp, registered, typed):
    event, old_token, code = registered
    right = answer(client, code, "contact@example.cn")
    assert len(smtp.messages) == 1
    smtp.messages.clear()
    code_typed, email = {"wrong email": (code, "someone.else@example.cn"),
                         "unknown code": ("ZZZZ2345", "contact@example.cn"),
                         "blank-looking code": ("--", "contact@example.cn")}[typed]

    wrong = answer(client, code_typed, email)

    assert wrong.status_code == right.status_code == 302
    assert wrong.headers["Location"] == right.headers["Location"]
    assert wrong.get_data() == right.get_data()
    per_request = ("Date", "X-Request-ID")
    assert sorted((k, v) for k, v in wrong.headers if k not in per_request) == \
        sorted((k, v) for k, v in right.headers if k not in per_request)
    assert smtp.messages == []
    assert len(audited(app, "link.requested")) == 1  # only the first, right request
    assert client.get(f"/r/{old_token}").status_code == 200


def test_nothing_is_looked_up_or_sent_before_the_answer_has_gone(
        app, client, smtp, worker, registered):
    """The request only hands the form to the worker: its answer cannot depend on (or take
    the time of) looking the code up."""
    _event, _token, code = registered
    with worker.paused():
        response = post_form(client, "/recover", {"code": code, "email": "contact@example.cn"})
        assert response.status_code == 302
        assert worker.huey.pending_count() == 1
        assert smtp.received == [] and audited(app, "link.requested") == []
        with app.app_context():
            assert db.session.scalar(select(OutboundMail).where(
                OutboundMail.kind == "link_request")) is None

    assert len(smtp.messages) == 1 and len(audited(app, "link.requested")) == 1


# --- confirming: the new link, once -------------------------------------------------------

def test_opening_the_confirm_link_shows_a_button_and_changes_nothing(
        app, client, smtp, registered):
    event, old_token, code = registered
    ask(client, code, "contact@example.cn")
    path = confirm_path_in(smtp, smtp.messages[0])
    before = token_hash_of(app)

    for _ in range(2):  # a mail scanner, then the person
        page = client.get(path)
        assert page.status_code == 200
        assert CONFIRM_PAGE in page.text and code in page.text
        assert f'action="{path}"' in page.text and 'method="post"' in page.text

    assert token_hash_of(app) == before
    assert client.get(f"/r/{old_token}").status_code == 200
    assert len(smtp.messages) == 1 and audited(app, "link.recovered") == []


def test_confirming_shows_and_mails_a_new_link_and_the_old_one_stops_working(
        app, client, smtp, registered):
    event, old_token, code = registered
    ask(client, code, "contact@example.cn")
    path = confirm_path_in(smtp, smtp.messages[0])
    smtp.messages.clear()

    done = confirm(client, path)

    assert done.status_code == 200 and "已生成新的私密链接" in done.text
    assert done.headers["Cache-Control"] == "no-store"
    shown = re.search(r'id="private-link">http://confreg\.test/r/([A-Za-z0-9_-]{16,})<', done.text)
    assert shown, done.text
    [message] = smtp.messages
    assert message["To"] == "contact@example.cn" and code in message["Subject"]
    assert "已经失效" in smtp.body(message)
    new_token = link_in(smtp, message)
    assert shown.group(1) == new_token != old_token
    assert client.get(f"/r/{old_token}").status_code == 404
    mine = client.get(f"/r/{new_token}")
    assert mine.status_code == 200 and code in mine.text
    [entry] = audited(app, "link.recovered")
    assert code in entry.summary and new_token not in entry.summary
    with app.app_context():
        stored = db.session.scalar(select(OutboundMail).where(
            OutboundMail.kind == "link_recovered"))
        assert stored.status == "sent" and new_token not in stored.body_text


def test_a_confirm_link_works_once(app, client, smtp, registered):
    event, _old_token, code = registered
    ask(client, code, "contact@example.cn")
    ask(client, code, "contact@example.cn")
    first, second = (confirm_path_in(smtp, m) for m in smtp.messages)
    page = client.get(first)
    token = csrf_token_from(page.text)
    assert client.post(first, data={"csrf_token": token}).status_code == 200
    smtp.messages.clear()
    after = token_hash_of(app)

    for used in (first, second):  # the same link again, and one mailed before the change
        again = client.post(used, data={"csrf_token": token})
        assert again.status_code == 410 and INVALID_PAGE in again.text
        opened = client.get(used)
        assert opened.status_code == 410 and INVALID_PAGE in opened.text

    assert token_hash_of(app) == after
    assert smtp.messages == [] and len(audited(app, "link.recovered")) == 1


def test_a_tampered_or_foreign_confirm_link_gets_the_clear_page(app, client, smtp, registered):
    event, old_token, code = registered
    ask(client, code, "contact@example.cn")
    path = confirm_path_in(smtp, smtp.messages[0])
    signed = path.rsplit("/", 1)[1]
    payload, stamp, signature = signed.split(".")
    # change the signature's first character (its last one partly holds padding bits)
    tampered = f"{payload}.{stamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    before = token_hash_of(app)

    for bad in (f"/recover/r/{tampered}",  # signature changed
                f"/recover/c/{signed}",  # a registration's link as a case's
                "/recover/r/not-a-link", "/recover/r/" + "x" * 300):
        page = client.get(bad)
        assert page.status_code == 400 and INVALID_PAGE in page.text, bad
        csrf = csrf_token_from(client.get("/recover").text)
        refused = client.post(bad, data={"csrf_token": csrf})
        assert refused.status_code == 400 and INVALID_PAGE in refused.text, bad

    with app.app_context():  # signed with another key
        foreign = itsdangerous.URLSafeTimedSerializer(
            "another key", salt="confreg.recover-link.confirm")
        registration = db.session.scalar(select(Registration))
        forged = foreign.dumps(["r", registration.id, registration.token_hash[:16]])
    assert client.get(f"/recover/r/{forged}").status_code == 400
    assert token_hash_of(app) == before
    assert client.get(f"/r/{old_token}").status_code == 200


def test_a_confirm_link_older_than_a_day_gets_the_clear_page(
        app, client, smtp, registered, monkeypatch):
    event, old_token, code = registered

    def signed_hours_ago(hours: int) -> str:
        with app.app_context(), monkeypatch.context() as patch:
            then = int(time.time()) - hours * 3600
            patch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: then)
            return confirmation_token(db.session.scalar(select(Registration)))

    fresh_enough, stale = signed_hours_ago(23), signed_hours_ago(25)

    assert client.get(f"/recover/r/{fresh_enough}").status_code == 200
    expired = client.get(f"/recover/r/{stale}")
    assert expired.status_code == 410 and INVALID_PAGE in expired.text
    posted = client.post(f"/recover/r/{stale}",
                         data={"csrf_token": csrf_token_from(client.get("/recover").text)})
    assert posted.status_code == 410 and INVALID_PAGE in posted.text
    assert client.get(f"/r/{old_token}").status_code == 200


def test_confirming_without_the_csrf_token_is_refused(app, client, smtp, registered):
    event, old_token, code = registered
    ask(client, code, "contact@example.cn")
    path = confirm_path_in(smtp, smtp.messages[0])

    assert client.post(path).status_code == 400
    assert client.get(f"/r/{old_token}").status_code == 200
    assert client.get(path).status_code == 200  # still usable


def test_a_case_code_gets_a_confirm_link_and_then_a_new_case_link(app, client, smtp):
    event = new_call(app)
    old_token = submitted(client, event)
    code = code_of(app, Submission)
    smtp.messages.clear()

    page = ask(client, code, "CASE@example.cn")

    assert ANSWER in page.text
    [message] = smtp.messages
    assert message["To"] == "case@example.cn" and code in message["Subject"]
    assert "申报编号" in smtp.body(message)
    path = confirm_path_in(smtp, message, "c")
    assert client.get(f"/c/{old_token}").status_code == 200
    smtp.messages.clear()

    done = confirm(client, path)

    assert done.status_code == 200 and "申报编号" in done.text
    [mailed] = smtp.messages
    new_token = link_in(smtp, mailed, "c")
    assert new_token in done.text
    assert client.get(f"/c/{old_token}").status_code == 404
    assert client.get(f"/c/{new_token}").status_code == 200
    [entry] = audited(app, "link.recovered")
    assert entry.object_type == "submission" and entry.registration_id is None
    assert client.get(path).status_code == 410


def test_missing_or_malformed_input_is_flagged_beside_the_field(app, client, smtp, registered):
    response = post_form(client, "/recover", {"code": "", "email": "not-an-address"})

    assert response.status_code == 422
    assert "请填写报名编号或申报编号。" in response.text
    assert "邮箱格式不正确" in response.text and 'value="not-an-address"' in response.text
    assert smtp.messages == [] and audited(app, "link.requested") == []


def test_a_post_without_the_csrf_token_is_refused(app, client, smtp, registered):
    _, _, code = registered
    response = client.post("/recover", data={"code": code, "email": "contact@example.cn"})

    assert response.status_code == 400
    assert smtp.messages == [] and audited(app, "link.requested") == []


def test_the_form_page_and_the_notice_link_to_it(app, client):
    event = new_event(app)
    page = client.get("/recover")
    assert page.status_code == 200
    assert 'name="code"' in page.text and 'name="email"' in page.text
    csrf_token_from(page.text)
    notice = client.get(f"/events/{event.key}")
    assert notice.text.count('href="/recover"') == 2  # beside the notice and in the footer
    assert "找不到私密链接？" in notice.text


def test_over_real_http_the_mail_follows_the_answer_and_the_confirm_link_works(
        app, smtp, registered, live_server):
    import requests

    _event, old_token, code = registered
    session = requests.Session()
    page = session.get(f"{live_server.url}/recover")
    response = session.post(f"{live_server.url}/recover", allow_redirects=False,
                            data={"code": code, "email": "contact@example.cn",
                                  "csrf_token": csrf_token_from(page.text)})
    assert response.status_code == 302
    for _ in range(50):  # the server does the work once the answer has gone out
        if smtp.messages:
            break
        time.sleep(0.1)
    assert len(smtp.messages) == 1
    path = confirm_path_in(smtp, smtp.messages[0])
    smtp.messages.clear()

    opened = session.get(f"{live_server.url}{path}")
    assert opened.status_code == 200 and CONFIRM_PAGE in opened.text
    done = session.post(f"{live_server.url}{path}",
                        data={"csrf_token": csrf_token_from(opened.text)})
    assert done.status_code == 200 and "已生成新的私密链接" in done.text
    [mailed] = smtp.messages
    new_token = link_in(smtp, mailed)
    assert new_token in done.text
    assert session.get(f"{live_server.url}/r/{old_token}").status_code == 404
    assert session.get(f"{live_server.url}/r/{new_token}").status_code == 200
