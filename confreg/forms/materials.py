"""Forms of the exchange materials: the unit's upload, and staff letting a unit past the deadline."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..services.materials import ABSTRACT_MAX
from .registration import FormMeta


class MaterialForm(FlaskForm):
    """Title, authors, their unit, an optional abstract and the file (checked by the service)."""

    class Meta(FormMeta):
        pass

    title = StringField("材料标题", [InputRequired("请填写材料标题。"),
                                    Length(max=200, message="标题不超过 200 个字。")])
    authors = StringField("作者", [InputRequired("请填写作者。"),
                                  Length(max=200, message="作者不超过 200 个字。")])
    author_unit = StringField("作者单位", [Length(max=200, message="作者单位不超过 200 个字。")])
    abstract = TextAreaField("内容摘要（选填）", [
        Length(max=ABSTRACT_MAX, message=f"摘要不超过 {ABSTRACT_MAX} 字。")])
    file = FileField("材料文件（Word .docx 或 PDF）")


class MaterialsExtendForm(FlaskForm):
    class Meta(FormMeta):
        pass

    until = DateField("允许提交或更换材料至（含当日）", [Optional()], format="%Y-%m-%d")
