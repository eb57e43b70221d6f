#!/usr/bin/env python3
"""SQLite writers: confreg's write queue (a flock() before BEGIN IMMEDIATE) vs SQLite's own
busy handler, measured in the same run on the same machine.

    .venv/bin/python bench/sqlite_write_queue.py [--writers 16] [--transactions 40] [--hold-ms 2]

Each writer is its own process (as gunicorn's workers are) and runs write transactions that
insert a row and hold the transaction for --hold-ms (the work a registration does under the
lock). With the busy handler a writer that finds the database locked sleeps and retries, in
steps that grow to 100 ms, so some wait far longer than the writers ahead of them; with the
queue each waits in the kernel and is woken when the lock is let go. Prints transactions/s,
p50/p99/max latency for both, and the ratios.
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_engine(path: str, queued: bool):
    from sqlalchemy import create_engine, event

    from confreg.database import configure_engine

    engine = create_engine(f"sqlite:///{path}")
    if queued:
        configure_engine(engine)  # the app's own set-up: pragmas, queue, BEGIN IMMEDIATE
        return engine

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # the same pragmas, no queue
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return engine


def writer(path: str, queued: bool, transactions: int, hold: float, start, out) -> None:
    from sqlalchemy import text

    from confreg.database import write_intent

    engine = make_engine(path, queued)
    latencies = []
    start.wait()
    with write_intent(True):
        for _ in range(transactions):
            began = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 200})
                time.sleep(hold)
            latencies.append(time.perf_counter() - began)
    engine.dispose()
    out.put(latencies)


def run(queued: bool, args, tmp: Path) -> dict:
    from sqlalchemy import text

    from confreg.database import write_intent

    path = str(tmp / f"{'queue' if queued else 'busy'}.db")
    engine = make_engine(path, queued)
    with write_intent(True), engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(path, queued, args.transactions,
                                              args.hold_ms / 1000, start, out))
             for _ in range(args.writers)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # every writer imported and waiting
    began = time.perf_counter()
    start.set()
    latencies = [x for _ in procs for x in out.get(timeout=600)]
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    engine = make_engine(path, queued)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
    engine.dispose()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {"tps": len(ms) / elapsed, "p50": statistics.median(ms),
            "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "max": ms[-1],
            "rows": rows, "expected": args.writers * args.transactions}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--writers", type=int, default=16)
    p.add_argument("--transactions", type=int, default=40, help="per writer")
    p.add_argument("--hold-ms", type=float, default=2.0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="confreg-wq-") as tmp:
        busy = run(False, args, Path(tmp))
        queue = run(True, args, Path(tmp))
    print(f"SQLite write transactions: {args.writers} writer processes × {args.transactions}, "
          f"each holding the lock {args.hold_ms:g} ms; {os.cpu_count()} core(s)")
    print(f"{'':22}{'tx/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'rows':>7}")
    for name, r in (("SQLite busy handler", busy), ("confreg write queue", queue)):
        print(f"{name:22}{r['tps']:8.0f}{r['p50']:9.1f}{r['p99']:9.1f}{r['max']:9.1f}"
              f"{r['rows']:7d}")
    print(f"queue ÷ busy handler: throughput {queue['tps'] / busy['tps']:.2f}×, "
          f"p99 {queue['p99'] / busy['p99']:.2f}×, max {queue['max'] / busy['max']:.2f}×")
    ok = busy["rows"] == busy["expected"] and queue["rows"] == queue["expected"]
    if not ok:
        print("ROWS MISSING")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
