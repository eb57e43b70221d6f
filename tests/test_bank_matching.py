"""The matching of bank transfers to registrations (confreg.bank.matching): pure rules."""
from decimal import Decimal

from confreg.bank.matching import Matcher, OpenItem, Share, Transfer, find_codes, match_all

FEE = Decimal("2980.00")


def item(rid, code, unit="西宁市城东区民政局", owed=FEE, payers=(), event_id=1):
    return OpenItem(rid, code, event_id, unit, tuple(payers), Decimal(owed), f"{code} {unit}")


def transfer(text, amount=FEE, payer="某某单位", key=1):
    return Transfer(key, Decimal(amount), payer, text)


def verdict(proposal):
    return proposal.pile, proposal.rule, proposal.amount_fit


def one(items, text, amount=FEE, payer="某某单位"):
    return Matcher(items).match(transfer(text, amount, payer))


# --- codes in the remark ---------------------------------------------------------------------

def test_exact_code_with_the_exact_amount_is_matched_and_pays_the_registration():
    items = [item(1, "K7Q9M2XA", owed="5960.00"), item(2, "AB3K7Q9M", owed="5960.00")]
    proposal = one(items, "网银转账 K7Q9M2XA 城乡社区工作委员会服务费", "5960.00")
    assert verdict(proposal) == ("matched", "code", "exact")
    assert proposal.shares == [Share(1, Decimal("5960.00"))]
    assert proposal.surplus == 0
    assert "报名编号 K7Q9M2XA" in proposal.explanation
    assert "5960.00 与应缴一致" in proposal.explanation
    assert proposal.candidates[0].registration_ids == (1,)


def test_code_typed_in_lower_case_with_hyphens_spaces_or_full_width_is_found():
    items = [item(1, "AB3K7Q9M"), item(2, "K7Q9M2XA")]
    for text in ("ab3k-7q9m 服务费", "AB3K 7Q9M服务费", "ＡＢ３Ｋ－７Ｑ９Ｍ", "ab3k — 7q9m"):
        proposal = one(items, text)
        assert (proposal.pile, proposal.rule) == ("matched", "code"), text
        assert proposal.shares == [Share(1, FEE)], text
    proposal = one(items, "ab3k-7q9m 服务费")
    assert "附言“ab3k-7q9m 服务费”中的报名编号 AB3K7Q9M" in proposal.explanation
    assert find_codes("ＡＢ３Ｋ－７Ｑ９Ｍ")[0].typed == "ＡＢ３Ｋ－７Ｑ９Ｍ"


def test_zero_or_letter_o_typed_for_d_is_read_as_the_code_when_only_one_code_fits():
    items = [item(1, "K7Q9M2XD"), item(2, "K7Q9M2XA")]
    for text in ("K7Q9M2X0 服务费", "k7q9m2xo"):
        proposal = one(items, text)
        assert (proposal.pile, proposal.rule) == ("matched", "code_fuzzy"), text
        assert proposal.shares == [Share(1, FEE)]
    assert "0→D" in one(items, "K7Q9M2X0").explanation


def test_one_typed_for_l_is_read_as_the_code():
    proposal = one([item(1, "HL8N4CPW")], "H18N4CPW 服务费")
    assert (proposal.pile, proposal.rule) == ("matched", "code_fuzzy")
    assert "1→L" in proposal.explanation


def test_look_alike_that_fits_two_codes_is_only_suggested():
    items = [item(1, "K7Q9M2XD"), item(2, "K7Q9M2XQ")]
    proposal = one(items, "K7Q9M2X0")
    assert proposal.pile == "suggested"
    assert {c.registration_ids for c in proposal.candidates} == {(1,), (2,)}


def test_cut_off_remark_with_a_unique_prefix_and_a_fitting_amount_is_matched():
    items = [item(1, "K7Q9M2XA"), item(2, "AB3K7Q9M")]
    proposal = one(items, "汇款 西宁市城东区民政局K7Q9M2")
    assert verdict(proposal) == ("matched", "code_prefix", "exact")
    assert proposal.shares == [Share(1, FEE)]
    assert "“K7Q9M2”是报名编号 K7Q9M2XA 的开头" in proposal.explanation
    short = one(items, "汇款 城东区K7Q9M2X", "1000.00")
    assert (short.pile, short.amount_fit) == ("matched", "short")
    assert short.shares == [Share(1, Decimal("1000.00"))]


