"""The print desk's choices: which day's sign-in sheet, masked or full numbers (GET forms)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import InputRequired, ValidationError

from .registration import FormMeta

SHOW_IN_FULL = "显示完整手机号/身份证号"
# "0", "no": a hand-typed URL must not print full numbers by saying no.
_FALSE_VALUES = (False, "false", "", "0", "no", "n", "off")


class _PrintMeta(FormMeta):
    csrf = False  # GET forms that change nothing


class ParticipantListForm(FlaskForm):
    Meta = _PrintMeta

    full = BooleanField(SHOW_IN_FULL, false_values=_FALSE_VALUES, id="participants-full")


class SigninSheetForm(FlaskForm):
    Meta = _PrintMeta

    day = SelectField("日期", validators=[InputRequired("请选择日期。")], validate_choice=False,
                      id="signin-day")
    full = BooleanField(SHOW_IN_FULL, false_values=_FALSE_VALUES, id="signin-full")

    def validate_day(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError("请选择活动期间的一天。")
