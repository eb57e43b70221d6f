"""The bank-statement reader: each bank's export read back to the transactions it was built
from, the lines around the table, the column mapping for unknown layouts, and bad files."""
import io
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import xlrd

from confreg.bank import statement
from confreg.bank.statement import (CANONICAL_FIELDS, MappingNeeded, StatementError,
                                    read_statement)
from tests.bank_fixtures import (ABC_HEADERS, ACCOUNT, ACCOUNT_NAME, OPENING_BALANCE,
                                 UNKNOWN_HEADERS, abc_csv_gbk, abc_table, abc_txt_tab, boc_xlsx,
                                 ccb_table, ccb_xlsx, icbc_csv_utf8_bom, icbc_xls,
                                 sample_transactions, transaction, unknown_layout_csv,
                                 write_text, write_xls, write_xlsx)

# Which builders give a serial and the counterparty's bank name (ICBC gives a bank code).
LAYOUTS = {
    "icbc_xls": (icbc_xls, "xls", True, False),
    "icbc_csv_utf8_bom": (icbc_csv_utf8_bom, "csv", True, False),
    "ccb_xlsx": (ccb_xlsx, "xlsx", True, True),
    "abc_csv_gbk": (abc_csv_gbk, "csv", False, True),
    "abc_txt_tab": (abc_txt_tab, "csv", False, True),
    "boc_xlsx": (boc_xlsx, "xlsx", True, True),
}


def expected(transactions, *, serial=True, bank=True):
    """What the reader should give for each transaction, balance included."""
    balance, out = OPENING_BALANCE, []
    for t in transactions:
        balance += (t["amount_in"] or 0) - (t["amount_out"] or 0)
        out.append((t["date"], datetime.combine(t["date"], t["time"]),
                    (t["serial"] or "") if serial else "",
                    "in" if t["amount_in"] else "out", t["amount_in"] or t["amount_out"],
                    balance, t["payer"], t["account"], t["bank"] if bank else "", t["remark"]))
    return out


def got(parsed):
    return [(r.booked_on, r.booked_at, r.serial, r.direction, r.amount, r.balance,
             r.payer_name, r.payer_account, r.payer_bank, r.remark) for r in parsed.rows]


def csv_statement(headers, *rows, encoding="utf-8"):
    return write_text([[f"账号：{ACCOUNT}"], headers, *rows], encoding=encoding)


# --- each bank -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", LAYOUTS)
def test_each_bank_export_reads_back_to_the_transactions_it_was_built_from(name):
    build, file_format, serial, bank = LAYOUTS[name]
    transactions = sample_transactions()
    parsed = read_statement(build(transactions), f"statement.{file_format}")
    assert parsed.file_format == file_format
    assert got(parsed) == expected(transactions, serial=serial, bank=bank)
    assert all(isinstance(r.amount, Decimal) and r.amount > 0 for r in parsed.rows)
    assert parsed.account == ACCOUNT
    assert parsed.account_name == ACCOUNT_NAME


def test_header_row_is_found_below_the_account_lines_and_totals_are_skipped():
    parsed = read_statement(icbc_xls(sample_transactions()), "icbc.xls")
    assert parsed.header_line == 5
    assert parsed.headers[:4] == ["凭证号", "本方账号", "对方账号", "交易时间"]
    assert [r.line for r in parsed.rows] == [6, 7, 8, 9]
    assert parsed.period == "2026-08-01 至 2026-08-31"
    # the blank line, the 合计 line and the 借方笔数/贷方合计 line below the table
    assert parsed.skipped == [(10, "空行"), (11, "合计行"), (12, "合计行")]
    assert parsed.unrecognised == ["对方行号", "个性化信息"]


def test_account_label_and_value_in_separate_cells_and_start_end_dates_make_the_period():
    parsed = read_statement(ccb_xlsx(sample_transactions()))
    assert (parsed.account, parsed.account_name) == (ACCOUNT, ACCOUNT_NAME)
    assert parsed.period == "20260801 至 20260831"
    assert parsed.skipped == [(10, "空行"), (11, "说明行（没有交易日期）")]


