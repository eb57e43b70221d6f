"""Who gets into which staff page: every /admin route, every role; CSRF on every staff POST;
sign-in with lock-out after repeated failures."""
import re
from datetime import timedelta

import pytest

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import User
from tests.conftest import STAFF_PASSWORD, add_user, csrf_token_from, make_event, sign_in

ROLES = ("admin", "finance", "staff", "reviewer")
EVERYONE = set(ROLES)
DESK = {"admin", "finance", "staff"}

# The expected matrix, written out here and not read from the code: a route whose roles
# change, or a new route that is not listed, fails the test.
EXPECTED_ROLES = {
    "admin_events.index": EVERYONE,
    # --- registrations desk ---
    "admin_registrations.index": DESK,
    "admin_registrations.show": DESK,
    "admin_registrations.export_registrations": DESK,
    "admin_registrations.export_attendees": {"admin", "staff"},
    "admin_registrations.substitute": {"admin", "staff"},
    "admin_registrations.cancel": {"admin", "staff"},
    "admin_registrations.extend": {"admin", "staff"},
    "admin_registrations.edit_unit": {"admin", "staff"},
    # --- finance desk ---
    "admin_finance.invoice": {"admin", "finance"},
    "admin_finance.index": {"admin", "finance", "staff"},
    "admin_finance.new_payment": {"admin", "finance"},
    "admin_finance.issue": {"admin", "finance"},
    "admin_finance.void": {"admin", "finance"},
    "admin_finance.receipt_pdf": {"admin", "finance", "staff"},
    # --- printing desk ---
    "admin_print.index": {"admin", "staff"},
    "admin_print.participants": {"admin", "staff"},
    "admin_print.signin": {"admin", "staff"},
    # --- members desk ---
    "admin_members.index": DESK,
    "admin_members.upload": {"admin", "staff"},
    "admin_members.preview": {"admin", "staff"},
    "admin_members.confirm": {"admin", "staff"},
    "admin_members.claims": DESK,
    "admin_members.approve": {"admin", "staff"},
    "admin_members.reject": {"admin", "staff"},
    # --- events, users, audit ---
    "admin_events.new": {"admin"},
    "admin_events.edit": {"admin"},
    "admin_events.copy": {"admin"},
    "admin_users.index": {"admin"},
    "admin_users.new": {"admin"},
    "admin_users.edit": {"admin"},
    "admin_audit.index": {"admin"},
    # --- dashboard, reminders ---
    "admin_dashboard.show": DESK,
    "admin_reminders.index": {"admin", "staff"},
    "admin_reminders.send": {"admin", "staff"},
    # --- materials (issue 4: materials desk) ---
    "admin_materials.index": {"admin", "staff"},
    "admin_materials.show": {"admin", "staff"},
    "admin_materials.file": {"admin", "staff"},
    "admin_materials.extend": {"admin", "staff"},
    # --- review (issue 4: expert review) ---
    "admin_review.board": {"admin"},
    "admin_review.criteria": {"admin"},
    "admin_review.assign": {"admin"},
    "admin_review.select": {"admin"},
    "admin_review.marks": {"admin"},
    "admin_review.submission": {"admin"},
    "admin_review.unassign_reviewer": {"admin"},
    "admin_review.mine": {"admin", "reviewer"},
    # Assignments open to their own reviewer only: the walk's id 1 is nobody's, so an
    # allowed role gets 404 (let in by role, then not found) and the others 403.
    "admin_review.score": {"admin", "reviewer"},
    "admin_review.file": {"admin", "reviewer"},
    # --- booklet (issue 4: proceedings booklet) ---
    "admin_booklet.show": {"admin", "staff"},
    "admin_booklet.pdf": {"admin", "staff"},
    "admin_booklet.docx": {"admin", "staff"},
    # --- certificates and attendance (issue 4) ---
    "admin_certificates.index": {"admin", "staff"},
    "admin_certificates.generate": {"admin", "staff"},
    "admin_certificates.print_all": {"admin", "staff"},
    "admin_certificates.pdf": {"admin", "staff"},
    "admin_certificates.void": {"admin", "staff"},
    "admin_attendance.index": {"admin", "staff"},
    "admin_attendance.save": {"admin", "staff"},
    "admin_attendance.complete_all": {"admin", "staff"},
    # --- long jobs and the system status (issue 8); job id 1 does not exist: 404 ---
    "admin_jobs.show": {"admin", "staff", "finance"},
    "admin_jobs.status": {"admin", "staff", "finance"},
    "admin_jobs.file": {"admin", "staff", "finance"},
    "admin_system.index": {"admin"},
    # --- bank statements (issue 9): staff read where the money is, finance decides ---
    "admin_bank.index": {"admin", "finance", "staff"},
    "admin_bank.upload": {"admin", "finance"},
    "admin_bank.statement": {"admin", "finance", "staff"},
    "admin_bank.mapping": {"admin", "finance"},
    "admin_bank.review": {"admin", "finance", "staff"},
    "admin_bank.confirm_matched": {"admin", "finance"},
    "admin_bank.take_candidate": {"admin", "finance"},
    "admin_bank.transaction": {"admin", "finance", "staff"},
    "admin_bank.ignore": {"admin", "finance"},
    "admin_bank.reopen": {"admin", "finance"},
    "admin_bank.unassign": {"admin", "finance"},
    "admin_bank.refund": {"admin", "finance"},
    "admin_bank.reconciliation": {"admin", "finance", "staff"},
    "admin_bank.reconciliation_export": {"admin", "finance", "staff"},
    # --- e-invoices: the buyer's details are finance's and admin's only ---
    **{f"admin_invoices.{name}": {"admin", "finance"}
       for name in ("queue", "request_batch", "batch_xlsx", "remind", "upload", "upload_result",
                    "resolve", "reverse", "decide", "issued_file")},
}
# Routes that are not behind a role (sign-in itself).
OPEN_ROUTES = {"admin_auth.login", "admin_auth.logout"}


