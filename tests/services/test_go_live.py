"""The README's Production section, run as written (issue 17 point 1): on an empty
PostgreSQL database, with the production configuration from the environment,
`flask db upgrade`, `flask clinic create`, `flask protocols validate` and `load` (and
`sign-off` once that command exists) as real processes; then the admin follows the
printed link, sets a password, signs in and sees the dashboard, with CSRF and Secure
cookies on as in production."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest

from app import create_app
from config import ProductionConfig
from tests.conftest import text_of

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://care.north-leeds.example"
PROTOCOL = "app/protocols/compression-72h.toml"
ADMIN = "lead@north-leeds.example"
NEW_PASSWORD = "a long clinic password 2026"

# `empty_postgres` (tests/conftest.py): a new, empty PostgreSQL database for the run.


def _production_env(database_url: str) -> dict[str, str]:
    """The README's step 2, for a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "APP_ENV"))}
    env.update(
        APP_ENV="production",
        FLASK_APP="wsgi.py",
        PYTHONPATH=str(ROOT),
        FLASK_SQLALCHEMY_DATABASE_URI=database_url,
        FLASK_SECRET_KEY=secrets.token_urlsafe(48),
        FLASK_VAPID_SUBJECT="mailto:it@north-leeds.example",
        FLASK_SCLERO_BASE_URL=BASE,
        MAIL_DEFAULT_FROM="North Leeds Vein Clinic <noreply@north-leeds.example>",
    )
    return env


def _flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def _csrf(response) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text).group(1)


@pytest.mark.postgres
def test_from_an_empty_database_to_a_signed_in_admin(empty_postgres):
    env = _production_env(empty_postgres)
    # Step 2: the VAPID key is made before any is configured.
    key = re.search(
        r"^FLASK_VAPID_PRIVATE_KEY=(\S+)$", _flask(env, "notifications", "vapid-keygen"), re.M
    )
    env["FLASK_VAPID_PRIVATE_KEY"] = key.group(1)
    # Steps 3 to 6.
    _flask(env, "db", "upgrade")
    out = _flask(
        env,
        "clinic",
        "create",
        "North Leeds Vein Clinic",
        "--slug",
        "north-leeds",
        "--time-zone",
        "Europe/London",
        "--admin-email",
        ADMIN,
        "--admin-name",
        "Dr A Lead",
        "--phone",
        "0113 496 0000",
        "--emergency-number",
        "999",
        "--out-of-hours-name",
        "NHS 111",
        "--out-of-hours-phone",
        "111",
    )
    link = re.search(rf"^{re.escape(BASE)}/invite/(\S+)$", out, re.M)
    assert link, out
    assert "ok: " in _flask(env, "protocols", "validate", PROTOCOL)
    assert "north-leeds: compression-72h v1 (new version)" in _flask(
        env, "protocols", "load", PROTOCOL, "--clinic", "north-leeds"
    )
    if "sign-off" in _flask(env, "protocols", "--help"):  # added by the sign-off work
        _flask(
            env,
            "protocols",
            "sign-off",
            "--clinic",
            "north-leeds",
            "--key",
            "compression-72h",
            "--version",
            "1",
            "--by",
            ADMIN,
        )
    assert "north-leeds\tNorth Leeds Vein Clinic" in _flask(env, "clinic", "list")

    # Step 8, as a browser would: CSRF and Secure cookies are on in production.
    app = create_app(
        ProductionConfig,
        SQLALCHEMY_DATABASE_URI=empty_postgres,
        SECRET_KEY=env["FLASK_SECRET_KEY"],
        VAPID_PRIVATE_KEY=env["FLASK_VAPID_PRIVATE_KEY"],
        VAPID_SUBJECT=env["FLASK_VAPID_SUBJECT"],
        MAIL_DEFAULT_SENDER=env["MAIL_DEFAULT_FROM"],
        SCLERO_BASE_URL=env["FLASK_SCLERO_BASE_URL"],
    )
    try:
        browser = app.test_client()
        invite_url = f"{BASE}/invite/{link.group(1)}"
        page = browser.get(invite_url)
        assert page.status_code == 200 and "Welcome, Dr A Lead" in text_of(page)
        r = browser.post(
            invite_url,
            data={"csrf_token": _csrf(page), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            headers={"Referer": invite_url},  # Flask-WTF checks it over https
        )
        assert r.status_code == 302 and r.headers["Location"] == "/clinic/"
        # Production requires staff to set up a second factor before anything else.
        assert browser.get(f"{BASE}/clinic/").status_code == 302
        page = browser.get(f"{BASE}/account/second-factor")
        assert page.status_code == 200
        secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page.get_data(as_text=True))
        totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
        r = browser.post(
            f"{BASE}/account/second-factor",
            data={"csrf_token": _csrf(page), "code": totp.now()},
            headers={"Referer": f"{BASE}/account/second-factor"},
        )
        assert r.status_code == 200 and "recovery code" in text_of(r).lower()
        # A fresh browser signs in with the new password, then a code (the next time
        # step's: each code works once).
        browser = app.test_client()
        page = browser.get(f"{BASE}/login")
        r = browser.post(
            f"{BASE}/login",
            data={"csrf_token": _csrf(page), "email": ADMIN, "password": NEW_PASSWORD},
            headers={"Referer": f"{BASE}/login"},
        )
        assert r.status_code in (302, 303) and "/login/code" in r.headers["Location"]
        page = browser.get(f"{BASE}/login/code")
        r = browser.post(
            f"{BASE}/login/code",
            data={"csrf_token": _csrf(page), "code": totp.at(time.time() + 30)},
            headers={"Referer": f"{BASE}/login/code"},
        )
        assert r.status_code in (302, 303)
        dashboard = browser.get(f"{BASE}/clinic/")
        assert dashboard.status_code == 200
        assert "North Leeds Vein Clinic" in text_of(dashboard)
        assert "Clinic settings" in text_of(dashboard)
        # The loaded protocol is there to choose for a first patient.
        new_patient = text_of(browser.get(f"{BASE}/clinic/patients/new"))
        assert "72 hours day and night" in new_patient
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
