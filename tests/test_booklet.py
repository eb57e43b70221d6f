"""The proceedings booklet (材料汇编): the selected materials only, a contents page whose
numbers point at the right pages (read back with pdftotext page by page), PDF materials'
own pages included, page numbers throughout, the font embedded; the .docx for the printer."""
import io
import re
import subprocess

import pytest
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from confreg.checks import normalize_unit_name
from confreg.extensions import db
from confreg.models import Event, Submission
from confreg.pdf.layout import FONT, STYLE_BODY
from confreg.services.booklet import booklet_entries
from confreg.services.submissions import add_version, new_submission_code
from confreg.services.uploads import store_file
from tests.conftest import csrf_token_from, docx_bytes, make_event, run_job

SHORT = "东关街道物业联席会议"
MEDIUM = "城中区红色物业实践"
LONG = "城北区老旧小区改造纪实"
SCANNED = "城西区协商议事案例"
NOT_SELECTED = "未入选的湟中区材料"
WITHDRAWN = "已撤回的大通县材料"
SELECTED = [SHORT, MEDIUM, LONG, SCANNED]
PDF_PAGE_MARKS = ("原文第一页标记甲乙丙", "原文第二页标记丁戊己")
SENTENCE = ("街道党工委牵头成立物业服务联席会议，每月协商一次，居民、业委会和物业企业共同议定"
            "停车、加装电梯和垃圾分类等事项，满意度逐年提高。")


def word_text(paragraphs: int) -> list[tuple[str, str]]:
    blocks = [("heading", "一、背景")]
    for n in range(paragraphs):
        if n == paragraphs // 2:
            blocks.append(("heading", "二、主要做法"))
        blocks.append(("p", SENTENCE * 3))
    return blocks


def two_page_pdf() -> bytes:
    """A 2-page PDF in the shipped font, as a unit's own PDF would arrive."""
    out = io.BytesIO()
    SimpleDocTemplate(out, initialFontName=FONT).build([
        Paragraph(PDF_PAGE_MARKS[0], STYLE_BODY), Paragraph(SENTENCE * 4, STYLE_BODY),
        PageBreak(),
        Paragraph(PDF_PAGE_MARKS[1], STYLE_BODY), Paragraph(SENTENCE * 2, STYLE_BODY),
    ])
    return out.getvalue()


def add_material(event, title: str, data: bytes, kind: str, *, selection="selected",
                 status="submitted", unit="西宁市城东区", category="") -> Submission:
    submission = Submission(event_id=event.id, kind="material", code=new_submission_code(),
                            unit_name=unit, unit_name_key=normalize_unit_name(unit), title=title,
                            authors="马晓明", selection=selection, status=status, category=category)
    db.session.add(submission)
    db.session.flush()
    add_version(submission, store_file(data, kind, f"{title}.{kind}"), data, uploaded_by="单位")
    db.session.commit()
    return submission


@pytest.fixture
def event_id(app):
    with app.app_context():
        event = make_event()
        add_material(event, LONG, docx_bytes(word_text(40)), "docx")
        add_material(event, SHORT, docx_bytes(word_text(2)), "docx", unit="东关大街街道")
        add_material(event, SCANNED, two_page_pdf(), "pdf", unit="城西区")
        add_material(event, MEDIUM, docx_bytes(word_text(10)), "docx")
        add_material(event, NOT_SELECTED, docx_bytes(word_text(3)), "docx",
                     selection="not_selected")
        add_material(event, WITHDRAWN, docx_bytes(word_text(3)), "docx", status="withdrawn")
        event_id = event.id
        db.session.remove()
    return event_id


def booklet_file(client, worker, event_id: int, suffix: str):
    """The booklet as the desk gets it: started on its page, made by the worker."""
    state, response = run_job(client, f"/admin/events/{event_id}/booklet/booklet.{suffix}",
                              worker, page_url=f"/admin/events/{event_id}/booklet")
    assert state["status"] == "done", state
    return response


