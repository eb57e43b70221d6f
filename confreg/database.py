"""How transactions start: BEGIN IMMEDIATE for writes on SQLite, row locks on PostgreSQL.

SQLite allows one writer at a time.  A transaction that starts as a reader and
later writes can fail with "database is locked" when another writer got in
first, so every transaction that may write takes the write lock up front
(BEGIN IMMEDIATE) and waits for it (busy_timeout).  On PostgreSQL the services
lock the scarce row with SELECT ... FOR UPDATE before checking it.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import has_request_context, request
from sqlalchemy import DateTime, event
from sqlalchemy.types import TypeDecorator

_write_intent: ContextVar[bool | None] = ContextVar("write_intent", default=None)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wants_write() -> bool:
    """Tell whether the transaction about to begin may write."""
    explicit = _write_intent.get()
    if explicit is not None:
        return explicit
    if has_request_context():
        return request.method not in SAFE_METHODS
    return True  # CLI commands and scripts


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
        connection.exec_driver_sql("BEGIN IMMEDIATE" if wants_write() else "BEGIN")


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
