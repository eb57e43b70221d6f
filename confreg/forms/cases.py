"""The case submission form of a call, and the forms on a case's private page.

Files are checked by content in the view (services/uploads.py); these forms give the
file inputs, the typed fields and their single-field rules.
"""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from ..models.materials import RECOMMENDATIONS
from ..services.cases import MAX_PHOTOS
from .registration import FormMeta, SubmitOnce, UnitFields

ABSTRACT_MIN, ABSTRACT_MAX = 50, 400
PHOTO_SLOTS = range(1, MAX_PHOTOS + 1)


def abstract_length(value: str) -> int:
    """Characters of an abstract, spaces and line breaks not counted."""
    return len("".join((value or "").split()))


def _abstract_size(form, field):
    count = abstract_length(field.data)
    if count and count < ABSTRACT_MIN:
        raise ValidationError(f"摘要约 200 字为宜，目前只有 {count} 字，请至少写 {ABSTRACT_MIN} 字。")
    if count > ABSTRACT_MAX:
        raise ValidationError(f"摘要约 200 字为宜，目前 {count} 字，请压缩到 {ABSTRACT_MAX} 字以内。")


def _caption_field(n: int) -> StringField:
    return StringField(f"第 {n} 张图片说明", [Length(max=100, message="图片说明不超过 100 个字。")])


class _PhotoSlots:
    """Five photo slots, each a file and its caption (no JavaScript needed to add one)."""

    photo_1, caption_1 = FileField("第 1 张图片"), _caption_field(1)
    photo_2, caption_2 = FileField("第 2 张图片"), _caption_field(2)
    photo_3, caption_3 = FileField("第 3 张图片"), _caption_field(3)
    photo_4, caption_4 = FileField("第 4 张图片（选填）"), _caption_field(4)
    photo_5, caption_5 = FileField("第 5 张图片（选填）"), _caption_field(5)

    def photo(self, n: int):
        return self[f"photo_{n}"]

    def caption(self, n: int):
        return self[f"caption_{n}"]


class CaseForm(SubmitOnce, _PhotoSlots, FlaskForm):
    class Meta(FormMeta):
        pass

    unit_name = UnitFields.unit_name
    credit_code = UnitFields.credit_code
    credit_code_confirmed = UnitFields.credit_code_confirmed
    province = UnitFields.province
    city = UnitFields.city
    contact_name = UnitFields.contact_name
    contact_mobile = UnitFields.contact_mobile
    contact_email = UnitFields.contact_email
    recommendation = RadioField("是否委员单位 / 推荐方式", choices=RECOMMENDATIONS,
                                validators=[InputRequired("请选择本单位是否委员单位及推荐方式。")])
    category = RadioField("申报类别", validators=[InputRequired("请选择申报类别。")])
    title = StringField("案例标题", [InputRequired("请填写案例标题。"),
                                   Length(min=4, max=100, message="标题应为 4～100 个字。")])
    abstract = TextAreaField("内容摘要", [InputRequired("请填写约 200 字的内容摘要。"), _abstract_size])
    text_docx = FileField("正文 Word 版（.docx）")
    text_pdf = FileField("正文 PDF 版")
    application_form = FileField("申报表（加盖公章）")
    recommendation_file = FileField("专家签字的推荐意见")
    consent = BooleanField("同意保存",
                           [InputRequired("请同意委员会保存和使用申报信息后提交。")])

    confirmed_credit_code = None
    validate_credit_code = UnitFields.validate_credit_code

    def __init__(self, *args, event=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = {
            c["code"]: event.category_label(c["code"])
            for c in (event.categories if event is not None else []) or []
        }

    @property
    def abstract_count(self) -> int:
        return abstract_length(self.abstract.data)


class CaseTextForm(FlaskForm):
    """A new version of the text from the private page."""

    class Meta(FormMeta):
        pass

    text_docx = FileField("正文 Word 版（.docx）")
    text_pdf = FileField("正文 PDF 版")


class CasePhotosForm(_PhotoSlots, FlaskForm):
    """The photos and captions from the private page: replace, add, re-caption or remove."""

    class Meta(FormMeta):
        pass

    photo_1 = FileField("换一张图片（选填）")
    photo_2 = FileField("换一张图片（选填）")
    photo_3 = FileField("换一张图片（选填）")
    photo_4 = FileField("新增或更换图片（选填）")
    photo_5 = FileField("新增或更换图片（选填）")
    remove_1 = BooleanField("删除此图")
    remove_2 = BooleanField("删除此图")
    remove_3 = BooleanField("删除此图")
    remove_4 = BooleanField("删除此图")
    remove_5 = BooleanField("删除此图")


class CaseFormsForm(FlaskForm):
    """The stamped application form and the expert's recommendation, from the private page."""

    class Meta(FormMeta):
        pass

    application_form = FileField("新的申报表（加盖公章）")
    recommendation_file = FileField("新的专家推荐意见")
