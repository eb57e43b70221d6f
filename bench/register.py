#!/usr/bin/env python3
"""Registration throughput under concurrent load, as a ratio to a bare Flask route.

    .venv/bin/python bench/register.py [--seconds N] [--concurrency C] [--db sqlite|postgres]

One run: a fresh database (SQLite file in a temp dir, or a throwaway PostgreSQL
database dropped at the end), the real Alembic migrations, one open event that
never fills; then the bare app (bench/bare_app.py) and the real app (wsgi:app),
each served by gunicorn with the same settings, each loaded with the same
concurrency and duration after a warm-up.  Prints req/s, p50/p99 latency and
errors for both, the ratio, whether every 302 left a stored registration, and
PASS/FAIL against issue 2's target (ratio >= 0.25 on SQLite with 0 errors).
Exit status: 0 PASS, 1 FAIL, 2 the benchmark itself could not run.
See bench/README.md.
"""
import argparse
import contextlib
import hashlib
import http.client
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA_SCRIPT = BENCH / "register.lua"
TARGET_RATIO = 0.25
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
UNIT_NAME_PREFIX = "基准测试单位-"


class BenchError(Exception):
    """The benchmark could not run (as opposed to: it ran and the target was missed)."""


# --- child processes -----------------------------------------------------------------

class Children:
    """Every process this script starts, each in its own process group, stopped at exit."""

    def __init__(self):
        self._procs: list[subprocess.Popen] = []

    def start(self, cmd, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig=signal.SIGTERM, grace: float = 10.0) -> None:
        """Signal the process, wait, then kill whatever is left of its process group."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # gunicorn workers (or anything else left) live in the same group: pgid == pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc, grace=5.0)


CHILDREN = Children()


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --- database ----------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_database(kind: str, tmp: Path, pg_url: str):
    """Yield the URL of an empty database; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"confreg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise BenchError(f"cannot create a PostgreSQL database via {pg_url}: {exc}") from exc
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_migrations(db_url: str) -> None:
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": db_url}
    proc = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise BenchError(f"flask db upgrade failed:\n{proc.stdout}{proc.stderr}")


def insert_event(db_url: str) -> dict:
    """One open event whose capacity is never reached; returns what the load needs of it."""
    sys.path.insert(0, str(ROOT))
    from confreg import create_app
    from confreg.extensions import db
    from tests.conftest import make_event, registration_form

    app = create_app("config.Config", SQLALCHEMY_DATABASE_URI=db_url, MAIL_OUTBOX_DIR=None)
    with app.app_context():
        event = make_event(key=f"bench-{uuid.uuid4().hex[:6]}", capacity=1_000_000_000)
        form = registration_form(event, attendees=1, unit_name=None)
        info = {"id": event.id, "key": event.key, "form": form}
        db.session.remove()
        db.engine.dispose()
    return info


