"""Exchange materials for a meeting: a unit uploads its material from its private page
(checked by content, Chinese characters counted, the deadline inclusive in China time,
every version kept, a confirmation e-mail); staff see who has and has not sent one, read it,
download its files and let one unit past the deadline. The desk's "未交材料" filter, the
dashboard figure and the materials reminder come from the same rule."""
import io
import re
import unicodedata
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from confreg.extensions import db
from confreg.models import (AuditEntry, Registration, Submission,
                            SubmissionAttachment)
from confreg.services import ServiceError
from confreg.services.materials import MaterialDetails, save_material
from confreg.services.reminders import reminder_kinds, reminder_recipients, send_reminders
from confreg.services.uploads import extract_text, store_file
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, make_event
from tests.test_admin_registrations import change_event, new_event, register

FIXTURES = Path(__file__).parent / "fixtures"
WORD = (FIXTURES / "material-zh.docx").read_bytes()
PDF = (FIXTURES / "material-zh.pdf").read_bytes()
# Counted by hand from the fixture's text and again below straight from its XML.
WORD_HAN = 556
PDF_HAN = 417
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def han_in_docx_xml(data: bytes) -> int:
    """Count CJK ideographs in word/document.xml's text runs, without python-docx."""
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    text = "".join(re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", xml))
    return sum(unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH") for ch in text)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def upload(client, token: str, *, data: bytes | None = WORD, name: str = "交流材料.docx",
           **fields):
    """Post the unit's material form from its page, as a browser would (multipart)."""
    page = client.get(f"/r/{token}/material")
    assert page.status_code == 200
    form = {"title": "党建引领物业服务融入社区治理的实践探索", "authors": "马晓明、王芳",
            "author_unit": "", "abstract": "", "csrf_token": csrf_token_from(page.text)}
    form.update(fields)
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post(f"/r/{token}/material", data=form, content_type="multipart/form-data")


def material(app, registration_id: int) -> Submission | None:
    with app.app_context():
        submission = db.session.scalar(select(Submission).where(
            Submission.registration_id == registration_id))
        if submission is not None:
            for version in submission.versions:  # load them before the session closes
                version.file
        db.session.expunge_all()
        return submission


@pytest.fixture
def event(app):
    return new_event(app)


@pytest.fixture
def unit(app, event):
    return register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])


@pytest.fixture
def staff(staff_client):
    return staff_client("staff")


# --- the count of a real Chinese Word file ---------------------------------------------------

def test_the_word_fixture_counts_its_chinese_characters():
    extracted = extract_text(WORD, "docx")

    assert han_in_docx_xml(WORD) == WORD_HAN  # the fixture is what the test says it is
    assert extracted.char_count == WORD_HAN
    assert extracted.paragraphs[0] == {"kind": "heading", "level": 1,
                                       "text": "党建引领物业服务融入社区治理的实践探索"}
    assert {"kind": "p", "text": "物业费收缴率　百分之五十　百分之八十五"} in extracted.paragraphs


def test_the_pdf_fixture_counts_its_chinese_characters():
    extracted = extract_text(PDF, "pdf")

    assert extracted.page_count == 1
    assert extracted.char_count == PDF_HAN


# --- the unit uploads ------------------------------------------------------------------------

def test_a_unit_uploads_its_material_and_its_page_shows_it(app, client, unit):
    response = upload(client, unit.token)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/r/{unit.token}#material")
    page = text_of(client.get(f"/r/{unit.token}").text)
    assert "已收到交流材料（第 1 版" in page
    assert "党建引领物业服务融入社区治理的实践探索" in page
    assert f"约 {WORD_HAN} 字" in page and "第 1 版 当前" in page
    saved = material(app, unit.id)
    assert (saved.kind, saved.char_count, saved.version_count) == ("material", WORD_HAN, 1)
    assert saved.author_unit == "西宁市城东区东关大街街道办事处"  # defaults to the unit
    assert saved.versions[0].file.kind == "docx"
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.registration_id == unit.id)).all()
    assert "material.uploaded" in actions


def test_the_unit_is_sent_a_confirmation_email(app, client, unit, smtp):
    upload(client, unit.token)

    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "unit@example.cn"
    assert "已收到交流材料" in message["Subject"] and unit.code in message["Subject"]
    body = smtp.body(message)
    assert "党建引领物业服务融入社区治理的实践探索" in body
    assert f"约 {WORD_HAN} 字" in body and "第 1 版" in body


