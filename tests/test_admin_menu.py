"""The event menu offers the desk pages that fit the event: a call for cases has no
registrations, money, lists, check-in or reminders."""
import re

from tests.conftest import make_event


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav class="event-nav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return re.findall(r">([^<>]+)</a>", nav)


def test_a_call_shows_the_submission_pages_only(app_ctx, staff_client):
    call = make_event(kind="call", title="经验案例材料征集")
    client = staff_client("admin")
    labels = nav_labels(client.get(f"/admin/events/{call.id}/materials/").text)
    assert labels == ["材料", "评审", "材料汇编", "证书", "编辑活动"]


def test_a_meeting_shows_every_desk_page_to_an_admin(app_ctx, staff_client):
    meeting = make_event()
    client = staff_client("admin")
    labels = nav_labels(client.get(f"/admin/events/{meeting.id}/materials/").text)
    assert labels == ["概览", "报名", "付款与收据", "对账", "电子发票", "材料", "评审", "材料汇编",
                      "签到与结业", "证书", "打印与导出", "提醒", "编辑活动"]


def test_staff_do_not_see_the_admins_review_board(app_ctx, staff_client):
    meeting = make_event()
    labels = nav_labels(staff_client("staff").get(f"/admin/events/{meeting.id}/materials/").text)
    assert "评审" not in labels and "材料" in labels and "付款与收据" in labels
