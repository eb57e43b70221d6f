"""Read the invoice files the national tax platform produces into plain facts.

The association issues its invoices on the national unified e-invoice service platform
(全国统一电子发票服务平台, the fully digitalised e-invoice, 数电票). For every invoice the
platform's download gives up to three files, and finance may upload any of them, one by one or
as a .zip of hundreds:

* **XML** — the structured invoice. The element names are those of the platform's XML file
  (数电票 XML, root ``EInvoice``): the 20-digit number and the time of issue under
  ``TaxSupervisionInfo/InvoiceNumber`` and ``IssueTime``; the parties under
  ``EInvoiceData/BuyerInformation`` (``BuyerName``, ``BuyerIdNum``) and ``SellerInformation``
  (``SellerName``, ``SellerIdNum``); the amounts under ``BasicInformation``
  (``TotalAmWithoutTax``, ``TotalTaxAm``, ``TotalTax-includedAmount`` = 价税合计); the remark under
  ``AdditionalInformation/Remark``; the kind of invoice under
  ``Header/InherentLabel/EInvoiceType/LabelName``. A red-letter invoice (红字发票) has negative
  amounts and says in its remark which blue invoice it reverses
  ("被红冲蓝字数电发票号码：…").
* **OFD** — the fixed-layout document of GB/T 33190-2016 (电子文件存储与交换格式 版式文档): a zip
  package whose entry file ``OFD.xml`` (namespace http://www.ofdspec.org/2016) carries the
  invoice's key facts as ``DocInfo/CustomDatas/CustomData`` entries named 发票号码, 开票日期,
  购买方纳税人识别号, 合计金额, 合计税额 …; the buyer's name is read from the text of the page
  (its ``TextObject``/``TextCode`` elements), laid out as on the PDF.
* **PDF** — the same page as a PDF; its text carries the printed labels of the invoice layout
  (发票号码：, 开票日期：, 名称：, 统一社会信用代码/纳税人识别号：, 价税合计（大写）… （小写）¥…,
  备注). The facts come from the XML where there is one, from this text otherwise.

Nothing here is trusted: XML is parsed by defusedxml with DTDs and entities refused (no entity
bomb, no external reference), archives are bounded in members and expanded size, and nothing is
executed or rendered. No Flask, no database: `confreg.services.invoices` stores what this
returns.
"""
from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

# Bounds: a zip of the platform's files for a big event (a PDF is ~100 KB, an XML ~10 KB).
MAX_ZIP_MEMBERS = 3000
MAX_MEMBER_BYTES = 20 * 1024 * 1024
MAX_ZIP_BYTES = 600 * 1024 * 1024          # expanded, all members together
MAX_COMPRESSION_RATIO = 200                # a member expanding more than this is a bomb
MAX_XML_BYTES = 5 * 1024 * 1024
MAX_OFD_MEMBERS = 500

INVOICE_NUMBER = re.compile(r"(?<!\d)(\d{20})(?!\d)")
RED_REMARK = re.compile(r"被红冲蓝字(?:数电)?发票号码[:：]\s*(\d{20})")
OFD_NS = "http://www.ofdspec.org/2016"


class InvoiceFileRefused(Exception):
    """A file (or the whole upload) cannot be read as an invoice; `message` says why, in Chinese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class InvoiceFacts:
    number: str
    issued_on: date | None
    buyer_name: str
    buyer_tax_id: str
    seller_name: str
    seller_tax_id: str
    total: Decimal | None          # 价税合计
    amount: Decimal | None         # 合计金额 (without tax)
    tax: Decimal | None            # 合计税额
    red: bool
    original_number: str           # the blue invoice a red one reverses
    invoice_type: str              # "ordinary" / "special" (confreg's keys), "" if unknown
    remark: str
    source: str                    # "xml" / "ofd" / "pdf": where these facts were read


@dataclass
class InvoiceFile:
    name: str
    kind: str                      # "pdf" / "ofd" / "xml"
    data: bytes
    facts: InvoiceFacts


@dataclass
class InvoiceDocument:
    """One invoice: its facts (from the best of its files) and every file that carries it."""
    number: str
    facts: InvoiceFacts
    files: list[InvoiceFile] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)


@dataclass
class UploadReading:
    documents: list[InvoiceDocument]
    unreadable: list[tuple[str, str]]   # (file name, why)


# --- what a file is --------------------------------------------------------------------------

def sniff_invoice_kind(data: bytes) -> str | None:
    """Tell a file's kind by its content: "pdf", "ofd", "xml", "zip", or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:  # noqa: BLE001 -- untrusted bytes: any failure means "not a zip"
            return None
        return "ofd" if "OFD.xml" in names else "zip"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        return "xml"
    return None


