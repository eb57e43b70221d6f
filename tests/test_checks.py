from datetime import date
from decimal import Decimal

import pytest

from confreg import checks
from confreg.checks import (
    ETHNIC_GROUPS,
    PROVINCES,
    REGISTRATION_CODE_ALPHABET,
    credit_code_is_valid,
    id_number_is_valid,
    is_mainland_mobile,
    mask_id_number,
    mask_mobile,
    new_registration_code,
    normalize_credit_code,
    normalize_mobile,
    normalize_unit_name,
    rmb_capitals,
)

# --- reference lists ---------------------------------------------------------


def test_provinces_are_the_34_divisions_in_official_order():
    assert len(PROVINCES) == 34
    assert len(set(PROVINCES)) == 34
    assert PROVINCES[:5] == ["北京市", "天津市", "河北省", "山西省", "内蒙古自治区"]
    assert PROVINCES[8] == "上海市"
    assert PROVINCES[21] == "重庆市"
    assert PROVINCES[-4:] == ["新疆维吾尔自治区", "台湾省", "香港特别行政区", "澳门特别行政区"]


def test_provinces_use_full_names():
    suffixes = ("省", "市", "自治区", "特别行政区")
    assert all(name.endswith(suffixes) for name in PROVINCES)
    assert "广西壮族自治区" in PROVINCES
    assert "宁夏回族自治区" in PROVINCES


def test_ethnic_groups_are_the_56_in_gb3304_order():
    assert len(ETHNIC_GROUPS) == 56
    assert len(set(ETHNIC_GROUPS)) == 56
    assert all(name.endswith("族") for name in ETHNIC_GROUPS)
    # GB 3304 codes are list positions + 1.
    assert ETHNIC_GROUPS[0] == "汉族"
    assert ETHNIC_GROUPS[1] == "蒙古族"
    assert ETHNIC_GROUPS[9] == "朝鲜族"
    assert ETHNIC_GROUPS[22] == "高山族"
    assert ETHNIC_GROUPS[45] == "德昂族"
    assert ETHNIC_GROUPS[-1] == "基诺族"


# --- mobile numbers ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        " 138 0013 8000 ",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "１３８００１３８０００",
        "138\u30000013\u30008000",
    ],
)
def test_normalize_mobile_reduces_common_spellings_to_11_digits(raw):
    assert normalize_mobile(raw) == "13800138000"


def test_normalize_mobile_keeps_86_that_belongs_to_the_number():
    assert normalize_mobile("86123456789") == "86123456789"


def test_normalize_mobile_returns_cleaned_input_when_not_a_mobile():
    assert normalize_mobile("010-6512 3456") == "01065123456"
    assert normalize_mobile("call me") == "callme"


@pytest.mark.parametrize(
    "number",
    ["13012345678", "14512345678", "15912345678", "16612345678", "17712345678",
     "18812345678", "19912345678", "+86 199 1234 5678"],
)
def test_mainland_mobiles_from_13_to_19_are_accepted(number):
    assert is_mainland_mobile(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12012345678",  # no 12x mobile range
        "10012345678",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "01065123456",  # landline
        "1381234567a",
        "+85261234567",  # Hong Kong
        "138\u0660\u0660\u0661\u0663\u0668\u0660\u0660\u0660",  # Arabic-Indic digits: \d would match them
    ],
)
def test_non_mainland_mobiles_are_rejected(number):
    assert not is_mainland_mobile(number)


def test_mask_mobile_keeps_first_three_and_last_four():
    assert mask_mobile("13805090509") == "138****0509"


def test_mask_mobile_masks_the_normalized_number():
    assert mask_mobile("+86 138-0013-8000") == "138****8000"


@pytest.mark.parametrize("value", ["", "123", "123456", "1234567"])
def test_mask_mobile_hides_short_values_entirely(value):
    assert mask_mobile(value) == "****"


# --- ID numbers --------------------------------------------------------------


def test_mask_id_number_keeps_first_six_and_last_four():
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_mask_id_number_masks_15_digit_numbers_too():
    assert mask_id_number("110105491231002") == "110105*****1002"


