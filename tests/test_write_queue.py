"""SQLite writers queue on a lock file (confreg.database.WriteQueue) instead of SQLite's
sleeping busy handler: the lock is held exactly while a write transaction is open and let go
however it ends, a connection that would wait on its own thread fails at once, and a process
after a fork takes its own lock. Speed is measured in bench/sqlite_write_queue.py."""
import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from confreg.database import WriteQueue, configure_engine, write_intent


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    configure_engine(engine)
    with write_intent(True), engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    yield engine
    engine.dispose()


def lock_is_free(engine) -> bool:
    """Try the lock file from a descriptor of our own, without waiting."""
    fd = os.open(engine.confreg_write_queue.path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_the_lock_is_held_while_a_write_is_open_and_let_go_at_commit(engine):
    assert engine.confreg_write_queue.path.endswith("queue.db-writelock")
    with write_intent(True), engine.connect() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert not lock_is_free(engine)
        conn.commit()
        assert lock_is_free(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_a_read_transaction_does_not_take_the_lock(engine):
    with write_intent(False), engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert lock_is_free(engine)


@pytest.mark.parametrize("ending", ["rollback", "exception", "close", "invalidate"])
def test_the_lock_is_let_go_however_the_write_ends(engine, ending):
    with write_intent(True):
        conn = engine.connect()
        conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert not lock_is_free(engine)
        if ending == "rollback":
            conn.rollback()
        elif ending == "exception":
            with pytest.raises(OperationalError):
                conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
            conn.rollback()
        elif ending == "invalidate":
            conn.invalidate()
            conn.rollback()
        conn.close()
    assert lock_is_free(engine)
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_writer_waits_for_the_one_ahead_and_gets_in_when_it_commits(engine):
    order = []
    first_in = threading.Event()
    release_first = threading.Event()

    def first():
        with write_intent(True), engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES ('first')"))
            first_in.set()
            release_first.wait(10)
            order.append("first commits")

    def second():
        first_in.wait(10)
        with write_intent(True), engine.begin() as conn:
            order.append("second begins")
            conn.execute(text("INSERT INTO t (v) VALUES ('second')"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(10)
    threads[1].join(0.3)
    assert threads[1].is_alive(), "the second writer began while the first held the lock"
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second begins"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t ORDER BY id")).scalars().all() == \
            ["first", "second"]


def test_a_second_write_on_the_same_thread_fails_at_once_instead_of_waiting_forever(engine):
    with write_intent(True), engine.connect() as holder:
        holder.execute(text("INSERT INTO t (v) VALUES ('a')"))
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.connect() as other:
                other.execute(text("INSERT INTO t (v) VALUES ('b')"))
        holder.commit()
    with write_intent(True), engine.begin() as conn:  # and the thread can write again
        conn.execute(text("INSERT INTO t (v) VALUES ('c')"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t ORDER BY id")).scalars().all() == ["a", "c"]


def test_a_forked_process_takes_its_own_lock(engine):
    """A connection opened before a fork shares its lock file's description with the parent,
    and a flock() on a shared description is the same lock: the child must open its own."""
    with write_intent(True), engine.begin() as conn:  # the pool keeps this connection
        conn.execute(text("INSERT INTO t (v) VALUES ('parent')"))
        parent_fd = conn.connection.info[WriteQueue.FD][1]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes on the pooled connection the parent opened
        os.close(read)
        status = b"?"
        try:
            with write_intent(True), engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES ('child')"))
                os.write(write, b"H")  # holding the lock
                time.sleep(0.5)
            status = b"C"
        finally:
            os.write(write, status)
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"H"
        with pytest.raises(BlockingIOError):  # the parent's own descriptor must wait too
            fcntl.flock(parent_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert os.read(read, 1) == b"C"
    finally:
        os.waitpid(pid, 0)
        os.close(read)
    assert lock_is_free(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t ORDER BY id")).scalars().all() == \
            ["parent", "child"]


def test_an_in_memory_database_has_no_queue():
    engine = create_engine("sqlite://")
    configure_engine(engine)
    assert engine.confreg_write_queue is None
