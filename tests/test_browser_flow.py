"""The registration flow in headless Chromium at phone width (375 px), as a unit's contact
person would go through it: read the notice, register three people, keep the private link,
come back and change a name. The form is driven by real taps; "add a person" posts the form
back to the server, so no JavaScript is involved."""
import os
import re

import pytest

from confreg.checks import REGISTRATION_CODE_ALPHABET
from confreg.extensions import db
from tests.conftest import CHROMIUM, field_label, make_event

PHONE = dict(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
             has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")


def assert_fits_phone_width(page, what: str) -> None:
    """Nothing on the page makes it scroll sideways at 375 px."""
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    # A mobile browser widens the layout viewport to fit content wider than the screen,
    # so innerWidth itself must still be the phone's 375 px.
    assert widths["inner"] == 375, f"{what} widened the mobile viewport: {widths}"
    assert widths["scroll"] <= widths["inner"], f"{what} overflows horizontally: {widths}"


def fill_attendee(page, index: int, *, name: str, gender: str, title: str, mobile: str,
                  accommodation: str = "合住", diet: str = "无特殊要求") -> None:
    row = page.locator(f"#attendee-{index}")
    row.get_by_label(field_label("姓名")).fill(name)
    row.get_by_label(gender, exact=True).check()
    row.get_by_label(field_label("职务/职称")).fill(title)
    row.get_by_label(field_label("手机")).fill(mobile)
    row.get_by_label(accommodation, exact=True).check()
    row.get_by_label(diet, exact=True).check()


def test_register_three_people_on_a_phone_then_change_a_name(browser, app_ctx, live_server):
    from playwright.sync_api import expect

    event = make_event()
    title, key = event.title, event.key
    starts_on, ends_on = event.starts_on, event.ends_on
    # Outside a request every SQLite transaction begins IMMEDIATE, so the reads above hold
    # the write lock: end the transaction before the browser talks to the live server.
    db.session.rollback()

    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()

    # 1. The list of events: the meeting is open for registration.
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="正在报名")).to_be_visible()
    link = page.get_by_role("link", name=title)
    expect(link).to_be_visible()
    link.tap()

    # 2. The notice: title, deadlines, fees, bank account and the required remark.
    expect(page).to_have_url(re.compile(rf"/events/{key}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_text("报名中", exact=True).first).to_be_visible()
    expect(page.get_by_role("heading", name="日程安排")).to_be_visible()
    expect(page.get_by_role("heading", name="重要日期")).to_be_visible()
    fees = page.locator("table.fees")
    expect(fees).to_contain_text("2,980.00 元/人")
    expect(fees).to_contain_text("3,580.00 元/人")
    bank = page.locator(".bank")
    expect(bank).to_contain_text("中国社会工作联合会")
    expect(bank).to_contain_text("中国工商银行北京朝阳支行")
    expect(bank).to_contain_text("0200003409014427548")
    expect(bank).to_contain_text("城乡社区工作委员会服务费")
    assert_fits_phone_width(page, "the notice")
    page.get_by_role("link", name="在线报名").tap()

    # 3. The form: unit, contact, first attendee.
    expect(page).to_have_url(re.compile(rf"/events/{key}/register$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("在线报名")
    expect(page.locator("#attendees > legend")).to_have_text("参会人员（1 人）")
    assert_fits_phone_width(page, "the registration form")
    page.get_by_label(field_label("单位名称")).fill("西宁市城东区东关大街街道办事处")
    page.get_by_label(field_label("其他单位、相关社会机构或个人")).check()
    page.get_by_label(field_label("省份")).select_option("青海省")
    page.get_by_label(field_label("城市")).fill("西宁市")
    page.get_by_label(field_label("通讯地址（选填）")).fill("建国路1号")
    page.get_by_label(field_label("联系人")).fill("马晓明")
    page.get_by_label(field_label("联系人手机")).fill("13912345678")
    page.get_by_label(field_label("联系人邮箱")).fill("contact@example.cn")
    first = page.locator("#attendee-0")
    expect(first.get_by_label(field_label("到达日期"))).to_have_value(starts_on.isoformat())
    expect(first.get_by_label(field_label("离开日期"))).to_have_value(ends_on.isoformat())
    fill_attendee(page, 0, name="张伟", gender="男", title="主任", mobile="13912345001",
                  diet="清真")

    # 4. Two more people: each tap posts the form back and comes back with one more row,
    #    with everything already typed still there.
    add = page.get_by_role("button", name="＋ 再添加一位参会人员")
    add.tap()
    expect(page.locator("#attendees > legend")).to_have_text("参会人员（2 人）")
    expect(page.locator("#attendee-1")).to_be_visible()
    expect(page.get_by_label(field_label("单位名称"))).to_have_value("西宁市城东区东关大街街道办事处")
    expect(page.get_by_label(field_label("省份"))).to_have_value("青海省")
    expect(page.get_by_label(field_label("其他单位、相关社会机构或个人"))).to_be_checked()
    expect(first.get_by_label(field_label("姓名"))).to_have_value("张伟")
    expect(first.get_by_label(field_label("清真"))).to_be_checked()
    expect(page.locator(".field-error")).to_have_count(0)  # adding a row is not a submit
    fill_attendee(page, 1, name="王芳", gender="女", title="副主任", mobile="13912345002",
                  accommodation="单间")

    add.tap()
    expect(page.locator("#attendees > legend")).to_have_text("参会人员（3 人）")
    third = page.locator("#attendee-2")
    expect(third).to_be_visible()
    expect(page.locator("#attendee-1").get_by_label(field_label("姓名"))).to_have_value("王芳")
    expect(third.get_by_label(field_label("到达日期"))).to_have_value(starts_on.isoformat())
    expect(third.get_by_label(field_label("离开日期"))).to_have_value(ends_on.isoformat())
    fill_attendee(page, 2, name="李娜", gender="女", title="社工", mobile="13912345003",
                  diet="素食")
    assert_fits_phone_width(page, "the registration form with three attendees")

    consent = page.get_by_role("checkbox", name=re.compile("我已阅读并同意"))
    consent.check()
    expect(consent).to_be_checked()
    page.get_by_role("button", name="提交报名").tap()

    # 5. The success page: the code, the amount, how to pay, the private link.
    expect(page.get_by_role("heading", name="报名成功")).to_be_visible()
    code = page.locator(".alert-ok strong.mono").inner_text().strip()
    assert re.fullmatch(f"[{REGISTRATION_CODE_ALPHABET}]{{4,12}}", code), code
    payment = page.locator("#payment")
    expect(payment).to_contain_text("¥ 10,740.00")
    expect(payment).to_contain_text("3 人")
    expect(payment.locator(".remark")).to_have_text(f"{code} 城乡社区工作委员会服务费")
    expect(payment).to_contain_text("0200003409014427548")
    expect(payment).to_contain_text("缴费截止")
    expect(page.get_by_role("link", name="下载缴费通知单（PDF）")).to_be_visible()
    attendees = page.locator("table.plain tbody tr")
    expect(attendees).to_have_count(3)
    for number, name in enumerate(["张伟", "王芳", "李娜"]):
        expect(attendees.nth(number)).to_contain_text(name)
        expect(attendees.nth(number)).to_contain_text("3,580.00")
    assert_fits_phone_width(page, "the success page")
    private_link = page.locator("#private-link").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/r/\S{{20,}}", private_link), private_link

    # 6. The private link, opened afresh (as from the e-mail): no cookies from the form.
    later = browser.new_context(**PHONE)
    later.set_default_timeout(15_000)
    mine = later.new_page()
    mine.goto(private_link)
    expect(mine.get_by_role("heading", level=1)).to_have_text(f"我的报名 {code}")
    expect(mine.get_by_role("heading", name="报名成功")).to_have_count(0)
    expect(mine.locator("#private-link")).to_have_count(0)  # the link is shown only once
    expect(mine.locator("#payment")).to_contain_text("¥ 10,740.00")
    assert_fits_phone_width(mine, "the private page")
    mine.get_by_role("link", name=re.compile("修改报名信息")).tap()

    # 7. Change the second attendee's name and save.
    expect(mine.get_by_role("heading", level=1)).to_have_text(f"修改报名 {code}")
    second = mine.locator("#attendee-1").get_by_label(field_label("姓名"))
    expect(second).to_have_value("王芳")
    assert_fits_phone_width(mine, "the edit page")
    second.fill("赵丽")
    mine.get_by_role("button", name="保存修改").tap()

    # 8. Back on the private page: the new name, the same amount, the change noted.
    expect(mine.get_by_role("heading", level=1)).to_have_text(f"我的报名 {code}")
    expect(mine.locator(".flash-success")).to_contain_text("参会人员 王芳 改为 赵丽")
    rows = mine.locator("table.plain tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("赵丽")
    expect(mine.locator("table.plain")).not_to_contain_text("王芳")
    expect(mine.locator("#payment")).to_contain_text("¥ 10,740.00")
    expect(mine.get_by_role("heading", name="变更记录")).to_be_visible()
    history = mine.locator("ul.history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(re.compile(r"提交报名：3 人，应缴 10,?740\.00 元"))
    expect(history.nth(1)).to_contain_text("参会人员 王芳 改为 赵丽")

    later.close()
    context.close()


def test_enter_in_a_field_submits_the_form_instead_of_removing_a_person(browser, app_ctx,
                                                                       live_server):
    event = make_event()
    url = f"{live_server.url}/events/{event.key}/register"
    db.session.rollback()  # hold no SQLite transaction while the server works
    page = browser.new_context(**PHONE).new_page()
    page.goto(url)
    page.get_by_role("button", name="＋ 再添加一位参会人员").click()
    page.locator("#attendee-1").get_by_label(field_label("姓名")).fill("王芳")
    assert page.locator(".attendee").count() == 2

    page.get_by_label(field_label("单位名称")).fill("西宁市城东区东关大街街道办事处")
    page.get_by_label(field_label("单位名称")).press("Enter")
    page.wait_for_load_state()

    # The form was submitted (so it reports the missing fields) and both people are still there.
    assert page.locator(".error-summary").is_visible()
    assert page.locator(".attendee").count() == 2
    assert page.locator("#attendee-1").get_by_label(field_label("姓名")).input_value() == "王芳"
