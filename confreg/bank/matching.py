"""Matching a statement's credits to the registrations they pay: pure rules, no Flask, no DB.

The service loads the open registrations as OpenItems and the credit lines as Transfers; a
Matcher proposes, for each transfer, which registrations it pays and how much each gets, in
one of three piles finance works through:

- matched: the remark's registration code (or codes) names the registrations, or the payer's
  name with the exact amount leaves no doubt. One click confirms it.
- suggested: candidates with a score and a reason, best first; finance picks one.
- unmatched: nothing points anywhere.

The rules, strongest first:
1. Codes in the remark (find_codes): typed in lower case, with spaces or hyphens, full-width,
   with look-alikes (0/O, 1/I) the alphabet leaves out, or cut off by the bank (a unique
   prefix of 6+ characters ending the text, when the amount does not exceed what is owed).
   Several codes: the transfer is allocated over them, in the order written.
2. The payer's name (normalised as the member registry does) is a unit's name or a payer
   name money for it came from before: the amount equals one registration's balance, or the
   sum of a few of them (a city office paying for its street offices).
3. The amount alone equals one registration's balance: a low-scored suggestion, never more.

The amount decides the allocation: exact pays, short pays part (the rest stays owed), over
pays what is owed and the surplus stays on the transaction. A MATCHED proposal's allocation
is deducted from the balances at once, so a later transfer of the batch sees what is left.
"""
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import combinations

from confreg.checks import REGISTRATION_CODE_ALPHABET, normalize_unit_name

CODE_LENGTH = 8
PREFIX_MIN = 6            # a cut-off code counts from this many characters
MAX_LOOKALIKES = 2        # more in one token and it is a number (a date, a serial), not a code
MATCHED_SCORE = 80        # a candidate this good is matched
MAX_CANDIDATES = 5
SUBSET_MAX_ITEMS = 12     # payer_sum tries subsets only among this many open registrations…
SUBSET_MAX_SIZE = 4       # …of at most this size (beyond: all of them together, or nothing)
QUOTE_CHARS = 40
ZERO = Decimal("0")

# The alphabet leaves out 0, 1, I and O because they are misread, so one of them in a remark
# is a code character read or typed wrongly: 0/O for the round letters D and Q, 1/I for the
# upright strokes L, J, T and 7. Characters of the alphabet are taken as typed (reading 8 as
# B would make every digit of every remark doubtful).
LOOKALIKES = {"0": "DQ", "O": "DQ", "1": "JLT7", "I": "JLT7"}
# A code and a typed token reduced to their shape: one dict lookup finds the codes a token
# with look-alikes may stand for.
_SHAPE = str.maketrans({ch: key for key, chars in (("0", "DQO"), ("1", "JLT7I"))
                        for ch in chars})
_ALPHABET = frozenset(REGISTRATION_CODE_ALPHABET)

# After NFKC (full-width letters, digits, spaces and hyphens are half-width by then).
_CHUNK = re.compile(r"[0-9A-Za-z]+")
# What may stand inside a code as typed: "AB3K 7Q9M", "AB3K-7Q9M", "AB3K - 7Q9M".
_JOINER = re.compile(r"[\s\-‐‑‒–—―_]{1,3}")

_KIND_SCORE = {"code": 100, "code_fuzzy": 95, "code_prefix": 90}
PAYER_NAME_SCORE = 85
PAYER_SUM_SCORE = 80
AMBIGUOUS_SCORE = 60      # one of several that fit equally
PAID_SCORE = 50
NAME_ONLY_SCORE = 50
AMOUNT_ONLY_SCORE = 30
# The payer's name or the amount never outweighs a code the remark gives.
BESIDE_CODE_SCORE = 70


@dataclass(frozen=True)
class OpenItem:
    """A registration that can receive money."""
    registration_id: int
    code: str
    event_id: int
    unit_name: str
    payer_names: tuple[str, ...]   # names money for this unit came from / invoice title
    outstanding: Decimal           # expected - received - already proposed; <= 0 when paid
    label: str = ""                # for explanations, e.g. "K7Q9M2XA 西宁市城东区民政局"


@dataclass(frozen=True)
class Transfer:
    """A credit line of the statement."""
    key: int | str
    amount: Decimal
    payer_name: str
    text: str                      # summary and remark joined, remark last


@dataclass(frozen=True)
class Share:
    registration_id: int
    amount: Decimal


@dataclass(frozen=True)
class Candidate:
    registration_ids: tuple[int, ...]
    score: int                     # 0-100
    rule: str
    explanation: str


