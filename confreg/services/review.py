"""Expert review: the criteria of an event, assigning reviewers, scores, and the selection.

A reviewer scores each criterion 0..SCORE_MAX; the weighted total is
Σ score × weight / Σ weight, two decimals.  Once an admin marks a submission selected
or not selected, its scores are final.
"""
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from ..extensions import db
from ..models import Event, ReviewAssignment, Submission, User
from ..models.materials import SELECTIONS
from ..models.reviews import DEFAULT_CRITERIA, MATERIAL_CRITERIA, SCORE_MAX
from . import ServiceError
from .audit import diff, record_audit
from .registrations import lock_event, submission_in_play

CENT = Decimal("0.01")
# The marks that lead to 专家点评证书: the unit spoke at the meeting, an expert commented.
MARKS = {"presented": "已交流发言", "commented": "专家已点评"}
NO_MARKS_FOR_CALL = "材料征集没有会上交流发言，不设“已交流发言”“专家已点评”标记，也不发专家点评证书。"
# A low score needs a reason the unit and the admins can follow.
COMMENT_NEEDED_BELOW = 60


def marks_for(event: Event) -> dict[str, str]:
    """The marks staff can set at this event: none for a call (there is no meeting to speak at)."""
    return {} if event.kind == "call" else dict(MARKS)


def criteria_of(event: Event) -> list[dict]:
    """The event's criteria, or the defaults (真实性 40, 规范性 30, 创新性 30) when it set none:
    the call's hints for a call, hints that fit exchange materials for a meeting or course."""
    default = DEFAULT_CRITERIA if event.kind == "call" else MATERIAL_CRITERIA
    return deepcopy(event.review_criteria or default)


def weighted_total(scores: dict, criteria: list[dict]) -> Decimal | None:
    """Σ score × weight / Σ weight over the criteria, to 2 places; None if any is unscored."""
    weights = sum(int(c["weight"]) for c in criteria)
    if weights <= 0 or any(scores.get(c["key"]) is None for c in criteria):
        return None
    points = sum(Decimal(int(scores[c["key"]])) * int(c["weight"]) for c in criteria)
    return (points / weights).quantize(CENT, rounding=ROUND_HALF_UP)


def mean_of(totals: list[Decimal]) -> Decimal | None:
    return (sum(totals) / len(totals)).quantize(CENT, rounding=ROUND_HALF_UP) if totals else None


# --- criteria -------------------------------------------------------------------------

def save_criteria(event: Event, rows: list[dict], *, actor: str) -> int:
    """Set the weights (integers summing to 100) and hints; rescore what is scored.

    Returns how many weighted totals were recomputed.
    """
    event = lock_event(event.id)
    current = criteria_of(event)
    by_key = {row.get("key"): row for row in rows}
    if set(by_key) != {c["key"] for c in current}:
        raise ServiceError("评审标准已被修改，请刷新页面后重试。", "criteria")
    updated = []
    for index, criterion in enumerate(current):
        row = by_key[criterion["key"]]
        weight = row.get("weight")
        if not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ServiceError("权重应为 0～100 的整数。", f"criteria-{index}-weight")
        updated.append({**criterion, "weight": weight, "hint": (row.get("hint") or "").strip()})
    total = sum(c["weight"] for c in updated)
    if total != 100:
        raise ServiceError(f"各项权重之和应为 100，现在是 {total}。", "criteria")

    changes = {}
    for before, after in zip(current, updated):
        changed = diff({"weight": before["weight"], "hint": before.get("hint", "")},
                       {"weight": after["weight"], "hint": after["hint"]})
        if changed:
            changes[before["label"]] = changed
    if not changes and event.review_criteria:
        return 0
    event.review_criteria = updated  # a new list: JSON columns track assignment, not mutation

    recomputed = 0
    if any(b["weight"] != a["weight"] for b, a in zip(current, updated)):
        scored = db.session.scalars(
            select(ReviewAssignment).join(Submission)
            .where(Submission.event_id == event.id, ReviewAssignment.scored_at.is_not(None))
        ).all()
        for assignment in scored:
            assignment.weighted_total = weighted_total(assignment.scores, updated)
            recomputed += 1
    weights = "、".join(f"{c['label']} {c['weight']}" for c in updated)
    record_audit(actor=actor, action="review.criteria", object_type="event", object_id=event.id,
                 event_id=event.id, changes=changes,
                 summary=f"修改评审标准：{weights}"
                         + (f"；已按新权重重算 {recomputed} 份评分的加权总分" if recomputed else ""))
    db.session.flush()
    return recomputed