def test_account_comes_from_the_own_account_column_when_no_line_names_it():
    table = [["凭证号", "本方账号", "交易时间", "借方发生额", "贷方发生额", "对方单位名称"],
             ["", ACCOUNT, "2026-08-05 10:00:00", "", "100.00", "某协会"]]
    parsed = read_statement(write_text(table))
    assert parsed.account == ACCOUNT
    assert parsed.account_name == ""


def test_gbk_and_utf8_bom_and_tab_text_give_the_same_transactions():
    transactions = sample_transactions()
    gbk = read_statement(abc_csv_gbk(transactions))
    tab = read_statement(abc_txt_tab(transactions))
    utf8_bom = read_statement(write_text(abc_table(transactions), encoding="utf-8-sig"))
    utf8 = read_statement(write_text(abc_table(transactions), encoding="utf-8"))
    assert gbk.encoding == "gbk" and tab.encoding == "gbk"
    assert utf8_bom.encoding == "utf-8-sig" and utf8.encoding == "utf-8"
    assert got(gbk) == got(tab) == got(utf8_bom) == got(utf8)
    assert gbk.rows[0].payer_name == "广州市海珠区启明社会工作服务中心"
    assert gbk.headers == ABC_HEADERS


def test_excel_unicode_text_utf16_tab_separated_is_read():
    data = write_text(abc_table(sample_transactions()), encoding="utf-16", delimiter="\t")
    parsed = read_statement(data, "明细.txt")
    assert parsed.encoding == "utf-16"
    assert got(parsed) == expected(sample_transactions(), serial=False)


def test_text_in_gb18030_beyond_gbk_is_read():
    rows = [["20260805", "100.00", "", "中国社会工作联合会𠀀分会"]]
    parsed = read_statement(csv_statement(["交易日期", "贷方金额", "借方金额", "对方户名"], *rows,
                                          encoding="gb18030"))
    assert parsed.encoding == "gb18030"
    assert parsed.rows[0].payer_name == "中国社会工作联合会𠀀分会"


# --- serials -------------------------------------------------------------------------------

def test_serials_keep_their_leading_zeros_in_text_cells():
    transactions = [transaction(date(2026, 8, 5), "100.00", serial="0000123401"),
                    transaction(date(2026, 8, 6), "200.00", serial="0090000000000000001")]
    for data in (ccb_xlsx(transactions), boc_xlsx(transactions),
                 icbc_xls(transactions, numeric_serials=False),
                 icbc_csv_utf8_bom(transactions)):
        assert [r.serial for r in read_statement(data).rows] == ["0000123401",
                                                                 "0090000000000000001"]


def test_excel_formula_text_serial_is_unwrapped():
    parsed = read_statement(csv_statement(["交易日期", "交易流水号", "收入"],
                                          ["2026-08-05", '="000778"', "5"]))
    assert parsed.rows[0].serial == "000778"


def test_numeric_xls_serials_come_back_as_integer_strings():
    transactions = [transaction(date(2026, 8, 5), "100.00", serial="2026080512345678"),
                    transaction(date(2026, 8, 6), "200.00", serial="1230000000000000")]
    data = icbc_xls(transactions)
    sheet = xlrd.open_workbook(file_contents=data).sheet_by_index(0)
    assert sheet.cell(5, 0).ctype == xlrd.XL_CELL_NUMBER  # the bank's .xls has a float there
    assert sheet.cell(6, 0).value == 1.23e15
    parsed = read_statement(data)
    assert [r.serial for r in parsed.rows] == ["2026080512345678", "1230000000000000"]
    assert parsed.rows[1].raw["凭证号"] == "1230000000000000"


def test_the_most_specific_serial_column_is_used():
    parsed = read_statement(csv_statement(["凭证号", "交易日期", "流水号", "交易流水号", "收入"],
                                          ["V1", "20260805", "L2", "T3", "5"]))
    assert parsed.rows[0].serial == "T3"
    assert parsed.unrecognised == ["凭证号", "流水号"]


# --- amounts, directions, dates --------------------------------------------------------------

