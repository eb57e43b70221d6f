"""Backups that restore: `flask backup create` and `flask backup restore` (deploy/backup.md).

A backup is one directory, confreg-backup-<UTC stamp> (or the same as one .tar), holding
  database.sqlite3 or database.pgdump   the database, taken consistently while the app runs:
                                        SQLite's online backup API, or pg_dump from a snapshot
                                        the manifest's row counts are read from too;
  uploads.tar.gz                        the upload folder (files stored by their SHA-256);
  manifest.json                         the schema revision, the database kind, row counts per
                                        table and the SHA-256 of the dump, of the archive and of
                                        every uploaded file.

Restore checks every hash (unpacking the uploads into a scratch folder to do so) and refuses a
non-empty database without --yes before it changes anything; then it restores the database,
puts the files in place and counts the rows again against the manifest.

The database is taken before the uploads: a file is written before its row is committed, so
every file the dumped rows name is already on disk when the folder is archived.
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import column, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from .database import write_intent
from .extensions import db

PREFIX = "confreg-backup-"
BACKUP_NAME = re.compile(rf"^{PREFIX}\d{{8}}T\d{{6}}Z(\.tar)?$")
MANIFEST = "manifest.json"
UPLOADS_ARCHIVE = "uploads.tar.gz"
DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FORMAT = 1
ALEMBIC_TABLE = "alembic_version"
# The figures the summary names; every table is counted and compared all the same.
SUMMARY_TABLES = (("registration", "报名"), ("payment", "付款"), ("receipt", "收据"))


class BackupError(click.ClickException):
    """A backup cannot be made or restored; the message says why, for the administrator."""


@dataclass
class Outcome:
    """What a backup holds (or a restore put back)."""

    path: Path
    revision: str | None
    row_counts: dict[str, int]
    files: int

    def summary(self) -> str:
        counts = "，".join(f"{label} {self.row_counts.get(name, 0)} 条"
                          for name, label in SUMMARY_TABLES)
        return f"{counts}，文件 {self.files} 个"


# --- create --------------------------------------------------------------------------------

def create_backup(output_dir: Path, *, as_tar: bool = False) -> Outcome:
    """Write the database and the upload folder into a new confreg-backup-<UTC stamp>."""
    kind = _database_kind()
    if output_dir.resolve().is_relative_to(_upload_root().resolve()):
        raise BackupError(f"备份目录 {output_dir} 在上传文件夹之内（每次备份都会把上一次装进去），"
                          "请换一个目录。")
    output_dir.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    final = output_dir / (f"{name}.tar" if as_tar else name)
    if final.exists():
        raise BackupError(f"{final} 已存在（同一秒内已做过一次备份），请稍后再试。")
    # Written aside (mode 0700: it holds personal data) and renamed when complete, so a
    # backup cut short is never taken for a whole one.
    draft = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{name}."))
    try:
        folder = draft / name
        folder.mkdir()
        dump = folder / DUMP_NAMES[kind]
        revision, counts = _dump_sqlite(dump) if kind == "sqlite" else _dump_postgresql(dump)
        files = _archive_uploads(_upload_root(), folder / UPLOADS_ARCHIVE)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "database": {"kind": kind, "file": dump.name, "sha256": _sha256(dump),
                         "size": dump.stat().st_size},
            "alembic_revision": revision,
            "row_counts": counts,
            "uploads": {"file": UPLOADS_ARCHIVE, "sha256": _sha256(folder / UPLOADS_ARCHIVE),
                        "files": files},
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2,
                                                  sort_keys=True) + "\n", encoding="utf-8")
        if as_tar:
            with tarfile.open(draft / final.name, "w") as bundle:
                bundle.add(folder, arcname=name)
            shutil.rmtree(folder)
        os.chmod(draft / final.name, 0o600 if as_tar else 0o700)
        os.rename(draft / final.name, final)
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    return Outcome(final, revision, counts, len(files))


def prune_backups(output_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups in the folder (by their UTC stamp)."""
    backups = sorted(path for path in output_dir.iterdir() if BACKUP_NAME.match(path.name))
    removed = backups[:-keep]
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return removed


def _dump_sqlite(target: Path) -> tuple[str | None, dict[str, int]]:
    path = _sqlite_path()
    if not path.is_file():
        raise BackupError(f"数据库文件 {path} 不存在。")
    # The online backup API copies a consistent snapshot while the app keeps writing.
    with closing(sqlite3.connect(path, timeout=30)) as source, \
            closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    engine = create_engine(f"sqlite:///{target}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _census(connection)
    finally:
        engine.dispose()


def _dump_postgresql(target: Path) -> tuple[str | None, dict[str, int]]:
    # pg_dump reads the snapshot this transaction exports: the dump and the counts in the
    # manifest show the same moment, however busy the app is meanwhile.
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        with connection.begin():
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            revision, counts = _census(connection)
            dsn, env = _libpq(db.engine.url)
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}",
                  f"--dbname={dsn}"], env)
    return revision, counts


