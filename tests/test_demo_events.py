"""The demo events are complete, well-typed and consistent with the real notices."""
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

try:
    from confreg.demo_events import DEMO_EVENTS
except ImportError:  # run without the project root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from confreg.demo_events import DEMO_EVENTS

STR_KEYS = (
    "key", "kind", "title", "short_title", "notice_heading", "addressees", "preamble",
    "organiser", "co_organiser", "supporters_note", "city", "venue_name", "venue_address",
    "venue_phone", "fee_covers", "fee_note", "payee_name", "bank_name", "bank_account",
    "payment_remark", "invoice_note", "invoice_content", "materials_note", "signed_by",
)
DATE_KEYS = ("starts_on", "ends_on", "registration_deadline", "published_on", "signed_on")
OPTIONAL_DATE_KEYS = ("materials_deadline", "payment_deadline")
LIST_KEYS = ("schedule", "requirements", "fee_tiers", "contacts", "categories", "sections")
ALL_KEYS = set(STR_KEYS + DATE_KEYS + OPTIONAL_DATE_KEYS + LIST_KEYS
               + ("capacity", "materials_char_limit"))

# Column sizes of confreg.models.events, so the loader never truncates or fails.
MAX_LEN = {"title": 200, "short_title": 60, "addressees": 200, "organiser": 200,
           "co_organiser": 200, "city": 60, "venue_name": 120, "venue_address": 300,
           "venue_phone": 40, "payee_name": 120, "bank_name": 120, "bank_account": 40,
           "payment_remark": 60, "invoice_content": 60, "signed_by": 120}

PERIODS = ("全天", "上午", "下午", "晚上")
CONTACT_KINDS = {"phone", "mobile", "person", "email", "website", "wechat"}
PERIOD_ORDER = {p: i for i, p in enumerate(PERIODS)}

IDS = [e["key"] for e in DEMO_EVENTS]
BY_KEY = {e["key"]: e for e in DEMO_EVENTS}


def is_date(value) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def all_strings(event):
    """Every text in the event, nested ones included."""
    for key in STR_KEYS:
        yield key, event[key]
    for i, item in enumerate(event["requirements"]):
        yield f"requirements[{i}]", item
    for i, (_, period, text) in enumerate(event["schedule"]):
        yield f"schedule[{i}]", text
    for name in ("fee_tiers", "contacts", "categories", "sections"):
        for i, item in enumerate(event[name]):
            for k, v in item.items():
                if isinstance(v, str):
                    yield f"{name}[{i}].{k}", v


