"""Forms of the registrations desk: substitute a person, cancel, extend, correct a unit."""
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..checks import id_number_is_valid
from ..models import Registration
from .registration import AttendeeForm, FormMeta, UnitFields


class DeskForm(FlaskForm):
    class Meta(FormMeta):
        pass


class SubstituteForm(DeskForm):
    attendee_id = SelectField("被替换的参会人员", coerce=int,
                              validators=[InputRequired("请选择要替换的参会人员。")])
    # The new person's fields are the registration form's own.
    name = AttendeeForm.name
    gender = AttendeeForm.gender
    ethnicity = AttendeeForm.ethnicity
    title = AttendeeForm.title
    mobile = AttendeeForm.mobile
    email = AttendeeForm.email
    id_number = AttendeeForm.id_number
    diet = AttendeeForm.diet
    remarks = AttendeeForm.remarks

    def __init__(self, *args, registration: Registration, **kwargs):
        super().__init__(*args, **kwargs)
        self.asks_id_number = registration.event.ask_id_number
        self.attendee_id.choices = [(a.id, f"{a.name}（{a.title}）")
                                    for a in registration.attendees]

    def validate_id_number(self, field):
        value = (field.data or "").strip()
        if self.asks_id_number and not value:
            raise ValidationError("请填写身份证号。")
        if value and not id_number_is_valid(value):
            raise ValidationError("身份证号校验不符，请核对 18 位号码（末位可为 X）。")


class CancelForm(DeskForm):
    reason = TextAreaField("取消原因", [InputRequired("请填写取消原因。"),
                                       Length(max=200, message="原因不超过 200 个字。")])


class ExtendForm(DeskForm):
    until = DateField("允许修改参会人员至（含当日）", [Optional()], format="%Y-%m-%d")


class UnitForm(DeskForm):
    """Staff correct a unit's details with the registration form's own fields (not its tier)."""

    unit_name = UnitFields.unit_name
    province = UnitFields.province
    city = UnitFields.city
    address = UnitFields.address
    contact_name = UnitFields.contact_name
    contact_mobile = UnitFields.contact_mobile
    contact_email = UnitFields.contact_email
