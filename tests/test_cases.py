"""The call for case materials: the submission form over HTTP with real files, the
files it carries across a failed submit, the deadline, the repeat guard, the e-mail
and the private page."""
import io
import re
import uuid
from datetime import date, timedelta
from html import unescape
from types import SimpleNamespace

import docx
import pytest
from PIL import Image
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from confreg.checks import normalize_unit_name
from confreg.extensions import db
from confreg.models import (AuditEntry, Event, EventContact, OutboundMail, StoredFile, Submission,
                            SubmissionAttachment, SubmissionVersion)
from confreg.pdf.layout import FONT, register_fonts
from confreg.checks import normalize_title
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, form_values

CATEGORIES = [
    {"code": "1", "label": "分类一", "title": "关于城乡社区治理服务的体制机制和方式方法的创新探索",
     "description": "包括但不限于区域化党建等成功经验。"},
    {"code": "2", "label": "分类二", "title": "关于城乡社区群众性自治和社会服务的工作经验",
     "description": "例如：党建引领。"},
    {"code": "3", "label": "分类三", "title": "关于精准化、精细化城乡社区民生服务的项目案例",
     "description": "例如：一老一小。"},
    {"code": "4", "label": "分类四", "title": "破解城乡社区治理服务重点难点问题的成功实践和工作经验",
     "description": "例如：社区减负增效。"},
]
UNIT = "北京市朝阳区六里屯街道办事处"
TITLE = "党建引领“小区议事厅”破解老旧小区加装电梯难题"
ABSTRACT = ("六里屯街道以党建引领为抓手，在老旧小区设立“小区议事厅”，组织居民、产权单位、物业企业和"
            "施工方共同协商加装电梯事宜，形成了“一梯一议、一楼一策”的工作方法。三年来共协商加装电梯"
            "四十二部，化解矛盾纠纷一百余件，居民满意度明显提升，为超大城市老旧小区更新提供了可复制的经验。")


def make_call(*, starts_on: date | None = None, deadline: date | None = None, **overrides) -> Event:
    """A published, free call for cases, open until `deadline` (default: in 30 days)."""
    today = china_today()
    deadline = deadline or today + timedelta(days=30)
    starts_on = starts_on or min(today - timedelta(days=60), deadline)
    values = dict(
        key=f"call-{uuid.uuid4().hex[:6]}", kind="call", published=True,
        title=f"{starts_on.year}城乡社区治理服务资料库经验案例材料征集", short_title="案例征集",
        organiser="中国社会工作联合会城乡社区工作委员会", starts_on=starts_on,
        ends_on=max(deadline, starts_on), registration_deadline=deadline,
        materials_deadline=deadline, capacity=0, categories=CATEGORIES,
        materials_note="材料正文原则上应为3000字左右。",
    )
    values.update(overrides)
    event = Event(**values)
    event.contacts = [EventContact(kind="email", label="报送邮箱",
                                   value="zhongguoshequ@vip.163.com", position=0)]
    db.session.add(event)
    db.session.commit()
    return event


def new_call(app, **overrides) -> SimpleNamespace:
    """Create a call; return a detached copy of what the tests need of it."""
    with app.app_context():
        event = make_call(**overrides)
        return SimpleNamespace(id=event.id, key=event.key, starts_on=event.starts_on)


