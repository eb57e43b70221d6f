"""Forms of the certificates desk and of the attendance (sign-in and completion) page."""
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from .registration import FormMeta


class GenerateCertificatesForm(FlaskForm):
    """Only the CSRF token: the button that issues the certificates not yet issued."""

    Meta = FormMeta


class VoidCertificateForm(FlaskForm):
    Meta = FormMeta

    reason = TextAreaField("作废原因", [InputRequired("请填写作废原因。"),
                                     Length(max=500, message="作废原因不超过 500 个字。")],
                           render_kw={"rows": 3})


class IdListField(Field):
    """Attendee ids ticked on the page (checkboxes of one name); only `allowed` ids are valid."""

    allowed: frozenset[int] = frozenset()

    def _value(self):
        return ""

    def process_formdata(self, valuelist):
        try:
            self.data = [int(v) for v in valuelist]
        except ValueError:
            self.data = []
            raise ValueError("名单已变化，请刷新页面后重试。") from None

    def pre_validate(self, form):
        if any(value not in self.allowed for value in self.data or []):
            raise ValidationError("名单已变化，请刷新页面后重试。")


class AttendanceSheetForm(FlaskForm):
    """Who of the listed attendees signed in on the day, and (on a course) who completed.

    `listed` carries the ids shown (a search shows part of the list), so that unticked
    rows can be told from rows that were not on the page.
    """

    Meta = FormMeta

    day = HiddenField()
    listed = IdListField("名单")
    present = IdListField("签到")
    completed = IdListField("结业")

    def set_rows(self, attendee_ids: list[int]) -> None:
        allowed = frozenset(attendee_ids)
        self.listed.allowed = self.present.allowed = self.completed.allowed = allowed


class CompleteFromAttendanceForm(FlaskForm):
    Meta = FormMeta

    min_days = IntegerField("签到天数至少", [InputRequired("请填写签到天数。"),
                                         NumberRange(min=1, message="签到天数至少为 1 天。")],
                            render_kw={"inputmode": "numeric", "min": 1})