@pytest.fixture
def booklet_pdf(event_id, staff_client, worker, tmp_path):
    response = booklet_file(staff_client("staff"), worker, event_id, "pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    path = tmp_path / "booklet.pdf"
    path.write_bytes(response.data)
    return path


def page_count(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def pages_text(path) -> dict[int, str]:
    """Each page's text, from pdftotext -layout run page by page."""
    return {
        page: subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path),
                              "-"], check=True, capture_output=True, text=True).stdout
        for page in range(1, page_count(path) + 1)
    }


def contents_numbers(pages: dict[int, str]) -> tuple[dict[str, int], list[int]]:
    """title -> page number, as the contents print them; and the contents' own pages."""
    contents_pages = [p for p in pages if p > 1 and re.search(r"\. \. \.", pages[p])]
    lines = "\n".join(pages[p] for p in contents_pages).splitlines()
    numbers = {}
    for i, line in enumerate(lines):
        for title in SELECTED + [NOT_SELECTED, WITHDRAWN]:
            if title in line:
                # The number ends the entry's last line (an entry may wrap).
                entry = next(m for m in (re.search(r"\.\s*(\d+)\s*$", lines[j])
                                         for j in range(i, len(lines))) if m)
                numbers[title] = int(entry.group(1))
    leaders = sum(1 for line in lines if re.search(r"(\. ){5,}.*\d+\s*$", line))
    assert leaders == len(numbers)
    return numbers, contents_pages


def test_the_contents_list_the_selected_materials_at_the_pages_they_start(booklet_pdf):
    pages = pages_text(booklet_pdf)
    numbers, contents_pages = contents_numbers(pages)
    assert set(numbers) == set(SELECTED)
    assert contents_pages == [2]
    body_pages = [p for p in pages if p > max(contents_pages)]
    for title, page in numbers.items():
        assert title in pages[page], (title, page)
        earlier = [p for p in body_pages if p < page and title in pages[p]]
        assert earlier == [], (title, earlier)
    # Each material starts on its own page; the long one takes several.
    assert len(set(numbers.values())) == len(SELECTED)
    order = sorted(numbers, key=numbers.get)
    after_long = order[order.index(LONG) + 1] if order[-1] != LONG else None
    last_page = (numbers[after_long] - 1) if after_long else max(pages)
    assert last_page - numbers[LONG] >= 2


def test_the_unselected_and_withdrawn_materials_appear_nowhere(booklet_pdf):
    for text in pages_text(booklet_pdf).values():
        assert NOT_SELECTED not in text
        assert WITHDRAWN not in text


def test_the_cover_has_the_event_title_and_no_page_number(booklet_pdf):
    cover = pages_text(booklet_pdf)[1]
    assert "全国基层物业管理服务创新发展经验交流会" in cover
    assert "材料汇编" in cover
    assert "中国社会工作联合会城乡社区工作委员会" in cover
    assert "— 1 —" not in cover


def test_every_page_after_the_cover_carries_its_number_and_the_running_header(booklet_pdf):
    pages = pages_text(booklet_pdf)
    assert len(pages) > 8
    for page, text in pages.items():
        if page == 1:
            continue
        assert re.search(rf"—\s*{page}\s*—", text), page
        assert "测试会议 · 材料汇编" in text, page


def test_a_pdf_materials_own_pages_are_on_the_pages_the_contents_give(booklet_pdf):
    pages = pages_text(booklet_pdf)
    numbers, _ = contents_numbers(pages)
    start = numbers[SCANNED]
    first, second = PDF_PAGE_MARKS
    assert [p for p, text in pages.items() if first in text] == [start]
    assert [p for p, text in pages.items() if second in text] == [start + 1]
    assert "原文第 2 页 / 共 2 页" in pages[start + 1]


def test_word_text_keeps_its_paragraphs_and_headings(booklet_pdf):
    pages = pages_text(booklet_pdf)
    numbers, _ = contents_numbers(pages)
    text = pages[numbers[SHORT]]
    assert "一、背景" in text and "二、主要做法" in text
    # The first line of a paragraph is indented two characters more than the lines after it.
    body = [line for line in text.splitlines() if "街道党工委" in line or "满意度" in line]
    first_lines = [line for line in body if re.match(r"\s+街道党工委", line)]
    assert len(first_lines) == 2  # SHORT has two paragraphs
    assert any(not line[0].isspace() for line in body)  # their other lines are not indented


