"""Issued e-invoices in the shapes the national tax platform produces, for the tests.

Made from the documented layouts, not from real invoices (no real taxpayer's data):

* the 20-digit 数电票 number: digits 1–2 the year, 3–4 the province's administrative code,
  5 the platform's issuing channel, 6–20 a running number;
* the XML file (root ``EInvoice``: Header/InherentLabel, EInvoiceData with Seller/Buyer/Basic/
  IssuItem/Additional information, TaxSupervisionInfo with InvoiceNumber and IssueTime);
* the printed page (PDF, drawn with ReportLab in the font confreg ships) with the labels of the
  数电票 layout: 电子发票（普通发票）, 发票号码：, 开票日期：, 购买方信息/销售方信息 with 名称：
  and 统一社会信用代码/纳税人识别号：, the items table, 合 计, 价税合计（大写）…（小写）, 备 注, 开票人：;
* the OFD package of GB/T 33190-2016: OFD.xml with DocInfo/CustomDatas (发票号码, 开票日期,
  购买方纳税人识别号, 销售方纳税人识别号, 合计金额, 合计税额), Doc_0/Document.xml, the labels in a
  template page and the values in the page's TextObjects.

Run it to look at them: ``python tests/invoice_fixtures.py /tmp/invoices`` writes a sample of
each kind (and a red-letter one) there.
"""
from __future__ import annotations

import io
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confreg.checks import CREDIT_CODE_ALPHABET, _CREDIT_CODE_WEIGHTS, rmb_capitals  # noqa: E402

SELLER_NAME = "中国社会工作联合会"
CENT = Decimal("0.01")


def credit_code(body: str) -> str:
    """A unified social credit code (GB 32100-2015) with its check character: 17 characters in."""
    assert len(body) == 17 and all(ch in CREDIT_CODE_ALPHABET for ch in body), body
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(body, _CREDIT_CODE_WEIGHTS))
    return body + CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


SELLER_TAX_ID = credit_code("51100000500021676")


def invoice_number(sequence: int, *, year: int = 26, province: str = "11",
                   channel: str = "2") -> str:
    """A realistic 20-digit 数电票 number."""
    number = f"{year % 100:02d}{province}{channel}{sequence:015d}"
    assert len(number) == 20
    return number


@dataclass
class FakeInvoice:
    number: str
    buyer_name: str
    buyer_tax_id: str
    total: Decimal
    remark: str = ""
    issued_on: date = date(2026, 12, 7)
    invoice_type: str = "ordinary"
    item_name: str = "*现代服务*培训服务"
    quantity: int = 1
    tax_rate: Decimal = Decimal("0.06")
    original_number: str = ""       # set for a red-letter invoice
    seller_name: str = SELLER_NAME
    seller_tax_id: str = SELLER_TAX_ID
    drawer: str = "王会计"
    extra: dict = field(default_factory=dict)

    @property
    def red(self) -> bool:
        return bool(self.original_number)

    @property
    def signed_total(self) -> Decimal:
        return -abs(Decimal(self.total)) if self.red else Decimal(self.total)

    @property
    def amount(self) -> Decimal:
        return (self.signed_total / (1 + self.tax_rate)).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def tax(self) -> Decimal:
        return self.signed_total - self.amount

    @property
    def full_remark(self) -> str:
        if self.red:
            return f"被红冲蓝字数电发票号码：{self.original_number} 红字发票信息确认单编号：" \
                   f"{self.number[:16]}" + (f" {self.remark}" if self.remark else "")
        return self.remark

    @property
    def type_label(self) -> str:
        return "增值税专用发票" if self.invoice_type == "special" else "普通发票"


def file_name(invoice: FakeInvoice, kind: str) -> str:
    """The platform's download name: dzfp_<number>_<buyer>_<time>.<kind>."""
    return f"dzfp_{invoice.number}_{invoice.buyer_name}_{invoice.issued_on:%Y%m%d}103015.{kind}"


