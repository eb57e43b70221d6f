"""Uploaded files: checked by what they contain (not by their name), limited in size,
stored on disk under their SHA-256, and read back as text.

A .docx is a zip holding word/document.xml that python-docx can open; a PDF starts
with %PDF- and pypdf can read its pages; a photo is a JPEG or PNG that Pillow decodes.
Anything else -- a renamed .exe, an old .doc, a macro document -- is refused with a
message that says what to send instead.
"""
import errno
import hashlib
import io
import os
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select, union
from werkzeug.datastructures import FileStorage

from ..checks import strip_control_chars
from ..database import begin_write, utcnow
from ..extensions import db
from ..models import StoredFile
from . import ServiceError

DOCUMENT_KINDS = frozenset({"docx", "pdf"})
IMAGE_KINDS = frozenset({"jpeg", "png"})
SCAN_KINDS = frozenset({"pdf", "jpeg", "png"})  # a stamped form: scanned or photographed
KIND_NAMES = {"docx": "Word（.docx）", "pdf": "PDF", "jpeg": "JPG", "png": "PNG"}
MIME_TYPES = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              "pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png",
              # issued e-invoices (their files are never shown inline) and their zips
              "ofd": "application/ofd", "xml": "application/xml", "zip": "application/zip",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

# A .docx unpacks to more than it weighs. Its pictures are already compressed, so the whole
# may unpack to a few times its size; its text (word/document.xml) to far less than this --
# a 3000-character text is well under 1 MB of XML. Larger is a zip bomb, not a material.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_DOCUMENT_XML_BYTES = 8 * 1024 * 1024
# What is kept of a text: far beyond any material, short of what a page can show.
MAX_TEXT_CHARS = 300_000
# A PDF page larger than this (in points, ~3.5 m) or of no size is not a document page.
MAX_PDF_PAGE_POINTS = 10_000
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


class UploadRefused(ServiceError):
    """The file is not one we take; the message says why and what to send instead."""


def count_chinese(text: str) -> int:
    """Count the Chinese characters (汉字) in a text, as the notices' "3000 字" means."""
    return len(HAN.findall(text))


