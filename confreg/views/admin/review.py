"""Expert review: admins assign submissions to reviewers; reviewers read and score; admins select.

A reviewer reaches an assignment only through its id, and only their own: anybody else —
another reviewer, or an admin who is not the assignee — gets the same 404 as a missing one.
The role check (the decorator) comes first, so a desk role gets 403 without a lookup.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...database import utcnow
from ...extensions import db
from ...forms.errors import show_beside_field
from ...forms.review import BoardForm, CriteriaForm, score_form, scores_from
from ...models import ReviewAssignment, Submission
from ...models.materials import SELECTIONS
from ...models.reviews import SCORE_MAX
from ...services import ServiceError
from ...services.review import (COMMENT_NEEDED_BELOW, MARKS, active_reviewers, assign_reviewers,
                                assignments_of, criteria_of, marks_for,
                                mark_selection, review_board, save_criteria, save_scores,
                                score_locked_reason, set_mark, unassign)
from ...services.uploads import IMAGE_KINDS
from ..files import submission_file_response
from ..formdata import ROW_ID
from .access import actor_name, roles_required
from .events import event_or_404

bp = Blueprint("admin_review", __name__, url_prefix="/admin")


# --- the admin's side -----------------------------------------------------------------

def _render_criteria(event, form, status=200):
    criteria = criteria_of(event)
    scored = sum(1 for row in review_board(event).rows for a in row.by_reviewer.values()
                 if a.is_scored)
    return render_template("admin/review/criteria.html", event=event, form=form,
                           criteria=criteria, scored=scored,
                           custom=bool(event.review_criteria)), status


@bp.route("/events/<int:event_id>/review/criteria", methods=["GET", "POST"])
@roles_required("admin")
def criteria(event_id: int):
    event = event_or_404(event_id)
    current = criteria_of(event)
    if request.method == "GET":
        form = CriteriaForm(data={"criteria": [
            {"key": c["key"], "weight": str(c["weight"]), "hint": c.get("hint", "")}
            for c in current]})
        return _render_criteria(event, form)
    form = CriteriaForm()
    if not form.validate_on_submit():
        return _render_criteria(event, form, 422)
    try:
        recomputed = save_criteria(event, form.rows(), actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        if not show_beside_field(form, error):
            form.criteria.errors.append(error.message)
        return _render_criteria(event_or_404(event_id), form, 422)
    db.session.commit()
    flash("评审标准已保存。" + (f"已按新权重重新计算 {recomputed} 份评分的加权总分。"
                           if recomputed else ""), "success")
    return redirect(url_for(".board", event_id=event_id))


def _selection_arg() -> str:
    wanted = request.args.get("selection", "")
    return wanted if wanted in SELECTIONS else ""


def _render_board(event, form, status=200):
    selection = _selection_arg()
    return render_template(
        "admin/review/board.html", event=event, form=form, board=review_board(event, selection),
        criteria=criteria_of(event), reviewers=active_reviewers(), selection=selection,
        selections=SELECTIONS, marks=marks_for(event)), status


@bp.route("/events/<int:event_id>/review")
@roles_required("admin")
def board(event_id: int):
    return _render_board(event_or_404(event_id), BoardForm(formdata=None))


def _board_action(event_id: int, action, success):
    """Validate the board's form, call the service, commit, flash, go back (PRG)."""
    event = event_or_404(event_id)
    form = BoardForm()
    back = _back_url(event_id)
    if not form.validate_on_submit():
        return _render_board(event, form, 422)
    try:
        result = action(event, form)
    except ServiceError as error:
        db.session.rollback()
        if show_beside_field(form, error) and not back:
            return _render_board(event_or_404(event_id), form, 422)
        flash(error.message, "error")
        return redirect(back or url_for(".board", event_id=event_id))
    db.session.commit()
    flash(success(result), "success")
    return redirect(back or url_for(".board", event_id=event_id,
                                    selection=request.args.get("selection") or None))


def _back_url(event_id: int) -> str | None:
    """The submission's own page, when the action was sent from it."""
    back = request.form.get("back", "")
    if ROW_ID.fullmatch(back):  # ASCII digits only: "²" is a digit to str.isdigit, not to int
        return url_for(".submission", event_id=event_id, submission_id=int(back))
    return None


@bp.route("/events/<int:event_id>/review/assign", methods=["POST"])
@roles_required("admin")
def assign(event_id: int):
    def say(result):
        parts = []
        if result.created:
            parts.append(f"已分配 {len(result.created)} 份评审任务。")
        if result.already:
            parts.append(f"{result.already} 项此前已分配给同一位专家，未重复分配。")
        return "".join(parts)
    return _board_action(
        event_id,
        lambda event, form: assign_reviewers(event, form.submission_ids.data or [],
                                             form.reviewer_ids.data or [], actor=actor_name()),
        say)


@bp.route("/events/<int:event_id>/review/selection", methods=["POST"])
@roles_required("admin")
def select(event_id: int):
    def act(event, form):
        if not form.selection.data:
            raise ServiceError("请选择评定结果。", "selection")
        return mark_selection(event, form.submission_ids.data or [], form.selection.data,
                              form.selection_note.data or "", actor=actor_name(), now=utcnow())
    return _board_action(event_id, act, lambda n: f"已评定 {n} 份材料。" if n
                         else "评定结果没有变化。")


