"""Forms of expert review: the criteria's weights, a reviewer's scores, the board's actions."""
import re

from flask_wtf import FlaskForm
from wtforms import (FieldList, Form, FormField, HiddenField, RadioField, SelectMultipleField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..database import MAX_ROW_ID
from ..models.materials import SELECTIONS
from ..models.reviews import SCORE_MAX
from .registration import FormMeta

WHOLE_NUMBER = re.compile(r"[0-9]{1,3}")


class ReviewForm(FlaskForm):
    class Meta(FormMeta):
        pass


def whole_number(low: int, high: int, message: str):
    """A text field holding an integer low..high (kept as typed when it is not one)."""
    def check(form, field):
        value = (field.data or "").strip()
        if not WHOLE_NUMBER.fullmatch(value) or not low <= int(value) <= high:
            raise ValidationError(message)
    return check


class CriterionRow(Form):
    Meta = FormMeta

    key = HiddenField()
    weight = StringField("权重", [InputRequired("请填写权重。"),
                                 whole_number(0, 100, "权重应为 0～100 的整数。")])
    hint = TextAreaField("评审要点", [Optional(), Length(max=200, message="要点不超过 200 个字。")],
                         render_kw={"rows": 2})


class CriteriaForm(ReviewForm):
    criteria = FieldList(FormField(CriterionRow), min_entries=1)

    def validate_criteria(self, field):
        try:
            total = sum(int(row.form.weight.data) for row in field)
        except (TypeError, ValueError):
            return  # the row's own error says which weight is wrong
        if total != 100:
            raise ValidationError(f"各项权重之和应为 100，现在是 {total}。")

    def rows(self) -> list[dict]:
        return [{"key": row.form.key.data, "weight": int(row.form.weight.data),
                 "hint": row.form.hint.data or ""} for row in self.criteria]


def score_form(criteria: list[dict], **kwargs) -> FlaskForm:
    """The scoring form of an event: one field per criterion (score_<key>) and a comment."""
    class ScoreForm(ReviewForm):
        comment = TextAreaField("评语", [Optional(), Length(max=2000, message="评语不超过 2000 个字。")],
                                render_kw={"rows": 6, "maxlength": 2000})

    for criterion in criteria:
        label = f"{criterion['label']}（权重 {criterion['weight']}）"
        setattr(ScoreForm, f"score_{criterion['key']}", StringField(label, [
            InputRequired(f"请为「{criterion['label']}」打分。"),
            whole_number(0, SCORE_MAX, f"评分应为 0～{SCORE_MAX} 的整数。")],
            render_kw={"maxlength": 3, "autocomplete": "off"}))
    return ScoreForm(**kwargs)


def scores_from(form, criteria: list[dict]) -> dict:
    return {c["key"]: int(form[f"score_{c['key']}"].data) for c in criteria}


def row_id(value) -> int:
    """A posted row id: a whole number a database key can hold (else "not a valid choice")."""
    number = int(value)
    if not 0 < number <= MAX_ROW_ID:
        raise ValueError("not a row id")
    return number


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        pass  # ids are checked by the service against the event (a stale page is no error)


class BoardForm(ReviewForm):
    """The board's one form: ticked submissions, then assign, select or mark them."""

    submission_ids = MultiCheckbox("材料", coerce=row_id)
    reviewer_ids = MultiCheckbox("评审专家", coerce=row_id)
    selection = RadioField("评定结果", choices=dict(SELECTIONS), validators=[Optional()])
    selection_note = StringField("评定说明（可不填）",
                                 [Optional(), Length(max=500, message="说明不超过 500 个字。")])