@dataclass
class Proposal:
    transfer_key: int | str
    pile: str                      # matched | suggested | unmatched
    rule: str
    explanation: str
    shares: list[Share]
    surplus: Decimal               # amount - sum(shares) when over, else 0
    amount_fit: str                # exact | short | over | ""
    candidates: list[Candidate]


@dataclass(frozen=True)
class CodeToken:
    """A run of a remark that may be a registration code."""
    typed: str                     # as it stands in the text, e.g. "ab3k-7q9m"
    code: str                      # cleaned, e.g. "AB3K7Q9M"; look-alikes kept as typed
    cut_off: bool = False          # 6-7 characters ending the text: a code the bank cut off


def find_codes(text: str) -> list[CodeToken]:
    """Find the runs of a remark that may be registration codes, in the order written.

    A code is 8 characters (look-alikes counted) made of whole alphanumeric runs joined by
    spaces or hyphens; a run longer than 8 (an account number, a serial) holds no code.
    A cut-off code is 6-7 alphabet characters ending the text, without look-alikes."""
    text = text or ""
    norm = unicodedata.normalize("NFKC", text)
    origin = _origin_of(text, norm)
    chunks = [(m.start(), m.end(), m.group().upper()) for m in _CHUNK.finditer(norm)]
    groups: list[list[tuple[int, int, str]]] = []
    for chunk in chunks:
        if groups and _JOINER.fullmatch(norm, groups[-1][-1][1], chunk[0]):
            groups[-1].append(chunk)
        else:
            groups.append([chunk])
    text_end = len(norm.rstrip())
    tokens = []
    for group in groups:
        for first in range(len(group)):
            length, last = 0, first
            for last in range(first, len(group)):
                length += len(group[last][2])
                if length >= CODE_LENGTH:
                    break
            code = "".join(part for _, _, part in group[first:last + 1])
            if length == CODE_LENGTH and _lookalikes(code) <= MAX_LOOKALIKES:
                typed = text[origin(group[first][0]):origin(group[last][1] - 1) + 1]
                tokens.append(CodeToken(typed, code))
        if group[-1][1] != text_end:
            continue
        length = 0
        for first in range(len(group) - 1, -1, -1):
            length += len(group[first][2])
            if length >= CODE_LENGTH:
                break
            code = "".join(part for _, _, part in group[first:])
            if length >= PREFIX_MIN and _ALPHABET.issuperset(code):
                typed = text[origin(group[first][0]):origin(group[-1][1] - 1) + 1]
                tokens.append(CodeToken(typed, code, cut_off=True))
    return tokens


def _origin_of(text: str, norm: str):
    """Map a position in the NFKC form back to the original text (to quote what was typed)."""
    if len(norm) == len(text):
        return lambda position: position
    starts = []
    for position, ch in enumerate(text):
        starts.extend([position] * len(unicodedata.normalize("NFKC", ch)))
    return lambda position: starts[min(position, len(starts) - 1)]


def _lookalikes(code: str) -> int:
    return sum(code.count(ch) for ch in LOOKALIKES)


def _reads_as(typed: str, code: str) -> bool:
    """Whether a token with look-alikes may be the code: every other character as typed."""
    return len(typed) == len(code) and all(
        t == c or c in LOOKALIKES.get(t, "") for t, c in zip(typed, code))