def admin_routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]


def url_for_rule(rule, event_id: int) -> str:
    """Fill a rule's arguments: the event's id for event_id, 1 for any other number."""
    def value(match):
        name = match.group(2)
        return str(event_id) if name == "event_id" else "1"
    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule.rule)


def test_every_staff_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in admin_routes(app)} - OPEN_ROUTES
    assert endpoints == set(EXPECTED_ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_into_exactly_its_pages(app, staff_client, role):
    with app.app_context():
        event_id = make_event().id
    client = staff_client(role)
    wrong = []
    for rule in admin_routes(app):
        if rule.endpoint in OPEN_ROUTES or "GET" not in rule.methods:
            continue
        status = client.get(url_for_rule(rule, event_id)).status_code
        allowed = role in EXPECTED_ROLES[rule.endpoint]
        # In: anything but 403 (a 404 for the placeholder id 1 still means it let us in).
        if allowed == (status == 403) or status == 500:
            wrong.append((rule.endpoint, status))
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_the_forms_of_other_roles_even_with_a_valid_token(
        app, staff_client, role):
    """The POST-only routes (a job started, a form sent) check the role too, not only CSRF."""
    with app.app_context():
        event_id = make_event().id
    client = staff_client(role)
    token = csrf_token_from(client.get("/admin/login", follow_redirects=True).text)
    refused = [rule for rule in admin_routes(app) if "POST" in rule.methods
               and rule.endpoint not in OPEN_ROUTES and role not in EXPECTED_ROLES[rule.endpoint]]
    wrong = [(rule.endpoint, status) for rule in refused
             if (status := client.post(url_for_rule(rule, event_id),
                                       data={"csrf_token": token}).status_code) != 403]
    assert wrong == []
    if role != "admin":
        assert refused, "the walk found no form to refuse"


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    with app.app_context():
        event_id = make_event().id
    for rule in admin_routes(app):
        if rule.endpoint in OPEN_ROUTES or "GET" not in rule.methods:
            continue
        response = client.get(url_for_rule(rule, event_id))
        assert response.status_code == 302, rule.endpoint
        assert "/admin/login" in response.headers["Location"], rule.endpoint


def test_every_staff_post_without_a_csrf_token_is_refused(app, staff_client):
    with app.app_context():
        event_id = make_event().id
    client = staff_client("admin")
    posts = [rule for rule in admin_routes(app) if "POST" in rule.methods]
    assert posts, "no staff POST routes found"
    for rule in posts:
        response = client.post(url_for_rule(rule, event_id), data={})
        assert response.status_code == 400, rule.endpoint
        assert "页面已过期" in response.text, rule.endpoint


def test_sign_in_with_the_right_password_opens_the_desk(app, client):
    with app.app_context():
        add_user("staff", "zhang@example.cn")

    response = sign_in(client, "ZHANG@example.cn")

    assert response.status_code == 302
    assert client.get("/admin/events/").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app, client):
    with app.app_context():
        add_user("staff", "zhang@example.cn")

    wrong_password = sign_in(client, "zhang@example.cn", "not the password")
    no_such_user = sign_in(client, "nobody@example.cn")

    assert wrong_password.status_code == no_such_user.status_code == 401
    assert "邮箱或密码不正确" in wrong_password.text and "邮箱或密码不正确" in no_such_user.text


