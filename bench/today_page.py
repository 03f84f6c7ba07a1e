"""Benchmark: the patient's Today page on the real path, against hello-world served the
same way, on SQLite and on PostgreSQL.

What it measures
    Requests per second of ``GET /patient/today`` served by ``gunicorn -k sync -w <cores>``
    on 127.0.0.1 with the production configuration (``APP_ENV=production``: the
    ``__Host-`` cookie, trusted hosts, Redis rate-limit storage, the production engine
    options), divided by the requests per second of a one-route Flask "Hello, World!"
    app behind an identical gunicorn, with the same after-request gzip hook
    (app/speedups.py ``compress``). Every request carries ``Accept-Encoding: gzip`` and
    the site's Host header, as a browser's would. The Today requests rotate over
    ``--patients`` (300) signed-in patients at different days of their course (0 to 44
    days after treatment, two protocols), one session cookie per request, picked in turn
    by a wrk Lua script, so no one patient's rows stay hot. Load comes from ``wrk -t1
    -c8``. Hello and Today runs alternate pair by pair; the median of the per-pair ratios
    is compared with the project's goal: Today >= 30 % of hello-world on each database
    (PG-W1, issue 22 point 2), with Today's p99/p50 at most 3 (PG-W3). It also prints the
    SQL statements one Today request makes (in-process, PG-W4).

Why a ratio, interleaved
    Absolute req/s depends on the machine and on whatever else it is doing, and wrk runs
    on the same cores as the servers. Measuring the reference in the same run, alternating
    with the page, lets that noise cancel. A pair whose hello p99/p50 exceeds 2 ran on a
    busy machine: it is marked ``noisy`` and left out of the median. Fewer than
    ``--min-quiet`` quiet pairs (default 3) means the machine was too busy to judge: the
    run says so and fails with exit status 2, rather than judging on noisy pairs.

Setup
    Per database, a scratch database: an SQLite file under the project folder (production
    refuses one under /tmp; removed afterwards) or a PostgreSQL database made on the
    ``--postgres`` server and dropped afterwards. ``flask db upgrade`` and ``flask dev
    seed-demo`` (development settings) load the schema, the demo clinic and its signed-off
    protocols; the bench adds the patients and signs each in through the real form
    (CSRF on, real argon2 cost; the sign-in rate limit is raised for this one server).
    ``--engine-options`` (JSON) replaces SQLALCHEMY_ENGINE_OPTIONS, to compare e.g.
    ``{"pool_pre_ping": true}`` with the shipped options.

Usage
    .venv/bin/python bench/today_page.py [--databases sqlite,postgresql] [--patients 300]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--pairs 5] [--min-quiet 3] [--duration 5] [--connections 8]
        [--engine-options JSON]

Exit status: 0 PASS on every database, 1 BELOW AIM on any, 2 could not measure (wrk
missing, a server did not start, sign-in failed, wrk saw errors, or too few quiet pairs).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
AIM = 0.30  # the project's goal (PG-W1); issue 22 point 1: no looser aim
TAIL_AIM = 3.0  # Today's p99/p50 (PG-W3)
NOISY = 2.0  # hello p99/p50 above this: the machine was busy during the pair
PASSWORD = "demo patient 2026"  # noqa: S105 - the demo patients' published password
DOMAIN = "today.bench.example"
HOST = "care.bench.example"
COOKIE = "__Host-session"  # the production session cookie (config.ProductionConfig)
DAYS = 45  # patients are spread over days 0..44 after treatment
HELLO_APP = '''"""Bare Flask hello-world: the reference the Today page is measured against,
with the app's own gzip hook, so both are served the same way."""
from flask import Flask

from app.speedups import compress

app = Flask(__name__)
app.after_request(compress)


@app.get("/")
def hello():
    return "Hello, World!"