@bp.route("/events/<int:event_id>/review/marks", methods=["POST"])
@roles_required("admin")
def marks(event_id: int):
    mark, _, value = request.form.get("mark", "").partition(":")

    def act(event, form):
        return set_mark(event, form.submission_ids.data or [], mark, value == "1",
                        actor=actor_name())
    label = MARKS.get(mark, "")
    return _board_action(event_id, act,
                         lambda n: (f"已{'标记' if value == '1' else '取消'}「{label}」"
                                    f"{n} 份。") if n else "标记没有变化。")


@bp.route("/events/<int:event_id>/review/submissions/<int:submission_id>")
@roles_required("admin")
def submission(event_id: int, submission_id: int):
    event = event_or_404(event_id)
    item = db.session.get(Submission, submission_id)
    if item is None or item.event_id != event.id:
        abort(404)
    assignments = sorted(
        db.session.scalars(db.select(ReviewAssignment)
                           .where(ReviewAssignment.submission_id == item.id)).all(),
        key=lambda a: (a.reviewer.name, a.id))
    form = BoardForm(formdata=None, selection=item.selection, selection_note=item.selection_note)
    return render_template("admin/review/submission.html", event=event, submission=item,
                           assignments=assignments, criteria=criteria_of(event), form=form,
                           reviewers=active_reviewers(), marks=marks_for(event),
                           category=event.category_label(item.category))


@bp.route("/events/<int:event_id>/review/assignments/<int:assignment_id>/unassign",
          methods=["POST"])
@roles_required("admin")
def unassign_reviewer(event_id: int, assignment_id: int):
    event = event_or_404(event_id)
    assignment = db.session.get(ReviewAssignment, assignment_id)
    if assignment is None or assignment.submission.event_id != event.id:
        abort(404)
    back = _back_url(event_id) or url_for(".board", event_id=event_id)
    name = assignment.reviewer.name
    try:
        unassign(assignment, actor=actor_name())
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(f"已取消 {name} 的评审分配。", "success")
    return redirect(back)


# --- the reviewer's side --------------------------------------------------------------

def _my_assignment_or_404(assignment_id: int) -> ReviewAssignment:
    assignment = db.session.get(ReviewAssignment, assignment_id)
    if assignment is None or assignment.reviewer_id != current_user.id:
        abort(404)
    return assignment


@bp.route("/review")
@roles_required("reviewer")
def mine():
    groups = assignments_of(current_user)
    return render_template("admin/review/mine.html", groups=groups,
                           total=sum(len(g.assignments) for g in groups),
                           scored=sum(g.scored for g in groups))


def _next_to_score(assignment) -> ReviewAssignment | None:
    """The reviewer's next assignment still to score: of the same event first, then any."""
    waiting = [a for group in assignments_of(current_user) for a in group.assignments
               if a.id != assignment.id and not a.is_scored
               and not score_locked_reason(a.submission)]
    same_event = [a for a in waiting if a.submission.event_id == assignment.submission.event_id]
    return (same_event or waiting or [None])[0]


def _render_score(assignment, form, status=200):
    submission = assignment.submission
    event = submission.event
    return render_template(
        "admin/review/score.html", assignment=assignment, submission=submission, event=event,
        next_assignment=_next_to_score(assignment) if assignment.is_scored else None,
        form=form, criteria=criteria_of(event), locked=score_locked_reason(submission),
        category=event.category_label(submission.category),
        score_max=SCORE_MAX, comment_needed_below=COMMENT_NEEDED_BELOW,
        photos=submission.current_attachments("photo"),
        documents=[a for a in submission.attachments
                   if a.role != "photo" and a.replaced_at is None],
        image_kinds=IMAGE_KINDS), status


@bp.route("/review/<int:assignment_id>", methods=["GET", "POST"])
@roles_required("reviewer")
def score(assignment_id: int):
    assignment = _my_assignment_or_404(assignment_id)
    criteria = criteria_of(assignment.submission.event)
    if request.method == "GET":
        prefill = {f"score_{k}": str(v) for k, v in (assignment.scores or {}).items()}
        return _render_score(assignment, score_form(criteria, formdata=None,
                                                    data={**prefill,
                                                          "comment": assignment.comment}))
    form = score_form(criteria)
    if not form.validate_on_submit():
        return _render_score(assignment, form, 422)
    try:
        save_scores(assignment, scores_from(form, criteria), form.comment.data,
                    actor=actor_name(), now=utcnow())
    except ServiceError as error:
        db.session.rollback()
        assignment = _my_assignment_or_404(assignment_id)
        if not show_beside_field(form, error):
            flash(error.message, "error")
        return _render_score(assignment, form, 422)
    db.session.commit()
    flash("评分已保存。评定结果公布前仍可修改。", "success")
    # To the scoring box, where the next material to score is offered.
    return redirect(url_for(".score", assignment_id=assignment_id) + "#scoring")


@bp.route("/review/<int:assignment_id>/files/<int:file_id>")
@roles_required("reviewer")
def file(assignment_id: int, file_id: int):
    assignment = _my_assignment_or_404(assignment_id)
    # A reviewer reads the stamped forms in the browser too.
    return submission_file_response(assignment.submission, file_id, inline=IMAGE_KINDS | {"pdf"})
