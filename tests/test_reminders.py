"""Reminders: who gets them, the mail a unit receives (real SMTP), never twice in a day —
from the page, from cron (`flask reminders send`), and when two sends race."""
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

import confreg.services.reminders as reminders
from confreg.extensions import db
from confreg.models import AuditEntry, Event, OutboundMail, Registration, ReminderLog
from confreg.notifications import deliver_mail
from confreg.services import ServiceError
from confreg.services.reminders import reminder_kinds, reminder_recipients, send_reminders
from confreg.timeutil import china_today
from tests.conftest import STAFF_PASSWORD, add_user, csrf_token_from, make_event
from tests.test_dashboard import add_registration, china_time

ACTOR = "会务 测试（staff@example.cn）"


def any_csrf_token(html: str) -> str:
    """The token of any form on the page (the sign-out form is on every staff page)."""
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def codes(rows) -> list[str]:
    return [row.code for row in rows]


@pytest.fixture
def unpaid_event(app):
    """An event before its payment deadline: two units owe money, four do not count."""
    with app.app_context():
        today = china_today()
        event = make_event(payment_deadline=today + timedelta(days=3))
        now = china_time(today, 9)
        part = add_registration(event, province="青海省", people=2, created_at=now,
                                payments=("3000",))
        unpaid = add_registration(event, province="云南省", people=1, created_at=now)
        add_registration(event, province="青海省", people=1, created_at=now, payments=("3580",))
        add_registration(event, province="青海省", people=1, created_at=now,
                         payments=("3000", "1000"))                    # over-paid
        add_registration(event, province="北京市", people=1, created_at=now, status="cancelled")
        add_registration(event, province="上海市", people=1, created_at=now,
                         price=Decimal("0"))                            # nothing owed
        data = {"id": event.id, "key": event.key, "part": part.code, "unpaid": unpaid.code,
                "part_email": part.contact_email, "unpaid_email": unpaid.contact_email,
                "part_remark": part.transfer_remark, "unpaid_remark": unpaid.transfer_remark,
                "account": event.bank_account}
        db.session.close()
        return data


def log_rows(app, event_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Registration.code, ReminderLog.kind)
            .join(Registration, Registration.id == ReminderLog.registration_id)
            .where(ReminderLog.event_id == event_id).order_by(Registration.code)).all()
        db.session.close()
        return [tuple(row) for row in rows]


def mails_to(inbox, address: str) -> list:
    return [m for m in inbox.messages if m["To"] == address]


# --- who gets a reminder -------------------------------------------------------------------

def test_payment_due_goes_to_active_units_not_fully_paid(app, unpaid_event):
    with app.app_context():
        event = db.session.get(Event, unpaid_event["id"])

        recipients = reminder_recipients(event, "payment_due", china_today())

    assert codes(recipients) == [unpaid_event["part"], unpaid_event["unpaid"]]
    assert [r.outstanding for r in recipients] == [Decimal("4160.00"), Decimal("3580.00")]
    assert not any(r.sent_today for r in recipients)


def test_which_kinds_can_be_sent_depends_on_the_payment_deadline(app_ctx):
    today = china_today()
    # Materials closed yesterday: only the payment reminders are in play here.
    before = make_event(payment_deadline=today, materials_deadline=today - timedelta(days=1))
    after = make_event(payment_deadline=today - timedelta(days=1),
                       materials_deadline=today - timedelta(days=1))

    def available(event):
        return {c.kind for c in reminder_kinds(event, today) if c.available}

    # The deadline day itself is still "due"; the invoice details may be asked for any day.
    assert available(before) == {"payment_due", "invoice_details"}
    assert available(after) == {"payment_overdue", "invoice_details"}
    materials = next(c for c in reminder_kinds(before, today) if c.kind == "materials_due")
    assert not materials.available and "交流材料已于" in materials.reason


