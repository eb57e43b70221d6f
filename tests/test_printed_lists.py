"""The participant list and the sign-in sheet: built from the database by the print desk's
routes and read back with poppler (pdftotext, pdffonts)."""
import re
import subprocess
from datetime import timedelta

import pytest

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Registration
from confreg.pdf.layout import CELL_SIZE, FONT
from confreg.pdf.lists import MIN_FIT_SIZE, fit_text
from confreg.services.registrations import (AttendeeDetails, UnitDetails, cancel_registration,
                                            register_unit)
from confreg.timeutil import china_today
from reportlab.pdfbase.pdfmetrics import stringWidth
from tests.conftest import make_event

TITLE = "全国基层物业管理服务创新发展经验交流会"
LONG_UNIT = ("青海省西宁市城东区东关大街街道办事处清真巷社区居民委员会物业管理服务中心"
             "暨东关大街片区基层社会治理创新实践基地联合工作站")
NAMES = "张王李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜洋静磊敏强军杰"


def page_numbers(pages: list[str]) -> list[tuple[int, int]]:
    """The "第 x 页 / 共 y 页" of each page (pdftotext drops the spaces)."""
    found = [re.search(r"第\s*(\d+)\s*页\s*/\s*共\s*(\d+)\s*页", page) for page in pages]
    return [(int(m[1]), int(m[2])) if m else None for m in found]


def pdf_pages(pdf: bytes, tmp_path) -> list[str]:
    """Return the text of each page, as pdftotext -layout lays it out."""
    path = tmp_path / "list.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                         check=True, capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


def register(event, unit_name: str, count: int, *, province: str = "青海省", first: int = 0,
             **attendee_values) -> Registration:
    """Register `count` people of one unit; mobiles 1391234<5000 + n>."""
    people = []
    for i in range(first, first + count):
        values = dict(name=NAMES[i % 20] + GIVEN[(i // 20) % 10], gender="M" if i % 2 else "F",
                      title="主任", mobile=f"1391234{5000 + i:04d}", accommodation="shared",
                      arrival_on=event.starts_on, departure_on=event.ends_on)
        values.update(attendee_values)
        people.append(AttendeeDetails(**values))
    unit = UnitDetails(unit_name=unit_name, tier_claim="other", province=province, city="某市",
                       contact_name="马晓明", contact_mobile="13912345678",
                       contact_email="contact@example.cn")
    registration, _ = register_unit(event.id, unit, people, today=china_today(), now=utcnow())
    db.session.commit()
    return registration


@pytest.fixture
def event(app_ctx):
    return make_event(title=TITLE, capacity=500)


@pytest.fixture
def desk(staff_client):
    return staff_client("staff")


def get_pdf(desk, url: str) -> bytes:
    response = desk.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.mimetype == "application/pdf"
    return response.data


def participants_url(event, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/admin/events/{event.id}/print/participants.pdf" + (f"?{query}" if query else "")


def signin_url(event, day, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"day": day.isoformat(), **args}.items())
    return f"/admin/events/{event.id}/print/signin.pdf?{query}"


# --- the page ---------------------------------------------------------------------------

def test_print_page_offers_every_day_of_the_event_and_show_in_full_unticked(event, desk):
    page = desk.get(f"/admin/events/{event.id}/print")

    assert page.status_code == 200
    assert "参会人员名单" in page.text and "签到表" in page.text
    days = re.findall(r'<option[^>]*value="(\d{4}-\d\d-\d\d)"', page.text)
    assert days == [(event.starts_on + timedelta(days=n)).isoformat() for n in range(4)]
    assert page.text.count("显示完整手机号/身份证号") == 2
    assert re.search(r'name="full"[^>]*checked', page.text) is None
    assert 'method="post"' not in page.text.split("</nav>", 1)[1]


def test_a_sign_in_day_outside_the_event_comes_back_with_the_error_beside_the_field(event, desk):
    response = desk.get(signin_url(event, event.ends_on + timedelta(days=1)))

    assert response.status_code == 422
    assert "请选择活动期间的一天" in response.text
    assert 'id="signin-day-error"' in response.text


# --- participant list -------------------------------------------------------------------

def test_participant_list_repeats_title_and_header_on_every_page_with_page_numbers(
        event, desk, tmp_path):
    for n in range(8):
        register(event, f"西宁市城东区第{n + 1}社区居民委员会", 10, first=10 * n)

    pages = pdf_pages(get_pdf(desk, participants_url(event)), tmp_path)

    assert len(pages) >= 3
    assert page_numbers(pages) == [(n, len(pages)) for n in range(1, len(pages) + 1)]
    assert all(TITLE in page for page in pages)
    # The table header on every page that carries attendees (the totals may end alone).
    for page in pages:
        if "139****" in page:
            assert re.search(r"序号\s+姓名\s+性别\s+民族\s+职务\s+手机", page), page[:400]


def test_a_unit_running_onto_a_new_page_gets_its_heading_again_marked_continued(
        event, desk, tmp_path):
    register(event, "海东市乐都区碾伯镇人民政府", 45)

    pages = pdf_pages(get_pdf(desk, participants_url(event)), tmp_path)

    assert len(pages) >= 2
    assert "海东市乐都区碾伯镇人民政府（45 人）" in pages[0]
    for page in pages[1:]:
        if "139****" in page:
            assert "海东市乐都区碾伯镇人民政府（续，共 45 人）" in page
    numbers = [int(n) for n in re.findall(r"^\s*(\d+)\s+\S+\s+[男女]\s", "".join(pages), re.M)]
    assert numbers == list(range(1, 46))


def test_participant_list_is_grouped_by_province_then_unit(event, desk, tmp_path):
    register(event, "青海省社会工作协会", 1, province="青海省")
    register(event, "北京市朝阳区物业管理协会", 2, province="北京市", first=1)
    register(event, "西宁市城中区社区服务中心", 1, province="青海省", first=3)

    text = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))

    # 北京 before 青海 (the official order), each unit under its province with its count.
    order = [text.index(s) for s in ("北京市（2 人）", "北京市朝阳区物业管理协会（2 人）",
                                     "青海省（2 人）", "青海省社会工作协会（1 人）")]
    assert order == sorted(order)
    assert "西宁市城中区社区服务中心（1 人）" in text


