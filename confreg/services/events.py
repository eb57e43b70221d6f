"""Creating, editing and copying events: the rules between their fields, and the audit."""
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..database import begin_write
from ..demo import add_years
from ..extensions import db
from ..models import Event, EventContact, FeeTier, Registration, ScheduleItem
from ..models.events import CONTACT_KINDS, EVENT_KINDS, PERIODS
from ..timeutil import format_date_cn
from . import ServiceError
from .audit import diff, record_audit
from .registrations import lock_event, seats_taken

EVENT_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

# The event's own columns that the form edits, in the form's order.
EVENT_FIELDS = (
    "kind", "key", "title", "short_title", "notice_heading", "addressees", "preamble",
    "requirements", "organiser", "co_organiser", "supporters_note", "city", "venue_name",
    "venue_address", "venue_phone", "starts_on", "ends_on", "registration_deadline",
    "materials_deadline", "payment_deadline", "published_on", "capacity", "fee_covers",
    "fee_note", "payee_name", "bank_name", "bank_account", "payment_remark", "invoice_note",
    "invoice_content", "documents_mode", "invoice_tax_code", "invoice_tax_rate",
    "materials_note", "materials_char_limit", "materials_limit_blocks",
    "ask_id_number", "published",
)
DATE_FIELDS = ("starts_on", "ends_on", "registration_deadline", "materials_deadline",
               "payment_deadline", "published_on", "signed_on")
DEADLINES = {"registration_deadline": "报名截止", "materials_deadline": "交流材料截止",
             "payment_deadline": "缴费截止"}


@dataclass
class TierDetails:
    code: str
    label: str
    amount: Decimal
    is_member: bool = False
    id: int | None = None


@dataclass
class ScheduleDetails:
    day: date
    period: str
    text: str


@dataclass
class ContactDetails:
    kind: str
    value: str
    label: str = ""


@dataclass
class EventDetails:
    """Everything the event form carries; lists in their display order."""

    kind: str
    key: str
    title: str
    starts_on: date
    ends_on: date
    registration_deadline: date
    short_title: str = ""
    notice_heading: str = ""
    addressees: str = ""
    preamble: str = ""
    requirements: list[str] = field(default_factory=list)
    organiser: str = ""
    co_organiser: str = ""
    supporters_note: str = ""
    city: str = ""
    venue_name: str = ""
    venue_address: str = ""
    venue_phone: str = ""
    materials_deadline: date | None = None
    payment_deadline: date | None = None
    published_on: date | None = None
    capacity: int = 0
    fee_covers: str = ""
    fee_note: str = ""
    payee_name: str = ""
    bank_name: str = ""
    bank_account: str = ""
    payment_remark: str = ""
    invoice_note: str = ""
    invoice_content: str = ""
    documents_mode: str = "both"
    invoice_tax_code: str = ""
    invoice_tax_rate: Decimal = Decimal("0.06")
    materials_note: str = ""
    materials_char_limit: int | None = None
    materials_limit_blocks: bool = False
    ask_id_number: bool = False
    published: bool = False
    fee_tiers: list[TierDetails] = field(default_factory=list)
    schedule: list[ScheduleDetails] = field(default_factory=list)
    contacts: list[ContactDetails] = field(default_factory=list)


def _tier_line(tier) -> str:
    member = "，会员价" if tier.is_member else ""
    return f"{tier.code}：{tier.label} {Decimal(tier.amount):.2f} 元/人{member}"


def _snapshot(event: Event) -> dict:
    """The event as the audit log records it; lists as readable lines."""
    values = {name: getattr(event, name) for name in EVENT_FIELDS}
    values["schedule"] = [f"{item.day.isoformat()} {item.period} {item.text}"
                          for item in event.schedule]
    values["contacts"] = [f"{c.kind_label} {c.label} {c.value}".replace("  ", " ")
                          for c in event.contacts]
    return values


def _check(details: EventDetails, event: Event | None) -> None:
    """Refuse what the form alone cannot see: dates against each other, unique keys, tiers."""
    if details.kind not in EVENT_KINDS:
        raise ServiceError("未知的活动类型。", field="kind")
    if not EVENT_KEY.fullmatch(details.key or ""):
        raise ServiceError("网址标识只能用小写字母、数字和连字符 -，以字母或数字开头。",
                           field="key")
    taken = select(Event.id).where(Event.key == details.key)
    if event is not None:
        taken = taken.where(Event.id != event.id)
    if db.session.scalar(taken) is not None:
        raise ServiceError("该网址标识已被其他活动使用，请换一个。", field="key")
    if details.ends_on < details.starts_on:
        raise ServiceError("结束日期不能早于开始日期。", field="ends_on")
    for name, label in DEADLINES.items():
        deadline = getattr(details, name)
        if deadline is not None and deadline > details.ends_on:
            raise ServiceError(f"{label}日期不能晚于活动结束日期（{format_date_cn(details.ends_on)}）。",
                               field=name)
    if details.capacity < 0:
        raise ServiceError("名额不能为负数。", field="capacity")
    if event is not None and details.capacity:
        taken_seats = seats_taken(event)
        if details.capacity < taken_seats:
            raise ServiceError(f"名额不能少于已报名的 {taken_seats} 人（不限请填 0）。",
                               field="capacity")
    _check_tiers(details.fee_tiers, event)
    for number, item in enumerate(details.schedule):
        if not details.starts_on <= item.day <= details.ends_on:
            raise ServiceError("日程日期须在活动期间。", field=f"schedule_items-{number}-day")
        if item.period not in PERIODS:
            raise ServiceError("请选择时段。", field=f"schedule_items-{number}-period")
    for number, contact in enumerate(details.contacts):
        if contact.kind not in CONTACT_KINDS:
            raise ServiceError("请选择联系方式类型。", field=f"contacts-{number}-kind")


