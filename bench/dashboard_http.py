"""The clinician pages of bench/clinician_dashboard.py timed over HTTP (issue 22 point 8).

Each scratch database is served by gunicorn (sync workers, one per core) with the
production configuration, as bench/today_page.py serves Today: Redis for the shared
limits, the production session cookie, gzip. The second factor staff need in production
is turned off (``FLASK_SCLERO_STAFF_MFA_REQUIRED=false``): the code after the password
is not what is measured, and the bench's clinicians have none set up. Each clinician
signs in through the real form (CSRF on); then every round requests the dashboard and
the busy patient's page for each target, the order turning round by round, with
``Accept-Encoding: gzip``, on a fresh connection (gunicorn's sync workers close each
one), timed from the request to the last byte of the compressed body.

The statement counts are not taken here (bench/clinician_dashboard.py counts them in
process, where a listener can see them); this module reports the times and the ratios
to the small clinic alone, against the same aim.
"""

from __future__ import annotations

import gzip
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from urllib.parse import urlencode

from bench import today_page as server


@dataclass
class HttpPage:
    name: str
    where: str
    port: int
    path: str
    marker: bytes
    cookie: str = ""
    ms: list[float] = field(default_factory=list)
    gzipped: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.ms)


def _env(url: str) -> dict[str, str]:
    env = server.production_env(url, None)
    env["FLASK_SCLERO_STAFF_MFA_REQUIRED"] = "false"
    return env


def sign_in(port: int, email: str, password: str) -> str:
    """The clinician's session cookie, signed in through the form; checks the dashboard."""
    status, headers, body = server.fetch(port, "GET", "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body.decode())
    cookie = server.session_cookie(headers)
    if status != 200 or not token or not cookie:
        raise server.BenchError(f"GET /login: status {status}, no CSRF token or cookie")
    form = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
    status, headers, _ = server.fetch(
        port,
        "POST",
        "/login",
        {
            "Cookie": f"{server.COOKIE}={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        form,
    )
    cookie = server.session_cookie(headers)
    if status not in (302, 303) or not cookie or "/clinic" not in headers.get("Location", ""):
        raise server.BenchError(f"POST /login for {email}: status {status}, not to /clinic")
    return cookie


def timed(page: HttpPage) -> float:
    """Milliseconds for one request of ``page``, to the last byte; checks it is the page."""
    started = time.perf_counter()
    status, headers, body = server.fetch(
        page.port,
        "GET",
        page.path,
        {"Cookie": f"{server.COOKIE}={page.cookie}", "Accept-Encoding": "gzip"},
    )
    took = (time.perf_counter() - started) * 1000
    if status != 200 or headers.get("Content-Encoding") != "gzip":
        raise server.BenchError(f"GET {page.path}: status {status}, not a gzipped page")
    if page.marker not in gzip.decompress(body):
        raise server.BenchError(f"GET {page.path}: not the page expected")
    page.gzipped = len(body)
    return took


def measure(targets, rounds: int, password: str) -> list[list[HttpPage]]:
    """``targets``: (where, database url, clinic plan) as bench/clinician_dashboard.py
    passes them; one gunicorn per database. Pages per kind (dashboard, busy patient),
    one per target in the order given."""
    urls = list(dict.fromkeys(url for _, url, _ in targets))
    servers, ports = [], {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            for i, url in enumerate(urls):
                log = Path(folder) / f"gunicorn-{i}.log"
                proc, port = server.start_gunicorn("wsgi:app", server.ROOT, _env(url), log)
                servers.append(proc)
                server.wait_until_up(proc, port, log)
                ports[url] = port
            kinds: list[list[HttpPage]] = [[], []]
            for where, url, c in targets:
                port = ports[url]
                cookie = sign_in(port, f"doc@{c.slug}.bench.example", password)
                name = c.name.encode()
                kinds[0].append(
                    HttpPage("dashboard", where, port, "/clinic/", b"<h1>" + name, cookie)
                )
                busy = c.busy.name.encode()
                kinds[1].append(
                    HttpPage(
                        "busy patient",
                        where,
                        port,
                        f"/clinic/patients/{c.busy.id}",
                        b"<h1>" + busy,
                        cookie,
                    )
                )
            everything = [p for pages in kinds for p in pages]
            for _ in range(2):  # warm-up: every worker's templates and caches
                for page in everything:
                    timed(page)
            for r in range(rounds):
                for pages in kinds:
                    turn = r % len(pages)
                    for page in pages[turn:] + pages[:turn]:
                        page.ms.append(timed(page))
            return kinds
        finally:
            for proc in servers:
                server.stop(proc)


def report(kinds: list[list[HttpPage]], backend: str, aim: float) -> int:
    """Print the HTTP table; 0 when every ratio is within ``aim``, else 1."""
    print()
    print(f"Over HTTP: gunicorn, production config, gzip, on {backend}; median ms to the last byte")
    print(
        f"{'page':<13} {'small ms':>9} {'large ms':>9} {'ratio':>6} {'shared ms':>10} "
        f"{'ratio':>6} {'gzip bytes':>11}"
    )
    failed = False
    for small, shared, large in kinds:
        flags = [
            f"{p.where}: ratio > {aim}" for p in (large, shared) if p.median / small.median > aim
        ]
        failed = failed or bool(flags)
        print(
            f"{small.name:<13} {small.median:9.1f} {large.median:9.1f} "
            f"{large.median / small.median:6.2f} {shared.median:10.1f} "
            f"{shared.median / small.median:6.2f} {large.gzipped:11,}"
            + ("  <- " + "; ".join(flags) if flags else "")
        )
    verdict = "BELOW AIM" if failed else "PASS"
    print(f"{verdict} over HTTP on {backend}: every page <= {aim}x the small clinic's time")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """This module is the HTTP part of bench/clinician_dashboard.py: run that."""
    from bench import clinician_dashboard

    return clinician_dashboard.main(argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
