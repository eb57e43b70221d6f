"""Uploads are judged by what they contain: the right files pass, anything else is refused
with a message that says what to send instead."""
import io
import zipfile

import docx
import pytest
from PIL import Image
from reportlab.pdfgen import canvas
from werkzeug.datastructures import FileStorage

from confreg.services.uploads import (DOCUMENT_KINDS, IMAGE_KINDS, UploadRefused, check_upload,
                                      count_chinese, extract_text, read_file, sniff_kind,
                                      store_file)


def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


def word_file(*paragraphs: str, heading: str | None = None) -> bytes:
    document = docx.Document()
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_file(pages: int = 1) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    for number in range(pages):
        page.drawString(72, 720, f"page {number + 1}")
        page.showPage()
    page.save()
    return out.getvalue()


def image_file(fmt: str = "PNG", size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def test_count_chinese_counts_han_characters_only():
    assert count_chinese("社区物业，Property 2024 年！") == 5
    assert count_chinese("") == 0
    assert count_chinese("㐀𠀀") == 2  # extension A and B count too


@pytest.mark.parametrize("data,kind", [
    (b"%PDF-1.7\n", "pdf"), (b"\x89PNG\r\n\x1a\n....", "png"), (b"\xff\xd8\xff\xe0..", "jpeg"),
    (b"MZ\x90\x00", None), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", None), (b"hello", None),
])
def test_sniff_kind_reads_the_first_bytes(data, kind):
    assert sniff_kind(data) == kind


def test_a_zip_that_is_not_a_word_file_is_not_docx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "不是文档")
    assert sniff_kind(out.getvalue()) is None
    assert sniff_kind(word_file("正文")) == "docx"


def test_a_renamed_exe_is_refused_whatever_its_name(app_ctx):
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(b"MZ\x90\x00" + b"\x00" * 500, "交流材料.docx"),
                     allowed=DOCUMENT_KINDS, field="file", label="材料文件")
    assert "可执行程序" in refused.value.message
    assert refused.value.field == "file"


def test_an_old_doc_file_is_refused_with_how_to_fix_it(app_ctx):
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "材料.doc"),
                     allowed=DOCUMENT_KINDS, field="file")
    assert "另存为 .docx" in refused.value.message


def test_a_photo_is_refused_where_a_document_is_wanted(app_ctx):
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(image_file(), "材料.pdf"), allowed=DOCUMENT_KINDS, field="file")
    assert "PNG" in refused.value.message


def test_a_file_over_the_limit_is_refused(app_ctx):
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(pdf_file() + b"\x00" * 2048, "a.pdf"), allowed=DOCUMENT_KINDS,
                     field="file", max_bytes=1024)
    assert "超过" in refused.value.message


def test_an_empty_or_missing_file_is_refused(app_ctx):
    for storage in (None, upload(b"", "a.pdf"), FileStorage(stream=io.BytesIO(b""), filename="")):
        with pytest.raises(UploadRefused):
            check_upload(storage, allowed=DOCUMENT_KINDS, field="file")


def test_a_truncated_pdf_that_cannot_be_read_is_refused(app_ctx):
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(b"%PDF-1.7\n%garbage only", "a.pdf"), allowed=DOCUMENT_KINDS,
                     field="file")
    assert "损坏" in refused.value.message


