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