def test_three_events_with_unique_keys():
    assert IDS == ["xining", "kunming", "case-call"]
    assert [e["kind"] for e in DEMO_EVENTS] == ["meeting", "training", "call"]


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_keys_and_types(event):
    assert set(event) == ALL_KEYS
    for key in STR_KEYS:
        assert isinstance(event[key], str), key
    for key in DATE_KEYS:
        assert is_date(event[key]), key
    for key in OPTIONAL_DATE_KEYS:
        assert event[key] is None or is_date(event[key]), key
    for key in LIST_KEYS:
        assert isinstance(event[key], list), key
    assert isinstance(event["capacity"], int) and event["capacity"] >= 0
    limit = event["materials_char_limit"]
    assert limit is None or (isinstance(limit, int) and limit > 0)
    for key, size in MAX_LEN.items():
        assert len(event[key]) <= size, key
    for key in ("title", "short_title", "notice_heading", "addressees", "preamble",
                "organiser", "signed_by"):
        assert event[key].strip(), key


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_nested_shapes(event):
    for item in event["schedule"]:
        assert isinstance(item, tuple) and len(item) == 3
        day, period, text = item
        assert is_date(day) and period in PERIODS and isinstance(text, str) and text
    for item in event["requirements"]:
        assert isinstance(item, str) and item
        assert not re.match(r"^\d+、", item)  # numbering comes from the list order
    for tier in event["fee_tiers"]:
        assert set(tier) == {"code", "label", "amount", "is_member"}
        assert isinstance(tier["amount"], Decimal) and isinstance(tier["is_member"], bool)
    if event["fee_tiers"]:
        assert len({t["code"] for t in event["fee_tiers"]}) == len(event["fee_tiers"])
        assert sorted(t["is_member"] for t in event["fee_tiers"]) == [False, True]
    for contact in event["contacts"]:
        assert set(contact) == {"kind", "label", "value"}
        assert contact["kind"] in CONTACT_KINDS and contact["value"]
        assert len(contact["label"]) <= 60 and len(contact["value"]) <= 120
    for category in event["categories"]:
        assert set(category) == {"code", "label", "title", "description"}
        assert all(isinstance(v, str) and v for v in category.values())
    for section in event["sections"]:
        assert {"heading", "body"} <= set(section) <= {"heading", "body", "placement"}
        assert section.get("placement", "intro") == "intro"
        assert isinstance(section["heading"], str) and section["body"]


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_texts_use_year_placeholders(event):
    """No literal event year is left in a text, and every text formats cleanly."""
    for where, text in all_strings(event):
        assert not re.search(r"(?<!\d)20[0-9]{2}(?!\d)", text), where
        assert "  " not in text and text == text.strip(), where
        assert text.format(year=2030, prev_year=2029) is not None, where
        assert set(re.findall(r"\{(\w*)\}", text)) <= {"year", "prev_year"}, where
    # obvious typos of the source are fixed
    for where, text in all_strings(event):
        assert "联会会" not in text and "vip. 163" not in text, where


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_dates_are_ordered(event):
    start, end = event["starts_on"], event["ends_on"]
    assert start <= end
    assert event["published_on"] <= start
    assert event["signed_on"] == event["published_on"]
    deadlines = [event[k] for k in ("registration_deadline", "materials_deadline",
                                    "payment_deadline") if event[k] is not None]
    for deadline in deadlines:
        assert event["published_on"] <= deadline
        if event["kind"] == "call":
            assert start <= deadline <= end
        else:
            assert deadline <= start
    if event["kind"] != "call":
        assert (event["materials_deadline"] <= event["registration_deadline"]
                <= event["payment_deadline"] < start)


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_schedule_days_fall_within_event_in_order(event):
    keys = [(day, PERIOD_ORDER[period]) for day, period, _ in event["schedule"]]
    assert keys == sorted(keys)
    for day, _, _ in event["schedule"]:
        assert event["starts_on"] <= day <= event["ends_on"]
    if event["schedule"]:
        days = {day for day, _, _ in event["schedule"]}
        assert event["starts_on"] in days and event["ends_on"] in days


@pytest.mark.parametrize("event", DEMO_EVENTS, ids=IDS)
def test_paid_events_have_account_and_remark(event):
    if event["fee_tiers"]:
        for key in ("fee_covers", "payee_name", "bank_name", "bank_account",
                    "payment_remark", "invoice_note", "invoice_content"):
            assert event[key], key
        assert event["payment_deadline"] is not None
        assert event["capacity"] > 0
    else:
        assert event["payment_deadline"] is None
        assert not event["bank_account"] and not event["payment_remark"]