def test_a_word_file_with_macros_is_refused(app_ctx):
    source = zipfile.ZipFile(io.BytesIO(word_file("正文")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            archive.writestr(item, source.read(item))
        archive.writestr("word/vbaProject.bin", b"\x00" * 64)
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(out.getvalue(), "a.docx"), allowed=DOCUMENT_KINDS, field="file")
    assert "宏" in refused.value.message


def test_a_corrupt_image_is_refused(app_ctx):
    data = image_file("JPEG")[:40]
    with pytest.raises(UploadRefused):
        check_upload(upload(data, "p.jpg"), allowed=IMAGE_KINDS, field="photo")
    data, kind = check_upload(upload(image_file("JPEG"), "p.jpg"), allowed=IMAGE_KINDS,
                              field="photo")
    assert kind == "jpeg"


def test_word_text_keeps_headings_paragraphs_and_table_rows():
    data = word_file("一、背景：小区共有居民三千户。", "二、做法：成立业主委员会。",
                     heading="物业管理服务创新")
    extracted = extract_text(data, "docx")
    assert extracted.paragraphs[0] == {"kind": "heading", "level": 1, "text": "物业管理服务创新"}
    assert [p["kind"] for p in extracted.paragraphs] == ["heading", "p", "p"]
    assert extracted.char_count == count_chinese("物业管理服务创新一、背景：小区共有居民三千户。"
                                                 "二、做法：成立业主委员会。")


def test_pdf_text_is_read_page_by_page():
    extracted = extract_text(pdf_file(pages=3), "pdf")
    assert extracted.page_count == 3
    assert [p["text"] for p in extracted.paragraphs] == ["page 1", "page 2", "page 3"]


def test_a_stored_file_is_written_once_under_its_hash_and_read_back(app_ctx):
    from confreg.database import begin_write
    from confreg.extensions import db

    data = pdf_file()
    begin_write(db.session)
    first = store_file(data, "pdf", "甲.pdf")
    second = store_file(data, "pdf", "乙.pdf")
    db.session.commit()
    assert first.sha256 == second.sha256 and first.id != second.id
    assert read_file(first) == data
    assert (first.original_name, second.original_name) == ("甲.pdf", "乙.pdf")


def docx_with_document_xml_of(megabytes: int) -> bytes:
    """A real .docx whose text XML unpacks to `megabytes` MB but weighs a few hundred KB."""
    source = zipfile.ZipFile(io.BytesIO(word_file("正文")))
    xml = source.read("word/document.xml").decode()
    paragraph = "<w:p><w:r><w:t>" + "汉" * 1000 + "</w:t></w:r></w:p>"
    body = paragraph * (megabytes * 1024 * 1024 // len(paragraph.encode()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            content = (xml.replace("<w:body>", "<w:body>" + body, 1)
                       if item.filename == "word/document.xml" else source.read(item))
            archive.writestr(item.filename, content)
    return out.getvalue()


def test_a_word_file_that_unpacks_to_a_huge_text_is_refused_before_it_is_read(app_ctx):
    bomb = docx_with_document_xml_of(12)
    assert len(bomb) < 1024 * 1024  # small enough to pass the size limit
    with pytest.raises(UploadRefused) as refused:
        check_upload(upload(bomb, "a.docx"), allowed=DOCUMENT_KINDS, field="file")
    assert "解压后过大" in refused.value.message
    data, kind = check_upload(upload(docx_with_document_xml_of(1), "a.docx"),
                              allowed=DOCUMENT_KINDS, field="file")
    assert kind == "docx"


def test_a_long_text_is_kept_only_up_to_the_limit_and_says_so(monkeypatch):
    from confreg.services import uploads

    monkeypatch.setattr(uploads, "MAX_TEXT_CHARS", 50)
    extracted = extract_text(word_file("社" * 30, "区" * 30, "治" * 30), "docx")
    assert [p["text"] for p in extracted.paragraphs][:1] == ["社" * 30]
    assert "以下从略" in extracted.paragraphs[-1]["text"]
    assert extracted.char_count < 90


def pdf_with_page(mediabox: str, text: str = "abc") -> bytes:
    """A hand-written one-page PDF (ReportLab would not write these oddities)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox {mediabox} /Contents 4 0 R "
        f"/Resources << /Font << /F1 5 0 R >> >> >>".encode(),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_a_pdf_whose_page_has_no_size_is_refused(app_ctx):
    assert check_upload(upload(pdf_with_page("[0 0 595 842]"), "a.pdf"),
                        allowed=DOCUMENT_KINDS, field="file")[1] == "pdf"
    for box in ("[0 0 0 0]", "[0 0 595 0]", "[0 0 99999 842]"):
        with pytest.raises(UploadRefused) as refused:
            check_upload(upload(pdf_with_page(box), "a.pdf"), allowed=DOCUMENT_KINDS, field="file")
        assert "页面尺寸" in refused.value.message


def test_control_characters_in_a_pdf_text_are_dropped():
    extracted = extract_text(pdf_with_page("[0 0 595 842]", text="abc\\001def\\000ghi"), "pdf")
    assert extracted.paragraphs[0]["text"] == "abcdefghi"


def test_a_stored_name_loses_control_characters_and_folders(app_ctx):
    from confreg.database import begin_write
    from confreg.extensions import db

    begin_write(db.session)
    stored = store_file(pdf_file(), "pdf", "..\\..\\etc/a\r\nX-Evil: 1\x00.pdf")
    db.session.commit()
    assert stored.original_name == "a  X-Evil: 1.pdf"


def test_uploads_no_submission_uses_are_pruned_after_a_day(app, app_ctx):
    import os
    from datetime import timedelta

    from confreg.database import begin_write, utcnow
    from confreg.extensions import db
    from confreg.models import StoredFile, Submission, SubmissionAttachment
    from confreg.services.uploads import file_path
    from tests.conftest import make_event

    event = make_event(kind="call")
    begin_write(db.session)
    old_orphan = store_file(pdf_file(pages=2), "pdf", "没交的申报.pdf")
    fresh_orphan = store_file(pdf_file(pages=3), "pdf", "正在填写.pdf")
    used = store_file(image_file(), "png", "照片.png")
    submission = Submission(event_id=event.id, kind="case", code="CTEST001", unit_name="甲单位",
                            unit_name_key="甲单位", title="案例")
    submission.attachments.append(SubmissionAttachment(role="photo", file_id=used.id))
    db.session.add(submission)
    two_days_ago = utcnow() - timedelta(days=2)
    old_orphan.created_at = used.created_at = two_days_ago
    db.session.commit()
    for stored in (old_orphan, used):
        os.utime(file_path(stored), (two_days_ago.timestamp(), two_days_ago.timestamp()))
    paths = {name: file_path(stored) for name, stored in
             (("old", old_orphan), ("fresh", fresh_orphan), ("used", used))}

    result = app.test_cli_runner().invoke(args=["uploads", "prune"])
    assert result.exit_code == 0, result.output
    assert "1 条记录，1 个文件" in result.output
    db.session.expire_all()
    names = set(db.session.scalars(db.select(StoredFile.original_name)))
    assert names == {"正在填写.pdf", "照片.png"}
    assert not paths["old"].exists() and paths["fresh"].exists() and paths["used"].exists()


def test_pruning_spares_the_bytes_of_an_old_file_uploaded_again(app, app_ctx):
    import os
    from datetime import timedelta

    from confreg.database import begin_write, utcnow
    from confreg.extensions import db
    from confreg.services.uploads import file_path, prune_unattached

    data = pdf_file(pages=4)
    begin_write(db.session)
    orphan = store_file(data, "pdf", "旧的.pdf")
    two_days_ago = utcnow() - timedelta(days=2)
    orphan.created_at = two_days_ago
    db.session.commit()
    os.utime(file_path(orphan), (two_days_ago.timestamp(), two_days_ago.timestamp()))

    begin_write(db.session)
    again = store_file(data, "pdf", "又传了一次.pdf")  # same bytes, a form in progress
    db.session.commit()
    begin_write(db.session)
    rows, files = prune_unattached(timedelta(days=1))
    db.session.commit()
    assert rows == 1  # the old row goes (other tests' aged files may go too) ...
    assert read_file(again) == data  # ... the bytes stay for the new one