def word_file(title: str = TITLE) -> bytes:
    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_heading("一、背景", level=2)
    document.add_paragraph("六里屯街道共有老旧小区二十三个，六层以下无电梯住宅楼二百余栋。")
    document.add_heading("二、做法", level=2)
    document.add_paragraph("街道党工委牵头设立小区议事厅，每周开放，居民议事。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_file(text: str = "六里屯街道案例正文") -> bytes:
    register_fonts()
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont(FONT, 14)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def image_file(fmt: str = "JPEG", color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, fmt)
    return out.getvalue()


EXE = b"MZ\x90\x00" + b"\x00" * 600


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


def case_data(*, photos: int = 3, **overrides) -> dict:
    """A complete valid submission with real files; overrides replace fields (None drops one)."""
    data = {
        "unit_name": UNIT, "credit_code": "", "province": "北京市", "city": "朝阳区",
        "contact_name": "李秀兰", "contact_mobile": "13912345678",
        "contact_email": "case@example.cn", "recommendation": "member", "category": "1",
        "title": TITLE, "abstract": ABSTRACT, "consent": "y", "submit": "1",
        "text_docx": upload(word_file(), "议事厅案例.docx"),
        "text_pdf": upload(pdf_file(), "议事厅案例.pdf"),
        "application_form": upload(image_file("PNG", (250, 250, 250)), "申报表盖章.png"),
    }
    captions = ["议事厅协商现场", "加装电梯竣工", "居民满意度回访", "施工方说明会", "志愿者合影"]
    for n in range(1, photos + 1):
        data[f"photo_{n}"] = upload(image_file("JPEG" if n % 2 else "PNG", (n * 40, 90, 90)),
                                    f"照片{n}.{'jpg' if n % 2 else 'png'}")
        data[f"caption_{n}"] = captions[n - 1]
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit_url(event) -> str:
    return f"/events/{event.key}/submit"


def post_case(client, event, data: dict):
    page = client.get(submit_url(event))
    assert page.status_code == 200
    return client.post(submit_url(event), data={**data, "csrf_token": csrf_token_from(page.text)},
                       content_type="multipart/form-data")


def submitted(client, event, **overrides) -> str:
    """Submit a valid case; return its private token."""
    response = post_case(client, event, case_data(**overrides))
    assert response.status_code == 302, _errors(response.text)
    return response.headers["Location"].rsplit("/c/", 1)[1]


def _errors(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'class="field-error"[^>]*>([^<]*)<', html)]


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    return unescape(match.group(1)) if match else ""


def repost(client, event, html: str, **changes):
    """Post the form again as the browser would: what it shows, no file picked again."""
    values = {k: v for k, v in form_values(html).items() if not v == "" or k.startswith("caption")}
    values.update({k: v for k, v in changes.items() if v is not None})
    for k in [k for k, v in changes.items() if v is None]:
        values.pop(k, None)
    return client.post(submit_url(event), data=values, content_type="multipart/form-data")


# --- a valid submission ------------------------------------------------------------------

def test_full_valid_submission_stores_case_files_and_mails_the_private_link(app, client, smtp):
    event = new_call(app)
    response = post_case(client, event, case_data(photos=4, recommendation="expert",
                                                  recommendation_file=upload(pdf_file("专家推荐"), "推荐意见.pdf")))
    assert response.status_code == 302
    token = response.headers["Location"].rsplit("/c/", 1)[1]

    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    assert "申报成功" in page.text and f"http://localhost/c/{token}" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    again = client.get(f"/c/{token}")
    assert "申报成功" not in again.text  # the banner with the link is shown once

    smtp.worker.settle()  # the worker has sent the mail the submission queued
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert (case.kind, case.status, case.selection) == ("case", "submitted", "pending")
        assert case.unit_name == UNIT and case.unit_name_key == normalize_unit_name(UNIT)
        assert case.title == TITLE and case.title_key == normalize_title(TITLE)
        assert case.category == "1" and case.recommendation == "expert"
        assert case.token_hash and token not in case.token_hash
        assert case.abstract == ABSTRACT and case.contact_mobile == "13912345678"
        [version] = case.versions
        assert version.file.kind == "docx" and version.file.original_name == "议事厅案例.docx"
        assert version.paragraphs[0] == {"kind": "heading", "level": 1, "text": TITLE}
        assert version.char_count > 40 and case.char_count == version.char_count
        photos = case.current_attachments("photo")
        assert [(p.position, p.caption, p.file.kind) for p in photos] == [
            (1, "议事厅协商现场", "jpeg"), (2, "加装电梯竣工", "png"),
            (3, "居民满意度回访", "jpeg"), (4, "施工方说明会", "png")]
        assert [a.file.kind for a in case.current_attachments("text_pdf")] == ["pdf"]
        assert [a.file.original_name for a in case.current_attachments("application_form")] == ["申报表盖章.png"]
        assert [a.file.original_name for a in case.current_attachments("recommendation")] == ["推荐意见.pdf"]
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.submitted"))
        assert audit.object_id == case.id and case.code in audit.summary
        code = case.code
        stored_mail = db.session.scalar(select(OutboundMail))
        assert stored_mail.status == "sent" and token not in stored_mail.body_text

    [message] = smtp.messages
    body = smtp.body(message)
    assert message["To"] == "case@example.cn"
    assert code in message["Subject"] and code in body
    assert f"http://confreg.test/c/{token}" in body
    assert f"《{TITLE}》" in body and "分类一　关于城乡社区治理服务的体制机制和方式方法的创新探索" in body
    assert "元" not in body.replace("单元", "")


