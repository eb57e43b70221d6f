"""A unit sends its case to the call from a phone (375 px) in headless Chromium: notice,
form, real files picked with the file inputs, one mistake (a photo without its caption)
that brings the form back with the files kept, then the success page and its private link.
No JavaScript is needed by the form; the abstract counter is an extra.

Set CASES_SCREENSHOTS=<folder> to keep screenshots of the form and the private page at
375 px and 1280 px."""
import os
import re
from pathlib import Path

import pytest

from confreg.extensions import db
from tests.conftest import CHROMIUM, field_label
from tests.test_browser_flow import PHONE, assert_fits_phone_width
from tests.test_cases import ABSTRACT, TITLE, image_file, make_call, pdf_file, word_file

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")
DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")


def _file(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def _shoot(page, name: str) -> None:
    folder = os.environ.get("CASES_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_unit_sends_its_case_from_a_phone(browser, app_ctx, live_server):
    from playwright.sync_api import expect

    event = make_call()
    key = event.key
    db.session.rollback()  # release SQLite's write lock before the browser's requests

    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/events/{key}")
    page.get_by_role("link", name="在线申报").click()
    expect(page.get_by_role("heading", name="在线申报")).to_be_visible()
    assert_fits_phone_width(page, "the case form")
    _shoot(page, "case-form-375")

    page.get_by_label(field_label("单位名称")).fill("北京市朝阳区六里屯街道办事处")
    page.get_by_label(field_label("省份")).select_option("北京市")
    page.get_by_label(field_label("城市")).fill("朝阳区")
    page.get_by_label(field_label("联系人")).fill("李秀兰")
    page.get_by_label(field_label("联系人手机")).fill("13912345678")
    page.get_by_label(field_label("联系人邮箱")).fill("case@example.cn")
    page.get_by_label("本单位是委员单位（申报表加盖本单位公章即可）").check()
    page.get_by_label(re.compile("分类三　")).check()
    page.get_by_label(field_label("案例标题")).fill(TITLE)
    page.get_by_label(field_label("内容摘要")).fill(ABSTRACT)
    expect(page.locator("#abstract-count strong")).to_have_text(
        str(len("".join(ABSTRACT.split()))))  # the counter, where JavaScript runs
    page.locator("#text_docx").set_input_files(
        _file("议事厅案例.docx", word_file(), "application/octet-stream"))
    page.locator("#text_pdf").set_input_files(_file("议事厅案例.pdf", pdf_file(), "application/pdf"))
    for n in (1, 2, 3):
        page.locator(f"#photo_{n}").set_input_files(
            _file(f"照片{n}.jpg", image_file("JPEG", (n * 50, 80, 80)), "image/jpeg"))
    page.get_by_label(field_label("第 1 张图片说明")).fill("议事厅协商现场")
    page.get_by_label(field_label("第 2 张图片说明")).fill("加装电梯竣工")
    # The third caption is forgotten.
    page.locator("#application_form").set_input_files(
        _file("申报表.png", image_file("PNG", (250, 250, 250)), "image/png"))
    page.locator("#consent").check()
    page.get_by_role("button", name="提交申报").last.click()

    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#caption_3-error")).to_contain_text("请填写这张图片的说明")
    for name in ("议事厅案例.docx", "议事厅案例.pdf", "照片1.jpg", "照片3.jpg", "申报表.png"):
        expect(page.get_by_text(f"已上传：{name}（如需更换请重新选择）")).to_be_visible()
    expect(page.get_by_label(field_label("案例标题"))).to_have_value(TITLE)
    assert_fits_phone_width(page, "the case form with errors")
    _shoot(page, "case-form-errors-375")

    page.get_by_label(field_label("第 3 张图片说明")).fill("居民满意度回访")
    page.get_by_role("button", name="提交申报").last.click()

    expect(page.get_by_role("heading", name="申报成功")).to_be_visible()
    link = page.locator("#private-link").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/c/[A-Za-z0-9_-]{{32}}", link)
    expect(page.get_by_text(f"《{TITLE}》")).to_be_visible()
    assert page.locator(".photos img").count() == 3
    assert_fits_phone_width(page, "the private page")
    _shoot(page, "case-private-375")

    desktop = browser.new_context(**DESKTOP)
    wide = desktop.new_page()
    wide.goto(link)
    expect(wide.get_by_role("heading", name=re.compile("我的申报"))).to_be_visible()
    wide.locator("#replace-photos summary").click()
    _shoot(wide, "case-private-1280")
    wide.goto(f"{live_server.url}/events/{key}/submit")
    _shoot(wide, "case-form-1280")
    desktop.close()
    context.close()
