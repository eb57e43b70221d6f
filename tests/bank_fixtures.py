"""Bank statements as the big four banks' corporate online banking (企业网银) exports them,
built in memory from a list of transactions, so that every test file shows how it was made.

    from tests.bank_fixtures import transaction, icbc_xls
    data = icbc_xls([transaction(date(2026, 8, 5), amount_in="2980.00", remark="会议费 K7Q2M9")])

`.venv/bin/python -m tests.bank_fixtures DIR` writes one sample of each to DIR, to open in
Excel or a text editor.

The shapes (lines above the table, column names and order, how cells are written, the totals
below) follow the banks' exports as far as we know them from statements seen in practice:
- ICBC (工商银行) .xls and .csv: 账号/户名/查询日期 lines, 凭证号 … 个性化信息, numbers as numbers
  in the .xls, a 合计 line and a 借方/贷方笔数 line; the counterparty's bank is given only as a
  bank code (对方行号).
- CCB (建设银行) .xlsx: 账号 and 账户名称 each with its value in the next cell, 起始日期/终止日期,
  交易时间 as a date-time cell, 借方发生额（支取）/贷方发生额（收入）with 0 on the other side.
- ABC (农业银行) .csv in GBK and .txt (tab-separated): 账号：…,户名：…, 查询区间, amounts as
  "2,980.00", 交易日期 20260805 and 交易时间 102345 in two columns, no serial, a 合计 line.
- BOC (中国银行) .xlsx: bilingual headers (交易日期[ Transaction Date ] …), one 交易金额 column
  (negative for 借) with 借贷标识, and payer and payee (付款人/收款人) columns instead of one
  counterparty.
Exact column names vary between the banks' releases; where we were unsure, the names are
the plausible ones the reader must cope with anyway.
"""
import csv
import io
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

ACCOUNT = "0200003409014427548"
ACCOUNT_NAME = "中国社会工作联合会"
ACCOUNT_BANK = "中国工商银行北京朝阳支行"
OPENING_BALANCE = Decimal("120000.00")


def transaction(booked_on: date, amount_in=None, amount_out=None, *, at: time | None = None,
                serial: str | None = None, payer: str = "北京市朝阳区社会工作协会",
                account: str = "11050162360000000123", bank: str = "中国建设银行北京朝阳支行",
                remark: str = "", summary: str = "转账") -> dict:
    """One transaction as the builders take it: money in or out as Decimal."""
    return {"date": booked_on, "time": at or time(10, 23, 45), "serial": serial,
            "payer": payer, "account": account, "bank": bank,
            "amount_in": Decimal(amount_in) if amount_in is not None else None,
            "amount_out": Decimal(amount_out) if amount_out is not None else None,
            "remark": remark, "summary": summary}


def sample_transactions() -> list[dict]:
    """A short month: two fees paid in, one refund, one bank charge."""
    return [
        transaction(date(2026, 8, 3), "2980.00", at=time(9, 5, 12), serial="2026080300012345",
                    payer="广州市海珠区启明社会工作服务中心", account="3602000109200123456",
                    bank="中国工商银行广州海珠支行", remark="会议费 K7Q2M9 2人"),
        transaction(date(2026, 8, 5), "29800.00", at=time(14, 30, 0), serial="2026080500000078",
                    payer="上海浦东新区社会工作者协会", account="31050161360000001234",
                    bank="中国建设银行上海浦东分行", remark="年会注册费ABC12345"),
        transaction(date(2026, 8, 12), amount_out="980.00", at=time(16, 2, 33),
                    serial="2026081200100001", payer="深圳市龙岗区社工服务中心",
                    account="44201530100052512345", bank="中国建设银行深圳龙岗支行",
                    remark="退会议费 M3P8R1", summary="转账支出"),
        transaction(date(2026, 8, 31), amount_out="15.00", at=time(23, 59, 0),
                    serial="2026083199990001", payer="", account="", bank="",
                    remark="", summary="手续费"),
    ]


def _with_balances(rows: list[dict]) -> list[tuple[dict, Decimal]]:
    balance, out = OPENING_BALANCE, []
    for row in rows:
        balance += (row["amount_in"] or 0) - (row["amount_out"] or 0)
        out.append((row, balance))
    return out


def _totals(rows: list[dict]) -> tuple[int, Decimal, int, Decimal]:
    ins = [r["amount_in"] for r in rows if r["amount_in"]]
    outs = [r["amount_out"] for r in rows if r["amount_out"]]
    return len(outs), sum(outs, Decimal(0)), len(ins), sum(ins, Decimal(0))


# --- the banks -----------------------------------------------------------------------------

