"""Finance's forms for the bank statement: the upload, a layout's columns, the decisions."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .registration import FormMeta


class UploadStatementForm(FlaskForm):
    Meta = FormMeta

    file = FileField("银行流水文件（网银导出的 .xls / .xlsx / .csv / .txt）")


class ActionForm(FlaskForm):
    """Only the CSRF token: one-click buttons (confirm the pile, take a suggestion)."""

    Meta = FormMeta


class IgnoreForm(FlaskForm):
    Meta = FormMeta

    note = TextAreaField("说明（这笔款项是什么）", [InputRequired("请说明这笔款项的用途。"),
                                               Length(max=500)], render_kw={"rows": 2})


class UnassignForm(FlaskForm):
    Meta = FormMeta

    reason = TextAreaField("撤销原因", [InputRequired("请填写撤销原因。"), Length(max=500)],
                           render_kw={"rows": 2})


class RefundForm(FlaskForm):
    Meta = FormMeta

    registration_code = StringField("退款给报名（报名编号）", [Optional(), Length(max=16)])
    credit_id = SelectField("或：退还哪笔多付款", choices=[], validate_choice=False,
                            validators=[Optional()])


def mapping_form(fields: dict[str, str], headers: list[str], guess: dict[str, int]):
    """A form with one select per canonical field: which column of the layout it is."""

    class MappingForm(FlaskForm):
        Meta = FormMeta

    choices = [("", "（没有这一列）")] + [(str(i), h or f"第 {i + 1} 列")
                                        for i, h in enumerate(headers)]
    for name, label in fields.items():
        default = str(guess[name]) if name in guess else ""
        setattr(MappingForm, name, SelectField(label, choices=choices, default=default,
                                               validators=[Optional()]))
    return MappingForm