def test_a_pdf_is_taken_and_its_pages_are_read(app, client, unit):
    upload(client, unit.token, data=PDF, name="material.pdf")

    saved = material(app, unit.id)
    assert saved.char_count == PDF_HAN
    assert saved.versions[0].page_count == 1


@pytest.mark.parametrize("data,name,message", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "material.docx", "这是可执行程序"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "material.doc", "旧版 Word（.doc）"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "photo.docx", "只接受 Word（.docx）、PDF"),
])
def test_a_file_that_is_not_a_document_is_refused_beside_the_field_keeping_the_typing(
        app, client, unit, data, name, message):
    response = upload(client, unit.token, data=data, name=name, title="我的材料标题",
                      abstract="这是摘要。")

    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="file-error">([^<]+)</p>', response.text)
    assert error and message in error.group(1)
    assert 'value="我的材料标题"' in response.text and "这是摘要。</textarea>" in response.text
    assert "请重新选择文件" in response.text
    assert material(app, unit.id) is None


def test_a_file_over_the_size_limit_is_refused(app, client, unit, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_DOCUMENT_BYTES", len(WORD) - 1)

    response = upload(client, unit.token)

    assert response.status_code == 422
    assert re.search(r'id="file-error">材料文件超过 \d+ MB', response.text)
    assert material(app, unit.id) is None


def test_the_first_upload_needs_a_file_and_a_title(app, client, unit):
    response = upload(client, unit.token, data=None, title="")

    assert response.status_code == 422
    assert 'id="title-error">请填写材料标题。' in response.text
    no_file = upload(client, unit.token, data=None)
    assert no_file.status_code == 422
    assert 'id="file-error">请选择要上传的材料文件' in no_file.text


def test_an_abstract_over_300_characters_is_refused(app, client, unit):
    response = upload(client, unit.token, abstract="社" * 301)

    assert response.status_code == 422 and 'id="abstract-error">摘要不超过 300 字。' in response.text


# --- the deadline ----------------------------------------------------------------------------

@pytest.mark.parametrize("days,accepted", [(0, True), (-1, False)])
def test_the_deadline_day_itself_is_accepted_and_the_next_day_refused(
        app, client, event, unit, days, accepted):
    change_event(app, event.id, materials_deadline=china_today() + timedelta(days=days))

    response = upload(client, unit.token) if accepted else client.get(f"/r/{unit.token}")

    if accepted:
        assert response.status_code == 302 and material(app, unit.id) is not None
    else:
        page = text_of(response.text)
        assert "交流材料已于" in page and "截止提交" in page
        assert 'action="/r/' + unit.token + '/material"' not in response.text
        # Posting anyway (an old page left open) is refused too.
        late = client.post(f"/r/{unit.token}/material",
                           data={"title": "t", "authors": "a", "file": (io.BytesIO(WORD), "a.docx"),
                                 "csrf_token": csrf_token_from(client.get("/r/" + unit.token + "/edit").text)},
                           content_type="multipart/form-data")
        assert late.status_code == 302 and material(app, unit.id) is None


def test_staff_let_one_unit_past_the_deadline_and_it_may_upload_until_that_day(
        app, client, staff, event, unit, today):
    other = register(app, event.id, "另一个单位", ["王芳"])
    change_event(app, event.id, materials_deadline=today - timedelta(days=1))
    url = f"/admin/events/{event.id}/materials/units/{unit.id}/extend"
    page = staff.get(url)

    response = staff.post(url, data={"until": today.isoformat(),
                                     "csrf_token": csrf_token_from(page.text)})

    assert response.status_code == 302
    assert upload(client, unit.token).status_code == 302
    assert material(app, unit.id).version_count == 1
    assert "交流材料已于" in text_of(client.get(f"/r/{other.token}").text)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "registration.materials_extended"))
        assert entry.registration_id == unit.id and today.isoformat() in str(entry.changes)


def test_an_extension_to_a_day_before_today_is_refused_beside_the_field(
        app, staff, event, unit, today):
    change_event(app, event.id, materials_deadline=today - timedelta(days=3))
    url = f"/admin/events/{event.id}/materials/units/{unit.id}/extend"
    page = staff.get(url)

    response = staff.post(url, data={"until": (today - timedelta(days=1)).isoformat(),
                                     "csrf_token": csrf_token_from(page.text)})

    assert response.status_code == 422
    assert 'id="until-error">延期日期不能早于今天。' in response.text


