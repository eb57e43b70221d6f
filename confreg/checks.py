"""Pure checks and normalisations for Chinese registration data: no Flask, no database."""

import re
import secrets
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import cn2an

from confreg.timeutil import china_today

# GB/T 2260 order.
PROVINCES = [
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区",
    "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省",
    "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省",
    "重庆市", "四川省", "贵州省", "云南省", "西藏自治区",
    "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "台湾省", "香港特别行政区", "澳门特别行政区",
]

# GB/T 3304 order (codes 01-56).
ETHNIC_GROUPS = [
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族",
    "布依族", "朝鲜族", "满族", "侗族", "瑶族", "白族", "土家族", "哈尼族",
    "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族", "拉祜族",
    "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族",
    "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族",
    "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族",
    "鄂温克族", "德昂族", "保安族", "裕固族", "京族", "塔塔尔族", "独龙族",
    "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
]

# [0-9] rather than \d: \d would also accept Arabic-Indic and other Unicode digits.
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_WITH_PREFIX_RE = re.compile(r"(?:\+86|0086|86)?([0-9]{11})")


def normalize_mobile(value: str) -> str:
    """Return the 11-digit mobile number, or the cleaned input if it has no such form."""
    # NFKC first: phones and Chinese IMEs often produce full-width digits and dashes.
    cleaned = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value))
    match = _MOBILE_WITH_PREFIX_RE.fullmatch(cleaned)
    return match.group(1) if match else cleaned


def is_mainland_mobile(value: str) -> bool:
    """Tell whether the value is a mainland China mobile number."""
    return _MOBILE_RE.fullmatch(normalize_mobile(value)) is not None


def mask_mobile(value: str) -> str:
    """Mask a mobile number for display, keeping the first 3 and last 4 digits."""
    number = normalize_mobile(value)
    # At 7 characters or fewer, "first 3 + last 4" would reveal the whole value.
    if len(number) <= 7:
        return "****"
    return f"{number[:3]}****{number[-4:]}"


def mask_id_number(value: str) -> str:
    """Mask an ID number for display, keeping the first 6 and last 4 characters."""
    value = value.strip()
    # At 10 characters or fewer, "first 6 + last 4" would reveal the whole value.
    if len(value) <= 10:
        return "****"
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 32100-2015: weight i is 3**i mod 31.
_CREDIT_CODE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def normalize_credit_code(value: str) -> str:
    """Return the credit code half-width, without whitespace, upper-cased."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def credit_code_is_valid(code: str) -> bool:
    """Tell whether the code is a unified social credit code with a correct check character."""
    code = normalize_credit_code(code)
    if len(code) != 18 or any(ch not in CREDIT_CODE_ALPHABET for ch in code):
        return False
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(code, _CREDIT_CODE_WEIGHTS))
    return code[17] == CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


_ID_NUMBER_RE = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK_CODES = "10X98765432"


def id_number_is_valid(value: str, *, today: date | None = None) -> bool:
    """Tell whether the value is an 18-character resident ID number (GB 11643-1999)."""
    value = value.strip().upper()
    if not _ID_NUMBER_RE.fullmatch(value):
        return False
    total = sum(int(digit) * w for digit, w in zip(value, _ID_WEIGHTS))
    if value[17] != _ID_CHECK_CODES[total % 11]:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= (today or china_today())


_UNIT_NAME_PUNCTUATION = str.maketrans("", "", "·•.、,，\"“”'‘’「」")


def normalize_unit_name(value: str) -> str:
    """Return a unit name reduced to the form used to match it against the member registry."""
    # NFKC turns full-width brackets, letters and digits into their half-width forms.
    name = "".join(unicodedata.normalize("NFKC", value).split())
    return name.translate(_UNIT_NAME_PUNCTUATION).upper()


# C0 control characters other than tab and newlines, DEL, and the non-characters U+FFFE/FFFF:
# PostgreSQL refuses NUL in text, XML (so python-docx) refuses the rest, and none of them
# belongs in a name, an address or a material's text.
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def strip_control_chars(text: str) -> str:
    """The text without control characters (tab and newlines are kept)."""
    return CONTROL_CHARS.sub("", text)


_TITLE_DROP = re.compile(r"[\s《》〈〉“”‘’\"'「」『』]")


def normalize_title(title: str) -> str:
    """A title reduced to what identifies it: no spaces, punctuation or book-title marks
    (one material or case sent twice; a Word file's first line repeating its title)."""
    text = _TITLE_DROP.sub("", unicodedata.normalize("NFKC", title or ""))
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "S", "Z"))
                   ).upper()


REGISTRATION_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_registration_code(length: int = 8) -> str:
    """Return a random registration code drawn from REGISTRATION_CODE_ALPHABET."""
    return "".join(secrets.choice(REGISTRATION_CODE_ALPHABET) for _ in range(length))


def rmb_capitals(amount: Decimal | int | str) -> str:
    """Write an amount of yuan in Chinese financial capitals, prefixed with 人民币."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a non-negative amount: {amount!r}")
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # Decided here rather than in cn2an, which writes -0.00 as 负零元整.
    if value == 0:
        return "人民币零元整"
    return "人民币" + cn2an.an2cn(str(value), "rmb")


def parse_amount(typed: str | None) -> tuple[Decimal | None, bool]:
    """(amount, too large) of an amount as typed: "2,980.00", "¥2980", "-500"; None if not one."""
    text = (typed or "").strip()
    for noise in (",", "，", "¥", "￥", "元", " "):
        text = text.replace(noise, "")
    if not text:
        return None, False
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None, False
    if not amount.is_finite():
        return None, False
    # Rounding a 1e30 would fail; no transfer is anywhere near a billion yuan.
    if amount.adjusted() >= 9:
        return None, True
    return amount, False