'''


class BenchError(RuntimeError):
    """The benchmark could not measure; the message says why."""


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    bytes_per_response: float

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")


# ----------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def dev_env(url: str) -> dict[str, str]:
    """Development settings, for the CLI commands that load the schema and demo clinic."""
    env = dict(os.environ)
    env.update(APP_ENV="development", FLASK_APP="wsgi.py", FLASK_SQLALCHEMY_DATABASE_URI=url)
    return env


def production_env(url: str, engine_options: str | None) -> dict[str, str]:
    """The production configuration, as a deployment sets it (README, docs/deploy.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SCLERO_"))}
    env.update(
        APP_ENV="production",
        FLASK_APP="wsgi.py",
        PYTHONPATH=str(ROOT),
        FLASK_SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex,
        FLASK_SQLALCHEMY_DATABASE_URI=url,
        # One push key for every worker: production refuses a key made per process
        # when more than one process serves (config.py, stateless-app-servers.md).
        FLASK_VAPID_PRIVATE_KEY=_shared_push_key(),
        FLASK_VAPID_SUBJECT="mailto:it@bench.example",
        MAIL_DEFAULT_FROM="Clinic <noreply@bench.example>",
        SCLERO_BASE_URL=f"https://{HOST}",
        # Redis, as production; a database number of its own (nothing else uses 13).
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/13",
        # The bench signs in hundreds of patients from one address; the limit on the
        # sign-in page is not what is measured.
        SCLERO_SIGNIN_LIMIT="100000 per minute",
    )
    if url.startswith("sqlite"):
        env["FLASK_SCLERO_ALLOW_SQLITE"] = "1"
    if engine_options:
        env["FLASK_SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    return env


def _shared_push_key() -> str:
    """A fresh VAPID private key (base64url), as `flask notifications vapid-keygen` makes."""
    sys.path.insert(0, str(ROOT))
    from py_vapid import Vapid

    from app.adapters import push

    vapid = Vapid()
    vapid.generate_keys()
    return push.private_key_b64u(vapid)


def prepare_database(env: dict[str, str]) -> None:
    for args in (["db", "upgrade"], ["dev", "seed-demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def add_patients(url: str, count: int) -> list[str]:
    """``count`` patients of the demo clinic, treated 0 to DAYS-1 days ago on two
    protocols (so Today shows different tasks, restrictions and milestones); their emails."""
    sys.path.insert(0, str(ROOT))
    from datetime import datetime
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from app.models import Clinic
    from app.models import Patient
    from app.models import Role
    from app.models import Treatment
    from app.models import TreatmentStatus
    from app.models import User
    from app.security import hash_password
    from app.services import protocols
    from app.services.care import followup
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url)
    emails = []
    with app.app_context():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
        versions = {v.key: v for v in protocols.latest_for_clinic(clinic.id)}
        keys = [k for k in ("compression-72h", "compression-24h") if k in versions]
        password_hash = hash_password(PASSWORD)
        tz = ZoneInfo("Europe/London")
        now = datetime.now(tz)
        treatments = []
        for i in range(count):
            email = f"p{i:04d}@{DOMAIN}"
            user = User(email=email, name=f"Bench Patient {i}", role=Role.PATIENT)
            user.clinic_id = clinic.id
            user.password_hash = password_hash
            patient = Patient(user=user, clinic_id=clinic.id, timezone="Europe/London")
            treated = now - timedelta(days=i % DAYS, minutes=30)
            treatment = Treatment(
                patient=patient,
                protocol_version=versions[keys[i % len(keys)]],
                appointment_at=treated,
                treated_at=treated,
                status=TreatmentStatus.DONE,
                sclerosant="Polidocanol",
                form="liquid",
                areas="left calf",
            )
            db.session.add_all([user, patient, treatment])
            treatments.append(treatment)
            emails.append(email)
        db.session.flush()
        for treatment in treatments:
            followup.note_treatment(treatment)
        db.session.commit()
        db.engine.dispose()
    return emails


@contextlib.contextmanager
def scratch_database(kind: str, postgres: str) -> Iterator[str]:
    """A new empty database, removed afterwards: its SQLAlchemy URL."""
    import sqlalchemy as sa

    if kind == "sqlite":
        # Production refuses an SQLite file under a temporary folder: one in the project.
        folder = Path(tempfile.mkdtemp(prefix=".bench-today-", dir=ROOT))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    server = sa.engine.make_url(postgres)
    name = f"sclero_bench_today_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_gunicorn(module: str, cwd: Path, env: dict[str, str], log: Path) -> tuple:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "sync",
        "-w",
        str(cores()),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        module,
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, port


def wait_until_up(proc: subprocess.Popen, port: int, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn on port {port} exited:\n{log.read_text()}")
        try:
            fetch(port, "GET", "/")
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(
        f"gunicorn on port {port} did not answer within {timeout:.0f} s:\n{log.read_text()}"
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ----------------------------------------------------------------- sign-in


def fetch(port: int, method: str, path: str, headers=None, body: str | None = None):
    """One HTTP request for the site's host, without following redirects:
    (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read()
    finally:
        conn.close()


def session_cookie(headers) -> str | None:
    for raw in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie(raw)
        if COOKIE in jar:
            return jar[COOKIE].value
    return None


def sign_in(port: int, email: str) -> tuple[str, int]:
    """Sign ``email`` in through the real form (CSRF on); check their Today page.

    Returns the session cookie and the size of the gzipped Today page in bytes.
    """
    status, headers, body = fetch(port, "GET", "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body.decode())
    cookie = session_cookie(headers)
    if status != 200 or not token or not cookie:
        raise BenchError(f"GET /login: status {status}, csrf token or session cookie missing")
    form = urlencode({"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    status, headers, _ = fetch(
        port,
        "POST",
        "/login",
        {"Cookie": f"{COOKIE}={cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        form,
    )
    cookie = session_cookie(headers)
    if status not in (302, 303) or not cookie:
        raise BenchError(f"POST /login for {email}: status {status}; expected a redirect")
    status, headers, body = fetch(
        port, "GET", "/patient/today", {"Cookie": f"{COOKIE}={cookie}", "Accept-Encoding": "gzip"}
    )
    html = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else b""
    if status != 200 or b'name="sc-user"' not in html:
        raise BenchError(f"GET /patient/today for {email}: status {status}, not a gzipped page")
    return cookie, len(body)


def sign_in_all(port: int, emails: list[str]) -> list[tuple[str, int]]:
    """Every patient signed in (four at a time: argon2 is the slow part)."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda email: sign_in(port, email), emails))


# ----------------------------------------------------------------- SQL count


def count_sql(settings: dict, cookie: str) -> list[str]:
    """SQL statements of one (warm) Today request, in-process with the test client and
    the production configuration the server runs with."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db
    from config import ProductionConfig

    app = create_app(ProductionConfig, **settings)
    client = app.test_client()
    client.set_cookie(COOKIE, cookie, domain=HOST)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    base = f"https://{HOST}"
    if client.get("/patient/today", base_url=base).status_code != 200:  # warm
        raise BenchError("in-process GET /patient/today did not return 200")
    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get("/patient/today", base_url=base)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
    return statements


# ----------------------------------------------------------------- wrk


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_UNIT_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(out: str) -> Run:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if not (rps and p50 and p99):
        raise BenchError(f"could not read wrk output:\n{out}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += int(socket_errors.group(1)) + int(socket_errors.group(4))
    size = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB|TB) read", out)
    per_response = float(size.group(2)) * _UNIT_BYTES[size.group(3)] / max(int(size.group(1)), 1)
    return Run(float(rps.group(1)), _ms(*p50.groups()), _ms(*p99.groups()), errors, per_response)


LUA = """-- Every request as a browser sends it (gzip, the site's host), each with the next
-- patient's session cookie in turn (none for hello-world).
local cookies = {%(cookies)s}
local i = 0
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["Host"] = "%(host)s"
request = function()
  if #cookies > 0 then
    i = i %% #cookies + 1
    wrk.headers["Cookie"] = "%(name)s=" .. cookies[i]
  end
  return wrk.format("GET", "%(path)s")
end
"""


def lua_script(folder: Path, name: str, path: str, cookies: list[str]) -> Path:
    script = folder / f"{name}.lua"
    listed = ", ".join(f'"{c}"' for c in cookies)
    script.write_text(LUA % {"cookies": listed, "host": HOST, "name": COOKIE, "path": path})
    return script


def wrk(url: str, seconds: float, connections: int, script: Path) -> Run:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "--latency"]
    cmd += ["-s", str(script)]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


# ----------------------------------------------------------------- main


def check_is_the_page(run: Run, page_bytes: float) -> None:
    """wrk does not count redirects as errors: a lost session would benchmark /login's 302."""
    if run.bytes_per_response < page_bytes / 2:
        raise BenchError(
            f"Today responses averaged {run.bytes_per_response:.0f} bytes but the pages "
            f"average {page_bytes:.0f} bytes gzipped: the requests were not served the "
            "signed-in page"
        )


def measure(args, hello: tuple[str, Path], today: tuple[str, Path], page_bytes: float):
    wrk(*today[:1], 2, args.connections, today[1])  # warm-up: imports, templates, caches
    wrk(*hello[:1], 1, args.connections, hello[1])
    pairs = []
    print(
        f"{'pair':>4}  {'hello req/s':>11}  {'today req/s':>11}  {'ratio':>6}  "
        f"{'hello p50/p99 ms':>17}  {'today p50/p99 ms':>17}"
    )
    for i in range(1, args.pairs + 1):
        h = wrk(hello[0], args.duration, args.connections, hello[1])
        t = wrk(today[0], args.duration, args.connections, today[1])
        check_is_the_page(t, page_bytes)
        pairs.append((h, t))
        note = "  noisy (hello p99/p50 > 2)" if h.tail > NOISY else ""
        if h.errors or t.errors:
            note += f"  ERRORS hello={h.errors} today={t.errors}"
        print(
            f"{i:>4}  {h.rps:>11.0f}  {t.rps:>11.0f}  {t.rps / h.rps:>6.1%}  "
            f"{h.p50_ms:>7.2f} / {h.p99_ms:>7.2f}  "
            f"{t.p50_ms:>7.2f} / {t.p99_ms:>7.2f}{note}",
            flush=True,
        )
    return pairs


def verdict(pairs: list[tuple[Run, Run]], min_quiet: int, label: str) -> int:
    if any(h.errors or t.errors for h, t in pairs):
        print(f"{label} INVALID: wrk saw non-2xx/3xx responses or socket errors.")
        return 2
    quiet = [(h, t) for h, t in pairs if h.tail <= NOISY]
    left_out = len(pairs) - len(quiet)
    if len(quiet) < min_quiet:
        overall = statistics.median(t.rps / h.rps for h, t in pairs)
        print(
            f"{label} TOO NOISY: only {len(quiet)} of {len(pairs)} pair(s) were quiet (hello "
            f"p99/p50 <= {NOISY}); at least {min_quiet} are needed to judge. The median over "
            f"every pair was {overall:.1%}, shown for information only. Run again on a "
            "quieter machine or with more --pairs."
        )
        return 2
    ratio = statistics.median(t.rps / h.rps for h, t in quiet)
    tail = statistics.median(t.tail for _, t in quiet)
    if left_out:
        overall = statistics.median(t.rps / h.rps for h, t in pairs)
        print(
            f"{label} median ratio over all {len(pairs)} pairs: {overall:.1%} "
            f"({left_out} noisy pair(s) left out of the verdict)"
        )
    print(f"{label} median ratio today/hello: {ratio:.1%} over {len(quiet)} quiet pair(s)")
    print(f"{label} median today p99/p50: {tail:.2f} (aim <= {TAIL_AIM:g}, PG-W3)")
    misses = []
    if ratio < AIM:
        misses.append(f"Today reaches {ratio:.1%} of hello-world (aim >= {AIM:.0%})")
    if tail > TAIL_AIM:
        misses.append(f"Today's p99/p50 is {tail:.2f} (aim <= {TAIL_AIM:g})")
    if misses:
        print(f"{label} BELOW AIM: " + "; ".join(misses))
        return 1
    print(f"{label} PASS: Today reaches {ratio:.1%} of hello-world (aim >= {AIM:.0%})")
    return 0


def in_process_settings(url: str, env: dict[str, str]) -> dict:
    """The server's production settings, for an in-process app (the SQL count)."""
    import json

    settings = {
        "SECRET_KEY": env["FLASK_SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": url,
        "VAPID_PRIVATE_KEY": env["FLASK_VAPID_PRIVATE_KEY"],
        "VAPID_SUBJECT": env["FLASK_VAPID_SUBJECT"],
        "MAIL_DEFAULT_SENDER": env["MAIL_DEFAULT_FROM"],
        "SCLERO_BASE_URL": env["SCLERO_BASE_URL"],
        "RATELIMIT_STORAGE_URI": env["RATELIMIT_STORAGE_URI"],
        "SCLERO_ALLOW_SQLITE": url.startswith("sqlite"),
    }
    if "FLASK_SQLALCHEMY_ENGINE_OPTIONS" in env:
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = json.loads(env["FLASK_SQLALCHEMY_ENGINE_OPTIONS"])
    return settings


def run_one(args, kind: str, tmp: Path) -> int:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    with scratch_database(kind, args.postgres) as url:
        prepare_database(dev_env(url))
        emails = add_patients(url, args.patients)
        env = production_env(url, args.engine_options)
        (tmp / "hello.py").write_text(HELLO_APP)
        servers = []
        try:
            app_log, hello_log = tmp / f"app-{kind}.log", tmp / f"hello-{kind}.log"
            servers.append(start_gunicorn("wsgi:app", ROOT, env, app_log))
            servers.append(start_gunicorn("hello:app", tmp, env, hello_log))
            (app_proc, app_port), (hello_proc, hello_port) = servers
            wait_until_up(app_proc, app_port, app_log)
            wait_until_up(hello_proc, hello_port, hello_log)
            started = time.monotonic()
            logins = sign_in_all(app_port, emails)
            cookies = [c for c, _ in logins]
            page_bytes = statistics.mean(n for _, n in logins)
            statements = count_sql(in_process_settings(url, env), cookies[0])
            print(
                f"== {label}: production config, gunicorn -k sync -w {cores()} on 127.0.0.1; "
                f"wrk -t1 -c{args.connections} -d{args.duration:g}s with Accept-Encoding: gzip; "
                f"{args.pairs} interleaved pair(s); {len(cookies)} patients (days 0-{DAYS - 1}) "
                f"signed in in {time.monotonic() - started:.0f} s"
            )
            if args.engine_options:
                print(f"SQLALCHEMY_ENGINE_OPTIONS = {args.engine_options}")
            sizes = sorted(n for _, n in logins)
            print(f"Today pages gzipped: {sizes[0]}-{sizes[-1]} bytes (mean {page_bytes:.0f})")
            print(f"SQL statements per Today request (warm, in-process): {len(statements)}")
            for s in statements:
                print(f"    {s[:110]}{'...' if len(s) > 110 else ''}")
            pairs = measure(
                args,
                (f"http://127.0.0.1:{hello_port}/", lua_script(tmp, "hello", "/", [])),
                (
                    f"http://127.0.0.1:{app_port}/patient/today",
                    lua_script(tmp, "today", "/patient/today", cookies),
                ),
                page_bytes,
            )
            code = verdict(pairs, args.min_quiet, label)
            if code == 2:
                print(f"--- app server log ---\n{app_log.read_text()[-4000:]}")
            return code
        finally:
            for proc, _ in servers:
                stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="hello/today pairs (default 5)")
    parser.add_argument(
        "--min-quiet",
        type=int,
        default=3,
        help="quiet pairs needed for a verdict (default 3); fewer fails the run",
    )
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--patients", type=int, default=300, help="patients rotated (300)")
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="sqlite, postgresql or both"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server for the scratch database",
    )
    parser.add_argument("--engine-options", help="SQLALCHEMY_ENGINE_OPTIONS as JSON")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not kinds or set(kinds) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite, postgresql or both, separated by a comma")
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. Install it with:  sudo apt-get install -y wrk", file=sys.stderr
        )
        return 2
    codes = []
    try:
        with tempfile.TemporaryDirectory(prefix="sclerocare-bench-") as tmp:
            for kind in kinds:
                codes.append(run_one(args, kind, Path(tmp)))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2 if 2 in codes else max(codes)


if __name__ == "__main__":
    sys.exit(main())
