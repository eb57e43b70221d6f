"""The form on /recover: a registration or case code and the contact e-mail."""
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Email, InputRequired, Length

from .registration import FormMeta


class RecoverLinkForm(FlaskForm):
    class Meta(FormMeta):
        pass

    code = StringField("报名编号或申报编号", [
        InputRequired("请填写报名编号或申报编号。"),
        Length(max=20, message="编号不超过 20 个字符。")])
    email = StringField("联系人邮箱", [
        InputRequired("请填写报名或申报时填写的联系人邮箱。"),
        Email("邮箱格式不正确，如 name@example.com。"),
        Length(max=254, message="邮箱不超过 254 个字符。")])


class ConfirmNewLinkForm(FlaskForm):
    """The button on the confirm page: only its CSRF token (a GET of the link changes nothing)."""

    class Meta(FormMeta):
        pass