def test_xining_matches_notice():
    x = BY_KEY["xining"]
    assert x["title"] == "全国基层物业管理服务创新发展经验交流会暨{year}年常务委员单位会议"
    assert x["notice_heading"] == (
        "中国社会工作联合会城乡社区工作委员会关于召开"
        "全国基层物业管理服务创新发展经验交流会暨{year}年常务委员单位会议的通知")
    assert x["short_title"] == "西宁会议"
    assert x["addressees"] == "各委员单位、会员单位及相关单位："
    assert x["organiser"] == "中国社会工作联合会城乡社区工作委员会"
    assert x["co_organiser"] == "青海省社会工作协会"
    assert x["city"] == "青海省西宁市"
    assert x["venue_name"] == "西宁大厦"
    assert x["venue_address"] == "青海省西宁市城东区建国路61号"
    assert x["venue_phone"] == "0971-8164800"
    assert (x["starts_on"], x["ends_on"]) == (date(2024, 8, 20), date(2024, 8, 23))
    assert x["materials_deadline"] == date(2024, 8, 1)
    assert x["registration_deadline"] == date(2024, 8, 10)
    assert x["payment_deadline"] == date(2024, 8, 15)
    assert x["published_on"] == x["signed_on"] == date(2024, 6, 28)
    assert x["signed_by"] == "中国社会工作联合会"
    assert x["capacity"] == 200

    tiers = {t["code"]: t for t in x["fee_tiers"]}
    assert tiers["member"]["amount"] == Decimal("2980") and tiers["member"]["is_member"]
    assert tiers["standard"]["amount"] == Decimal("3580") and not tiers["standard"]["is_member"]
    assert tiers["member"]["label"] == "委员会委员单位或联合会会员单位"
    assert tiers["standard"]["label"] == "其他单位、相关社会机构或个人等"
    assert x["fee_covers"] == "含食宿、场地、资料、现场考察、咨询、管理、专家授课和筹划组织等费用"
    assert x["bank_account"] == "0200003409014427548"
    assert x["bank_name"] == "中国工商银行北京朝阳支行"
    assert x["payee_name"] == "中国社会工作联合会"
    assert x["payment_remark"] == "城乡社区工作委员会服务费"
    assert x["invoice_content"] == "培训服务"
    assert x["invoice_note"].startswith("收到汇款后由中国社会工作联合会开具正式电子发票")

    assert len(x["requirements"]) == 3
    assert "8月10日之前" in x["requirements"][0]
    assert "3000字以内为宜" in x["requirements"][1] and "8月1日前" in x["requirements"][1]
    assert "“{year}年党建引领城乡社区治理推进年活动”" in x["requirements"][2]
    assert x["materials_char_limit"] == 3000
    assert "3000字以内为宜" in x["materials_note"]
    assert "中国社会工作联合会城乡社区工作委员会研究决定" in x["preamble"]
    assert x["preamble"].count("\n\n") >= 1

    assert [(d.day, p) for d, p, _ in x["schedule"]] == [
        (20, "全天"), (21, "上午"), (21, "下午"), (22, "上午"), (22, "下午"), (22, "晚上"),
        (23, "全天")]
    texts = [t for _, _, t in x["schedule"]]
    assert texts[0] == "报到" and texts[-1] == "返程"
    assert "研习班" in texts[2] and "{year}年常务委员单位会议" in texts[3]
    assert "沙龙" in texts[5]

    contacts = {(c["kind"], c["label"]): c["value"] for c in x["contacts"]}
    assert contacts[("phone", "城乡工委")] == "010-65081896"
    assert contacts[("phone", "会员部")] == "010-65035021"
    assert contacts[("person", "王老师")] == "13681260509"
    assert contacts[("person", "杨老师")] == "18518479502"
    assert contacts[("website", "中国社区工作网")] == "zhongguoshequ1990.org.cn"
    assert contacts[("wechat", "公众号")] == "中国社区工作网（zhongguoshequ1990）"
    assert ("email", "邮箱") in contacts


def test_no_email_has_a_stray_space():
    for event in DEMO_EVENTS:
        for where, text in all_strings(event):
            for match in re.finditer(r"zhongguoshequ@[^\s，。；）]*", text):
                assert match.group(0) == "zhongguoshequ@vip.163.com", where