def test_cut_off_prefix_with_an_amount_over_what_is_owed_is_only_suggested():
    proposal = one([item(1, "K7Q9M2XA")], "汇款 城东区K7Q9M2", "5960.00")
    assert verdict(proposal) == ("suggested", "code_prefix", "over")


def test_cut_off_prefix_shared_by_two_codes_is_not_matched():
    # the amount fits only the first, and still the prefix does not tell them apart
    items = [item(1, "K7Q9M2XA"), item(2, "K7Q9M2PB", unit="城南街道办事处", owed="3580.00")]
    proposal = one(items, "汇款 城东区K7Q9M2")
    assert proposal.pile == "suggested"
    assert [c.registration_ids for c in proposal.candidates][:2] == [(1,), (2,)]
    assert "可能是 2 个报名编号中的一个" in proposal.explanation


def test_prefix_in_the_middle_of_the_remark_or_of_a_longer_run_is_not_a_code():
    items = [item(1, "K7Q9M2XA")]
    assert find_codes("K7Q9M2 城乡社区服务费") == []
    assert find_codes("流水号 2088K7Q9M2") == []
    assert one(items, "流水号 2088K7Q9M2", "1.00").pile == "unmatched"


def test_dates_years_and_account_numbers_in_the_remark_are_not_taken_for_codes():
    noise = ("2026年8月15日 城乡社区服务费 账号0200003409014427548 "
             "流水20240815123456 BJ 2026 20260815 凭证 2026-08-15")
    assert find_codes(noise) == []
    items = [item(1, "K7Q9M2XA"), item(2, "AB3K7Q9M", owed="3580.00")]
    assert one(items, noise, "100.00").pile == "unmatched"
    # a code among the noise is still found
    proposal = one(items, "2026年 K7Q9M2XA 账号0200003409014427548")
    assert (proposal.pile, proposal.shares) == ("matched", [Share(1, FEE)])


# --- several codes ---------------------------------------------------------------------------

def test_three_codes_in_one_remark_allocate_the_transfer_over_the_three_registrations():
    items = [item(1, "K7Q9M2XA", owed="5960.00"), item(2, "AB3K7Q9M"),
             item(3, "P3R4ST6U", owed="8940.00"), item(4, "Z9Y8X7W6")]
    proposal = one(items, "K7Q9M2XA/AB3K7Q9M/P3R4ST6U 服务费", "17880.00")
    assert verdict(proposal) == ("matched", "codes", "exact")
    assert proposal.shares == [Share(1, Decimal("5960.00")), Share(2, FEE),
                               Share(3, Decimal("8940.00"))]
    assert "3 个报名编号" in proposal.explanation


def test_several_codes_paid_short_fill_in_order_and_are_only_suggested():
    items = [item(1, "K7Q9M2XA"), item(2, "AB3K7Q9M"), item(3, "P3R4ST6U")]
    proposal = one(items, "K7Q9M2XA AB3K7Q9M P3R4ST6U", "5000.00")
    assert verdict(proposal) == ("suggested", "codes", "short")
    assert proposal.shares == [Share(1, FEE), Share(2, Decimal("2020.00"))]
    assert "少付 3940.00" in proposal.explanation
    assert "AB3K7Q9M 西宁市城东区民政局、P3R4ST6U 西宁市城东区民政局 未缴足" in proposal.explanation


def test_several_codes_paid_over_keep_the_surplus_on_the_transfer():
    items = [item(1, "K7Q9M2XA"), item(2, "AB3K7Q9M")]
    proposal = one(items, "K7Q9M2XA,AB3K7Q9M", "6000.00")
    assert (proposal.pile, proposal.amount_fit) == ("matched", "over")
    assert proposal.shares == [Share(1, FEE), Share(2, FEE)]
    assert proposal.surplus == Decimal("40.00")


# --- amounts ---------------------------------------------------------------------------------

