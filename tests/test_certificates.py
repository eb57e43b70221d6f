"""Certificates: who is owed one, numbers per event and kind, voiding and reissuing, the PDF
read back with pdftotext and pdfinfo, the staff desk and the unit's own downloads."""
import re
import secrets
import subprocess
from datetime import date

import pytest
from sqlalchemy import select

from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import AuditEntry, Certificate, Submission
from confreg.models.registrations import hash_token
from confreg.pdf.certificate import CertificateData, render_certificates
from confreg.services import ServiceError
from confreg.services.certificates import (eligible_subjects, event_dates_cn,
                                           issue_certificate, issue_certificates, kinds_for,
                                           outdated_certificates, pending_subjects,
                                           void_certificate)
from confreg.services.registrations import AttendeeDetails, UnitDetails, register_unit
from confreg.services.submissions import new_submission_code
from confreg.timeutil import china_today
from tests.conftest import csrf_token_from, make_event, post_form, run_job

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"]


# --- helpers (also used by the attendance and concurrency tests) -----------------------------

def register(event, unit_name="西宁市城东区东关大街街道办事处", people=1):
    """An active registration of `people` attendees; returns (registration, token)."""
    registration, token = register_unit(
        event.id,
        UnitDetails(unit_name=unit_name, tier_claim="other", province="青海省", city="西宁市",
                    contact_name="马晓明", contact_mobile="13912345678",
                    contact_email="contact@example.cn"),
        [AttendeeDetails(name=NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i)),
                         gender="M", title="主任", mobile=f"1391234{5000 + i:04d}",
                         accommodation="shared", arrival_on=event.starts_on,
                         departure_on=event.ends_on) for i in range(people)],
        today=china_today(), now=utcnow())
    db.session.commit()
    return registration, token


def add_submission(event, *, registration=None, unit_name=None, title="党建引领物业服务的实践与思考",
                   kind="material", selection="pending", presented=False, commented=False,
                   status="submitted", token=None) -> Submission:
    unit_name = unit_name or (registration.unit_name if registration else "某某社区居委会")
    submission = Submission(
        event_id=event.id, kind=kind, code=new_submission_code(),
        registration_id=registration.id if registration else None,
        token_hash=hash_token(token) if token else None, status=status,
        unit_name=unit_name, unit_name_key=unit_name, title=title, title_key=title,
        selection=selection, presented=presented, commented=commented,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def training_event(**overrides):
    return make_event(kind="training", title="城乡社区养老服务创新发展培训班",
                      short_title="昆明培训班", **overrides)


def complete(*attendees):
    for attendee in attendees:
        attendee.completed_at = utcnow()
        attendee.completed_by = "测试"
    db.session.commit()


def pdf_text(content: bytes, tmp_path, name="c.pdf", layout=False) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(path), "-"]
    return subprocess.run(args, capture_output=True, check=True, text=True).stdout


def pdf_info(content: bytes, tmp_path, name="i.pdf") -> dict:
    path = tmp_path / name
    path.write_bytes(content)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def flat(text: str) -> str:
    """pdftotext's text without the line breaks and spaces a wrapped paragraph gains."""
    return re.sub(r"\s+", "", text)


# --- who is owed one ----------------------------------------------------------------------

def test_written_certificates_go_to_selected_materials_and_cases_still_submitted(app_ctx):
    event = make_event()
    reg_a, _ = register(event, "甲街道办事处")
    reg_b, _ = register(event, "乙街道办事处")
    reg_c, _ = register(event, "丙街道办事处")
    selected = add_submission(event, registration=reg_a, selection="selected")
    add_submission(event, registration=reg_b, selection="not_selected")
    add_submission(event, registration=reg_c, selection="selected", status="withdrawn")
    case = add_submission(event, kind="case", unit_name="丁社工机构", selection="selected",
                          token="t" * 20)
    add_submission(event, kind="case", unit_name="戊社工机构", selection="pending", token="u" * 20)

    owed = eligible_subjects(event, "written")

    assert {e.submission_id for e in owed} == {selected.id, case.id}
    by_id = {e.submission_id: e for e in owed}
    assert by_id[selected.id].recipient == "甲街道办事处"
    assert by_id[selected.id].work_title == "党建引领物业服务的实践与思考"


def test_comment_certificates_need_both_presented_and_commented(app_ctx):
    event = make_event()
    both = add_submission(event, unit_name="甲", presented=True, commented=True)
    add_submission(event, unit_name="乙", presented=True, commented=False)
    add_submission(event, unit_name="丙", presented=False, commented=True)

    assert [e.submission_id for e in eligible_subjects(event, "comment")] == [both.id]