def test_pdf_only_text_becomes_the_version_and_its_pages_are_read(app, client):
    event = new_call(app)
    token = submitted(client, event, text_docx=None)
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert case.latest_version.file.kind == "pdf"
        assert case.latest_version.paragraphs[0]["kind"] == "page"
        assert "六里屯街道案例正文" in case.latest_version.text
        assert case.current_attachments("text_pdf") == []
    assert client.get(f"/c/{token}").status_code == 200


# --- refusals: beside the field, typed values kept, valid files carried -----------------

@pytest.mark.parametrize("overrides,field_id,message", [
    ({"photo_1": None, "caption_1": None, "photo_2": None, "caption_2": None,
      "photo_3": None, "caption_3": None}, "photo_1", "请上传 3～5 张图片，目前只有 0 张"),
    ({"photo_3": None, "caption_3": None}, "photo_3", "请上传 3～5 张图片，目前只有 2 张"),
    ({"caption_2": ""}, "caption_2", "请填写这张图片的说明"),
    ({"photo_2": upload(EXE, "照片2.jpg")}, "photo_2", "可执行程序"),
    ({"text_docx": upload(EXE, "正文.docx")}, "text_docx", "可执行程序"),
], ids=["no-photos", "two-photos", "photo-without-caption", "exe-as-photo", "exe-as-text"])
def test_refused_submission_keeps_typed_values_and_carries_the_valid_files(
        app, client, overrides, field_id, message):
    event = new_call(app)
    response = post_case(client, event, case_data(**overrides))

    assert response.status_code == 422
    html = response.text
    assert message in field_error(html, field_id), _errors(html)
    values = form_values(html)
    assert values["unit_name"] == UNIT and values["title"] == TITLE
    assert values["abstract"] == ABSTRACT and values["contact_email"] == "case@example.cn"
    assert values["category"] == "1" and values["recommendation"] == "member"
    # The files that were valid are stored and travel in signed hidden fields.
    assert values["kept_application_form"] and "已上传：<strong>申报表盖章.png</strong>" in html
    if field_id != "text_docx":
        assert values["kept_text_docx"]
    else:
        assert "kept_text_docx" not in values and values["kept_text_pdf"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 0
        assert db.session.scalar(select(func.count(StoredFile.id))) >= 2

    # Fix only what was wrong; the other files are not picked again.
    fixes = {}
    if field_id.startswith("photo") or field_id.startswith("caption"):
        for n in (1, 2, 3):
            if not values.get(f"kept_photo_{n}"):
                fixes[f"photo_{n}"] = upload(image_file(), f"新照片{n}.jpg")
            if not values.get(f"caption_{n}"):
                fixes[f"caption_{n}"] = f"补充说明{n}"
    again = client.post(submit_url(event), data={**values, **fixes},
                        content_type="multipart/form-data")
    assert again.status_code == 302, _errors(again.text)
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert len(case.current_attachments("photo")) == 3
        assert case.current_attachments("application_form")[0].file.original_name == "申报表盖章.png"
        assert case.latest_version.file.kind == ("pdf" if field_id == "text_docx" else "docx")


def test_a_tampered_signed_file_field_is_refused(app, client):
    event = new_call(app)
    first = post_case(client, event, case_data(photos=2))
    values = form_values(first.text)
    assert values["kept_application_form"]
    with app.app_context():
        other = db.session.scalar(select(func.max(StoredFile.id)))
    # Another file's id, signed with a wrong key; and the real value with a changed character.
    from itsdangerous import URLSafeTimedSerializer
    forged = URLSafeTimedSerializer("not-the-secret", salt="case-upload").dumps(other)
    real = values["kept_application_form"]
    # Change the signature's first character (its last one may be padding bits only).
    payload, signature = real.rsplit(".", 1)
    broken = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    for bad in (forged, broken):
        response = client.post(submit_url(event), data={
            **values, "kept_application_form": bad,
            "photo_3": upload(image_file(), "照片3.jpg"), "caption_3": "第三张"},
            content_type="multipart/form-data")
        assert response.status_code == 422
        assert "记录无效" in field_error(response.text, "application_form")
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 0


def test_a_missing_text_and_form_are_asked_for_beside_their_fields(app, client):
    event = new_call(app)
    response = post_case(client, event, case_data(text_docx=None, text_pdf=None,
                                                  application_form=None))
    assert response.status_code == 422
    assert "请上传正文" in field_error(response.text, "text_docx")
    assert "申报表" in field_error(response.text, "application_form")


def test_non_member_choosing_an_expert_needs_the_recommendation_file(app, client):
    event = new_call(app)
    response = post_case(client, event, case_data(recommendation="expert"))
    assert response.status_code == 422
    assert "推荐意见" in field_error(response.text, "recommendation_file")
    assert form_values(response.text)["recommendation"] == "expert"
    # The recommending body's seal on the form needs no extra file.
    again = repost(client, event, response.text, recommendation="unit_seal")
    assert again.status_code == 302, _errors(again.text)


def test_category_is_required_and_abstract_length_is_counted(app, client):
    event = new_call(app)
    long_abstract = "社区治理" * 120  # 480 characters
    response = post_case(client, event, case_data(category=None, abstract=long_abstract))
    assert response.status_code == 422
    assert "请选择申报类别" in field_error(response.text, "category")
    assert "目前 480 字" in field_error(response.text, "abstract")
    assert "已填写 <strong>480</strong> 字" in response.text
    short = repost(client, event, response.text, abstract="很短的摘要", category="2")
    assert "目前只有 5 字" in field_error(short.text, "abstract")


def test_the_same_form_sent_twice_registers_once(app, client):
    event = new_call(app)
    page = client.get(submit_url(event))
    key = form_values(page.text)["submission_key"]
    token = csrf_token_from(page.text)
    first = client.post(submit_url(event), data={**case_data(), "submission_key": key,
                                                  "csrf_token": token},
                        content_type="multipart/form-data")
    second = client.post(submit_url(event), data={**case_data(), "submission_key": key,
                                                   "csrf_token": token},
                         content_type="multipart/form-data")
    assert first.status_code == 302
    assert second.status_code == 409 and "请勿重复提交" in second.text
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 1


# --- the deadline ------------------------------------------------------------------------

def test_the_last_day_is_open_and_the_next_day_is_closed(app, client):
    today = china_today()
    last_day = new_call(app, deadline=today)
    closed = new_call(app, deadline=today - timedelta(days=1))
    assert submitted(client, last_day)

    page = client.get(submit_url(closed))
    assert page.status_code == 200 and "在线申报已截止" in page.text
    assert 'type="file"' not in page.text
    token = csrf_token_from(client.get(submit_url(last_day)).text)
    refused = client.post(submit_url(closed), data={**case_data(), "csrf_token": token},
                          content_type="multipart/form-data")
    assert refused.status_code == 409 and "已于" in refused.text and "截止" in refused.text
    notice = client.get(f"/events/{closed.key}")
    assert "在线申报已于" in notice.text and submit_url(closed) not in notice.text
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 1


def test_only_a_published_call_takes_cases(app, client):
    hidden = new_call(app, published=False)
    meeting = new_call(app, kind="meeting")
    assert client.get(submit_url(hidden)).status_code == 404
    assert client.get(submit_url(meeting)).status_code == 404
    assert client.get("/events/no-such-call/submit").status_code == 404


def test_no_fee_is_mentioned_on_the_notice_or_the_form(app, client):
    event = new_call(app)
    notice = client.get(f"/events/{event.key}")
    form = client.get(submit_url(event))
    assert f'href="{submit_url(event)}"' in notice.text and "在线申报" in notice.text
    assert "即将开放" not in notice.text
    assert "报送邮箱" in notice.text
    for page in (notice.text, form.text):
        for word in ("缴费", "汇款", "服务费", "收费标准", "账号", " 元", "元/人", "发票"):
            assert word not in page, word
        assert "不收取任何费用" in page


# --- the repeat guard ----------------------------------------------------------------------

def _earlier_case(year_back: int = 1, **values) -> Event:
    today = china_today()
    start = date(today.year - year_back, 3, 1)
    past = make_call(starts_on=start, deadline=date(start.year, 7, 31))
    stored = StoredFile(sha256="0" * 64, size=10, kind="docx", original_name="旧.docx")
    case = Submission(event_id=past.id, kind="case", code=f"CPAST{year_back:03d}",
                      unit_name=values.get("unit", UNIT),
                      unit_name_key=normalize_unit_name(values.get("unit", UNIT)),
                      title=values.get("title", TITLE),
                      title_key=normalize_title(values.get("title", TITLE)), category="1")
    case.versions = [SubmissionVersion(number=1, file=stored, paragraphs=[])]
    db.session.add(case)
    db.session.commit()
    return past


def test_a_case_sent_to_last_years_call_is_refused_beside_the_title(app, client):
    with app.app_context():
        past_year = _earlier_case().starts_on.year
    event = new_call(app, starts_on=date(china_today().year, 1, 1))
    # The same unit and title, spelled a little differently.
    response = post_case(client, event, case_data(
        unit_name="北京市朝阳区 六里屯街道办事处", title=f"《{TITLE.replace('“', '').replace('”', '')}》 "))
    assert response.status_code == 409
    assert field_error(response.text, "title") == (
        f"贵单位已于 {past_year} 年报送过《{TITLE}》，往年已报材料请勿重复报送。")
    assert form_values(response.text)["kept_application_form"]
    # Another title from the same unit is welcome.
    again = repost(client, event, response.text, title="社区食堂“幸福餐桌”助老服务项目")
    assert again.status_code == 302, _errors(again.text)


def test_the_same_case_twice_in_one_call_is_refused(app, client):
    event = new_call(app)
    submitted(client, event)
    response = post_case(client, event, case_data())
    assert response.status_code == 409
    assert "已在本次征集中报送过" in field_error(response.text, "title")


def test_a_later_calls_case_does_not_block_an_earlier_call(app, client):
    event = new_call(app)
    with app.app_context():
        _earlier_case(year_back=-1)  # next year's call (a test of the direction)
    assert submitted(client, event)


def test_normalize_title_ignores_spaces_punctuation_and_title_marks():
    assert normalize_title("《党建引领 “小区议事厅”》！") == normalize_title("党建引领小区议事厅")
    assert normalize_title("ABC 社区") == normalize_title("abc社区")
    assert normalize_title("社区A") != normalize_title("社区B")


# --- the private page -------------------------------------------------------------------

def test_another_token_is_404_and_files_are_only_the_cases_own(app, client):
    event = new_call(app)
    mine = submitted(client, event)
    theirs = submitted(client, event, title="社区食堂助老服务项目", unit_name="上海市徐汇区某街道")
    assert client.get("/c/" + "x" * 32).status_code == 404
    assert client.get("/c/").status_code == 404
    with app.app_context():
        by_title = {s.title: s for s in db.session.scalars(select(Submission))}
        their_file = by_title["社区食堂助老服务项目"].latest_version.file_id
        my_photo = by_title[TITLE].current_attachments("photo")[0]
        my_photo_id, my_text_id = my_photo.file_id, by_title[TITLE].latest_version.file_id
    assert client.get(f"/c/{mine}/files/{their_file}").status_code == 404
    assert client.get(f"/c/{theirs}/files/{their_file}").status_code == 200
    photo = client.get(f"/c/{mine}/files/{my_photo_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.data.startswith(b"\xff\xd8\xff")
    text = client.get(f"/c/{mine}/files/{my_text_id}")
    assert text.headers["Content-Disposition"].startswith("attachment")
    assert text.data.startswith(b"PK")


def test_replacing_the_text_keeps_every_version(app, client):
    event = new_call(app)
    token = submitted(client, event)
    page = client.get(f"/c/{token}")
    new_text = word_file("党建引领小区议事厅（修订稿）")
    response = client.post(f"/c/{token}/text", data={
        "csrf_token": csrf_token_from(page.text), "text_docx": upload(new_text, "修订稿.docx")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    shown = client.get(f"/c/{token}").text
    assert "第 2 版" in shown and "第 1 版" in shown and "修订稿.docx" in shown
    assert "议事厅案例.docx" in shown
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert [v.number for v in case.versions] == [1, 2]
        assert case.latest_version.paragraphs[0]["text"] == "党建引领小区议事厅（修订稿）"
        assert case.version_count == 2
        # The PDF sent with version 1 stays: only a new PDF would replace it.
        assert len(case.current_attachments("text_pdf")) == 1
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "case.text_replaced")) is not None


def test_replacing_a_photo_and_the_form_keeps_the_old_ones(app, client):
    event = new_call(app)
    token = submitted(client, event)
    page = client.get(f"/c/{token}")
    values = form_values(page.text)
    assert values["caption_1"] == "议事厅协商现场"
    csrf = csrf_token_from(page.text)
    response = client.post(f"/c/{token}/photos", data={
        "csrf_token": csrf, "caption_1": "议事厅协商现场（2025 年 5 月）",
        "caption_2": "加装电梯竣工", "caption_3": "居民满意度回访",
        "photo_2": upload(image_file("PNG", (1, 2, 3)), "新竣工照.png")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    response = client.post(f"/c/{token}/forms", data={
        "csrf_token": csrf, "application_form": upload(pdf_file("申报表"), "新申报表.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        case = db.session.scalar(select(Submission))
        current = case.current_attachments("photo")
        assert [(p.position, p.caption, p.file.original_name) for p in current] == [
            (1, "议事厅协商现场（2025 年 5 月）", "照片1.jpg"), (2, "加装电梯竣工", "新竣工照.png"),
            (3, "居民满意度回访", "照片3.jpg")]
        old = db.session.scalars(select(SubmissionAttachment).where(
            SubmissionAttachment.replaced_at.is_not(None))).all()
        assert sorted(a.role for a in old) == ["application_form", "photo", "photo"]
        assert case.current_attachments("application_form")[0].file.kind == "pdf"
    shown = client.get(f"/c/{token}").text
    assert "已更换的文件" in shown and "申报表盖章.png" in shown


def test_photos_cannot_drop_below_three_on_the_private_page(app, client):
    event = new_call(app)
    token = submitted(client, event)
    page = client.get(f"/c/{token}")
    response = client.post(f"/c/{token}/photos", data={
        **{k: v for k, v in form_values(page.text).items() if k.startswith("caption")},
        "csrf_token": csrf_token_from(page.text), "remove_3": "y"},
        content_type="multipart/form-data")
    assert response.status_code == 409
    assert "须保留 3～5 张图片" in field_error(response.text, "photo_1")
    with app.app_context():
        assert len(db.session.scalar(select(Submission)).current_attachments("photo")) == 3


def test_after_the_deadline_the_private_page_shows_the_result_and_refuses_changes(app, client):
    event = new_call(app, deadline=china_today())
    token = submitted(client, event)
    with app.app_context():
        call = db.session.get(Event, event.id)
        call.materials_deadline = call.registration_deadline = china_today() - timedelta(days=1)
        call.ends_on = max(call.ends_on, call.starts_on)
        case = db.session.scalar(select(Submission))
        case.selection = "selected"
        db.session.commit()
    page = client.get(f"/c/{token}")
    assert "评审结果：<strong>入选</strong>" in page.text and 'id="replace-text"' not in page.text
    assert "截止，材料不能再更换" in page.text
    open_call = new_call(app)
    csrf = csrf_token_from(client.get(submit_url(open_call)).text)  # the session's token
    response = client.post(f"/c/{token}/text", data={
        "csrf_token": csrf, "text_docx": upload(word_file("迟到的修订"), "迟到.docx")},
        content_type="multipart/form-data")
    assert response.status_code == 409 and "截止" in response.text
    with app.app_context():
        assert db.session.scalar(select(Submission)).version_count == 1


# --- the demo ----------------------------------------------------------------------------

def test_demo_loads_last_years_call_whose_case_cannot_be_sent_again(app, client):
    from confreg.demo import demo_case_token
    from confreg.demo_events import DEMO_CASES

    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["demo", "load"]).exit_code == 0  # adds nothing the second time
    today = china_today()
    with app.app_context():
        calls = db.session.scalars(select(Event).where(Event.kind == "call")
                                   .order_by(Event.starts_on)).all()
        last_year, this_year = calls
        assert last_year.starts_on.year == this_year.starts_on.year - 1
        assert last_year.phase(today) == "past" and this_year.registration_open(today)
        counts = dict(db.session.execute(
            select(Submission.event_id, func.count(Submission.id)).group_by(Submission.event_id)).all())
        assert counts == {last_year.id: 2, this_year.id: 3}
        for case in db.session.scalars(select(Submission)):
            assert case.latest_version.char_count > 100
            assert 3 <= len(case.current_attachments("photo")) <= 5
            assert case.current_attachments("application_form")
        old = next(c for c in DEMO_CASES if c["years_back"] == 1)
        this_key, last_key = this_year.key, last_year.key
        last_year_year = last_year.starts_on.year
    assert client.get(f"/events/{last_key}/submit").status_code == 200  # the closed page
    assert "在线申报已截止" in client.get(f"/events/{last_key}/submit").text
    event = SimpleNamespace(key=this_key)
    response = post_case(client, event, case_data(unit_name=old["unit_name"], title=old["title"]))
    assert response.status_code == 409
    assert field_error(response.text, "title") == (
        f"贵单位已于 {last_year_year} 年报送过《{old['title']}》，往年已报材料请勿重复报送。")
    with app.app_context():
        call = db.session.scalar(select(Event).where(Event.key == this_key))
        page = client.get(f"/c/{demo_case_token(call, 3)}")
    assert page.status_code == 200 and "多民族社区" in page.text


def test_a_wrong_credit_code_or_an_odd_choice_is_refused_beside_its_field(app, client):
    event = new_call(app)
    response = post_case(client, event, case_data(credit_code="91110105MA01ABCD1X",
                                                  category="9", recommendation="nonsense"))
    assert response.status_code == 422
    assert "统一社会信用代码" in field_error(response.text, "credit_code") or \
        "校验位" in field_error(response.text, "credit_code")
    assert field_error(response.text, "category") and field_error(response.text, "recommendation")
    # A code that passes the GB 32100 check is stored normalised.
    again = repost(client, event, response.text, credit_code="51310104mj49471538",
                   category="2", recommendation="member")
    assert again.status_code == 302, _errors(again.text)
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert case.credit_code == "51310104MJ49471538" and case.member_unit_id is None


def test_a_kept_file_older_than_twelve_hours_must_be_chosen_again(app, client):
    """Kept files are signed with a time: well before `flask uploads prune` (a day) may
    remove an unsent form's files, the form asks for them again instead."""
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class ThirteenHoursAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 13 * 3600

    event = new_call(app)
    first = post_case(client, event, case_data(photos=2))
    values = form_values(first.text)
    with app.app_context():
        file_id = URLSafeTimedSerializer(app.secret_key, salt="case-upload").loads(
            values["kept_application_form"])
    stale = URLSafeTimedSerializer(app.secret_key, salt="case-upload",
                                   signer=ThirteenHoursAgo).dumps(file_id)
    response = client.post(submit_url(event), data={
        **values, "kept_application_form": stale,
        "photo_3": upload(image_file(), "照片3.jpg"), "caption_3": "第三张"},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "请重新选择" in field_error(response.text, "application_form")
