"""The payment notice PDF, read back with poppler's pdftotext and pdffonts."""
import re
import subprocess
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from confreg.pdf.payment_notice import (
    FeeLine,
    NoticeAttendee,
    PaymentNotice,
    render_payment_notice,
)

MEMBER_PRICE = Decimal("2980.00")
STAY = "8月20日—8月23日"
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN_NAMES = ["建国", "秀英", "志强", "丽娟"]


def xining_notice(attendee_count: int = 3, **overrides) -> PaymentNotice:
    """A member unit's notice for the Xining meeting, priced at 2980 元/人."""
    attendees = [
        NoticeAttendee(
            name=SURNAMES[i % 10] + GIVEN_NAMES[i // 10],
            gender="男" if i % 2 == 0 else "女",
            position="社区党委书记、居委会主任" if i % 3 == 0 else "物业服务中心副主任",
            accommodation=("单间", "合住", "不住宿")[i % 3],
            stay=STAY,
            fee=MEMBER_PRICE,
        )
        for i in range(attendee_count)
    ]
    total = MEMBER_PRICE * attendee_count
    notice = PaymentNotice(
        event_title="全国基层物业管理服务创新发展经验交流会暨2027年常务委员单位会议",
        organiser="中国社会工作联合会城乡社区工作委员会",
        code="K7M4P2QX",
        issued_on=date(2027, 7, 20),
        unit_name="青海省西宁市城东区东关大街街道办事处清真巷社区居民委员会",
        contact_name="马晓梅",
        contact_mobile="136****0509",
        attendees=attendees,
        fee_lines=[FeeLine("委员会委员单位或联合会会员单位", MEMBER_PRICE, attendee_count, total)],
        total=total,
        total_capitals="人民币捌仟玖佰肆拾元整",
        payee_name="中国社会工作联合会",
        bank_name="中国工商银行北京朝阳支行",
        bank_account="0200003409014427548",
        remark="K7M4P2QX 城乡社区工作委员会服务费",
        payment_deadline=date(2027, 8, 15),
        invoice_note="收到汇款后由中国社会工作联合会开具正式电子发票，发票内容一般为培训服务。",
        contacts=["王老师 13681260509", "杨老师 18518479502", "电话 010-65081896（城乡工委）"],
    )
    return replace(notice, **overrides)


def pdf_pages(pdf: bytes, tmp_path) -> list[str]:
    """Return the text of each page, as pdftotext -layout lays it out."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
        check=True, capture_output=True, text=True,
    ).stdout
    return out.split("\f")[:-1]  # pdftotext ends every page, the last included, with \f


def pdf_fonts(pdf: bytes, tmp_path) -> list[dict[str, str]]:
    """Return pdffonts' table as dicts, cutting columns where its dashed rule does."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    lines = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    names = ["name", "type", "encoding", "emb", "sub", "uni", "object", "id"]
    return [dict(zip(names, (line[a:b + 1].strip() for a, b in spans))) for line in lines[2:]]


@pytest.fixture
def notice_text(tmp_path) -> str:
    return "\n".join(pdf_pages(render_payment_notice(xining_notice()), tmp_path))


def test_notice_shows_event_unit_and_code(notice_text):
    assert "缴费通知单" in notice_text
    assert "全国基层物业管理服务创新发展经验交流会" in notice_text
    assert "K7M4P2QX" in notice_text
    assert "2027年7月20日" in notice_text
    assert "清真巷社区居民委员会" in notice_text
    assert "136****0509" in notice_text


def test_notice_lists_every_attendee_with_fee(notice_text):
    for name in ("王建国", "李建国", "张建国"):
        assert name in notice_text
    assert notice_text.count("2,980.00") >= 3 + 1  # three attendee rows and the unit price
    assert STAY in notice_text


def test_notice_gives_total_in_figures_and_capitals(notice_text):
    assert "¥8,940.00" in notice_text
    assert "捌仟玖佰肆拾元整" in notice_text


def test_notice_gives_payee_account_remark_and_deadline(notice_text):
    assert "中国社会工作联合会" in notice_text
    assert "中国工商银行北京朝阳支行" in notice_text
    assert "0200003409014427548" in notice_text
    assert "K7M4P2QX 城乡社区工作委员会服务费" in notice_text
    assert "2027年8月15日（含当日）" in notice_text
    assert "王老师 13681260509" in notice_text
    assert "电话 010-65081896（城乡工委）" in notice_text


def test_notice_embeds_its_chinese_font_and_no_other(tmp_path):
    fonts = pdf_fonts(render_payment_notice(xining_notice()), tmp_path)
    assert any("WenQuanYi" in font["name"] for font in fonts)
    for font in fonts:
        assert "WenQuanYi" in font["name"], font
        assert font["emb"] == "yes", font


def test_forty_attendees_flow_onto_more_pages_with_the_table_header_repeated(tmp_path):
    notice = xining_notice(40, total_capitals="人民币壹拾壹万玖仟贰佰元整")
    pages = pdf_pages(render_payment_notice(notice), tmp_path)

    assert len(pages) >= 2
    names = [a.name for a in notice.attendees]
    pages_with_rows = [page for page in pages if any(name in page for name in names)]
    assert len(pages_with_rows) >= 2
    header = re.compile(r"序号\s+姓名\s+性别\s+职务\s+住宿\s+日期\s+费用")
    for page in pages_with_rows:
        assert header.search(page)
    text = "\n".join(pages)
    assert all(name in text for name in names)
    assert "¥119,200.00" in text
    assert re.search(rf"第\s*1\s*页\s*/\s*共\s*{len(pages)}\s*页", pages[0])
    assert re.search(rf"第\s*{len(pages)}\s*页\s*/\s*共\s*{len(pages)}\s*页", pages[-1])


def test_pending_member_price_note_is_shown_only_when_set(tmp_path):
    pending = "会员价待核实：如未通过核实，应缴 10740.00 元"
    with_note = "\n".join(
        pdf_pages(render_payment_notice(xining_notice(pending_note=pending)), tmp_path)
    )
    without_note = "\n".join(pdf_pages(render_payment_notice(xining_notice()), tmp_path))

    assert pending in with_note
    assert "会员价待核实" not in without_note


def test_cancelled_notice_says_so(tmp_path):
    text = "\n".join(
        pdf_pages(render_payment_notice(xining_notice(status_note="已取消，请勿付款")), tmp_path)
    )
    assert "已取消，请勿付款" in text


def test_markup_characters_in_names_are_printed_literally(tmp_path):
    notice = xining_notice(unit_name="A&B <物业> 服务有限公司")
    text = "\n".join(pdf_pages(render_payment_notice(notice), tmp_path))
    assert "A&B <物业> 服务有限公司" in text
