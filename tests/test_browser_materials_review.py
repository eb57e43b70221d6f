"""The materials flow in headless Chromium: a unit uploads its material from a phone, an
admin assigns it, a reviewer scores it, the admin selects it and staff generate the booklet.
(Browser downloads do not work here, so the booklet link is fetched with the browser's own
session and read back with pdftotext.)"""
import os
import re
import subprocess
from pathlib import Path

import pytest

from confreg.database import utcnow
from confreg.extensions import db
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import china_today
from tests.conftest import CHROMIUM, STAFF_PASSWORD, add_user, field_label, make_event

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")

FIXTURE = Path(__file__).parent / "fixtures" / "material-zh.docx"
PHONE = dict(viewport={"width": 375, "height": 740}, locale="zh-CN", timezone_id="Asia/Shanghai",
             is_mobile=True, has_touch=True)
DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")
TITLE = "党建引领物业管理服务创新的东关实践"


def sign_in(browser, base: str, email: str):
    page = browser.new_context(**DESKTOP).new_page()
    page.goto(base + "/admin/login")
    page.get_by_label(field_label("邮箱")).fill(email)
    page.get_by_label(field_label("密码")).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    return page


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_material_goes_from_the_unit_through_review_into_the_booklet(browser, app_ctx,
                                                                         live_server, worker,
                                                                         tmp_path):
    event = make_event(title="全国基层物业管理服务创新发展经验交流会", materials_char_limit=3000)
    registration, token = register_unit(
        event.id, UnitDetails(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other",
                              province="青海省", city="西宁市", contact_name="马晓明",
                              contact_mobile="13912345678", contact_email="unit@example.cn"),
        [AttendeeDetails(name="王芳", gender="F", title="主任", mobile="13912345001",
                         accommodation="shared", arrival_on=event.starts_on,
                         departure_on=event.ends_on)],
        today=china_today(), now=utcnow())
    event_id = event.id
    add_user("admin", "admin@example.cn", "管理员")
    add_user("reviewer", "expert@example.cn", "唐教授")
    add_user("staff", "staff@example.cn", "会务小李")
    db.session.close()  # hold no SQLite transaction while the server works
    base = live_server.url

    # The unit, on a phone, from its private link.
    unit = browser.new_context(**PHONE).new_page()
    unit.goto(f"{base}/r/{token}")
    unit.get_by_label(field_label("材料标题")).fill(TITLE)
    unit.get_by_label(field_label("作者")).fill("马晓明、王芳")
    unit.get_by_label(re.compile("材料文件")).set_input_files(str(FIXTURE))
    assert no_sideways_scroll(unit)
    unit.get_by_role("button", name="提交材料").click()
    page_text = unit.locator("main").inner_text()
    assert TITLE in page_text
    assert "556" in page_text  # the fixture's Chinese characters, counted on the server
    assert no_sideways_scroll(unit)

    # The admin assigns it to the reviewer.
    admin = sign_in(browser, base, "admin@example.cn")
    admin.goto(f"{base}/admin/events/{event_id}/review")
    admin.get_by_label(f"勾选 {TITLE}").check()
    admin.get_by_label("唐教授").check()
    admin.get_by_role("button", name="分配给所选专家").click()
    assert "未评分" in admin.locator("main").inner_text()

    # The reviewer signs in, finds it among their assignments, reads it and scores it.
    reviewer = sign_in(browser, base, "expert@example.cn")
    reviewer.get_by_role("link", name=TITLE).first.click()
    assert "社区" in reviewer.locator(".submission-text").inner_text()  # the text, in the page
    reviewer.get_by_label(re.compile("^真实性")).fill("90")
    reviewer.get_by_label(re.compile("^规范性")).fill("80")
    reviewer.get_by_label(re.compile("^创新性")).fill("70")
    reviewer.get_by_role("button", name="保存评分").click()
    # 90×40 + 80×30 + 70×30 = 8100, over 100 weights: 81.00
    assert "81.00" in reviewer.locator("main").inner_text()

    # The admin sees the score on the board and selects the material.
    admin.goto(f"{base}/admin/events/{event_id}/review")
    assert "81.00" in admin.locator("table.review-board").inner_text()
    admin.get_by_label(f"勾选 {TITLE}").check()
    admin.get_by_label("入选", exact=True).check()
    admin.get_by_role("button", name="评定所勾选的材料").click()
    assert "入选" in admin.locator("table.review-board").inner_text()

    # Staff generate the booklet.
    staff = sign_in(browser, base, "staff@example.cn")
    staff.goto(f"{base}/admin/events/{event_id}/booklet")
    assert TITLE in staff.locator("main").inner_text()
    staff.get_by_role("button", name="生成 PDF 汇编").click()  # the worker makes it
    staff.wait_for_url(re.compile(r"/admin/jobs/\d+$"))
    staff.locator("#job-file").wait_for(state="visible", timeout=60000)  # the page polls
    assert staff.locator("#job-progress").get_attribute("value") == "100"
    href = staff.locator("#job-file-link").get_attribute("href")
    pdf = staff.request.get(base + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "booklet.pdf"
    path.write_bytes(pdf.body())
    contents = subprocess.run(["pdftotext", "-layout", "-f", "2", "-l", "2", str(path), "-"],
                              capture_output=True, text=True, check=True).stdout
    listed = re.search(re.escape(TITLE) + r".*?(\d+)\s*$", contents, re.MULTILINE)
    assert listed, contents
    page_number = int(listed.group(1))
    target = subprocess.run(["pdftotext", "-f", str(page_number), "-l", str(page_number),
                             str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert TITLE in target and "西宁市城东区东关大街街道办事处" in target
