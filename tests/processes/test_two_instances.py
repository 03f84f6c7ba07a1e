"""Two app servers, one clinic (issue 21 point 2): two real ``gunicorn wsgi:app``
instances on two loopback ports, with the production configuration, sharing the suite's
database (SQLite, or PostgreSQL with TEST_DATABASE_URL), Redis database 6 for the rate
limits and one photo store (the photo test runs on the shared folder and on a bucket of
the loopback S3 endpoint, tests/s3_server.py). What one instance did, the other sees on
its next request: the sign-in session, an uploaded photo, an account's lockout and a
per-address limit, and a clinic setting (docs/decisions/stateless-app-servers.md).

The browser is one ``requests`` cookie jar that talks to both ports, as a load balancer
would send one browser's requests to either. Each part of a test comes from its own
made-up client address (X-Forwarded-For behind one trusted proxy), so its limits are
its own and its Redis keys are deleted afterwards. Needs Redis at 127.0.0.1:6379: skips
without it, unless REQUIRE_REDIS=1 (CI), which makes it a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from py_vapid import Vapid

from app.adapters import push
from app.extensions import db
from app.models import Clinic
from app.models import Photo
from app.models import Role
from tests.conftest import PASSWORD
from tests.conftest import make_staff
from tests.services.test_photos import phone_jpeg
from tests.web.test_clinic_settings import settings_form

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/6"
# The sign-in page's limit per address, low enough to reach in a test.
SIGNIN_LIMIT = 4


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but no Redis answers at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser(requests.Session):
    """One browser's cookie jar, for both instances.

    Production's cookies are Secure (``__Host-session``): a browser sends them back over
    https only, and so does ``requests``. Here the instances speak plain http on
    loopback, as behind a load balancer that ends TLS, so every cookie in the jar is
    sent (one host: the two ports share cookies, as RFC 6265 says).
    """

    def request(self, method: str, url: str, **kwargs) -> requests.Response:  # type: ignore[override]
        # Redirects are not followed: requests would drop the Secure cookies on them,
        # and each test says where it expects to be sent.
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        return super().request(method, url, **kwargs)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if len(self.cookies):
            prepared.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return prepared


class Pair:
    """The two running instances, and browsers that reach either."""

    def __init__(self, urls: list[str], run: str) -> None:
        self.one, self.two = urls
        self.run = run
        self._addresses = 0

    def browser(self) -> requests.Session:
        """A browser with its own cookie jar, from its own network (a /64 of its own,
        as limits count IPv6 clients by /64)."""
        self._addresses += 1
        browser = Browser()
        browser.headers["X-Forwarded-For"] = f"2001:db8:{self.run}:{self._addresses:x}::1"
        return browser


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(browser: requests.Session, url: str, email: str, password: str = PASSWORD):
    page = browser.get(f"{url}/login")
    data = {"email": email, "password": password, "csrf_token": _token(page.text)}
    return browser.post(f"{url}/login", data=data)


def _shared_push_key() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return push.private_key_b64u(vapid)


def _env(app) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SCLERO_"))}
    env.update(
        APP_ENV="production",
        FLASK_SECRET_KEY="two-instances-" + "k" * 40,  # one key: either reads the cookie
        FLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        FLASK_PHOTO_STORAGE_DIR=app.config["PHOTO_STORAGE_DIR"],  # the shared store
        FLASK_SCLERO_EXPORT_DIR=app.config["SCLERO_EXPORT_DIR"],
        FLASK_VAPID_PRIVATE_KEY=_shared_push_key(),  # refused per process with two
        FLASK_VAPID_SUBJECT="mailto:it@clinic.example",
        # Staff sign in with a password alone here: the settings change is the point,
        # not the second factor (tests/web/test_mfa*.py).
        FLASK_SCLERO_STAFF_MFA_REQUIRED="false",
        MAIL_DEFAULT_FROM="Clinic <noreply@clinic.example>",
        SCLERO_BASE_URL="https://care.clinic.example",
        SCLERO_TRUSTED_HOSTS="127.0.0.1",
        SCLERO_PROXY_COUNT="1",
        SCLERO_INSTANCES="2",
        RATELIMIT_STORAGE_URI=REDIS_URL,
        SCLERO_SIGNIN_LIMIT=f"{SIGNIN_LIMIT} per 15 minutes",
        PYTHONPATH=str(ROOT),
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        env["SCLERO_ALLOW_SQLITE"] = "1"
    return env


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    conf = "gunicorn.conf.py"
    if env["FLASK_SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        conf = "tests/processes/gunicorn_sqlite.conf.py"
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", conf, "--workers", "1"]
            + ["--bind", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"]
            # Gunicorn's control socket has one default path per user: two instances on
            # one machine (or anyone else's gunicorn here) would take it from each other.
            + ["--no-control-socket"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole in the finally
        )


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{url} stopped ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/login", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} never answered:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@contextlib.contextmanager
def _running_pair(app, tmp_path: Path, store: dict[str, str]):
    """Two production instances on free loopback ports; stopped, and this run's Redis
    keys deleted, whatever the test did."""
    client = _redis()
    run = uuid.uuid4().hex[:4]
    env = _env(app) | store
    procs: list[subprocess.Popen] = []
    try:
        urls = []
        for n in (1, 2):
            port = _free_port()
            log = tmp_path / f"gunicorn-{n}.log"
            procs.append(_start(env, port, log))
            urls.append((f"http://127.0.0.1:{port}", log))
        for (url, log), proc in zip(urls, procs, strict=True):
            _wait_until_serving(url, proc, log)
        yield Pair([url for url, _ in urls], run)
    finally:
        for proc in procs:
            _stop(proc)
        for key in client.scan_iter(match=f"*2001:db8:{run}:*"):
            client.delete(key)
        client.close()


@contextlib.contextmanager
def _photo_store(kind: str, folder: str):
    """The settings of a photo store both instances share, and what it holds: the suite's
    photo folder (``_env``), or a bucket on a loopback S3 endpoint (tests/s3_server.py)."""
    if kind == "local":
        yield {}, lambda: [n for _, _, names in os.walk(folder) for n in names]
        return
    import boto3

    from tests.s3_server import start_s3_server

    endpoint, stop = start_s3_server()
    try:
        keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        bucket = f"two-instances-{uuid.uuid4().hex[:8]}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket=bucket)
        settings = keys | {
            "SCLERO_PHOTO_STORE": "s3",
            "SCLERO_S3_BUCKET": bucket,
            "SCLERO_S3_ENDPOINT_URL": endpoint,
            "SCLERO_S3_REGION": "us-east-1",
            "SCLERO_S3_PREFIX": "clinic/",
        }

        def objects() -> list[str]:
            listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            return [item["Key"] for item in listed if item["Key"].startswith("clinic/")]

        yield settings, objects
    finally:
        stop()


# The S3 variant runs once task A's store (and its loopback endpoint) is in the tree.
STORES = ["local"] + (["s3"] if importlib.util.find_spec("tests.s3_server") else [])


@pytest.fixture
def pair(app, world, tmp_path):
    with _running_pair(app, tmp_path, {}) as running:
        yield running


@pytest.fixture(params=STORES)
def photo_pair(request, app, world, tmp_path):
    """Two instances on one photo store; ``running.stored()`` lists what the store holds."""
    folder = app.config["PHOTO_STORAGE_DIR"]
    with _photo_store(request.param, folder) as (store, stored):
        with _running_pair(app, tmp_path, store) as running:
            running.stored = stored
            yield running


def test_a_session_signed_in_on_one_is_used_on_the_other(pair):
    alice = pair.browser()
    assert sign_in(alice, pair.one, "alice@patients.example").status_code == 302
    today = alice.get(f"{pair.two}/patient/today")
    assert today.status_code == 200  # not sent to the sign-in page
    assert 'name="sc-user"' in today.text and "North Clinic" in today.text
    # Signing out on the second ends the session the first reads: it lives in the database.
    kept = dict(alice.cookies)
    token = _token(today.text)
    out = alice.post(f"{pair.two}/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status_code == 302
    replay = Browser()
    replay.cookies.update(kept)  # a copy of the cookie taken before signing out
    gone = replay.get(f"{pair.one}/patient/today")
    # An ended session is answered with the sign-in page itself (app/auth/device.py).
    assert gone.headers.get("X-Sclero-Signed-Out") == "1"
    assert "<title>Sign in" in gone.text and 'name="sc-user"' not in gone.text


def test_a_photo_uploaded_through_one_is_served_by_the_other(photo_pair, in_app):
    pair = photo_pair
    assert pair.stored() == []
    alice = pair.browser()
    assert sign_in(alice, pair.one, "alice@patients.example").status_code == 302
    form_page = alice.get(f"{pair.one}/patient/photos/new")
    sent = alice.post(
        f"{pair.one}/patient/photos",
        data={
            "side": "left",
            "region": "calf",
            "view": "inner",
            "note": "",
            "csrf_token": _token(form_page.text),
        },
        files={"photo": ("leg.jpg", phone_jpeg((400, 300)), "image/jpeg")},
    )
    assert sent.status_code == 303, sent.text[-2000:]
    photo_id, sha256 = in_app(
        lambda: db.session.execute(sa.select(Photo.id, Photo.full_sha256)).one()
    )
    image = alice.get(f"{pair.two}/patient/photos/{photo_id}/image")
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(image.content).hexdigest() == sha256
    assert len(pair.stored()) == 2  # the photo and its thumbnail, in the shared store
    assert "private" in image.headers.get("Cache-Control", "")


def test_a_patient_locked_out_on_one_is_locked_out_on_the_other(pair, app):
    # Ten wrong passwords, alternating instances, each from a new address: the account's
    # own counter (in the database) locks it, whichever instance and address are used.
    for n in range(app.config["SCLERO_LOGIN_MAX_FAILURES"]):
        url = (pair.one, pair.two)[n % 2]
        assert sign_in(pair.browser(), url, "bob@patients.example", "wrong").status_code == 401
    for url in (pair.one, pair.two):
        refused = sign_in(pair.browser(), url, "bob@patients.example")
        assert refused.status_code == 429
        assert "Too many attempts" in refused.text


def test_a_per_address_limit_counts_on_both_instances(pair):
    # SIGNIN_LIMIT sign-ins from one address, split between the instances, use it up in
    # Redis; the next one is refused on either. Unknown emails, so no account locks.
    mallory = pair.browser()
    for n in range(SIGNIN_LIMIT):
        url = (pair.one, pair.two)[n % 2]
        assert sign_in(mallory, url, f"nobody{n}@example.org", "guess").status_code == 401
    for url in (pair.one, pair.two):
        limited = sign_in(mallory, url, "alice@patients.example")
        assert limited.status_code == 429
        assert limited.headers.get("Retry-After")


def test_a_clinic_setting_changed_on_one_is_used_by_the_other(pair, in_app, world):
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic1), "admin1@north.example", Role.CLINIC_ADMIN
        )
    )
    alice = pair.browser()
    assert sign_in(alice, pair.two, "alice@patients.example").status_code == 302
    # The second instance renders the help box (and keeps it in its fragment cache).
    before = alice.get(f"{pair.two}/patient/today").text
    assert 'href="tel:999"' in before and 'href="tel:112"' not in before
    admin = pair.browser()
    assert sign_in(admin, pair.one, "admin1@north.example").status_code == 302
    page = admin.get(f"{pair.one}/clinic/settings")
    assert page.status_code == 200
    data = settings_form(emergency_number="112") | {"csrf_token": _token(page.text)}
    saved = admin.post(f"{pair.one}/clinic/settings", data=data, allow_redirects=False)
    assert saved.status_code == 303
    after = alice.get(f"{pair.two}/patient/today").text
    assert 'href="tel:112"' in after and 'href="tel:999"' not in after
