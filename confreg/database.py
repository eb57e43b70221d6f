"""How transactions start: BEGIN IMMEDIATE for writes on SQLite, row locks on PostgreSQL.

SQLite allows one writer at a time.  A transaction that starts as a reader and
later writes can fail with "database is locked" when another writer got in
first, so a transaction that writes must take the write lock up front (BEGIN
IMMEDIATE) and wait for it (busy_timeout).

A request reads in an ordinary transaction (loading the event, validating the
form, rendering) so that readers never queue behind writers.  The service that
writes calls begin_write() before it checks anything: on SQLite that ends the
read transaction, which has written nothing, and begins BEGIN IMMEDIATE on the
same connection; the session is expired so everything is read again under the
lock.  A flush on SQLite outside such a transaction raises, so a write path that
forgot begin_write() fails in the tests instead of under load.  CLI commands and
scripts (no request) begin every transaction IMMEDIATE.  On PostgreSQL
begin_write() does nothing: the services lock the scarce row with
SELECT ... FOR UPDATE before checking it.

Writers on a SQLite file queue on a lock file before BEGIN IMMEDIATE (WriteQueue).
SQLite's own busy handler makes a waiting writer sleep and retry, in steps that
grow to 100 ms, so under 16 concurrent registrations one unlucky writer waited
close to a second while others got in. A blocked flock() is woken by the kernel
the moment the holder releases it, so a writer waits only for the writers ahead
of it. busy_timeout stays as the fallback for processes that do not take the
lock file (the sqlite3 shell, a backup).
"""
import fcntl
import os
import sqlite3
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import has_request_context
from sqlalchemy import DateTime, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

# The largest integer key both databases hold; a larger "id" names no row.
MAX_ROW_ID = 2**31 - 1

_write_intent: ContextVar[bool | None] = ContextVar("write_intent", default=None)

def wants_write() -> bool:
    """Tell whether the transaction about to begin may write."""
    explicit = _write_intent.get()
    if explicit is not None:
        return explicit
    return not has_request_context()  # requests read first; CLI and scripts write

@contextmanager
def write_intent(flag: bool = True):
    """Declare that transactions begun inside this block will (or will not) write."""
    token = _write_intent.set(flag)
    try:
        yield
    finally:
        _write_intent.reset(token)


# Per thread: the lock files this thread holds, and on how many connections.
_held = threading.local()


class WriteQueue:
    """The writers of one SQLite file, queued on an exclusive flock() of a lock file beside it.

    Each pooled DBAPI connection opens the lock file once (its own open file description,
    so connections of one process, in different threads, queue like separate processes).
    The lock is taken just before BEGIN IMMEDIATE and let go right after COMMIT or ROLLBACK
    has ended the SQLite transaction; a process that dies lets go with its descriptors."""

    HELD = "write_queue_held"
    FD = "write_queue_fd"

    def __init__(self, database_path: str):
        self.path = os.path.abspath(database_path) + "-writelock"

    def open(self, info: dict) -> None:
        info[self.FD] = (os.getpid(), os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))

    def close(self, info: dict) -> None:
        self.release(info)
        pid_fd = info.pop(self.FD, None)
        if pid_fd is not None:
            os.close(pid_fd[1])

    def _count(self, change: int = 0) -> int:
        counts = _held.__dict__.setdefault("counts", {})
        counts[self.path] = counts.get(self.path, 0) + change
        return counts[self.path]

    def acquire(self, info: dict) -> None:
        if self.FD not in info or info.get(self.HELD):
            return
        pid, fd = info[self.FD]
        if pid != os.getpid():
            # Opened before a fork: the parent shares that descriptor's lock. Take our own.
            self.open(info)
            fd = info[self.FD][1]
        if self._count():
            # This thread already writes on another connection: waiting would never end.
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                "database is locked (this thread holds the write lock on another connection)"))
        fcntl.flock(fd, fcntl.LOCK_EX)
        info[self.HELD] = True
        self._count(+1)

    def release(self, info: dict) -> None:
        if info.pop(self.HELD, False):
            self._count(-1)
            fcntl.flock(info[self.FD][1], fcntl.LOCK_UN)

    def end(self, dbapi_connection, info: dict, how: str) -> None:
        """End the SQLite transaction now (COMMIT or ROLLBACK), then let the next writer in.

        SQLAlchemy's own commit/rollback that follows finds no transaction open, which
        Python's sqlite3 treats as a no-op. A COMMIT that fails (disk full) keeps the lock:
        the ROLLBACK that follows it lets go."""
        if not info.get(self.HELD):
            return
        if how == "commit":
            dbapi_connection.commit()
            self.release(info)
        else:
            try:
                dbapi_connection.rollback()
            finally:
                self.release(info)


def configure_engine(engine) -> None:
    """Install the SQLite pragmas, the write queue and explicit BEGIN handling on an engine."""
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")
    queue = None if in_memory else WriteQueue(engine.url.database)
    engine.confreg_write_queue = queue

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if queue is not None:
            queue.open(record.info)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = wants_write()
        if write and queue is not None:
            queue.acquire(connection.connection.info)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        connection.info["write"] = write

    if queue is None:
        return

    @event.listens_for(engine, "commit")
    def _on_commit(connection):
        if not connection.invalidated:  # else "invalidate" below has let go already
            queue.end(connection.connection.dbapi_connection, connection.connection.info,
                      "commit")

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection):
        if not connection.invalidated:
            queue.end(connection.connection.dbapi_connection, connection.connection.info,
                      "rollback")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record):
        # Returned to the pool with a write still open (the pool rolls it back next).
        if dbapi_connection is not None:
            queue.end(dbapi_connection, record.info, "rollback")

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection, record):
        queue.close(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection, record, _exception):
        queue.close(record.info)


class WriteOutsideTransaction(RuntimeError):
    """A flush on SQLite in a transaction that did not begin IMMEDIATE."""


def begin_write(session: Session) -> None:
    """Make the session's transaction a write transaction before a check-then-write."""
    connection = session.connection()
    if connection.dialect.name != "sqlite" or connection.info.get("write"):
        return
    if session.new or session.dirty or session.deleted:
        raise WriteOutsideTransaction("begin_write() must come before any change")
    # The read transaction wrote nothing, so ending it loses nothing.
    connection.exec_driver_sql("COMMIT")
    queue = getattr(connection.engine, "confreg_write_queue", None)
    if queue is not None:
        queue.acquire(connection.connection.info)
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    connection.info["write"] = True
    session.expire_all()  # read again under the lock


def _refuse_unlocked_flush(session, _flush_context, _instances):
    if not (session.new or session.dirty or session.deleted):
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.info.get("write"):
        raise WriteOutsideTransaction(
            "write on SQLite without begin_write(): the transaction began as a reader"
        )


def guard_sqlite_writes(session) -> None:
    """Refuse a flush on SQLite unless its transaction holds the write lock."""
    if not event.contains(session, "before_flush", _refuse_unlocked_flush):
        event.listen(session, "before_flush", _refuse_unlocked_flush)


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC; SQLite gives naive values back, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