def test_kunming_training():
    k = BY_KEY["kunming"]
    assert k["title"] == "城乡社区养老服务创新发展培训班"
    assert k["organiser"] == "中国社会工作联合会城乡社区工作委员会"
    assert k["city"] == "云南省昆明市"
    assert k["venue_name"] == "" and "另行通知" in k["venue_address"]
    assert (k["starts_on"], k["ends_on"]) == (date(2024, 6, 21), date(2024, 6, 25))
    assert k["registration_deadline"] == date(2024, 6, 10)
    assert k["payment_deadline"] == date(2024, 6, 15)
    assert k["materials_deadline"] == date(2024, 6, 1)
    assert k["materials_char_limit"] is None
    assert k["capacity"] == 60
    assert [t["amount"] for t in k["fee_tiers"]] == [Decimal("2980"), Decimal("3580")]
    assert k["bank_account"] == BY_KEY["xining"]["bank_account"]
    assert "主办方" in k["fee_note"]
    assert k["preamble"].startswith("为深入学习贯彻")
    assert "{year}年全国“两会”" in k["preamble"]
    text = "\n".join(t for _, t in all_strings(k))
    for name in ("王莉莉", "孙鹃娟", "李静", "结业", "养老服务机构"):
        assert name in text, name
    schedule = k["schedule"]
    assert schedule[0][0] == date(2024, 6, 21) and schedule[0][2] == "报到"
    last_day = [t for d, _, t in schedule if d == date(2024, 6, 25)]
    assert any("结业" in t for t in last_day) and any("返程" in t for t in last_day)
    lecture_days = {d for d, _, _ in schedule if date(2024, 6, 22) <= d <= date(2024, 6, 24)}
    assert lecture_days == {date(2024, 6, 22), date(2024, 6, 23), date(2024, 6, 24)}


def test_case_call():
    c = BY_KEY["case-call"]
    assert c["kind"] == "call"
    assert c["notice_heading"] == "关于征集{year}城乡社区治理服务资料库经验案例材料的通知"
    assert c["addressees"] == "各委员单位、有关单位及相关社会服务机构："
    assert c["fee_tiers"] == [] and c["capacity"] == 0
    assert c["starts_on"] == c["published_on"] == date(2026, 3, 1)
    assert c["registration_deadline"] == c["ends_on"] == date(2026, 7, 31)
    assert c["materials_char_limit"] == 3000
    assert "{prev_year}年已报材料切勿重复报送" in c["materials_note"]
    assert "200字左右内容摘要及3-5张高清图片" in c["materials_note"]
    assert [cat["code"] for cat in c["categories"]] == ["1", "2", "3", "4"]
    assert [cat["label"] for cat in c["categories"]] == ["分类一", "分类二", "分类三", "分类四"]
    assert c["categories"][0]["title"] == "关于城乡社区治理服务的体制机制和方式方法的创新探索"
    assert c["categories"][0]["description"].startswith("包括但不限于区域化党建、基层党组织统筹整合资源")
    headings = [s["heading"] for s in c["sections"]]
    assert headings[:3] == ["征集对象", "工作安排", "成果应用"]
    assert c["sections"][-1]["body"].startswith("本活动不收取任何费用")
    values = {c_["kind"]: c_["value"] for c_ in c["contacts"]}
    assert values == {"email": "zhongguoshequ@vip.163.com", "phone": "010-65081896",
                      "mobile": "18911607183"}


def test_events_do_not_share_mutable_parts():
    """The loader may mutate one event's lists without touching another's."""
    x, k = BY_KEY["xining"], BY_KEY["kunming"]
    assert x["fee_tiers"] is not k["fee_tiers"]
    assert x["fee_tiers"][0] is not k["fee_tiers"][0]
    assert x["contacts"] is not k["contacts"]


def test_flask_demo_load_is_idempotent_and_gives_open_events_and_demo_staff(app):
    from sqlalchemy import func, select

    from confreg.demo import DEMO_PASSWORD
    from confreg.extensions import db
    from confreg.models import Event, User
    from confreg.timeutil import china_today

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    second = runner.invoke(args=["demo", "load"])

    assert first.exit_code == second.exit_code == 0, first.output
    assert "演示活动已存在" in second.output
    with app.app_context():
        events = db.session.scalars(select(Event)).all()
        assert len(events) == 4
        # The three demo events are open; last year's call is loaded too, closed, with its cases.
        last_year_call = min((e for e in events if e.kind == "call"), key=lambda e: e.starts_on)
        assert all(e.registration_open(china_today()) for e in events if e is not last_year_call)
        assert not last_year_call.registration_open(china_today())
        assert last_year_call.phase(china_today()) == "past"
        staff = db.session.scalars(select(User).order_by(User.role)).all()
        assert [u.role for u in staff] == ["admin", "finance", "reviewer", "staff"]
        assert all(u.check_password(DEMO_PASSWORD) for u in staff)
        assert db.session.scalar(select(func.count(User.id))) == 4
