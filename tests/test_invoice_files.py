"""Reading the tax platform's issued e-invoices (issue 10): the 数电票 XML, the PDF's text, the
OFD package, a zip of hundreds; what is not an invoice, or is hostile, refused with a reason.

The files are made by tests/invoice_fixtures.py in the platform's shapes."""
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest

from confreg.invoice import files
from confreg.invoice.files import InvoiceFileRefused, read_invoice_file, read_upload
from tests import invoice_fixtures as fx

BUYER = "青海省西宁市城东区社会工作服务中心（民办非企业）"
BUYER_TAX_ID = fx.credit_code("52630100MJY123456")


def blue(sequence=7001, **overrides) -> fx.FakeInvoice:
    values = dict(number=fx.invoice_number(sequence), buyer_name=BUYER, buyer_tax_id=BUYER_TAX_ID,
                  total=Decimal("4600.00"), quantity=2, issued_on=date(2026, 11, 30),
                  remark="报名编号 K7M2Q9XW；第十一届社会工作年会")
    values.update(overrides)
    return fx.FakeInvoice(**values)


@pytest.mark.parametrize("kind", ["xml", "pdf", "ofd"])
def test_each_kind_of_file_gives_the_number_date_buyer_tax_id_and_total(kind):
    invoice = blue(invoice_type="special")

    read = read_invoice_file(fx.file_name(invoice, kind), fx.MAKERS[kind](invoice))

    facts = read.facts
    assert read.kind == kind and facts.source == kind
    assert facts.number == invoice.number and len(facts.number) == 20
    assert facts.issued_on == date(2026, 11, 30)
    assert facts.buyer_name == BUYER and facts.buyer_tax_id == BUYER_TAX_ID
    assert facts.seller_name == fx.SELLER_NAME and facts.seller_tax_id == fx.SELLER_TAX_ID
    assert (facts.total, facts.amount, facts.tax) == (
        Decimal("4600.00"), Decimal("4339.62"), Decimal("260.38"))
    assert facts.invoice_type == "special"
    assert (facts.red, facts.original_number) == (False, "")
    assert "K7M2Q9XW" in facts.remark


@pytest.mark.parametrize("kind", ["xml", "pdf", "ofd"])
def test_a_red_letter_invoice_is_recognised_with_the_blue_one_it_reverses(kind):
    original = blue()
    red = blue(sequence=7999, original_number=original.number, remark="")

    facts = read_invoice_file("red." + kind, fx.MAKERS[kind](red)).facts

    assert facts.red and facts.original_number == original.number
    assert facts.total == Decimal("-4600.00")


def test_another_buyers_values_are_read_not_the_sellers():
    """The layout prints the buyer's and the seller's 名称 and 纳税人识别号 side by side: the
    first of each pair is the buyer's (a swap would deliver an invoice to the seller)."""
    invoice = blue(buyer_name="甘肃省兰州市社会工作协会", buyer_tax_id=fx.credit_code("51620000MJ0000001"))

    for kind in ("pdf", "ofd"):
        facts = read_invoice_file("x", fx.MAKERS[kind](invoice)).facts
        assert facts.buyer_name == "甘肃省兰州市社会工作协会", kind
        assert facts.buyer_tax_id == invoice.buyer_tax_id != facts.seller_tax_id, kind


def test_the_pdf_text_is_what_pdftotext_reads_too(tmp_path):
    """The fixture's PDF carries its facts as text an independent reader also finds."""
    import subprocess

    invoice = blue()
    path = tmp_path / "invoice.pdf"
    path.write_bytes(fx.invoice_pdf(invoice))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert invoice.number in text and BUYER in text and "¥4600.00" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(row[-5] == "yes" for row in rows), fonts  # every font embedded


# --- refused, with the reason --------------------------------------------------------------