def test_code_with_a_short_amount_is_matched_as_a_part_payment():
    proposal = one([item(1, "K7Q9M2XA", owed="5960.00")], "K7Q9M2XA", "5000.00")
    assert (proposal.pile, proposal.amount_fit) == ("matched", "short")
    assert proposal.shares == [Share(1, Decimal("5000.00"))]
    assert proposal.surplus == 0
    assert "少付 960.00" in proposal.explanation


def test_code_with_an_amount_over_pays_what_is_owed_and_holds_the_surplus():
    proposal = one([item(1, "K7Q9M2XA")], "K7Q9M2XA", "3000.00")
    assert (proposal.pile, proposal.amount_fit) == ("matched", "over")
    assert proposal.shares == [Share(1, FEE)]
    assert proposal.surplus == Decimal("20.00")
    assert "多付 20.00" in proposal.explanation


def test_registration_already_paid_named_by_its_code_is_suggested_not_matched():
    proposal = one([item(1, "K7Q9M2XA", owed="0.00")], "K7Q9M2XA 服务费")
    assert (proposal.pile, proposal.rule) == ("suggested", "code")
    assert proposal.shares == []
    assert (proposal.amount_fit, proposal.surplus) == ("over", FEE)
    assert "已缴清" in proposal.explanation
    assert "重复汇款" in proposal.explanation


def test_second_transfer_for_the_same_registration_sees_the_balance_left():
    items = [item(1, "K7Q9M2XA", owed="5960.00")]
    first, second, third = match_all(items, [
        transfer("K7Q9M2XA", "2980.00", key="a"),
        transfer("K7Q9M2XA", "3000.00", key="b"),
        transfer("K7Q9M2XA", "2980.00", key="c")])
    assert (first.transfer_key, first.pile, first.amount_fit) == ("a", "matched", "short")
    assert (second.pile, second.amount_fit) == ("matched", "over")
    assert second.shares == [Share(1, FEE)]
    assert second.surplus == Decimal("20.00")
    assert (third.pile, third.shares) == ("suggested", [])
    assert "已缴清" in third.explanation


def test_suggested_proposal_does_not_take_the_balance():
    matcher = Matcher([item(1, "K7Q9M2XA"), item(2, "K7Q9M2PB")])
    assert matcher.match(transfer("转账 K7Q9M2")).pile == "suggested"
    assert matcher.outstanding(1) == FEE
    assert matcher.match(transfer("K7Q9M2XA")).amount_fit == "exact"


# --- the payer's name ------------------------------------------------------------------------

def test_payer_named_as_the_unit_with_the_exact_amount_is_matched_without_a_code():
    items = [item(1, "K7Q9M2XA", unit="西宁市城东区民政局"),
             item(2, "AB3K7Q9M", unit="城南街道办事处")]
    proposal = one(items, "服务费", payer="西宁市城东区民政局")
    assert (proposal.pile, proposal.rule) == ("matched", "payer_name")
    assert proposal.shares == [Share(1, FEE)]
    assert "付款人“西宁市城东区民政局”即报名单位" in proposal.explanation


def test_payer_name_is_compared_as_the_member_registry_compares_unit_names():
    items = [item(1, "K7Q9M2XA", unit="城东区（社工）服务中心")]
    proposal = one(items, "服务费", payer="城东区(社工)服务中心 ")
    assert (proposal.pile, proposal.rule) == ("matched", "payer_name")


def test_payer_paying_the_sum_of_three_registrations_of_its_unit_is_allocated_over_them():
    items = [item(1, "K7Q9M2XA", unit="城东区民政局", owed="5960.00"),
             item(2, "AB3K7Q9M", unit="城东区民政局", owed="2980.00", event_id=2),
             item(3, "P3R4ST6U", unit="城东区民政局", owed="3580.00", event_id=3),
             item(4, "Z9Y8X7W6", unit="城南街道办事处", owed="2980.00")]
    proposal = one(items, "会议费", "12520.00", payer="城东区民政局")
    assert verdict(proposal) == ("matched", "payer_sum", "exact")
    assert sorted(proposal.shares, key=lambda s: s.registration_id) == [
        Share(1, Decimal("5960.00")), Share(2, FEE), Share(3, Decimal("3580.00"))]
    assert "3 个报名" in proposal.explanation


