"""The finance desk in headless Chromium on a desktop: sign in, find a registration, record the
transfer, get the receipt. (Browser downloads do not work here, so the receipt link is fetched
with the browser's own session and read back with pdftotext.)"""
import re
import subprocess

from confreg.database import utcnow
from confreg.extensions import db
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.timeutil import china_today
import os

import pytest

from tests.conftest import CHROMIUM, STAFF_PASSWORD, add_user, field_label, make_event

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")

DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")


def test_finance_signs_in_records_a_transfer_and_gets_the_receipt(browser, app_ctx, live_server,
                                                                  tmp_path):
    event = make_event(title="全国基层物业管理服务创新发展经验交流会")
    people = [AttendeeDetails(name=name, gender="F", title="主任", mobile=mobile,
                              accommodation="shared", arrival_on=event.starts_on,
                              departure_on=event.ends_on)
              for name, mobile in (("王芳", "13912345001"), ("李娜", "13912345002"))]
    registration, _ = register_unit(
        event.id, UnitDetails(unit_name="西宁市城东区东关大街街道办事处", tier_claim="other",
                              province="青海省", city="西宁市", contact_name="马晓明",
                              contact_mobile="13912345678", contact_email="unit@example.cn"),
        people, today=china_today(), now=utcnow())
    code, event_id = registration.code, event.id
    add_user("finance", "cai@example.cn", "蔡会计")
    db.session.close()  # hold no SQLite transaction while the server works

    page = browser.new_context(**DESKTOP).new_page()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label(field_label("邮箱")).fill("cai@example.cn")
    page.get_by_label(field_label("密码")).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("heading", name="活动").is_visible()

    page.goto(f"{live_server.url}/admin/events/{event_id}/finance")
    page.get_by_role("searchbox").fill(code)
    page.get_by_role("button", name="搜索").click()
    row = page.locator("tr", has_text=code)
    assert row.count() == 1 and "未缴费" in row.inner_text()
    row.get_by_role("link", name="登记收款").click()

    page.get_by_label(field_label("金额（元）")).fill("7,160.00")
    page.get_by_label(field_label("到账日期")).fill(china_today().isoformat())
    page.get_by_label(field_label("付款账户名称")).fill("西宁市城东区东关大街街道办事处")
    page.get_by_label(field_label("银行流水号")).fill("ICBC20271101000123")
    page.get_by_role("button", name="登记").click()

    body = page.locator("main").inner_text()
    assert "已缴清" in body
    number = re.search(r"SJ\d{4}-\d{6}", body).group(0)
    receipt = page.get_by_role("link", name="PDF").first.get_attribute("href")
    pdf = page.request.get(live_server.url + receipt)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert number in text
    assert "人民币柒仟壹佰陆拾元整" in "".join(text.split())
    assert "西宁市城东区东关大街街道办事处" in text
