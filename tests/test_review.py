"""Expert review: admins set the criteria's weights, assign submissions to reviewers and mark
the selection; a reviewer sees and scores only their own assignments."""
import io
import os
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from confreg.checks import normalize_unit_name
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import (AuditEntry, Event, ReviewAssignment, Submission,
                            SubmissionAttachment, User)
from confreg.services import ServiceError
from confreg.services.review import (assign_reviewers, save_criteria, save_scores,
                                     weighted_total)
from confreg.services.submissions import add_version, new_submission_code
from confreg.services.uploads import store_file
from tests.conftest import (CHROMIUM, STAFF_PASSWORD, add_user, csrf_token_from, docx_bytes,
                            form_values, make_event, post_form, sign_in)

BODY = ["一、背景", "社区位于城乡结合部，老年人口占比较高，居民诉求多样。",
        "二、做法", "街道党工委牵头成立物业服务联席会议，每月协商一次。",
        "三、成效", "居民满意度由百分之六十提高到百分之九十二。"]


def case_text(paragraphs=BODY) -> bytes:
    """A case's Word text: "一、…" lines are headings."""
    return docx_bytes([("heading" if text[1] == "、" else "paragraph", text)
                       for text in paragraphs])


def png_bytes(colour=(166, 27, 27)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


def add_submission(event, title="党建引领物业服务的东关经验", unit="西宁市城东区东关大街街道办事处",
                   kind="case", photos=0) -> Submission:
    """A submitted case with one Word version (and photos), as the call's form leaves it."""
    submission = Submission(event_id=event.id, kind=kind, code=new_submission_code(),
                            unit_name=unit, unit_name_key=normalize_unit_name(unit),
                            category="1" if kind == "case" else "", title=title,
                            authors="马晓明", abstract="以联席会议破解老旧小区物业管理难题。")
    db.session.add(submission)
    db.session.flush()
    data = case_text([f"{title}", *BODY])
    add_version(submission, store_file(data, "docx", f"{title}.docx"), data, uploaded_by="单位")
    for position in range(photos):
        stored = store_file(png_bytes((position * 40, 100, 150)), "png", f"photo{position}.png")
        submission.attachments.append(SubmissionAttachment(
            role="photo", position=position, caption=f"联席会议现场 {position + 1}",
            file_id=stored.id, file=stored))
    db.session.commit()
    return submission


def in_app(app, fn):
    """Run fn in a short app context of its own (the clients' requests run in theirs)."""
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def assign(app, submission_id, *reviewer_ids) -> list[int]:
    def run():
        submission = db.session.get(Submission, submission_id)
        assign_reviewers(submission.event, [submission_id], list(reviewer_ids), actor="测试")
        db.session.commit()
        return [db.session.scalar(select(ReviewAssignment.id).where(
            ReviewAssignment.submission_id == submission_id,
            ReviewAssignment.reviewer_id == r)) for r in reviewer_ids]
    return in_app(app, run)


def score(app, assignment_id, a, b, c, comment="材料扎实。") -> Decimal:
    def run():
        assignment = save_scores(db.session.get(ReviewAssignment, assignment_id),
                                 {"authenticity": a, "conformity": b, "innovation": c}, comment,
                                 actor="测试", now=utcnow())
        db.session.commit()
        return assignment.weighted_total
    return in_app(app, run)


def assignment_of(app, assignment_id) -> ReviewAssignment | None:
    """The assignment as stored (detached; its columns loaded)."""
    def run():
        assignment = db.session.get(ReviewAssignment, assignment_id)
        if assignment is not None:
            db.session.expunge(assignment)
        return assignment
    return in_app(app, run)


def audit_actions(app) -> list[AuditEntry]:
    def run():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        for entry in entries:
            db.session.expunge(entry)
        return entries
    return in_app(app, run)


@pytest.fixture
def setup(app, staff_client):
    """A call with two cases; reviewers 甲 and 乙 (signed in), plus the other staff roles."""
    def data():
        event = make_event(kind="call", title="2026 经验案例材料征集", short_title="2026 案例征集",
                           categories=[{"code": "1", "label": "分类一", "title": "体制机制创新"}])
        first = add_submission(event, photos=3)
        second = add_submission(event, title="一老一小精细化服务项目", unit="昆明市五华区某社区")
        add_user("reviewer", "yi@example.cn", "乙专家")
        return SimpleNamespace(
            event=event.id, first=first.id, second=second.id,
            first_text=first.latest_version.file_id,
            photo=first.current_attachments("photo")[0].file_id,
            second_text=second.latest_version.file_id)
    ids = in_app(app, data)
    ids.clients = {role: staff_client(role) for role in ("admin", "finance", "staff", "reviewer")}
    ids.clients["yi"] = app.test_client()
    assert sign_in(ids.clients["yi"], "yi@example.cn").status_code == 302
    ids.jia = in_app(app, lambda: db.session.scalar(
        select(User.id).where(User.email == "reviewer@example.cn")))
    ids.yi = in_app(app, lambda: db.session.scalar(
        select(User.id).where(User.email == "yi@example.cn")))
    ids.board = f"/admin/events/{ids.event}/review"
    return ids


# --- who sees what ----------------------------------------------------------------------

def test_a_reviewer_sees_only_their_own_assignments(app, setup):
    jia_first, = assign(app, setup.first, setup.jia)
    yi_second, = assign(app, setup.second, setup.yi)
    jia = setup.clients["reviewer"]

    mine = jia.get("/admin/review")

    assert mine.status_code == 200
    assert "党建引领物业服务的东关经验" in mine.text
    assert "一老一小精细化服务项目" not in mine.text
    assert "共 <strong>1</strong> 份" in mine.text
    assert jia.get(f"/admin/review/{jia_first}").status_code == 200
    # Another reviewer's assignment answers like a missing one, for the admin too.
    assert jia.get(f"/admin/review/{yi_second}").status_code == 404
    assert jia.get(f"/admin/review/{yi_second + 1000}").status_code == 404
    assert setup.clients["admin"].get(f"/admin/review/{jia_first}").status_code == 404
    for role in ("finance", "staff"):
        assert setup.clients[role].get(f"/admin/review/{jia_first}").status_code == 403
        assert setup.clients[role].get("/admin/review").status_code == 403


def test_a_reviewer_lands_on_their_assignments_and_no_desk_page_lets_them_in(app, setup):
    client = app.test_client()
    landing = sign_in(client, "reviewer@example.cn")

    assert landing.headers["Location"] == "/admin/review"
    events = client.get("/admin/events/")
    assert events.status_code == 200 and "我的评审" in events.text
    assert setup.board not in events.text  # the event menu offers them nothing
    for path in ("", "/criteria", f"/submissions/{setup.first}"):
        assert client.get(setup.board + path).status_code == 403, path
    for desk in ("", "/registrations", "/finance", "/edit"):
        assert client.get(f"/admin/events/{setup.event}{desk}").status_code == 403, desk


def test_a_reviewer_never_sees_another_reviewers_score(app, setup):
    jia_a, yi_a = assign(app, setup.first, setup.jia, setup.yi)
    score(app, yi_a, 61, 62, 63, comment="乙的评语不给别人看")

    page = setup.clients["reviewer"].get(f"/admin/review/{jia_a}")

    assert page.status_code == 200
    assert "乙的评语" not in page.text and "乙专家" not in page.text
    assert ">62<" not in page.text and "62.00" not in page.text


# --- scoring ------------------------------------------------------------------------------

def criteria_data(*weights, hints=("", "", "")):
    keys = ("authenticity", "conformity", "innovation")
    data = {}
    for i, (key, weight, hint) in enumerate(zip(keys, weights, hints)):
        data.update({f"criteria-{i}-key": key, f"criteria-{i}-weight": weight,
                     f"criteria-{i}-hint": hint})
    return data


def test_scoring_computes_the_weighted_total_with_the_event_weights(app, setup):
    saved = post_form(setup.clients["admin"], setup.board + "/criteria",
                      criteria_data("34", "33", "33", hints=("真实", "规范", "创新")))
    assert saved.status_code == 302
    assignment, = assign(app, setup.first, setup.jia)
    url = f"/admin/review/{assignment}"

    response = post_form(setup.clients["reviewer"], url, {
        "score_authenticity": "90", "score_conformity": "85", "score_innovation": "71",
        "comment": "做法具体，成效有数据支撑。"})

    assert response.status_code == 302
    stored = assignment_of(app, assignment)
    # (90×34 + 85×33 + 71×33) / 100 = 82.08
    assert stored.weighted_total == Decimal("82.08")
    assert stored.scores == {"authenticity": 90, "conformity": 85, "innovation": 71}
    assert stored.scored_at is not None
    page = setup.clients["reviewer"].get(url)
    assert "82.08" in page.text and "真实性（权重 34）" in page.text
    assert "review.scored" in [e.action for e in audit_actions(app)]


@pytest.mark.parametrize("typed, message", [("101", "0～100 的整数"), ("-1", "0～100 的整数"),
                                            ("abc", "0～100 的整数"), ("", "请为「规范性」打分")])
def test_an_invalid_score_is_refused_beside_its_field_with_everything_kept(app, setup, typed,
                                                                          message):
    assignment, = assign(app, setup.first, setup.jia)

    response = post_form(setup.clients["reviewer"], f"/admin/review/{assignment}", {
        "score_authenticity": "88", "score_conformity": typed, "score_innovation": "77",
        "comment": "我写的评语"})

    assert response.status_code == 422
    values = form_values(response.text)
    assert values["score_authenticity"] == "88" and values["score_innovation"] == "77"
    assert values["score_conformity"] == typed and values["comment"] == "我写的评语"
    error = response.text.split('id="score_conformity-error"')
    assert len(error) == 2 and message in error[1].split("</p>")[0]
    assert assignment_of(app, assignment).scored_at is None


def test_a_score_below_60_needs_a_comment(app, setup):
    assignment, = assign(app, setup.first, setup.jia)

    response = post_form(setup.clients["reviewer"], f"/admin/review/{assignment}", {
        "score_authenticity": "50", "score_conformity": "70", "score_innovation": "70",
        "comment": ""})

    assert response.status_code == 422
    assert 'id="comment-error"' in response.text and "说明理由" in response.text
    assert form_values(response.text)["score_authenticity"] == "50"
    assert assignment_of(app, assignment).scored_at is None


def test_once_selected_the_scores_are_read_only(app, setup):
    assignment, = assign(app, setup.first, setup.jia)
    score(app, assignment, 80, 80, 80)
    url = f"/admin/review/{assignment}"
    reviewer = setup.clients["reviewer"]
    token = csrf_token_from(reviewer.get(url).text)  # the form as it was before the selection
    post_form(setup.clients["admin"], setup.board + "/selection",
              {"submission_ids": str(setup.first), "selection": "selected"},
              form_url=setup.board)

    page = reviewer.get(url)
    refused = reviewer.post(url, data={"csrf_token": token, "score_authenticity": "10",
                                       "score_conformity": "10", "score_innovation": "10",
                                       "comment": "改分"})

    assert "评分已定稿" in page.text and "保存评分" not in page.text and "80.00" in page.text
    assert refused.status_code == 422 and "评分已定稿" in refused.text
    assert assignment_of(app, assignment).weighted_total == Decimal("80.00")
    assert "只读" in reviewer.get("/admin/review").text


# --- criteria ----------------------------------------------------------------------------

def test_weights_that_do_not_sum_to_100_are_refused_and_kept(app, setup):
    response = post_form(setup.clients["admin"], setup.board + "/criteria",
                         criteria_data("40", "30", "20", hints=("甲", "乙", "丙")))

    assert response.status_code == 422
    assert "各项权重之和应为 100，现在是 90" in response.text
    values = form_values(response.text)
    assert values["criteria-2-weight"] == "20" and values["criteria-1-hint"] == "乙"
    assert in_app(app, lambda: db.session.get(Event, setup.event).review_criteria) == []


def test_a_weight_that_is_not_a_whole_number_is_refused_beside_it(app, setup):
    response = post_form(setup.clients["admin"], setup.board + "/criteria",
                         criteria_data("四十", "30", "30"))

    assert response.status_code == 422
    assert 'id="criteria-0-weight-error"' in response.text
    assert form_values(response.text)["criteria-0-weight"] == "四十"


def test_new_weights_recompute_the_totals_already_scored(app, setup):
    jia_a, = assign(app, setup.first, setup.jia)
    # 40/30/30: (100×40 + 50×30 + 80×30) / 100 = 79.00
    assert score(app, jia_a, 100, 50, 80) == Decimal("79.00")
    page = setup.clients["admin"].get(setup.board + "/criteria")
    assert "已有 <strong>1</strong> 份评分" in page.text and "重新计算" in page.text

    saved = post_form(setup.clients["admin"], setup.board + "/criteria",
                      criteria_data("20", "50", "30"), follow_redirects=True)

    assert "已按新权重重新计算 1 份评分的加权总分" in saved.text
    # (100×20 + 50×50 + 80×30) / 100 = 69.00
    assert assignment_of(app, jia_a).weighted_total == Decimal("69.00")
    entry = [e for e in audit_actions(app) if e.action == "review.criteria"][-1]
    assert entry.changes["真实性"]["weight"] == [40, 20]


def test_weights_must_sum_to_100_in_the_service_too(app, setup):
    def run():
        save_criteria(db.session.get(Event, setup.event), [
            {"key": "authenticity", "weight": 50, "hint": ""},
            {"key": "conformity", "weight": 30, "hint": ""},
            {"key": "innovation", "weight": 30, "hint": ""}], actor="测试")
    with pytest.raises(ServiceError, match="现在是 110"):
        in_app(app, run)


def test_the_weighted_total_is_rounded_half_up_to_cents():
    criteria = [{"key": "a", "weight": 1}, {"key": "b", "weight": 2}]
    assert weighted_total({"a": 0, "b": 1}, criteria) == Decimal("0.67")
    assert weighted_total({"a": 1, "b": 0}, [{"key": "a", "weight": 1},
                                            {"key": "b", "weight": 7}]) == Decimal("0.13")
    assert weighted_total({"a": 1}, criteria) is None


# --- the board ------------------------------------------------------------------------------

def test_the_board_shows_each_reviewers_scores_side_by_side_and_the_mean(app, setup):
    jia_a, yi_a = assign(app, setup.first, setup.jia, setup.yi)
    assign(app, setup.second, setup.jia)
    score(app, jia_a, 90, 80, 70)   # 81.00
    score(app, yi_a, 70, 90, 96)    # 83.80

    board = setup.clients["admin"].get(setup.board)

    assert board.status_code == 200
    text = board.text
    assert "测试reviewer" in text and "乙专家" in text
    assert "81.00" in text and "83.80" in text and "82.40" in text  # the mean of the two
    assert "真实性 90 · 规范性 80 · 创新性 70" in text
    assert "真实性 70 · 规范性 90 · 创新性 96" in text
    assert "2 / 2" in text and "0 / 1" in text and "未评分" in text
    # Best mean first: the scored case comes before the unscored one.
    assert text.index("党建引领物业服务的东关经验") < text.index("一老一小精细化服务项目")


def test_the_board_filters_by_selection(app, setup):
    post_form(setup.clients["admin"], setup.board + "/selection",
              {"submission_ids": str(setup.second), "selection": "selected"},
              form_url=setup.board)

    board = setup.clients["admin"].get(setup.board + "?selection=selected")

    assert "一老一小精细化服务项目" in board.text
    assert "党建引领物业服务的东关经验" not in board.text


def test_assigning_the_same_reviewer_twice_makes_one_assignment(app, setup):
    admin = setup.clients["admin"]
    data = {"submission_ids": [str(setup.first), str(setup.second)],
            "reviewer_ids": [str(setup.jia)]}

    first = post_form(admin, setup.board + "/assign", data, form_url=setup.board,
                      follow_redirects=True)
    again = post_form(admin, setup.board + "/assign", data, form_url=setup.board,
                      follow_redirects=True)

    assert "已分配 2 份评审任务" in first.text
    assert "2 项此前已分配给同一位专家，未重复分配" in again.text
    assert in_app(app, lambda: len(db.session.scalars(select(ReviewAssignment.id)).all())) == 2
    assert [e.action for e in audit_actions(app)].count("review.assigned") == 2


def test_assigning_without_a_reviewer_is_refused_beside_the_choice(app, setup):
    response = post_form(setup.clients["admin"], setup.board + "/assign",
                         {"submission_ids": str(setup.first)}, form_url=setup.board)

    assert response.status_code == 422 and "请选择至少一位评审专家" in response.text
    tick = response.text.split(f'id="pick-{setup.first}"')[1].split(">")[0]
    assert "checked" in tick  # the ticked case stays ticked


def test_a_scored_assignment_cannot_be_unassigned_an_unscored_one_can(app, setup):
    jia_a, yi_a = assign(app, setup.first, setup.jia, setup.yi)
    score(app, jia_a, 80, 80, 80)
    admin = setup.clients["admin"]
    page = f"{setup.board}/submissions/{setup.first}"

    refused = post_form(admin, f"{setup.board}/assignments/{jia_a}/unassign",
                        {"back": str(setup.first)}, form_url=page, follow_redirects=True)
    done = post_form(admin, f"{setup.board}/assignments/{yi_a}/unassign",
                     {"back": str(setup.first)}, form_url=page, follow_redirects=True)

    assert "已为「党建引领物业服务的东关经验」评分，不能取消分配" in refused.text
    assert "已取消 乙专家 的评审分配" in done.text
    assert in_app(app, lambda: db.session.scalars(select(ReviewAssignment.id)).all()) == [jia_a]
    assert "review.unassigned" in [e.action for e in audit_actions(app)]


def test_selection_and_marks_are_recorded_and_audited(app, setup):
    admin = setup.clients["admin"]
    both = [str(setup.first), str(setup.second)]

    selected = post_form(admin, setup.board + "/selection",
                         {"submission_ids": both, "selection": "selected",
                          "selection_note": "编入案例汇编"}, form_url=setup.board,
                         follow_redirects=True)
    post_form(admin, setup.board + "/selection",
              {"submission_ids": str(setup.second), "selection": "not_selected"},
              form_url=setup.board)

    assert "已评定 2 份材料" in selected.text

    def stored(submission_id):
        return in_app(app, lambda: (lambda s: (s.selection, s.selection_note, s.selected_by,
                                               s.selected_at))(
            db.session.get(Submission, submission_id)))
    first, second = stored(setup.first), stored(setup.second)
    assert first[:2] == ("selected", "编入案例汇编") and "测试admin" in first[2] and first[3]
    assert second[:2] == ("not_selected", "")
    entries = audit_actions(app)
    actions = [e.action for e in entries]
    assert actions.count("review.selection") == 3
    last = [e for e in entries if e.action == "review.selection" and e.object_id == setup.second]
    assert last[-1].changes["selection"] == ["selected", "not_selected"]
    assert "测试admin" in last[-1].actor


def _meeting_material(app):
    """A meeting (where units speak) with one submitted material; its id and board URL."""
    def data():
        event = make_event()
        return event.id, add_submission(event, kind="material").id
    event_id, submission_id = in_app(app, data)
    return submission_id, f"/admin/events/{event_id}/review"


def test_speaking_marks_on_a_meeting_are_recorded_and_audited(app, setup):
    admin = setup.clients["admin"]
    material, board = _meeting_material(app)
    page = admin.get(board).text
    assert "标记已交流发言" in page and "标记专家已点评" in page

    post_form(admin, board + "/marks", {"submission_ids": str(material), "mark": "presented:1"},
              form_url=board)
    done = post_form(admin, board + "/marks",
                     {"submission_ids": str(material), "mark": "commented:1"}, form_url=board,
                     follow_redirects=True)

    assert "已标记「专家已点评」1 份" in done.text
    assert in_app(app, lambda: (lambda s: (s.presented, s.commented))(
        db.session.get(Submission, material))) == (True, True)
    actions = [e.action for e in audit_actions(app)]
    assert "review.presented" in actions and "review.commented" in actions


def test_a_call_offers_no_speaking_marks_and_refuses_them(app, setup):
    # A call for cases has no meeting: no 已交流发言/专家已点评, hence no 专家点评证书.
    admin = setup.clients["admin"]
    board = admin.get(setup.board).text
    page = admin.get(f"{setup.board}/submissions/{setup.first}").text
    for text in (board, page):
        assert "已交流发言" not in text and "专家已点评" not in text
        assert "专家点评证书标记" not in text and 'name="mark"' not in text

    refused = post_form(admin, setup.board + "/marks",
                        {"submission_ids": str(setup.first), "mark": "presented:1"},
                        form_url=setup.board, follow_redirects=True)

    assert "材料征集没有会上交流发言" in refused.text
    assert in_app(app, lambda: db.session.get(Submission, setup.first).presented) is False
    assert not [e for e in audit_actions(app) if e.action.startswith("review.presented")]


def test_the_board_has_a_select_all_box_that_needs_no_inline_script(app, setup):
    page = setup.clients["admin"].get(setup.board).text
    # Hidden until the script shows it: without JavaScript the board is as before.
    assert '<p class="pick-all" hidden>' in page and 'data-select-all="submission_ids"' in page
    assert 'src="/static/js/select-all.js"' in page
    assert "<script>" not in page   # no inline script
    script = setup.clients["admin"].get("/static/js/select-all.js")
    assert script.status_code == 200 and "javascript" in script.mimetype


def test_select_all_ticks_every_material_in_the_browser(app, setup, live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(live_server.url + "/admin/login")
    page.fill("#email", "admin@example.cn")
    page.fill("#password", STAFF_PASSWORD)
    page.click("form button[type=submit]")
    page.goto(live_server.url + setup.board)
    boxes = "input[name=submission_ids]"

    page.check("#pick-all")
    assert page.eval_on_selector_all(boxes, "els => els.map(e => e.checked)") == [True, True]
    page.uncheck(f"#pick-{setup.first}")
    assert page.eval_on_selector("#pick-all", "e => [e.checked, e.indeterminate]") == [False, True]
    page.check("#pick-all")
    page.check("input[name=selection][value=selected]")
    page.click("text=评定所勾选的材料")

    assert "已评定 2 份材料" in page.content()
    if os.environ.get("REVIEW_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['REVIEW_SCREENSHOTS']}/board-pick-all-1280.png",
                        full_page=True)
    context.close()


def test_selection_without_a_choice_is_refused_beside_it(app, setup):
    response = post_form(setup.clients["admin"], setup.board + "/selection",
                         {"submission_ids": str(setup.first), "selection_note": "备注"},
                         form_url=setup.board)

    assert response.status_code == 422 and "请选择评定结果" in response.text
    assert form_values(response.text)["selection_note"] == "备注"


# --- files ----------------------------------------------------------------------------------

def test_the_file_route_serves_only_files_of_the_assigned_submission(app, setup):
    assignment, = assign(app, setup.first, setup.jia)
    jia = setup.clients["reviewer"]
    base = f"/admin/review/{assignment}/files/"

    text = jia.get(base + str(setup.first_text))
    image = jia.get(base + str(setup.photo))
    refused = jia.get(base + str(setup.second_text))

    assert text.status_code == 200 and text.data[:2] == b"PK"
    assert text.headers["Content-Disposition"].startswith("attachment")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline")
    assert refused.status_code == 404
    assert setup.clients["yi"].get(base + str(setup.first_text)).status_code == 404


def test_the_scoring_page_shows_the_text_photos_and_criteria(app, setup):
    assignment, = assign(app, setup.first, setup.jia)

    page = setup.clients["reviewer"].get(f"/admin/review/{assignment}")

    assert "街道党工委牵头成立物业服务联席会议" in page.text  # the text, read in the browser
    assert "联席会议现场 3" in page.text and page.text.count("<img ") == 3
    assert "以联席会议破解老旧小区物业管理难题" in page.text
    assert "分类一　体制机制创新" in page.text
    assert "真实性（权重 40）" in page.text and "近三年已实施" in page.text


# --- in a real browser --------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")
def test_a_reviewer_scores_on_a_phone_and_the_admin_sees_it(app, setup, live_server, browser):
    jia_a, yi_a = assign(app, setup.first, setup.jia, setup.yi)
    assign(app, setup.second, setup.jia)
    score(app, yi_a, 75, 82, 68)   # (3000 + 2460 + 2040) / 100 = 75.00
    shots = os.environ.get("REVIEW_SCREENSHOTS")  # a folder to keep the screenshots in

    def signed_in(email, width):
        context = browser.new_context(viewport={"width": width, "height": 900},
                                      locale="zh-CN", is_mobile=width < 500,
                                      has_touch=width < 500,
                                      device_scale_factor=2 if width < 500 else 1)
        page = context.new_page()
        page.goto(live_server.url + "/admin/login")
        page.fill("#email", email)
        page.fill("#password", STAFF_PASSWORD)
        page.click("form button[type=submit]")
        return page

    phone = signed_in("reviewer@example.cn", 375)
    assert phone.url.endswith("/admin/review")
    phone.click("text=党建引领物业服务的东关经验")
    phone.fill("#score_authenticity", "92")
    phone.fill("#score_conformity", "88")
    phone.fill("#score_innovation", "79")
    phone.fill("#comment", "联席会议机制可复制。")
    phone.click("text=保存评分")
    # (92×40 + 88×30 + 79×30) / 100 = 86.90
    assert "评分已保存" in phone.content() and "86.90" in phone.content()
    widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 375, widths
    if shots:
        phone.screenshot(path=f"{shots}/score-375.png", full_page=True)
        desk = signed_in("reviewer@example.cn", 1280)
        desk.goto(live_server.url + f"/admin/review/{jia_a}")
        desk.screenshot(path=f"{shots}/score-1280.png", full_page=True)

    admin = signed_in("admin@example.cn", 1280)
    admin.goto(live_server.url + setup.board)
    board = admin.content()
    assert "86.90" in board and "75.00" in board and "80.95" in board  # and their mean
    if shots:
        admin.screenshot(path=f"{shots}/board-1280.png", full_page=True)
        admin.click("text=党建引领物业服务的东关经验")
        admin.screenshot(path=f"{shots}/submission-1280.png", full_page=True)
    on_phone = signed_in("admin@example.cn", 375)
    on_phone.goto(live_server.url + setup.board)
    widths = on_phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 375, widths
    if shots:
        on_phone.screenshot(path=f"{shots}/board-375.png", full_page=True)
        on_phone.goto(live_server.url + setup.board + "/criteria")
        on_phone.screenshot(path=f"{shots}/criteria-375.png", full_page=True)


# --- reviewers are told -------------------------------------------------------------------

def test_each_reviewer_is_mailed_what_was_assigned_to_them_once(app, setup, smtp):
    def run():
        event = db.session.get(Event, setup.event)
        assign_reviewers(event, [setup.first, setup.second], [setup.jia], actor="测试")
        assign_reviewers(event, [setup.first], [setup.yi], actor="测试")
        db.session.commit()
        codes = {s.id: s.code for s in db.session.scalars(select(Submission))}
        # the same pairs again: nobody is told twice
        assign_reviewers(event, [setup.first, setup.second], [setup.jia, setup.yi], actor="测试")
        db.session.commit()
        return codes
    codes = in_app(app, run)

    mails = [m for m in smtp.messages if m["Subject"].strip().startswith("请评审")]
    to_jia = [m for m in mails if m["To"] == "reviewer@example.cn"]
    to_yi = [m for m in mails if m["To"] == "yi@example.cn"]
    assert (len(to_jia), len(to_yi), len(mails)) == (1, 2, 3)
    jia = smtp.body(to_jia[0])
    assert to_jia[0]["Subject"].strip() == "请评审：2026 案例征集（2 份材料）"
    assert codes[setup.first] in jia and codes[setup.second] in jia and "/admin/review" in jia
    # 乙 got the first case, then (the second run's only new pair) the second one
    first, second = sorted((smtp.body(m) for m in to_yi), key=lambda b: codes[setup.second] in b)
    assert codes[setup.first] in first and codes[setup.second] not in first
    assert codes[setup.second] in second and codes[setup.first] not in second
