"""Backups that restore: `flask backup create` on the running app, then `flask backup restore`
into a new database and an empty upload folder finds every registration, attendee, payment,
receipt and file again, byte for byte. A damaged backup, an archive that would write outside
the folder and a non-empty database without --yes are refused before anything is touched."""
import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from config import TestConfig
from confreg import create_app
from confreg.extensions import db
from confreg.models import Attendee, Payment, Receipt, Registration, StoredFile
from confreg.services.finance import PaymentDetails, record_payment
from confreg.services.uploads import file_path
from confreg.timeutil import china_today
from tests.conftest import _postgres_url
from tests.test_admin_registrations import new_event, register
from tests.test_cases import new_call, submitted
from tests.test_materials import PDF, WORD, upload

ACTOR = "财务 测试（cw@example.cn）"


# --- what there is to find again ------------------------------------------------------------

def pay(app, registration_id: int, amount: str, reference: str) -> None:
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        record_payment(registration, PaymentDetails(amount=Decimal(amount),
                                                    received_on=china_today(),
                                                    payer_name="西宁市城东区财政局",
                                                    bank_reference=reference), actor=ACTOR)
        db.session.commit()


@pytest.fixture
def filled(app, client):
    """Three registrations, four payments, two receipts, two materials and a case with photos."""
    event = new_event(app)
    paid = register(app, event.id, "西宁市城东区东关大街街道办事处", ["张伟", "王芳"])
    twice = register(app, event.id, "昆明市五华区华山街道办事处", ["李娜"])
    owing = register(app, event.id, "北京市朝阳区六里屯街道办事处", ["刘洋", "陈静", "杨磊"])
    pay(app, paid.id, "7160", "B2026001")
    pay(app, twice.id, "1000", "B2026002")
    pay(app, twice.id, "2580", "B2026003")
    pay(app, owing.id, "3580.50", "B2026004")
    assert upload(client, paid.token, data=WORD, name="交流材料.docx").status_code == 302
    assert upload(client, twice.token, data=PDF, name="华山街道.pdf").status_code == 302
    submitted(client, new_call(app))
    return snapshot(app)


def snapshot(app) -> dict:
    """Everything the test expects to find again, read from the app's database and folder."""
    with app.app_context():
        registrations = {r.code: (r.unit_name, r.total_amount, r.status)
                         for r in db.session.scalars(select(Registration))}
        attendees = sorted((a.registration.code, a.name, a.mobile)
                           for a in db.session.scalars(select(Attendee)))
        payments = sorted((p.registration.code, p.amount, p.bank_reference)
                          for p in db.session.scalars(select(Payment)))
        receipts = sorted((r.number, r.registration.code, r.total, r.status, r.payer_name)
                          for r in db.session.scalars(select(Receipt)))
        stored = sorted((f.sha256, f.size, f.kind, f.original_name)
                        for f in db.session.scalars(select(StoredFile)))
        on_disk = {f.sha256: sha256(file_path(f)) for f in db.session.scalars(select(StoredFile))}
        db.session.remove()
    return dict(registrations=registrations, attendees=attendees, payments=payments,
                receipts=receipts, stored=stored, on_disk=on_disk,
                folder=folder_hashes(Path(app.config["UPLOAD_DIR"])))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file()} if root.is_dir() else {}


# --- a second installation, empty ---------------------------------------------------------

@pytest.fixture
def fresh(tmp_path):
    """A second app on a new database (an SQLite file not yet made, or a PostgreSQL database
    created here and dropped after) and an upload folder that does not exist yet."""
    base = _postgres_url()
    name = f"confreg_restore_{uuid.uuid4().hex[:8]}"
    if base is None:
        url = f"sqlite:///{tmp_path / 'restored' / 'confreg.db'}"
    else:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.rsplit("/", 1)[0] + "/" + name
    target = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url,
                        UPLOAD_DIR=str(tmp_path / "restored" / "uploads"),
                        WORKER_BROKER_URL=f"sqlite:///{tmp_path / 'q.db'}")
    try:
        yield target
    finally:
        with target.app_context():
            db.session.remove()
            db.engine.dispose()
        if base is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def tables_in(app) -> list[str]:
    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and \
                not Path(db.engine.url.database).exists():
            return []
        with db.engine.connect() as connection:
            names = inspect(connection).get_table_names()
        db.engine.dispose()
        return names


