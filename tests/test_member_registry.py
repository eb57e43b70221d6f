"""The member registry: importing it from .xlsx or CSV through a preview that saves nothing,
re-importing without duplicates, refusing files that are not tables; and the queue of
member-price claims that did not match: approve (member price stays) or reject (repriced to
the standard tier), each told to the unit by e-mail."""
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from confreg.checks import CREDIT_CODE_ALPHABET, credit_code_is_valid
from confreg.database import utcnow
from confreg.extensions import db
from confreg.models import AuditEntry, MemberUnit, OutboundMail, Registration
from confreg.services import ServiceError
from confreg.services.members import (approve_member_claim, keep_rejection, parse_valid_until,
                                      reject_member_claim)
from confreg.services.registrations import (AttendeeDetails, FeeQuote, UnitDetails, register_unit,
                                            update_registration)
import confreg.services.registrations as registrations
from confreg.timeutil import china_today
from tests.conftest import (add_member, csrf_token_from, form_values, make_event, post_form,
                            registration_form)

HEADER = "单位名称,统一社会信用代码,会员类型,有效期至"
CLAIMING_UNIT = "西宁市城北区朝阳街道社区服务中心"
MEMBER_PRICE, STANDARD_PRICE = Decimal("2980"), Decimal("3580")


def valid_code(prefix17: str) -> str:
    """Complete a 17-character prefix with its GB 32100 check character."""
    return next(prefix17 + c for c in CREDIT_CODE_ALPHABET if credit_code_is_valid(prefix17 + c))


CODE_A = valid_code("91630100MA7523456")
CODE_B = valid_code("51630102MJ2000123")
CODE_C = valid_code("52530100MJ0000071")
BAD_CHECK = CODE_C[:-1] + next(c for c in "0123456789" if c != CODE_C[-1])


def csv_bytes(*lines: str, encoding: str = "utf-8-sig") -> bytes:
    return "\r\n".join((HEADER, *lines)).encode(encoding)


def upload(client, data: bytes, filename: str = "members.csv"):
    page = client.get("/admin/members/")
    return client.post("/admin/members/upload", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token_from(page.text),
                             "file": (io.BytesIO(data), filename)})


def preview_of(client, data: bytes, filename: str = "members.csv"):
    response = upload(client, data, filename)
    assert response.status_code == 302, response.text
    assert "/admin/members/preview?upload=" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return page


def confirm(client, preview_page):
    values = form_values(preview_page.text)
    return client.post("/admin/members/confirm",
                       data={"csrf_token": values["csrf_token"], "upload": values["upload"]})


def import_file(client, data: bytes, filename: str = "members.csv"):
    response = confirm(client, preview_of(client, data, filename))
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/members/")
    return response


def registry(app) -> dict[str, MemberUnit]:
    with app.app_context():
        entries = db.session.scalars(select(MemberUnit)).all()
        for entry in entries:
            db.session.expunge(entry)
        return {entry.name: entry for entry in entries}


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        for entry in entries:
            db.session.expunge(entry)
        return entries


