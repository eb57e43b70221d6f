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
"""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import has_request_context
from sqlalchemy import DateTime, event
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


def configure_engine(engine) -> None:
    """Install the SQLite pragmas and explicit BEGIN handling on an engine."""
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = wants_write()
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        connection.info["write"] = write


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
