"""Staff accounts (admins only) and the audit log: who changed what, when, before and after."""
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from confreg.database import begin_write
from confreg.extensions import db
from confreg.models import AuditEntry, User
from confreg.services import ServiceError
from confreg.services.audit import record_audit
from confreg.services.users import update_user
from tests.conftest import add_user, form_values, make_event, post_form, sign_in

NEW_PASSWORD = "a brand new passphrase"


def user_id(email: str) -> int:
    return db.session.scalar(select(User.id).where(User.email == email))


def audit_entries(object_type: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    return list(db.session.scalars(query))


# --- users ----------------------------------------------------------------------------

def test_an_admin_creates_an_account_that_can_sign_in(app, client, staff_client):
    admin = staff_client("admin")

    response = post_form(admin, "/admin/users/new", {
        "email": "Cai.Wu@Example.cn", "name": "蔡武", "role": "finance",
        "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert "cai.wu@example.cn" in admin.get("/admin/users/").text
    assert sign_in(client, "cai.wu@example.cn", NEW_PASSWORD).status_code == 302
    with app.app_context():
        entry = audit_entries("user")[-1]
        assert entry.action == "user.created" and entry.changes["role"] == [None, "finance"]
        assert NEW_PASSWORD not in str(entry.changes) + entry.summary


def test_a_short_password_or_a_taken_address_comes_back_beside_the_field(app, staff_client):
    admin = staff_client("admin")

    short = post_form(admin, "/admin/users/new", {"email": "x@example.cn", "name": "小许",
                                                  "role": "staff", "password": "123456789"})
    taken = post_form(admin, "/admin/users/new", {"email": "ADMIN@example.cn", "name": "重复",
                                                  "role": "staff", "password": NEW_PASSWORD})

    assert short.status_code == taken.status_code == 422
    assert "密码至少 10 位" in short.text
    assert form_values(short.text)["email"] == "x@example.cn"
    assert form_values(short.text)["name"] == "小许"
    assert "该邮箱已有账号" in taken.text
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.email == "x@example.cn")) is None


def test_an_admin_changes_name_and_role_and_disables_an_account(app, client, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        target = user_id(add_user("staff", "zhang@example.cn", "张三").email)

    response = post_form(admin, f"/admin/users/{target}/edit",
                         {"name": "张三丰", "role": "reviewer"})  # "active" unticked

    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, target)
        assert (user.name, user.role, user.active) == ("张三丰", "reviewer", False)
        entry = audit_entries("user")[-1]
        assert entry.changes == {"active": [True, False], "name": ["张三", "张三丰"],
                                 "role": ["staff", "reviewer"]}
    assert sign_in(client, "zhang@example.cn").status_code == 401


def test_a_password_reset_works_and_the_password_is_never_logged(app, client, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        target = user_id(add_user("finance", "cai@example.cn").email)

    post_form(admin, f"/admin/users/{target}/edit", {"name": "蔡", "role": "finance",
                                                     "active": "y", "new_password": NEW_PASSWORD})

    assert sign_in(client, "cai@example.cn").status_code == 401
    assert sign_in(client, "cai@example.cn", NEW_PASSWORD).status_code == 302
    with app.app_context():
        entry = audit_entries("user")[-1]
        assert "重置密码" in entry.summary and "password" in entry.changes
        for stored in db.session.scalars(select(AuditEntry)):
            assert NEW_PASSWORD not in f"{stored.summary}{stored.changes}"


def test_the_last_active_admin_cannot_be_demoted_or_disabled(app, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        me = user_id("admin@example.cn")

    demote = post_form(admin, f"/admin/users/{me}/edit",
                       {"name": "管理员", "role": "staff", "active": "y"})
    disable = post_form(admin, f"/admin/users/{me}/edit", {"name": "管理员", "role": "admin"})

    assert demote.status_code == disable.status_code == 422
    assert "唯一一个启用中的管理员" in demote.text and "唯一一个启用中的管理员" in disable.text
    with app.app_context():
        user = db.session.get(User, me)
        assert user.role == "admin" and user.active
        assert audit_entries("user") == []


def test_with_a_second_admin_the_first_may_step_down(app, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        add_user("admin", "second@example.cn")
        me = user_id("admin@example.cn")

    response = post_form(admin, f"/admin/users/{me}/edit",
                         {"name": "管理员", "role": "staff", "active": "y"})

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, me).role == "staff"
        second = db.session.scalar(select(User).where(User.email == "second@example.cn"))
        with pytest.raises(ServiceError):
            update_user(second, name="二", role="admin", active=False, actor="测试")
        db.session.rollback()


def test_a_disabled_admin_does_not_count_as_another_admin(app_ctx):
    only = add_user("admin", "one@example.cn")
    off = add_user("admin", "off@example.cn")
    off.active = False
    db.session.commit()

    with pytest.raises(ServiceError) as refused:
        update_user(only, name="一", role="finance", active=True, actor="测试")

    assert refused.value.field == "role"
    db.session.rollback()


# --- the audit log --------------------------------------------------------------------

def test_the_audit_log_shows_an_event_edit_with_before_and_after(app, staff_client):
    admin = staff_client("admin")
    with app.app_context():
        event = make_event(title="旧标题的交流会", venue_name="西宁大厦")
        event_id = event.id
    values = form_values(admin.get(f"/admin/events/{event_id}/edit").text)

    post_form(admin, f"/admin/events/{event_id}/edit",
              {**values, "title": "新标题的交流会", "venue_name": "青海宾馆", "save": "1"},
              form_url=f"/admin/events/{event_id}/edit")
    page = admin.get("/admin/audit/")

    assert page.status_code == 200
    text = page.text
    assert "修改活动「新标题的交流会」" in text
    assert "旧标题的交流会" in text and "西宁大厦" in text and "青海宾馆" in text
    assert "测试admin" in text  # who
    rows = {name: (before, after) for name, before, after in re.findall(
        r'<th scope="row">(.*?)</th>\s*<td class="value">(.*?)</td>\s*<td class="value">(.*?)</td>',
        text)}
    assert rows["标题"] == ("旧标题的交流会", "新标题的交流会")
    assert rows["会场名称"] == ("西宁大厦", "青海宾馆")


def test_the_audit_log_shows_china_time_newest_first(app, staff_client):
    with app.app_context():
        begin_write(db.session)
        for hour, summary in ((1, "较早的一条"), (3, "较晚的一条")):
            entry = record_audit(actor="某人", action="x", object_type="user", object_id=1,
                                 summary=summary)
            entry.at = datetime(2030, 1, 1, hour, 30, tzinfo=timezone.utc)
        db.session.commit()

    text = staff_client("admin").get("/admin/audit/").text

    assert text.index("较晚的一条") < text.index("较早的一条")
    assert "2030-01-01 11:30" in text and "2030-01-01 09:30" in text  # UTC+8


def _seed_log(app):
    """Three entries on two events, by two people, on two China days."""
    with app.app_context():
        one, two = make_event(title="甲活动"), make_event(title="乙活动")
        ids = one.id, two.id
        begin_write(db.session)
        rows = [
            (ids[0], "event", "管理员 王（wang@example.cn）", "甲的修改", datetime(2030, 3, 1, 16, 30)),
            (ids[1], "fee_tier", "管理员 王（wang@example.cn）", "乙的档次", datetime(2030, 3, 2, 2, 0)),
            (ids[1], "event", "财务 李（li@example.cn）", "乙的修改", datetime(2030, 3, 5, 2, 0)),
        ]
        for event_id, object_type, actor, summary, at in rows:
            entry = record_audit(actor=actor, action="x", object_type=object_type,
                                 object_id=1, summary=summary, event_id=event_id)
            entry.at = at.replace(tzinfo=timezone.utc)
        db.session.commit()
        return ids


def shown(page) -> set[str]:
    return {s for s in ("甲的修改", "乙的档次", "乙的修改") if s in page.text}


def test_the_audit_log_filters_by_event_object_actor_and_china_date(app, staff_client):
    first, second = _seed_log(app)
    admin = staff_client("admin")

    assert shown(admin.get(f"/admin/audit/?event={second}")) == {"乙的档次", "乙的修改"}
    assert shown(admin.get("/admin/audit/?object_type=fee_tier")) == {"乙的档次"}
    assert shown(admin.get("/admin/audit/?actor=LI@")) == {"乙的修改"}
    # 2030-03-01 16:30 UTC is 00:30 on 2 March in China, like 2 March 02:00 UTC.
    assert shown(admin.get("/admin/audit/?date_from=2030-03-02&date_to=2030-03-02")) == {
        "甲的修改", "乙的档次"}
    assert shown(admin.get("/admin/audit/?date_to=2030-03-01")) == set()
    combined = admin.get(f"/admin/audit/?event={first}&actor=wang&date_from=2030-03-02")
    assert shown(combined) == {"甲的修改"}


def test_the_audit_log_pages_and_keeps_the_filters(app, staff_client):
    with app.app_context():
        begin_write(db.session)
        for number in range(55):
            record_audit(actor="王", action="x", object_type="user", object_id=number,
                         summary=f"第{number:02d}条")
        record_audit(actor="李", action="x", object_type="event", object_id=1, summary="别的")
        db.session.commit()
    admin = staff_client("admin")

    first = admin.get("/admin/audit/?object_type=user")
    second = admin.get("/admin/audit/?object_type=user&page=2")

    assert "第 1 / 2 页" in first.text and "page=2" in first.text
    assert "object_type=user" in first.text.split("下一页")[0].rsplit("href=", 1)[1]
    on_first = {n for n in range(55) if f"第{n:02d}条" in first.text}
    on_second = {n for n in range(55) if f"第{n:02d}条" in second.text}
    assert len(on_first) == 50 and len(on_second) == 5 and not on_first & on_second
    assert "别的" not in second.text


def test_only_admins_read_the_audit_log_and_the_users(staff_client):
    finance = staff_client("finance")
    assert finance.get("/admin/audit/").status_code == 403
    assert finance.get("/admin/users/").status_code == 403