# --- XML ---------------------------------------------------------------------------------------

def invoice_xml(invoice: FakeInvoice) -> bytes:
    e = escape
    rate = f"{invoice.tax_rate:.2f}"
    unit_price = (invoice.amount / invoice.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<EInvoice>
  <Header>
    <EIid>{invoice.number}</EIid>
    <EInvoiceTag>SWEI{invoice.number[2:4]}00</EInvoiceTag>
    <Version>0.1</Version>
    <InherentLabel>
      <InIssuType><LabelCode>{'N' if invoice.red else 'Y'}</LabelCode><LabelName>{'红字发票' if invoice.red else '蓝字发票'}</LabelName></InIssuType>
      <EInvoiceType><LabelCode>{'01' if invoice.invoice_type == 'special' else '02'}</LabelCode><LabelName>{invoice.type_label}</LabelName></EInvoiceType>
      <GeneralOrSpecialVAT><LabelCode>03</LabelCode><LabelName>非增值税特殊票种</LabelName></GeneralOrSpecialVAT>
    </InherentLabel>
  </Header>
  <EInvoiceData>
    <SellerInformation>
      <SellerIdNum>{e(invoice.seller_tax_id)}</SellerIdNum>
      <SellerName>{e(invoice.seller_name)}</SellerName>
    </SellerInformation>
    <BuyerInformation>
      <BuyerIdNum>{e(invoice.buyer_tax_id)}</BuyerIdNum>
      <BuyerName>{e(invoice.buyer_name)}</BuyerName>
    </BuyerInformation>
    <BasicInformation>
      <TotalAmWithoutTax>{invoice.amount:.2f}</TotalAmWithoutTax>
      <TotalTaxAm>{invoice.tax:.2f}</TotalTaxAm>
      <TotalTax-includedAmount>{invoice.signed_total:.2f}</TotalTax-includedAmount>
      <TotalTax-includedAmountInChinese>{e(_capitals(invoice.signed_total))}</TotalTax-includedAmountInChinese>
      <Drawer>{e(invoice.drawer)}</Drawer>
      <RequestTime>{invoice.issued_on:%Y-%m-%d} 10:30:15</RequestTime>
    </BasicInformation>
    <IssuItemInformation>
      <ItemName>{e(invoice.item_name)}</ItemName>
      <MeaUnits>人</MeaUnits>
      <Quantity>{invoice.quantity}</Quantity>
      <UnPrice>{unit_price:.2f}</UnPrice>
      <Amount>{invoice.amount:.2f}</Amount>
      <TaxRate>{rate}</TaxRate>
      <ComTaxAm>{invoice.tax:.2f}</ComTaxAm>
      <TotaltaxIncludedAmount>{invoice.signed_total:.2f}</TotaltaxIncludedAmount>
    </IssuItemInformation>
    <AdditionalInformation>
      <Remark>{e(invoice.full_remark)}</Remark>
    </AdditionalInformation>
  </EInvoiceData>
  <TaxSupervisionInfo>
    <InvoiceNumber>{invoice.number}</InvoiceNumber>
    <IssueTime>{invoice.issued_on:%Y-%m-%d} 10:30:15</IssueTime>
    <TaxBureauCode>1{invoice.number[2:4]}00000000</TaxBureauCode>
    <TaxBureauName>国家税务总局北京市税务局</TaxBureauName>
  </TaxSupervisionInfo>
</EInvoice>
"""
    return xml.encode("utf-8")


def _capitals(amount: Decimal) -> str:
    text = rmb_capitals(abs(amount)).removeprefix("人民币")
    return ("（负数）" if amount < 0 else "") + text


# --- the printed page: PDF ---------------------------------------------------------------------

def _page_rows(invoice: FakeInvoice) -> list[tuple[float, float, str, float]]:
    """(x mm, y mm from the top, text, size pt) of everything printed on the page; labels and
    values as separate pieces, as the platform's layout draws them."""
    unit_price = (invoice.amount / invoice.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    rows = [
        (70, 14, f"电子发票（{invoice.type_label}）", 16),
        (140, 12, "发票号码：", 9), (156, 12, invoice.number, 9),
        (140, 18, "开票日期：", 9), (156, 18, f"{invoice.issued_on:%Y年%m月%d日}", 9),
        (14, 34, "名称：", 9), (24, 34, invoice.buyer_name, 9),
        (110, 34, "名称：", 9), (120, 34, invoice.seller_name, 9),
        (14, 44, "统一社会信用代码/纳税人识别号：", 9), (62, 44, invoice.buyer_tax_id, 9),
        (110, 44, "统一社会信用代码/纳税人识别号：", 9), (158, 44, invoice.seller_tax_id, 9),
        (14, 56, "项目名称", 9), (60, 56, "规格型号", 9), (80, 56, "单位", 9),
        (92, 56, "数量", 9), (106, 56, "单价", 9), (126, 56, "金额", 9),
        (146, 56, "税率/征收率", 9), (172, 56, "税额", 9),
        (14, 63, invoice.item_name, 9), (80, 63, "人", 9), (92, 63, str(invoice.quantity), 9),
        (106, 63, f"{unit_price:.2f}", 9), (126, 63, f"{invoice.amount:.2f}", 9),
        (146, 63, f"{invoice.tax_rate * 100:.0f}%", 9), (172, 63, f"{invoice.tax:.2f}", 9),
        (14, 92, "合计", 9), (126, 92, f"¥{invoice.amount:.2f}", 9),
        (172, 92, f"¥{invoice.tax:.2f}", 9),
        (14, 100, "价税合计（大写）", 9), (50, 100, "ⓧ" + _capitals(invoice.signed_total), 9),
        (130, 100, "（小写）", 9), (146, 100, f"¥{invoice.signed_total:.2f}", 9),
        (14, 110, "备注", 9), (28, 110, invoice.full_remark, 8),
        (14, 128, "开票人：", 9), (28, 128, invoice.drawer, 9),
    ]
    return rows


def invoice_pdf(invoice: FakeInvoice) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    from confreg.pdf.layout import FONT, register_fonts

    register_fonts()
    width, height = 210 * mm, 140 * mm
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height), invariant=1, initialFontName=FONT)
    canvas.setTitle(f"电子发票 {invoice.number}")
    canvas.setStrokeColorRGB(0.55, 0.35, 0.2)
    canvas.rect(10 * mm, 4 * mm, 190 * mm, 114 * mm)
    canvas.line(10 * mm, (140 - 50) * mm, 200 * mm, (140 - 50) * mm)
    canvas.line(10 * mm, (140 - 28) * mm + 0, 200 * mm, (140 - 28) * mm)
    canvas.setFillColorRGB(0.55, 0.35, 0.2)
    for x, y, text, size in _page_rows(invoice):
        canvas.setFont(FONT, size)
        canvas.drawString(x * mm, height - y * mm, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- the OFD package ---------------------------------------------------------------------------

_OFD_NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def invoice_ofd(invoice: FakeInvoice) -> bytes:
    e = escape
    custom = {"发票号码": invoice.number, "开票日期": f"{invoice.issued_on:%Y年%m月%d日}",
              "购买方纳税人识别号": invoice.buyer_tax_id,
              "销售方纳税人识别号": invoice.seller_tax_id,
              "合计金额": f"{invoice.amount:.2f}", "合计税额": f"{invoice.tax:.2f}"}
    custom_xml = "".join(f'<ofd:CustomData Name="{name}">{e(value)}</ofd:CustomData>'
                         for name, value in custom.items())
    entry = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:OFD {_OFD_NS} Version="1.1" '
             f'DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>{invoice.number}</ofd:DocID>'
             f'<ofd:Creator>全国统一电子发票服务平台</ofd:Creator>'
             f'<ofd:CreationDate>{invoice.issued_on:%Y-%m-%d}</ofd:CreationDate>'
             f'<ofd:CustomDatas>{custom_xml}</ofd:CustomDatas></ofd:DocInfo>'
             f'<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
    document = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Document {_OFD_NS}>'
                '<ofd:CommonData><ofd:MaxUnitID>200</ofd:MaxUnitID><ofd:PageArea>'
                '<ofd:PhysicalBox>0 0 210 140</ofd:PhysicalBox></ofd:PageArea>'
                '<ofd:PublicRes>PublicRes_0.xml</ofd:PublicRes>'
                '<ofd:TemplatePage ID="2" BaseLoc="Tpls/Tpl_0/Content.xml"/></ofd:CommonData>'
                '<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>'
                '</ofd:Document>')
    labels = {"电子发票", "发票号码：", "开票日期：", "名称：", "统一社会信用代码/纳税人识别号：",
              "项目名称", "规格型号", "单位", "数量", "单价", "金额", "税率/征收率", "税额", "合计",
              "价税合计（大写）", "（小写）", "备注", "开票人："}
    template, page = [], []
    for index, (x, y, text, size) in enumerate(_page_rows(invoice), start=10):
        size_mm = round(size * 0.3528, 3)
        piece = (f'<ofd:TextObject ID="{index}" Boundary="{x} {y} {len(text) * size_mm:.2f} '
                 f'{size_mm + 1:.2f}" Font="3" Size="{size_mm}"><ofd:TextCode X="0" '
                 f'Y="{size_mm}">{e(text)}</ofd:TextCode></ofd:TextObject>')
        (template if text in labels or text.startswith("电子发票") else page).append(piece)

    def content(objects: list[str], root: str) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:{root} {_OFD_NS}><ofd:Content>'
                f'<ofd:Layer ID="5">{"".join(objects)}</ofd:Layer></ofd:Content></ofd:{root}>')

    public_res = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Res {_OFD_NS} BaseLoc="Res">'
                  '<ofd:Fonts><ofd:Font ID="3" FontName="宋体" FamilyName="宋体"/></ofd:Fonts>'
                  '</ofd:Res>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("OFD.xml", entry)
        package.writestr("Doc_0/Document.xml", document)
        package.writestr("Doc_0/PublicRes_0.xml", public_res)
        package.writestr("Doc_0/Tpls/Tpl_0/Content.xml", content(template, "Page"))
        package.writestr("Doc_0/Pages/Page_0/Content.xml", content(page, "Page"))
    return buffer.getvalue()