def test_one_amount_column_with_a_direction_column():
    transactions = sample_transactions()
    parsed = read_statement(boc_xlsx(transactions))
    assert "direction" in parsed.mapping and "amount" in parsed.mapping
    assert [(r.direction, r.amount) for r in parsed.rows] == [
        ("in", Decimal("2980.00")), ("in", Decimal("29800.00")), ("out", Decimal("980.00")),
        ("out", Decimal("15.00"))]
    # the counterparty is the payer of money in and the payee of money out, never us
    assert parsed.rows[2].payer_name == "深圳市龙岗区社工服务中心"
    assert ACCOUNT not in {r.payer_account for r in parsed.rows}


def test_payer_and_payee_columns_give_the_side_that_is_not_this_account():
    headers = ["交易日期", "借贷标识", "交易金额", "付款人账号", "付款人名称", "收款人账号",
               "收款人名称"]
    parsed = read_statement(csv_statement(
        headers, ["20260805", "贷", "100.00", "6222001", "甲协会", ACCOUNT, ACCOUNT_NAME],
        ["20260806", "借", "20.00", ACCOUNT, ACCOUNT_NAME, "6222002", "乙协会"],
        # a reversal: money back in, the bank still listing this account as the payer
        ["20260807", "贷", "20.00", ACCOUNT, ACCOUNT_NAME, "6222002", "乙协会"]))
    assert [(r.direction, r.payer_name, r.payer_account) for r in parsed.rows] == [
        ("in", "甲协会", "6222001"), ("out", "乙协会", "6222002"), ("in", "乙协会", "6222002")]


@pytest.mark.parametrize("flag, direction", [
    ("借", "out"), ("贷", "in"), ("D", "out"), ("C", "in"), ("d", "out"), ("收", "in"),
    ("支", "out"), ("收入", "in"), ("支出", "out"), ("1", "out"), ("2", "in"), ("来账", "in"),
    ("往账", "out"), ("贷方", "in")])
def test_direction_flags(flag, direction):
    parsed = read_statement(csv_statement(["交易日期", "交易金额", "借贷标志"],
                                          ["20260805", "100.00", flag]))
    assert (parsed.rows[0].direction, parsed.rows[0].amount) == (direction, Decimal("100.00"))


def test_unknown_direction_flag_is_an_error_with_its_line():
    with pytest.raises(StatementError) as refused:
        read_statement(csv_statement(["交易日期", "交易金额", "借贷标志"],
                                     ["20260805", "100.00", "贷"], ["20260806", "5.00", "X"]))
    assert refused.value.line == 4
    assert "第 4 行" in refused.value.message and "X" in refused.value.message


def test_signed_amount_without_a_direction_column():
    parsed = read_statement(csv_statement(["交易日期", "发生额", "对方户名"],
                                          ["20260805", "2,980.00", "甲"],
                                          ["20260806", "-15.00", "乙"]))
    assert [(r.direction, r.amount) for r in parsed.rows] == [("in", Decimal("2980.00")),
                                                               ("out", Decimal("15.00"))]


@pytest.mark.parametrize("cell, amount", [
    ("29,800.00", "29800.00"), ("¥2,980.00", "2980.00"), ("￥2,980.00", "2980.00"),
    ("２９８０．５", "2980.50"), (" 1 000.00 ", "1000.00"), ("RMB 12.30", "12.30"),
    ("100元", "100.00"), ("0.01", "0.01")])
def test_amount_formats(cell, amount):
    parsed = read_statement(csv_statement(["交易日期", "贷方发生额", "借方发生额"],
                                          ["20260805", cell, "-"]))
    assert parsed.rows[0].amount == Decimal(amount)
    assert parsed.rows[0].direction == "in"


def test_spreadsheet_numbers_become_two_place_decimals_not_floats():
    table = [["交易日期", "收入金额", "支出金额", "余额"],
             ["20260805", 0.1 + 0.2, None, 1234567.891],
             ["20260806", 2980, 0, 100]]
    for data in (write_xlsx(table), write_xls(table)):
        rows = read_statement(data).rows
        assert [(r.amount, r.balance) for r in rows] == [
            (Decimal("0.30"), Decimal("1234567.89")), (Decimal("2980.00"), Decimal("100.00"))]
        assert str(rows[0].amount) == "0.30"