def verify_database(db_url: str, event_id: int, tokens: list[str]) -> dict:
    """Count what the run stored and look up every 302's private link."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            hashes = set(conn.execute(
                text("SELECT token_hash FROM registration WHERE event_id = :e"), {"e": event_id}
            ).scalars())
            attendees = conn.execute(
                text("SELECT count(*) FROM attendee WHERE event_id = :e"), {"e": event_id}
            ).scalar_one()
            mail = dict(conn.execute(
                text("SELECT status, count(*) FROM outbound_mail GROUP BY status")).all())
    finally:
        engine.dispose()
    missing = sum(1 for t in tokens if hashlib.sha256(t.encode()).hexdigest() not in hashes)
    return {"registrations": len(hashes), "attendees": attendees, "tokens": len(tokens),
            "distinct_tokens": len(set(tokens)), "missing": missing, "mail": mail}


# --- servers -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command() -> list[str]:
    exe = Path(sys.executable).parent / "gunicorn"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]


def workers_cpu_seconds(master_pid: int) -> float | None:
    """CPU time (user + system) used so far by the gunicorn master's workers; None off Linux."""
    if not os.path.isdir("/proc"):
        return None
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # fields: state, ppid, ..., utime [11], stime [12]
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def http_get(port: int, path: str, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Set-Cookie"), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(name: str, app_spec: str, cwd: Path, env: dict, workers: int, ready_path: str,
             tmp: Path):
    """Serve app_spec with gunicorn on a free port until the block ends; yield the port."""
    port = free_port()
    log_path = tmp / f"gunicorn-{name}.log"
    cmd = gunicorn_command() + ["-w", str(workers), "-b", f"127.0.0.1:{port}", app_spec]
    with open(log_path, "w") as log:
        proc = CHILDREN.start(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchError(f"gunicorn ({name}) exited with {proc.returncode}:\n"
                                 + log_path.read_text()[-3000:])
            with contextlib.suppress(OSError):
                status, _, _ = http_get(port, ready_path)
                if status == 200:
                    break
                raise BenchError(f"GET {ready_path} on the {name} app answered {status}")
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn ({name}) not answering after 60 s:\n"
                                 + log_path.read_text()[-3000:])
            time.sleep(0.2)
        yield port, proc.pid
    except BaseException:
        # Interrupted or failed: gunicorn's quick shutdown, then kill what is left.
        CHILDREN.stop(proc, signal.SIGQUIT, grace=3.0)
        raise
    else:
        # SIGTERM: gunicorn lets each worker finish the request it is serving, so every
        # registration the load started is either committed or rolled back before the
        # database is counted.
        CHILDREN.stop(proc, signal.SIGTERM, grace=30.0)


# --- load ------------------------------------------------------------------------------

def fetch_sessions(port: int, path: str, form: dict, count: int) -> list[dict]:
    """One session per client connection: GET the form, keep its cookie and CSRF token."""
    sessions = []
    base = {k: v for k, v in form.items() if k != "unit_name"}
    for _ in range(count):
        status, set_cookie, html = http_get(port, path)
        match = CSRF_RE.search(html)
        if status != 200 or not set_cookie or not match:
            raise BenchError(f"GET {path}: status {status}, cookie {bool(set_cookie)}, "
                             f"CSRF token {bool(match)}")
        body = urlencode({**base, "csrf_token": match.group(1)}) + "&unit_name="
        sessions.append({"cookie": set_cookie.split(";", 1)[0], "body": body})
    return sessions


def write_lua_sessions(path: Path, url_path: str, sessions: list[dict], threads: int) -> None:
    """The sessions as a Lua chunk for register.lua (all strings ASCII, so JSON quoting fits)."""
    q = json.dumps
    rows = ",\n".join(f"  {{cookie = {q(s['cookie'])}, body = {q(s['body'])}}}" for s in sessions)
    path.write_text(f"return {{\n path = {q(url_path)},\n"
                    f" name_prefix = {q(quote(UNIT_NAME_PREFIX))},\n threads = {threads},\n"
                    f" sessions = {{\n{rows}\n }}\n}}\n")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, min(len(sorted_values) - 1,
                                    math.ceil(q / 100 * len(sorted_values)) - 1))]