@pytest.mark.parametrize("value", ["", "1101", "1234567890"])
def test_mask_id_number_hides_short_values_entirely(value):
    assert mask_id_number(value) == "****"


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the example in GB 11643-1999
        "11010519491231002x",
        "11010119900307803X",
        "110101199003074477",
        " 110101199003074477 ",
    ],
)
def test_id_numbers_with_correct_check_code_are_valid(number):
    assert id_number_is_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",
        "110101199003074478",
        "110101199003074470",
        "11010119900307803Y",
    ],
)
def test_id_numbers_with_wrong_check_code_are_invalid(number):
    assert not id_number_is_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "11010119900307447",  # 17 characters
        "1101011990030744770",  # 19 characters
        "110105491231002",  # old 15-digit format
        "1101011990X3074477",  # X only allowed last
        "１１０１０１１９９００３０７４４７７",  # full-width digits
        "A10101199003074477",
    ],
)
def test_malformed_id_numbers_are_invalid(number):
    assert not id_number_is_valid(number)


# These all carry a correct check code, so only the birth date can reject them.
@pytest.mark.parametrize(
    "number",
    [
        "110105194902300020",  # 1949-02-30
        "110105194913010029",  # month 13
        "110105194900000024",  # month 00, day 00
        "110105189912310023",  # 1899-12-31
        "440524188001010014",  # 1880 example from GB 11643-1999
    ],
)
def test_id_numbers_with_impossible_birth_date_are_invalid(number):
    assert not id_number_is_valid(number)


def test_id_number_born_on_1900_01_01_is_valid():
    assert id_number_is_valid("110105190001010028")


def test_id_number_born_in_the_future_is_invalid():
    assert not id_number_is_valid("110105209912310029")


def test_id_number_born_today_is_valid_but_not_born_tomorrow():
    born_2024_05_01 = "11010520240501002X"
    assert id_number_is_valid(born_2024_05_01, today=date(2024, 5, 1))
    assert not id_number_is_valid(born_2024_05_01, today=date(2024, 4, 30))


# --- unified social credit codes ---------------------------------------------

VALID_CREDIT_CODES = [
    "91350100M000100Y43",  # the example used in GB 32100-2015 guidance
    "91110000802100433B",
    "9144030071526726XG",
    "914403001922038216",
    "91330100716105852F",
]


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_real_credit_codes_are_valid(code):
    assert credit_code_is_valid(code)


# Real codes have zeros in places (e.g. the region code), which hide a wrong weight there;
# these have no zero anywhere, with check characters worked out from the standard's
# formula C18 = 31 - (sum of Ci * 3^(i-1) mod 31) mod 31.
@pytest.mark.parametrize("code", ["Y1987654321ABCDEF1", "52HJKLMNPQRTUWXY1D", "13371827GHJ2KL5W6D"])
def test_credit_code_weights_every_position_as_gb32100_prescribes(code):
    assert credit_code_is_valid(code)


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_credit_code_with_any_other_check_character_is_invalid(code):
    for wrong in checks.CREDIT_CODE_ALPHABET.replace(code[-1], ""):
        assert not credit_code_is_valid(code[:-1] + wrong), wrong


def test_credit_code_with_any_single_changed_character_is_invalid():
    code = "91350100M000100Y43"
    for position in range(17):
        replacement = "1" if code[position] != "1" else "2"
        changed = code[:position] + replacement + code[position + 1:]
        assert not credit_code_is_valid(changed), changed


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "91350100M000100Y43 X"])
def test_credit_code_of_wrong_length_is_invalid(code):
    assert not credit_code_is_valid(code)


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_credit_code_with_forbidden_letter_is_invalid(letter):
    assert not credit_code_is_valid("91350100M" + letter + "00100Y43")
    assert not credit_code_is_valid("91350100M000100Y4" + letter)


def test_normalize_credit_code_removes_width_space_and_case():
    assert normalize_credit_code(" ９１３５ 0100 m000100y43\n") == "91350100M000100Y43"


def test_credit_code_is_checked_after_normalizing():
    assert credit_code_is_valid("９１３５０１００ｍ０００１００ｙ４３")
    assert credit_code_is_valid("91350100 m000100 y43")