# --- assignments ----------------------------------------------------------------------

def active_reviewers() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.role == "reviewer", User.active.is_(True)).order_by(User.name)))


def _lock_submissions(event: Event, submission_ids) -> list[Submission]:
    """Lock the event, then its submitted submissions among the ids, in id order: the order
    cancelling and saving materials take them (event → registration → submission)."""
    lock_event(event.id)
    ids = sorted({int(i) for i in submission_ids})
    if not ids:
        return []
    return list(db.session.execute(
        select(Submission).where(Submission.id.in_(ids), Submission.event_id == event.id,
                                 Submission.status == "submitted", submission_in_play())
        .order_by(Submission.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)).scalars())


@dataclass
class AssignResult:
    created: list[ReviewAssignment] = field(default_factory=list)
    already: int = 0


def assign_reviewers(event: Event, submission_ids, reviewer_ids, *, actor: str) -> AssignResult:
    """Assign every ticked submission to every chosen reviewer; an existing pair stays as it is."""
    submissions = _lock_submissions(event, submission_ids)
    if not submissions:
        raise ServiceError("请先勾选要分配的材料。", "submission_ids")
    wanted = sorted({int(i) for i in reviewer_ids})
    reviewers = list(db.session.scalars(
        select(User).where(User.id.in_(wanted), User.role == "reviewer", User.active.is_(True))
        .order_by(User.name))) if wanted else []
    if not reviewers:
        raise ServiceError("请选择至少一位评审专家。", "reviewer_ids")
    existing = set(db.session.execute(
        select(ReviewAssignment.submission_id, ReviewAssignment.reviewer_id)
        .where(ReviewAssignment.submission_id.in_([s.id for s in submissions]))).all())
    result = AssignResult()
    for submission in submissions:
        for reviewer in reviewers:
            if (submission.id, reviewer.id) in existing:
                result.already += 1
                continue
            assignment = ReviewAssignment(submission=submission, reviewer=reviewer,
                                          assigned_by=actor, scores={})
            db.session.add(assignment)
            db.session.flush()
            result.created.append(assignment)
            record_audit(actor=actor, action="review.assigned", object_type="review_assignment",
                         object_id=assignment.id, event_id=event.id,
                         registration_id=submission.registration_id,
                         summary=f"分配评审：{submission.code}「{submission.title}」"
                                 f"→ {reviewer.name}（{reviewer.email}）")
    db.session.flush()
    _tell_reviewers(event, result.created)
    return result


def _tell_reviewers(event: Event, created: list[ReviewAssignment]) -> None:
    """One mail per reviewer listing what was just assigned to them (nothing for a pair that
    already existed), sent by the worker once the assignment commits."""
    from ..notifications import queue_mail

    by_reviewer: dict[int, list[ReviewAssignment]] = {}
    for assignment in created:
        by_reviewer.setdefault(assignment.reviewer_id, []).append(assignment)
    for assignments in by_reviewer.values():
        reviewer = assignments[0].reviewer
        queue_mail("review_assigned", reviewer.email,
                   context={"reviewer": reviewer, "event": event,
                            "submissions": [a.submission for a in assignments]})


def unassign(assignment: ReviewAssignment, *, actor: str) -> None:
    """Take an assignment back; refused once the reviewer has scored it."""
    lock_event(assignment.submission.event_id)
    assignment = db.session.execute(
        select(ReviewAssignment).where(ReviewAssignment.id == assignment.id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)).scalar_one()
    submission = assignment.submission
    reviewer = assignment.reviewer
    if assignment.is_scored:
        raise ServiceError(f"{reviewer.name} 已为「{submission.title}」评分，不能取消分配。")
    record_audit(actor=actor, action="review.unassigned", object_type="review_assignment",
                 object_id=assignment.id, event_id=submission.event_id,
                 registration_id=submission.registration_id,
                 summary=f"取消评审分配：{submission.code}「{submission.title}」"
                         f"— {reviewer.name}（{reviewer.email}）")
    db.session.delete(assignment)
    db.session.flush()