def run_wrk(port: int, url_path: str, mode: str, seconds: int, concurrency: int, threads: int,
            tmp: Path, label: str, sessions_file: Path | None) -> dict:
    result_file = tmp / f"wrk-{mode}-{label}.json"
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
           "--timeout", "10s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}{url_path}",
           "--", mode, str(result_file)]
    if mode == "post":
        cmd += [str(sessions_file), label]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = CHILDREN.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=seconds + 120)
    finally:
        CHILDREN.stop(proc, grace=2.0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not result_file.exists():
        raise BenchError(f"wrk failed ({proc.returncode}):\n{out}\n{err}")
    raw = json.loads(result_file.read_text())
    lat = raw["latency_us"]
    return {
        "requests": raw["requests"],
        "duration_s": raw["duration_us"] / 1e6,
        "statuses": {int(k): v for k, v in raw["statuses"].items()},
        "socket_errors": sum(raw["socket_errors"].values()),
        "socket_error_detail": raw["socket_errors"],
        "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000, "max_ms": lat["max"] / 1000,
        # POSTs written but never answered because wrk stopped at the deadline.
        "cut_off": max(0, raw["sent"] - raw["requests"]) if mode == "post" else 0,
        "tokens": raw["tokens"],
        "loadgen_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def run_python(port: int, url_path: str, mode: str, seconds: int, concurrency: int,
               label: str, sessions: list[dict] | None) -> dict:
    """Fallback without wrk: one thread per connection, http.client, keep-alive if offered.

    Each thread finishes the request it has in flight when time is up, so nothing is
    cut off.  Python threads share the GIL and a core or so: on a small machine this
    load generator takes CPU from the servers and lowers both figures."""
    stop_at = time.monotonic() + seconds
    stop = threading.Event()
    results = [None] * concurrency

    def client(i: int) -> None:
        statuses, latencies, tokens, errors, sent = Counter(), [], [], 0, 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        session = sessions[i % len(sessions)] if sessions else None
        while not stop.is_set() and time.monotonic() < stop_at:
            sent += 1
            if session:
                name = quote(UNIT_NAME_PREFIX) + f"{label}{i}-{sent}"
                body, headers = (session["body"] + name).encode(), {
                    "Cookie": session["cookie"],
                    "Content-Type": "application/x-www-form-urlencoded"}
                method = "POST"
            else:
                body, headers, method = None, {}, "GET"
            t0 = time.perf_counter()
            try:
                conn.request(method, url_path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[resp.status] += 1
            if resp.status == 302:
                m = re.search(r"/r/([^/?#]+)$", resp.getheader("Location") or "")
                if m:
                    tokens.append(m.group(1))
            if resp.will_close:
                conn.close()
        conn.close()
        results[i] = (statuses, latencies, tokens, errors)

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(i,), daemon=True)
               for i in range(concurrency)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)
    finally:
        stop.set()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    statuses, latencies, tokens, errors = Counter(), [], [], 0
    for s, lats, toks, errs in results:
        statuses.update(s)
        latencies.extend(lats)
        tokens.extend(toks)
        errors += errs
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(latencies), "duration_s": elapsed, "statuses": dict(statuses),
        "socket_errors": errors, "socket_error_detail": {"any": errors},
        "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99), "max_ms": ms[-1] if ms else float("nan"),
        "cut_off": 0, "tokens": tokens,
        "loadgen_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def load(loadgen: str, server: tuple[int, int], url_path: str, mode: str, seconds: int, args,
         tmp: Path, label: str, sessions: list[dict] | None, sessions_file: Path | None) -> dict:
    port, master_pid = server
    cpu_before = workers_cpu_seconds(master_pid)
    if loadgen == "wrk":
        result = run_wrk(port, url_path, mode, seconds, args.concurrency, args.wrk_threads, tmp,
                         label, sessions_file)
    else:
        result = run_python(port, url_path, mode, seconds, args.concurrency, label, sessions)
    cpu_after = workers_cpu_seconds(master_pid)
    result["server_cpu_s"] = (cpu_after - cpu_before) if cpu_before is not None else None
    ok_status = 302 if mode == "post" else 200
    result["ok"] = result["statuses"].get(ok_status, 0)
    result["errors"] = result["requests"] - result["ok"] + result["socket_errors"]
    result["rps"] = result["ok"] / result["duration_s"] if result["duration_s"] else 0.0
    return result


# --- the run ---------------------------------------------------------------------------

