"""The e-invoice in headless Chromium (issue 10): a unit, on a phone, completes its invoice
details on its private page (a mistyped credit code is caught beside the field); finance asks
for the invoice and downloads the batch for the tax platform, uploads the zip of issued files
the platform produced, watches the worker read it; the unit's page then offers its invoice."""
import io
import os
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from confreg.extensions import db
from confreg.models import InvoiceRequest
from tests import invoice_fixtures as fx
from tests.conftest import CHROMIUM, STAFF_PASSWORD, add_user, field_label, make_event
from tests.test_finance import STANDARD, pay, register

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")

PHONE = dict(viewport={"width": 375, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")
DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")
UNIT = "西宁市城东区东关大街街道办事处"
TAX_ID = fx.credit_code("11630102MB1234567")


def test_the_unit_completes_its_details_finance_issues_in_bulk_and_the_unit_gets_its_invoice(
        browser, app_ctx, live_server, worker, tmp_path):
    event = make_event()
    registration, token = register(event, 2, unit_name=UNIT, invoice_email="cw@dongguan.example.cn")
    pay(registration, STANDARD * 2)
    event_id, code = event.id, registration.code
    add_user("finance", "cai@example.cn", "蔡会计")
    db.session.close()  # hold no SQLite transaction while the server works
    shots = os.environ.get("SCREENSHOTS")

    # the unit, on its phone
    unit = browser.new_context(**PHONE).new_page()
    unit.goto(f"{live_server.url}/r/{token}")
    status = unit.locator("#invoice-status + p").inner_text()
    assert "开票信息待补充" in status and "纳税人识别号" in status
    unit.get_by_role("link", name="补充开票信息").click()
    unit.get_by_label(field_label("纳税人识别号")).fill(TAX_ID[:-1] + ("0" if TAX_ID[-1] != "0" else "1"))
    unit.get_by_role("button", name=re.compile("保存")).click()
    error = unit.locator(".field-error").first.inner_text()
    assert "校验" in error or "核对" in error, error
    unit.get_by_label(field_label("纳税人识别号")).fill(TAX_ID)
    unit.get_by_role("button", name=re.compile("保存")).click()
    assert "待开票" in unit.locator("#invoice-status + p").inner_text()
    if shots:
        unit.screenshot(path=f"{shots}/unit-invoice-375.png", full_page=True)

    # finance asks for it, downloads the batch, uploads what the platform issued
    page = browser.new_context(**DESKTOP).new_page()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label(field_label("邮箱")).fill("cai@example.cn")
    page.get_by_label(field_label("密码")).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="电子发票").click()
    page.goto(f"{live_server.url}/admin/invoices/events/{event_id}?state=ready")
    assert code in page.locator("table").inner_text()
    page.get_by_role("button", name=re.compile("全部申请开票")).click()
    assert "已申请开票 1 张" in page.locator("main").inner_text()
    link = page.locator("a[href*='/batches/'][href$='.xlsx']").first
    workbook = page.request.get(live_server.url + link.get_attribute("href"))
    sheet = load_workbook(io.BytesIO(workbook.body()))["1-发票基本信息"]
    assert (sheet.cell(2, 6).value, sheet.cell(2, 7).value) == (UNIT, TAX_ID)
    assert code in sheet.cell(2, 12).value

    with live_server_session():
        request = db.session.scalar(db.select(InvoiceRequest))
        issued = fx.FakeInvoice(number=fx.invoice_number(4242), buyer_name=request.buyer_name,
                                buyer_tax_id=request.buyer_tax_id, total=request.total,
                                remark=request.remark, quantity=request.quantity)
    assert issued.total == Decimal(STANDARD * 2)
    archive = tmp_path / "电子发票.zip"
    archive.write_bytes(fx.zip_of(fx.invoice_files(issued, ("pdf", "xml", "ofd"))))
    page.get_by_label(re.compile("已开具的发票文件")).set_input_files(str(archive))
    page.get_by_role("button", name="上传并匹配").click()
    page.get_by_text("已匹配并发送 1").wait_for(timeout=30_000)
    assert issued.number in page.locator("main").inner_text()
    if shots:
        page.screenshot(path=f"{shots}/finance-upload-1280.png", full_page=True)

    # the unit's page offers its invoice
    unit.reload()
    status = unit.locator("#invoice-status + p").inner_text()
    assert "发票已开具，已发送至 cw@dongguan.example.cn" in status
    download = unit.get_by_role("link", name="下载 PDF")
    response = unit.request.get(live_server.url + download.get_attribute("href"))
    assert response.status == 200 and response.body() == fx.invoice_pdf(issued)
    if shots:
        unit.screenshot(path=f"{shots}/unit-invoice-delivered-375.png", full_page=True)


class live_server_session:
    """Read what the server wrote, then let go of the SQLite transaction again."""

    def __enter__(self):
        return db.session

    def __exit__(self, *exc):
        db.session.close()