def _yuan(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"


class Matcher:
    """Propose for each transfer of a batch the registrations it pays."""

    def __init__(self, items: Iterable[OpenItem]):
        self._items: dict[int, OpenItem] = {}
        self._owed: dict[int, Decimal] = {}
        self._by_code: dict[str, int] = {}
        self._by_prefix: dict[str, list[int]] = defaultdict(list)
        self._by_shape: dict[str, list[int]] = defaultdict(list)
        # normalised name -> [(registration id, True if the name is an alias, not the unit)]
        self._by_name: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        self._by_owed: dict[Decimal, set[int]] = defaultdict(set)
        for item in items:
            rid, code = item.registration_id, item.code.upper()
            self._items[rid] = item
            self._by_code[code] = rid
            for length in range(PREFIX_MIN, CODE_LENGTH):
                self._by_prefix[code[:length]].append(rid)
            self._by_shape[code.translate(_SHAPE)].append(rid)
            unit_key = normalize_unit_name(item.unit_name)
            if unit_key:
                self._by_name[unit_key].append((rid, False))
            for alias in {normalize_unit_name(name) for name in item.payer_names} - {unit_key, ""}:
                self._by_name[alias].append((rid, True))
            self._set_owed(rid, item.outstanding)

    def match(self, transfer: Transfer) -> Proposal:
        """Propose what the transfer pays; deduct a matched proposal's shares at once."""
        if transfer.amount <= 0:
            return _unmatched(transfer, "金额不为正数，不参与匹配")
        tokens = find_codes(transfer.text)
        candidates, unknown = self._code_candidates(transfer, tokens)
        if not candidates or candidates[0].score < MATCHED_SCORE:
            others = self._payer_candidates(transfer) + self._amount_candidates(transfer)
            if candidates:
                others = [replace(c, score=min(c.score, BESIDE_CODE_SCORE)) for c in others]
            candidates = _best(candidates + others)
        if not candidates:
            return _unmatched(transfer, self._nothing_found(transfer, unknown))
        best = candidates[0]
        shares, surplus, fit = self._allocate(best.registration_ids, transfer.amount)
        # Only a candidate that is the one fit scores MATCHED_SCORE or more (several that fit
        # alike score AMBIGUOUS_SCORE), so the best score alone decides the pile.
        pile = "matched" if best.score >= MATCHED_SCORE else "suggested"
        if pile == "matched":
            for share in shares:
                self._set_owed(share.registration_id,
                               self._owed[share.registration_id] - share.amount)
        return Proposal(transfer.key, pile, best.rule, best.explanation, shares, surplus, fit,
                        candidates)

    def outstanding(self, registration_id: int) -> Decimal:
        """What the registration still owes after the matched proposals so far."""
        return self._owed[registration_id]

    # --- balances --------------------------------------------------------------------------

    def _set_owed(self, rid: int, amount: Decimal) -> None:
        old = self._owed.get(rid)
        if old is not None and old > 0:
            self._by_owed[old].discard(rid)
        self._owed[rid] = amount
        if amount > 0:
            self._by_owed[amount].add(rid)

    def _allocate(self, rids: Sequence[int], amount: Decimal
                  ) -> tuple[list[Share], Decimal, str]:
        """Give each registration its balance, in order, from the amount: shares, surplus, fit."""
        owed = [(rid, max(self._owed[rid], ZERO)) for rid in rids]
        total = sum(balance for _, balance in owed)
        left, shares = amount, []
        for rid, balance in owed:
            part = min(balance, left)
            if part > 0:
                shares.append(Share(rid, part))
                left -= part
        fit = "exact" if amount == total else ("short" if amount < total else "over")
        return shares, left, fit

    def _fit_sentence(self, rids: Sequence[int], amount: Decimal) -> str:
        owed = [max(self._owed[rid], ZERO) for rid in rids]
        total = sum(owed)
        several = len(rids) > 1
        due = f"合计应缴 {_yuan(total)}" if several else f"应缴 {_yuan(total)}"
        if amount == total:
            return f"金额 {_yuan(amount)} 与{'合计' if several else ''}应缴一致"
        if amount > total:
            return (f"多付 {_yuan(amount - total)}（{due}，到账 {_yuan(amount)}），"
                    "多出部分暂存在本笔到账上")
        sentence = f"少付 {_yuan(total - amount)}（{due}，到账 {_yuan(amount)}）"
        if not several:
            return sentence + "，余款仍待缴"
        left, short = amount, []
        for rid, balance in zip(rids, owed):
            if balance > left:
                short.append(self._label(rid))
            left = max(left - balance, ZERO)
        return sentence + f"，按附言顺序分配，{'、'.join(short)} 未缴足"

    def _label(self, rid: int) -> str:
        item = self._items[rid]
        return item.label or f"{item.code} {item.unit_name}".strip()

    # --- rule 1: codes in the remark -------------------------------------------------------

    def _resolve(self, token: CodeToken) -> tuple[str, list[int]]:
        """The rule and the registrations a token may name."""
        if token.cut_off:
            return "code_prefix", self._by_prefix.get(token.code, [])
        if token.code in self._by_code:
            return "code", [self._by_code[token.code]]
        if _lookalikes(token.code):
            shaped = self._by_shape.get(token.code.translate(_SHAPE), ())
            return "code_fuzzy", [rid for rid in shaped
                                  if _reads_as(token.code, self._items[rid].code.upper())]
        return "code", []

    def _code_candidates(self, transfer: Transfer, tokens: list[CodeToken]
                         ) -> tuple[list[Candidate], list[CodeToken]]:
        """Candidates from the codes in the remark, and the tokens that name no registration."""
        named: dict[int, tuple[str, CodeToken]] = {}     # in the order written
        ambiguous: list[tuple[str, CodeToken, list[int]]] = []
        unknown = []
        for token in tokens:
            kind, rids = self._resolve(token)
            if len(rids) == 1:
                named.setdefault(rids[0], (kind, token))
            elif rids:
                ambiguous.append((kind, token, rids))
            elif not token.cut_off and not _lookalikes(token.code):
                unknown.append(token)   # plainly a code, of no open registration
        quote = _quote(transfer.text)
        candidates = []
        if named:
            candidates.append(self._code_candidate(transfer, quote, named))
        for kind, token, rids in ambiguous:
            for rid in rids[:MAX_CANDIDATES]:
                if rid in named:
                    continue
                candidate = self._code_candidate(transfer, quote, {**named, rid: (kind, token)})
                score = min(candidate.score, AMBIGUOUS_SCORE) - len(named)
                shared = f"“{token.typed}”可能是 {len(rids)} 个报名编号中的一个"
                candidates.append(replace(candidate, score=score,
                                          explanation=f"{shared}；{candidate.explanation}"))
        if named and ambiguous:
            # The remark names more than could be told apart: never confirm the known part alone.
            candidates[0] = replace(candidates[0], score=min(candidates[0].score,
                                                             AMBIGUOUS_SCORE - 5))
        return _best(candidates), unknown

    def _code_candidate(self, transfer: Transfer, quote: str,
                        named: dict[int, tuple[str, CodeToken]]) -> Candidate:
        rids = tuple(named)
        kinds = {kind for kind, _ in named.values()}
        several = len(rids) > 1
        paid = [rid for rid in rids if self._owed[rid] <= 0]
        _, _, fit = self._allocate(rids, transfer.amount)
        score = min(_KIND_SCORE[kind] for kind in kinds)
        if fit == "short":
            score -= 30 if several else 10
        elif fit == "over":
            score -= 30 if "code_prefix" in kinds else 10
        if paid:
            score = PAID_SCORE
        if several:
            found = "、".join(self._typed_as(rid, kind, token)
                             for rid, (kind, token) in named.items())
            explanation = f"附言“{quote}”中有 {len(rids)} 个报名编号：{found}"
        else:
            kind, token = named[rids[0]]
            code = self._items[rids[0]].code
            if kind == "code_prefix":
                explanation = f"附言“{quote}”末尾的“{token.typed}”是报名编号 {code} 的开头（附言被截断）"
            else:
                explanation = f"附言“{quote}”中的报名编号 {self._typed_as(rids[0], kind, token)}"
        if paid:
            labels = "、".join(self._label(rid) for rid in paid)
            explanation += f"；但 {labels} 已缴清，此笔可能是重复汇款或追加的款项，请核实"
            if len(paid) < len(rids):
                explanation += "；" + self._fit_sentence(rids, transfer.amount)
        else:
            explanation += "，" + self._fit_sentence(rids, transfer.amount)
        rule = "codes" if several else next(iter(kinds))
        return Candidate(rids, score, rule, explanation)

    def _typed_as(self, rid: int, kind: str, token: CodeToken) -> str:
        """The code, and how the remark wrote it when that was not plainly."""
        code = self._items[rid].code
        if kind == "code_fuzzy":
            swaps = "、".join(f"{t}→{c}" for t, c in zip(token.code, code.upper()) if t != c)
            return f"{code}（写作“{token.typed}”，按易混字符 {swaps} 读）"
        if kind == "code_prefix":
            return f"{code}（“{token.typed}”被截断）"
        return code

    # --- rule 2: the payer's name ----------------------------------------------------------

    def _payer_candidates(self, transfer: Transfer) -> list[Candidate]:
        key = normalize_unit_name(transfer.payer_name)
        if not key:
            return []
        open_ = [(rid, alias) for rid, alias in self._by_name.get(key, ()) if self._owed[rid] > 0]
        if not open_:
            return []
        amount = transfer.amount
        payer = transfer.payer_name.strip()
        rids = [rid for rid, _ in open_]
        aliases = {rid for rid, alias in open_ if alias}
        singles = [rid for rid in rids if self._owed[rid] == amount]
        subsets = self._subsets_summing(rids, amount)
        fitting = len(singles) + len(subsets)
        candidates = []
        for rid in singles:
            score = PAYER_NAME_SCORE if fitting == 1 else AMBIGUOUS_SCORE
            explanation = f"{self._payer_is(payer, rid, rid in aliases)}，金额 {_yuan(amount)} 与应缴一致"
            if fitting > 1:
                explanation += f"；该付款人名下有 {fitting} 种报名组合与金额相符"
            candidates.append(Candidate((rid,), score, "payer_name", explanation))
        for subset in subsets:
            score = PAYER_SUM_SCORE if fitting == 1 else AMBIGUOUS_SCORE - 5
            labels = "；".join(self._label(rid) for rid in subset)
            explanation = (f"付款人“{payer}”名下 {len(subset)} 个报名（{labels}）"
                           f"合计应缴 {_yuan(amount)}，与金额一致")
            if fitting > 1:
                explanation += f"；该付款人名下有 {fitting} 种报名组合与金额相符"
            candidates.append(Candidate(subset, score, "payer_sum", explanation))
        if not fitting:
            for rid in sorted(rids, key=lambda rid: abs(self._owed[rid] - amount)):
                explanation = (f"{self._payer_is(payer, rid, rid in aliases)}，但"
                               + self._fit_sentence((rid,), amount))
                candidates.append(Candidate((rid,), NAME_ONLY_SCORE, "payer_name", explanation))
        return candidates

    def _payer_is(self, payer: str, rid: int, alias: bool) -> str:
        if alias:
            return f"付款人“{payer}”曾为报名单位 {self._label(rid)} 付款或是其开票抬头"
        return f"付款人“{payer}”即报名单位 {self._label(rid)}"

    def _subsets_summing(self, rids: list[int], amount: Decimal) -> list[tuple[int, ...]]:
        """The groups of two or more registrations whose balances add up to the amount."""
        owed = [self._owed[rid] for rid in rids]
        total = sum(owed)
        if len(rids) < 2 or amount > total:
            return []
        if amount == total:
            return [tuple(rids)]    # all balances are positive: no smaller group reaches it
        if len(rids) > SUBSET_MAX_ITEMS:
            return []
        positions = defaultdict(list)
        for position, balance in enumerate(owed):
            positions[balance].append(position)
        found = []
        # Choose all but the last member, look the last one up: C(12, 3) steps at most.
        for size in range(2, min(SUBSET_MAX_SIZE, len(rids) - 1) + 1):
            for chosen in combinations(range(len(rids)), size - 1):
                rest = amount - sum(owed[position] for position in chosen)
                for last in positions.get(rest, ()):
                    if last > chosen[-1]:
                        found.append(tuple(rids[p] for p in (*chosen, last)))
                        if len(found) > MAX_CANDIDATES:
                            return found
        return found

    # --- rule 3: the amount alone ----------------------------------------------------------

    def _amount_candidates(self, transfer: Transfer) -> list[Candidate]:
        rids = self._by_owed.get(transfer.amount, ())
        if len(rids) != 1:
            return []
        (rid,) = rids
        explanation = (f"仅金额 {_yuan(transfer.amount)} 与报名 {self._label(rid)} 的应缴一致，"
                       "附言和付款人都对不上，请核实")
        return [Candidate((rid,), AMOUNT_ONLY_SCORE, "amount_only", explanation)]

    def _nothing_found(self, transfer: Transfer, unknown: list[CodeToken]) -> str:
        parts = []
        if unknown:
            typed = "、".join(f"“{token.typed}”" for token in unknown[:3])
            parts.append(f"附言中的 {typed} 不是可收款报名的编号")
        else:
            parts.append(f"附言“{_quote(transfer.text)}”中没有报名编号")
        if transfer.payer_name.strip():
            parts.append(f"付款人“{transfer.payer_name.strip()}”不是待缴款的报名单位")
        same = len(self._by_owed.get(transfer.amount, ()))
        parts.append(f"应缴 {_yuan(transfer.amount)} 的报名有 {same} 个，不能仅凭金额认定"
                     if same else f"没有应缴 {_yuan(transfer.amount)} 的报名")
        return "，".join(parts)


def _best(candidates: list[Candidate]) -> list[Candidate]:
    """Best first, one per set of registrations, at most MAX_CANDIDATES."""
    kept: dict[tuple[int, ...], Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        kept.setdefault(candidate.registration_ids, candidate)
    return list(kept.values())[:MAX_CANDIDATES]


def _unmatched(transfer: Transfer, explanation: str) -> Proposal:
    return Proposal(transfer.key, "unmatched", "", explanation, [], ZERO, "", [])


def match_all(items: Iterable[OpenItem], transfers: Iterable[Transfer]) -> list[Proposal]:
    """Match a batch of transfers in the given order against the same open registrations."""
    matcher = Matcher(items)
    return [matcher.match(transfer) for transfer in transfers]
