#!/usr/bin/env python3
"""Registration throughput under concurrent load, against a same-work baseline.

    .venv/bin/python bench/register.py [--seconds N] [--concurrency C] [--db sqlite|postgres]
    .venv/bin/python bench/register.py --nginx      # the scale-out set-up, on PostgreSQL

One run: fresh databases (SQLite files in a temp dir, or throwaway PostgreSQL databases
dropped at the end) with the real Alembic migrations and one open event that never fills;
then three apps, each served the same way and loaded with the same concurrency and
duration after a warm-up:
  - bench/bare_app.py, GET / (information: what the framework and the server cost);
  - bench/samework_app.py, the same-work baseline: the registration's rows (registration,
    attendee, audit entry, outbox mail) inserted with SQLAlchemy Core in one transaction
    that takes the same lock, no validation;
  - the real app (wsgi:app) POSTing registrations, with a real `flask worker` sending the
    confirmation mail off the request path into an outbox folder.
Served directly by gunicorn (sync workers), or with --nginx as in deploy/: nginx in front
of two gunicorn instances (deploy/gunicorn.conf.py), the worker's queue in Redis.
Prints req/s, p50/p99 latency, errors and CPU per request for each, the ratio
registration ÷ same-work, whether every 302 left a stored registration and every
registration's mail was sent, and PASS/FAIL against issue 8's targets (ratio >= 0.5 with
0 errors; p99 <= 250 ms at 16 connections on SQLite and behind nginx on PostgreSQL).
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
import pwd
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
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
TARGET_RATIO = 0.5            # registration req/s ÷ same-work req/s (issue 8)
TARGET_P99_MS = 250.0         # ... at TARGET_CONNECTIONS
TARGET_CONNECTIONS = 16
ISSUE2_BARE_RATIO = 0.25      # registration ÷ bare GET, issue 2's target: now information
MAIL_WAIT_SECONDS = 120       # after the load, for the worker to send what is still queued
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
EML_ID_RE = re.compile(r"^\d{8}-\d{6}-(\d+)-")  # notifications._transmit: <stamp>-<id>-<kind>
UNIT_NAME_PREFIX = "基准测试单位-"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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
        # gunicorn or nginx workers (or anything else left) live in the same group: pgid == pid.
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


# --- databases and the worker's queue -------------------------------------------------------

@contextlib.contextmanager
def fresh_database(kind: str, tmp: Path, pg_url: str, name: str):
    """Yield the URL of an empty database; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'{name}.db'}"
        return
    from sqlalchemy import create_engine, make_url, text

    db_name = f"confreg_bench_{uuid.uuid4().hex[:8]}_{name}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    except Exception as exc:
        admin.dispose()
        raise BenchError(f"cannot create a PostgreSQL database via {pg_url}: {exc}") from exc
    try:
        yield make_url(pg_url).set(database=db_name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def worker_queue(kind: str, tmp: Path, redis_url: str):
    """Yield the worker settings: an SQLite queue file in tmp, or a queue of its own in Redis
    (deleted afterwards) -- never the installation's own queue in instance/."""
    if kind == "sqlite":
        yield {"WORKER_BROKER_URL": f"sqlite:///{tmp / 'worker-queue.db'}",
               "WORKER_QUEUE_NAME": "confreg-bench"}
        return
    import redis

    name = f"confreg-bench-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except Exception as exc:
        raise BenchError(f"Redis is not answering at {redis_url}: {exc}") from exc
    try:
        yield {"WORKER_BROKER_URL": redis_url, "WORKER_QUEUE_NAME": name}
    finally:
        with contextlib.suppress(Exception):
            for key in client.scan_iter(match=f"huey*{name}*"):
                client.delete(key)
        client.close()


def run_migrations(db_url: str) -> None:
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": db_url}
    proc = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise BenchError(f"flask db upgrade failed:\n{proc.stdout}{proc.stderr}")


def insert_event(db_url: str, tmp: Path) -> dict:
    """One open event whose capacity is never reached; returns what the load needs of it."""
    from confreg import create_app
    from confreg.extensions import db
    from tests.conftest import make_event, registration_form

    app = create_app("config.Config", SQLALCHEMY_DATABASE_URI=db_url, MAIL_OUTBOX_DIR=None,
                     WORKER_BROKER_URL=f"sqlite:///{tmp / 'setup-queue.db'}")
    with app.app_context():
        event = make_event(key=f"bench-{uuid.uuid4().hex[:6]}", capacity=1_000_000_000)
        form = registration_form(event, attendees=1, unit_name=None)
        info = {"id": event.id, "key": event.key, "form": form,
                "path": f"/events/{event.key}/register"}
        db.session.remove()
        db.engine.dispose()
    return info


def _tables():
    from confreg.models import Attendee, AuditEntry, OutboundMail, Registration

    return (Registration.__table__, Attendee.__table__, AuditEntry.__table__,
            OutboundMail.__table__)


def mail_statuses(engine, event_id: int) -> Counter:
    """The event's outbox rows by status."""
    from sqlalchemy import func, select

    reg, _, _, mail = _tables()
    with engine.connect() as conn:
        return Counter(dict(conn.execute(
            select(mail.c.status, func.count()).join(reg, mail.c.registration_id == reg.c.id)
            .where(reg.c.event_id == event_id).group_by(mail.c.status)).all()))


def verify_database(db_url: str, event_id: int, tokens: list[str]) -> dict:
    """Count what the run stored for the event and look up every 302's private link."""
    from sqlalchemy import create_engine, func, select

    reg, att, audit, mail = _tables()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            hashes = set(conn.execute(
                select(reg.c.token_hash).where(reg.c.event_id == event_id)).scalars())
            attendees = conn.execute(select(func.count()).select_from(att)
                                     .where(att.c.event_id == event_id)).scalar_one()
            audits = conn.execute(select(func.count()).select_from(audit).where(
                audit.c.event_id == event_id, audit.c.action == "registration.created")
            ).scalar_one()
            mails = conn.execute(
                select(mail.c.id, mail.c.status, mail.c.created_at, mail.c.sent_at)
                .join(reg, mail.c.registration_id == reg.c.id)
                .where(reg.c.event_id == event_id)).all()
    finally:
        engine.dispose()
    missing = sum(1 for t in tokens if hashlib.sha256(t.encode()).hexdigest() not in hashes)
    delays = sorted((m.sent_at - m.created_at).total_seconds() * 1000
                    for m in mails if m.sent_at is not None)
    return {"registrations": len(hashes), "attendees": attendees, "audit_entries": audits,
            "tokens": len(tokens), "distinct_tokens": len(set(tokens)), "missing": missing,
            "mail": dict(Counter(m.status for m in mails)), "mail_ids": [m.id for m in mails],
            "mail_delay_ms": delays}


def outbox_files(outbox: Path) -> Counter:
    """Mail id -> number of .eml files the worker wrote for it."""
    files = Counter()
    for path in outbox.glob("*.eml") if outbox.exists() else ():
        match = EML_ID_RE.match(path.name)
        files[int(match.group(1)) if match else -1] += 1
    return files


# --- CPU accounting ----------------------------------------------------------------

def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()  # state [0], ppid [1], ..., utime [11]
    except OSError:
        return None


def children_cpu_seconds(parents: list[int]) -> float | None:
    """CPU time (user + system) used so far by the children of these processes (the
    workers of a gunicorn or nginx master), those already reaped included; None off Linux."""
    if not os.path.isdir("/proc"):
        return None
    ticks = 0
    wanted = set(parents)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields and int(fields[1]) in wanted:
                ticks += int(fields[11]) + int(fields[12])
    for pid in parents:  # cutime, cstime: workers that exited (gunicorn's max_requests)
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of one process, all its threads."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else None


def postgres_cpu_probe():
    """A probe of the local PostgreSQL server's CPU (postmaster and every backend, whoever
    they serve), or None when no postgres process runs here."""
    if not os.path.isdir("/proc"):
        return None
    comms = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                comms[int(entry)] = Path(f"/proc/{entry}/comm").read_text().strip()
    masters = []
    for pid, comm in comms.items():
        fields = _stat_fields(pid) if comm == "postgres" else None
        if fields and comms.get(int(fields[1])) != "postgres":
            masters.append(pid)
    if not masters:
        return None
    return lambda: sum(filter(None, [children_cpu_seconds(masters)]
                              + [process_cpu_seconds(pid) for pid in masters]))


def machine_busy_seconds() -> float | None:
    """CPU time all cores spent not idle, everybody's, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except OSError:
        return None
    return (sum(values) - values[3] - values[4]) / CLK_TCK  # minus idle, iowait


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


# --- servers -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command() -> list[str]:
    exe = Path(sys.executable).parent / "gunicorn"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]


def http_get(port: int, path: str, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Set-Cookie"), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def wait_ready(name: str, proc: subprocess.Popen, port: int, ready_path: str,
               log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n"
                             + log_path.read_text()[-3000:])
        with contextlib.suppress(OSError):
            status, _, _ = http_get(port, ready_path)
            if status == 200:
                return
            raise BenchError(f"GET {ready_path} on {name} answered {status}:\n"
                             + log_path.read_text()[-3000:])
        if time.monotonic() > deadline:
            raise BenchError(f"{name} not answering after 60 s:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)


@contextlib.contextmanager
def gunicorn(name: str, app_spec: str, env: dict, options: list[str], ready_path: str,
             tmp: Path):
    """Serve app_spec with gunicorn on a free port until the block ends; yield port, pid."""
    port = free_port()
    log_path = tmp / f"gunicorn-{name}.log"
    cmd = gunicorn_command() + options + ["-b", f"127.0.0.1:{port}", app_spec]
    with open(log_path, "w") as log:
        proc = CHILDREN.start(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    try:
        wait_ready(f"gunicorn ({name})", proc, port, ready_path, log_path)
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


NGINX_CONF = """\
# bench/register.py --nginx: deploy/nginx/confreg.conf's proxying, plain HTTP on loopback.
daemon off;
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream confreg {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location / {{
            proxy_pass http://confreg;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout http_502;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(name: str, upstream_ports: list[int], ready_path: str, tmp: Path):
    """nginx in front of the upstream ports on a free port until the block ends."""
    if not shutil.which("nginx"):
        raise BenchError("nginx is not installed (Debian: apt-get install nginx-light)")
    folder = tmp / f"nginx-{name}"
    folder.mkdir()
    port = free_port()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n"
                      for p in upstream_ports)
    conf = folder / "nginx.conf"
    # Started by root, nginx's workers would run as nobody, who cannot enter the temp dir
    # (mode 0700) for its temp files: they run as the user running the bench instead.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, dir=folder, port=port, servers=servers))
    cmd = ["nginx", "-p", str(folder), "-c", str(conf)]
    check = subprocess.run(cmd + ["-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise BenchError(f"nginx -t failed:\n{check.stderr}")
    log_path = folder / "error.log"
    with open(folder / "stderr.log", "w") as log:
        proc = CHILDREN.start(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_ready(f"nginx ({name})", proc, port, ready_path, log_path)
        yield port, proc.pid
    finally:
        CHILDREN.stop(proc, signal.SIGQUIT, grace=10.0)  # QUIT: graceful shutdown


@contextlib.contextmanager
def serve(args, name: str, app_spec: str, env: dict, ready_path: str, tmp: Path):
    """Serve an app as the run's set-up says; yield the port to load and its CPU probes.

    Direct: one gunicorn with --workers sync workers.  --nginx: --instances gunicorn
    instances with deploy/gunicorn.conf.py, behind one nginx."""
    if not args.nginx:
        with gunicorn(name, app_spec, env, ["-w", str(args.workers)], ready_path,
                      tmp) as (port, pid):
            yield port, {"app": lambda: children_cpu_seconds([pid])}
        return
    with contextlib.ExitStack() as stack:
        instances = [stack.enter_context(gunicorn(f"{name}-{i + 1}", app_spec, env,
                                                  ["--config", str(GUNICORN_CONF)],
                                                  ready_path, tmp))
                     for i in range(args.instances)]
        pids = [pid for _, pid in instances]
        port, nginx_pid = stack.enter_context(nginx(name, [p for p, _ in instances],
                                                    ready_path, tmp))
        yield port, {"app": lambda: children_cpu_seconds(pids),
                     "nginx": lambda: children_cpu_seconds([nginx_pid])}


@contextlib.contextmanager
def flask_worker(env: dict, db_url: str, threads: int, tmp: Path):
    """A real `flask worker` (huey's consumer, scheduler on) until the block ends."""
    from sqlalchemy import create_engine, func, select

    from confreg.models import WorkerHeartbeat

    log_path = tmp / "worker.log"
    cmd = [sys.executable, "-m", "flask", "worker", "--workers", str(threads)]
    with open(log_path, "w") as log:
        proc = CHILDREN.start(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    engine = create_engine(db_url)
    try:
        deadline = time.monotonic() + 60
        while True:  # it records its first heartbeat just before it starts consuming
            if proc.poll() is not None:
                raise BenchError(f"flask worker exited with {proc.returncode}:\n"
                                 + log_path.read_text()[-3000:])
            with engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(WorkerHeartbeat.__table__)
                                ).scalar_one():
                    break
            if time.monotonic() > deadline:
                raise BenchError("flask worker not started after 60 s:\n"
                                 + log_path.read_text()[-3000:])
            time.sleep(0.2)
        yield proc
    finally:
        engine.dispose()
        # SIGINT: huey finishes the tasks it is running, then exits.
        CHILDREN.stop(proc, signal.SIGINT, grace=30.0)


def wait_for_mail(db_url: str, event_id: int, worker: subprocess.Popen,
                  timeout: float) -> dict:
    """Wait (bounded) until none of the event's mail is pending or being sent."""
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    started = time.monotonic()
    try:
        while True:
            statuses = mail_statuses(engine, event_id)
            waiting = statuses.get("pending", 0) + statuses.get("sending", 0)
            waited = time.monotonic() - started
            if not waiting:
                return {"drained": True, "seconds": waited, "worker_alive": True}
            if worker.poll() is not None or waited > timeout:
                return {"drained": False, "seconds": waited, "waiting": waiting,
                        "worker_alive": worker.poll() is None}
            time.sleep(0.25)
    finally:
        engine.dispose()


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


def plain_sessions(form: dict, count: int) -> list[dict]:
    """The same requests for the same-work baseline, which checks no session or CSRF token:
    the same fields, with a cookie and a token of about a real one's length."""
    base = {k: v for k, v in form.items() if k != "unit_name"}
    body = urlencode({**base, "csrf_token": "x" * 91}) + "&unit_name="
    return [{"cookie": "session=" + "x" * 100, "body": body} for _ in range(count)]


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


def load(loadgen: str, port: int, cpu: dict, url_path: str, mode: str, seconds: int, args,
         tmp: Path, label: str, sessions: list[dict] | None) -> dict:
    """Load one server; cpu maps a name ("app", "nginx", "worker") to a CPU-seconds probe."""
    sessions_file = None
    if loadgen == "wrk" and sessions:
        sessions_file = tmp / f"sessions-{label}.lua"
        write_lua_sessions(sessions_file, url_path, sessions, args.wrk_threads)
    cpu_before = {name: probe() for name, probe in cpu.items()}
    busy_before = machine_busy_seconds()
    if loadgen == "wrk":
        result = run_wrk(port, url_path, mode, seconds, args.concurrency, args.wrk_threads, tmp,
                         label, sessions_file)
    else:
        result = run_python(port, url_path, mode, seconds, args.concurrency, label, sessions)
    busy_after = machine_busy_seconds()
    result["cpu_s"] = {}
    for name, probe in cpu.items():
        after = probe()
        if after is not None and cpu_before[name] is not None:
            result["cpu_s"][name] = after - cpu_before[name]
    if busy_before is not None and len(result["cpu_s"]) == len(cpu):
        # Everything else the machine did meanwhile: other users, the database server, us.
        result["other_cpu_s"] = max(0.0, (busy_after - busy_before) - result["loadgen_cpu_s"]
                                    - sum(result["cpu_s"].values()))
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
    p.add_argument("--concurrency", type=int, default=TARGET_CONNECTIONS,
                   help="concurrent client connections")
    p.add_argument("--db", choices=("sqlite", "postgres"),
                   help="default: sqlite; postgres with --nginx")
    p.add_argument("--nginx", action="store_true",
                   help="the scale-out set-up: nginx in front of --instances gunicorn instances "
                        "(deploy/gunicorn.conf.py), PostgreSQL, the worker's queue in Redis")
    p.add_argument("--instances", type=int, default=2, help="gunicorn instances with --nginx")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
                   help="PostgreSQL server (any existing database; throwaway ones are created)")
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
                   help="Redis for the worker's queue on PostgreSQL (a queue of its own)")
    p.add_argument("--workers", type=int, default=2 * cores + 1,
                   help="gunicorn sync workers for every app, without --nginx (2 x cores + 1)")
    p.add_argument("--worker-threads", type=int, default=2,
                   help="threads of the `flask worker` that sends the mail")
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                   help="auto: wrk if installed, else Python threads")
    p.add_argument("--wrk-threads", type=int, default=max(1, min(2, cores // 2)),
                   help="wrk threads (few, so wrk leaves the CPU to the servers)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--keep", action="store_true",
                   help="keep the temp dir (databases, logs, outbox, nginx conf)")
    args = p.parse_args(argv)
    if args.seconds < 1 or args.warmup < 0 or args.concurrency < 1 or args.workers < 1 \
            or args.instances < 1 or args.worker_threads < 1:
        p.error("--seconds >= 1, --warmup >= 0; --concurrency, --workers, --instances, "
                "--worker-threads >= 1")
    if args.nginx and args.db == "sqlite":
        p.error("--nginx is the PostgreSQL scale-out set-up")
    args.db = args.db or ("postgres" if args.nginx else "sqlite")
    args.wrk_threads = max(1, min(args.wrk_threads, args.concurrency))
    args.cores = cores
    return args


def bench(args, tmp: Path) -> dict:
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    elif loadgen == "wrk" and not shutil.which("wrk"):
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    sys.path.insert(0, str(ROOT))
    load_before = load_average()

    with contextlib.ExitStack() as stack:
        app_db = stack.enter_context(fresh_database(args.db, tmp, args.pg_url, "app"))
        base_db = stack.enter_context(fresh_database(args.db, tmp, args.pg_url, "samework"))
        queue = stack.enter_context(worker_queue(args.db, tmp, args.redis_url))
        for url in (app_db, base_db):
            run_migrations(url)
        event, base_event = insert_event(app_db, tmp), insert_event(base_db, tmp)
        outbox = tmp / "outbox"
        common = {k: v for k, v in os.environ.items()
                  if k not in ("FLASK_DEBUG", "CONFREG_CONFIG")}  # the development config
        common.update(SECRET_KEY=uuid.uuid4().hex, FLASK_APP="wsgi.py",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")])))
        if args.nginx:
            common.update(PROXY_FIX_X_FOR="1", PROXY_FIX_X_PROTO="1")
        base_env = {**common, "DATABASE_URL": base_db}
        app_env = {**common, **queue, "DATABASE_URL": app_db, "MAIL_OUTBOX_DIR": str(outbox)}
        runs = {}

        postgres = postgres_cpu_probe() if args.db == "postgres" else None

        def measure(kind: str, port: int, cpu: dict, path: str, mode: str, sessions) -> None:
            if postgres is not None:
                cpu["db"] = postgres
            if args.warmup:
                runs[f"{kind}_warmup"] = load(loadgen, port, cpu, path, mode, args.warmup, args,
                                              tmp, f"{kind}-w", sessions)
            runs[kind] = load(loadgen, port, cpu, path, mode, args.seconds, args, tmp,
                              f"{kind}-m", sessions)

        with serve(args, "bare", "bench.bare_app:app", common, "/", tmp) as (port, cpu):
            measure("bare", port, cpu, "/", "get", None)

        with serve(args, "samework", "bench.samework_app:app", base_env, "/healthz",
                   tmp) as (port, cpu):
            measure("samework", port, cpu, base_event["path"], "post",
                    plain_sessions(base_event["form"], args.concurrency))

        with flask_worker(app_env, app_db, args.worker_threads, tmp) as worker:
            worker_cpu_start = process_cpu_seconds(worker.pid)
            with serve(args, "app", "wsgi:app", app_env, event["path"], tmp) as (port, cpu):
                cpu["worker"] = lambda: process_cpu_seconds(worker.pid)
                sessions = fetch_sessions(port, event["path"], event["form"], args.concurrency)
                measure("register", port, cpu, event["path"], "post", sessions)
            # gunicorn has stopped: every request it accepted is finished.
            mail_wait = wait_for_mail(app_db, event["id"], worker, MAIL_WAIT_SECONDS)
            worker_cpu_end = process_cpu_seconds(worker.pid)

        checks = {}
        for kind, db_url, ev in (("samework", base_db, base_event), ("register", app_db, event)):
            post_runs = [r for k, r in runs.items() if k.startswith(kind)]
            check = verify_database(db_url, ev["id"], [t for r in post_runs for t in r["tokens"]])
            check["answered_302"] = sum(r["ok"] for r in post_runs)
            check["cut_off"] = sum(r["cut_off"] for r in post_runs)
            checks[kind] = check
        checks["register"]["mail_files"] = outbox_files(outbox)
        checks["register"]["mail_wait"] = mail_wait
        if worker_cpu_start is not None and worker_cpu_end is not None:
            checks["register"]["worker_cpu_s"] = worker_cpu_end - worker_cpu_start
        db_label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
        if args.db == "postgres":
            db_label += " (throwaway databases, dropped at the end)"
    return {"loadgen": loadgen, "db": args.db, "db_label": db_label, "runs": runs,
            "checks": checks, "event_key": event["key"], "queue": queue["WORKER_BROKER_URL"],
            "load_average": [load_before, load_average()]}


# --- the report ----------------------------------------------------------------------

def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def print_table(args, runs: dict) -> None:
    rows = [("bare Flask GET /", runs["bare"]), ("same-work POST", runs["samework"]),
            ("registration POST", runs["register"])]
    cols = ["app"] + (["nginx"] if args.nginx else []) + ["worker"] \
        + (["db"] if any("db" in r["cpu_s"] for _, r in rows) else [])
    print(f"{'':19}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'requests':>10}"
          f"{'errors':>8}  {'CPU ms/request':^{8 * len(cols)}} {'% of cores':^14}{'load-gen':>9}")
    print(f"{'':19}{'':>8}{'':>8}{'':>8}{'':>8}{'':>10}{'':>8}  "
          + "".join(f"{c:>8}" for c in cols) + f" {'app':>7}{'others':>7}{'% core':>9}")
    for name, r in rows:
        dur = r["duration_s"] or float("nan")
        per_req = "".join(
            f"{_fmt(r['cpu_s'].get(c, math.nan) * 1000 / max(r['ok'], 1), '.2f'):>8}"
            for c in cols)
        app_use = (f"{r['cpu_s']['app'] / dur / args.cores * 100:.0f}%"
                   if "app" in r["cpu_s"] else "-")
        other = (f"{r['other_cpu_s'] / dur / args.cores * 100:.0f}%"
                 if "other_cpu_s" in r else "-")
        print(f"{name:19}{r['rps']:8.1f}{r['p50_ms']:8.1f}{r['p99_ms']:8.1f}{r['max_ms']:8.1f}"
              f"{r['requests']:10d}{r['errors']:8d}  {per_req} {app_use:>7}{other:>7}"
              f"{r['loadgen_cpu_s'] / dur * 100:8.0f}%")


def check_stored(label: str, check: dict) -> bool:
    """Print how the stored registrations match the 302s; True if they do."""
    stored, answered, cut = check["registrations"], check["answered_302"], check["cut_off"]
    extra = stored - answered
    lost_ok = check["missing"] == 0 and check["distinct_tokens"] == check["tokens"] == answered
    count_ok = stored == answered or (0 < extra <= cut)
    rows_ok = check["attendees"] == check["audit_entries"] == sum(check["mail"].values()) == stored
    print(f"{label}: stored registrations {stored} vs 302s answered {answered} (warm-up "
          "included): "
          + ("equal" if extra == 0 else
             f"{extra:+d}" + (f" — within the {cut} POSTs wrk cut off unanswered at its deadline"
                              if 0 < extra <= cut else " — MISMATCH")))
    print(f"  every 302's private link found in the database: "
          f"{'yes' if lost_ok else 'NO'} ({check['missing']} missing of {check['tokens']}); "
          f"attendees {check['attendees']}, audit entries {check['audit_entries']}, outbox rows "
          f"{sum(check['mail'].values())} (one each per registration: "
          f"{'yes' if rows_ok else 'NO'})")
    return lost_ok and count_ok and rows_ok


def check_mail(check: dict, args) -> bool:
    """Print what the worker did with the registrations' mail; True if all went out once."""
    stored, wait, files = check["registrations"], check["mail_wait"], check["mail_files"]
    ids = set(check["mail_ids"])
    unwritten = len(ids - set(files))
    twice = sum(1 for i, n in files.items() if i in ids and n > 1)
    stray = sum(n for i, n in files.items() if i not in ids)
    sent = check["mail"].get("sent", 0)
    delays = check["mail_delay_ms"]
    print(f"confirmation mail ({args.worker_threads}-thread `flask worker`, queue "
          f"{'Redis' if args.db == 'postgres' else 'SQLite file'}): rows {dict(check['mail'])}; "
          + (f"all sent {wait['seconds']:.1f} s after the load ended" if wait["drained"] else
             f"{wait['waiting']} still waiting after {wait['seconds']:.0f} s"
             + ("" if wait["worker_alive"] else " — the worker EXITED (see worker.log)")))
    print(f"  .eml files in the outbox {sum(files.values())}: registrations without one "
          f"{unwritten}, written twice {twice}, not ours {stray}")
    if delays:
        print(f"  queued → sent: p50 {percentile(delays, 50):.0f} ms, p99 "
              f"{percentile(delays, 99):.0f} ms, max {delays[-1]:.0f} ms")
    if check.get("worker_cpu_s") is not None and sent:
        print(f"  worker CPU {check['worker_cpu_s'] * 1000 / sent:.2f} ms per mail sent "
              "(from its start to the last mail, idle polling included)")
    return (wait["drained"] and sent == stored == len(ids) and unwritten == 0 and twice == 0
            and stray == 0)


def report(args, result: dict) -> bool:
    runs, checks = result["runs"], result["checks"]
    bare, same, reg = runs["bare"], runs["samework"], runs["register"]
    ratio = reg["rps"] / same["rps"] if same["rps"] else 0.0
    bare_ratio = reg["rps"] / bare["rps"] if bare["rps"] else 0.0
    gen = (f"wrk, {args.wrk_threads} thread(s)" if result["loadgen"] == "wrk"
           else "Python threads" + (" (wrk not found)" if args.loadgen == "auto" else ""))
    if args.nginx:
        setup = (f"nginx → {args.instances} × gunicorn (deploy/gunicorn.conf.py: gthread, "
                 f"2 workers × 4 threads each)")
    else:
        setup = f"gunicorn -w {args.workers} (sync)"
    p99_applies = args.nginx or args.db == "sqlite"
    print()
    print(f"confreg registration benchmark — {result['db_label']}")
    print(f"{setup} on {args.cores} core(s); load: {gen}, {args.concurrency} connections, "
          f"{args.seconds} s measured after {args.warmup} s warm-up, per app")
    print(f"load average before {result['load_average'][0]}, after {result['load_average'][1]} "
          "('others' below: CPU used meanwhile by processes outside this run)")
    print()
    print_table(args, runs)
    print()
    for key in ("bare_warmup", "bare", "samework_warmup", "samework", "register_warmup",
                "register"):
        if key in runs:
            r = runs[key]
            sock = {k: v for k, v in r["socket_error_detail"].items() if v}
            print(f"  {key:16} statuses {dict(sorted(r['statuses'].items()))}"
                  + (f", socket errors {sock}" if sock else "")
                  + (f", {r['cut_off']} POST(s) cut off at the deadline" if r["cut_off"] else ""))
    print()
    print(f"ratio registration req/s ÷ same-work req/s = {reg['rps']:.1f} ÷ {same['rps']:.1f} "
          f"= {ratio:.3f}   (target ≥ {TARGET_RATIO})")
    print(f"registration p99 {reg['p99_ms']:.1f} ms   (target ≤ {TARGET_P99_MS:.0f} ms at "
          f"{TARGET_CONNECTIONS} connections"
          + ("" if p99_applies else " on SQLite and on PostgreSQL behind nginx: here information")
          + (f"; this run used {args.concurrency}" if args.concurrency != TARGET_CONNECTIONS
             else "") + ")")
    print(f"ratio registration req/s ÷ bare GET req/s = {bare_ratio:.3f}   (information; "
          f"issue 2's target was ≥ {ISSUE2_BARE_RATIO} on SQLite)")
    app_ms = {k: r["cpu_s"]["app"] / r["ok"] for k, r in runs.items()
              if "app" in r["cpu_s"] and r["ok"]}
    if "samework" in app_ms and "register" in app_ms:
        result["cpu_ratio"] = app_ms["samework"] / app_ms["register"]
        print(f"app CPU per request, same-work ÷ registration = {app_ms['samework'] * 1000:.2f} ÷ "
              f"{app_ms['register'] * 1000:.2f} ms = {result['cpu_ratio']:.3f}   (about the best "
              "ratio if both were purely CPU-bound)")
    print()
    same_ok = check_stored("same-work baseline", checks["samework"])
    reg_ok = check_stored("registration", checks["register"])
    mail_ok = check_mail(checks["register"], args)

    # The ratio's two sides must be clean; the bare GET is information (its errors are shown).
    errors = sum(r["errors"] for k, r in runs.items() if not k.startswith("bare"))
    bare_errors = sum(r["errors"] for k, r in runs.items() if k.startswith("bare"))
    if bare_errors:
        print(f"note: the bare GET had {bare_errors} error(s)"
              + (" (see nginx-bare/error.log in a --keep run)" if args.nginx else ""))
    reasons = []
    if ratio < TARGET_RATIO:
        reasons.append(f"ratio {ratio:.3f} < {TARGET_RATIO}")
    if p99_applies and not reg["p99_ms"] <= TARGET_P99_MS:
        reasons.append(f"p99 {reg['p99_ms']:.0f} ms > {TARGET_P99_MS:.0f} ms")
    if errors:
        reasons.append(f"{errors} error(s) (warm-up and same-work included)")
    if not reg_ok:
        reasons.append("stored registrations do not match the 302s")
    if not same_ok:
        reasons.append("the same-work baseline's rows do not match its 302s")
    if not mail_ok:
        reasons.append("confirmation mail not sent exactly once for every registration")
    passed = not reasons
    print()
    print(f"SLO ({'scale-out: ' if args.nginx else ''}{setup}, {result['db_label'].split()[0]}, "
          f"{args.concurrency} connections): {reg['rps']:.1f} registrations/s, "
          f"p50 {reg['p50_ms']:.1f} ms, p99 {reg['p99_ms']:.1f} ms, "
          f"{reg['errors'] + runs.get('register_warmup', {}).get('errors', 0)} errors")
    if passed:
        print(f"RESULT: PASS — ratio {ratio:.3f} ≥ {TARGET_RATIO}"
              + (f", p99 {reg['p99_ms']:.0f} ms ≤ {TARGET_P99_MS:.0f} ms" if p99_applies else "")
              + ", 0 errors, no registration or mail lost")
    else:
        print(f"RESULT: FAIL — {'; '.join(reasons)}")
    result.update(ratio=ratio, bare_ratio=bare_ratio, passed=passed, reasons=reasons)
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
            for check in result["checks"].values():
                check.pop("mail_ids", None)
                check.pop("mail_delay_ms", None)
                files = check.pop("mail_files", None)
                if files is not None:
                    check["eml_files"] = sum(files.values())
            args.json.write_text(json.dumps(result, indent=2, default=str, ensure_ascii=False))
        return 0 if passed else 1
    except BenchError as exc:
        print(f"bench/register.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers and cleaning up", file=sys.stderr)
        return 130
    finally:
        # Never leave a server, the worker or wrk behind, even on a second Ctrl-C.
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