def test_a_cancelled_registration_cannot_upload(app, client, unit):
    with app.app_context():
        db.session.get(Registration, unit.id).status = "cancelled"
        db.session.commit()

    page = client.get(f"/r/{unit.token}/material")

    assert page.status_code == 200 and "该报名已取消，不能提交交流材料。" in page.text
    assert 'id="material"' not in client.get(f"/r/{unit.token}").text
    with app.test_request_context():
        registration = db.session.get(Registration, unit.id)
        with pytest.raises(ServiceError) as refused:
            save_material(registration, MaterialDetails("标题", "作者"),
                          FileStorage(io.BytesIO(WORD), "a.docx"), today=china_today(),
                          actor="单位")
        db.session.rollback()
    assert "已取消" in refused.value.message
    assert material(app, unit.id) is None


# --- versions and edits ----------------------------------------------------------------------

def test_replacing_the_file_keeps_every_version_and_each_can_be_downloaded(app, client, unit,
                                                                           smtp):
    upload(client, unit.token)
    response = upload(client, unit.token, data=PDF, name="修改稿.pdf")

    assert response.status_code == 302
    saved = material(app, unit.id)
    assert [v.number for v in saved.versions] == [1, 2]
    assert saved.version_count == 2 and saved.char_count == PDF_HAN
    first = client.get(f"/r/{unit.token}/material/versions/1")
    second = client.get(f"/r/{unit.token}/material/versions/2")
    assert first.data == WORD and first.headers["Content-Type"] == DOCX_MIME
    assert second.data == PDF and second.headers["Content-Type"] == "application/pdf"
    assert "attachment" in first.headers["Content-Disposition"]
    assert client.get(f"/r/{unit.token}/material/versions/3").status_code == 404
    page = text_of(client.get(f"/r/{unit.token}").text)
    assert "已上传的版本（2）" in page and "修改稿.pdf" in page and "交流材料.docx" in page
    # The worker's threads send the two mails in either order.
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert any("交流材料已更换" in s for s in subjects), subjects
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.summary).where(
            AuditEntry.action == "material.replaced")).startswith("更换交流材料")


def test_title_and_authors_are_edited_without_a_new_version(app, client, unit, smtp):
    upload(client, unit.token)

    response = upload(client, unit.token, data=None, title="新的标题", authors="马晓明")

    assert response.status_code == 302
    assert "已保存：标题、作者" in client.get(f"/r/{unit.token}").text
    saved = material(app, unit.id)
    assert (saved.title, saved.authors, saved.version_count) == ("新的标题", "马晓明", 1)
    assert len(smtp.messages) == 1  # only the upload was mailed
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "material.updated"))
        assert entry.changes["title"] == ["党建引领物业服务融入社区治理的实践探索", "新的标题"]


def test_over_the_limit_the_unit_is_warned_but_the_file_is_taken(app, client, event, unit,
                                                                  smtp):
    change_event(app, event.id, materials_char_limit=500)

    response = upload(client, unit.token)

    assert response.status_code == 302
    warning = f"正文约 {WORD_HAN} 字，超过本次会议建议的 500 字"
    page = client.get(f"/r/{unit.token}").text
    assert page.count(warning) == 2  # the flash, and the note beside the material
    assert warning in smtp.body(smtp.messages[0])
    assert material(app, unit.id).version_count == 1


def test_over_the_limit_the_file_is_refused_when_the_organiser_says_so(app, client, event,
                                                                       unit):
    change_event(app, event.id, materials_char_limit=500, materials_limit_blocks=True)

    response = upload(client, unit.token)

    assert response.status_code == 422
    assert (f'id="file-error">正文约 {WORD_HAN} 字，超过本次会议规定的 500 字，请删减后重新上传。'
            in response.text)
    assert material(app, unit.id) is None


def test_another_units_link_cannot_read_a_version(app, client, event, unit):
    other = register(app, event.id, "另一个单位", ["王芳"])
    upload(client, unit.token)

    assert client.get(f"/r/{other.token}/material/versions/1").status_code == 404
    assert client.get(f"/r/{unit.token}x/material/versions/1").status_code == 404
    upload(client, other.token, data=PDF, name="other.pdf")
    assert client.get(f"/r/{other.token}/material/versions/1").data == PDF