def test_the_materials_reminder_is_open_until_the_materials_deadline_day_itself(app_ctx):
    today = china_today()

    def materials(event):
        return next(c for c in reminder_kinds(event, today) if c.kind == "materials_due")

    assert materials(make_event(materials_deadline=today)).available
    assert not materials(make_event(materials_deadline=None)).available
    assert "未设交流材料截止日" in materials(make_event(materials_deadline=None)).reason


def test_sending_a_kind_that_does_not_apply_today_is_refused(app, unpaid_event):
    close_materials(app, unpaid_event["id"])
    with app.app_context():
        with pytest.raises(ServiceError) as refused:
            send_reminders(unpaid_event["id"], "payment_overdue", today=china_today(),
                           actor=ACTOR)
        db.session.rollback()
        with pytest.raises(ServiceError):
            send_reminders(unpaid_event["id"], "materials_due", today=china_today(), actor=ACTOR)
        db.session.rollback()

    assert refused.value.field == "kind" and "还未过" in refused.value.message
    assert log_rows(app, unpaid_event["id"]) == []


def test_the_preview_lists_exactly_the_units_and_marks_those_reminded_today(
        app, unpaid_event, staff_client):
    with app.app_context():
        registration_id = db.session.scalar(
            select(Registration.id).where(Registration.code == unpaid_event["part"]))
        db.session.add(ReminderLog(event_id=unpaid_event["id"], registration_id=registration_id,
                                   kind="payment_due", sent_on=china_today()))
        # Yesterday's reminder of the same kind does not stop today's.
        db.session.add(ReminderLog(
            event_id=unpaid_event["id"], kind="payment_due",
            sent_on=china_today() - timedelta(days=1),
            registration_id=db.session.scalar(
                select(Registration.id).where(Registration.code == unpaid_event["unpaid"]))))
        db.session.commit()
        db.session.close()

    page = staff_client("staff").get(
        f"/admin/events/{unpaid_event['id']}/reminders?kind=payment_due")

    assert page.status_code == 200
    rows = dict(re.findall(r'<tr class="(to-send|skipped)" data-code="([^"]+)"', page.text))
    assert {code: state for state, code in rows.items()} == {
        unpaid_event["part"]: "skipped", unpaid_event["unpaid"]: "to-send"}
    assert unpaid_event["unpaid_email"] in page.text and "4,160.00" in page.text
    assert "发送缴费提醒（截止前）给 1 个单位" in page.text


def close_materials(app, event_id: int) -> None:
    with app.app_context():
        db.session.get(Event, event_id).materials_deadline = china_today() - timedelta(days=1)
        db.session.commit()


def test_materials_reminder_is_shown_disabled_after_the_materials_deadline(
        app, unpaid_event, staff_client):
    close_materials(app, unpaid_event["id"])
    page = staff_client("staff").get(f"/admin/events/{unpaid_event['id']}/reminders")

    radio = re.search(r'<input type="radio" name="kind" value="materials_due"[^>]*>', page.text)
    assert radio and "disabled" in radio.group(0)
    assert "暂不可用：交流材料已于" in page.text


def test_the_materials_preview_lists_active_units_without_material_and_no_money(
        app, unpaid_event, staff_client):
    page = staff_client("staff").get(
        f"/admin/events/{unpaid_event['id']}/reminders?kind=materials_due")

    rows = re.findall(r'<tr class="to-send" data-code="([^"]+)"', page.text)
    assert len(rows) == 5  # every active unit: none has sent a material yet
    assert "共 5 个单位未提交交流材料" in page.text
    assert "尚欠" not in page.text and "打开报名时收到的私密链接" in page.text


def test_the_materials_reminder_mail_reaches_the_unit(app, unpaid_event, staff_client, smtp):
    client = staff_client("staff")

    response = send_from_page(client, unpaid_event["id"], "materials_due")

    assert response.status_code == 302
    mails = mails_to(smtp, unpaid_event["unpaid_email"])
    assert len(mails) == 1 and "交流材料提醒" in mails[0]["Subject"]
    body = smtp.body(mails[0])
    assert "尚未收到贵单位的交流材料" in body and unpaid_event["unpaid"] in body