def test_mobiles_are_masked_unless_the_printer_asks_for_them_in_full(event, desk, tmp_path):
    register(event, "西宁市城东区东关大街街道办事处", 2, first=1)

    masked = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))
    said_no = "".join(pdf_pages(get_pdf(desk, participants_url(event, full=0)), tmp_path))
    full = "".join(pdf_pages(get_pdf(desk, participants_url(event, full=1)), tmp_path))

    assert "139****5001" in masked and "13912345001" not in masked
    assert "13912345001" not in said_no
    assert "13912345001" in full and "139****5001" not in full
    assert "请妥善保管" in full and "请妥善保管" not in masked


@pytest.fixture
def id_event(app_ctx):
    return make_event(title=TITLE, ask_id_number=True)


def test_id_numbers_are_printed_masked_when_the_event_collects_them(id_event, desk, tmp_path):
    event = id_event
    register(event, "西宁市城东区东关大街街道办事处", 1, id_number="630102199001011234")

    masked = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))
    full = "".join(pdf_pages(get_pdf(desk, participants_url(event, full=1)), tmp_path))

    assert "身份证号" in masked
    assert "630102********1234" in masked and "630102199001011234" not in masked
    assert "630102199001011234" in full


def test_participant_list_counts_halal_vegetarian_single_and_shared(event, desk, tmp_path):
    register(event, "西宁市回族社区", 3, diet="halal", accommodation="single")
    register(event, "西宁市素食协会", 2, first=3, diet="vegetarian", accommodation="shared")
    register(event, "西宁市本地单位", 1, first=5, accommodation="none")

    text = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))

    assert re.search(r"清真\s*3\s*人，素食\s*2\s*人", text), text[-600:]
    assert re.search(r"单间\s*3\s*人，合住\s*2\s*人（约 1 间），不住宿\s*1\s*人", text)
    assert re.search(r"共\s*6\s*人（男\s*3\s*人，女\s*3\s*人），3\s*个单位", text)


def test_a_60_character_unit_name_is_shrunk_onto_one_line(event, desk, tmp_path):
    assert len(LONG_UNIT) == 60
    register(event, LONG_UNIT, 1)

    text = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))

    assert any(LONG_UNIT in line for line in text.splitlines()), text


def test_cancelled_registrations_are_left_off_both_lists(event, desk, tmp_path):
    register(event, "西宁市留下的单位", 1, first=1)
    gone = register(event, "西宁市取消的单位", 1, first=2)
    cancel_registration(gone, today=china_today(), now=utcnow(), actor="测试")
    db.session.commit()

    participants = "".join(pdf_pages(get_pdf(desk, participants_url(event)), tmp_path))
    signin = "".join(pdf_pages(get_pdf(desk, signin_url(event, event.starts_on)), tmp_path))

    for text in (participants, signin):
        assert "西宁市留下的单位" in text and "139****5001" in text
        assert "西宁市取消的单位" not in text and "139****5002" not in text