# --- one file ----------------------------------------------------------------------------------

def read_invoice_file(name: str, data: bytes) -> InvoiceFile:
    """Read one PDF, OFD or XML invoice; raise InvoiceFileRefused if it is not one."""
    kind = sniff_invoice_kind(data)
    readers = {"xml": _xml_facts, "ofd": _ofd_facts, "pdf": _pdf_facts}
    if kind in readers:
        try:
            facts = readers[kind](data)
        except InvoiceFileRefused:
            raise
        except Exception:  # noqa: BLE001 -- a damaged file of any kind (zlib, pypdf, zipfile…)
            raise InvoiceFileRefused(f"{kind.upper()} 文件已损坏，无法读取。") from None
    elif kind == "zip":
        raise InvoiceFileRefused("压缩包内又有压缩包：请解压后把发票文件直接放在一个 .zip 中上传。")
    else:
        raise InvoiceFileRefused("不是 PDF、OFD 或 XML 格式的发票文件。")
    return InvoiceFile(name=name, kind=kind, data=data, facts=facts)


def _parse_xml(data: bytes) -> Element:
    if len(data) > MAX_XML_BYTES:
        raise InvoiceFileRefused("XML 文件过大，不是一张发票。")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException:
        raise InvoiceFileRefused("XML 文件含有 DTD 或实体声明，为安全起见不予读取。") from None
    except (ParseError, ValueError):
        raise InvoiceFileRefused("XML 文件格式不正确（可能已损坏）。") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, *path: str) -> Element | None:
    """Follow a path of element names, ignoring namespaces."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _text(element: Element | None, *path: str) -> str:
    found = _child(element, *path)
    return " ".join((found.text or "").split()) if found is not None else ""


def _amount(text: str) -> Decimal | None:
    text = (text or "").replace(",", "").replace("¥", "").replace("￥", "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.01")) if value.is_finite() else None


def _date(text: str) -> date | None:
    match = re.search(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})", text or "")
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _tax_id(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def _invoice_type(label: str) -> str:
    if "专用发票" in label:
        return "special"
    if "普通发票" in label:
        return "ordinary"
    return ""


def _number_or_refuse(number: str, what: str) -> str:
    number = "".join((number or "").split())
    if not re.fullmatch(r"\d{20}", number):
        raise InvoiceFileRefused(f"{what}中没有 20 位的数电发票号码，不是税务平台开具的数电票。")
    return number


def _finish(number: str, *, total: Decimal | None, remark: str, **facts) -> InvoiceFacts:
    red_match = RED_REMARK.search(remark)
    red = bool(red_match) or (total is not None and total < 0)
    return InvoiceFacts(number=number, total=total, remark=remark, red=red,
                        original_number=red_match[1] if red_match else "", **facts)


def _xml_facts(data: bytes) -> InvoiceFacts:
    root = _parse_xml(data)
    if _local(root.tag) != "EInvoice":
        raise InvoiceFileRefused("XML 文件不是数电发票（根元素不是 EInvoice）。")
    body = _child(root, "EInvoiceData")
    supervision = _child(root, "TaxSupervisionInfo")
    basic = _child(body, "BasicInformation")
    number = _number_or_refuse(_text(supervision, "InvoiceNumber"), "XML 文件")
    return _finish(
        number,
        issued_on=_date(_text(supervision, "IssueTime") or _text(basic, "RequestTime")),
        buyer_name=_text(body, "BuyerInformation", "BuyerName"),
        buyer_tax_id=_tax_id(_text(body, "BuyerInformation", "BuyerIdNum")),
        seller_name=_text(body, "SellerInformation", "SellerName"),
        seller_tax_id=_tax_id(_text(body, "SellerInformation", "SellerIdNum")),
        total=_amount(_text(basic, "TotalTax-includedAmount")),
        amount=_amount(_text(basic, "TotalAmWithoutTax")),
        tax=_amount(_text(basic, "TotalTaxAm")),
        invoice_type=_invoice_type(_text(root, "Header", "InherentLabel", "EInvoiceType",
                                         "LabelName")),
        remark=_text(body, "AdditionalInformation", "Remark"),
        source="xml")


# --- text of the printed layout (PDF and OFD pages) --------------------------------------------

_NAME = re.compile(r"名\s*称\s*[:：]\s*(.*?)(?=\s{2,}|\s*名\s*称\s*[:：]|\s*统一社会信用代码"
                   r"|\s*纳税人识别号|\n|$)")
_TAX_ID = re.compile(r"纳税人识别号\s*[:：]\s*([0-9A-Za-z]{15,20})")
_TOTAL = re.compile(r"[（(]\s*小\s*写\s*[）)]\s*[¥￥]?\s*(-?[\d,]+\.\d{2})")
_SUMS = re.compile(r"合\s*计\s*[¥￥]?\s*(-?[\d,]+\.\d{2})\s*[¥￥]?\s*(-?[\d,]+\.\d{2})")
_NUMBER = re.compile(r"发\s*票\s*号\s*码\s*[:：]\s*(\d{20})")
_ISSUED = re.compile(r"开\s*票\s*日\s*期\s*[:：]\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
                     r"|\d{4}-\d{1,2}-\d{1,2})")
_REMARK = re.compile(r"备\s*注\s*[:：]?\s*(.*?)(?=开\s*票\s*人|$)", re.S)
_TYPE = re.compile(r"电子发票\s*[（(]\s*(普通发票|增值税专用发票)\s*[）)]")


def text_facts(text: str, *, source: str, custom: dict[str, str] | None = None) -> InvoiceFacts:
    """Read the facts from the text of the invoice's page (PDF text, OFD text objects)."""
    custom = custom or {}
    text = text.replace("\u3000", " ").replace("\xa0", " ")
    number = custom.get("发票号码") or (_NUMBER.search(text) or [None, ""])[1]
    number = _number_or_refuse(number, "PDF 文件" if source == "pdf" else "OFD 文件")
    names = [m.strip() for m in _NAME.findall(text)]
    tax_ids = [_tax_id(m) for m in _TAX_ID.findall(text)]
    sums = _SUMS.search(text)
    amount = _amount(custom.get("合计金额", "")) or (_amount(sums[1]) if sums else None)
    tax = _amount(custom.get("合计税额", "")) or (_amount(sums[2]) if sums else None)
    total_match = _TOTAL.search(text)
    total = _amount(custom.get("价税合计", "")) or (_amount(total_match[1]) if total_match else None)
    if total is None and amount is not None and tax is not None:
        total = amount + tax
    remark_match = _REMARK.search(text)
    remark = " ".join(remark_match[1].split()) if remark_match else ""
    issued = _ISSUED.search(text)
    type_match = _TYPE.search(text)
    return _finish(
        number,
        issued_on=_date(custom.get("开票日期", "")) or (_date(issued[1]) if issued else None),
        buyer_name=names[0] if names else "",
        buyer_tax_id=_tax_id(custom.get("购买方纳税人识别号", "")) or (tax_ids[0] if tax_ids else ""),
        seller_name=names[1] if len(names) > 1 else "",
        seller_tax_id=_tax_id(custom.get("销售方纳税人识别号", ""))
        or (tax_ids[1] if len(tax_ids) > 1 else ""),
        total=total, amount=amount, tax=tax,
        invoice_type=_invoice_type(type_match[1]) if type_match else "",
        remark=remark, source=source)