# --- sending -------------------------------------------------------------------------------

def send_from_page(client, event_id: int, kind: str = "payment_due"):
    url = f"/admin/events/{event_id}/reminders"
    page = client.get(f"{url}?kind={kind}")
    return client.post(url, data={"kind": kind, "csrf_token": any_csrf_token(page.text)})


def test_send_mails_each_unit_what_it_owes_with_its_remark_and_the_account(
        app, unpaid_event, staff_client, smtp):
    client = staff_client("staff")

    response = send_from_page(client, unpaid_event["id"])

    assert response.status_code == 302
    assert "kind=payment_due" in response.headers["Location"]
    assert len(smtp.messages) == 2
    part = smtp.body(mails_to(smtp, unpaid_event["part_email"])[0])
    assert "尚欠金额：4,160.00 元" in part and "已收到：3,000.00 元" in part
    assert unpaid_event["part_remark"] in part and unpaid_event["account"] in part
    unpaid = mails_to(smtp, unpaid_event["unpaid_email"])[0]
    assert unpaid_event["unpaid"] in unpaid["Subject"]
    assert unpaid_event["unpaid_remark"] in smtp.body(unpaid)
    assert "尚欠金额：3,580.00 元" in smtp.body(unpaid)
    assert log_rows(app, unpaid_event["id"]) == sorted(
        [(unpaid_event["part"], "payment_due"), (unpaid_event["unpaid"], "payment_due")])
    with app.app_context():
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "reminders.sent")).all()
        assert len(audit) == 1 and "2 个单位" in audit[0].summary
        assert "staff@example.cn" in audit[0].actor
        logged_mail = db.session.scalars(select(ReminderLog.mail_id)).all()
        assert all(logged_mail)
        assert set(db.session.scalars(select(OutboundMail.status))) == {"sent"}
    flashed = client.get(response.headers["Location"]).text
    assert "已发送缴费提醒（截止前）：2 个单位" in flashed


def test_sending_twice_the_same_day_sends_nothing_the_second_time(
        app, unpaid_event, staff_client, smtp):
    client = staff_client("staff")
    send_from_page(client, unpaid_event["id"])

    again = send_from_page(client, unpaid_event["id"])

    assert again.status_code == 302
    assert len(smtp.messages) == 2
    assert len(log_rows(app, unpaid_event["id"])) == 2
    page = client.get(again.headers["Location"]).text
    assert "没有需要发送的缴费提醒（截止前）：2 个单位今天已发过" in page
    assert "今天已向全部这些单位发过此提醒" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "reminders.sent")) == 1


def test_the_next_day_the_reminder_goes_out_again(app, unpaid_event, smtp):
    today = china_today()
    with app.app_context():
        first = send_reminders(unpaid_event["id"], "payment_due", today=today, actor=ACTOR)
        db.session.commit()
        second = send_reminders(unpaid_event["id"], "payment_due",
                                today=today + timedelta(days=1), actor=ACTOR)
        db.session.commit()

    assert len(first.sent) == len(second.sent) == 2
    assert len(log_rows(app, unpaid_event["id"])) == 4


def test_a_kind_that_does_not_apply_comes_back_with_the_reason_beside_the_choice(
        app, unpaid_event, staff_client, smtp):
    response = send_from_page(staff_client("staff"), unpaid_event["id"], kind="payment_overdue")

    assert response.status_code == 422
    assert 'class="field-error" id="kind-error"' in response.text and "还未过" in response.text
    assert smtp.messages == [] and log_rows(app, unpaid_event["id"]) == []