def test_an_entity_bomb_and_an_external_entity_are_refused_unread():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b'<EInvoice><TaxSupervisionInfo><InvoiceNumber>&c;</InvoiceNumber>'
            b'</TaxSupervisionInfo></EInvoice>')
    external = (b'<?xml version="1.0"?><!DOCTYPE EInvoice [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<EInvoice><EInvoiceData><AdditionalInformation><Remark>&x;</Remark>'
                b'</AdditionalInformation></EInvoiceData></EInvoice>')
    for data in (bomb, external):
        with pytest.raises(InvoiceFileRefused) as refused:
            read_invoice_file("bomb.xml", data)
        assert "DTD" in refused.value.message


@pytest.mark.parametrize("data, words", [
    (b"<EInvoice><TaxSupervisionInfo><InvoiceNumber>12345678</InvoiceNumber>"
     b"</TaxSupervisionInfo></EInvoice>", "20 位"),
    (b"<Invoice><ID>1</ID></Invoice>", "不是数电发票"),
    (b"<EInvoice><unclosed></EInvoice>", "格式不正确"),
    (b"%PDF-1.4\n garbage", "损坏"),
    (b"MZ\x90\x00 an exe", "不是 PDF、OFD 或 XML"),
    (b"<html><script>alert(1)</script></html>", "不是数电发票"),
])
def test_what_is_not_a_readable_invoice_is_refused_with_a_reason(data, words):
    with pytest.raises(InvoiceFileRefused) as refused:
        read_invoice_file("f", data)
    assert words in refused.value.message


def test_a_pdf_without_invoice_text_is_refused_as_a_scan_or_not_an_invoice():
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(100, 700, "Meeting agenda")
    canvas.save()
    with pytest.raises(InvoiceFileRefused) as refused:
        read_invoice_file("agenda.pdf", buffer.getvalue())
    assert "扫描件" in refused.value.message


def test_a_damaged_ofd_package_is_refused():
    data = fx.invoice_ofd(blue())
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            if info.filename != "Doc_0/Document.xml":
                target.writestr(info, source.read(info))
            else:
                target.writestr(info, b"<ofd:Document")
    with pytest.raises(InvoiceFileRefused) as refused:
        read_invoice_file("x.ofd", broken.getvalue())
    assert "XML" in refused.value.message or "损坏" in refused.value.message


# --- an upload -----------------------------------------------------------------------------

def test_a_zip_of_pdf_and_xml_pairs_gives_one_invoice_each_with_both_files_and_progress():
    invoices = [blue(sequence=100 + i, total=Decimal(1000 + i)) for i in range(12)]
    members = {}
    for invoice in invoices:
        members.update(fx.invoice_files(invoice, ("pdf", "xml")))
    members["说明.txt"] = "请查收".encode()
    seen = []

    reading = read_upload("发票.zip", fx.zip_of(members), progress=lambda d, t: seen.append((d, t)))

    assert [d.number for d in reading.documents] == [i.number for i in invoices]
    for document, invoice in zip(reading.documents, invoices):
        assert [f.kind for f in document.files] == ["xml", "pdf"]
        assert document.facts.source == "xml" and document.facts.total == invoice.total
        assert document.disagreements == []
    assert reading.unreadable == [("说明.txt", "不是 PDF、OFD 或 XML 格式的发票文件。")]
    assert seen[-1] == (25, 25) and len(seen) == 25


def test_a_pdf_that_disagrees_with_its_xml_is_flagged_and_the_xml_wins():
    xml_invoice = blue(total=Decimal("4600.00"))
    pdf_invoice = blue(total=Decimal("2300.00"), buyer_name="别的单位")
    data = fx.zip_of({"a.xml": fx.invoice_xml(xml_invoice), "a.pdf": fx.invoice_pdf(pdf_invoice)})

    (document,) = read_upload("a.zip", data).documents

    assert document.facts.total == Decimal("4600.00") and document.facts.source == "xml"
    assert any("PDF 的价税合计 2,300.00 与 XML 的 4,600.00 不一致" in d
               for d in document.disagreements), document.disagreements
    assert any("别的单位" in d for d in document.disagreements)