ICBC_HEADERS = ["凭证号", "本方账号", "对方账号", "交易时间", "借/贷", "借方发生额", "贷方发生额",
                "对方行号", "摘要", "用途", "对方单位名称", "余额", "个性化信息"]


def icbc_table(rows: list[dict], money=float, *, numeric_serials: bool = True) -> list[list]:
    """ICBC's history detail (账户历史明细): title, account lines, table, totals."""
    table = [["中国工商银行企业网上银行 账户历史明细"],
             [f"账号：{ACCOUNT}", "", f"户名：{ACCOUNT_NAME}"],
             ["查询日期：2026-08-01 至 2026-08-31", "", "币种：人民币"],
             [],
             ICBC_HEADERS]
    for row, balance in _with_balances(rows):
        serial = row["serial"] or ""
        if numeric_serials and serial.isdigit() and not serial.startswith("0"):
            serial = float(serial)  # as the bank's .xls has it: 2.026080300012345e+15
        moment = datetime.combine(row["date"], row["time"])
        table.append([serial, ACCOUNT, row["account"], moment.strftime("%Y-%m-%d %H:%M:%S"),
                      "贷" if row["amount_in"] else "借",
                      money(row["amount_out"]) if row["amount_out"] else "",
                      money(row["amount_in"]) if row["amount_in"] else "",
                      "102100099996" if row["account"] else "", row["summary"], row["remark"],
                      row["payer"], money(balance), ""])
    n_out, total_out, n_in, total_in = _totals(rows)
    table += [[],
              ["合计", "", "", "", "", money(total_out), money(total_in)],
              [f"借方笔数：{n_out}", f"借方合计：{total_out:,.2f}", f"贷方笔数：{n_in}",
               f"贷方合计：{total_in:,.2f}"]]
    return table


def icbc_xls(rows: list[dict], *, numeric_serials: bool = True) -> bytes:
    """ICBC .xls: amounts and balances as number cells, and (by default) serials too when
    they are digits without a leading zero."""
    return write_xls(icbc_table(rows, numeric_serials=numeric_serials))


def icbc_csv_utf8_bom(rows: list[dict]) -> bytes:
    """ICBC .csv in UTF-8 with BOM, amounts written as ¥2,980.00."""
    return write_text(icbc_table(rows, lambda v: f"¥{v:,.2f}", numeric_serials=False),
                      encoding="utf-8-sig")


CCB_HEADERS = ["交易时间", "借方发生额（支取）", "贷方发生额（收入）", "余额", "币种", "对方户名",
               "对方账号", "对方开户机构", "记账日期", "摘要", "备注", "账户明细编号-交易流水号",
               "企业流水号", "凭证种类", "凭证号"]


def ccb_table(rows: list[dict]) -> list[list]:
    """CCB's account detail (账户明细): labels and values in separate cells."""
    table = [["中国建设银行单位账户交易明细"],
             ["账号", ACCOUNT, "", "账户名称", ACCOUNT_NAME],
             ["起始日期", "20260801", "", "终止日期", "20260831"],
             ["币种", "人民币元"],
             CCB_HEADERS]
    for row, balance in _with_balances(rows):
        table.append([datetime.combine(row["date"], row["time"]),
                      float(row["amount_out"] or 0), float(row["amount_in"] or 0), float(balance),
                      "人民币元", row["payer"], row["account"], row["bank"],
                      row["date"].strftime("%Y%m%d"), row["summary"], row["remark"],
                      row["serial"] or "", "", "", ""])
    table += [[], ["以上数据仅供参考，具体以银行对账单为准"]]
    return table


def ccb_xlsx(rows: list[dict]) -> bytes:
    """CCB .xlsx: 交易时间 as a date-time cell, numbers as numbers, serials as text."""
    return write_xlsx(ccb_table(rows))


ABC_HEADERS = ["交易日期", "交易时间", "收入金额", "支出金额", "本次余额", "手续费总额", "交易方式",
               "交易行名", "对方户名", "对方账号", "对方开户行", "交易用途", "摘要"]


def abc_table(rows: list[dict]) -> list[list]:
    """ABC's account detail (账户明细查询) as its text exports write it."""
    table = [["账户明细查询"],
             [f"账号：{ACCOUNT}", f"户名：{ACCOUNT_NAME}"],
             ["查询区间：20260801-20260831"],
             ABC_HEADERS]
    for row, balance in _with_balances(rows):
        table.append([row["date"].strftime("%Y%m%d"), row["time"].strftime("%H%M%S"),
                      f"{row['amount_in']:,.2f}" if row["amount_in"] else "",
                      f"{row['amount_out']:,.2f}" if row["amount_out"] else "",
                      f"{balance:,.2f}", "0.00", "网银", "农行北京分行营业部", row["payer"],
                      row["account"], row["bank"], row["remark"], row["summary"]])
    n_out, total_out, n_in, total_in = _totals(rows)
    table.append(["合计", f"收入笔数：{n_in}", f"{total_in:,.2f}", f"{total_out:,.2f}", "",
                  f"支出笔数：{n_out}"])
    return table