def flask(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def back_up(app, output: Path, *extra: str) -> Path:
    result = flask(app, "backup", "create", "--output", str(output), *extra)
    assert result.exit_code == 0, result.output
    assert "已备份到" in result.output
    (made,) = [p for p in output.iterdir() if p.name.startswith("confreg-backup-")]
    return made


# --- the round trip -----------------------------------------------------------------------

@pytest.mark.parametrize("as_tar", [False, True], ids=["folder", "tar"])
def test_a_backup_restores_into_a_new_database_and_folder_with_every_row_and_file(
        app, filled, fresh, tmp_path, as_tar):
    backup = back_up(app, tmp_path / "backups", *(["--tar"] if as_tar else []))
    assert backup.is_file() == as_tar
    assert tables_in(fresh) == [] and not Path(fresh.config["UPLOAD_DIR"]).exists()

    result = flask(fresh, "backup", "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"已恢复：报名 3 条，付款 4 条，收据 2 条，文件 {len(filled['folder'])} 个" \
        in result.output

    restored = snapshot(fresh)
    assert len(filled["registrations"]) == 3 and len(filled["attendees"]) == 6
    assert sorted(p[1] for p in filled["payments"]) == \
        [Decimal("1000.00"), Decimal("2580.00"), Decimal("3580.50"), Decimal("7160.00")]
    assert len(filled["receipts"]) == 2 and len(filled["stored"]) >= 8
    for part in ("registrations", "attendees", "payments", "receipts", "stored"):
        assert restored[part] == filled[part], part
    # Every file a row names is in the new folder under its hash, and the folder is the same.
    assert restored["on_disk"] == {digest: digest for digest in filled["on_disk"]}
    assert restored["folder"] == filled["folder"]


def test_the_restored_installation_carries_on_numbering_receipts(app, filled, fresh, tmp_path):
    backup = back_up(app, tmp_path / "backups")
    assert flask(fresh, "backup", "restore", str(backup)).exit_code == 0
    latest = max(number for number, *_ in filled["receipts"])

    with fresh.app_context():
        event_id = db.session.scalar(select(Registration.event_id))
    late = register(fresh, event_id, "西宁市城中区人民街街道办事处", ["赵敏"])
    pay(fresh, late.id, "3580", "B2026005")

    with fresh.app_context():
        receipt = db.session.scalar(select(Receipt).where(Receipt.registration_id == late.id))
        assert receipt.number > latest and receipt.sequence == len(filled["receipts"]) + 1


def test_the_manifest_names_the_revision_the_counts_and_every_file(app, filled, tmp_path):
    backup = back_up(app, tmp_path / "backups")
    manifest = json.loads((backup / "manifest.json").read_text())
    with app.app_context():
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        db.session.remove()

    assert manifest["alembic_revision"] == revision
    assert manifest["database"]["kind"] == ("postgresql" if _postgres_url() else "sqlite")
    assert manifest["database"]["sha256"] == sha256(backup / manifest["database"]["file"])
    counts = manifest["row_counts"]
    assert (counts["registration"], counts["attendee"], counts["payment"], counts["receipt"]) \
        == (3, 6, 4, 2)
    assert manifest["uploads"]["files"] == filled["folder"]


# --- refused, and nothing touched ---------------------------------------------------------

def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damaged", ["database", "uploads"])
def test_a_damaged_backup_is_refused_and_the_target_is_left_untouched(
        app, filled, fresh, tmp_path, damaged):
    backup = back_up(app, tmp_path / "backups")
    manifest = json.loads((backup / "manifest.json").read_text())
    flip_a_byte(backup / manifest[damaged]["file"])

    result = flask(fresh, "backup", "restore", str(backup))
    assert result.exit_code != 0
    assert f"备份已损坏：{manifest[damaged]['file']} 的 SHA-256 与清单不符" in result.output
    assert tables_in(fresh) == [] and not Path(fresh.config["UPLOAD_DIR"]).exists()


def test_an_uploaded_file_changed_inside_an_intact_archive_is_refused(app, filled, fresh,
                                                                      tmp_path):
    backup = back_up(app, tmp_path / "backups")
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    victim = sorted(manifest["uploads"]["files"])[0]
    manifest["uploads"]["files"][victim] = "0" * 64  # the archive's hash still matches
    manifest_path.write_text(json.dumps(manifest))

    result = flask(fresh, "backup", "restore", str(backup))
    assert result.exit_code != 0
    assert f"上传文件 {victim} 缺失或与清单不符" in result.output
    assert tables_in(fresh) == [] and not Path(fresh.config["UPLOAD_DIR"]).exists()


def test_an_archive_member_escaping_the_upload_folder_is_refused(app, filled, fresh, tmp_path,
                                                                monkeypatch):
    backup = back_up(app, tmp_path / "backups")
    # Restore's scratch folders deep inside tmp_path: wherever the member lands, it is seen.
    scratch = tmp_path / "scratch" / "a" / "b"
    scratch.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    evil = b"#!/bin/sh\necho owned\n"
    name = "../../escaped.sh"
    with tarfile.open(backup / "uploads.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(evil)
        archive.addfile(info, io.BytesIO(evil))
    # A forger would make the manifest agree with the archive.
    manifest["uploads"]["sha256"] = sha256(backup / "uploads.tar.gz")
    manifest["uploads"]["files"] = {name: hashlib.sha256(evil).hexdigest()}
    manifest_path.write_text(json.dumps(manifest))

    result = flask(fresh, "backup", "restore", str(backup))
    assert result.exit_code != 0
    assert "不应有的条目 '../../escaped.sh'，已拒绝" in result.output
    assert not list(tmp_path.rglob("escaped.sh"))
    assert tables_in(fresh) == [] and not Path(fresh.config["UPLOAD_DIR"]).exists()


def test_a_database_that_is_not_empty_is_overwritten_only_with_yes(app, filled, fresh,
                                                                   tmp_path):
    backup = back_up(app, tmp_path / "backups")
    assert flask(fresh, "backup", "restore", str(backup)).exit_code == 0
    with fresh.app_context():
        event_id = db.session.scalar(select(Registration.event_id))
    since = register(fresh, event_id, "西宁市城西区兴海路街道办事处", ["黄强"])

    refused = flask(fresh, "backup", "restore", str(backup))
    assert refused.exit_code != 0
    assert "目标数据库不是空的" in refused.output and "--yes" in refused.output
    with fresh.app_context():
        assert db.session.get(Registration, since.id) is not None  # left as it was
        db.session.remove()

    result = flask(fresh, "backup", "restore", "--yes", str(backup))
    assert result.exit_code == 0, result.output
    assert "已恢复：报名 3 条，付款 4 条，收据 2 条" in result.output
    restored = snapshot(fresh)
    assert restored["registrations"] == filled["registrations"]  # the later one is gone
    assert restored["payments"] == filled["payments"]
    assert restored["receipts"] == filled["receipts"]