def _pdf_facts(data: bytes) -> InvoiceFacts:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvoiceFileRefused("PDF 文件有密码保护，无法读取。")
        if not reader.pages:
            raise InvoiceFileRefused("PDF 文件没有页面。")
        # A 数电票 is one page; a second page only continues the list of items.
        text = reader.pages[0].extract_text() or ""
    except InvoiceFileRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
            OSError, zipfile.BadZipFile):
        raise InvoiceFileRefused("PDF 文件已损坏，无法读取。") from None
    if "发票" not in text:
        raise InvoiceFileRefused("PDF 文件中读不到发票的文字（可能是扫描件或不是发票）。")
    return text_facts(text, source="pdf")


def _ofd_facts(data: bytes) -> InvoiceFacts:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
            if len(infos) > MAX_OFD_MEMBERS:
                raise InvoiceFileRefused("OFD 文件的内容过多，不是一张发票。")

            def member(path: str) -> bytes:
                info = package.getinfo(path)
                _check_member(info)
                with package.open(info) as handle:
                    return handle.read(MAX_MEMBER_BYTES + 1)[:MAX_MEMBER_BYTES]

            entry = _parse_xml(member("OFD.xml"))
            custom: dict[str, str] = {}
            doc_root = ""
            for body in (c for c in entry if _local(c.tag) == "DocBody"):
                for data_element in body.iter():
                    if _local(data_element.tag) == "CustomData" and data_element.get("Name"):
                        custom[data_element.get("Name")] = " ".join(
                            (data_element.text or "").split())
                doc_root = doc_root or _text(body, "DocRoot")
            text = _ofd_text(package, member, doc_root)
    except InvoiceFileRefused:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, NotImplementedError,
            RuntimeError, EOFError):
        raise InvoiceFileRefused("OFD 文件已损坏，无法读取。") from None
    return text_facts(text, source="ofd", custom=custom)