def test_a_call_for_cases_gives_only_written_certificates_never_comment_ones(app_ctx):
    # A call has no meeting to speak at: "在“…征集”上作交流发言" would make no sense.
    call = make_event(kind="call", title="2026年度城乡社区服务创新案例征集")
    case = add_submission(call, kind="case", unit_name="丁社工机构", selection="selected",
                          presented=True, commented=True, token="c" * 20)

    assert kinds_for(call) == ["written"]
    assert [e.submission_id for e in eligible_subjects(call, "written")] == [case.id]
    with pytest.raises(ServiceError, match="专家点评证书"):
        eligible_subjects(call, "comment")
    with pytest.raises(ServiceError, match="专家点评证书"):
        issue_certificates(call, "comment", actor="测试")
    assert "comment" in kinds_for(make_event())   # a meeting still gives them


def test_a_comment_certificate_issued_before_the_event_became_a_call_is_listed_as_outdated(app_ctx):
    event = make_event()
    add_submission(event, unit_name="甲", presented=True, commented=True)
    [issued] = issue_certificates(event, "comment", actor="测试")
    event.kind = "call"
    db.session.flush()

    assert [(o.certificate.id, o.reason) for o in outdated_certificates(event)] == [
        (issued.id, "材料征集不发专家点评证书")]


def test_completion_certificates_go_to_completed_trainees_of_active_registrations(app_ctx, today):
    event = training_event()
    registration, _ = register(event, "昆明市五华区华山街道", people=3)
    cancelled, _ = register(event, "昆明市盘龙区拓东街道", people=1)
    first, second, third = registration.attendees
    complete(first, third, cancelled.attendees[0])
    cancelled.cancel(utcnow())
    db.session.commit()

    owed = eligible_subjects(event, "completion")

    assert [(e.recipient, e.unit_name) for e in owed] == [(first.name, "昆明市五华区华山街道"),
                                                          (third.name, "昆明市五华区华山街道")]


def test_a_meeting_gives_no_completion_certificates(app_ctx):
    event = make_event()  # a meeting
    with pytest.raises(ServiceError, match="培训班"):
        issue_certificates(event, "completion", actor="测试")


# --- numbers ------------------------------------------------------------------------------

def test_numbers_run_from_one_per_event_and_kind(app_ctx):
    first_event, second_event = make_event(), make_event()
    for event in (first_event, second_event):
        for n in range(3):
            add_submission(event, unit_name=f"单位{n}", selection="selected", presented=n < 2,
                           commented=n < 2)

    written = issue_certificates(first_event, "written", actor="测试")
    comment = issue_certificates(first_event, "comment", actor="测试")
    other = issue_certificates(second_event, "written", actor="测试")
    db.session.commit()

    year = first_event.starts_on.year
    assert [c.number for c in written] == [f"SM{year}-{first_event.id:03d}-000{n}" for n in (1, 2, 3)]
    assert [c.number for c in comment] == [f"DP{year}-{first_event.id:03d}-000{n}" for n in (1, 2)]
    assert [c.sequence for c in other] == [1, 2, 3]
    assert other[0].number == f"SM{year}-{second_event.id:03d}-0001"


def test_generating_again_issues_nothing_new_and_only_the_newly_eligible_later(app_ctx):
    event = make_event()
    add_submission(event, unit_name="甲", selection="selected")
    add_submission(event, unit_name="乙", selection="selected")
    assert len(issue_certificates(event, "written", actor="测试")) == 2
    db.session.commit()

    assert issue_certificates(event, "written", actor="测试") == []
    db.session.commit()
    add_submission(event, unit_name="丙", selection="selected")
    later = issue_certificates(event, "written", actor="测试")
    db.session.commit()

    assert [(c.recipient, c.sequence) for c in later] == [("丙", 3)]
    assert db.session.query(Certificate).count() == 3
    assert pending_subjects(event, "written") == []


def test_voiding_keeps_the_number_and_a_reissue_takes_the_next(app_ctx):
    event = make_event()
    submission = add_submission(event, unit_name="甲", selection="selected")
    add_submission(event, unit_name="乙", selection="selected")
    issued = issue_certificates(event, "written", actor="测试")
    db.session.commit()
    first = next(c for c in issued if c.submission_id == submission.id)
    kept = first.sequence

    with pytest.raises(ServiceError) as refused:
        void_certificate(first, "  ", actor="测试")
    assert refused.value.field == "reason"
    db.session.rollback()
    void_certificate(first, "单位名称有误", actor="测试")
    db.session.commit()
    reissued = issue_certificates(event, "written", actor="测试")
    db.session.commit()

    assert first.status == "void" and first.sequence == kept and first.void_reason == "单位名称有误"
    assert [(c.submission_id, c.sequence) for c in reissued] == [(submission.id, 3)]
    assert sorted(c.number for c in db.session.scalars(select(Certificate))) == [
        f"SM{event.starts_on.year}-{event.id:03d}-000{n}" for n in (1, 2, 3)]
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("certificate.issued") == 2 and "certificate.voided" in actions
    with pytest.raises(ServiceError, match="已于此前作废"):
        void_certificate(first, "再次", actor="测试")