def flashed(html: str) -> list[str]:
    return re.findall(r'class="flash[^"]*"[^>]*>(.*?)<', html, re.S)


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(app, client):
    with app.app_context():
        add_user("finance", "cai@example.cn")
    for _ in range(5):
        assert sign_in(client, "cai@example.cn", "guess").status_code == 401

    locked = sign_in(client, "cai@example.cn")
    no_such_user = sign_in(client, "nobody@example.cn")

    # Refused, with the very answer an unknown address gets: no one learns the account exists.
    assert locked.status_code == no_such_user.status_code == 401
    assert flashed(locked.text) == flashed(no_such_user.text)
    assert flashed(locked.text) == ["邮箱或密码不正确。连续输错 5 次，账号将暂停登录 15 分钟。"]
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "cai@example.cn"))
        assert user.locked_until > utcnow() + timedelta(minutes=14)


def test_a_disabled_account_cannot_sign_in(app, client):
    with app.app_context():
        user = add_user("staff", "old@example.cn")
        user.active = False
        db.session.commit()

    assert sign_in(client, "old@example.cn").status_code == 401


def test_sign_in_never_redirects_off_the_site(app, client):
    with app.app_context():
        add_user("staff", "zhang@example.cn")
    page = client.get("/admin/login?next=https://evil.example/")
    from tests.conftest import csrf_token_from

    response = client.post("/admin/login?next=https://evil.example/",
                           data={"email": "zhang@example.cn", "password": STAFF_PASSWORD,
                                 "csrf_token": csrf_token_from(page.text)})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/")


def test_the_session_cookie_is_http_only_and_same_site(app, client):
    with app.app_context():
        add_user("staff", "zhang@example.cn")

    response = sign_in(client, "zhang@example.cn")

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_cli_creates_the_first_administrator(app):
    runner = app.test_cli_runner()

    result = runner.invoke(args=["users", "create", "--email", "Boss@Example.cn", "--name", "王老师",
                                 "--role", "admin", "--password", "a long password"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "boss@example.cn"))
        assert user.role == "admin" and user.check_password("a long password")
        assert user.password_hash != "a long password"


def test_the_cli_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--email", "a@example.cn", "--name", "甲", "--password", "short"])

    assert result.exit_code != 0 and "密码至少" in result.output


@pytest.mark.parametrize("path", [
    "/admin/members/?page=99999999999999999999",
    "/admin/members/claims?page=99999999999999999999",
    "/admin/audit/?page=99999999999999999999",
    "/admin/audit/?date_from=0001-01-01",
    "/admin/audit/?date_to=9999-12-31",
    "/admin/events/{event_id}/registrations?page=-3",
    "/admin/events/{event_id}/finance?page=%C2%B2",
])
def test_odd_list_parameters_never_give_a_500(app, staff_client, path):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        with app.app_context():
            event_id = make_event().id
        response = staff_client("admin").get(path.format(event_id=event_id))
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code in (200, 422), response.status_code


@pytest.mark.parametrize("amount", ["1e30", "1e999999999", "99999999999"])
def test_an_absurd_amount_is_refused_beside_the_field(app, staff_client, amount):
    from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
    from confreg.timeutil import china_today
    from tests.conftest import csrf_token_from

    with app.app_context():
        event = make_event()
        registration, _ = register_unit(
            event.id, UnitDetails(unit_name="某单位", tier_claim="other", province="青海省",
                                  city="西宁市", contact_name="马晓明",
                                  contact_mobile="13912345678", contact_email="u@example.cn"),
            [AttendeeDetails(name="张伟", gender="M", title="主任", mobile="13912345000",
                             accommodation="shared", arrival_on=event.starts_on,
                             departure_on=event.ends_on)],
            today=china_today(), now=utcnow())
        db.session.commit()
        url = f"/admin/registrations/{registration.id}/payments/new"
    client = staff_client("finance")
    page = client.get(url)

    response = client.post(url, data={"csrf_token": csrf_token_from(page.text), "amount": amount,
                                      "received_on": china_today().isoformat(),
                                      "method": "bank_transfer"})

    assert response.status_code == 422
    assert "金额过大" in response.text or "请填写数字金额" in response.text
