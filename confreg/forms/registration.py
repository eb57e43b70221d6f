"""The registration form: a unit, its contact, 1..n attendees, invoice details, consent."""
import re
import secrets

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, FieldList, Form, FormField, HiddenField,
                     RadioField, SelectField, StringField, TextAreaField)
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from ..checks import (CREDIT_CODE_ALPHABET, ETHNIC_GROUPS, PROVINCES, credit_code_is_valid,
                      id_number_is_valid, is_mainland_mobile, normalize_credit_code,
                      normalize_mobile, strip_control_chars)
from ..timeutil import format_month_day_cn
from .registration_rows import posted_row_count
from ..models.registrations import (ACCOMMODATIONS, DIETS, GENDERS, INVOICE_TYPES,
                                    TIER_CLAIMS)

MAX_ATTENDEES = 50
TAXPAYER_ID = re.compile(r"[0-9A-Z]{15,20}")


def mainland_mobile(form, field):
    if field.data and not is_mainland_mobile(field.data):
        raise ValidationError("请填写 11 位中国大陆手机号码，如 13812345678。")


def person_name(form, field):
    name = (field.data or "").strip()
    if not 2 <= len(name) <= 30:
        raise ValidationError("姓名应为 2～30 个字。")
    if any(ch.isdigit() for ch in name):
        raise ValidationError("姓名中不能有数字。")


def clean_text(value):
    """Strip surrounding spaces and control characters from submitted text."""
    return strip_control_chars(value).strip() if isinstance(value, str) else value


class FormMeta:
    """Every form: WTForms' built-in messages in Chinese, every text field cleaned."""

    locales = ("zh",)

    def bind_field(self, form, unbound_field, options):
        if issubclass(unbound_field.field_class, StringField):
            options["filters"] = [clean_text, *unbound_field.kwargs.get("filters", ())]
        return unbound_field.bind(form=form, **options)


class KeyedChoices:
    """A select or radio field whose choices are a dict {value: label}: a posted value is
    checked against the dict's keys. WTForms' own check builds every option (57 ethnic
    groups, 34 provinces) to find the one posted -- a tenth of a registration POST's form
    work -- for the same answer and the same message."""

    def pre_validate(self, form):
        if not isinstance(self.choices, dict):
            return super().pre_validate(form)
        if self.process_errors or not self.validate_choice:
            return None
        if self.data not in self.choices:
            raise ValidationError(self.invalid_choice_message
                                  or self.gettext("Not a valid choice."))
        return None


class KeyedSelectField(KeyedChoices, SelectField):
    pass


class KeyedRadioField(KeyedChoices, RadioField):
    pass


class AttendeeForm(Form):
    """One attendee row; CSRF is on the enclosing form."""

    Meta = FormMeta

    id = HiddenField()
    name = StringField("姓名", [InputRequired("请填写姓名。"), person_name])
    gender = KeyedRadioField("性别", choices=GENDERS,
                             validators=[InputRequired("请选择性别。")])
    ethnicity = KeyedSelectField("民族（选填）",
                                 choices={"": "请选择", **{e: e for e in ETHNIC_GROUPS}},
                                 validate_choice=True, default="")
    title = StringField("职务/职称", [InputRequired("请填写职务或职称。"),
                                     Length(max=50, message="职务/职称不超过 50 个字。")])
    mobile = StringField("手机", [InputRequired("请填写手机号码。"), mainland_mobile])
    email = StringField("邮箱（选填）", [Optional(), Email("邮箱格式不正确，如 name@example.com。"),
                                      Length(max=254)])
    id_number = StringField("身份证号", [Length(max=18, message="身份证号为 18 位。")])
    accommodation = KeyedRadioField("住宿", choices=ACCOMMODATIONS, default="shared",
                                    validators=[InputRequired("请选择住宿安排。")])
    arrival_on = DateField("到达日期", [InputRequired("请填写到达日期。")],
                           format="%Y-%m-%d")
    departure_on = DateField("离开日期", [InputRequired("请填写离开日期。")],
                             format="%Y-%m-%d")
    diet = KeyedRadioField("饮食", choices=DIETS, default="none",
                           validators=[InputRequired("请选择饮食要求。")])
    remarks = TextAreaField("备注（选填）", [Length(max=200, message="备注不超过 200 个字。")])


