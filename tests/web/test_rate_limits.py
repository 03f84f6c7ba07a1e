"""Limits per client address on sign-in, "Forgot your password?" and the invitation and
reset pages (issue 18 point 6; checklist A3; app/limits.py).

The plain tests use the testing store (memory://). The Redis tests use the Redis at
127.0.0.1:6379 (database 9), each under an address made up for the run whose keys are
deleted afterwards; they skip when no Redis answers, unless REQUIRE_REDIS=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import OutboxMessage
from config import Config
from config import TestingConfig
from tests.conftest import PASSWORD
from tests.conftest import make_clinic
from tests.conftest import make_staff
from tests.conftest import text_of

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/9"
HERE = {"REMOTE_ADDR": "203.0.113.9"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}


def _sign_in(client, email: str, where: dict, password: str = "not my password at all"):
    return client.post("/login", data={"email": email, "password": password}, environ_base=where)


def test_thirty_emails_from_one_address_then_429_with_the_email_kept(client, world):
    """Someone trying one password on many accounts is stopped by address; the
    per-account counter never sees more than one try per account."""
    for i in range(30):
        assert _sign_in(client, f"person{i}@patients.example", HERE).status_code == 401
    page = _sign_in(client, "person30@patients.example", HERE)
    assert page.status_code == 429
    assert "Too many sign-in attempts from this connection" in text_of(page)
    assert "call the clinic or the emergency number now" in text_of(page)
    assert "wait 15 minutes" in text_of(page)
    # The sign-in form again, with what was typed (not the password), labelled as ever.
    html = page.get_data(as_text=True)
    assert 'value="person30@patients.example"' in html
    assert "not my password" not in html
    assert '<label for="email"' in html
    assert int(page.headers["Retry-After"]) > 0
    # Even the right password, from there, waits.
    assert _sign_in(client, "alice@patients.example", HERE, PASSWORD).status_code == 429
    # Someone elsewhere is not held up by it.
    assert _sign_in(client, "alice@patients.example", ELSEWHERE, PASSWORD).status_code == 302


def test_a_made_up_forwarded_for_header_does_not_reset_the_count(client, world):
    """Checklist G6: the count is by the connection's address (ProxyFix, when set for
    the proxies in front, is what may replace it), never by a header the client sends."""
    for i in range(30):
        spoofed = {"X-Forwarded-For": f"10.0.{i}.1", "X-Real-IP": f"10.1.{i}.1"}
        page = client.post(
            "/login",
            data={"email": f"person{i}@patients.example", "password": "not my password at all"},
            headers=spoofed,
            environ_base=HERE,
        )
        assert page.status_code == 401
    again = {"X-Forwarded-For": "10.9.9.9"}
    page = client.post(
        "/login",
        data={"email": "fresh@patients.example", "password": "not my password at all"},
        headers=again,
        environ_base=HERE,
    )
    assert page.status_code == 429


def test_the_limits_are_settings(app, client, world):
    app.config["SCLERO_SIGNIN_LIMIT"] = "3 per hour"
    for _ in range(3):
        assert _sign_in(client, "nobody@patients.example", HERE).status_code == 401
    page = _sign_in(client, "nobody@patients.example", HERE)
    assert page.status_code == 429 and "wait an hour" in text_of(page)


def test_reset_asks_from_one_address_are_limited_and_the_rest_send_nothing(
    app, client, world, in_app
):
    """Someone with a list of the clinic's emails cannot have the clinic mail every one
    of them (this replaces SCLERO_RESET_MAX_PER_ADDRESS, which counted in the database
    and answered 200)."""

    def many():
        clinic = make_clinic("flood")
        for i in range(30):
            make_staff(clinic, f"victim{i}@flood.example")

    in_app(many)
    statuses = [
        client.post(
            "/forgot-password", data={"email": f"victim{i}@flood.example"}, environ_base=HERE
        ).status_code
        for i in range(30)
    ]
    assert statuses == [200] * 10 + [429] * 20

    def sent() -> int:
        return db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.kind == "reset"))

    assert in_app(sent) == 10
    page = client.post(
        "/forgot-password", data={"email": "victim29@flood.example"}, environ_base=HERE
    )
    assert "Too many links were asked for from this connection" in text_of(page)
    assert "wait an hour" in text_of(page)
    assert 'value="victim29@flood.example"' in page.get_data(as_text=True)
    # Someone else, elsewhere, still gets their link.
    client.post("/forgot-password", data={"email": "victim0@flood.example"}, environ_base=ELSEWHERE)
    assert in_app(sent) == 11


def test_invitation_and_reset_pages_share_one_limit_with_the_friendly_page(client, world):
    for i in range(30):
        path = f"/invite/guess{i}" if i % 2 else f"/reset/guess{i}"
        page = client.post(path, data={"password": "x", "confirm": "x"}, environ_base=HERE)
        assert page.status_code == 410
    page = client.post("/reset/another", data={"password": "x", "confirm": "x"}, environ_base=HERE)
    assert page.status_code == 429
    assert "Too many attempts" in text_of(page)
    assert "Please wait a few minutes and try again." in text_of(page)
    # Showing the pages is not limited, only sending them.
    assert client.get("/invite/guess1", environ_base=HERE).status_code == 410


def test_this_machine_is_exempt_unless_the_setting_says_otherwise(app, client, world):
    """Behind a local proxy whose hops are not configured, every client seems to come
    from 127.0.0.1: one limit there would stop everybody. (Production's default; the
    tests' config counts 127.0.0.1 like any client.)"""
    assert Config.SCLERO_RATELIMIT_EXEMPT_LOOPBACK is True
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = True
    local = {"REMOTE_ADDR": "127.0.0.1"}
    for i in range(35):
        assert _sign_in(client, f"person{i}@patients.example", local).status_code == 401
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = False
    for i in range(30):
        assert _sign_in(client, f"other{i}@patients.example", local).status_code == 401
    assert _sign_in(client, "other30@patients.example", local).status_code == 429


# ------------------------------------------------------------------ Redis, shared


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but no Redis answers at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


@pytest.fixture
def redis_address():
    """An address made up for this run (IPv6 documentation range), and the Redis
    database its counts go to; its keys are deleted afterwards."""
    client = _redis()
    address = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"
    yield address
    for key in client.scan_iter(match=f"*{address[:-3]}::/64*"):  # counted per /64
        client.delete(key)
    client.close()


WORKER = """
import json, sys
from app import create_app
from config import TestingConfig

database, storage, address, start, count = sys.argv[1:6]
app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database, RATELIMIT_STORAGE_URI=storage)
client = app.test_client()
codes = [
    client.post(
        "/login",
        data={"email": f"person{i}@patients.example", "password": "not my password at all"},
        environ_base={"REMOTE_ADDR": address},
    ).status_code
    for i in range(int(start), int(start) + int(count))
]
print(json.dumps(codes))
"""


def _other_worker(database_url: str, storage: str, address: str, start: int, count: int):
    """Sign-ins sent by another process (another gunicorn worker): its own app, its own
    limiter, the same store. :returns: their status codes."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, database_url, storage, address, str(start), str(count)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_limit_holds_across_two_workers_sharing_redis(app, database_url, world, redis_address):
    """Each worker alone sees fewer than 30 tries; together they are stopped at 30.
    With memory:// (one count per process) the second worker would allow 30 more."""
    here = {"REMOTE_ADDR": redis_address}
    shared = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, RATELIMIT_STORAGE_URI=REDIS
    )
    client = shared.test_client()
    first = [_sign_in(client, f"person{i}@patients.example", here).status_code for i in range(15)]
    assert first == [401] * 15
    other = _other_worker(database_url, REDIS, redis_address, 15, 20)
    assert other == [401] * 15 + [429] * 5
    assert _sign_in(client, "person40@patients.example", here).status_code == 429
    # memory:// in the other worker: it counts alone, so its limit is its own.
    assert _other_worker(database_url, "memory://", redis_address, 50, 3) == [401] * 3
    with shared.app_context():
        db.engine.dispose()


def test_sign_in_still_works_when_redis_is_down(database_url, world):
    """A store that cannot be reached is no 500: each worker counts in memory until it
    comes back."""
    down = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",  # port 9: discard, closed here
    )
    client = down.test_client()
    assert _sign_in(client, "alice@patients.example", HERE, PASSWORD).status_code == 302
    codes = [_sign_in(client, f"p{i}@patients.example", HERE).status_code for i in range(31)]
    assert 500 not in codes
    assert codes[-1] == 429
    with down.app_context():
        db.engine.dispose()