# --- unit names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("中国科学院（北京）研究所", "中国科学院 (北京) 研究所"),
        ("ＡＢＣ科技有限公司", "abc科技有限公司"),
        ("北京 某某\u3000有限公司", "北京某某有限公司"),
        ("新疆·阿勒泰某某协会", "新疆阿勒泰某某协会"),
        ("“某某”学会", "某某学会"),
        ("「某某」学会", '"某某"学会'),
        ("XYZ Co., Ltd.", "xyz co ltd"),
        ("甲、乙联合体", "甲乙联合体"),
    ],
)
def test_spellings_of_the_same_unit_normalize_equal(a, b):
    assert normalize_unit_name(a) == normalize_unit_name(b)


def test_normalize_unit_name_keeps_brackets_half_width():
    assert normalize_unit_name("中国科学院（北京）研究所") == "中国科学院(北京)研究所"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("北京大学", "北京理工大学"),
        ("某某公司（北京）", "某某公司（上海）"),
        ("某某公司（北京）", "某某公司北京"),
    ],
)
def test_different_units_stay_different(a, b):
    assert normalize_unit_name(a) != normalize_unit_name(b)


# --- registration codes ------------------------------------------------------


def test_registration_code_alphabet_leaves_out_confusable_characters():
    assert REGISTRATION_CODE_ALPHABET == "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    assert not set("01OI") & set(REGISTRATION_CODE_ALPHABET)


def test_registration_code_has_requested_length():
    assert len(new_registration_code()) == 8
    assert len(new_registration_code(12)) == 12


def test_registration_codes_use_the_whole_alphabet_and_nothing_else():
    drawn = "".join(new_registration_code() for _ in range(2000))
    assert set(drawn) == set(REGISTRATION_CODE_ALPHABET)


def test_registration_codes_differ():
    assert len({new_registration_code() for _ in range(100)}) == 100


def test_registration_code_draws_from_secrets(monkeypatch):
    monkeypatch.setattr(checks.secrets, "choice", lambda seq: seq[-1])
    assert new_registration_code(5) == "ZZZZZ"


# --- amounts in capitals -----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        (Decimal("8940.00"), "人民币捌仟玖佰肆拾元整"),
        (Decimal("2980.50"), "人民币贰仟玖佰捌拾元伍角"),
        (Decimal("100000.05"), "人民币壹拾万元零伍分"),
        (Decimal("10010"), "人民币壹万零壹拾元整"),
        (Decimal("1000000"), "人民币壹佰万元整"),
        (Decimal("3580"), "人民币叁仟伍佰捌拾元整"),
        (Decimal("17880"), "人民币壹万柒仟捌佰捌拾元整"),
        (Decimal("101"), "人民币壹佰零壹元整"),
        (Decimal("1010"), "人民币壹仟零壹拾元整"),
        (Decimal("100010"), "人民币壹拾万零壹拾元整"),
        (Decimal("1.01"), "人民币壹元零壹分"),
        (Decimal("0.05"), "人民币伍分"),
        (Decimal("1234567.89"), "人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        (Decimal("9999999999.99"), "人民币玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_rmb_capitals_follow_the_financial_writing_rules(amount, capitals):
    assert rmb_capitals(amount) == capitals


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.00"), Decimal("-0.00"), 0, "0", "0.001"])
def test_rmb_capitals_of_zero_is_zero_yuan(amount):
    assert rmb_capitals(amount) == "人民币零元整"


@pytest.mark.parametrize("amount", [3580, "3580", "3580.00", Decimal("3580.000")])
def test_rmb_capitals_accepts_int_str_and_decimal(amount):
    assert rmb_capitals(amount) == "人民币叁仟伍佰捌拾元整"


def test_rmb_capitals_rounds_half_up_to_the_fen():
    assert rmb_capitals(Decimal("0.005")) == "人民币壹分"
    assert rmb_capitals(Decimal("2980.499")) == "人民币贰仟玖佰捌拾元伍角"


@pytest.mark.parametrize("amount", [-1, "-0.01", Decimal("-100"), "abc", "NaN", "Infinity"])
def test_rmb_capitals_rejects_negative_or_non_numeric_amounts(amount):
    with pytest.raises(ValueError):
        rmb_capitals(amount)