# --- staff -----------------------------------------------------------------------------------

def test_staff_see_who_has_and_has_not_submitted(app, client, staff, event, unit):
    change_event(app, event.id, materials_char_limit=500)
    other = register(app, event.id, "未交材料的单位", ["王芳"])
    upload(client, unit.token)
    url = f"/admin/events/{event.id}/materials/"

    page = staff.get(url)

    def codes(html):
        return set(re.findall(r'<tr data-code="([^"]+)"', html))

    assert page.status_code == 200
    text = text_of(page.text)
    for label in ("全部 2", "已提交 1", "未提交 1", "超字数 1"):
        assert label in text
    assert codes(page.text) == {unit.code, other.code}
    assert codes(staff.get(url + "?filter=submitted").text) == {unit.code}
    assert codes(staff.get(url + "?filter=missing").text) == {other.code}
    assert codes(staff.get(url + "?filter=over").text) == {unit.code}
    assert f"{WORD_HAN} 超字数" in text


def test_staff_read_the_text_and_download_the_file(app, client, staff, event, unit):
    upload(client, unit.token)
    saved = material(app, unit.id)
    base = f"/admin/events/{event.id}/materials/{saved.id}"

    page = staff.get(base)
    download = staff.get(f"{base}/files/{saved.versions[0].file_id}")

    assert page.status_code == 200
    assert "二、主要做法" in page.text and "兜底服务，先服务后收费" in page.text
    assert download.status_code == 200 and download.data == WORD
    assert download.headers["Content-Type"] == DOCX_MIME
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ") and f'filename="{saved.code}-v1.docx"' in disposition
    assert "filename*=UTF-8''%E4%BA%A4%E6%B5%81%E6%9D%90%E6%96%99.docx" in disposition


def test_staff_cannot_reach_a_file_through_another_submission_or_event(app, client, staff,
                                                                       event, unit):
    other = register(app, event.id, "另一个单位", ["王芳"])
    upload(client, unit.token)
    upload(client, other.token, data=PDF, name="other.pdf")
    mine, theirs = material(app, unit.id), material(app, other.id)
    elsewhere = new_event(app)

    assert staff.get(f"/admin/events/{event.id}/materials/{mine.id}/files/"
                     f"{theirs.versions[0].file_id}").status_code == 404
    assert staff.get(f"/admin/events/{elsewhere.id}/materials/{mine.id}").status_code == 404
    assert staff.get(f"/admin/events/{elsewhere.id}/materials/{mine.id}/files/"
                     f"{mine.versions[0].file_id}").status_code == 404


def test_a_finance_user_cannot_open_the_materials(app, staff_client, event):
    assert staff_client("finance").get(f"/admin/events/{event.id}/materials/").status_code == 403


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(out, "PNG")
    return out.getvalue()


def test_a_calls_cases_are_listed_and_shown_with_their_photos(app, staff):
    with app.app_context():
        call = make_event(kind="call", title="2026 经验案例征集", categories=[
            {"code": "4", "label": "分类四", "title": "破解重点难点问题的成功实践"}])
        text = store_file(WORD, "docx", "案例正文.docx")
        photo = store_file(png((200, 30, 30)), "png", "活动照片.png")
        form = store_file(PDF, "pdf", "申报表.pdf")
        case = Submission(event_id=call.id, kind="case", code="CTEST001", unit_name="某社区居委会",
                          unit_name_key="某社区居委会", contact_name="李娜",
                          contact_mobile="13912345678", contact_email="case@example.cn",
                          category="4", title="社区公益微循环", recommendation="expert")
        db.session.add(case)
        db.session.flush()
        from confreg.services.submissions import add_version
        add_version(case, text, WORD, uploaded_by="单位")
        case.attachments = [
            SubmissionAttachment(role="photo", position=0, caption="居民议事会", file_id=photo.id),
            SubmissionAttachment(role="application_form", position=0, file_id=form.id)]
        db.session.commit()
        ids = (call.id, case.id, photo.id, form.id)

    call_id, case_id, photo_id, form_id = ids
    listing = text_of(staff.get(f"/admin/events/{call_id}/materials/").text)
    page = staff.get(f"/admin/events/{call_id}/materials/{case_id}")
    image = staff.get(f"/admin/events/{call_id}/materials/{case_id}/files/{photo_id}")
    scan = staff.get(f"/admin/events/{call_id}/materials/{case_id}/files/{form_id}")

    assert "某社区居委会" in listing and "分类四" in listing and "社区公益微循环" in listing
    assert f"{WORD_HAN:,}" in listing
    assert "139****5678" in page.text and "13912345678" not in page.text
    assert "居民议事会" in page.text and f'files/{photo_id}"' in page.text
    assert "附专家签字的推荐意见" in page.text and "申报表（加盖公章）" in page.text
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline")
    assert scan.headers["Content-Disposition"].startswith("attachment")


