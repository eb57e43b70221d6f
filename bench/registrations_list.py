#!/usr/bin/env python3
"""The registrations list at 100 and at 10,000 attendees: SQL statements and time per page.

    .venv/bin/python bench/registrations_list.py [--requests N] [--database-url URL]

A fresh SQLite file in a temp dir (or the database URL given, which must be empty), the
real migrations, two events: one with 20 units x 5 attendees, one with 2,000 units x 5
attendees (a third of the units with a payment).  Signed in as an administrator through
the test client, it requests the first page, a middle page, a filter and a search of each
event N times and prints, for each, the number of SQL statements of one request and the
median time, then the ratios 10,000 / 100.  The list pages 50 registrations at a time and
loads their attendees in one query, so the statement count must not grow (ratio 1.00);
the time grows only with the database's own work (counting, grouping the payments).
Exit status: 0 when every statement-count ratio is 1, else 1.
"""
import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGES = [("first page", ""), ("page 20 / last", "?page=20"), ("filter 未缴费", "?filter=unpaid"),
         ("search 参会人1", "?q=参会人1")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per page and size")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="confreg-bench-list-"))
    try:
        return run(args, args.database_url or f"sqlite:///{tmp / 'list.db'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, url: str) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import event

    from confreg import create_app
    from confreg.extensions import db
    from tests.conftest import add_user, make_event, sign_in
    from tests.test_admin_registrations import bulk_register

    app = create_app("config.Config", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench",
                     WTF_CSRF_ENABLED=True)
    with app.app_context():
        upgrade()
        add_user("admin", "bench-admin@example.cn")
        sizes = {attendees: make_event(capacity=0).id for attendees in (100, 10_000)}
        engine = db.engine
        db.session.remove()  # bulk_register writes from its own app context
    for attendees, units in ((100, 20), (10_000, 2_000)):
        started = time.perf_counter()
        bulk_register(app, sizes[attendees], units=units, per_unit=attendees // units)
        print(f"set-up: {units} units, {attendees} attendees "
              f"in {time.perf_counter() - started:.1f} s")

    client = app.test_client()
    assert sign_in(client, "bench-admin@example.cn").status_code == 302
    counter = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        counter["n"] += 1

    results = {}
    for attendees, event_id in sizes.items():
        for label, query in PAGES:
            path = f"/admin/events/{event_id}/registrations{query}"
            client.get(path)  # warm-up: templates compiled, statements cached
            times, counts = [], set()
            for _ in range(args.requests):
                counter["n"] = 0
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                counts.add(counter["n"])
                assert response.status_code == 200, (path, response.status_code)
            assert len(counts) == 1, f"statement count varies between requests: {counts}"
            results[attendees, label] = (counts.pop(), statistics.median(times))

    print(f"\n{'page':<18} {'statements':>10} {'':>4} {'median ms':>10}")
    print(f"{'':<18} {'100':>5} {'10k':>5} {'':>4} {'100':>7} {'10k':>7}   ratio 10k/100")
    ok = True
    for label, _query in PAGES:
        small, large = results[100, label], results[10_000, label]
        ok &= small[0] == large[0]
        print(f"{label:<18} {small[0]:>5} {large[0]:>5} {'':>4} {small[1] * 1000:>7.1f} "
              f"{large[1] * 1000:>7.1f}   statements {large[0] / small[0]:.2f}, "
              f"time {large[1] / small[1]:.2f}")
    print("\nPASS: the statement count does not grow with the rows" if ok
          else "\nFAIL: the statement count grows with the rows")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
