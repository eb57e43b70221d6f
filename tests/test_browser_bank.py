"""Finance's bank statement in headless Chromium: upload the bank's export, watch it read,
confirm the matched pile, assign the transfer nobody could match by searching for its
registration; the unit's private page then says 已缴清 and shows its receipt."""
import os
import re
from datetime import timedelta

import pytest

from confreg.extensions import db
from confreg.timeutil import china_today
from tests import bank_fixtures
from tests.conftest import CHROMIUM, STAFF_PASSWORD, add_user, field_label, make_event
from tests.test_finance import register

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"Chromium is not installed at {CHROMIUM}")

DESKTOP = dict(viewport={"width": 1280, "height": 900}, locale="zh-CN",
               timezone_id="Asia/Shanghai")


def test_finance_imports_a_statement_confirms_and_assigns_and_the_unit_sees_it_paid(
        browser, app_ctx, live_server, worker, tmp_path):
    event = make_event()
    units = ["西宁市城东区东关大街街道办事处", "西宁市城西区虎台街道办事处", "海东市乐都区碾伯镇社会工作服务站"]
    registered = [register(event, 1 + i, unit_name=unit) for i, unit in enumerate(units)]
    (first, _), (second, _), (third, third_token) = registered
    # Another unit owing the same amount: the third transfer's amount alone points nowhere.
    register(event, 3, unit_name="格尔木市昆仑路街道办事处")
    day = china_today() - timedelta(days=1)
    rows = [bank_fixtures.transaction(day, str(first.total_amount), serial="CCB0000000000101",
                                      payer=units[0], remark=f"{first.code} 城乡社区工作委员会服务费"),
            bank_fixtures.transaction(day, str(second.total_amount), serial="CCB0000000000102",
                                      payer=units[1],
                                      remark=f"{second.code[:4].lower()}-{second.code[4:].lower()}"),
            bank_fixtures.transaction(day, str(third.total_amount), serial="CCB0000000000103",
                                      payer="乐都区财政国库支付中心", remark="会议费")]
    statement = tmp_path / "建行流水.xlsx"
    statement.write_bytes(bank_fixtures.ccb_xlsx(rows))
    first_code, third_code = first.code, third.code
    add_user("finance", "cai@example.cn", "蔡会计")
    db.session.close()  # hold no SQLite transaction while the server works

    page = browser.new_context(**DESKTOP).new_page()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label(field_label("邮箱")).fill("cai@example.cn")
    page.get_by_label(field_label("密码")).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="银行流水").click()

    page.get_by_label(re.compile("银行流水文件")).set_input_files(str(statement))
    page.get_by_role("button", name="上传并匹配").click()
    # The page follows the worker and reloads itself when the statement has been read.
    page.get_by_text("已导入", exact=True).wait_for(timeout=30_000)
    facts = page.locator("dl.facts").inner_text()
    assert "读取 3 笔：新增 3 笔" in facts and "已匹配 2" in facts and "未匹配 1" in facts

    page.get_by_role("link", name="已匹配 2").click()
    rows_shown = page.locator("table.bank-lines tbody tr")
    assert rows_shown.count() == 2 and first_code in rows_shown.first.inner_text() + \
        rows_shown.last.inner_text()
    page.get_by_role("button", name="确认所选").click()
    assert "已确认 2 笔流水" in page.locator("main").inner_text()

    page.locator("nav.bank-tabs").get_by_role("link", name=re.compile("未匹配")).click()
    row = page.locator("table.bank-lines tbody tr", has_text="乐都区财政国库支付中心")
    row.get_by_role("link", name="分配 / 详情").click()
    page.get_by_role("searchbox").fill(third_code[:5])
    page.get_by_role("button", name="搜索报名").click()
    page.get_by_role("checkbox", name=re.compile(third_code)).check()
    page.get_by_role("button", name="分配并登记收款").click()
    body = page.locator("main").inner_text()
    assert "已分配并登记收款" in body and "已确认" in body and third_code in body

    unit = browser.new_context(viewport={"width": 375, "height": 800}, locale="zh-CN").new_page()
    unit.goto(f"{live_server.url}/r/{third_token}")
    text = unit.locator("main").inner_text()
    assert unit.locator("#payment-status").inner_text() == "已缴清"
    assert re.search(r"SJ\d{4}-\d{6}", text.split("收据")[-1]) is not None