def test_negative_debit_is_a_reversal_that_counts_as_money_in():
    parsed = read_statement(csv_statement(["交易日期", "借方发生额", "贷方发生额"],
                                          ["20260805", "-980.00", ""]))
    assert (parsed.rows[0].direction, parsed.rows[0].amount) == ("in", Decimal("980.00"))


def test_line_with_both_debit_and_credit_is_an_error():
    with pytest.raises(StatementError, match="第 3 行同时有收入和支出金额"):
        read_statement(csv_statement(["交易日期", "借方发生额", "贷方发生额"],
                                     ["20260805", "1.00", "2.00"]))


def test_lines_without_an_amount_such_as_the_opening_balance_are_skipped():
    parsed = read_statement(csv_statement(["交易日期", "摘要", "借方发生额", "贷方发生额", "余额"],
                                          ["20260801", "期初余额", "", "", "120,000.00"],
                                          ["20260805", "转账", "", "5.00", "120,005.00"],
                                          ["20260805", "利息", "0.00", "0.00", "120,005.00"]))
    assert [r.line for r in parsed.rows] == [4]
    assert [line for line, _ in parsed.skipped] == [3, 5]


@pytest.mark.parametrize("cell, day", [
    ("20260805", date(2026, 8, 5)), ("2026-08-05", date(2026, 8, 5)),
    ("2026/8/5", date(2026, 8, 5)), ("2026年8月5日", date(2026, 8, 5)),
    ("2026.08.05", date(2026, 8, 5)), ("２０２６－０８－０５", date(2026, 8, 5))])
def test_date_formats(cell, day):
    parsed = read_statement(csv_statement(["交易日期", "收入"], [cell, "5"]))
    assert parsed.rows[0].booked_on == day
    assert parsed.rows[0].booked_at is None


@pytest.mark.parametrize("date_cell, time_cell, at", [
    ("20260805", "10:23:45", datetime(2026, 8, 5, 10, 23, 45)),
    ("20260805", "102345", datetime(2026, 8, 5, 10, 23, 45)),
    ("2026-08-05", "9:05", datetime(2026, 8, 5, 9, 5)),
    ("2026-08-05", "2026-08-06 00:10:00", datetime(2026, 8, 6, 0, 10)),
    ("2026-08-05", "", None)])
def test_date_and_time_in_separate_columns_are_combined(date_cell, time_cell, at):
    parsed = read_statement(csv_statement(["交易日期", "交易时间", "收入"],
                                          [date_cell, time_cell, "5"]))
    assert parsed.rows[0].booked_at == at
    assert parsed.rows[0].booked_on == date(2026, 8, 5)


def test_date_time_in_one_column():
    parsed = read_statement(csv_statement(["交易时间", "收入"], ["2026-08-05 10:23:45", "5"],
                                          ["20260806 081500", "6"]))
    assert [r.booked_at for r in parsed.rows] == [datetime(2026, 8, 5, 10, 23, 45),
                                                  datetime(2026, 8, 6, 8, 15)]
    assert [r.booked_on for r in parsed.rows] == [date(2026, 8, 5), date(2026, 8, 6)]


def test_excel_date_cells_serial_numbers_and_time_cells():
    table = [["交易日期", "交易时间", "收入"],
             [datetime(2026, 8, 5), time(10, 23, 45), 5],
             [46240, 0.5, 6],              # Excel serial 46240 is 2026-08-06; 0.5 is noon
             [20260807, 102345, 7],         # yyyymmdd and hhmmss as plain numbers
             [datetime(2026, 8, 8, 9, 30), None, 8]]
    for data in (write_xlsx(table), write_xls(table)):
        rows = read_statement(data).rows
        assert [r.booked_at for r in rows] == [
            datetime(2026, 8, 5, 10, 23, 45), datetime(2026, 8, 6, 12, 0),
            datetime(2026, 8, 7, 10, 23, 45), datetime(2026, 8, 8, 9, 30)]


# --- headers and layouts -------------------------------------------------------------------