# --- scoring --------------------------------------------------------------------------

def score_locked_reason(submission: Submission) -> str | None:
    """Why a submission's scores can no longer change, or None while they can."""
    if not submission.is_submitted:
        return "该材料已撤回，无需评分。"
    if submission.selection != "pending":
        return (f"管理员已将该材料评定为「{submission.selection_label}」，"
                "评分已定稿，只能查看，不能再修改。")
    return None


def save_scores(assignment: ReviewAssignment, scores: dict, comment: str, *, actor: str,
                now: datetime) -> ReviewAssignment:
    """Record a reviewer's scores and comment and compute the weighted total."""
    # event → submission → assignment: the order every other writer takes them in.
    lock_event(assignment.submission.event_id)
    submission = db.session.execute(
        select(Submission).where(Submission.id == assignment.submission_id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)).scalar_one()
    assignment = db.session.execute(
        select(ReviewAssignment).where(ReviewAssignment.id == assignment.id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)).scalar_one()
    locked = score_locked_reason(submission)
    if locked:
        raise ServiceError(locked)
    criteria = criteria_of(submission.event)
    clean = {}
    for criterion in criteria:
        value = scores.get(criterion["key"])
        if not isinstance(value, int) or not 0 <= value <= SCORE_MAX:
            raise ServiceError(f"评分应为 0～{SCORE_MAX} 的整数。", f"score_{criterion['key']}")
        clean[criterion["key"]] = value
    comment = (comment or "").strip()
    if not comment and any(v < COMMENT_NEEDED_BELOW for v in clean.values()):
        raise ServiceError(f"有单项低于 {COMMENT_NEEDED_BELOW} 分，请在评语中说明理由。", "comment")
    before = {"scores": dict(assignment.scores or {}), "weighted_total": assignment.weighted_total,
              "comment": assignment.comment}
    assignment.scores = clean
    assignment.weighted_total = weighted_total(clean, criteria)
    assignment.comment = comment
    assignment.scored_at = now
    record_audit(actor=actor, action="review.scored", object_type="review_assignment",
                 object_id=assignment.id, event_id=submission.event_id,
                 registration_id=submission.registration_id,
                 summary=f"评分：{submission.code}「{submission.title}」"
                         f"加权总分 {assignment.weighted_total}",
                 changes=diff(before, {"scores": clean,
                                       "weighted_total": assignment.weighted_total,
                                       "comment": comment}))
    db.session.flush()
    return assignment


# --- selection and marks --------------------------------------------------------------

def mark_selection(event: Event, submission_ids, selection: str, note: str, *, actor: str,
                   now: datetime) -> int:
    """Mark each ticked submission 入选 / 未入选 / 待评定 with a note; returns how many changed."""
    if selection not in SELECTIONS:
        raise ServiceError("请选择评定结果。", "selection")
    submissions = _lock_submissions(event, submission_ids)
    if not submissions:
        raise ServiceError("请先勾选要评定的材料。", "submission_ids")
    note = (note or "").strip()
    changed = 0
    for submission in submissions:
        before = {"selection": submission.selection, "selection_note": submission.selection_note}
        after = {"selection": selection, "selection_note": note}
        changes = diff(before, after)
        if not changes:
            continue
        submission.selection = selection
        submission.selection_note = note
        submission.selected_by = actor
        submission.selected_at = now
        changed += 1
        record_audit(actor=actor, action="review.selection", object_type="submission",
                     object_id=submission.id, event_id=event.id,
                     registration_id=submission.registration_id, changes=changes,
                     summary=f"评定 {submission.code}「{submission.title}」为"
                             f"「{SELECTIONS[selection]}」" + (f"：{note}" if note else ""))
    db.session.flush()
    return changed


