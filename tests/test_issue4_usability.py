"""What a new user found in issue 4's features: a decided submission can no longer be
changed by its unit, a registration holding a certificate can no longer be cancelled, the
material section says the file goes up on the page (not by e-mail), the events list speaks
of a call's cases, upload messages name what the field takes, a reviewer goes on to the next
material, a meeting's criteria hints fit its materials, and counts carry a thousands separator."""
import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import Certificate, Event, Registration, Submission
from confreg.services import ServiceError
from confreg.services.desk import cancel_by_staff
from confreg.services.materials import DECIDED_MESSAGE, MaterialDetails, save_material
from confreg.services.registrations import cancel_registration
from confreg.services.review import criteria_of
from confreg.services.uploads import (DOCUMENT_KINDS, IMAGE_KINDS, SCAN_KINDS, UploadRefused,
                                      check_upload)
from confreg.templating import thousands
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, docx_bytes, form_values, make_event
from tests.test_admin_registrations import flashed, new_event, post_action, register
from tests.test_cases import image_file, new_call, pdf_file, submitted, upload, word_file
from tests.test_materials import WORD, material, text_of
from tests.test_materials import upload as upload_material
from tests.test_review import add_submission, assign, in_app, score


@pytest.fixture
def event(app):
    return new_event(app, materials_note="交流材料请于8月1日前发电子版至 zhongguoshequ@vip.163.com。")


@pytest.fixture
def unit(app, event):
    return register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])


def decide(app, selection="selected", **where):
    with app.app_context():
        submission = db.session.scalar(select(Submission).filter_by(**where))
        submission.selection = selection
        db.session.commit()


# --- 1. a decided submission stays as it was judged ------------------------------------------

def test_a_decided_material_can_no_longer_be_replaced_or_edited(app, client, unit):
    assert upload_material(client, unit.token).status_code == 302
    section = client.get(f"/r/{unit.token}").text
    assert 'class="material-form"' in section  # still open before the decision
    csrf = csrf_token_from(section)

    decide(app, "not_selected", registration_id=unit.id)

    for page in (client.get(f"/r/{unit.token}").text,
                 client.get(f"/r/{unit.token}/material").text):
        assert 'class="material-form"' not in page and DECIDED_MESSAGE in page
    posted = client.post(f"/r/{unit.token}/material", data={
        "csrf_token": csrf, "title": "改过的标题", "authors": "马晓明",
        "file": (io.BytesIO(WORD), "改稿.docx")}, content_type="multipart/form-data")
    assert posted.status_code == 302
    assert DECIDED_MESSAGE in client.get(posted.headers["Location"]).text
    saved = material(app, unit.id)
    assert saved.version_count == 1 and saved.title == "党建引领物业服务融入社区治理的实践探索"
    with app.test_request_context():
        registration = db.session.get(Registration, unit.id)
        for upload_file in (None, FileStorage(io.BytesIO(WORD), "a.docx")):
            with pytest.raises(ServiceError) as refused:
                save_material(registration, MaterialDetails("新标题", "作者"), upload_file,
                              today=china_today(), actor="单位")
            assert refused.value.message == DECIDED_MESSAGE
            db.session.rollback()


def test_a_decided_case_can_no_longer_change_its_text_photos_or_form(app, client):
    call = new_call(app)
    token = submitted(client, call)
    before = client.get(f"/c/{token}").text
    assert 'id="replace-text"' in before
    csrf = csrf_token_from(before)  # the form as it was, posted after the decision

    decide(app, "selected", kind="case")

    page = client.get(f"/c/{token}").text
    for form_id in ("replace-text", "replace-photos", "replace-forms"):
        assert f'id="{form_id}"' not in page
    assert DECIDED_MESSAGE in page
    posts = {
        "text": {"text_docx": upload(word_file("入选后的修改"), "改稿.docx")},
        "photos": {"caption_1": "新说明", "caption_2": "二", "caption_3": "三",
                   "photo_1": upload(image_file("PNG", (9, 9, 9)), "新.png")},
        "forms": {"application_form": upload(pdf_file("申报表"), "新申报表.pdf")},
    }
    for action, data in posts.items():
        response = client.post(f"/c/{token}/{action}", data={"csrf_token": csrf, **data},
                               content_type="multipart/form-data")
        assert response.status_code == 409 and DECIDED_MESSAGE in response.text, action
    with app.app_context():
        case = db.session.scalar(select(Submission))
        assert case.version_count == 1
        assert [a.caption for a in case.current_attachments("photo")] == [
            "议事厅协商现场", "加装电梯竣工", "居民满意度回访"]
        assert all(a.replaced_at is None for a in case.attachments)