def test_header_names_are_matched_without_spaces_full_width_forms_or_bracketed_notes():
    headers = ["交 易 日 期", "贷方发生额（收入）", "借方发生额(支取)", "对方户名[ Name ]",
               "ＲＥＭＡＲＫ", "用途／附言"]
    parsed = read_statement(csv_statement(headers, ["20260805", "5", "", "甲", "x", "会议费"]))
    assert parsed.mapping == {"booked_on": 0, "amount_in": 1, "amount_out": 2,
                              "payer_name": 3, "remark": 5}
    assert parsed.unrecognised == ["ＲＥＭＡＲＫ"]
    assert parsed.rows[0].remark == "会议费"


def test_unknown_layout_asks_for_a_mapping_once_and_reads_with_it():
    transactions = [t for t in sample_transactions() if t["amount_in"]]
    with pytest.raises(MappingNeeded) as asked:
        read_statement(unknown_layout_csv(transactions), "other-bank.csv")
    needed = asked.value
    assert isinstance(needed, StatementError) and "日期或金额" in needed.message
    assert needed.headers == UNKNOWN_HEADERS
    assert needed.header_line == 2
    assert needed.guess == {}
    mapping = {"booked_on": 0, "payer_name": 1, "payer_account": 2, "amount": 3, "remark": 4}
    parsed = read_statement(unknown_layout_csv(transactions), mapping=mapping)
    assert parsed.layout == needed.layout
    assert parsed.mapping == mapping
    assert [(r.booked_on, r.amount, r.payer_name, r.remark) for r in parsed.rows] == [
        (t["date"], t["amount_in"], t["payer"], t["remark"]) for t in transactions]
    # another month of the same bank has the same layout, so the mapping is found again
    other = [transaction(date(2026, 9, 1), "1.00", remark="九月")]
    with pytest.raises(MappingNeeded) as again:
        read_statement(unknown_layout_csv(other))
    assert again.value.layout == needed.layout


def test_mapping_needed_guesses_the_columns_it_knows():
    with pytest.raises(MappingNeeded) as asked:
        read_statement(csv_statement(["交易日期", "对方户名", "发生金额（元）"],
                                     ["20260805", "甲", "5"]))
    assert asked.value.guess == {"booked_on": 0, "payer_name": 1}


def test_layout_differs_between_banks_and_is_the_same_across_months():
    august = read_statement(ccb_xlsx(sample_transactions()))
    september = read_statement(ccb_xlsx([transaction(date(2026, 9, 1), "1.00")]))
    icbc = read_statement(icbc_xls(sample_transactions()))
    assert august.layout == september.layout
    assert august.layout != icbc.layout
    assert len(august.layout) == 16


def test_a_mapping_without_date_or_amount_or_with_a_missing_column_is_refused():
    data = unknown_layout_csv([transaction(date(2026, 8, 5), "1.00")])
    with pytest.raises(StatementError, match="至少指定交易日期列和金额列"):
        read_statement(data, mapping={"booked_on": 0})
    with pytest.raises(StatementError, match="指向的列不存在"):
        read_statement(data, mapping={"booked_on": 0, "amount": 9})
    with pytest.raises(StatementError, match="未知的字段"):
        read_statement(data, mapping={"booked_on": 0, "amount": 3, "colour": 1})


def test_canonical_fields_have_chinese_labels_for_the_mapping_form():
    assert {"booked_on", "booked_at", "serial", "amount_in", "amount_out", "amount",
            "direction", "balance", "payer_name", "payer_account", "payer_bank", "summary",
            "remark"} <= set(CANONICAL_FIELDS)
    assert CANONICAL_FIELDS["booked_on"] == "交易日期"


def test_raw_keeps_every_column_as_text():
    row = read_statement(icbc_xls(sample_transactions())).rows[0]
    assert row.raw["对方行号"] == "102100099996"
    assert row.raw["贷方发生额"] == "2980"
    assert row.raw["用途"] == "会议费 K7Q2M9 2人"
    assert list(row.raw)[:3] == ["凭证号", "本方账号", "对方账号"]


