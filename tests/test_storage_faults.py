"""The upload folder full or read-only: the unit is told so beside the file field, the form
comes back with what was typed, and nothing is half-saved (no file row, no submission, no
partial file in the folder).

The folder is a real tmpfs mounted here, filled to the last byte or remounted read-only -- root ignores chmod, not a read-only mount. Where mounting is not
allowed, the write is made to fail the same way (half the bytes, then ENOSPC; EROFS)."""
import errno
import os
import re
import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from confreg.extensions import db
from confreg.models import OutboundMail, StoredFile, Submission
from confreg.services import uploads
from tests.test_admin_registrations import new_event, register
from tests.test_cases import TITLE, case_data, new_call, post_case
from tests.test_materials import upload

FULL = "服务器存储空间已满"
READ_ONLY = "服务器存储暂时不可写入"
NOT_SENT = "您填写的内容没有提交成功"
FILLER = "filler"  # what fills the volume, not an upload


def _mount(path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def _unmount(path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(path) -> None:
    """Write until the volume is full: even a small photo no longer fits."""
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 1024)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error


class _HalfThenFull:
    """A file that takes half of what is written, then reports the disk full."""

    def __init__(self, raw):
        self.raw = raw

    def write(self, data):
        self.raw.write(data[: len(data) // 2])
        self.raw.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.raw.close()


def _storage(app, tmp_path, monkeypatch, state: str):
    folder = tmp_path / f"uploads-{uuid.uuid4().hex[:6]}"
    real = _mount(folder, "size=8k,mode=0755")
    try:
        if real and state == "full":
            _fill(folder / FILLER)
        if real and state == "read-only":
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True,
                           capture_output=True)
    except BaseException:
        _unmount(folder)
        raise
    if not real:
        folder.mkdir(exist_ok=True)
        if state == "full":
            fdopen = os.fdopen
            monkeypatch.setattr(uploads.os, "fdopen",
                                lambda fd, mode="r": _HalfThenFull(fdopen(fd, mode)))
        else:
            def refuse(*args, **kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            monkeypatch.setattr(uploads.tempfile, "mkstemp", refuse)
            monkeypatch.setattr(uploads.Path, "mkdir", refuse)
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(folder))
    return folder, real


@pytest.fixture(params=["full", "read-only"])
def bad_storage(request, app, tmp_path, monkeypatch):
    """The upload folder full or read-only: (state, folder, message the user should see)."""
    folder, real = _storage(app, tmp_path, monkeypatch, request.param)
    try:
        yield request.param, folder, FULL if request.param == "full" else READ_ONLY
    finally:
        monkeypatch.undo()
        if real:
            _unmount(folder)


def files_in(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != FILLER)


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    return match.group(1) if match else ""


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_material_upload_the_folder_cannot_take_is_refused_beside_the_file_field(
        app, client, bad_storage):
    state, folder, message = bad_storage
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    mails_before = count(app, OutboundMail)

    response = upload(client, unit.token, title="物业服务融入社区治理的西宁经验",
                      authors="马晓明、王芳")

    assert response.status_code == 422, response.status_code
    beside = field_error(response.text, "file")
    assert message in beside and NOT_SENT in beside
    assert "物业服务融入社区治理的西宁经验" in response.text  # what was typed comes back
    assert "马晓明、王芳" in response.text
    assert "Traceback" not in response.text
    assert count(app, Submission) == 0
    assert count(app, StoredFile) == 0
    assert count(app, OutboundMail) == mails_before  # no "材料已收到" mail either
    assert files_in(folder) == []  # no half-written draft left behind


def test_a_case_whose_files_the_folder_cannot_take_comes_back_with_what_was_typed(
        app, client, bad_storage):
    state, folder, message = bad_storage
    call = new_call(app)

    response = post_case(client, call, case_data())

    assert response.status_code == 422, response.status_code
    for slot in ("text_docx", "text_pdf", "application_form", "photo_1"):
        assert message in field_error(response.text, slot), slot
    assert TITLE in response.text and "李秀兰" in response.text
    assert "Traceback" not in response.text
    assert count(app, Submission) == 0
    assert count(app, StoredFile) == 0
    assert files_in(folder) == []


def test_once_the_folder_takes_files_again_the_same_upload_succeeds(app, client, tmp_path,
                                                                    monkeypatch):
    event = new_event(app)
    unit = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟"])
    folder, real = _storage(app, tmp_path, monkeypatch, "full")
    try:
        assert upload(client, unit.token).status_code == 422
    finally:
        monkeypatch.undo()
        if real:
            _unmount(folder)
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "roomy"))

    response = upload(client, unit.token)

    assert response.status_code == 302
    assert count(app, StoredFile) == 1
    assert len(files_in(tmp_path / "roomy")) == 1