def test_a_single_issue_refuses_a_second_valid_certificate_for_one_subject(app_ctx):
    event = make_event()
    submission = add_submission(event, unit_name="甲", selection="selected")
    issue_certificate(event, "written", f"submission:{submission.id}", actor="测试")
    db.session.commit()

    with pytest.raises(ServiceError, match="已有有效"):
        issue_certificate(event, "written", f"submission:{submission.id}", actor="测试")


def test_a_certificate_is_a_snapshot_of_the_day_it_was_issued(app_ctx):
    event = make_event()
    submission = add_submission(event, unit_name="甲街道", title="原标题", selection="selected")
    certificate, = issue_certificates(event, "written", actor="测试")
    db.session.commit()

    submission.unit_name, submission.title = "改名后的街道", "新标题"
    event.title = "改名后的会议"
    db.session.commit()

    assert (certificate.recipient, certificate.work_title) == ("甲街道", "原标题")
    assert certificate.event_title == "全国基层物业管理服务创新发展经验交流会"


def test_event_dates_are_written_in_chinese():
    class E:  # only the dates matter
        def __init__(self, start, end):
            self.starts_on, self.ends_on = start, end

    assert event_dates_cn(E(date(2027, 8, 20), date(2027, 8, 23))) == "2027年8月20日至23日"
    assert event_dates_cn(E(date(2027, 8, 30), date(2027, 9, 2))) == "2027年8月30日至9月2日"
    assert event_dates_cn(E(date(2027, 12, 30), date(2028, 1, 2))) == "2027年12月30日至2028年1月2日"
    assert event_dates_cn(E(date(2027, 8, 20), date(2027, 8, 20))) == "2027年8月20日"


# --- the PDF ------------------------------------------------------------------------------

def sample(kind="written", **overrides) -> CertificateData:
    values = dict(kind=kind, title={"written": "书面交流证书", "comment": "专家点评证书",
                                    "completion": "结业证书"}[kind],
                  number="SM2027-012-0001", recipient="西宁市城东区东关大街街道办事处",
                  unit_name="西宁市城东区东关大街街道办事处", work_title="红色物业的实践与思考",
                  event_title="全国基层物业管理服务创新发展经验交流会",
                  event_dates="2027年8月20日至23日", organiser="中国社会工作联合会城乡社区工作委员会",
                  issued_on=date(2027, 8, 23))
    values.update(overrides)
    return CertificateData(**values)


def test_each_certificate_is_one_landscape_a4_page_with_everything_on_it(tmp_path):
    certificates = [sample("written"),
                    sample("comment", number="DP2027-012-0001"),
                    sample("completion", number="JY2027-012-0001", recipient="张伟",
                           unit_name="昆明市五华区华山街道", work_title="",
                           event_title="城乡社区养老服务创新发展培训班",
                           event_dates="2027年6月21日至25日")]

    content = render_certificates(certificates)

    info = pdf_info(content, tmp_path)
    assert info["Pages"].strip() == "3"
    width, height = map(float, re.findall(r"[\d.]+", info["Page size"])[:2])
    assert (round(width), round(height)) == (842, 595)  # A4, landscape
    pages = pdf_text(content, tmp_path).split("\f")
    written, comment, completion = (flat(p) for p in pages[:3])
    for page, title, number in ((written, "书面交流证书", "SM2027-012-0001"),
                                (comment, "专家点评证书", "DP2027-012-0001"),
                                (completion, "结业证书", "JY2027-012-0001")):
        assert title in page and f"证书编号：{number}" in page
        assert "中国社会工作联合会城乡社区工作委员会" in page and "（盖章）" in page
        assert "特发此证。" in page
    assert "二〇二七年八月二十三日" in written
    assert ("西宁市城东区东关大街街道办事处：贵单位报送的《红色物业的实践与思考》经专家评审，"
            "入选“全国基层物业管理服务创新发展经验交流会”书面交流材料。") in written
    assert "贵单位在“全国基层物业管理服务创新发展经验交流会”上作交流发言《红色物业的实践与思考》" in comment
    assert ("张伟同志（昆明市五华区华山街道）于2027年6月21日至25日参加“城乡社区养老服务创新发展培训班”，"
            "完成全部培训课程，准予结业。") in completion
    assert "二〇二七年六月" not in completion  # the issue date is the certificate's, not the course's
    assert "作废" not in "".join(pages)


