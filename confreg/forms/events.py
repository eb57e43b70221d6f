"""The event form: the notice's texts, venue, dates, fees, account, and its three lists
(fee tiers, schedule items, contacts) edited row by row without JavaScript."""
import re
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, FieldList, Form, FormField,
                     HiddenField, IntegerField, RadioField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import (InputRequired, Length, NumberRange, Optional, Regexp,
                                ValidationError)

from ..models.events import CONTACT_KINDS, EVENT_KINDS, PERIODS
from ..models.invoices import DOCUMENT_MODES
from .registration import FormMeta
from .registration_rows import posted_row_count

EVENT_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
TIER_CODE = re.compile(r"[a-z0-9_-]{1,20}")

# Each list: its prefix in the posted data, the most rows it takes, a new row's values.
ROW_LISTS = {
    "fee_tiers": (10, [("code", ""), ("amount", "")]),
    "schedule_items": (60, [("period", "全天")]),
    "contacts": (20, [("kind", "person")]),
}

_DATE = {"format": "%Y-%m-%d"}


def _text(label, max_length, *validators, required=None):
    checks = [InputRequired(required)] if required else []
    checks += [*validators, Length(max=max_length, message=f"不超过 {max_length} 个字。")]
    return StringField(label, checks)


class FeeTierRow(Form):
    Meta = FormMeta

    id = HiddenField()
    code = StringField("代码", [InputRequired("请填写代码。"),
                              Regexp(TIER_CODE, message="代码为小写字母、数字、- 或 _，不超过 20 位。")])
    label = _text("档次名称", 120, required="请填写档次名称，如“会员单位”。")
    amount = DecimalField("金额（元/人）", [InputRequired("请填写金额。"),
                                        NumberRange(min=0, message="金额不能为负数。")],
                          places=2)
    is_member = BooleanField("会员价")


class ScheduleRow(Form):
    Meta = FormMeta

    day = DateField("日期", [InputRequired("请填写日期。")], **_DATE)
    period = SelectField("时段", choices={p: p for p in PERIODS})
    text = TextAreaField("内容", [InputRequired("请填写日程内容。"),
                                Length(max=500, message="不超过 500 个字。")])


class ContactRow(Form):
    Meta = FormMeta

    kind = SelectField("类型", choices=CONTACT_KINDS)
    label = _text("称呼/说明", 60)
    value = _text("号码/地址", 120, required="请填写号码或地址。")


class EventForm(FlaskForm):
    """One form for creating and editing an event."""

    class Meta(FormMeta):
        pass

    kind = RadioField("类型", choices=EVENT_KINDS, default="meeting",
                      validators=[InputRequired("请选择活动类型。")])
    key = StringField("网址标识", [InputRequired("请填写网址标识。"),
                                Regexp(EVENT_KEY, message="只能用小写字母、数字和连字符 -，"
                                                          "以字母或数字开头，不超过 64 位。")],
                      filters=[lambda v: v.lower() if isinstance(v, str) else v])
    title = _text("标题", 200, required="请填写活动标题。")
    short_title = _text("简称", 60)
    notice_heading = TextAreaField("通知文号/抬头", [Length(max=500)])
    addressees = _text("主送单位", 200)
    preamble = TextAreaField("正文开头", [Length(max=10000)])
    requirements = TextAreaField("相关要求（每行一条）", [Length(max=10000)])
    organiser = _text("主办单位", 200)
    co_organiser = _text("协办单位", 200)
    supporters_note = TextAreaField("支持单位", [Length(max=2000)])

    city = _text("城市", 60)
    venue_name = _text("会场名称", 120)
    venue_address = _text("会场地址", 300)
    venue_phone = _text("会场电话", 40)

    starts_on = DateField("开始日期", [InputRequired("请填写开始日期。")], **_DATE)
    ends_on = DateField("结束日期", [InputRequired("请填写结束日期。")], **_DATE)
    registration_deadline = DateField("报名截止", [InputRequired("请填写报名截止日期。")], **_DATE)
    materials_deadline = DateField("交流材料截止（选填）", [Optional()], **_DATE)
    payment_deadline = DateField("缴费截止（选填）", [Optional()], **_DATE)
    published_on = DateField("发文日期（选填）", [Optional()], **_DATE)
    capacity = IntegerField("名额（0 为不限）", [InputRequired("请填写名额，不限请填 0。"),
                                           NumberRange(min=0, message="名额不能为负数。")],
                            default=0)

    fee_covers = TextAreaField("费用包含", [Length(max=1000)])
    fee_note = TextAreaField("费用说明", [Length(max=2000)])
    payee_name = _text("收款单位", 120)
    bank_name = _text("开户行", 120)
    bank_account = _text("账号", 40)
    payment_remark = _text("汇款备注", 60)
    invoice_note = TextAreaField("发票说明", [Length(max=2000)])
    invoice_content = _text("发票内容", 60)
    documents_mode = RadioField("单位缴费后得到", choices=list(DOCUMENT_MODES.items()),
                                default="both")
    # 商品和服务税收分类编码: 19 digits in the platform's code table (e.g. 3070201020000000000
    # for 培训服务 under 现代服务 -- finance gives the one the association's tax office uses).
    invoice_tax_code = StringField("税收分类编码（选填，19 位）", [
        Optional(), Regexp(r"^[0-9]{19}$", message="税收分类编码为 19 位数字。")])
    invoice_tax_rate = DecimalField("税率（如 0.06、0.03、0.01；不填为 0.06）", [
        Optional(),
        NumberRange(min=0, max=0.17, message="税率应在 0～0.17 之间，如 0.06。")],
        places=4, default=Decimal("0.06"))
    materials_note = TextAreaField("材料要求", [Length(max=5000)])
    materials_char_limit = IntegerField("材料字数上限（选填）", [
        Optional(), NumberRange(min=1, max=1_000_000, message="请填写正整数。")])
    materials_limit_blocks = BooleanField("超过字数上限时拒收（默认仅提醒）")
    ask_id_number = BooleanField("报名时填写身份证号（用于入住登记或证书）")
    status = RadioField("状态", choices={"draft": "草稿（不公开）",
                                       "published": "发布（在首页公开）"},
                        default="draft", validators=[InputRequired("请选择状态。")])

    fee_tiers = FieldList(FormField(FeeTierRow), max_entries=ROW_LISTS["fee_tiers"][0])
    schedule_items = FieldList(FormField(ScheduleRow),
                               max_entries=ROW_LISTS["schedule_items"][0])
    contacts = FieldList(FormField(ContactRow), max_entries=ROW_LISTS["contacts"][0])

    def __init__(self, formdata=None, **kwargs):
        """formdata: the post as clean_event_rows() returns it, or None to show data."""
        super().__init__(formdata=formdata, **kwargs)
        self.too_many_rows = [
            name for name, (most, _blank) in ROW_LISTS.items()
            if formdata is not None and posted_row_count(formdata, name) > most
        ]

    def validate(self, extra_validators=None):
        extra = {name: list(checks) for name, checks in (extra_validators or {}).items()}
        for name in self.too_many_rows:  # FieldList would drop the rows beyond its limit
            extra.setdefault(name, []).append(_at_most(ROW_LISTS[name][0]))
        return super().validate(extra)


def _at_most(rows: int):
    def check(form, field):
        raise ValidationError(f"最多 {rows} 行，请删去多余的行。")
    return check