@pytest.fixture
def staff(staff_client):
    return staff_client("staff")


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path, monkeypatch):
    """Uploads waiting for confirmation go to a folder of this test's own."""
    monkeypatch.setitem(app.config, "MEMBER_IMPORT_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


# --- the preview ---------------------------------------------------------------------------

BAD_FILE = csv_bytes(
    f"西宁市城东区东关大街街道办事处,{CODE_A},委员会委员单位,2027-12-31",      # 2: added
    f",{CODE_B},委员会委员单位,2027-12-31",                                    # 3: no name
    f"昆明市五华区华山街道社区服务中心,{BAD_CHECK},联合会会员单位,2027/12/31",  # 4: warning only
    "上海市浦东新区社会工作协会,,理事单位,2027-12-31",                         # 5: unknown type
    "青海省社会工作协会,,委员会常务委员单位,2027-13-45",                       # 6: bad date
    "西宁市城东区 东关大街街道办事处,,委员会委员单位,2027-12-31",              # 7: same name as 2
    f"另一家单位,{CODE_A},committee_member,2027年12月31日",                     # 8: same code as 2
    "中国社会工作联合会会员服务中心,,委员会副主任委员单位,2028-06-30",         # 9: updates
)


def test_preview_shows_every_kind_of_bad_row_and_saves_nothing(app, staff):
    with app.app_context():
        add_member("中国社会工作联合会会员服务中心", member_type="federation_member")

    page = preview_of(staff, BAD_FILE)

    text = page.text
    assert "尚未保存任何内容" in text
    assert "第 3 行" in text and "缺少单位名称" in text
    assert "统一社会信用代码校验位不符" in text  # a warning: the row is still added
    assert "会员类型“理事单位”无法识别" in text
    assert "有效期“2027-13-45”不是日期" in text
    assert "与第 2 行重复（单位名称相同）" in text
    assert "与第 2 行重复（信用代码相同）" in text
    assert "会员类型：联合会会员单位 → 委员会副主任委员单位" in text
    assert "有效期至：长期有效 → 2028年6月30日" in text
    assert "新增 2 家" in text and "更新 1 家" in text and "将跳过 5 行" in text
    assert set(registry(app)) == {"中国社会工作联合会会员服务中心"}
    assert registry(app)["中国社会工作联合会会员服务中心"].member_type == "federation_member"
    assert audit_entries(app, "member_registry.imported") == []


def test_confirm_saves_the_good_rows_skips_the_bad_ones_and_audits_the_counts(
        app, staff, upload_folder):
    with app.app_context():
        add_member("中国社会工作联合会会员服务中心", member_type="federation_member")
    page = preview_of(staff, BAD_FILE)
    assert len(list(upload_folder.iterdir())) == 1  # kept on the server until confirmed

    response = confirm(staff, page)

    assert response.status_code == 302
    page = staff.get(response.headers["Location"])
    assert "新增 2 家，更新 1 家，无变化 0 家，跳过 5 行" in page.text
    assert "第 6 行未导入（青海省社会工作协会）" in page.text
    entries = registry(app)
    assert set(entries) == {"西宁市城东区东关大街街道办事处", "昆明市五华区华山街道社区服务中心",
                            "中国社会工作联合会会员服务中心"}
    assert entries["西宁市城东区东关大街街道办事处"].credit_code == CODE_A
    assert entries["西宁市城东区东关大街街道办事处"].valid_until == date(2027, 12, 31)
    assert entries["昆明市五华区华山街道社区服务中心"].member_type == "federation_member"
    assert entries["中国社会工作联合会会员服务中心"].member_type == "committee_vice_chair"
    assert entries["中国社会工作联合会会员服务中心"].valid_until == date(2028, 6, 30)
    [entry] = audit_entries(app, "member_registry.imported")
    assert "测试staff" in entry.actor
    assert "新增 2 家，更新 1 家" in entry.summary and "members.csv" in entry.summary
    assert entry.changes["skipped_lines"] == [None, [3, 5, 6, 7, 8]]
    assert list(upload_folder.iterdir()) == []


def test_reimporting_updates_instead_of_duplicating(app, staff):
    import_file(staff, csv_bytes(f"西宁市城东区东关大街街道办事处,{CODE_A},委员会委员单位,2026-12-31",
                                 f"昆明市五华区华山街道社区服务中心,{CODE_B},联合会会员单位,2026-12-31"))

    # Next year's list: one name written with full-width spaces, the other renamed but with
    # the same credit code, new dates and a new type.
    page = preview_of(staff, csv_bytes(
        f"西宁市城东区　东关大街街道办事处,{CODE_A},委员会常务委员单位,2027-12-31",
        f"昆明市五华区华山街道社区服务中心（党群服务中心）,{CODE_B},联合会会员单位,2027-12-31"))
    assert "新增 0 家" in page.text and "更新 2 家" in page.text
    confirm(staff, page)

    entries = registry(app)
    assert len(entries) == 2
    # The name as the file writes it (spaces tidied), still one entry.
    assert entries["西宁市城东区 东关大街街道办事处"].member_type == "committee_standing"
    renamed = entries["昆明市五华区华山街道社区服务中心（党群服务中心）"]
    assert renamed.credit_code == CODE_B and renamed.valid_until == date(2027, 12, 31)

    unchanged = preview_of(staff, csv_bytes(
        f"西宁市城东区　东关大街街道办事处,{CODE_A},委员会常务委员单位,2027-12-31"))
    assert "无变化 1 家" in unchanged.text and "不会使名录发生任何变化" in unchanged.text
    assert "/admin/members/confirm" not in unchanged.text


def test_gbk_csv_saved_by_excel_in_china_imports(app, staff):
    data = csv_bytes(f"西宁市城东区东关大街街道办事处,{CODE_A},委员会委员单位,2027/12/31",
                     encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    import_file(staff, data, "会员名录.csv")

    entry = registry(app)["西宁市城东区东关大街街道办事处"]
    assert entry.member_type == "committee_member" and entry.valid_until == date(2027, 12, 31)


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["2027年会员单位名录"])  # a title row above the header
    sheet.append(["单位名称", "统一社会信用代码", "会员类型", "有效期至"])
    sheet.append(["西宁市城东区东关大街街道办事处", CODE_A, "委员会委员单位", datetime(2027, 12, 31)])
    sheet.append(["昆明市五华区华山街道社区服务中心", None, "联合会会员单位", date(2028, 3, 31)])
    sheet.append([None, None, None, None])
    sheet.append(["青海省社会工作协会", None, "委员会常务委员单位", "长期"])
    for cell in ("D3", "D4"):
        sheet[cell].number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_with_date_cells_imports(app, staff):
    import_file(staff, xlsx_bytes(), "名录.xlsx")

    entries = registry(app)
    assert entries["西宁市城东区东关大街街道办事处"].valid_until == date(2027, 12, 31)
    assert entries["西宁市城东区东关大街街道办事处"].credit_code == CODE_A
    assert entries["昆明市五华区华山街道社区服务中心"].valid_until == date(2028, 3, 31)
    assert entries["青海省社会工作协会"].valid_until is None  # 长期


def test_a_renamed_program_is_refused_with_a_clear_message(app, staff):
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4

    response = upload(staff, program, "members.xlsx")

    assert response.status_code == 422
    assert "既不是 Excel 工作簿（.xlsx），也不是 CSV 文本文件" in response.text
    assert 'class="field-error"' in response.text
    assert registry(app) == {}


def test_a_word_document_renamed_to_xlsx_is_refused(app, staff):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<Types><Override ContentType="application/'
                         'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                         '</Types>')
        archive.writestr("word/document.xml", "<w:document/>")

    response = upload(staff, out.getvalue(), "members.xlsx")

    assert response.status_code == 422 and "既不是 Excel 工作簿" in response.text


def test_a_file_with_another_extension_is_refused_by_name(app, staff):
    response = upload(staff, csv_bytes("某单位,,委员会委员单位,2027-12-31"), "members.txt")

    assert response.status_code == 422
    assert "只接受 Excel 工作簿（.xlsx）或 CSV 文件" in response.text


def test_a_file_without_the_columns_says_which_are_missing(app, staff):
    response = upload(staff, "单位名称,有效期至\r\n某单位,2027-12-31".encode())

    assert response.status_code == 422
    assert "表头缺少以下列：统一社会信用代码、会员类型" in response.text


def test_a_forged_or_replayed_confirmation_imports_nothing(app, staff):
    page = preview_of(staff, csv_bytes("某社区服务中心,,委员会委员单位,2027-12-31"))
    values = form_values(page.text)

    forged = staff.post("/admin/members/confirm", data={
        "csrf_token": values["csrf_token"], "upload": values["upload"][:-2] + "xx"},
        follow_redirects=True)
    assert "该预览已失效" in forged.text and registry(app) == {}

    assert confirm(staff, page).status_code == 302
    replayed = staff.post("/admin/members/confirm", data=values, follow_redirects=True)
    assert "该预览已失效" in replayed.text
    assert len(audit_entries(app, "member_registry.imported")) == 1


@pytest.mark.parametrize("value, expected", [
    ("2027-12-31", date(2027, 12, 31)), ("2027/12/31", date(2027, 12, 31)),
    ("2027年12月31日", date(2027, 12, 31)), ("２０２７年１月５日", date(2027, 1, 5)),
    ("2027/1/5 0:00", date(2027, 1, 5)), (datetime(2027, 12, 31), date(2027, 12, 31)),
    (46752, date(2027, 12, 31)), ("长期", None), ("", None),
])
def test_valid_until_is_read_in_the_forms_a_registry_uses(value, expected):
    assert parse_valid_until(value) == (expected, True)


@pytest.mark.parametrize("value", ["2027-13-45", "2027-02-30", "明年年底", "31.12.2027", 12])
def test_valid_until_that_is_not_a_date_is_refused(value):
    assert parse_valid_until(value)[1] is False


def test_the_registry_list_searches_by_name_and_credit_code(app, staff_client):
    with app.app_context():
        add_member("西宁市城东区东关大街街道办事处", CODE_A)
        add_member("昆明市五华区华山街道社区服务中心", CODE_B, member_type="federation_member")
    finance = staff_client("finance")

    by_name = finance.get("/admin/members/?q=东关大街")
    by_code = finance.get(f"/admin/members/?q={CODE_B[:8].lower()}")

    assert "西宁市城东区东关大街街道办事处" in by_name.text
    assert "昆明市五华区华山街道社区服务中心" not in by_name.text
    assert "昆明市五华区华山街道社区服务中心" in by_code.text and "联合会会员单位" in by_code.text
    assert "导入名录" not in by_name.text  # finance reads, staff imports


def test_the_registry_list_pages(app, staff):
    with app.app_context():
        for i in range(55):
            db.session.add(MemberUnit(name=f"测试单位{i:03d}", name_key=f"测试单位{i:03d}",
                                      member_type="committee_member"))
        db.session.commit()

    first, second = staff.get("/admin/members/"), staff.get("/admin/members/?page=2")

    assert "测试单位000" in first.text and "测试单位049" in first.text
    assert "测试单位050" not in first.text and "第 1 页 / 共 2 页" in first.text
    assert "测试单位054" in second.text and "测试单位000" not in second.text


def test_a_unit_in_the_imported_registry_registers_at_member_price(app, client, staff):
    with app.app_context():
        event = make_event()
        url = f"/events/{event.key}/register"
        form = registration_form(event, 2, tier_claim="committee_member",
                                 unit_name="西宁市城东区（东关大街）街道办事处")
    import_file(staff, csv_bytes("西宁市城东区(东关大街)街道办事处,,委员会委员单位,2099-12-31"))

    assert post_form(client, url, form).status_code == 302

    with app.app_context():
        registration = db.session.scalars(select(Registration)).one()
        assert registration.tier_status == "member_verified"
        assert registration.total_amount == 2 * MEMBER_PRICE
        assert registration.member_unit.name == "西宁市城东区(东关大街)街道办事处"


# --- member-price claims waiting for verification ---------------------------------------

def pending_claim(event, attendees: int = 3, **unit) -> Registration:
    """A member claim the registry does not know: it waits at the member price."""
    details = dict(unit_name=CLAIMING_UNIT, tier_claim="committee_member", province="青海省",
                   city="西宁市", contact_name="马晓明", contact_mobile="13912345678",
                   contact_email="unit@example.cn", credit_code=CODE_C)
    details.update(unit)
    people = [AttendeeDetails(name=name, gender="M", title="主任", mobile=f"1391234500{i}",
                              accommodation="shared", arrival_on=event.starts_on,
                              departure_on=event.ends_on)
              for i, name in enumerate(["张伟", "王芳", "李娜", "刘洋"][:attendees])]
    registration, _token = register_unit(event.id, UnitDetails(**details), people,
                                         today=china_today(), now=utcnow())
    db.session.commit()
    assert registration.tier_status == "member_pending"
    return registration


@pytest.fixture
def claim(app, request):
    with app.app_context():
        event = make_event()
        registration = pending_claim(event)
        db.session.commit()
        found = {"id": registration.id, "code": registration.code, "event_id": event.id}
    if "smtp" in request.fixturenames:  # the worker may have sent the confirmation already
        inbox = request.getfixturevalue("smtp")
        inbox.worker.settle()
        inbox.received.clear()
    with app.app_context():
        db.session.execute(db.delete(OutboundMail))  # the confirmation: not what we test
        db.session.commit()
    return found


def any_csrf_token(html: str) -> str:
    """The session's CSRF token from any form on the page (prefixed per-claim forms too)."""
    return re.search(r'<input[^>]*name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html).group(1)


def decide(client, claim_id: int, action: str, **fields):
    page = client.get("/admin/members/claims")
    assert page.status_code == 200
    prefix = f"{action}-{claim_id}-"
    data = {prefix + "csrf_token": any_csrf_token(page.text),
            **{prefix + name: value for name, value in fields.items()}}
    return client.post(f"/admin/members/claims/{claim_id}/{action}", data=data)


def test_the_queue_lists_unit_claim_code_event_attendees_and_amount(app, staff_client, claim):
    with app.app_context():
        add_member(CLAIMING_UNIT + "（旧名）", CODE_C)  # same code, but expired: a hint
        entry = db.session.scalars(select(MemberUnit)).one()
        entry.valid_until = date(2020, 12, 31)
        db.session.commit()

    page = staff_client("finance").get("/admin/members/claims")

    text = page.text
    assert CLAIMING_UNIT in text and "城乡社区工作委员会委员单位" in text
    assert CODE_C in text and "全国基层物业管理服务创新发展经验交流会" in text
    assert "张伟、王芳、李娜（3 人）" in text
    assert "8,940.00 元" in text and "不通过则为 10,740.00 元" in text
    assert "名录中有相近记录" in text and "已过期" in text
    assert "核准：" not in text  # finance sees the queue, staff decides


def test_approving_keeps_the_member_price_enters_the_registry_and_mails_the_unit(
        app, staff, smtp, claim):
    response = decide(staff, claim["id"], "approve", add_to_registry="y",
                      member_type="committee_member", valid_until="2027-12-31")

    assert response.status_code == 302
    assert "已核准" in staff.get("/admin/members/claims").text
    with app.app_context():
        registration = db.session.get(Registration, claim["id"])
        assert registration.tier_status == "member_verified"
        assert registration.total_amount == 3 * MEMBER_PRICE
        assert [a.fee for a in registration.attendees] == [MEMBER_PRICE] * 3
        assert registration.member_unit.name == CLAIMING_UNIT
        assert registration.member_unit.valid_until == date(2027, 12, 31)
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "registration.tier_verified")).one()
        assert entry.registration_id == claim["id"] and "测试staff" in entry.actor
        assert entry.changes["tier_status"] == ["member_pending", "member_verified"]
        assert entry.changes["total_amount"] == ["8940.00", "8940.00"]
    [message] = smtp.messages
    assert message["To"] == "unit@example.cn" and "已确认" in message["Subject"]
    body = smtp.body(message)
    assert "会员资格已确认" in body and "现应缴金额：8,940.00 元" in body
    assert f"汇款备注：{claim['code']} 城乡社区工作委员会服务费" in body