def abc_csv_gbk(rows: list[dict]) -> bytes:
    """ABC .csv in GBK."""
    return write_text(abc_table(rows), encoding="gbk")


def abc_txt_tab(rows: list[dict]) -> bytes:
    """ABC .txt: the same table, tab-separated, in GBK."""
    return write_text(abc_table(rows), encoding="gbk", delimiter="\t")


BOC_HEADERS = ["交易日期[ Transaction Date ]", "交易时间[ Transaction time ]",
               "交易流水号[ Transaction reference number ]", "交易类型[ Transaction Type ]",
               "借贷标识[ Debit/Credit ]", "交易金额[ Trade Amount ]",
               "交易后余额[ After-transaction balance ]", "付款人开户行名[ Payer account bank ]",
               "付款人账号[ Debit Account No. ]", "付款人名称[ Payer's Name ]",
               "收款人开户行名[ Beneficiary account bank ]",
               "收款人账号[ Payee's Account Number ]", "收款人名称[ Payee's Name ]",
               "摘要[ Reference ]", "用途[ Purpose ]", "备注[ Remark ]"]


def boc_table(rows: list[dict]) -> list[list]:
    """BOC's transaction detail (交易流水明细): bilingual labels, one signed amount column."""
    table = [["中国银行交易流水明细清单"],
             ["账号[ Account ]", ACCOUNT, "户名[ Account Name ]", ACCOUNT_NAME],
             ["起始日期[ Start Date ]", "20260801", "截止日期[ End Date ]", "20260831"],
             [],
             BOC_HEADERS]
    for row, balance in _with_balances(rows):
        us = [ACCOUNT_BANK, ACCOUNT, ACCOUNT_NAME]
        them = [row["bank"], row["account"], row["payer"]]
        incoming = bool(row["amount_in"])
        payer, payee = (them, us) if incoming else (us, them)
        amount = row["amount_in"] if incoming else -row["amount_out"]
        table.append([row["date"].strftime("%Y%m%d"), row["time"].strftime("%H:%M:%S"),
                      row["serial"] or "", row["summary"], "贷" if incoming else "借",
                      float(amount), float(balance), *payer, *payee, row["summary"],
                      row["remark"], ""])
    return table


def boc_xlsx(rows: list[dict]) -> bytes:
    """BOC .xlsx."""
    return write_xlsx(boc_table(rows))


UNKNOWN_HEADERS = ["记账日", "来款单位", "来款账户", "发生金额（元）", "款项说明"]


def unknown_layout_csv(rows: list[dict]) -> bytes:
    """A bank whose column names the reader does not know: only money in, UTF-8."""
    table = [[f"账号：{ACCOUNT}"], UNKNOWN_HEADERS]
    for row in rows:
        table.append([row["date"].isoformat(), row["payer"], row["account"],
                      f"{row['amount_in']:.2f}", row["remark"]])
    return write_text(table)


# --- the writers ---------------------------------------------------------------------------

def write_xlsx(*sheets: list[list]) -> bytes:
    """An .xlsx with one sheet per table, written as a stream (inline strings, date-times
    with a date number format) as the banks' streaming writers do."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    for n, table in enumerate(sheets, start=1):
        sheet = book.create_sheet(f"Sheet{n}")
        for values in table:
            sheet.append(list(values))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_xls(table: list[list]) -> bytes:
    """An .xls (BIFF8) as the banks' older exports are; date-times as date cells."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    moment = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    day = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for r, values in enumerate(table):
        for c, value in enumerate(values):
            if isinstance(value, datetime):
                sheet.write(r, c, value, moment)
            elif isinstance(value, date):
                sheet.write(r, c, value, day)
            elif value is not None and value != "":
                sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_text(table: list[list], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    """A .csv/.txt in the given encoding ("utf-8-sig" writes the BOM)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for values in table:
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue().encode(encoding)


SAMPLES = {"icbc.xls": icbc_xls, "icbc-utf8-bom.csv": icbc_csv_utf8_bom, "ccb.xlsx": ccb_xlsx,
           "abc-gbk.csv": abc_csv_gbk, "abc-tab.txt": abc_txt_tab, "boc.xlsx": boc_xlsx,
           "unknown.csv": unknown_layout_csv}


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLES.items():
        rows = sample_transactions()
        if build is unknown_layout_csv:
            rows = [r for r in rows if r["amount_in"]]
        (folder / name).write_bytes(build(rows))
        print(folder / name)