def test_finance_may_not_send_reminders(app, unpaid_event, staff_client, smtp):
    client = staff_client("finance")
    token_page = client.get("/admin/events/")

    response = client.post(f"/admin/events/{unpaid_event['id']}/reminders",
                           data={"kind": "payment_due",
                                 "csrf_token": any_csrf_token(token_page.text)})

    assert response.status_code == 403 and smtp.messages == []


def test_an_overdue_reminder_says_how_many_days_late(app, smtp):
    today = china_today()
    with app.app_context():
        event = make_event(payment_deadline=today - timedelta(days=4))
        unit = add_registration(event, province="青海省", people=1, created_at=china_time(today, 8))
        event_id, email = event.id, unit.contact_email

        batch = send_reminders(event_id, "payment_overdue", today=today, actor=ACTOR)
        db.session.commit()
        deliver_mail(batch.mail_ids)

    body = smtp.body(mails_to(smtp, email)[0])
    assert "已过 4 天" in body and "尚欠金额：3,580.00 元" in body


# --- from cron -----------------------------------------------------------------------------

def test_the_cli_sends_once_a_day_and_says_how_many(app, unpaid_event, smtp):
    runner = app.test_cli_runner()
    args = ["reminders", "send", "--event", unpaid_event["key"], "--kind", "payment_due"]

    first = runner.invoke(args=args)
    second = runner.invoke(args=args)

    assert first.exit_code == 0, first.output
    assert f"{unpaid_event['key']} payment_due: sent 2, skipped 0" in first.output
    assert f"{unpaid_event['key']} payment_due: sent 0, skipped 2" in second.output
    assert len(smtp.messages) == 2
    assert len(log_rows(app, unpaid_event["id"])) == 2


def test_the_cli_skips_units_already_reminded_from_the_page(app, unpaid_event, staff_client,
                                                           smtp):
    send_from_page(staff_client("staff"), unpaid_event["id"])

    result = app.test_cli_runner().invoke(
        args=["reminders", "send", "--all-open-events", "--kind", "payment_due"])

    assert result.exit_code == 0, result.output
    assert f"{unpaid_event['key']} payment_due: sent 0, skipped 2" in result.output
    assert len(smtp.messages) == 2


def test_the_cli_for_all_open_events_reports_events_where_the_kind_does_not_apply(app, smtp):
    today = china_today()
    with app.app_context():
        due = make_event(payment_deadline=today + timedelta(days=2))
        late = make_event(payment_deadline=today - timedelta(days=2))
        ended = make_event(starts_on=today - timedelta(days=10))
        for event in (due, late, ended):
            add_registration(event, province="青海省", people=1, created_at=china_time(today, 8))
        keys = due.key, late.key, ended.key
        db.session.close()

    result = app.test_cli_runner().invoke(
        args=["reminders", "send", "--all-open-events", "--kind", "payment_due"])

    assert result.exit_code == 0, result.output
    assert f"{keys[0]} payment_due: sent 1, skipped 0" in result.output
    assert f"{keys[1]} payment_due: not sent: 缴费已于" in result.output
    assert keys[2] not in result.output  # an event that has ended is not reminded for
    assert len(smtp.messages) == 1


def test_the_cli_refuses_an_unknown_event_or_a_kind_that_does_not_apply(app, unpaid_event):
    close_materials(app, unpaid_event["id"])
    runner = app.test_cli_runner()

    unknown = runner.invoke(args=["reminders", "send", "--event", "nope", "--kind", "payment_due"])
    materials = runner.invoke(args=["reminders", "send", "--event", unpaid_event["key"],
                                    "--kind", "materials_due"])
    neither = runner.invoke(args=["reminders", "send", "--kind", "payment_due"])

    assert unknown.exit_code == 1 and "没有 key 为 nope 的活动" in unknown.output
    assert materials.exit_code == 1 and "交流材料已于" in materials.output
    assert neither.exit_code == 2


# --- races ---------------------------------------------------------------------------------

