"""A statement to try the bank import with: ICBC's export layout, paying what is owed.

`flask bank sample-statement FILE.csv` writes it from the registrations in the database, so
that a person trying confreg (or training finance on it) sees each pile of the review page:
codes as given and as typed badly, a remark cut off, one transfer for two registrations, a
short payment, the unit's parent body paying without a code, and money that is not for an
event. GBK, as the bank's own CSV is.
"""
import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

HEADERS = ["凭证号", "本方账号", "对方账号", "交易时间", "借/贷", "借方发生额", "贷方发生额",
           "对方行号", "摘要", "用途", "对方单位名称", "余额", "个性化信息"]


def _remark(index: int, code: str, remark: str) -> tuple[str, Decimal]:
    """How the index-th unit typed its remark, and how much less than owed it paid."""
    shapes = [(f"{code} {remark}", 0), (f"{code[:4].lower()}-{code[4:].lower()} 会议费", 0),
              (f"服务费{code[:6]}", 0), (f"{code} 服务费", 500)]
    text, short = shapes[index % len(shapes)]
    return text, Decimal(short)


def sample_statement(account: str, account_name: str, owed: list[tuple[str, str, Decimal, str]],
                     *, today: date) -> bytes:
    """The CSV bytes (GBK) of a statement paying `owed`: (code, unit, amount, remark) each."""
    rows, balance = [], Decimal("100000.00")
    day = today - timedelta(days=3)
    serial = int(day.strftime("%Y%m%d")) * 10000

    def add(payer: str, amount: Decimal, text: str, *, out: bool = False, summary: str = "转账"):
        nonlocal balance, serial
        serial += 1
        balance += -amount if out else amount
        moment = datetime.combine(day, time(9, 30)) + timedelta(minutes=7 * len(rows))
        rows.append([str(serial), account, "" if not payer else f"6222{serial % 10**12:012d}",
                     moment.strftime("%Y-%m-%d %H:%M:%S"), "借" if out else "贷",
                     f"{amount:.2f}" if out else "", "" if out else f"{amount:.2f}",
                     "102100099996" if payer else "", summary, text, payer, f"{balance:.2f}", ""])

    pending = list(owed)
    if len(pending) >= 2:  # the first two paid by one transfer of their city's bureau
        (code_a, _, amount_a, _), (code_b, _, amount_b, _) = pending[:2]
        add("某市民政局", amount_a + amount_b, f"{code_a} {code_b} 会议费")
        pending = pending[2:]
    for index, (code, unit, amount, remark) in enumerate(pending):
        if index == 4:  # no code at all, and short: only the payer's name points to the unit
            add(unit, amount - Decimal("200"), "会议服务费")
            continue
        text, short = _remark(index, code, remark)
        add(unit, amount - short, text)
    add("某某物业服务有限公司", Decimal("1234.00"), "货款")
    add("", Decimal("15.00"), "", out=True, summary="手续费")
    credits = [Decimal(r[6]) for r in rows if r[6]]
    debits = [Decimal(r[5]) for r in rows if r[5]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["中国工商银行企业网上银行 账户历史明细"])
    writer.writerow([f"账号：{account}", "", f"户名：{account_name}"])
    writer.writerow([f"查询日期：{day:%Y-%m-%d} 至 {today:%Y-%m-%d}", "", "币种：人民币"])
    writer.writerow([])
    writer.writerow(HEADERS)
    writer.writerows(rows)
    writer.writerow([])
    writer.writerow(["合计", "", "", "", "", f"{sum(debits, Decimal(0)):.2f}",
                     f"{sum(credits, Decimal(0)):.2f}"])
    writer.writerow([f"借方笔数：{len(debits)}", "", f"贷方笔数：{len(credits)}"])
    return out.getvalue().encode("gb18030")
