"""Finance's forms for the e-invoice: the upload of issued files, the decisions on held
invoices and on units' changes, the red-letter reversal."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .registration import FormMeta


class UploadInvoicesForm(FlaskForm):
    Meta = FormMeta

    file = FileField("已开具的发票文件（税务平台下载的 PDF / OFD / XML，或它们的 .zip 压缩包）")


class ResolveForm(FlaskForm):
    """A held or unmatched invoice: attach it to a request, or set it aside with a note."""

    Meta = FormMeta

    request_id = SelectField("属于哪张发票申请", choices=[], validate_choice=False,
                             validators=[Optional()])
    note = TextAreaField("说明", [Length(max=500)], render_kw={"rows": 2})


class DecideChangeForm(FlaskForm):
    Meta = FormMeta

    note = TextAreaField("不接受的原因（单位会看到）", [Length(max=500)], render_kw={"rows": 2})


class ReversalForm(FlaskForm):
    Meta = FormMeta

    number = StringField("红字发票号码（20 位）", [InputRequired("请填写红字发票号码。"),
                                              Length(max=30)])
    issued_on = DateField("开具日期", [Optional()], format="%Y-%m-%d")
    file = FileField("红字发票文件（选填：PDF / OFD / XML）")
