"""The same-work baseline for bench/register.py: the rows of one registration and nothing else.

POST /events/<key>/register reads the urlencoded form that confreg's registration page
posts and, in one transaction with SQLAlchemy Core on the real migrated schema, stores what
a single-attendee registration stores: the registration, its attendee, the audit entry and
the confirmation mail in the outbox (outbound_mail, status pending).  It commits and answers
302 to /r/<token>, as the real app does.  No validation, no CSRF, no session, no templates,
no ORM, and nothing is handed to the worker.

The lock is the real one: on SQLite the engine gets confreg's pragmas and BEGIN handling
(confreg.database.configure_engine) and the transaction begins IMMEDIATE (write intent
forced on), like the real registration's write transaction; on PostgreSQL the event's row
is locked FOR NO KEY UPDATE first, as confreg's lock_event does.  So both sides queue on
the same lock, one registration at a time per event.

    DATABASE_URL=... gunicorn -w N -b 127.0.0.1:PORT bench.samework_app:app    (cwd: repo root)
"""
import hashlib
import os
import secrets
from datetime import date, datetime, timezone
from decimal import Decimal

from flask import Flask, redirect, request
from sqlalchemy import create_engine, insert, select

from confreg.checks import new_registration_code
from confreg.database import configure_engine, write_intent
from confreg.models import Attendee, AuditEntry, Event, OutboundMail, Registration

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)  # as config.py
configure_engine(engine)

EVENT, REGISTRATION = Event.__table__, Registration.__table__
ATTENDEE, AUDIT, MAIL = Attendee.__table__, AuditEntry.__table__, OutboundMail.__table__
FEE = Decimal("3580.00")  # the standard price of tests.conftest.make_event
BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
MAIL_SUBJECT = "报名成功：{code} {unit}"
MAIL_BODY = """{contact}，您好：

贵单位（{unit}）已报名参加本次活动。

报名编号：{code}
参会人员：{attendee}（1 人）
应缴金额：{amount} 元（标准价）

请于缴费截止日（含当日）前汇款至会务组账户，汇款备注：{code} 城乡社区工作委员会服务费
（请原样填写备注，报名编号便于财务核对到账。）

私密链接（凭此查看、修改或取消报名，下载缴费通知单；请妥善保存，勿转发）：
{link}

报名信息可在报名截止日（含当日）前修改。
收到汇款后开具正式电子发票。

中国社会工作联合会城乡社区工作委员会
"""


@app.get("/healthz")
def healthz():
    return "ok\n"


@app.post("/events/<key>/register")
def register(key):
    f = request.form
    now = datetime.now(timezone.utc)
    token = secrets.token_urlsafe(24)
    code = new_registration_code()
    unit, contact, email = f["unit_name"].strip(), f["contact_name"], f["contact_email"]
    name = f["attendees-0-name"]
    with write_intent(True), engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE
        event_id = conn.execute(select(EVENT.c.id).where(EVENT.c.key == key)
                                .with_for_update(key_share=True)).scalar_one()
        registration_id = conn.execute(insert(REGISTRATION).values(
            event_id=event_id, code=code, token_hash=hashlib.sha256(token.encode()).hexdigest(),
            status="active", submission_key=None, unit_name=unit, tier_claim=f["tier_claim"],
            tier_status="standard", member_unit_id=None, credit_code=f["credit_code"] or None,
            credit_code_confirmed=False, province=f["province"], city=f["city"],
            address=f["address"], contact_name=contact, contact_mobile=f["contact_mobile"],
            contact_email=email, invoice_title=f["invoice_title"] or unit,
            invoice_taxpayer_id=f["invoice_taxpayer_id"], invoice_type=f["invoice_type"],
            invoice_content=f["invoice_content"], invoice_email=f["invoice_email"] or email,
            total_amount=FEE, consent_at=now, created_at=now, updated_at=now,
        )).inserted_primary_key[0]
        conn.execute(insert(ATTENDEE).values(
            registration_id=registration_id, event_id=event_id, position=0, name=name,
            gender=f["attendees-0-gender"], ethnicity=f["attendees-0-ethnicity"],
            title=f["attendees-0-title"], mobile=f["attendees-0-mobile"],
            email=f["attendees-0-email"], id_number="",
            accommodation=f["attendees-0-accommodation"],
            arrival_on=date.fromisoformat(f["attendees-0-arrival_on"]),
            departure_on=date.fromisoformat(f["attendees-0-departure_on"]),
            diet=f["attendees-0-diet"], remarks=f["attendees-0-remarks"], fee=FEE,
            completed_by="",
        ))
        conn.execute(insert(AUDIT).values(
            at=now, actor=f"单位联系人 {contact}", action="registration.created",
            object_type="registration", object_id=registration_id, event_id=event_id,
            registration_id=registration_id, summary=f"提交报名：1 人，应缴 {FEE:,.2f} 元（标准价）",
            changes={"attendees": [None, [name]], "total_amount": [None, f"{FEE:.2f}"]},
        ))
        conn.execute(insert(MAIL).values(
            kind="registration_confirmed", to_addr=email,
            subject=MAIL_SUBJECT.format(code=code, unit=unit),
            body_text=MAIL_BODY.format(contact=contact, unit=unit, code=code, attendee=name,
                                       amount=f"{FEE:,.2f}", link=f"{BASE_URL}/r/{token}"),
            registration_id=registration_id, status="pending", attempts=0, last_error="",
            next_attempt_at=now, created_at=now,
        ))
    return redirect(f"/r/{token}")