def set_mark(event: Event, submission_ids, mark: str, value: bool, *, actor: str) -> int:
    """Set or clear 已交流发言 / 专家已点评 on each ticked submission; returns how many changed."""
    if mark not in MARKS:
        raise ServiceError("未知的标记。")
    if mark not in marks_for(event):
        raise ServiceError(NO_MARKS_FOR_CALL)
    submissions = _lock_submissions(event, submission_ids)
    if not submissions:
        raise ServiceError("请先勾选要标记的材料。", "submission_ids")
    changed = 0
    for submission in submissions:
        if getattr(submission, mark) == value:
            continue
        setattr(submission, mark, value)
        changed += 1
        record_audit(actor=actor, action=f"review.{mark}", object_type="submission",
                     object_id=submission.id, event_id=event.id,
                     registration_id=submission.registration_id,
                     changes={mark: [not value, value]},
                     summary=f"{'标记' if value else '取消标记'}「{MARKS[mark]}」："
                             f"{submission.code}「{submission.title}」")
    db.session.flush()
    return changed


# --- what the pages show --------------------------------------------------------------

@dataclass
class BoardRow:
    submission: Submission
    by_reviewer: dict[int, ReviewAssignment]
    mean: Decimal | None
    scored: int
    assigned: int


@dataclass
class Board:
    rows: list[BoardRow]
    reviewers: list[User]      # everyone assigned anything in the event: the columns
    counts: dict[str, int]     # by selection, and "all"


def review_board(event: Event, selection: str | None = None) -> Board:
    """Every submitted submission of the event with its reviewers' scores, best mean first.

    A material whose registration was cancelled is not on it, even if still marked submitted.
    """
    submissions = db.session.scalars(
        select(Submission).where(Submission.event_id == event.id,
                                 Submission.status == "submitted", submission_in_play())
        .order_by(Submission.id)).all()
    counts = {key: 0 for key in SELECTIONS}
    for submission in submissions:
        counts[submission.selection] = counts.get(submission.selection, 0) + 1
    counts["all"] = len(submissions)
    ids = [s.id for s in submissions]
    assignments = db.session.scalars(
        select(ReviewAssignment).where(ReviewAssignment.submission_id.in_(ids))).all() if ids else []
    by_submission: dict[int, dict[int, ReviewAssignment]] = {}
    reviewers: dict[int, User] = {}
    for assignment in assignments:
        by_submission.setdefault(assignment.submission_id, {})[assignment.reviewer_id] = assignment
        reviewers[assignment.reviewer_id] = assignment.reviewer
    rows = []
    for submission in submissions:
        if selection and submission.selection != selection:
            continue
        mine = by_submission.get(submission.id, {})
        totals = [a.weighted_total for a in mine.values()
                  if a.is_scored and a.weighted_total is not None]
        rows.append(BoardRow(submission=submission, by_reviewer=mine, mean=mean_of(totals),
                             scored=len(totals), assigned=len(mine)))
    rows.sort(key=lambda r: (r.mean is None, -(r.mean or 0), r.submission.id))
    return Board(rows=rows, reviewers=sorted(reviewers.values(), key=lambda u: (u.name, u.id)),
                 counts=counts)


@dataclass
class EventAssignments:
    event: Event
    assignments: list[ReviewAssignment]

    @property
    def scored(self) -> int:
        return sum(1 for a in self.assignments if a.is_scored)


def assignments_of(reviewer: User) -> list[EventAssignments]:
    """A reviewer's own assignments, grouped by event (latest event first)."""
    assignments = db.session.scalars(
        select(ReviewAssignment).join(Submission).join(Event)
        .where(ReviewAssignment.reviewer_id == reviewer.id)
        .order_by(Event.starts_on.desc(), Event.id, ReviewAssignment.scored_at.is_not(None),
                  Submission.id)).all()
    groups: dict[int, EventAssignments] = {}
    for assignment in assignments:
        event = assignment.submission.event
        groups.setdefault(event.id, EventAssignments(event=event, assignments=[]))
        groups[event.id].assignments.append(assignment)
    return list(groups.values())


