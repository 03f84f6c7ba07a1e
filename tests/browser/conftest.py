"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against the app
served by Werkzeug in a background thread.

Never ``playwright install``: the browser is the system Chromium at ``CHROMIUM_PATH``
(default ``/usr/bin/chromium``). A missing browser skips these tests with a message,
unless ``REQUIRE_BROWSER=1`` (CI), which turns it into a failure.

The server binds 127.0.0.1 on a free port and is browsed as ``http://localhost:PORT``,
which browsers treat as a secure context without TLS (service workers, push).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from app import logredact
from app.services import demo

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}


def _unavailable(message: str) -> None:
    """Skip, or fail when the run promised a browser (``REQUIRE_BROWSER=1``)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {message}")
    pytest.skip(message)


class _InFlight:
    """WSGI middleware counting the requests being served, so the server can wait for
    them before the test's app is torn down.

    Werkzeug serves each request on a daemon thread that ``shutdown()`` does not wait
    for. A request still running when the ``app`` fixture empties the tables and
    disposes of the engine (a service worker's fetch, a page's last poll) keeps its
    database connection; that connection, no longer the pool's, is closed only by the
    garbage collector, and psycopg's ResourceWarning then fails some later test (CI,
    stop 31, on PostgreSQL: ``BaseConnection.__del__`` at a test that had no part in it).
    """

    def __init__(self, app) -> None:
        self.app = app
        self.active = 0
        self.closed = False
        self.idle = threading.Condition()

    def __call__(self, environ, start_response):
        with self.idle:
            if self.closed:
                # A kept-alive connection can still bring a request after shutdown().
                start_response("503 Service Unavailable", [("Connection", "close")])
                return [b""]
            self.active += 1
        try:
            # Flask gives the request's database connection back when this call returns
            # (the app context is popped before the body is written; nothing here
            # streams with its context). Counting the body's writing as well would wait
            # forever for a file whose download Chromium dropped: Werkzeug never closes
            # that body (see pyproject.toml's filterwarnings).
            return self.app(environ, start_response)
        finally:
            self._done()

    def _done(self) -> None:
        with self.idle:
            self.active -= 1
            self.idle.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new requests; wait up to ``timeout`` s for those running to finish."""
        with self.idle:
            self.closed = True
            return self.idle.wait_for(lambda: self.active == 0, timeout)


class LiveServer:
    """The Flask app on 127.0.0.1:<free port>, served from a background thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:
        # As wsgi.py does for every real server: the dev server's access log must never
        # hold a link's token (tests/conftest.py checks each test's log records).
        logredact.install()
        self.in_flight = _InFlight(app)
        self.server = make_server(host, port, self.in_flight, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://localhost:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()  # no new connection is accepted
        self.server.server_close()
        self.thread.join(5)
        # Requests already accepted finish, and give their connections back to the pool,
        # before the app fixture disposes of it (see _InFlight).
        if not self.in_flight.close(15):
            raise RuntimeError(f"{self.in_flight.active} request(s) still running after 15 s")


@pytest.fixture(scope="session")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH; "
            "never `playwright install`)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies, no service worker left over) at phone size."""
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def js_errors(page) -> list[str]:
    """Uncaught JavaScript exceptions on ``page``; tests assert this stays empty."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture
def demo_data(app, clock):
    """The demo clinic and patients, dated by the pinned clock (day3@... is on day 3)."""
    with app.app_context():
        return demo.seed(clock(), app.config["SCLERO_PROTOCOL_DIR"])


@pytest.fixture
def live_server(app, demo_data):
    # The test config turns CSRF off for the test client; the browser exercises the real flow.
    app.config["WTF_CSRF_ENABLED"] = True
    with LiveServer(app) as server:
        # Links handed to people (sign-in links, emails) use the configured address, as
        # in production, never the request's Host: here that is the live server's.
        app.config["SCLERO_BASE_URL"] = server.url
        yield server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def wait_for_js(page, expression: str, arg=None, timeout: float = 30_000):  # noqa: ANN001, ANN201
    """Poll ``expression`` (a JS expression or function) until it is truthy; its value.

    A drop-in for ``page.wait_for_function`` that polls from Python with ``evaluate``
    (the DevTools protocol): Playwright's in-page polling compiles the predicate with
    eval, which the app's CSP (script-src 'self') refuses whenever the first check is
    not already true, so those waits failed only when the machine was slow. A page
    navigating meanwhile is retried, not an error. ``timeout`` in ms, as Playwright's.
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            value = page.evaluate(expression, arg)
        except PlaywrightError as exc:
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"not true after {timeout / 1000:g} s: {expression}"
        time.sleep(0.05)


def wait_for_sw_control(page) -> None:  # noqa: ANN001
    """Until the service worker controls ``page``.

    A page loaded while the worker was still installing is taken over by its
    ``clients.claim()``; on a slow machine that can be missed, and a page loaded after
    activation is always controlled, so one reload is tried before giving up."""
    expression = "navigator.serviceWorker.controller !== null"
    try:
        wait_for_js(page, expression, timeout=10_000)
    except AssertionError:
        wait_for_js(page, "navigator.serviceWorker.ready.then(() => true)", timeout=20_000)
        page.reload()
        wait_for_js(page, expression, timeout=20_000)