def test_city_office_known_as_payer_of_street_offices_pays_the_sum_of_some_of_them():
    city = "西宁市民政局"
    items = [item(1, "K7Q9M2XA", unit="城东街道办事处", owed="5960.00", payers=[city]),
             item(2, "AB3K7Q9M", unit="城南街道办事处", owed="2980.00", payers=[city]),
             item(3, "P3R4ST6U", unit="城北街道办事处", owed="3580.00", payers=[city]),
             item(4, "Z9Y8X7W6", unit="城西街道办事处", owed="3000.00", payers=[city])]
    proposal = one(items, "代付街道会议费", "9540.00", payer=city)
    assert (proposal.pile, proposal.rule) == ("matched", "payer_sum")
    assert {s.registration_id for s in proposal.shares} == {1, 3}


def test_payer_alias_with_the_exact_amount_is_matched():
    items = [item(1, "K7Q9M2XA", unit="城东街道办事处", payers=["城东区财政局国库支付中心"]),
             item(2, "AB3K7Q9M", unit="城南街道办事处", owed="3580.00")]
    proposal = one(items, "跨行转账", payer="城东区财政局国库支付中心")
    assert (proposal.pile, proposal.rule) == ("matched", "payer_name")
    assert proposal.shares == [Share(1, FEE)]
    assert "曾为报名单位 K7Q9M2XA 城东街道办事处 付款" in proposal.explanation


def test_payer_name_that_fits_but_amount_differs_is_suggested():
    proposal = one([item(1, "K7Q9M2XA", unit="城东街道办事处")], "转账", "2000.00",
                   payer="城东街道办事处")
    assert verdict(proposal) == ("suggested", "payer_name", "short")
    assert "少付 980.00" in proposal.explanation


def test_payer_with_several_registrations_of_the_same_amount_is_suggested():
    items = [item(1, "K7Q9M2XA", unit="城东街道办事处"),
             item(2, "AB3K7Q9M", unit="城东街道办事处", event_id=2)]
    proposal = one(items, "转账", payer="城东街道办事处")
    assert proposal.pile == "suggested"
    assert {c.registration_ids for c in proposal.candidates} == {(1,), (2,)}


def test_several_groups_of_the_payers_registrations_fit_the_amount_so_it_is_suggested():
    city = "西宁市民政局"
    items = [item(rid, code, unit=f"街道{rid}", payers=[city])
             for rid, code in enumerate(["K7Q9M2XA", "AB3K7Q9M", "P3R4ST6U", "Z9Y8X7W6"], 1)]
    proposal = one(items, "代付", "5960.00", payer=city)
    assert (proposal.pile, proposal.rule) == ("suggested", "payer_sum")
    assert len(proposal.candidates) == 5


def test_code_in_the_remark_outweighs_the_payers_name():
    items = [item(1, "K7Q9M2XA", unit="城东街道办事处"),
             item(2, "AB3K7Q9M", unit="城南街道办事处")]
    proposal = one(items, "K7Q9M2XA", payer="城南街道办事处")
    assert (proposal.pile, proposal.shares) == ("matched", [Share(1, FEE)])


# --- the amount alone ------------------------------------------------------------------------

def test_unique_amount_without_name_or_code_is_a_low_scored_suggestion():
    items = [item(1, "K7Q9M2XA", owed="5960.00"), item(2, "AB3K7Q9M", owed="3580.00")]
    proposal = one(items, "转账", "3580.00", payer="张三")
    assert (proposal.pile, proposal.rule) == ("suggested", "amount_only")
    assert proposal.candidates[0].score < 50
    assert proposal.shares == [Share(2, Decimal("3580.00"))]


def test_amount_shared_by_two_registrations_without_name_or_code_is_unmatched():
    items = [item(1, "K7Q9M2XA"), item(2, "AB3K7Q9M")]
    proposal = one(items, "转账", payer="张三")
    assert (proposal.pile, proposal.rule, proposal.shares) == ("unmatched", "", [])
    assert "2 个" in proposal.explanation


def test_unknown_code_is_named_in_the_unmatched_explanation():
    proposal = one([item(1, "K7Q9M2XA")], "XY4Z5W6V 服务费", "1.00", payer="张三")
    assert proposal.pile == "unmatched"
    assert "“XY4Z5W6V” 不是可收款报名的编号" in proposal.explanation
