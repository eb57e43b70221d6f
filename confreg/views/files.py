"""Serving a stored upload: one response for the staff desk, the reviewers, the unit's page
and a case's private link. Who may fetch which file is each caller's check, not this one's."""
import re
import unicodedata
from collections.abc import Collection
from urllib.parse import quote

from flask import abort, current_app, make_response

from ..models import StoredFile, Submission
from ..services.uploads import IMAGE_KINDS, MIME_TYPES, read_file

ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')


def set_download_name(response, disposition: str, filename: str, fallback: str = "download"):
    """Content-Disposition for `filename` (stem + extension): quoted by werkzeug for old
    browsers (an ASCII stand-in) and in full as RFC 5987 filename* (Chinese, spaces and all)."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    suffix = f".{ASCII_UNSAFE.sub('', extension)}" if extension else ""
    name = NAME_UNSAFE.sub("_", stem).strip(" .") or fallback
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    simple = re.sub(r"_+", "_", ASCII_UNSAFE.sub("_", simple)).strip("_.") or fallback
    response.headers.set("Content-Disposition", disposition, filename=f"{simple}{suffix}",
                         **{"filename*": f"UTF-8''{quote(name + suffix, safe='')}"})
    return response


def stored_file_response(stored: StoredFile, download_name_stem: str, *,
                         inline: Collection[str] = IMAGE_KINDS):
    """The file typed by its checked content, shown in the browser if its kind is in `inline`,
    else downloaded; named by its original name (RFC 5987) or, for old browsers, by the stem."""
    try:
        data = read_file(stored)
    except FileNotFoundError:
        # The row outlived its bytes (a restore without the uploads folder): say so, no 500.
        current_app.logger.error("stored file %s (%s) is missing on disk", stored.id, stored.sha256)
        abort(404)
    response = make_response(data)
    response.headers["Content-Type"] = MIME_TYPES.get(stored.kind, "application/octet-stream")
    ascii_name = ASCII_UNSAFE.sub("_", f"{download_name_stem}.{stored.extension}")
    name = NAME_UNSAFE.sub("_", stored.original_name or "").strip(" .")
    extensions = (".jpg", ".jpeg") if stored.kind == "jpeg" else (f".{stored.extension}",)
    if not name.lower().endswith(extensions):
        name = f"{name or download_name_stem}.{stored.extension}"
    disposition = "inline" if stored.kind in inline else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def submission_file_response(submission: Submission, file_id: int, *,
                             inline: Collection[str] = IMAGE_KINDS):
    """One of the submission's files (any version, any attachment, replaced ones too), or 404."""
    stored = submission.files.get(file_id)
    if stored is None:
        abort(404)
    version = next((v for v in submission.versions if v.file_id == file_id), None)
    stem = f"{submission.code}-v{version.number}" if version else f"{submission.code}-{file_id}"
    return stored_file_response(stored, stem, inline=inline)