def test_approving_without_the_registry_leaves_the_registry_alone(app, staff, smtp, claim):
    assert decide(staff, claim["id"], "approve", member_type="committee_member").status_code == 302

    with app.app_context():
        assert db.session.get(Registration, claim["id"]).tier_status == "member_verified"
        assert db.session.scalar(select(func.count(MemberUnit.id))) == 0


def test_approving_with_a_wrong_date_shows_the_error_beside_the_field(app, staff, claim):
    response = decide(staff, claim["id"], "approve", add_to_registry="y",
                      member_type="committee_member", valid_until="2027-02-30")

    assert response.status_code == 422
    assert 'id="approve-%d-valid_until-error"' % claim["id"] in response.text
    assert 'value="2027-02-30"' in response.text
    with app.app_context():
        assert db.session.get(Registration, claim["id"]).tier_status == "member_pending"


def test_rejecting_reprices_every_attendee_to_standard_and_mails_the_new_amount(
        app, staff, smtp, claim):
    response = decide(staff, claim["id"], "reject", reason="名录中未查到贵单位，也未提供会员证明。")

    assert response.status_code == 302
    assert "应缴 10,740.00 元" in staff.get("/admin/members/claims").text
    with app.app_context():
        registration = db.session.get(Registration, claim["id"])
        assert registration.tier_status == "member_rejected"
        assert [a.fee for a in registration.attendees] == [STANDARD_PRICE] * 3
        assert registration.total_amount == Decimal("10740")
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "registration.tier_rejected")).one()
        assert entry.changes["total_amount"] == ["8940.00", "10740.00"]
        assert sum(1 for key in entry.changes if key.startswith("attendee:")) == 3
    [message] = smtp.messages
    assert message["To"] == "unit@example.cn" and "未通过" in message["Subject"]
    body = smtp.body(message)
    assert "原应缴金额：8,940.00 元" in body and "现应缴金额：10,740.00 元" in body
    assert "标准价 3,580.00 元/人" in body and "名录中未查到贵单位" in body
    assert f"汇款备注：{claim['code']} 城乡社区工作委员会服务费" in body
    assert "0200003409014427548" in body


