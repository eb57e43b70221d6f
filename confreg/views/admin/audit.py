"""The audit log for admins: who changed what, when, before and after; filtered and paged."""
import json
from datetime import datetime, time, timedelta, timezone

from flask import Blueprint, render_template, request
from sqlalchemy import func, select
from wtforms import DateField, Form, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from ...extensions import db
from ...forms.registration import FormMeta
from ...models import AuditEntry, Event
from ...services.events import FIELD_LABELS as EVENT_FIELD_LABELS
from ...timeutil import CHINA
from ..paging import page_arg
from .access import roles_required

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")

PER_PAGE = 50
OBJECT_TYPES = {"event": "活动", "fee_tier": "收费档次", "user": "用户", "registration": "报名",
                "attendee": "参会人员", "payment": "付款", "receipt": "收据",
                "member_unit": "会员单位"}
FIELD_LABELS = {**EVENT_FIELD_LABELS, "email": "邮箱", "name": "姓名", "role": "角色",
                "active": "启用", "password": "密码", "copied_from": "复制自",
                "unit_name": "单位名称", "total_amount": "应缴金额", "status": "状态"}


def plausible_date(form, field):
    if field.data and not 2000 <= field.data.year <= 2100:
        raise ValidationError("请填写 2000—2100 年之间的日期。")


class AuditFilter(Form):
    """The filters travel in the query string: a GET form, bookmarkable, no CSRF needed."""

    Meta = FormMeta

    event = SelectField("活动", validate_choice=False, default="")
    object_type = SelectField("对象", validate_choice=False, default="")
    actor = StringField("操作人")
    date_from = DateField("起始日期", [Optional(), plausible_date], format="%Y-%m-%d")
    date_to = DateField("结束日期", [Optional(), plausible_date], format="%Y-%m-%d")


def _china_day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA).astimezone(timezone.utc)


@bp.route("/")
@roles_required("admin")
def index():
    form = AuditFilter(request.args)
    events = db.session.execute(
        select(Event.id, Event.title).order_by(Event.starts_on.desc())).all()
    form.event.choices = {"": "全部活动", **{str(i): title for i, title in events}}
    types = db.session.scalars(select(AuditEntry.object_type).distinct()).all()
    form.object_type.choices = {"": "全部", **{t: OBJECT_TYPES.get(t, t) for t in sorted(types)}}
    form.validate()  # a bad date is shown beside its field and that filter is left out

    query = select(AuditEntry)
    if (form.event.data or "").isdigit():
        query = query.where(AuditEntry.event_id == int(form.event.data))
    if form.object_type.data:
        query = query.where(AuditEntry.object_type == form.object_type.data)
    if form.actor.data:
        query = query.where(func.lower(AuditEntry.actor).contains(form.actor.data.lower(),
                                                                   autoescape=True))
    if form.date_from.data and not form.date_from.errors:
        query = query.where(AuditEntry.at >= _china_day_start(form.date_from.data))
    if form.date_to.data and not form.date_to.errors:
        query = query.where(AuditEntry.at < _china_day_start(form.date_to.data + timedelta(days=1)))

    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(page_arg(), pages)
    entries = db.session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    titles = dict(events)
    filters = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("admin/audit/index.html", form=form, entries=entries, total=total,
                           page=page, pages=pages, filters=filters, titles=titles,
                           object_types=OBJECT_TYPES, field_label=_field_label,
                           show_value=_show_value)


def _field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def _show_value(value) -> str:
    """A before/after value as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list):
        return "\n".join(_show_value(item) for item in value)
    if isinstance(value, dict):
        return "\n".join(f"{_field_label(k)}：{_show_value(v)}" for k, v in value.items())
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
