"""Finance forms: a payment received (or refunded), voiding a receipt, issuing one again."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, StopValidation

from ..checks import parse_amount
from ..models.payments import PAYMENT_METHODS
from .registration import FormMeta


class MoneyField(StringField):
    """An amount of yuan as typed by finance staff: "2,980.00", "¥2980", "-500" all work."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.amount, self.too_large = parse_amount(self.data)

    def pre_validate(self, form):
        if getattr(self, "too_large", False):
            raise StopValidation("金额过大，请核对。")
        if self.data and getattr(self, "amount", None) is None:
            raise StopValidation("请填写数字金额，如 2980 或 2,980.00；退款填负数，如 -500。")


class PaymentForm(FlaskForm):
    Meta = FormMeta

    amount = MoneyField("金额（元）", [InputRequired("请填写金额。")])
    received_on = DateField("到账日期", [InputRequired("请选择到账日期。")],
                            render_kw={"type": "date"})
    payer_name = StringField("付款账户名称", [Optional(), Length(max=200)])
    bank_reference = StringField("银行流水号", [Optional(), Length(max=64)])
    method = SelectField("付款方式", choices=PAYMENT_METHODS,
                         default="bank_transfer")
    note = TextAreaField("备注", [Optional(), Length(max=2000)], render_kw={"rows": 2})


class VoidReceiptForm(FlaskForm):
    Meta = FormMeta

    reason = TextAreaField("作废原因", [InputRequired("请填写作废原因。"), Length(max=500)],
                           render_kw={"rows": 3})


class IssueReceiptForm(FlaskForm):
    """Only the CSRF token: the button that issues a receipt again."""