def test_xlsx_cells_read_the_same_through_openpyxls_own_reader(monkeypatch):
    table = [["交易日期", "交易时间", "收入", "对方户名", "交易流水号"],
             [datetime(2026, 8, 5), time(10, 23, 45), 0.1 + 0.2, "甲", "007"],
             [None, None, None, None, None],
             [46240.5, None, 6, "", 1.23e15]]
    files = [ccb_xlsx(sample_transactions()), boc_xlsx(sample_transactions()), write_xlsx(table)]
    fast = [read_statement(data) for data in files]

    def changed_openpyxl(book, sheet):
        raise AttributeError("_worksheet_path")
    monkeypatch.setattr(statement, "_xlsx_rows", changed_openpyxl)
    slow = [read_statement(data) for data in files]
    for a, b in zip(fast, slow):
        assert [(r.line, r.raw) for r in a.rows] == [(r.line, r.raw) for r in b.rows]
        assert got(a) == got(b)
        assert (a.account, a.header_line, a.skipped) == (b.account, b.header_line, b.skipped)
    assert [r.serial for r in fast[2].rows] == ["007", "1230000000000000"]


def test_xlsx_uses_the_first_sheet_that_has_a_header_row():
    notes = [["说明"], ["本文件由网银导出"]]
    data = write_xlsx(notes, ccb_table(sample_transactions()))
    parsed = read_statement(data)
    assert len(parsed.rows) == 4
    assert parsed.account == ACCOUNT


def test_repeated_header_and_page_subtotal_do_not_end_the_table():
    parsed = read_statement(csv_statement(["交易日期", "摘要", "收入"],
                                          ["20260805", "转账", "5"],
                                          ["本页小计", "", "5"],
                                          ["交易日期", "摘要", "收入"],
                                          ["20260806", "转账", "6"],
                                          ["合计", "", "11"],
                                          ["打印日期：2026-09-01"]))
    assert [r.amount for r in parsed.rows] == [Decimal("5.00"), Decimal("6.00")]
    assert parsed.skipped == [(4, "合计行"), (5, "重复的表头"), (7, "合计行"),
                              (8, "说明行（没有交易日期）")]


def test_payer_named_like_a_totals_line_on_a_dated_line_is_a_transaction():
    parsed = read_statement(csv_statement(["对方户名", "交易日期", "收入"],
                                          ["合计科技有限公司", "20260805", "5"]))
    assert parsed.rows[0].payer_name == "合计科技有限公司"


# --- fingerprints --------------------------------------------------------------------------

def test_fingerprint_is_the_same_in_every_bank_format_of_the_same_transaction():
    transactions = sample_transactions()
    prints = {name: [r.fingerprint() for r in read_statement(build(transactions)).rows]
              for name, (build, *_) in LAYOUTS.items()}
    assert len({tuple(p) for p in prints.values()}) == 1
    assert len(set(prints["ccb_xlsx"])) == 4
    assert all(len(p) == 64 for p in prints["ccb_xlsx"])


def test_fingerprint_keeps_chinese_and_ignores_width_and_spacing():
    def fingerprint(payer, remark="会议费"):
        data = csv_statement(["交易日期", "收入", "对方户名", "附言"],
                             ["20260805", "100.00", payer, remark])
        return read_statement(data).rows[0].fingerprint()
    assert fingerprint("北京社会工作协会") != fingerprint("上海社会工作协会")
    assert fingerprint("甲协会", "会议费张三") != fingerprint("甲协会", "会议费李四")
    assert fingerprint("北京社会工作协会（朝阳）") == fingerprint("北京社会工作协会(朝阳)")
    assert fingerprint("北京  社会工作协会 ") == fingerprint("北京 社会工作协会")


def test_fingerprint_changes_with_amount_date_and_direction():
    row = read_statement(csv_statement(["交易日期", "交易金额", "对方户名"],
                                       ["20260805", "100.00", "甲"], ["20260805", "-100.00", "甲"],
                                       ["20260806", "100.00", "甲"], ["20260805", "100.01", "甲"]))
    assert len({r.fingerprint() for r in row.rows}) == 4


# --- bad files -----------------------------------------------------------------------------

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def test_picture_renamed_xls_is_refused_by_its_content():
    with pytest.raises(StatementError) as refused:
        read_statement(PNG, "流水.xls")
    assert "PNG 图片" in refused.value.message
    assert ".xls 与内容不符" in refused.value.message