def test_the_booklet_font_is_embedded(booklet_pdf):
    fonts = subprocess.run(["pdffonts", str(booklet_pdf)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts, "no fonts listed"
    for line in fonts:
        assert "WenQuanYi" in line, line
        assert re.search(r"\s+yes\s+yes\s+yes\s+", line), line  # embedded, subset, unicode


def test_the_docx_has_the_titles_headings_and_a_contents_field(event_id, staff_client, worker):
    import docx

    response = booklet_file(staff_client("staff"), worker, event_id, "docx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = docx.Document(io.BytesIO(response.data))
    by_text = {p.text: p.style.name for p in document.paragraphs}
    for title in SELECTED:
        assert by_text.get(title) == "Heading 1", title
    assert not any(NOT_SELECTED in text or WITHDRAWN in text for text in by_text)
    assert by_text.get("二、主要做法", "").startswith("Heading")
    assert any(SENTENCE in text for text in by_text)
    # The PDF material comes as its extracted text, under a note.
    assert any(PDF_PAGE_MARKS[1] in text for text in by_text)
    xml = document.element.xml
    assert 'TOC \\o "1-1"' in xml
    normal = document.styles["Normal"].element.xml
    assert 'w:eastAsia="宋体"' in normal


def test_the_page_lists_what_goes_in_and_warns_of_a_material_without_text(app, event_id,
                                                                          staff_client):
    with app.app_context():
        event = db.session.get(Event, event_id)
        add_material(event, "空白的正文材料", docx_bytes([]), "docx")
        db.session.remove()
    page = staff_client("staff").get(f"/admin/events/{event_id}/booklet")
    assert page.status_code == 200
    html = page.text
    for title in SELECTED + ["空白的正文材料"]:
        assert title in html
    assert NOT_SELECTED not in html and WITHDRAWN not in html
    assert "共 <strong>5</strong> 篇入选" in html
    assert "Word 正文中没有文字" in html
    assert "booklet.pdf" in html and "booklet.docx" in html


@pytest.mark.parametrize("role", ["reviewer", "finance"])
def test_reviewers_and_finance_cannot_open_the_booklet(event_id, staff_client, role):
    client = staff_client(role)
    assert client.get(f"/admin/events/{event_id}/booklet").status_code == 403
    token = csrf_token_from(client.get("/admin/login", follow_redirects=True).text)  # own desk
    for path in ("/booklet.pdf", "/booklet.docx"):
        response = client.post(f"/admin/events/{event_id}/booklet{path}",
                               data={"csrf_token": token})
        assert response.status_code == 403, path


def test_a_calls_booklet_groups_by_category_in_the_events_order_then_by_pinyin(app):
    with app.app_context():
        event = make_event(kind="call", categories=[
            {"code": "1", "label": "分类一", "title": "体制机制创新"},
            {"code": "2", "label": "分类二", "title": "群众自治"},
        ])
        for title in ("张家口市桥西区物业服务经验", "北京市朝阳区党建引领", "安康市汉滨区养老服务",
                      "2026 年社区协商"):
            add_material(event, title, docx_bytes(word_text(1)), "docx", category="2")
        add_material(event, "丙篇", docx_bytes(word_text(1)), "docx", category="1")
        entries = booklet_entries(event)
        # Within a category by title in pinyin order (an < bei < zhang), as a dictionary
        # orders them; code-point order would put 北 (U+5317) before 安 (U+5B89).
        assert [e.submission.title for e in entries] == [
            "丙篇", "2026 年社区协商", "安康市汉滨区养老服务", "北京市朝阳区党建引领", "张家口市桥西区物业服务经验"]
        assert entries[0].category_label == "分类一　体制机制创新"
        db.session.remove()


def test_an_event_without_selected_materials_gets_a_cover_and_a_note(app, staff_client, worker):
    with app.app_context():
        event_id = make_event().id
    client = staff_client("admin")
    assert "还没有入选的材料" in client.get(f"/admin/events/{event_id}/booklet").text
    response = booklet_file(client, worker, event_id, "pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")


# --- a material's own title is not printed twice; the cover title breaks well -------------

OWN_TITLE = "党建引领“红色物业”的实践与思考"


def test_a_materials_own_title_and_byline_are_not_printed_twice(app, staff_client, worker,
                                                                 tmp_path):
    import docx

    with app.app_context():
        event = make_event()
        # As a unit's Word file arrives: its own title (with other quotes), then the unit
        # and the authors, then the text.
        add_material(event, OWN_TITLE, docx_bytes([
            ("heading", "党建引领 \"红色物业\" 的实践与思考"),
            ("paragraph", "西宁市城东区东关大街街道办事处"),
            ("paragraph", "执笔人：马晓明"),
            ("heading", "一、背景"),
            ("paragraph", SENTENCE),
        ]), "docx", unit="西宁市城东区东关大街街道办事处")
        event_id = event.id
        db.session.remove()
    client = staff_client("staff")
    path = tmp_path / "own-title.pdf"
    path.write_bytes(booklet_file(client, worker, event_id, "pdf").data)

    [page] = [text for text in pages_text(path).values() if "一、背景" in text]
    flat_page = re.sub(r"\s+", "", page)
    assert flat_page.count(OWN_TITLE) == 1
    assert flat_page.count("西宁市城东区东关大街街道办事处") == 1   # the booklet's own line
    assert "执笔人" not in flat_page
    assert flat_page.count(SENTENCE) == 1

    document = docx.Document(io.BytesIO(booklet_file(client, worker, event_id, "docx").data))
    texts = [p.text for p in document.paragraphs]
    start = texts.index(OWN_TITLE)
    assert texts[start:start + 5] == [OWN_TITLE, "西宁市城东区东关大街街道办事处", "马晓明",
                                      "一、背景", SENTENCE]


def test_a_title_split_over_two_lines_and_a_pdfs_title_are_left_out_too():
    from confreg.pdf.booklet import BookletMaterial, body_paragraphs

    material = BookletMaterial(title="红色物业的实践与思考——以东关街道为例", unit="东关大街街道",
                               authors="马晓明、李娜", paragraphs=[
                                   {"kind": "heading", "text": "红色物业的实践与思考"},
                                   {"kind": "p", "text": "——以东关街道为例"},
                                   {"kind": "p", "text": "东关大街街道  马晓明  李娜"},
                                   {"kind": "p", "text": "东关大街街道是老城区。"}])
    assert [p["text"] for p in body_paragraphs(material)] == ["东关大街街道是老城区。"]
    # A first paragraph that only starts like the title is the text: kept.
    kept = BookletMaterial(title="红色物业", unit="东关", paragraphs=[
        {"kind": "p", "text": "红色物业是近年来的新做法。"}])
    assert [p["text"] for p in body_paragraphs(kept)] == ["红色物业是近年来的新做法。"]
    # The unit's name alone at the top, without the title before it, is kept as written.
    assert body_paragraphs(material, ["东关大街街道", "正文。"]) == ["东关大街街道", "正文。"]
    # A PDF's text lines: the title and byline go before the lines are rejoined.
    assert body_paragraphs(material, ["红色物业的实践与思考——以东关街道为例", "马晓明", "正文。"]) \
        == ["正文。"]


@pytest.mark.parametrize("title", ["2026城乡社区治理服务资料库经验案例材料征集",
                                   "2026年度全国城乡社区服务创新经验案例材料征集活动",
                                   "全国城乡社区服务创新发展经验交流会暨基层治理现代化研讨会"])
def test_the_cover_breaks_a_long_title_into_two_balanced_lines(tmp_path, title):
    from confreg.pdf.booklet import Booklet, render_booklet

    path = tmp_path / "cover.pdf"
    path.write_bytes(render_booklet(Booklet(title=title, dates_text="2026年8月10日至13日",
                                            organiser="中国社会工作联合会城乡社区工作委员会",
                                            materials=[])))
    cover = [line.strip() for line in pages_text(path)[1].splitlines() if line.strip()]
    start = next(i for i, line in enumerate(cover) if title.startswith(line))
    first, second = cover[start], cover[start + 1]
    assert first + second == title
    # Neither line is a stub like "征集": the shorter has at least a third of the characters.
    assert min(len(first), len(second)) >= len(title) / 3
    if "暨" in title:
        assert second.startswith("暨")   # broken at the natural point