def test_long_names_and_titles_stay_inside_the_border(tmp_path):
    long_unit = "新疆维吾尔自治区乌鲁木齐市天山区幸福路街道办事处党工委社区建设与社会工作服务中心" * 2
    long_title = "关于在城乡社区治理中发挥社会工作专业优势推动五社联动机制建设的实践探索与思考" * 3
    content = render_certificates([sample(recipient=long_unit, unit_name=long_unit,
                                          work_title=long_title,
                                          organiser="中国社会工作联合会城乡社区工作委员会、" * 3)])
    path = tmp_path / "long.pdf"
    path.write_bytes(content)
    bbox = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout
    words = [tuple(float(v) for v in m) for m in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', bbox)]
    border = 12.5 / 25.4 * 72  # the inner border, in points from the page edge
    outside = [w for w in words if w[0] < border or w[1] < border
               or w[2] > 841.89 - border or w[3] > 595.28 - border]
    assert words and outside == []
    assert flat(long_title) in flat(pdf_text(content, tmp_path))
    # The body and the signature block do not overlap: the body ends above the organiser.
    assert pdf_info(content, tmp_path)["Pages"].strip() == "1"


# Titles whose length made ReportLab's own CJK wrapping put 》 or ， or ” at the start of a
# line, “ or 《 at the end of one, or "证。" alone on the last line (found by rendering).
AWKWARD = "社区治理现代化背景下五社联动机制推动老旧小区改造的实践探索"
NO_LINE_START = "》，。、）”；：？！"
NO_LINE_END = "《“（"


def _body_lines(content: bytes, tmp_path, name: str) -> list[list[str]]:
    """Each page's text lines, stripped, from `pdftotext -layout`."""
    return [[line.strip() for line in page.splitlines() if line.strip()]
            for page in pdf_text(content, tmp_path, name, layout=True).split("\f")]


@pytest.mark.parametrize("kind,length", [("written", 14), ("written", 17), ("written", 18),
                                         ("written", 24), ("written", 28), ("comment", 21),
                                         ("comment", 22)])
def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one(tmp_path, kind, length):
    data = sample(kind, work_title=AWKWARD[:length])
    [lines, *_] = _body_lines(render_certificates([data]), tmp_path, f"{kind}{length}.pdf")

    assert [line for line in lines if line[0] in NO_LINE_START] == []
    assert [line for line in lines if line[-1] in NO_LINE_END] == []
    # The closing words stay together: never "特发此 / 证。".
    assert any(line.endswith("特发此证。") for line in lines)
    assert flat(data.work_title) in flat("".join(lines))


@pytest.mark.parametrize("unit,name", [("昆明市五华区华山街道办事处", "欧阳晓明"),
                                       ("西宁市城东区东关大街街道", "李娜娜"),
                                       ("西宁市城东区东关大街街道办事处社区", "张伟")])
def test_a_completion_certificate_keeps_the_course_dates_on_one_line(tmp_path, unit, name):
    data = sample("completion", recipient=name, unit_name=unit, work_title="",
                  event_title="城乡社区养老服务创新发展培训班")
    [lines, *_] = _body_lines(render_certificates([data]), tmp_path, "completion.pdf")

    assert any("2027年8月20日至23日" in line for line in lines)
    assert [line for line in lines if line[0] in NO_LINE_START] == []
    assert [line for line in lines if line[-1] in NO_LINE_END] == []


def test_the_last_line_of_a_paragraph_is_never_a_lone_character():
    from confreg.pdf.certificate import Run, break_lines

    # Ten characters fit a line; "证。" would be left alone on the third.
    lines = break_lines([Run("一二三四五六七八九十甲乙丙丁戊己庚辛壬癸证。", 10)], 100)
    texts = ["".join(char for char, _ in line) for line in lines]
    assert "".join(texts) == "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸证。"
    assert len(texts[-1]) >= 3 and texts[-1].endswith("证。")


def test_a_voided_certificate_prints_with_a_void_mark(tmp_path):
    text = flat(pdf_text(render_certificates([sample(void=True, void_reason="名称有误")]), tmp_path))
    assert "作废" in text and "本证书已作废：名称有误" in text


# --- the staff desk -----------------------------------------------------------------------

def test_staff_generate_print_and_void_certificates_on_the_desk(app, staff_client, worker,
                                                                tmp_path):
    with app.app_context():
        event = make_event()
        registration, _ = register(event, "甲街道办事处")
        add_submission(event, registration=registration, selection="selected")
        event_id = event.id
    client = staff_client("staff")
    index = f"/admin/events/{event_id}/certificates?kind=written"

    page = client.get(index)
    assert page.status_code == 200 and "生成证书（1 张）" in page.text
    state, _ = run_job(client, f"/admin/events/{event_id}/certificates/written/generate",
                       worker, page_url=index)  # numbering runs in the worker
    assert state["status"] == "done" and "已生成书面交流证书 1 张" in state["summary"]
    page = client.get(index)
    with app.app_context():
        certificate = db.session.scalars(select(Certificate)).one()
        number, certificate_id = certificate.number, certificate.id
    assert number in page.text and "已生成书面交流证书 1 张" in page.text
    assert "生成证书（" not in page.text

    state, printed = run_job(client, f"/admin/events/{event_id}/certificates/written/all.pdf",
                             worker, page_url=index)
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert number in flat(pdf_text(printed.data, tmp_path))

    empty = post_form(client, f"/admin/events/{event_id}/certificates/{certificate_id}/void",
                      {"reason": ""})
    assert empty.status_code == 422 and "请填写作废原因" in empty.text
    voided = post_form(client, f"/admin/events/{event_id}/certificates/{certificate_id}/void",
                       {"reason": "单位名称有误"}, follow_redirects=True)
    assert "已作废" in voided.text and "生成证书（1 张）" in voided.text
    single = client.get(f"/admin/events/{event_id}/certificates/{certificate_id}.pdf")
    assert "作废" in flat(pdf_text(single.data, tmp_path))


def test_the_desk_answers_404_for_an_unknown_kind_or_another_events_certificate(app, staff_client):
    with app.app_context():
        event, other = make_event(), make_event()
        add_submission(other, unit_name="甲", selection="selected")
        certificate, = issue_certificates(other, "written", actor="测试")
        db.session.commit()
        event_id, certificate_id = event.id, certificate.id
    client = staff_client("staff")

    token = csrf_token_from(client.get(f"/admin/events/{event_id}/certificates").text)
    assert client.post(f"/admin/events/{event_id}/certificates/completion/all.pdf",
                       data={"csrf_token": token}).status_code == 404  # a meeting has none
    assert client.get(f"/admin/events/{event_id}/certificates/{certificate_id}.pdf").status_code == 404


# --- the unit's downloads -----------------------------------------------------------------

def test_a_unit_downloads_its_own_certificates_and_not_another_units(app, client, tmp_path):
    with app.app_context():
        event = training_event()
        mine, my_token = register(event, "甲街道办事处", people=2)
        theirs, their_token = register(event, "乙街道办事处")
        add_submission(event, registration=mine, selection="selected", presented=True,
                       commented=True)
        complete(mine.attendees[0], theirs.attendees[0])
        for kind in ("written", "comment", "completion"):
            issue_certificates(event, kind, actor="测试")
        db.session.commit()
        numbers = {(c.kind, c.registration_id): c.number for c in db.session.scalars(select(Certificate))}
        trainee = mine.attendees[0].name
        mine_id, theirs_id = mine.id, theirs.id

    page = client.get(f"/r/{my_token}")
    assert page.status_code == 200
    for kind in ("written", "comment", "completion"):
        assert numbers[(kind, mine_id)] in page.text
    assert numbers[("completion", theirs_id)] not in page.text

    own = client.get(f"/r/{my_token}/certificates/{numbers[('completion', mine_id)]}.pdf")
    assert own.status_code == 200 and own.mimetype == "application/pdf"
    assert own.headers["Cache-Control"] == "no-store"
    assert own.headers["Referrer-Policy"] == "no-referrer"
    assert f"{trainee}同志（甲街道办事处）" in flat(pdf_text(own.data, tmp_path))
    assert client.get(f"/r/{my_token}/certificates/{numbers[('completion', theirs_id)]}.pdf"
                      ).status_code == 404
    assert client.get(f"/r/{their_token}/certificates/{numbers[('written', mine_id)]}.pdf"
                      ).status_code == 404
    assert client.get(f"/r/not-a-token/certificates/{numbers[('written', mine_id)]}.pdf"
                      ).status_code == 404


def test_a_voided_certificate_is_no_longer_on_the_units_page(app, client):
    with app.app_context():
        event = make_event()
        registration, token = register(event)
        add_submission(event, registration=registration, selection="selected")
        certificate, = issue_certificates(event, "written", actor="测试")
        db.session.commit()
        void_certificate(certificate, "有误", actor="测试")
        db.session.commit()
        number = certificate.number

    # (The change history may still mention it; the download link is gone.)
    assert f"/certificates/{number}.pdf" not in client.get(f"/r/{token}").text
    assert client.get(f"/r/{token}/certificates/{number}.pdf").status_code == 404


def test_a_case_downloads_its_certificate_by_its_own_link(app, client, tmp_path):
    token, other_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with app.app_context():
        event = make_event(kind="call", title="2026年度城乡社区服务创新案例征集")
        add_submission(event, kind="case", unit_name="丁社工机构", title="百岁老人幸福工程",
                       selection="selected", token=token)
        add_submission(event, kind="case", unit_name="戊社工机构", title="另一个案例",
                       selection="selected", token=other_token)
        issued = issue_certificates(event, "written", actor="测试")
        db.session.commit()
        number = {c.recipient: c.number for c in issued}

    own = client.get(f"/c/{token}/certificates/{number['丁社工机构']}.pdf")
    assert own.status_code == 200
    assert own.headers["Referrer-Policy"] == "no-referrer"
    assert "《百岁老人幸福工程》" in flat(pdf_text(own.data, tmp_path))
    assert client.get(f"/c/{token}/certificates/{number['戊社工机构']}.pdf").status_code == 404
    case_page = client.get(f"/c/{token}")
    assert case_page.status_code == 200
    assert f"/c/{token}/certificates/{number['丁社工机构']}.pdf" in case_page.text
    assert number["戊社工机构"] not in case_page.text


# --- a cancelled registration's material, numbering across years, outdated certificates ------

def _board_titles(event) -> list[str]:
    from confreg.services.review import review_board

    return [row.submission.title for row in review_board(event).rows]


def _booklet_titles(event) -> list[str]:
    from confreg.services.booklet import booklet_entries

    return [entry.submission.title for entry in booklet_entries(event)]


def test_cancelling_a_registration_takes_its_material_out_of_review_booklet_and_certificates(
        app, client, staff_client, smtp, worker, tmp_path):
    from confreg.models import Event, Registration
    from confreg.services.review import mark_selection
    from tests.test_admin_registrations import new_event, register as register_in
    from tests.test_materials import upload

    event = new_event(app)
    leaving = register_in(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    staying = register_in(app, event.id, "西宁市城中区人民街街道办事处", ["王芳"])
    assert upload(client, leaving.token, title="将取消报名单位的交流材料").status_code == 302
    assert upload(client, staying.token, title="仍参会单位的交流材料").status_code == 302
    with app.app_context():
        ids = db.session.scalars(select(Submission.id).where(Submission.event_id == event.id)).all()
        mark_selection(db.session.get(Event, event.id), ids, "selected", "", actor="测试",
                       now=utcnow())
        db.session.commit()

    cancelled = post_form(client, f"/r/{leaving.token}/cancel", {})
    assert cancelled.status_code == 302

    staff = staff_client("admin")  # the board is the admins'
    board = staff.get(f"/admin/events/{event.id}/review")
    assert board.status_code == 200
    assert "仍参会单位的交流材料" in board.text and "将取消报名单位的交流材料" not in board.text
    _, booklet = run_job(staff, f"/admin/events/{event.id}/booklet/booklet.pdf", worker,
                         page_url=f"/admin/events/{event.id}/booklet")
    printed = flat(pdf_text(booklet.data, tmp_path, "booklet.pdf"))
    assert "仍参会单位的交流材料" in printed and "将取消报名单位的交流材料" not in printed
    with app.app_context():
        assert db.session.get(Registration, leaving.id).status == "cancelled"
        withdrawn = db.session.scalar(select(Submission).where(
            Submission.registration_id == leaving.id))
        assert withdrawn.status == "withdrawn" and withdrawn.withdrawn_at is not None
        audit = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "material.withdrawn", AuditEntry.object_id == withdrawn.id))
        assert audit is not None and audit.registration_id == leaving.id
        issued = issue_certificates(db.session.get(Event, event.id), "written", actor="测试")
        db.session.commit()
        assert [c.registration_id for c in issued] == [staying.id]