def _check_tiers(tiers: list[TierDetails], event: Event | None) -> None:
    codes: set[str] = set()
    for number, tier in enumerate(tiers):
        if tier.amount is None or tier.amount < 0:
            raise ServiceError("金额不能为负数。", field=f"fee_tiers-{number}-amount")
        if tier.code in codes:
            raise ServiceError("两个档次的代码相同。", field=f"fee_tiers-{number}-code")
        codes.add(tier.code)
    members = sum(1 for tier in tiers if tier.is_member)
    if members > 1 or len(tiers) - members > 1:
        raise ServiceError("最多一个会员价档次和一个非会员价档次。", field="fee_tiers")
    if tiers and members == len(tiers):
        raise ServiceError("收费活动须有一个非会员价档次（不勾选“会员价”）。", field="fee_tiers")
    if event is not None and _registration_count(event):
        kinds_before = sorted(tier.is_member for tier in event.fee_tiers)
        if kinds_before != sorted(tier.is_member for tier in tiers):
            raise ServiceError("已有单位报名：收费档次只能修改名称和金额，不能增加或删除。",
                               field="fee_tiers")


def _registration_count(event: Event) -> int:
    return db.session.scalar(select(func.count(Registration.id)).where(
        Registration.event_id == event.id, Registration.status == "active"))


def _save_tiers(event: Event, tiers: list[TierDetails], *, actor: str) -> list[str]:
    """Update tiers in place (matched by id), add new ones, remove the rest; audit each."""
    existing = {tier.id: tier for tier in event.fee_tiers}
    keep_ids = {details.id for details in tiers if details.id in existing}
    # Deletions first: a new row may reuse a removed row's code (unique per event).
    event.fee_tiers = [tier for tier in event.fee_tiers if tier.id in keep_ids]
    db.session.flush()
    kept: list[FeeTier] = []
    notes: list[str] = []
    audits: list[tuple[str, FeeTier | None, dict, str]] = []
    for position, details in enumerate(tiers):
        tier = existing.pop(details.id, None) if details.id in keep_ids else None
        values = {"code": details.code, "label": details.label,
                  "amount": Decimal(details.amount).quantize(Decimal("0.01")),
                  "is_member": details.is_member}
        if tier is None:
            tier = FeeTier(position=position, **values)
            audits.append(("fee_tier.created", tier, diff({}, values),
                           f"新增收费档次 {_tier_line(tier)}"))
        else:
            changes = diff({k: getattr(tier, k) for k in values}, values)
            if changes:
                audits.append(("fee_tier.updated", tier, changes,
                               f"修改收费档次 {tier.code}"))
                if "amount" in changes:
                    notes.append(f"{details.label} 金额 {changes['amount'][0]} → "
                                 f"{changes['amount'][1]} 元/人")
            for name, value in values.items():
                setattr(tier, name, value)
            tier.position = position
        kept.append(tier)
    for tier in existing.values():
        gone = {k: getattr(tier, k) for k in ("code", "label", "amount", "is_member")}
        audits.append(("fee_tier.deleted", None, diff(gone, {}),
                       f"删除收费档次 {_tier_line(tier)}"))
    event.fee_tiers = kept
    db.session.flush()
    for action, tier, changes, summary in audits:
        record_audit(actor=actor, action=action, object_type="fee_tier",
                     object_id=tier.id if tier is not None else None, event_id=event.id,
                     summary=summary, changes=changes)
    return notes


