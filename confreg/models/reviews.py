"""Expert review: a submission assigned to a reviewer, and the scores they gave."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db

# The criteria of the call (材料要求: 真实性、规范性、创新性); an event sets its own weights.
DEFAULT_CRITERIA = [
    {"key": "authenticity", "label": "真实性", "weight": 40,
     "hint": "近三年已实施且成效显著的项目，材料真实可信"},
    {"key": "conformity", "label": "规范性", "weight": 30,
     "hint": "正文约3000字，含背景、做法、成效三部分，突出实招，附摘要及图片"},
    {"key": "innovation", "label": "创新性", "weight": 30,
     "hint": "守正创新、与时俱进，善于运用先进理念和方式方法"},
]
# A meeting's exchange materials are judged on the same three criteria and weights, with
# hints that fit a material written for the meeting rather than a case for the call.
MATERIAL_CRITERIA = [
    {**criterion, "hint": hint} for criterion, hint in zip(DEFAULT_CRITERIA, (
        "内容真实、数据可靠",
        "结构完整、约3000字",
        "做法新颖、可复制推广",
    ))
]
SCORE_MAX = 100  # each criterion is scored 0..100; the total is their weighted mean


class ReviewAssignment(db.Model):
    __tablename__ = "review_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(120), default="")
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"authenticity": 85, ...} on the event's criteria; empty until scored.
    scores: Mapped[dict] = mapped_column(JSON, default=dict)
    weighted_total: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    comment: Mapped[str] = mapped_column(Text, default="")
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission: Mapped["Submission"] = relationship()  # noqa: F821
    reviewer: Mapped["User"] = relationship()  # noqa: F821

    __table_args__ = (
        UniqueConstraint("submission_id", "reviewer_id", name="uq_review_assignment_once"),
    )

    @property
    def is_scored(self) -> bool:
        return self.scored_at is not None