# --- 2. a certificate stops the cancelling ---------------------------------------------------

def issue_certificate(app, registration_id, status="issued") -> str:
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        event = registration.event
        number = f"JY{event.id:04d}-{registration_id:04d}"
        db.session.add(Certificate(
            event_id=event.id, kind="completion", sequence=registration_id, number=number,
            subject_key=f"attendee:{registration.attendees[0].id}",
            registration_id=registration.id, attendee_id=registration.attendees[0].id,
            recipient="张伟", unit_name=registration.unit_name, event_title=event.title,
            event_dates="测试日期", organiser=event.organiser, issued_on=china_today(),
            status=status, void_reason="作废测试" if status == "void" else ""))
        db.session.commit()
        return number


def test_a_registration_holding_a_certificate_cannot_be_cancelled(app, client, staff_client,
                                                                  event, unit):
    assert "取消报名" in client.get(f"/r/{unit.token}").text
    number = issue_certificate(app, unit.id)

    assert "取消报名…" not in client.get(f"/r/{unit.token}").text
    page = client.get(f"/r/{unit.token}/cancel")
    assert page.status_code == 302
    assert f"已发放证书（编号 {number}）" in client.get(page.headers["Location"]).text
    staff = staff_client("staff")
    refused = post_action(staff, unit.id, "cancel", {"reason": "单位来函不参加"})
    assert f"已发放证书（编号 {number}）" in flashed(staff, refused)
    with app.test_request_context():
        registration = db.session.get(Registration, unit.id)
        for cancel in (lambda: cancel_registration(registration, today=china_today(),
                                                   now=utcnow(), actor="单位"),
                       lambda: cancel_by_staff(registration, "原因", now=utcnow(),
                                               actor="会务组")):
            with pytest.raises(ServiceError) as error:
                cancel()
            assert number in error.value.message
            db.session.rollback()
        assert db.session.get(Registration, unit.id).status == "active"


def test_a_void_certificate_does_not_stop_the_cancelling(app, client, event, unit):
    issue_certificate(app, unit.id, status="void")
    assert "取消报名…" in client.get(f"/r/{unit.token}").text
    with app.test_request_context():
        cancel_registration(db.session.get(Registration, unit.id), today=china_today(),
                            now=utcnow(), actor="单位")
        db.session.commit()
        assert db.session.get(Registration, unit.id).status == "cancelled"


# --- 3. the notice's e-mail address is the notice's, not what to do now ---------------------

def test_the_material_section_says_to_upload_here_and_quotes_the_notice(app, client, unit):
    page = text_of(client.get(f"/r/{unit.token}").text)

    online = page.index("请在本页上传，无需另发邮件。")
    quoted = page.index("通知原文： 交流材料请于8月1日前发电子版至 zhongguoshequ@vip.163.com。")
    assert online < quoted
    with app.app_context():
        assert "zhongguoshequ@vip.163.com" in db.session.scalar(select(Event.materials_note))


# --- 4. the events list speaks of a call's cases ---------------------------------------------

def test_the_events_list_counts_a_calls_cases_and_says_where_it_stands(app, client,
                                                                       staff_client):
    open_call = new_call(app)
    submitted(client, open_call)
    closed_call = new_call(app, starts_on=china_today() - timedelta(days=30),
                           deadline=china_today() - timedelta(days=1))
    with app.app_context():
        call = db.session.get(Event, closed_call.id)
        call.ends_on = china_today() + timedelta(days=5)
        call.title = "已截止的征集"
        db.session.commit()
        make_event(title="某会议")

    page = staff_client("staff").get("/admin/events/").text

    rows = {row.split("</strong>")[0].rsplit(">", 1)[-1]: text_of(row)
            for row in page.split("<tr>")[2:]}
    [open_row] = [r for title, r in rows.items() if "资料库" in title]
    assert "申报 1 份" in open_row and "征集中" in open_row and "已报名" not in open_row
    assert "征集已截止" in rows["已截止的征集"] and "申报 0 份" in rows["已截止的征集"]
    assert "报名中" in rows["某会议"] and "0 人" in rows["某会议"]
    assert '<td data-label="状态" class="nowrap">报名中</td>' in page
    assert 'data-label="申报截止"' in page


# --- 5. what the refusal and the labels say --------------------------------------------------

