"""Review of issue 18's production hardening, driven as a real gunicorn was (points 6,
7, 8): what broke there, each pinned here.

- A Host header the clinic does not serve, as a worker's first request, was a 500 (the
  error page could not build its links), not the 400 the README promises.
- A Redis that accepts connections and never answers held each sign-in for redis-py's
  default 5 seconds before the limiter fell back to memory.
- The access log kept a sign-in token whose path word was percent-encoded
  (``/%69nvite/<token>`` opens the invitation page too), and Flask's own logger ("app",
  "Exception on <path>") was not redacted.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time

import pytest

from app import create_app
from app import logredact
from config import TestingConfig
from tests.services.test_production_config import BASE
from tests.services.test_production_config import _no_flask_env  # noqa: F401 - autouse
from tests.services.test_production_config import dispose
from tests.services.test_production_config import production_app

HERE = {"REMOTE_ADDR": "203.0.113.77"}


@pytest.fixture
def fresh_prod(monkeypatch, database_url, _schema):
    """A production app that has answered nothing yet: a worker just started."""
    app = production_app(monkeypatch, database_url)
    yield app
    dispose(app)


def test_a_foreign_host_is_400_even_as_a_new_workers_first_request(fresh_prod):
    browser = fresh_prod.test_client()
    refused = browser.get("/login", base_url="https://evil.example")
    assert refused.status_code == 400
    assert "Something in that request was not right" in refused.text
    assert "evil.example" not in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" in refused.headers
    # The page's links are paths, as on any page; the refused host is never used.
    assert 'href="/static/' in refused.text or 'href="/manifest' in refused.text
    assert browser.get("/login", base_url=BASE).status_code == 200


def test_a_foreign_host_on_a_token_page_is_400_too(fresh_prod):
    refused = fresh_prod.test_client().get("/invite/abc", base_url="https://evil.example")
    assert refused.status_code == 400


@pytest.fixture
def hung_redis():
    """A port that accepts connections and never answers: a Redis that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_hung_redis_costs_a_sign_in_well_under_redis_default_five_seconds(
    database_url, world, hung_redis
):
    app = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI=hung_redis
    )
    try:
        client = app.test_client()
        took = []
        for i in range(3):
            started = time.monotonic()
            answer = client.post(
                "/login",
                data={"email": f"p{i}@patients.example", "password": "not my password at all"},
                environ_base=HERE,
            )
            took.append(time.monotonic() - started)
            assert answer.status_code == 401
        assert max(took) < 2.0, took
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"GET /%69nvite/TOKEN1abc HTTP/1.1" 410', "TOKEN1abc"),
        ('"GET /%72%65%73%65%74/TOKEN2abc HTTP/1.1" 410', "TOKEN2abc"),
        ('"GET /email/%75nsubscribe/TOKEN3abc HTTP/1.1" 404', "TOKEN3abc"),
    ],
)
def test_a_percent_encoded_token_page_is_redacted(line, secret):
    cleaned = logredact.redact(line)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_flasks_own_logger_is_redacted(caplog):
    logredact.install()
    with caplog.at_level(logging.ERROR, logger="app"):
        # What Flask writes when an error page itself fails on a sign-in link.
        logging.getLogger("app").error("Exception on %s [%s]", "/invite/TOKEN5abc", "GET")
    assert "TOKEN5abc" not in caplog.text
    assert "/invite/[redacted]" in caplog.text


def test_every_error_page_in_production_carries_the_headers_and_no_store(fresh_prod):
    def boom():
        raise RuntimeError("a bug")

    fresh_prod.add_url_rule("/review18-boom", "review18_boom", boom)
    fresh_prod.config["SCLERO_SIGNIN_LIMIT"] = "1 per minute"
    fresh_prod.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = False  # the test client's address
    browser = fresh_prod.test_client()
    answers = {
        404: browser.get("/static/no-such-file.css", base_url=BASE),
        405: browser.delete("/login", base_url=BASE),
        413: browser.post("/login", base_url=BASE, data="x" * (21 * 1024 * 1024)),
        500: browser.get("/review18-boom", base_url=BASE),
    }
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/login", base_url=BASE).text
    )
    sign_in = {"csrf_token": token.group(1), "email": "a@b.example", "password": "x" * 12}
    for _ in range(2):
        answers[429] = browser.post(
            "/login", base_url=BASE, data=sign_in, headers={"Referer": f"{BASE}/login"}
        )
    answers[400] = browser.get("/login", base_url="https://evil.example")
    for code, answer in answers.items():
        assert answer.status_code == code, (code, answer.status_code)
        assert answer.headers.get("Cache-Control") == "no-store", code
        assert answer.headers["Strict-Transport-Security"].startswith("max-age="), code
        assert "camera=(self)" in answer.headers["Permissions-Policy"], code
        assert answer.headers["X-Frame-Options"] == "DENY", code
    # A static file that exists keeps its long cache.
    css = next(n for n in os.listdir(os.path.join(fresh_prod.static_folder, "css")))
    with browser.get(f"/static/css/{css}", base_url=BASE) as kept:
        assert kept.status_code == 200
        assert "no-store" not in kept.headers.get("Cache-Control", "")


def test_an_app_after_one_with_a_hung_redis_counts_in_its_own_store(
    database_url, world, hung_redis
):
    # One limiter per process: the "store is dead" mark of one app must not send the
    # next app's counts to memory (tests make many apps; a worker makes one).
    import redis

    shared = redis.Redis.from_url("redis://127.0.0.1:6379/14", socket_connect_timeout=1)
    try:
        shared.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but no Redis answers at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    address = "2001:db8:18:" + format(os.getpid() % 0xFFFF, "x") + "::"  # its own /64
    for uri in (hung_redis, "redis://127.0.0.1:6379/14"):
        app = create_app(
            TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI=uri
        )
        try:
            app.test_client().post(
                "/login",
                data={"email": "p@patients.example", "password": "not my password at all"},
                environ_base={"REMOTE_ADDR": address},
            )
        finally:
            dispose(app)
    keys = shared.keys(f"*{address}/64*")
    try:
        assert keys, "the sign-in was counted in memory, not in Redis"
    finally:
        if keys:
            shared.delete(*keys)


def test_an_ipv6_client_changing_address_within_its_network_is_still_limited(app, client, world):
    # A phone or home line gets a whole /64: one address per try must not reset the count.
    app.config["SCLERO_SIGNIN_LIMIT"] = "3 per minute"

    def sign_in(address: str) -> int:
        return client.post(
            "/login",
            data={"email": "nobody@patients.example", "password": "not my password at all"},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    tries = [sign_in(f"2001:db8:77:1::{i:x}") for i in range(1, 5)]
    assert tries == [401, 401, 401, 429]
    assert sign_in("2001:db8:77:1:ffff:eeee:dddd:cccc") == 429
    # Another network, and an IPv4 client, keep their own counts.
    assert sign_in("2001:db8:77:2::1") == 401
    assert sign_in("192.0.2.44") == 401