# --- an upload ---------------------------------------------------------------------------------

MAKERS = {"pdf": invoice_pdf, "xml": invoice_xml, "ofd": invoice_ofd}


def invoice_files(invoice: FakeInvoice, kinds: tuple[str, ...] = ("pdf", "xml")
                  ) -> dict[str, bytes]:
    return {file_name(invoice, kind): MAKERS[kind](invoice) for kind in kinds}


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sample() -> list[FakeInvoice]:
    buyer = "青海省西宁市城东区社会工作服务中心"
    blue = FakeInvoice(number=invoice_number(1234567), buyer_name=buyer,
                       buyer_tax_id=credit_code("52630100MJY123456"), total=Decimal("3000.00"),
                       quantity=3, remark="报名编号 K7M2Q9XW；第十一届社会工作年会")
    red = FakeInvoice(number=invoice_number(1234999), buyer_name=buyer,
                      buyer_tax_id=blue.buyer_tax_id, total=Decimal("3000.00"), quantity=3,
                      original_number=blue.number)
    return [blue, red]


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "invoice-samples")
    target.mkdir(parents=True, exist_ok=True)
    for invoice in sample():
        for name, data in invoice_files(invoice, ("pdf", "xml", "ofd")).items():
            (target / name).write_bytes(data)
            print(target / name, len(data), "bytes", datetime.now().strftime("%H:%M:%S"))