# --- sign-in sheet ----------------------------------------------------------------------

def test_signin_sheet_repeats_title_day_and_header_on_every_page(event, desk, tmp_path):
    for n in range(5):
        register(event, f"西宁市城东区第{n + 1}社区居民委员会", 10, first=10 * n)
    day = event.starts_on + timedelta(days=1)

    pages = pdf_pages(get_pdf(desk, signin_url(event, day)), tmp_path)

    assert len(pages) >= 3
    day_cn = f"{day.year}年{day.month}月{day.day}日"
    assert page_numbers(pages) == [(n, len(pages)) for n in range(1, len(pages) + 1)]
    for page in pages:
        assert TITLE in page and "签到表" in page and day_cn in page
        assert re.search(r"序号\s+姓名\s+单位\s+职务\s+手机\s+签名", page)
    assert "应到 50 人" in pages[0]


def test_signin_sheet_lists_only_people_present_that_day(event, desk, tmp_path):
    start = event.starts_on
    register(event, "西宁市全程单位", 1, first=1)
    register(event, "西宁市早走单位", 1, first=2, departure_on=start + timedelta(days=1))
    register(event, "西宁市晚到单位", 1, first=3, arrival_on=start + timedelta(days=2))

    second_day = "".join(pdf_pages(get_pdf(desk, signin_url(event, start + timedelta(days=1))),
                                   tmp_path))
    third_day = "".join(pdf_pages(get_pdf(desk, signin_url(event, start + timedelta(days=2))),
                                  tmp_path))

    assert "西宁市全程单位" in second_day and "西宁市早走单位" in second_day
    assert "西宁市晚到单位" not in second_day
    assert "西宁市早走单位" not in third_day
    assert "西宁市全程单位" in third_day and "西宁市晚到单位" in third_day
    assert "139****5002" not in third_day


def test_signin_sheet_is_sorted_by_province_unit_and_name_with_masked_mobiles(
        event, desk, tmp_path):
    register(event, "乙单位", 1, province="青海省", first=1)
    register(event, "甲单位", 1, province="青海省", first=2)
    register(event, "丙单位", 1, province="北京市", first=3)

    text = "".join(pdf_pages(get_pdf(desk, signin_url(event, event.starts_on)), tmp_path))
    full = "".join(pdf_pages(get_pdf(desk, signin_url(event, event.starts_on, full=1)),
                             tmp_path))

    positions = [text.index(unit) for unit in ("丙单位", "乙单位", "甲单位")]
    assert positions == sorted(positions)  # 北京 first; then by unit name ("乙" < "甲")
    assert "139****5001" in text and "13912345001" not in text
    assert "13912345001" in full


def test_the_chinese_font_is_embedded_in_both_lists(event, desk, tmp_path):
    register(event, LONG_UNIT, 2)
    for index, url in enumerate((participants_url(event), signin_url(event, event.starts_on))):
        path = tmp_path / f"fonts{index}.pdf"
        path.write_bytes(get_pdf(desk, url))
        lines = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                               text=True).stdout.splitlines()[2:]

        assert lines, "no fonts listed"
        for line in lines:
            name, emb = line.split()[0], line.split()[-5]
            assert "WQY" in name or "WenQuanYi" in name, line
            assert emb == "yes", line


# --- text shrunk to fit -----------------------------------------------------------------

def test_long_text_shrinks_onto_one_line_down_to_the_minimum_size():
    width = 100.0
    text = "西宁市城东区东关大街街道办事处"  # 15 characters: 135 pt at 9 pt

    size, lines = fit_text(text, width, size=CELL_SIZE, max_height=CELL_SIZE * 1.35)

    assert lines == (text,)
    assert MIN_FIT_SIZE <= size < CELL_SIZE
    assert stringWidth(text, FONT, size) <= width


def test_text_too_long_for_the_minimum_size_wraps_without_overflowing():
    width = 100.0

    size, lines = fit_text(LONG_UNIT, width, size=CELL_SIZE, max_height=CELL_SIZE * 1.35)

    assert size == MIN_FIT_SIZE
    assert "".join(lines) == LONG_UNIT and len(lines) > 1
    assert all(stringWidth(line, FONT, size) <= width for line in lines)


def test_a_tall_row_wraps_at_a_larger_size_than_one_shrunk_line():
    text = "青海省西宁市城东区东关大街街道办事处清真巷社区居民委员会"  # 28 characters

    size, lines = fit_text(text, 140.0, size=CELL_SIZE, max_height=24.0)

    assert len(lines) == 2 and size > 140.0 / stringWidth(text, FONT, 1)