def test_cancelling_through_the_service_withdraws_the_material_too(app_ctx, today):
    from confreg.services.registrations import cancel_registration

    event = make_event()
    registration, _ = register(event)
    submission = add_submission(event, registration=registration, selection="selected")

    cancel_registration(registration, today=today, now=utcnow(), actor="单位")
    db.session.commit()

    assert submission.status == "withdrawn" and submission.withdrawn_at is not None
    assert _board_titles(event) == [] and _booklet_titles(event) == []
    assert eligible_subjects(event, "written") == []


def test_staff_cancelling_a_registration_withdraws_its_material_too(app_ctx):
    from confreg.services.desk import cancel_by_staff

    event = make_event()
    registration, _ = register(event)
    submission = add_submission(event, registration=registration, selection="selected")

    cancel_by_staff(registration, "单位来函取消", now=utcnow(), actor="会务组")
    db.session.commit()

    assert submission.status == "withdrawn"
    assert eligible_subjects(event, "written") == [] and _booklet_titles(event) == []


def test_a_submitted_material_of_a_cancelled_registration_is_left_out_everywhere(app_ctx):
    """Even if its status was never changed (older data): the registration decides."""
    from confreg.services.review import mark_selection

    event = make_event()
    cancelled, _ = register(event, "甲街道办事处")
    active, _ = register(event, "乙街道办事处")
    left_out = add_submission(event, registration=cancelled, title="取消单位的材料",
                              selection="selected", presented=True, commented=True)
    kept = add_submission(event, registration=active, title="有效单位的材料",
                          selection="selected", presented=True, commented=True)
    case = add_submission(event, kind="case", unit_name="丙社工机构", title="无报名的案例",
                          selection="selected", presented=True, commented=True, token="c" * 20)
    cancelled.cancel(utcnow())
    db.session.commit()
    assert left_out.status == "submitted"

    for kind in ("written", "comment"):
        assert {e.submission_id for e in eligible_subjects(event, kind)} == {kept.id, case.id}
    assert sorted(_board_titles(event)) == sorted(["有效单位的材料", "无报名的案例"])
    assert sorted(_booklet_titles(event)) == sorted(["有效单位的材料", "无报名的案例"])
    with pytest.raises(ServiceError, match="请先勾选"):
        mark_selection(event, [left_out.id], "not_selected", "", actor="测试", now=utcnow())
    db.session.rollback()


