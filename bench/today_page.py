"""Benchmark: the patient's Today page against a bare Flask hello-world, in the same run.

What it measures
    Requests per second of ``GET /patient/today`` (signed in as the demo patient on day 3,
    so the page has tasks, restrictions, "normal now" and the red-flag help box) served by
    ``gunicorn -k sync -w <cores>`` on 127.0.0.1, divided by the requests per second of a
    one-route Flask "Hello, World!" app behind an identical gunicorn. Load comes from
    ``wrk -t1 -c8`` (defaults). Hello and Today runs alternate pair by pair, and the median
    of the per-pair ratios is compared with the project's goal: Today >= 30 % of
    hello-world (performance anchors PG-W1; issue 22 point 1 keeps the aim at the goal).
    It also prints p50/p99 latencies (PG-W3) and
    the number of SQL statements one Today request makes, counted in-process with the
    Flask test client and a ``before_cursor_execute`` listener (PG-W4, the N+1 guard).

Why a ratio, interleaved
    Absolute req/s depends on the machine and on whatever else it is doing, and wrk runs
    on the same cores as the servers. Measuring the reference in the same run, alternating
    with the page, lets that noise cancel, so the figure means the same on a laptop, in CI
    or on a 2-core VM. A pair whose hello p99/p50 exceeds 2 ran on a busy machine: it is
    marked ``noisy`` and left out of the median. Fewer than ``--min-quiet`` quiet pairs
    (default 3) means the machine was too busy to judge: the run says so and fails with
    exit status 2, rather than judging on noisy pairs (issue 22 point 1).

Setup
    A temporary directory holds a fresh SQLite database (``flask db upgrade`` and
    ``flask dev seed-demo`` with ``APP_ENV=development``) and the hello-world module. The
    app runs with development settings (CSRF on, real argon2 cost), so the benchmark signs
    in once through the real form to get a session cookie.

Usage
    .venv/bin/python bench/today_page.py [--pairs 5] [--min-quiet 3] [--duration 5]
        [--connections 8]

Exit status: 0 PASS, 1 BELOW AIM, 2 could not measure (wrk missing, a server did not
start, sign-in failed, wrk saw errors, or too few quiet pairs).
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
AIM = 0.30  # the project's goal (PG-W1); issue 22 point 1: no looser aim
NOISY = 2.0  # hello p99/p50 above this: the machine was busy during the pair
EMAIL = "day3@demo.sclerocare.example"
PASSWORD = "demo patient 2026"  # noqa: S105 - the published demo login
HEADING = "Day 3 after your treatment"
HELLO_APP = '''"""Bare Flask hello-world: the reference the Today page is measured against."""
from flask import Flask

app = Flask(__name__)


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


def app_env(db_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="development",
        FLASK_APP="wsgi.py",
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}",
    )
    return env


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


def wait_until_up(proc: subprocess.Popen, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn on port {port} exited:\n{log.read_text()}")
        try:
            fetch(port, "GET", "/")
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"gunicorn on port {port} did not answer within {timeout:.0f} s")


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
    """One HTTP request without following redirects: (status, headers, text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def session_cookie(headers) -> str | None:
    for raw in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie(raw)
        if "session" in jar:
            return jar["session"].value
    return None


def sign_in(port: int) -> tuple[str, int]:
    """Sign in as the day-3 demo patient through the real form (CSRF on).

    Returns the session cookie and the size of the Today page body in bytes.
    """
    status, headers, html = fetch(port, "GET", "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    cookie = session_cookie(headers)
    if status != 200 or not token or not cookie:
        raise BenchError(f"GET /login: status {status}, csrf token or session cookie missing")
    form = urlencode(
        {"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1), "next": ""}
    )
    status, headers, _ = fetch(
        port,
        "POST",
        "/login",
        {"Cookie": f"session={cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        form,
    )
    cookie = session_cookie(headers)
    if status not in (302, 303) or not cookie:
        raise BenchError(f"POST /login: status {status}; expected a redirect and a new cookie")
    status, _, html = fetch(port, "GET", "/patient/today", {"Cookie": f"session={cookie}"})
    if status != 200 or HEADING not in html:
        raise BenchError(f"GET /patient/today: status {status}, {HEADING!r} not on the page")
    return cookie, len(html.encode("utf-8"))


# ----------------------------------------------------------------- SQL count


def count_sql(db_path: Path, cookie: str) -> list[str]:
    """SQL statements of one (warm) Today request, in-process with the test client."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}")
    client = app.test_client()
    client.set_cookie("session", cookie)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    if client.get("/patient/today").status_code != 200:  # warm: caches, last-seen update
        raise BenchError("in-process GET /patient/today did not return 200")
    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get("/patient/today")
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


def wrk(url: str, seconds: float, connections: int, cookie: str | None = None) -> Run:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: session={cookie}"]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


# ----------------------------------------------------------------- main


def check_is_the_page(run: Run, page_bytes: int) -> None:
    """wrk does not count redirects as errors: a lost session would benchmark /login's 302."""
    if run.bytes_per_response < page_bytes / 2:
        raise BenchError(
            f"Today responses averaged {run.bytes_per_response:.0f} bytes but the page is "
            f"{page_bytes} bytes: the requests were not served the signed-in page"
        )


def measure(args, hello_url: str, today_url: str, login: tuple[str, int]) -> list[tuple[Run, Run]]:
    cookie, page_bytes = login
    wrk(today_url, 2, args.connections, cookie)  # warm-up: imports, templates, caches
    wrk(hello_url, 1, args.connections)
    pairs = []
    print(
        f"{'pair':>4}  {'hello req/s':>11}  {'today req/s':>11}  {'ratio':>6}  "
        f"{'hello p50/p99 ms':>17}  {'today p50/p99 ms':>17}"
    )
    for i in range(1, args.pairs + 1):
        hello = wrk(hello_url, args.duration, args.connections)
        today = wrk(today_url, args.duration, args.connections, cookie)
        check_is_the_page(today, page_bytes)
        pairs.append((hello, today))
        note = "  noisy (hello p99/p50 > 2)" if hello.tail > NOISY else ""
        if hello.errors or today.errors:
            note += f"  ERRORS hello={hello.errors} today={today.errors}"
        print(
            f"{i:>4}  {hello.rps:>11.0f}  {today.rps:>11.0f}  {today.rps / hello.rps:>6.1%}  "
            f"{hello.p50_ms:>7.2f} / {hello.p99_ms:>7.2f}  "
            f"{today.p50_ms:>7.2f} / {today.p99_ms:>7.2f}{note}",
            flush=True,
        )
    return pairs


def verdict(pairs: list[tuple[Run, Run]], min_quiet: int) -> int:
    if any(h.errors or t.errors for h, t in pairs):
        print("INVALID: wrk saw non-2xx/3xx responses or socket errors (see the server logs).")
        return 2
    quiet = [(h, t) for h, t in pairs if h.tail <= NOISY]
    left_out = len(pairs) - len(quiet)
    if len(quiet) < min_quiet:
        overall = statistics.median(t.rps / h.rps for h, t in pairs)
        print(
            f"TOO NOISY: only {len(quiet)} of {len(pairs)} pair(s) were quiet (hello p99/p50 "
            f"<= {NOISY}); at least {min_quiet} are needed to judge. The median over every "
            f"pair was {overall:.1%}, shown for information only. Run again on a quieter "
            "machine or with more --pairs."
        )
        return 2
    ratio = statistics.median(t.rps / h.rps for h, t in quiet)
    tail = statistics.median(t.tail for _, t in quiet)
    if left_out:
        overall = statistics.median(t.rps / h.rps for h, t in pairs)
        print(
            f"median ratio over all {len(pairs)} pairs: {overall:.1%} "
            f"({left_out} noisy pair(s) left out of the verdict)"
        )
    print(f"median ratio today/hello: {ratio:.1%} over {len(quiet)} quiet pair(s)")
    print(f"median today p99/p50: {tail:.2f} (anchor PG-W3: <= 3)")
    if ratio >= AIM:
        print(f"PASS: Today reaches {ratio:.1%} of hello-world (aim >= {AIM:.0%})")
        return 0
    print(f"BELOW AIM: Today reaches {ratio:.1%} of hello-world (aim >= {AIM:.0%})")
    return 1


def run(args, tmp: Path) -> int:
    db_path = tmp / "bench.db"
    env = app_env(db_path)
    prepare_database(env)
    (tmp / "hello.py").write_text(HELLO_APP)
    servers = []
    try:
        app_log, hello_log = tmp / "app.log", tmp / "hello.log"
        servers.append(start_gunicorn("wsgi:app", ROOT, env, app_log))
        servers.append(start_gunicorn("hello:app", tmp, env, hello_log))
        (app_proc, app_port), (hello_proc, hello_port) = servers
        wait_until_up(app_proc, app_port, app_log)
        wait_until_up(hello_proc, hello_port, hello_log)
        login = sign_in(app_port)
        statements = count_sql(db_path, login[0])
        print(
            f"gunicorn -k sync -w {cores()} on 127.0.0.1; wrk -t1 -c{args.connections} "
            f"-d{args.duration:g}s; {args.pairs} interleaved pair(s); signed in as {EMAIL}"
        )
        print(f"Today page: {login[1]} bytes of HTML")
        print(f"SQL statements per Today request (warm, in-process): {len(statements)}")
        for s in statements:
            print(f"    {s[:110]}{'...' if len(s) > 110 else ''}")
        pairs = measure(
            args,
            f"http://127.0.0.1:{hello_port}/",
            f"http://127.0.0.1:{app_port}/patient/today",
            login,
        )
        code = verdict(pairs, args.min_quiet)
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
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. Install it with:  sudo apt-get install -y wrk", file=sys.stderr
        )
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="sclerocare-bench-") as tmp:
            return run(args, Path(tmp))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