def test_a_claim_is_decided_once(app, claim):
    with app.app_context():
        registration = db.session.get(Registration, claim["id"])
        reject_member_claim(registration, actor="测试", now=utcnow())
        db.session.commit()

        with pytest.raises(ServiceError, match="已处理"):
            approve_member_claim(db.session.get(Registration, claim["id"]), actor="测试",
                                 now=utcnow())
        db.session.rollback()
        assert db.session.get(Registration, claim["id"]).tier_status == "member_rejected"
        assert db.session.scalar(select(func.count(OutboundMail.id))) == 1


def test_a_decided_claim_leaves_the_queue(app, staff, smtp, claim):
    decide(staff, claim["id"], "reject")

    page = staff.get("/admin/members/claims")

    assert 'id="claim-%d"' % claim["id"] not in page.text
    assert "目前没有待审核的会员价申请" in page.text


def test_finance_cannot_decide_a_claim(app, staff_client, claim):
    finance = staff_client("finance")
    page = finance.get("/admin/members/claims")

    response = finance.post(f"/admin/members/claims/{claim['id']}/approve",
                            data={"csrf_token": any_csrf_token(page.text)})

    assert response.status_code == 403


def test_keep_rejection_keeps_a_rejected_claim_out_of_the_queue(app_ctx):
    event = make_event()
    pending = FeeQuote("member_pending", MEMBER_PRICE)
    verified = FeeQuote("member_verified", MEMBER_PRICE)

    kept = keep_rejection("member_rejected", pending, event)

    assert (kept.tier_status, kept.unit_price) == ("member_rejected", STANDARD_PRICE)
    assert keep_rejection("member_rejected", verified, event) is verified
    assert keep_rejection("member_pending", pending, event) is pending


def test_a_rejected_unit_renaming_itself_stays_at_the_standard_price(app, claim):
    with app.app_context():
        registration = db.session.get(Registration, claim["id"])
        reject_member_claim(registration, actor="测试", now=utcnow())
        db.session.commit()
        registration = db.session.get(Registration, claim["id"])
        unit = UnitDetails(**{name: getattr(registration, name) or ""
                              for name in registrations.UNIT_FIELDS + registrations.INVOICE_FIELDS
                              if name != "credit_code_confirmed"})
        unit.unit_name = CLAIMING_UNIT + "（新名称）"
        people = [AttendeeDetails(id=a.id, **{n: getattr(a, n)
                                              for n in registrations.ATTENDEE_FIELDS})
                  for a in registration.attendees]

        update_registration(registration, unit, people, today=china_today(), now=utcnow(),
                            actor="单位联系人")
        db.session.commit()

        registration = db.session.get(Registration, claim["id"])
        assert registration.tier_status == "member_rejected"
        assert registration.total_amount == 3 * STANDARD_PRICE