def test_numbers_continue_after_the_event_moves_to_another_year(app_ctx):
    event = make_event()
    add_submission(event, unit_name="甲", selection="selected")
    first, = issue_certificates(event, "written", actor="测试")
    db.session.commit()
    year = event.starts_on.year

    event.starts_on = event.starts_on.replace(year=year + 1)
    event.ends_on = event.ends_on.replace(year=year + 1)
    db.session.commit()
    add_submission(event, unit_name="乙", selection="selected")
    second, = issue_certificates(event, "written", actor="测试")
    db.session.commit()

    assert (first.sequence, second.sequence) == (1, 2)
    assert first.number == f"SM{year}-{event.id:03d}-0001"
    assert second.number == f"SM{year + 1}-{event.id:03d}-0002"


def test_certificates_whose_reason_has_gone_are_listed_with_why(app_ctx, today):
    from confreg.services.certificates import outdated_certificates
    from confreg.services.registrations import withdraw_cancelled_material

    event = make_event()
    regs = {name: register(event, name)[0] for name in ("甲单位", "乙单位", "丙单位", "丁单位")}
    unselected = add_submission(event, registration=regs["甲单位"], selection="selected")
    withdrawn = add_submission(event, registration=regs["乙单位"], selection="selected")
    add_submission(event, registration=regs["丙单位"], selection="selected", presented=True,
                   commented=True)
    still = add_submission(event, registration=regs["丁单位"], selection="selected",
                           presented=True, commented=True)
    pending_case = add_submission(event, kind="case", unit_name="戊机构", selection="selected",
                                  presented=True, commented=True, token="e" * 20)
    issue_certificates(event, "written", actor="测试")
    issue_certificates(event, "comment", actor="测试")
    db.session.commit()
    assert outdated_certificates(event) == []

    unselected.selection = "not_selected"
    withdrawn.status, withdrawn.withdrawn_at = "withdrawn", utcnow()
    # Cancelled behind the services' back (they refuse while a certificate stands).
    withdraw_cancelled_material(regs["丙单位"], now=utcnow(), actor="单位")
    regs["丙单位"].cancel(utcnow())
    pending_case.selection = "pending"
    pending_case.commented = False
    db.session.commit()

    found = {(o.certificate.kind, o.certificate.recipient): o.reason
             for o in outdated_certificates(event)}
    assert found == {
        ("written", "甲单位"): "评审结果已改为“未入选”",
        ("written", "乙单位"): "交流材料已撤回",
        ("written", "丙单位"): "报名已取消",
        ("comment", "丙单位"): "报名已取消",
        ("written", "戊机构"): "评审结果已改为“待评定”",
        ("comment", "戊机构"): "已取消“专家已点评”标记",
    }
    assert all(o.certificate.recipient != "丁单位" for o in outdated_certificates(event))
    assert still.status == "submitted"


