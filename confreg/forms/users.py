"""Staff account forms: create, and edit (name, role, active, password reset)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional

from ..models.users import ROLES
from ..services.users import MIN_PASSWORD_LENGTH
from .registration import FormMeta

_PASSWORD_LENGTH = Length(min=MIN_PASSWORD_LENGTH, max=200,
                          message=f"密码至少 {MIN_PASSWORD_LENGTH} 位。")


class _Meta(FormMeta):
    """Clean text as every form does, but a password is taken exactly as typed."""

    def bind_field(self, form, unbound_field, options):
        if issubclass(unbound_field.field_class, PasswordField):
            return unbound_field.bind(form=form, **options)
        return super().bind_field(form, unbound_field, options)


class UserEditForm(FlaskForm):
    Meta = _Meta

    name = StringField("姓名", [InputRequired("请填写姓名。"),
                              Length(max=50, message="姓名不超过 50 个字。")])
    role = RadioField("角色", choices=ROLES,
                      validators=[InputRequired("请选择角色。")])
    active = BooleanField("启用（停用后不能登录）")
    new_password = PasswordField("重置密码（不改请留空）", [Optional(), _PASSWORD_LENGTH])


class UserCreateForm(FlaskForm):
    Meta = _Meta

    email = EmailField("邮箱（登录用）", [InputRequired("请填写邮箱。"),
                                      Email("邮箱格式不正确，如 name@example.com。"),
                                      Length(max=254)])
    name = UserEditForm.name
    role = UserEditForm.role
    password = PasswordField("初始密码", [InputRequired("请填写初始密码。"), _PASSWORD_LENGTH])