def sniff_kind(data: bytes) -> str | None:
    """What a file is by its first bytes (and, for a zip, what it holds)."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return "docx"
    return None


def _what(allowed: frozenset) -> str:
    """What a field takes, in words: 文档, 图片, PDF 文件或图片 (a stamped form)..."""
    names = []
    if allowed & DOCUMENT_KINDS:
        names.append("文档" if "docx" in allowed else " PDF 文件")  # 不是 PDF 文件
    if allowed & IMAGE_KINDS:
        names.append("图片")
    return "或".join(names) or "可接受的文件"


def _describe(data: bytes, allowed: frozenset) -> str:
    what = _what(allowed)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        if "docx" in allowed:
            return "这是旧版 Word（.doc）或其他 Office 旧格式文件，请在 Word/WPS 中另存为 .docx 后上传。"
        return f"这是 Office 旧格式文件（如 .doc），不是{what}。"
    if data.startswith(b"MZ") or data.startswith(b"\x7fELF"):
        return f"这是可执行程序，不是{what}，已拒收。"
    if data.startswith(b"Rar!") or data.startswith(b"PK\x03\x04"):
        return f"这是压缩包，请上传{what}本身。"
    return "无法识别的文件内容。"


def check_upload(storage: FileStorage | None, *, allowed: frozenset, field: str,
                 max_bytes: int | None = None, label: str = "文件") -> tuple[bytes, str]:
    """Read an uploaded file and check it by content and size: (bytes, kind) or refuse."""
    if storage is None or not storage.filename:
        raise UploadRefused(f"请选择要上传的{label}。", field)
    if max_bytes is None:
        max_bytes = current_app.config["MAX_IMAGE_BYTES" if allowed <= IMAGE_KINDS
                                       else "MAX_DOCUMENT_BYTES"]
    data = storage.stream.read(max_bytes + 1)
    if not data:
        raise UploadRefused(f"{label}是空的，请重新选择。", field)
    if len(data) > max_bytes:
        raise UploadRefused(f"{label}超过 {max_bytes // (1024 * 1024)} MB，请压缩后再上传。", field)
    wanted = "、".join(KIND_NAMES[k] for k in sorted(allowed, key=list(KIND_NAMES).index))
    kind = sniff_kind(data)
    if kind is None:
        raise UploadRefused(f"{label}只接受 {wanted} 格式：{_describe(data, allowed)}", field)
    if kind not in allowed:
        raise UploadRefused(f"{label}只接受 {wanted} 格式，您上传的是 {KIND_NAMES[kind]}。", field)
    _check_opens(data, kind, field, label)
    return data, kind


def _check_opens(data: bytes, kind: str, field: str, label: str) -> None:
    # The first bytes can lie; the file must also open as what it claims to be.
    try:
        if kind == "docx":
            archive = zipfile.ZipFile(io.BytesIO(data))
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES \
                    or archive.getinfo("word/document.xml").file_size > MAX_DOCUMENT_XML_BYTES:
                raise UploadRefused(f"{label}解压后过大，不像正常的 Word 文档。", field)
            if any(name.lower().endswith("vbaproject.bin") for name in archive.namelist()):
                raise UploadRefused(f"{label}含有宏，请另存为普通 .docx 后上传。", field)
            import docx

            docx.Document(io.BytesIO(data))
        elif kind == "pdf":
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UploadRefused(f"{label}设有密码，请上传未加密的 PDF。", field)
            if len(reader.pages) == 0:
                raise UploadRefused(f"{label}没有页面。", field)
            for page in reader.pages:
                sizes = [float(page.mediabox.width), float(page.mediabox.height),
                         float(page.cropbox.width), float(page.cropbox.height)]
                if not all(0 < abs(size) <= MAX_PDF_PAGE_POINTS for size in sizes):
                    raise UploadRefused(f"{label}的页面尺寸异常，请另存为标准 PDF 后上传。", field)
        else:
            from PIL import Image

            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as image:
                    image.verify()
    except UploadRefused:
        raise
    except Exception:  # noqa: BLE001 -- any parser failure means a damaged file
        raise UploadRefused(f"{label}已损坏或无法打开，请检查后重新上传。", field) from None


def upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def file_path(stored: StoredFile) -> Path:
    return upload_dir() / stored.sha256[:2] / stored.sha256


def read_file(stored: StoredFile) -> bytes:
    return file_path(stored).read_bytes()


class UploadNotStored(UploadRefused):
    """The file was fine but the upload folder could not take it (full, read-only, gone)."""


# What the user is told when the folder refuses a write; the errno goes to the log.
STORAGE_TROUBLE = {errno.ENOSPC: "服务器存储空间已满", errno.EDQUOT: "服务器存储空间已满",
                   errno.EROFS: "服务器存储暂时不可写入", errno.EACCES: "服务器存储暂时不可写入",
                   errno.EPERM: "服务器存储暂时不可写入"}


def store_file(data: bytes, kind: str, original_name: str = "", *, field: str = "file",
               label: str = "文件") -> StoredFile:
    """Write the bytes under their hash (once) and add the row; the caller holds the write.

    If the folder cannot take them, nothing is left behind (no row, no partial file) and
    UploadNotStored names the form field to show it beside."""
    digest = hashlib.sha256(data).hexdigest()
    target = upload_dir() / digest[:2] / digest
    try:
        _write_once(target, data)
    except OSError as error:
        current_app.logger.error("upload not stored in %s: %s", upload_dir(), error)
        trouble = STORAGE_TROUBLE.get(error.errno, "服务器暂时无法保存文件")
        raise UploadNotStored(f"{label}未能保存：{trouble}。您填写的内容没有提交成功，"
                              "请稍后重试；如仍不成功请联系会务组。", field) from None
    # The name is shown and sent back in headers: no control characters, no folders.
    name = strip_control_chars(re.sub(r"[\r\n\t]", " ", original_name or ""))
    name = re.split(r"[\\/]", name)[-1].strip()
    stored = StoredFile(sha256=digest, size=len(data), kind=kind, original_name=name[-200:])
    db.session.add(stored)
    db.session.flush()
    return stored


def _write_once(target: Path, data: bytes) -> None:
    try:
        # Already there: touch it, since pruning spares files younger than its cutoff and
        # this one is in use again.
        os.utime(target)
        return
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write aside, then rename: another process never sees half a file.
    fd, draft = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(draft, target)
    except BaseException:
        Path(draft).unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise


def save_upload(storage: FileStorage | None, *, allowed: frozenset, field: str,
                label: str = "文件", max_bytes: int | None = None) -> StoredFile:
    """Check an upload and store it."""
    data, kind = check_upload(storage, allowed=allowed, field=field, label=label,
                              max_bytes=max_bytes)
    return store_file(data, kind, storage.filename, field=field, label=label)


def _file_references():
    """A SELECT of the stored_file ids of every column that refers to one: submissions,
    bank statements, issued invoices, mail attachments... found from the foreign keys, so a
    new kind of file is never pruned by an oversight."""
    table = StoredFile.__table__
    for referring in db.metadata.sorted_tables:
        for key in referring.foreign_keys:
            if key.column.table is table:
                yield select(key.parent).where(key.parent.is_not(None))


def prune_unattached(older_than: timedelta) -> tuple[int, int]:
    """Forget uploads no submission uses, older than `older_than`: files kept for a form that
    was never sent (the case form stores valid files at once, so nothing is chosen twice).
    Returns (rows deleted, files removed from disk)."""
    cutoff = utcnow() - older_than
    begin_write(db.session)
    used = union(*_file_references())
    orphans = db.session.scalars(select(StoredFile).where(StoredFile.created_at < cutoff,
                                                          StoredFile.id.not_in(used))).all()
    for stored in orphans:
        db.session.delete(stored)
    db.session.flush()
    kept = set(db.session.scalars(select(StoredFile.sha256)))
    removed = 0
    root = upload_dir()
    if root.is_dir():
        for path in root.glob("??/*"):
            # A file younger than the cutoff may belong to an upload not yet committed.
            if path.name not in kept and not path.name.startswith(".") \
                    and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
                removed += 1
    return len(orphans), removed


@dataclass
class ExtractedText:
    paragraphs: list[dict] = field(default_factory=list)
    char_count: int = 0
    page_count: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(p["text"] for p in self.paragraphs)


def extract_text(data: bytes, kind: str) -> ExtractedText:
    """The text of a Word or PDF file: Word keeps paragraphs and headings, PDF its pages."""
    if kind == "docx":
        paragraphs = _docx_paragraphs(data)
        result = ExtractedText(paragraphs=paragraphs)
    elif kind == "pdf":
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = []
        for page in reader.pages:
            try:
                pages.append({"kind": "page", "text": (page.extract_text() or "").strip()})
            except Exception:  # noqa: BLE001 -- a page pypdf cannot read has no text for us
                pages.append({"kind": "page", "text": ""})
        result = ExtractedText(paragraphs=pages, page_count=len(pages))
    else:
        raise ValueError(f"no text in a {kind} file")
    result.paragraphs = _bounded(result.paragraphs)
    result.char_count = count_chinese(result.text)
    return result


def _bounded(paragraphs: list[dict]) -> list[dict]:
    """Drop characters XML cannot carry; stop at MAX_TEXT_CHARS, saying so."""
    kept, total = [], 0
    for block in paragraphs:
        text = strip_control_chars(block["text"])
        if total + len(text) > MAX_TEXT_CHARS:
            kept.append({"kind": "p", "text": "（正文过长，以下从略，请阅读原文件。）"})
            break
        total += len(text)
        kept.append({**block, "text": text})
    return kept


def _heading_level(paragraph) -> int | None:
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() == "title" or name == "标题":
            return 1
        match = HEADING_STYLE.match(name)
        if match:
            return max(1, min(int(match.group(1)), 3))
        style = style.base_style
    outline = paragraph._p.find(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl")
    if outline is not None:
        value = outline.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")
        if value is not None and value.isdigit() and int(value) < 9:
            return max(1, min(int(value) + 1, 3))
    return None


def _docx_paragraphs(data: bytes) -> list[dict]:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    paragraphs: list[dict] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = []
                for cell in row.cells:
                    value = cell.text.strip()
                    if value and (not cells or cells[-1] != value):  # merged cells repeat
                        cells.append(value)
                if cells:
                    paragraphs.append({"kind": "p", "text": "　".join(cells)})
            continue
        value = block.text.strip()
        if not value:
            continue
        level = _heading_level(block)
        if level is not None:
            paragraphs.append({"kind": "heading", "level": level, "text": value})
        else:
            paragraphs.append({"kind": "p", "text": value})
    return paragraphs