def test_completion_certificates_outlive_neither_the_completion_nor_the_registration(app_ctx,
                                                                                     today):
    from confreg.services.certificates import outdated_certificates

    event = training_event()
    kept, _ = register(event, "甲街道", people=2)
    cancelled, _ = register(event, "乙街道")
    complete(*kept.attendees, *cancelled.attendees)
    issue_certificates(event, "completion", actor="测试")
    db.session.commit()

    untick = kept.attendees[1]
    untick.completed_at, untick.completed_by = None, ""
    cancelled.cancel(utcnow())  # behind the services' back: they refuse while one stands
    db.session.commit()

    found = {o.certificate.recipient: o.reason for o in outdated_certificates(event)}
    assert found == {untick.name: "已取消结业标记", cancelled.attendees[0].name: "报名已取消"}


def test_the_desk_warns_of_outdated_certificates_until_they_are_voided(app, staff_client):
    with app.app_context():
        event = make_event()
        registration, _ = register(event, "甲街道办事处")
        submission = add_submission(event, registration=registration, selection="selected")
        certificate, = issue_certificates(event, "written", actor="测试")
        db.session.commit()
        event_id, certificate_id, number = event.id, certificate.id, certificate.number
        submission_id = submission.id
    client = staff_client("staff")
    index = f"/admin/events/{event_id}/certificates?kind=comment"
    warning = "以下已开具的证书已不再符合条件，请核对后作废"
    assert warning not in client.get(index).text

    with app.app_context():
        db.session.get(Submission, submission_id).selection = "pending"
        db.session.commit()
    page = client.get(index)  # shown whichever kind is open
    assert warning in page.text and number in page.text and "评审结果已改为“待评定”" in page.text
    void_url = f"/admin/events/{event_id}/certificates/{certificate_id}/void"
    assert f'href="{void_url}"' in page.text

    voided = post_form(client, void_url, {"reason": "材料改为待评定"}, follow_redirects=True)
    assert voided.status_code == 200
    assert warning not in client.get(index).text