class UnitFields(FlaskForm):
    """Unit, contact and invoice details: shared by the registration and edit forms."""

    class Meta(FormMeta):
        pass

    unit_name = StringField("单位名称", [InputRequired("请填写单位全称。"),
                                        Length(min=2, max=100, message="单位名称应为 2～100 个字。")])
    tier_claim = KeyedRadioField("单位类别", choices=TIER_CLAIMS,
                                 validators=[InputRequired("请选择单位类别。")])
    credit_code = StringField("统一社会信用代码（选填）")
    credit_code_confirmed = BooleanField("我已核对，确认代码无误")
    province = KeyedSelectField("省份", choices={"": "请选择", **{p: p for p in PROVINCES}},
                                validators=[InputRequired("请选择省份。")])
    city = StringField("城市", [InputRequired("请填写所在城市。"), Length(max=30)])
    address = StringField("通讯地址（选填）", [Length(max=150, message="地址不超过 150 个字。")])
    contact_name = StringField("联系人", [InputRequired("请填写联系人姓名。"), person_name])
    contact_mobile = StringField("联系人手机", [InputRequired("请填写联系人手机。"), mainland_mobile])
    contact_email = StringField("联系人邮箱", [InputRequired("请填写联系人邮箱，确认信将发到这里。"),
                                          Email("邮箱格式不正确，如 name@example.com。"),
                                          Length(max=254)])

    invoice_title = StringField("发票抬头（默认为单位名称）",
                                [Length(max=100, message="发票抬头不超过 100 个字。")])
    invoice_taxpayer_id = StringField("纳税人识别号")
    invoice_type = KeyedRadioField("发票类型", choices=INVOICE_TYPES, default="ordinary",
                                   validators=[InputRequired("请选择发票类型。")])
    invoice_content = StringField("发票内容", [Length(max=30)])
    invoice_email = StringField("接收电子发票的邮箱（默认为联系人邮箱）",
                                [Optional(), Email("邮箱格式不正确，如 name@example.com。"),
                                 Length(max=254)])
    invoice_taxpayer_id_confirmed = BooleanField("我已核对，确认税号无误")
    # 增值税专用发票: the buyer fields the platform prints on it.
    invoice_buyer_address = StringField("购买方地址（专票）",
                                        [Length(max=100, message="地址不超过 100 个字。")])
    invoice_buyer_phone = StringField("购买方电话（专票）",
                                      [Length(max=40, message="电话不超过 40 个字符。")])
    invoice_buyer_bank = StringField("购买方开户银行（专票）",
                                     [Length(max=60, message="开户银行不超过 60 个字。")])
    invoice_buyer_account = StringField("购买方银行账号（专票）")
    invoice_together = BooleanField("几个单位一起付款，与同一抬头、税号和接收邮箱的其他报名合开一张发票")

    def validate_credit_code(self, field):
        code = normalize_credit_code(field.data or "")
        if not code:
            return
        if len(code) != 18 or not set(code) <= set(CREDIT_CODE_ALPHABET):
            raise ValidationError("统一社会信用代码为 18 位数字或大写字母（不含 I、O、Z、S、V）。")
        if code == self.confirmed_credit_code:
            self.credit_code_confirmed.data = True  # confirmed before: no need to ask again
        if not credit_code_is_valid(code) and not self.credit_code_confirmed.data:
            self.credit_code_needs_confirmation = True
            raise ValidationError("代码校验位不符，请核对。部分早期代码无法通过校验："
                                  "如确认无误，请勾选下方“确认代码无误”后再提交。")

    def validate_invoice_taxpayer_id(self, field):
        value = normalize_credit_code(field.data or "")
        if value and not TAXPAYER_ID.fullmatch(value):
            raise ValidationError("纳税人识别号一般为 15～20 位数字或字母，通常与统一社会信用代码相同。")
        if not value and self.invoice_type.data == "special":
            raise ValidationError("开具增值税专用发票须填写纳税人识别号。")
        # An 18-character number is a unified social credit code: GB 32100's check character
        # tells a typo. Other lengths (old tax registration numbers) pass, flagged to finance.
        if len(value) == 18 and not credit_code_is_valid(value) \
                and not self.invoice_taxpayer_id_confirmed.data:
            raise ValidationError("纳税人识别号的校验位不符，可能有输错的字符，请与营业执照核对。"
                                  "如确认无误，请勾选下方“确认税号无误”后再提交。")

    def validate_invoice_buyer_account(self, field):
        value = "".join((field.data or "").split())
        if value and not re.fullmatch(r"[0-9-]{6,40}", value):
            raise ValidationError("银行账号应为 6～40 位数字。")
        field.data = value