def parse_args(argv=None):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seconds", type=int, default=10, help="measured seconds per server")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds per server, not measured")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent client connections")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
                   help="PostgreSQL server (any existing database; a throwaway one is created)")
    p.add_argument("--workers", type=int, default=2 * cores + 1,
                   help="gunicorn workers for both apps (2 x cores + 1)")
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                   help="auto: wrk if installed, else Python threads")
    p.add_argument("--wrk-threads", type=int, default=max(1, min(2, cores // 2)),
                   help="wrk threads (few, so wrk leaves the CPU to the servers)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (database, logs, outbox)")
    args = p.parse_args(argv)
    if args.seconds < 1 or args.warmup < 0 or args.concurrency < 1 or args.workers < 1:
        p.error("--seconds >= 1, --warmup >= 0, --concurrency >= 1, --workers >= 1")
    args.wrk_threads = max(1, min(args.wrk_threads, args.concurrency))
    args.cores = cores
    return args


def bench(args, tmp: Path) -> dict:
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    elif loadgen == "wrk" and not shutil.which("wrk"):
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")

    with fresh_database(args.db, tmp, args.pg_url) as db_url:
        run_migrations(db_url)
        event = insert_event(db_url)
        outbox = tmp / "outbox"
        env = {**os.environ, "DATABASE_URL": db_url, "MAIL_OUTBOX_DIR": str(outbox),
               "SECRET_KEY": uuid.uuid4().hex, "FLASK_APP": "wsgi.py"}
        env.pop("FLASK_DEBUG", None)
        register_path = f"/events/{event['key']}/register"
        runs = {}

        with gunicorn("bare", "bare_app:app", BENCH, env, args.workers, "/", tmp) as server:
            if args.warmup:
                runs["bare_warmup"] = load(loadgen, server, "/", "get", args.warmup, args, tmp,
                                           "w", None, None)
            runs["bare"] = load(loadgen, server, "/", "get", args.seconds, args, tmp, "m",
                                None, None)

        with gunicorn("app", "wsgi:app", ROOT, env, args.workers, register_path, tmp) as server:
            sessions = fetch_sessions(server[0], register_path, event["form"], args.concurrency)
            sessions_file = tmp / "sessions.lua"
            write_lua_sessions(sessions_file, register_path, sessions, args.wrk_threads)
            if args.warmup:
                runs["register_warmup"] = load(loadgen, server, register_path, "post", args.warmup,
                                               args, tmp, "w", sessions, sessions_file)
            runs["register"] = load(loadgen, server, register_path, "post", args.seconds, args,
                                    tmp, "m", sessions, sessions_file)
        # gunicorn has stopped: every request it accepted is finished.
        post_runs = [r for k, r in runs.items() if k.startswith("register")]
        tokens = [t for r in post_runs for t in r["tokens"]]
        check = verify_database(db_url, event["id"], tokens)
        check["mail_files"] = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
        check["answered_302"] = sum(r["ok"] for r in post_runs)
        check["cut_off"] = sum(r["cut_off"] for r in post_runs)
        db_label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
        if args.db == "postgres":
            db_label += " (" + db_url.rsplit("/", 1)[-1] + ", dropped at the end)"
    return {"loadgen": loadgen, "db": args.db, "db_label": db_label, "runs": runs,
            "check": check, "event_key": event["key"]}


def report(args, result: dict) -> bool:
    runs, check = result["runs"], result["check"]
    bare, reg = runs["bare"], runs["register"]
    ratio = reg["rps"] / bare["rps"] if bare["rps"] else 0.0
    gen = (f"wrk, {args.wrk_threads} thread(s)" if result["loadgen"] == "wrk"
           else "Python threads" + (" (wrk not found)" if args.loadgen == "auto" else ""))
    print()
    print(f"confreg registration benchmark — {result['db_label']}")
    print(f"gunicorn -w {args.workers} (sync) on {args.cores} core(s); load: {gen}, "
          f"{args.concurrency} connections, {args.seconds} s measured after "
          f"{args.warmup} s warm-up, per server")
    print()
    print(f"{'':20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'requests':>10}"
          f"{'errors':>8}{'server CPU':>12}{'server CPU':>12}{'load-gen':>10}")
    print(f"{'':20}{'':>9}{'':>9}{'':>9}{'':>9}{'':>10}{'':>8}{'ms/request':>12}"
          f"{'% of cores':>12}{'% core':>10}")
    for name, r in (("bare Flask GET /", bare), ("registration POST", reg)):
        dur = r["duration_s"] or float("nan")
        gen = r["loadgen_cpu_s"] / dur * 100
        if r["server_cpu_s"] is None:
            per_req = use = "n/a"
        else:
            per_req = f"{r['server_cpu_s'] * 1000 / max(r['requests'], 1):.2f}"
            use = f"{r['server_cpu_s'] / dur / args.cores * 100:.0f}%"
        print(f"{name:20}{r['rps']:9.1f}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['max_ms']:9.1f}"
              f"{r['requests']:10d}{r['errors']:8d}{per_req:>12}{use:>12}{gen:9.0f}%")
    print()
    for key in ("bare_warmup", "bare", "register_warmup", "register"):
        if key in runs:
            r = runs[key]
            sock = {k: v for k, v in r["socket_error_detail"].items() if v}
            print(f"  {key:16} statuses {dict(sorted(r['statuses'].items()))}"
                  + (f", socket errors {sock}" if sock else "")
                  + (f", {r['cut_off']} POST(s) cut off at the deadline" if r["cut_off"] else ""))
    print()
    print(f"ratio registration req/s ÷ bare req/s = {reg['rps']:.1f} ÷ {bare['rps']:.1f} "
          f"= {ratio:.3f}   (target ≥ {TARGET_RATIO} on SQLite)")

    if bare["server_cpu_s"] and reg["server_cpu_s"] and bare["requests"] and reg["requests"]:
        cpu_ratio = ((bare["server_cpu_s"] / bare["requests"])
                     / (reg["server_cpu_s"] / reg["requests"]))
        result["cpu_ratio"] = cpu_ratio
        print(f"server CPU per request, bare ÷ registration = {cpu_ratio:.3f}   (the ratio "
              f"could reach at most about this if the registration were purely CPU-bound)")
    errors = sum(r["errors"] for r in runs.values())
    stored, answered, cut = check["registrations"], check["answered_302"], check["cut_off"]
    extra = stored - answered
    lost_ok = check["missing"] == 0 and check["distinct_tokens"] == check["tokens"] == answered
    count_ok = stored == answered or (0 < extra <= cut)
    print(f"stored registrations {stored} vs 302s answered {answered} (warm-up included): "
          + ("equal" if extra == 0 else
             f"{extra:+d}" + (f" — within the {cut} POSTs wrk cut off unanswered at its deadline"
                              if 0 < extra <= cut else " — MISMATCH")))
    print(f"every 302's private link found in the database: "
          f"{'yes' if lost_ok else 'NO'} ({check['missing']} missing of {check['tokens']})")
    print(f"attendees stored {check['attendees']} (1 per registration: "
          f"{'yes' if check['attendees'] == stored else 'NO'}); mail rows {check['mail']}, "
          f".eml files in the outbox {check['mail_files']}")
    mail_ok = (check["mail_files"] == stored and check["mail"].get("sent", 0) == stored
               and sum(check["mail"].values()) == stored)
    if not mail_ok:
        print("  note: not every registration's confirmation mail was written to the outbox")

    reasons = []
    if ratio < TARGET_RATIO:
        reasons.append(f"ratio {ratio:.3f} < {TARGET_RATIO}")
    if errors:
        reasons.append(f"{errors} error(s) (warm-up included)")
    if not (lost_ok and count_ok and check["attendees"] == stored):
        reasons.append("stored registrations do not match the 302s")
    if not mail_ok:
        reasons.append("confirmation mail missing")
    passed = not reasons
    note = "" if args.db == "sqlite" else "  [the issue sets the target for SQLite]"
    print()
    if passed:
        print(f"RESULT: PASS — ratio {ratio:.3f} ≥ {TARGET_RATIO}, 0 errors, "
              f"no registration lost{note}")
    else:
        print(f"RESULT: FAIL — {'; '.join(reasons)}{note}")
    result["ratio"] = ratio
    result["passed"] = passed
    return passed


def main(argv=None) -> int:
    args = parse_args(argv)
    # Ctrl-C (even when started from a shell that ignores SIGINT in background jobs),
    # kill and hang-up all end in the same clean-up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="confreg-bench-"))
    try:
        result = bench(args, tmp)
        passed = report(args, result)
        if args.json:
            for r in result["runs"].values():
                r.pop("tokens", None)
            args.json.write_text(json.dumps(result, indent=2, default=str, ensure_ascii=False))
        return 0 if passed else 1
    except BenchError as exc:
        print(f"bench/register.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers and cleaning up", file=sys.stderr)
        return 130
    finally:
        # Never leave a server or wrk behind, even on a second Ctrl-C.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            CHILDREN.stop_all()
        finally:
            signal.signal(signal.SIGINT, old)
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