def _ofd_text(package: zipfile.ZipFile, member: Callable[[str], bytes], doc_root: str) -> str:
    """The page's text objects in reading order (top to bottom, left to right), one line per
    row, with the page's templates (where the platform puts the printed labels)."""
    doc_root = doc_root.lstrip("/")
    if not doc_root:
        return ""
    base = posixpath.dirname(doc_root)
    document = _parse_xml(member(doc_root))
    contents = []
    for element in document.iter():
        local = _local(element.tag)
        if local in ("Page", "TemplatePage") and element.get("BaseLoc"):
            contents.append(posixpath.normpath(posixpath.join(base, element.get("BaseLoc"))))
    pieces: list[tuple[float, float, str]] = []
    names = set(package.namelist())
    for path in contents[:20]:
        if path not in names:
            continue
        for text_object in _parse_xml(member(path)).iter():
            if _local(text_object.tag) != "TextObject":
                continue
            try:
                x, y = (float(v) for v in (text_object.get("Boundary") or "0 0").split()[:2])
            except ValueError:
                x = y = 0.0
            text = "".join(code.text or "" for code in text_object.iter()
                           if _local(code.tag) == "TextCode")
            if text.strip():
                pieces.append((y, x, text))
    pieces.sort()
    lines: list[list[tuple[float, str]]] = []
    last_y = None
    for y, x, text in pieces:
        if last_y is None or abs(y - last_y) > 1.5:
            lines.append([])
            last_y = y
        lines[-1].append((x, text))
    return "\n".join("  ".join(text for _, text in sorted(line)) for line in lines)


# --- an upload: one file or a zip of them ------------------------------------------------------