def test_a_unit_logged_by_another_sender_since_the_preview_is_skipped_not_mailed(
        app, unpaid_event, smtp, monkeypatch):
    """The other sender's row wins the unique constraint; this batch skips that unit."""
    today = china_today()
    with app.app_context():
        send_reminders(unpaid_event["id"], "payment_due", today=today, actor=ACTOR)
        db.session.commit()
        # A stale read: as if this sender looked before the other one committed.
        stale = reminders.reminder_recipients

        def as_if_not_yet_sent(event, kind, day):
            return [reminders.Recipient(**{**r.__dict__, "sent_today": False})
                    for r in stale(event, kind, day)]

        monkeypatch.setattr(reminders, "reminder_recipients", as_if_not_yet_sent)

        batch = send_reminders(unpaid_event["id"], "payment_due", today=today, actor=ACTOR)
        db.session.commit()

        assert batch.sent == [] and sorted(batch.skipped) == sorted(
            [unpaid_event["part"], unpaid_event["unpaid"]])
        assert db.session.scalar(select(func.count(OutboundMail.id))) == 2
    assert len(log_rows(app, unpaid_event["id"])) == 2


def test_losing_a_race_for_one_unit_still_mails_the_others_at_once(
        app, unpaid_event, staff_client, smtp, monkeypatch):
    """A rolled-back savepoint must not make the request forget the mail it queued."""
    with app.app_context():
        db.session.add(ReminderLog(
            event_id=unpaid_event["id"], kind="payment_due", sent_on=china_today(),
            registration_id=db.session.scalar(
                select(Registration.id).where(Registration.code == unpaid_event["unpaid"]))))
        db.session.commit()
        db.session.close()
    stale = reminders.reminder_recipients
    monkeypatch.setattr(reminders, "reminder_recipients", lambda event, kind, day: [
        reminders.Recipient(**{**r.__dict__, "sent_today": False})
        for r in stale(event, kind, day)])

    response = send_from_page(staff_client("staff"), unpaid_event["id"])

    assert response.status_code == 302
    assert [m["To"] for m in smtp.messages] == [unpaid_event["part_email"]]


def test_two_simultaneous_sends_give_one_mail_per_unit(app, unpaid_event, live_server, smtp,
                                                       monkeypatch):
    """Two members of staff press "send" at the same moment, over real HTTP."""
    with app.app_context():
        add_user("staff", "zhang@example.cn")
        add_user("staff", "li@example.cn")
        db.session.close()
    # Both senders read who is due before either writes (PostgreSQL); on SQLite the second
    # waits for the first's write lock, so the meeting point gives up after a moment.
    meeting = threading.Barrier(2)
    looked_up = reminders.reminder_recipients

    def look_up_together(event, kind, day):
        found = looked_up(event, kind, day)
        try:
            meeting.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return found

    monkeypatch.setattr(reminders, "reminder_recipients", look_up_together)
    url = f"{live_server.url}/admin/events/{unpaid_event['id']}/reminders"
    sessions = []
    for email in ("zhang@example.cn", "li@example.cn"):
        http = requests.Session()
        login = http.get(f"{live_server.url}/admin/login")
        http.post(f"{live_server.url}/admin/login", allow_redirects=False,
                  data={"email": email, "password": STAFF_PASSWORD,
                        "csrf_token": csrf_token_from(login.text)})
        page = http.get(url, params={"kind": "payment_due"})
        assert page.status_code == 200
        sessions.append((http, csrf_token_from(page.text)))
    start = threading.Barrier(2)
    statuses = []

    def send(http, token):
        start.wait(timeout=10)
        response = http.post(url, data={"kind": "payment_due", "csrf_token": token},
                             allow_redirects=False, timeout=60)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert statuses == [302, 302]
    assert sorted(m["To"] for m in smtp.messages) == sorted(
        [unpaid_event["part_email"], unpaid_event["unpaid_email"]])
    assert len(log_rows(app, unpaid_event["id"])) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboundMail.id))) == 2
