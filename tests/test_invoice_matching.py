"""Pairing issued invoices with requests (issue 10): delivered without a person only on an exact
agreement of the registration code in the remark, buyer, tax ID and total; everything else held
with its difference, listed as unmatched, or recognised as a duplicate or a red-letter invoice."""
from datetime import date
from decimal import Decimal

from confreg.invoice.files import InvoiceDocument, InvoiceFacts
from confreg.invoice.matching import RequestFacts, match_documents
from tests import invoice_fixtures as fx

TAX_A = fx.credit_code("52630100MJY123456")
TAX_B = fx.credit_code("51620000MJ0000001")
A = RequestFacts(1, 9, ("K7M2Q9XW",), "西宁市城东区社会工作服务中心（民办非企业）", TAX_A, Decimal("4600.00"))
B = RequestFacts(2, 9, ("P3R8T2YZ", "H4J6N8QA"), "兰州市社会工作协会", TAX_B, Decimal("2300.00"))


def document(number="26632000000000000001", *, buyer=A.buyer_name, tax_id=TAX_A,
             total="4600.00", remark="报名编号 K7M2Q9XW；年会", red=False, original="",
             disagreements=()):
    facts = InvoiceFacts(number=number, issued_on=date(2026, 12, 1), buyer_name=buyer,
                         buyer_tax_id=tax_id, seller_name=fx.SELLER_NAME,
                         seller_tax_id=fx.SELLER_TAX_ID,
                         total=Decimal(total) if total is not None else None, amount=None,
                         tax=None, red=red, original_number=original, invoice_type="ordinary",
                         remark=remark, source="xml")
    return InvoiceDocument(number=number, facts=facts, disagreements=list(disagreements))


def test_an_exact_agreement_is_delivered_and_half_width_brackets_or_spaces_do_not_matter():
    (match,) = match_documents([document(buyer="西宁市城东区社会工作服务中心 (民办非企业)")], [A, B])
    assert (match.outcome, match.request_id, match.differences) == ("exact", 1, [])


def test_a_different_amount_buyer_or_tax_id_is_held_with_each_difference_spelt_out():
    (match,) = match_documents([document(total="4060.00", buyer="西宁市城东区社工中心",
                                         tax_id=TAX_B)], [A, B])
    assert (match.outcome, match.request_id) == ("held", 1)
    assert match.differences == [
        "购买方名称：发票为“西宁市城东区社工中心”，申请为“西宁市城东区社会工作服务中心（民办非企业）”",
        f"纳税人识别号：发票为 {TAX_B}，申请为 {TAX_A}",
        "价税合计：发票为 4,060.00 元，申请为 4,600.00 元"]


def test_files_that_disagree_among_themselves_are_held_even_if_the_xml_agrees():
    (match,) = match_documents([document(disagreements=["PDF 的价税合计 1.00 与 XML 的 4,600.00 不一致"])],
                               [A])
    assert match.outcome == "held" and match.differences == [
        "PDF 的价税合计 1.00 与 XML 的 4,600.00 不一致"]


def test_without_the_code_in_the_remark_the_same_buyer_is_proposed_but_never_sent():
    (match,) = match_documents([document(remark="会议费")], [A, B])
    assert (match.outcome, match.request_id, match.differences) == ("held", 1, [])
    assert "没有报名编号" in match.reason


def test_a_code_inside_a_longer_code_does_not_count():
    (match,) = match_documents([document(remark="报名编号 XK7M2Q9XWZ", buyer="某公司",
                                         tax_id=fx.credit_code("91110000100000000"))], [A, B])
    assert match.outcome == "unmatched" and match.request_id is None


def test_a_code_and_buyer_this_event_does_not_have_match_nothing():
    """The service passes one event's requests; another event's code is simply unknown here."""
    (match,) = match_documents([document(remark="报名编号 ZZZZ1111", buyer="某公司",
                                         tax_id=fx.credit_code("91110000100000000"))], [A, B])
    assert (match.outcome, match.request_id) == ("unmatched", None)


def test_codes_of_two_requests_in_one_remark_are_held_for_a_person():
    (match,) = match_documents([document(remark="报名编号 K7M2Q9XW、P3R8T2YZ")], [A, B])
    assert (match.outcome, match.request_id) == ("held", 1)
    assert "多张申请" in match.reason


def test_a_request_covering_several_registrations_is_found_by_any_of_its_codes():
    (match,) = match_documents([document(remark="报名编号 H4J6N8QA", buyer=B.buyer_name,
                                         tax_id=TAX_B, total="2300.00")], [A, B])
    assert (match.outcome, match.request_id) == ("exact", 2)


def test_an_invoice_already_known_or_twice_in_the_upload_is_a_duplicate():
    first, again = document(), document()
    known = document(number="26632000000000000777")
    matches = match_documents([first, again, known], [A],
                              known_numbers=frozenset({"26632000000000000777"}))
    assert [m.outcome for m in matches] == ["exact", "duplicate", "duplicate"]


def test_a_red_letter_invoice_finds_the_request_of_the_blue_invoice_it_reverses():
    issued = RequestFacts(1, 9, A.codes, A.buyer_name, TAX_A, A.total,
                          issued_number="26632000000000000001")
    (match,) = match_documents([document(number="26632000000000000099", total="-4600.00",
                                         red=True, original="26632000000000000001",
                                         remark="")], [issued, B])
    assert (match.outcome, match.request_id) == ("red", 1)
    (lost,) = match_documents([document(number="26632000000000000098", red=True,
                                        original="26632000000000000555")], [issued])
    assert (lost.outcome, lost.request_id) == ("red", None)


def test_an_unreadable_total_is_a_difference_not_a_match():
    (match,) = match_documents([document(total=None)], [A])
    assert match.outcome == "held" and "读不到" in match.differences[0]


def test_an_ordinary_invoice_for_a_request_of_a_special_one_is_held():
    """A unit switched to 专票 after the batch was exported: the 普票 issued from the old
    batch carries the same code, buyer and total, and must not be sent as the new one."""
    special = RequestFacts(5, 9, A.codes, A.buyer_name, TAX_A, A.total, invoice_type="special")
    (match,) = match_documents([document()], [special])
    assert match.outcome == "held" and match.differences == [
        "发票类型：发票为普通发票，申请为增值税专用发票"]