class AttendeeRows:
    """The attendee rows and their cross-field rules (dates within the event, ID numbers)."""

    attendees = FieldList(FormField(AttendeeForm), min_entries=1, max_entries=MAX_ATTENDEES)

    def __init__(self, formdata=None, *, event=None, confirmed_credit_code=None, **kwargs):
        """formdata: the posted rows as clean_rows() returns them, or None to show data."""
        super().__init__(formdata=formdata, **kwargs)
        self.event = event
        self.confirmed_credit_code = confirmed_credit_code
        self.posted_rows = posted_row_count(formdata) if formdata is not None else 0

    def validate_attendees(self, field):
        event = self.event
        if not field.entries:
            raise ValidationError("请至少填写一名参会人员。")
        if self.posted_rows > MAX_ATTENDEES:
            # FieldList would silently drop the rows beyond max_entries.
            raise ValidationError(f"一次最多报名 {MAX_ATTENDEES} 人；人数更多时请分批报名或联系会务组。")
        seen: dict[str, int] = {}
        seen_ids: set[str] = set()
        for number, entry in enumerate(field.entries, start=1):
            row = entry.form
            arrival, departure = row.arrival_on.data, row.departure_on.data
            if event is not None and arrival and not event.starts_on <= arrival <= event.ends_on:
                row.arrival_on.errors = [*row.arrival_on.errors, _within(event)]
            if event is not None and departure and not event.starts_on <= departure <= event.ends_on:
                row.departure_on.errors = [*row.departure_on.errors, _within(event)]
            if arrival and departure and departure < arrival:
                row.departure_on.errors = [*row.departure_on.errors, "离开日期不能早于到达日期。"]
            if event is not None and event.ask_id_number:
                value = (row.id_number.data or "").strip()
                if not value:
                    row.id_number.errors = [*row.id_number.errors, "请填写身份证号。"]
                elif not id_number_is_valid(value):
                    row.id_number.errors = [*row.id_number.errors,
                                            "身份证号校验不符，请核对 18 位号码（末位可为 X）。"]
            mobile = normalize_mobile(row.mobile.data or "")
            if mobile and mobile in seen:
                row.mobile.errors = [*row.mobile.errors,
                                     f"与第 {seen[mobile]} 位参会人员的手机号相同。"]
            seen.setdefault(mobile, number)
            if row.id.data:
                if row.id.data in seen_ids:  # a tampered form: two rows for one person
                    raise ValidationError("参会人员数据有误，请刷新页面后重新填写。")
                seen_ids.add(row.id.data)
        if any(entry.form.errors for entry in field.entries) and not field.errors:
            # Row errors are shown beside their fields; the list itself needs no message.
            raise ValidationError("")


class SubmitOnce:
    """A key handed out with the blank form: the same form sent twice makes one record."""

    submission_key = HiddenField()

    def issue_submission_key(self) -> None:
        self.submission_key.data = secrets.token_urlsafe(24)

    @property
    def posted_submission_key(self) -> str | None:
        return (self.submission_key.data or "")[:43] or None


class RegistrationForm(SubmitOnce, AttendeeRows, UnitFields):
    consent = BooleanField("我已阅读并同意《个人信息收集与使用说明》",
                           [InputRequired("请阅读并同意个人信息收集与使用说明后提交。")])


class RegistrationEditForm(AttendeeRows, UnitFields):
    """The unit changes its registration from its private page."""


class InvoiceForm(FlaskForm):
    class Meta(FormMeta):
        pass

    invoice_title = UnitFields.invoice_title
    invoice_taxpayer_id = UnitFields.invoice_taxpayer_id
    invoice_type = UnitFields.invoice_type
    invoice_content = UnitFields.invoice_content
    invoice_email = UnitFields.invoice_email
    invoice_taxpayer_id_confirmed = UnitFields.invoice_taxpayer_id_confirmed
    invoice_buyer_address = UnitFields.invoice_buyer_address
    invoice_buyer_phone = UnitFields.invoice_buyer_phone
    invoice_buyer_bank = UnitFields.invoice_buyer_bank
    invoice_buyer_account = UnitFields.invoice_buyer_account
    invoice_together = UnitFields.invoice_together
    validate_invoice_taxpayer_id = UnitFields.validate_invoice_taxpayer_id
    validate_invoice_buyer_account = UnitFields.validate_invoice_buyer_account


class ConfirmForm(FlaskForm):
    """An empty form: a button that carries the CSRF token."""


def _within(event) -> str:
    return (f"日期须在活动期间（{format_month_day_cn(event.starts_on)}—"
            f"{format_month_day_cn(event.ends_on)}）。")