def test_pdf_word_file_and_web_page_are_refused_with_what_they_are():
    with pytest.raises(StatementError, match="PDF 文件"):
        read_statement(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "流水.pdf")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(StatementError, match="不是 Excel 工作簿"):
        read_statement(docx.getvalue(), "流水.xlsx")
    with pytest.raises(StatementError, match="网页或 XML"):
        read_statement("<html><table><tr><td>交易日期</td></tr></table></html>".encode(),
                       "流水.xls")


def test_broken_workbooks_are_refused():
    with pytest.raises(StatementError, match=r"\.xls"):
        read_statement(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "流水.xls")
    with pytest.raises(StatementError, match=r"\.xlsx"):
        read_statement(ccb_xlsx(sample_transactions())[:3000], "流水.xlsx")


def test_empty_files_and_sheets_are_refused():
    with pytest.raises(StatementError, match="文件是空的"):
        read_statement(b"", "流水.csv")
    with pytest.raises(StatementError, match="找不到流水表格"):
        read_statement(write_xlsx([]), "流水.xlsx")
    with pytest.raises(StatementError, match="表头下面没有交易记录"):
        read_statement(csv_statement(["交易日期", "收入", "支出"], ["合计", "0.00", "0.00"]))


def test_undecodable_text_is_refused():
    with pytest.raises(StatementError, match="编码无法识别"):
        read_statement(bytes(range(0x80, 0x100)) * 4 + b"\x81\x20", "流水.csv")


def test_more_rows_than_the_limit_are_refused_with_the_count():
    transactions = [transaction(date(2026, 8, 1) + timedelta(days=i % 28), "1.00")
                    for i in range(25)]
    data = abc_csv_gbk(transactions)
    with pytest.raises(StatementError) as refused:
        read_statement(data, max_rows=20)
    assert refused.value.message == "流水共 25 行，超过单次导入上限 20 行，请按月份分批导出。"
    assert len(read_statement(data, max_rows=25).rows) == 25


def test_default_limit_message():
    rows = [["20260805", "1.00"]] * 20001
    with pytest.raises(StatementError) as refused:
        read_statement(csv_statement(["交易日期", "收入"], *rows))
    assert refused.value.message == "流水共 20001 行，超过单次导入上限 20000 行，请按月份分批导出。"


def test_file_over_the_size_limit_is_refused_before_reading():
    with pytest.raises(StatementError, match="超过上限 1 MB"):
        read_statement(b"x" * (1024 * 1024 + 1), "流水.csv", max_bytes=1024 * 1024)


def test_garbage_amount_inside_the_table_is_an_error_with_its_line():
    transactions = sample_transactions()
    table = abc_table(transactions)
    table[5][2] = "两千九百八十"
    with pytest.raises(StatementError) as refused:
        read_statement(write_text(table, encoding="gbk"))
    assert refused.value.line == 6
    assert refused.value.message == "第 6 行的贷方金额“两千九百八十”无法识别为金额。"


def test_garbage_date_with_an_amount_is_an_error_with_its_line():
    with pytest.raises(StatementError) as refused:
        read_statement(csv_statement(["交易日期", "收入"], ["20260805", "1"], ["八月五日", "2"]))
    assert refused.value.line == 4
    assert "“八月五日”无法识别" in refused.value.message
    with pytest.raises(StatementError, match="第 3 行有金额但没有交易日期"):
        read_statement(csv_statement(["交易日期", "收入"], ["", "2"]))


# --- size ------------------------------------------------------------------------------------
# How fast is measured in bench/bank_import.py, against reading the file alone: not here.

def test_a_5000_row_xlsx_of_inline_strings_reads_every_row():
    transactions = [transaction(date(2026, 1, 1) + timedelta(days=i % 360), f"{100 + i}.50",
                                serial=f"{i:010d}", remark=f"会议费 X{i:05d}")
                    for i in range(5000)]
    parsed = read_statement(boc_xlsx(transactions))  # 16 columns, inline strings
    assert len(parsed.rows) == 5000
    assert parsed.rows[-1].serial == "0000004999"
    assert parsed.rows[-1].amount == Decimal("5099.50")