def _check_member(info: zipfile.ZipInfo) -> None:
    if info.file_size > MAX_MEMBER_BYTES:
        raise InvoiceFileRefused(f"{_member_name(info)} 超过 {MAX_MEMBER_BYTES // 1024 // 1024} MB。")
    if info.file_size > 1024 * 1024 and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1):
        raise InvoiceFileRefused(f"{_member_name(info)} 压缩比异常（疑似压缩炸弹），不予读取。")


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:
        # Windows' zip tools write names in GBK without saying so; zipfile read them as cp437.
        try:
            name = name.encode("cp437").decode("gbk")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _zip_members(data: bytes) -> list[tuple[str, bytes | None, str]]:
    """(name, bytes or None, why not) of every file in the archive, bounded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # noqa: BLE001
        raise InvoiceFileRefused("压缩包已损坏，无法打开。") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()
                 and not i.filename.startswith("__MACOSX/")
                 and not posixpath.basename(i.filename).startswith(".")]
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InvoiceFileRefused(f"压缩包内有 {len(infos)} 个文件，一次最多 {MAX_ZIP_MEMBERS} 个，"
                                     "请分几次上传。")
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise InvoiceFileRefused("压缩包解压后过大，请分几次上传。")
        members, expanded = [], 0
        for info in infos:
            name = posixpath.basename(_member_name(info))
            try:
                _check_member(info)
                with archive.open(info) as handle:
                    content = handle.read(MAX_MEMBER_BYTES + 1)
            except InvoiceFileRefused as error:
                members.append((name, None, error.message))
                continue
            except Exception:  # noqa: BLE001 -- damaged, encrypted, an odd compression
                members.append((name, None, "压缩包中的这个文件已损坏（或有密码），无法读取。"))
                continue
            expanded += len(content)
            if len(content) > MAX_MEMBER_BYTES or expanded > MAX_ZIP_BYTES:
                raise InvoiceFileRefused("压缩包解压后过大，请分几次上传。")
            members.append((name, content, ""))
        return members


SOURCE_ORDER = {"xml": 0, "ofd": 1, "pdf": 2}
SOURCE_LABELS = {"xml": "XML", "ofd": "OFD", "pdf": "PDF"}


def read_upload(name: str, data: bytes,
                progress: Callable[[int, int], None] | None = None) -> UploadReading:
    """Read an upload (one invoice file or a zip of them) into invoices, grouped by number.

    A file that cannot be read is listed with the reason and does not stop the others; an
    archive that cannot be opened at all, or is too big, raises InvoiceFileRefused."""
    members = _zip_members(data) if sniff_invoice_kind(data) == "zip" else [(name, data, "")]
    documents: dict[str, InvoiceDocument] = {}
    unreadable: list[tuple[str, str]] = []
    for done, (member_name, content, why) in enumerate(members, start=1):
        if content is None:
            unreadable.append((member_name, why))
        else:
            try:
                file = read_invoice_file(member_name, content)
            except InvoiceFileRefused as error:
                unreadable.append((member_name, error.message))
            else:
                _add(documents, file)
        if progress is not None:
            progress(done, len(members))
    return UploadReading(documents=list(documents.values()), unreadable=unreadable)


def _add(documents: dict[str, InvoiceDocument], file: InvoiceFile) -> None:
    document = documents.get(file.facts.number)
    if document is None:
        documents[file.facts.number] = InvoiceDocument(number=file.facts.number, facts=file.facts,
                                                       files=[file])
        return
    same_kind = next((f for f in document.files if f.kind == file.kind), None)
    if same_kind is not None:
        if same_kind.data != file.data:
            document.disagreements.append(
                f"{file.name} 与 {same_kind.name} 是同一号码的两份不同 {SOURCE_LABELS[file.kind]} 文件")
        return
    document.files.append(file)
    document.files.sort(key=lambda f: SOURCE_ORDER[f.kind])
    best, other = ((file.facts, document.facts)
                   if SOURCE_ORDER[file.kind] < SOURCE_ORDER[document.facts.source]
                   else (document.facts, file.facts))
    document.facts = best
    document.disagreements.extend(_compare(best, other))


def _compare(best: InvoiceFacts, other: InvoiceFacts) -> list[str]:
    """Where two files of one invoice disagree (a file of another invoice renamed, a bad read)."""
    a, b = SOURCE_LABELS[best.source], SOURCE_LABELS[other.source]
    found = []
    if other.total is not None and best.total is not None and other.total != best.total:
        found.append(f"{b} 的价税合计 {other.total:,.2f} 与 {a} 的 {best.total:,.2f} 不一致")
    if other.buyer_tax_id and best.buyer_tax_id and other.buyer_tax_id != best.buyer_tax_id:
        found.append(f"{b} 的购买方纳税人识别号 {other.buyer_tax_id} 与 {a} 的 "
                     f"{best.buyer_tax_id} 不一致")
    if other.buyer_name and best.buyer_name and (
            _plain(other.buyer_name) != _plain(best.buyer_name)):
        found.append(f"{b} 的购买方名称“{other.buyer_name}”与 {a} 的“{best.buyer_name}”不一致")
    return found


def _plain(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name or "").split())