# --- the desk, the dashboard and the reminder ------------------------------------------------

def test_the_registrations_desk_filters_units_without_material(app, client, staff, event, unit):
    other = register(app, event.id, "未交材料的单位", ["王芳"])
    cancelled = register(app, event.id, "已取消的单位", ["李娜"])
    with app.app_context():
        db.session.get(Registration, cancelled.id).status = "cancelled"
        db.session.commit()
    upload(client, unit.token)

    page = staff.get(f"/admin/events/{event.id}/registrations?filter=materials_missing")

    assert set(re.findall(r'class="mono" href="/admin/registrations/\d+">([0-9A-Z]+)<',
                          page.text)) == {other.code}
    assert "未交材料 1" in text_of(page.text)


def test_without_a_materials_deadline_nobody_is_missing_material(app, staff, unit, event):
    change_event(app, event.id, materials_deadline=None)

    page = staff.get(f"/admin/events/{event.id}/registrations?filter=materials_missing")

    assert "未交材料" not in text_of(page.text)
    assert "没有符合条件的报名" in page.text


def test_the_dashboard_counts_units_without_material_and_links_to_them(app, client, staff,
                                                                       event, unit):
    register(app, event.id, "未交材料的单位", ["王芳"])
    upload(client, unit.token)

    page = staff.get(f"/admin/events/{event.id}")

    figure = re.search(r'id="fig-materials-missing"><a href="([^"]+)">([^<]+)</a>', page.text)
    assert figure and figure.group(2) == "1 / 2"
    assert "filter=materials_missing" in figure.group(1)


def test_the_materials_reminder_goes_to_units_without_material_while_open(
        app, client, event, unit, smtp, today):
    other = register(app, event.id, "未交材料的单位", ["王芳"])
    upload(client, unit.token)
    smtp.messages.clear()

    with app.app_context():
        from confreg.models import Event
        row = db.session.get(Event, event.id)
        kinds = {c.kind: c for c in reminder_kinds(row, today)}
        recipients = reminder_recipients(row, "materials_due", today)
        batch = send_reminders(event.id, "materials_due", today=today, actor="会务 测试")
        db.session.commit()
    with app.app_context():
        from confreg.models import OutboundMail
        pending = db.session.scalars(select(OutboundMail).where(
            OutboundMail.kind == "reminder_materials_due")).all()
        bodies = [m.body_text for m in pending]

    assert kinds["materials_due"].available
    assert [r.code for r in recipients] == [other.code]
    assert batch.sent == [other.code]
    assert len(bodies) == 1 and "尚未收到贵单位的交流材料" in bodies[0]


def test_the_materials_reminder_is_not_sent_after_the_deadline(app, event, today):
    change_event(app, event.id, materials_deadline=today - timedelta(days=1))
    with app.app_context():
        from confreg.models import Event
        choice = next(c for c in reminder_kinds(db.session.get(Event, event.id), today)
                      if c.kind == "materials_due")

    assert not choice.available and "截止" in choice.reason


def test_the_event_form_saves_whether_the_limit_blocks(app, staff_client, event):
    admin = staff_client("admin")
    url = f"/admin/events/{event.id}/edit"
    from tests.conftest import form_values
    values = form_values(admin.get(url).text)
    assert "materials_limit_blocks" not in values

    values.update({"materials_char_limit": "3000", "materials_limit_blocks": "y"})
    response = admin.post(url, data=values)

    assert response.status_code == 302, response.text[:2000]
    with app.app_context():
        from confreg.models import Event
        saved = db.session.get(Event, event.id)
        assert saved.materials_limit_blocks is True and saved.materials_char_limit == 3000