def test_the_same_file_twice_in_one_zip_is_one_invoice_and_two_different_ones_are_flagged():
    invoice = blue()
    pdf = fx.invoice_pdf(invoice)
    same = read_upload("z", fx.zip_of({"a/x.pdf": pdf, "b/x.pdf": pdf})).documents
    assert len(same) == 1 and len(same[0].files) == 1 and same[0].disagreements == []

    other = fx.invoice_pdf(blue(total=Decimal("1.00")))
    (document,) = read_upload("z", fx.zip_of({"x.pdf": pdf, "y.pdf": other})).documents
    assert any("两份不同 PDF" in d for d in document.disagreements)


class GbkName(zipfile.ZipInfo):
    """A member named as Windows' zip tools write it: GBK bytes, without the UTF-8 flag."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


def test_windows_zip_names_in_gbk_are_read_as_chinese():
    invoice = blue()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(GbkName("发票清单.txt"), b"hello")
        archive.writestr("ok.xml", fx.invoice_xml(invoice))
    reading = read_upload("z.zip", buffer.getvalue())
    assert reading.unreadable[0][0] == "发票清单.txt"
    assert [d.number for d in reading.documents] == [invoice.number]


def test_zip_bombs_nested_zips_and_too_many_members_are_refused(monkeypatch):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.xml", b"<" + b" " * (8 * 1024 * 1024))
        archive.writestr("inner.zip", fx.zip_of({"a.xml": fx.invoice_xml(blue())}))
    reading = read_upload("bomb.zip", bomb.getvalue())
    assert dict(reading.unreadable) == {
        "big.xml": "big.xml 压缩比异常（疑似压缩炸弹），不予读取。",
        "inner.zip": "压缩包内又有压缩包：请解压后把发票文件直接放在一个 .zip 中上传。"}
    assert reading.documents == []

    monkeypatch.setattr(files, "MAX_ZIP_MEMBERS", 3)
    many = fx.zip_of({f"{i}.xml": fx.invoice_xml(blue(sequence=i)) for i in range(4)})
    with pytest.raises(InvoiceFileRefused) as refused:
        read_upload("many.zip", many)
    assert "一次最多 3 个" in refused.value.message

    broken = read_upload("broken.zip", b"PK\x03\x04" + b"\0" * 100)
    assert broken.documents == [] and broken.unreadable == [
        ("broken.zip", "不是 PDF、OFD 或 XML 格式的发票文件。")]


def test_sniffing_goes_by_content_not_by_name():
    invoice = blue()
    assert files.sniff_invoice_kind(fx.invoice_pdf(invoice)) == "pdf"
    assert files.sniff_invoice_kind(fx.invoice_ofd(invoice)) == "ofd"
    assert files.sniff_invoice_kind(b"\xef\xbb\xbf" + fx.invoice_xml(invoice)) == "xml"
    assert files.sniff_invoice_kind(fx.zip_of({"a.xml": b"<a/>"})) == "zip"
    assert files.sniff_invoice_kind(b"GIF89a") is None
    # an XML file named .pdf is read as the XML it is
    assert read_invoice_file("trick.pdf", fx.invoice_xml(invoice)).kind == "xml"


def test_a_damaged_member_is_listed_and_the_others_read_and_a_damaged_ofd_is_refused():
    """Corrupt deflate data raises zlib.error deep inside zipfile: one bad file is listed as
    unreadable, never a failed upload (or a 500 on the page)."""
    good, bad = blue(sequence=1), blue(sequence=2)
    data = bytearray(fx.zip_of({"bad.xml": fx.invoice_xml(bad), "good.xml": fx.invoice_xml(good)}))
    start = data.index(b"bad.xml") + len(b"bad.xml")  # the member's deflated bytes follow
    data[start + 20:start + 60] = b"\xff" * 40

    reading = read_upload("z.zip", bytes(data))

    assert [d.number for d in reading.documents] == [good.number]
    assert reading.unreadable == [("bad.xml", "压缩包中的这个文件已损坏（或有密码），无法读取。")]

    ofd = bytearray(fx.invoice_ofd(good))
    start = ofd.index(b"OFD.xml") + len(b"OFD.xml")
    ofd[start + 10:start + 50] = b"\xff" * 40
    with pytest.raises(InvoiceFileRefused) as refused:
        read_invoice_file("x.ofd", bytes(ofd))
    assert "损坏" in refused.value.message
