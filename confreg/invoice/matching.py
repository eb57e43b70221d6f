"""Pair issued invoices with the requests finance made for them.

The rule is strict because a match delivers the invoice to a unit without a person looking:
an invoice is attached by itself ("exact") only when its remark carries the registration code
of exactly one open request (the batch Excel puts 报名编号 there) *and* its buyer name, buyer
tax ID, total (价税合计) and kind (普票/专票) agree with that request. Anything less is held for finance with the
difference spelt out, or listed as unmatched. The requests given are one event's: matching
never crosses events.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from .files import InvoiceDocument


@dataclass(frozen=True)
class RequestFacts:
    id: int
    event_id: int
    codes: tuple[str, ...]          # registration codes the request covers
    buyer_name: str
    buyer_tax_id: str
    total: Decimal
    issued_number: str = ""         # the blue invoice already attached, if any
    invoice_type: str = ""          # "ordinary" / "special"


@dataclass
class InvoiceMatch:
    number: str
    outcome: str                    # exact / held / unmatched / red / duplicate
    request_id: int | None = None
    differences: list[str] = field(default_factory=list)
    reason: str = ""


TYPE_LABELS = {"ordinary": "普通发票", "special": "增值税专用发票"}


def plain_name(name: str) -> str:
    """A buyer name as compared: half-width, no whitespace (（） and () are the same)."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def plain_tax_id(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value or "").split()).upper()


def _codes_in(remark: str, requests: Sequence[RequestFacts]) -> list[RequestFacts]:
    # Registration codes are letters and digits: a code must stand alone, not be part of a
    # longer code, to count.
    tokens = set(re.findall(r"[0-9A-Za-z]+", remark or ""))
    return [r for r in requests if any(code in tokens for code in r.codes)]


def differences(document: InvoiceDocument, request: RequestFacts) -> list[str]:
    facts = document.facts
    found = []
    if plain_name(facts.buyer_name) != plain_name(request.buyer_name):
        found.append(f"购买方名称：发票为“{facts.buyer_name or '（空）'}”，"
                     f"申请为“{request.buyer_name}”")
    if plain_tax_id(facts.buyer_tax_id) != plain_tax_id(request.buyer_tax_id):
        found.append(f"纳税人识别号：发票为 {facts.buyer_tax_id or '（空）'}，"
                     f"申请为 {request.buyer_tax_id or '（空）'}")
    if facts.invoice_type and request.invoice_type and facts.invoice_type != request.invoice_type:
        found.append(f"发票类型：发票为{TYPE_LABELS[facts.invoice_type]}，"
                     f"申请为{TYPE_LABELS[request.invoice_type]}")
    if facts.total is None or facts.total != request.total:
        shown = f"{facts.total:,.2f}" if facts.total is not None else "（读不到）"
        found.append(f"价税合计：发票为 {shown} 元，申请为 {request.total:,.2f} 元")
    return found


def match_documents(documents: Iterable[InvoiceDocument], requests: Sequence[RequestFacts],
                    known_numbers: frozenset[str] = frozenset()) -> list[InvoiceMatch]:
    """One InvoiceMatch per document, in order."""
    seen: set[str] = set()
    by_issued = {r.issued_number: r for r in requests if r.issued_number}
    results = []
    for document in documents:
        number = document.number
        if number in known_numbers or number in seen:
            results.append(InvoiceMatch(number, "duplicate",
                                        reason=f"发票 {number} 已上传过，本次不再重复登记"))
            continue
        seen.add(number)
        results.append(_match_one(document, requests, by_issued))
    return results


def _match_one(document: InvoiceDocument, requests: Sequence[RequestFacts],
               by_issued: dict[str, RequestFacts]) -> InvoiceMatch:
    facts, number = document.facts, document.number
    if facts.red:
        original = by_issued.get(facts.original_number)
        if original is None:
            return InvoiceMatch(number, "red", reason="红字发票：本活动中找不到被冲销的蓝字发票 "
                                + (facts.original_number or "（备注中未写明）"))
        return InvoiceMatch(number, "red", original.id,
                            reason=f"红字发票，冲销 {facts.original_number}")
    coded = _codes_in(facts.remark, requests)
    if len(coded) > 1:
        best = min(coded, key=lambda r: len(differences(document, r)))
        return InvoiceMatch(number, "held", best.id, differences(document, best),
                            reason="备注中的报名编号属于多张申请，请人工确认")
    if len(coded) == 1:
        request = coded[0]
        found = differences(document, request) + list(document.disagreements)
        if found:
            return InvoiceMatch(number, "held", request.id, found,
                                reason="发票与申请不一致，请核对后再发送")
        return InvoiceMatch(number, "exact", request.id)
    # No registration code in the remark: propose the request of the same buyer, never send.
    same_buyer = [r for r in requests
                  if plain_tax_id(r.buyer_tax_id) and plain_tax_id(r.buyer_tax_id)
                  == plain_tax_id(facts.buyer_tax_id)
                  or plain_name(r.buyer_name) == plain_name(facts.buyer_name)]
    if same_buyer:
        best = min(same_buyer, key=lambda r: (len(differences(document, r)), r.issued_number != ""))
        found = differences(document, best) + list(document.disagreements)
        return InvoiceMatch(number, "held", best.id, found,
                            reason="备注中没有报名编号；按购买方找到的申请，请人工确认")
    return InvoiceMatch(number, "unmatched",
                        reason="本活动没有与之对应的发票申请（备注无报名编号，购买方也对不上）")
