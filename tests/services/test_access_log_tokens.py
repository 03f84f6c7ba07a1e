"""Sign-in tokens never reach an access log (issue 17 point 6): gunicorn run for real,
with and without the project's gunicorn.conf.py, and Werkzeug's development server.

The request line of ``/invite/<token>`` and a Referer naming ``/reset/<token>`` or
``/unsubscribe/<token>`` are what the logs would otherwise keep."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app import logredact
from app.extensions import db
from config import DevelopmentConfig

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, referer: str) -> int:
    request = urllib.request.Request(url, headers={"Referer": referer})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_for(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start")


@pytest.fixture
def dev_database(tmp_path) -> str:
    """A file database with the tables, which gunicorn's worker opens too."""
    uri = f"sqlite:///{tmp_path / 'logs.db'}"
    app = create_app(
        DevelopmentConfig, SQLALCHEMY_DATABASE_URI=uri, VAPID_GENERATE_DEV_KEY="memory"
    )
    with app.app_context():
        db.create_all()
    return uri


def _tokens() -> dict[str, str]:
    return {kind: secrets.token_urlsafe(32) for kind in ("invite", "reset", "unsubscribe", "q")}


def _serve_and_log(tmp_path: Path, uri: str, extra: list[str]) -> tuple[str, dict[str, str]]:
    port, log, errors = _free_port(), tmp_path / "access.log", tmp_path / "error.log"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "FLASK_SQLALCHEMY_DATABASE_URI": uri,
        "FLASK_VAPID_GENERATE_DEV_KEY": "memory",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *extra, "--workers", "1"]
        + ["--bind", f"127.0.0.1:{port}", "--access-logfile", str(log)]
        + ["--error-logfile", str(errors), "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    tokens = _tokens()
    try:
        _wait_for(port, proc, errors)
        base = f"http://127.0.0.1:{port}"
        referer = f"{base}/reset/{tokens['reset']}"
        # An unknown invitation: the page says the link does not work (410).
        assert _get(f"{base}/invite/{tokens['invite']}", referer) == 410
        assert (
            _get(
                f"{base}/invite/{tokens['q']}?utm=1", f"{base}/unsubscribe/{tokens['unsubscribe']}"
            )
            == 410
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return log.read_text() + errors.read_text(), tokens


@pytest.mark.parametrize("config", ["project", "none"])
def test_gunicorn_access_log_has_no_tokens(tmp_path, dev_database, config):
    # "none": gunicorn started with an empty config file instead of the project's
    # gunicorn.conf.py; wsgi.py alone must still keep the tokens out.
    extra = []
    if config == "none":
        empty = tmp_path / "empty.conf.py"
        empty.write_text("")
        extra = ["--config", str(empty)]
    text, tokens = _serve_and_log(tmp_path, dev_database, extra)
    assert "GET /invite/[redacted] HTTP/1.1" in text, text
    assert "/reset/[redacted]" in text and "/unsubscribe/[redacted]" in text, text
    assert "/invite/[redacted]?[redacted]" in text, text  # issue 18: no query strings
    for token in tokens.values():
        assert token not in text


def test_werkzeug_dev_server_log_has_no_tokens(app, caplog):
    logredact.install()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = secrets.token_urlsafe(32)
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            base = f"http://127.0.0.1:{server.server_port}"
            assert _get(f"{base}/invite/{token}", f"{base}/invite/{token}") == 410
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/invite/[redacted]" in line for line in lines), lines
    assert token not in caplog.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /invite/abc-_123 HTTP/1.1" 200', '"GET /invite/[redacted] HTTP/1.1" 200'),
        ("/reset/abc/next", "/reset/[redacted]/next"),
        ("/unsubscribe/abc?x=1", "/unsubscribe/[redacted]?[redacted]"),  # issue 18
        ("/INVITE/abc", "/INVITE/[redacted]"),
        ("%2Finvite%2Fabc", "%2Finvite%2F[redacted]"),
        ('"https://h/invite/abc"', '"https://h/invite/[redacted]"'),
        ("/patient/invite", "/patient/invite"),  # no token after it: unchanged
        ("/invites/abc", "/invites/abc"),
        # A calendar app's fetch of a subscription link (issue 20 point 3).
        (
            "GET /patient/calendar/feed/abc.ics HTTP/1.1",
            "GET /patient/calendar/feed/[redacted] HTTP/1.1",
        ),
    ],
)
def test_redact(line, expected):
    assert logredact.redact(line) == expected