def _archive_uploads(root: Path, target: Path) -> dict[str, str]:
    """Archive the upload folder; return the SHA-256 of each file by its path in it."""
    files = {}
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            relative = path.relative_to(root)
            # Dot files are uploads being written (.upload-*); links are never made.
            if any(part.startswith(".") for part in relative.parts) or path.is_symlink() \
                    or not path.is_file():
                continue
            with path.open("rb") as source:  # hashed and archived from the one handle
                digest = hashlib.file_digest(source, "sha256").hexdigest()
                source.seek(0)
                archive.addfile(archive.gettarinfo(arcname=relative.as_posix(), fileobj=source),
                                source)
            files[relative.as_posix()] = digest
    return files


# --- restore -------------------------------------------------------------------------------

def restore_backup(path: Path, *, overwrite: bool = False) -> Outcome:
    """Check a backup whole, then put its database and files in place of the configured ones."""
    kind = _database_kind()
    with _opened(path) as folder, tempfile.TemporaryDirectory(prefix="confreg-restore-") as scratch:
        manifest = _read_manifest(folder, kind)
        dump = folder / manifest["database"]["file"]
        files = manifest["uploads"]["files"]
        _check_hash(dump, manifest["database"]["sha256"])
        _check_hash(folder / manifest["uploads"]["file"], manifest["uploads"]["sha256"])
        staged = Path(scratch)
        _unpack_uploads(folder / manifest["uploads"]["file"], staged, files)
        _check_revision(manifest["alembic_revision"])
        _check_empty(overwrite)

        if kind == "sqlite":
            _restore_sqlite(dump)
        else:
            _restore_postgresql(dump)
        _put_uploads(staged, _upload_root(), files)

    with db.engine.connect() as connection:
        revision, counts = _census(connection)
    expected = manifest["row_counts"]
    differences = [f"{name}：备份 {expected.get(name, 0)}，恢复后 {counts.get(name, 0)}"
                   for name in sorted(set(expected) | set(counts))
                   if expected.get(name, 0) != counts.get(name, 0)]
    if differences:
        raise BackupError("数据库已恢复，但行数与备份清单不符，请勿启用：" + "；".join(differences))
    return Outcome(path, revision, counts, len(files))


@contextmanager
def _opened(path: Path):
    """The backup's folder: the path itself, or the one folder inside its .tar."""
    if path.is_dir():
        yield path
        return
    if not tarfile.is_tarfile(path):
        raise BackupError(f"{path} 既不是备份目录，也不是备份 .tar 文件。")
    with tempfile.TemporaryDirectory(prefix="confreg-backup-") as scratch, \
            tarfile.open(path) as bundle:
        bundle.extractall(scratch, filter="data")
        folders = [p for p in Path(scratch).iterdir() if p.is_dir()]
        if len(folders) != 1:
            raise BackupError(f"{path} 中应当只有一个备份目录。")
        yield folders[0]


def _read_manifest(folder: Path, kind: str) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} 不是 confreg 备份：缺少 {MANIFEST}。") from None
    except ValueError:
        raise BackupError(f"{folder / MANIFEST} 已损坏，无法读取。") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式 {manifest.get('format')!r}（本程序读第 {FORMAT} 版）。")
    source = manifest["database"]["kind"]
    if source != kind:
        raise BackupError(f"备份来自 {KIND_NAMES.get(source, source)}，当前配置的数据库是 "
                          f"{KIND_NAMES[kind]}，不能直接恢复。")
    for entry in (manifest["database"]["file"], manifest["uploads"]["file"]):
        if PurePosixPath(entry).name != entry:
            raise BackupError(f"备份清单中的文件名 {entry!r} 不合法。")
    return manifest


def _check_hash(path: Path, expected: str) -> None:
    if not path.is_file():
        raise BackupError(f"备份不完整：缺少 {path.name}。未做任何恢复。")
    if _sha256(path) != expected:
        raise BackupError(f"备份已损坏：{path.name} 的 SHA-256 与清单不符。未做任何恢复。")


def _unpack_uploads(archive_path: Path, staged: Path, files: dict[str, str]) -> None:
    """Unpack the uploads into a scratch folder and check each file against the manifest."""
    with tarfile.open(archive_path, "r:gz") as archive:
        members = archive.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            # The "data" filter refuses these as well; refusing first names the culprit.
            if name.is_absolute() or ".." in name.parts or not member.isfile() \
                    or member.name not in files:
                raise BackupError(f"备份的上传文件中有不应有的条目 {member.name!r}，已拒绝。"
                                  "未做任何恢复。")
        try:
            archive.extractall(staged, members=members, filter="data")
        except tarfile.FilterError as error:
            raise BackupError(f"备份的上传文件不安全，已拒绝：{error}。未做任何恢复。") from None
    for name, digest in files.items():
        path = staged / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"备份已损坏：上传文件 {name} 缺失或与清单不符。未做任何恢复。")