def test_the_material_form_names_its_file_field_as_its_label_does(app, client, unit):
    upload_material(client, unit.token)

    response = upload_material(client, unit.token, data=b"MZ\x90\x00" + b"\x00" * 300,
                               name="改稿.docx")

    assert response.status_code == 422
    html = response.text
    assert "更换文件（选填）" in html and "材料文件（Word .docx 或 PDF）" not in html
    assert "更换文件（选填）：材料文件只接受" in text_of(html)
    assert "这是可执行程序，不是文档，已拒收。" in text_of(html)


def test_the_first_photos_captions_are_marked_required_on_the_case_form(app, client):
    call = new_call(app)
    html = client.get(f"/events/{call.key}/submit").text

    def label(n):
        return html.split(f'<label for="caption_{n}">')[1].split("</label>")[0]

    assert all('class="req"' in label(n) for n in (1, 2, 3))
    assert 'class="req"' not in label(4) and 'class="req"' not in label(5)


# --- 6. the reviewer goes on; a meeting's hints ----------------------------------------------

@pytest.fixture
def reviewing(app, staff_client):
    def data():
        event = make_event(kind="call", title="2026 经验案例材料征集")
        return [add_submission(event, title=title).id
                for title in ("第一份案例", "第二份案例")]
    first, second = in_app(app, data)
    reviewer = staff_client("reviewer")
    from confreg.models import User
    me = in_app(app, lambda: db.session.scalar(
        select(User.id).where(User.email == "reviewer@example.cn")))
    return reviewer, assign(app, first, me)[0], assign(app, second, me)[0]


def test_after_saving_a_score_the_reviewer_is_offered_the_next_material(app, reviewing):
    reviewer, first, second = reviewing
    page = reviewer.get(f"/admin/review/{first}")
    assert "下一份待评材料" not in page.text  # not before scoring

    saved = reviewer.post(f"/admin/review/{first}", data={
        **form_values(page.text), "score_authenticity": "80", "score_conformity": "70",
        "score_innovation": "75", "comment": "扎实。"})
    after = reviewer.get(saved.headers["Location"]).text

    assert "评分已保存" in after
    assert f'href="/admin/review/{second}">下一份待评材料' in after and "《第二份案例》" in after
    assert 'href="/admin/review">‹ 返回我的评审' in after
    score(app, second, 80, 80, 80)
    done = reviewer.get(f"/admin/review/{second}").text
    assert "下一份待评材料" not in done and "分配给您的材料都已评分" in done


def test_a_meetings_materials_get_hints_that_fit_them_with_the_calls_weights(app_ctx):
    meeting, call = make_event(), make_event(kind="call")

    for_meeting, for_call = criteria_of(meeting), criteria_of(call)

    assert [c["hint"] for c in for_meeting] == ["内容真实、数据可靠", "结构完整、约3000字",
                                                "做法新颖、可复制推广"]
    assert "近三年已实施" in for_call[0]["hint"]
    assert [(c["key"], c["label"], c["weight"]) for c in for_meeting] == [
        (c["key"], c["label"], c["weight"]) for c in for_call] == [
        ("authenticity", "真实性", 40), ("conformity", "规范性", 30), ("innovation", "创新性", 30)]


# --- 5 (uploads) and 7 -----------------------------------------------------------------------

@pytest.mark.parametrize("allowed, said", [
    (DOCUMENT_KINDS, "不是文档，"), (IMAGE_KINDS, "不是图片，"), (SCAN_KINDS, "不是 PDF 文件或图片，"),
    (DOCUMENT_KINDS | IMAGE_KINDS, "不是文档或图片，")])
def test_a_program_is_refused_naming_what_the_field_takes(app_ctx, allowed, said):
    with pytest.raises(UploadRefused) as refused:
        check_upload(FileStorage(io.BytesIO(b"MZ\x90\x00" + b"\x00" * 300), "x.jpg"),
                     allowed=allowed, field="f", label="文件")
    assert f"这是可执行程序，{said}已拒收。" in refused.value.message


def test_character_counts_carry_the_thousands_separator(app, client, unit):
    assert (thousands(3090), thousands(0), thousands(None)) == ("3,090", "0", "0")
    long_text = docx_bytes([("paragraph", "社区治理" * 300)])  # 1,200 汉字
    assert upload_material(client, unit.token, data=long_text,
                           name="长稿.docx").status_code == 302
    page = text_of(client.get(f"/r/{unit.token}").text)
    assert "约 1,200 字" in page and "1200" not in page