def test_a_short_title_with_spaces_and_semicolons_makes_a_well_formed_file_name(app, staff_client,
                                                                                worker):
    from werkzeug.http import parse_options_header

    with app.app_context():
        event = make_event(short_title="西宁 会议; 空格")
        add_submission(event, unit_name="甲", selection="selected")
        issue_certificates(event, "written", actor="测试")
        db.session.commit()
        event_id = event.id

    _, response = run_job(staff_client("staff"),
                          f"/admin/events/{event_id}/certificates/written/all.pdf", worker,
                          page_url=f"/admin/events/{event_id}/certificates?kind=written")

    assert response.status_code == 200
    header = response.headers["Content-Disposition"]
    assert re.fullmatch(r"inline; filename=\"?[A-Za-z0-9._-]+\.pdf\"?; "
                        r"filename\*=UTF-8''[A-Za-z0-9%._~-]+", header), header
    disposition, params = parse_options_header(header)
    assert disposition == "inline"
    assert params["filename"] == "书面交流证书-西宁 会议_ 空格.pdf"


def test_units_are_mailed_when_their_certificates_are_issued(app, smtp):
    """One mail per unit (and per case), listing its new certificates and where to get them;
    issuing again sends nothing more."""
    with app.app_context():
        event = training_event()
        registration, _ = register(event, "甲街道办事处", people=2)
        complete(*registration.attendees)
        smtp.worker.settle()
        smtp.received.clear()  # the registration's own confirmation
        issued = issue_certificates(event, "completion", actor="测试")
        db.session.commit()
        numbers = [c.number for c in issued]
        again = issue_certificates(event, "completion", actor="测试")
        db.session.commit()
    assert len(numbers) == 2 and again == []
    [message] = smtp.messages
    assert message["To"] == "contact@example.cn"
    assert message["Subject"].strip().startswith("证书已生成 ")
    body = smtp.body(message)
    assert all(number in body for number in numbers)
    assert "结业证书" in body and "私密链接" in body and "张伟" in body and "王芳" in body


def test_a_case_is_mailed_at_its_own_address_when_its_certificate_is_issued(app, smtp):
    with app.app_context():
        event = make_event(kind="call")
        submission = add_submission(event, unit_name="乙社区居委会", kind="case",
                                    selection="selected")
        submission.contact_email, submission.contact_name = "case@example.cn", "王芳"
        db.session.commit()
        [certificate] = issue_certificates(event, "written", actor="测试")
        db.session.commit()
        number, code = certificate.number, submission.code
    [message] = smtp.messages
    assert message["To"] == "case@example.cn"
    body = smtp.body(message)
    assert number in body and code in body and "申报时收到的私密链接" in body