def _check_revision(revision: str | None) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    state = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(state.migrate.get_config(state.directory))
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(f"备份的数据库版本 {revision!r} 不是本程序认识的版本（备份来自更新的"
                          "程序？）。请先部署同一版本的程序再恢复。未做任何恢复。")


def _check_empty(overwrite: bool) -> None:
    if db.engine.dialect.name == "sqlite" and not _sqlite_path().exists():
        return  # a new database, and connecting would create the file before its time
    with write_intent(False), db.engine.connect() as connection:
        _, counts = _census(connection)
    rows = {name: n for name, n in counts.items() if name != ALEMBIC_TABLE and n}
    if rows and not overwrite:
        held = "，".join(f"{label} {rows.get(name, 0)} 条" for name, label in SUMMARY_TABLES)
        raise BackupError(f"目标数据库不是空的（共 {sum(rows.values())} 行：{held}）。"
                          "确认要用备份覆盖它，请加 --yes。未做任何恢复。")


def _restore_sqlite(dump: Path) -> None:
    target = _sqlite_path()
    db.session.remove()
    db.engine.dispose()  # no connection of ours in the way of the copy
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(dump)) as source, \
            closing(sqlite3.connect(target, timeout=30)) as copy:
        source.backup(copy)


def _restore_postgresql(dump: Path) -> None:
    db.session.remove()
    db.engine.dispose()
    dsn, env = _libpq(db.engine.url)
    # One transaction: a restore that fails part-way leaves the database as it was.
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={dsn}", str(dump)], env)


def _put_uploads(staged: Path, root: Path, files: dict[str, str]) -> None:
    for name in files:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copied aside, then renamed: the app never sees half a file (as store_file does).
        fd, draft = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
        os.close(fd)
        try:
            shutil.copy2(staged / name, draft)
            os.replace(draft, target)
        except BaseException:
            Path(draft).unlink(missing_ok=True)
            raise


# --- both ----------------------------------------------------------------------------------

def _database_kind() -> str:
    kind = db.engine.dialect.name
    if kind not in DUMP_NAMES:
        raise BackupError(f"不支持备份 {kind} 数据库（支持 SQLite 和 PostgreSQL）。")
    if kind == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复。")
    return kind


def _sqlite_path() -> Path:
    # The engine's URL, not the configured one: Flask-SQLAlchemy resolves relative paths.
    return Path(db.engine.url.database)


def _upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _census(connection: Connection) -> tuple[str | None, dict[str, int]]:
    """The schema revision and the number of rows in each table."""
    names = sorted(inspect(connection).get_table_names())
    counts = {name: connection.scalar(select(func.count()).select_from(table(name)))
              for name in names}
    revision = None
    if ALEMBIC_TABLE in names:
        revision = connection.scalar(select(column("version_num"))
                                     .select_from(table(ALEMBIC_TABLE)))
    return revision, counts


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore, the password in the environment."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return dsn, env


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"找不到 {args[0]}：请安装与数据库服务器同版本或更新的 "
                          "postgresql-client。") from None
    if done.returncode != 0:
        raise BackupError(f"{args[0]} 失败（退出码 {done.returncode}）：{done.stderr.strip()}")


def _sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- flask backup ... ----------------------------------------------------------------------

backup_commands = AppGroup("backup", help="Back up and restore the database and the uploads.")


@backup_commands.command("create")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the backup into [default: instance/backups].")
@click.option("--tar", "as_tar", is_flag=True, help="Write one .tar file instead of a folder.")
@click.option("--keep", type=click.IntRange(1), help="Then remove all but the newest N backups "
              "in the folder.")
def backup_create(output, as_tar, keep):
    """Back up the database and the uploaded files (safe while the app runs)."""
    output = output or Path(current_app.instance_path) / "backups"
    started = time.monotonic()
    outcome = create_backup(output, as_tar=as_tar)
    click.echo(f"已备份到 {outcome.path}（{_size(outcome.path) / 1024 / 1024:.1f} MB，用时 "
               f"{time.monotonic() - started:.1f} 秒）：{outcome.summary()}；"
               f"数据库版本 {outcome.revision}")
    if keep:
        for path in prune_backups(output, keep):
            click.echo(f"已删除旧备份 {path.name}")


@backup_commands.command("restore")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Overwrite a database that is not empty.")
def backup_restore(path, yes):
    """Restore a backup into the configured database and upload folder (app stopped)."""
    outcome = restore_backup(path, overwrite=yes)
    click.echo(f"已恢复：{outcome.summary()}（数据库版本 {outcome.revision}）")