def save_event(event: Event | None, details: EventDetails, *,
               actor: str) -> tuple[Event, list[str]]:
    """Create an event (event is None) or change one; return it and notes for the organiser."""
    if event is None:
        begin_write(db.session)  # the key is checked and taken in one write transaction
    else:
        event = lock_event(event.id)  # registrations read the event under this lock
    _check(details, event)
    creating = event is None
    before = {} if creating else _snapshot(event)
    registrations = 0 if creating else _registration_count(event)
    if creating:
        event = Event()
        db.session.add(event)
    for name in EVENT_FIELDS:
        setattr(event, name, getattr(details, name))
    event.schedule = [ScheduleItem(day=item.day, period=item.period, text=item.text, position=n)
                      for n, item in enumerate(details.schedule)]
    event.contacts = [EventContact(kind=c.kind, label=c.label, value=c.value, position=n)
                      for n, c in enumerate(details.contacts)]
    try:
        with db.session.begin_nested():  # two organisers choosing one key at once
            db.session.flush()
    except IntegrityError:
        raise ServiceError("该网址标识已被其他活动使用，请换一个。", field="key") from None
    price_notes = _save_tiers(event, details.fee_tiers, actor=actor)
    notes: list[str] = []
    if price_notes and registrations:
        notes.append(f"已修改收费金额（{'；'.join(price_notes)}）。已有的 {registrations} 个报名"
                     "仍按原金额收费，不会自动调整。")
    changes = diff(before, _snapshot(event))
    if creating:
        record_audit(actor=actor, action="event.created", object_type="event",
                     object_id=event.id, event_id=event.id,
                     summary=f"创建活动「{event.title}」（{'已发布' if event.published else '草稿'}）",
                     changes=changes)
    elif changes:
        record_audit(actor=actor, action="event.updated", object_type="event",
                     object_id=event.id, event_id=event.id,
                     summary=f"修改活动「{event.title}」：" + "、".join(_labels(changes)),
                     changes=changes)
    return event, notes


FIELD_LABELS = {
    "kind": "类型", "key": "网址标识", "title": "标题", "short_title": "简称",
    "notice_heading": "通知文号/抬头", "addressees": "主送单位", "preamble": "正文开头",
    "requirements": "相关要求", "organiser": "主办单位", "co_organiser": "协办单位",
    "supporters_note": "支持单位", "city": "城市", "venue_name": "会场名称",
    "venue_address": "会场地址", "venue_phone": "会场电话", "starts_on": "开始日期",
    "ends_on": "结束日期", "registration_deadline": "报名截止", "materials_deadline": "交流材料截止",
    "payment_deadline": "缴费截止", "published_on": "发文日期", "capacity": "名额",
    "fee_covers": "费用包含", "fee_note": "费用说明", "payee_name": "收款单位",
    "bank_name": "开户行", "bank_account": "账号", "payment_remark": "汇款备注",
    "invoice_note": "发票说明", "invoice_content": "发票内容", "documents_mode": "收据与发票",
    "invoice_tax_code": "税收分类编码", "invoice_tax_rate": "税率", "materials_note": "材料要求",
    "materials_char_limit": "材料字数上限", "materials_limit_blocks": "超字数拒收",
    "ask_id_number": "填写身份证号",
    "published": "已发布", "schedule": "日程", "contacts": "联系方式",
    "code": "代码", "label": "名称", "amount": "金额", "is_member": "会员价",
}


def _labels(changes: dict) -> list[str]:
    return [FIELD_LABELS.get(name, name) for name in changes]


def _next_key(key: str, year: int) -> str:
    """The source's key with its year replaced (or added), made unique with -2, -3, …"""
    base = re.sub(r"-(19|20)[0-9]{2}$", "", key)
    suffix = f"-{year}"
    candidate = base[:64 - len(suffix)] + suffix
    number = 2
    while db.session.scalar(select(Event.id).where(Event.key == candidate)) is not None:
        tail = f"{suffix}-{number}"
        candidate = base[:64 - len(tail)] + tail
        number += 1
    return candidate


def copy_event(source: Event, *, actor: str) -> Event:
    """Start next year's event from this one: a draft, every date one year later."""
    begin_write(db.session)
    source = db.session.get(Event, source.id, populate_existing=True)
    old_year = source.starts_on.year
    new_year = add_years(source.starts_on, 1).year
    columns = [c.key for c in Event.__mapper__.column_attrs
               if c.key not in ("id", "key", "published", "created_at")]
    values = {name: getattr(source, name) for name in columns}
    for name in DATE_FIELDS:
        if values.get(name) is not None:
            values[name] = add_years(values[name], 1)
    for name in ("title", "short_title"):
        values[name] = values[name].replace(str(old_year), str(new_year))
    for name in ("requirements", "sections", "categories"):
        values[name] = [dict(item) if isinstance(item, dict) else item
                        for item in (values[name] or [])]
    copy = Event(key=_next_key(source.key, new_year), published=False, **values)
    copy.fee_tiers = [FeeTier(code=t.code, label=t.label, amount=t.amount, is_member=t.is_member,
                              position=t.position) for t in source.fee_tiers]
    copy.schedule = [ScheduleItem(day=add_years(s.day, 1), period=s.period, text=s.text,
                                  position=s.position) for s in source.schedule]
    copy.contacts = [EventContact(kind=c.kind, label=c.label, value=c.value, position=c.position)
                     for c in source.contacts]
    db.session.add(copy)
    db.session.flush()
    record_audit(actor=actor, action="event.copied", object_type="event", object_id=copy.id,
                 event_id=copy.id,
                 summary=f"由活动「{source.title}」（{source.key}）复制为草稿「{copy.title}」",
                 changes={"copied_from": [None, source.key], "key": [None, copy.key],
                          "starts_on": [source.starts_on.isoformat(), copy.starts_on.isoformat()]})
    return copy
