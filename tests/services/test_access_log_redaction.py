"""Nothing secret or personal in the logs (issue 18 point 8; checklist D8): real gunicorn,
started as ``make run`` starts it (and with no config file, where ``wsgi.py`` alone
redacts), through a journey that puts every kind of secret in a URL or a Referer:

- sign-in, with an email in a query string as a mistyped link would;
- the clinician's patient search, by name and by email, with the search in the Referer;
- a patient's invitation link and a password-reset link, opened and used;
- an unsubscribe link.

The access log, gunicorn's error log and the process's own output are then searched for
the tokens, the emails and the names: none may be there. Gunicorn's Server header names
no version.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa

from app import create_app
from app.clock import now
from app.extensions import db
from app.models import User
from app.services.accounts import invitations
from app.services.accounts import reset
from config import DevelopmentConfig
from tests.conftest import PASSWORD
from tests.conftest import build_world
from tests.services.test_access_log_tokens import ROOT
from tests.services.test_access_log_tokens import _free_port
from tests.services.test_access_log_tokens import _wait_for

NEW_PASSWORD = "a brand new sentence password"
SECRETS_IN_URLS = (
    "alice@patients.example",
    "alice%40patients.example",
    "doc1@north.example",
    "doc1%40north.example",
    "Alice",
    "Marker-A",
    "Marker-C",
    "Cara",
)


@pytest.fixture
def journey_database(tmp_path) -> tuple[str, dict[str, str]]:
    """A file database with the test world, and a real invitation and reset token."""
    uri = f"sqlite:///{tmp_path / 'journey.db'}"
    app = create_app(
        DevelopmentConfig, SQLALCHEMY_DATABASE_URI=uri, VAPID_GENERATE_DEV_KEY="memory"
    )
    tokens: dict[str, str] = {}
    with app.app_context():
        db.create_all()
        build_world()
        bob = db.session.scalar(sa.select(User).where(User.email == "bob@patients.example"))
        tokens["invite"] = invitations.issue_invitation(bob, None, now())
        db.session.commit()
        reset.request_reset(
            "alice@patients.example", now(), lambda token: tokens.setdefault("reset", token)
        )
        db.engine.dispose()
    assert set(tokens) == {"invite", "reset"}
    return uri, tokens


def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def _journey(base: str, tokens: dict[str, str]) -> list[requests.Response]:
    seen = []
    clinician = requests.Session()
    seen.append(clinician.get(f"{base}/login?email=doc1%40north.example&next=/clinic/"))
    form = {"csrf_token": _csrf(seen[-1]), "email": "doc1@north.example", "password": PASSWORD}
    seen.append(clinician.post(f"{base}/login", data=form, allow_redirects=False))
    assert seen[-1].status_code == 302, seen[-1].text
    search = f"{base}/clinic/patients?q=Cara+Marker-C"
    for query in ("Alice Marker-A", "alice@patients.example"):
        page = clinician.get(
            f"{base}/clinic/patients", params={"q": query}, headers={"Referer": search}
        )
        seen.append(page)
        assert seen[-1].status_code == 200
    # Bob opens his invitation; the next page names it in the Referer.
    invite = f"{base}/invite/{tokens['invite']}"
    patient = requests.Session()
    seen.append(patient.get(invite))
    assert seen[-1].status_code == 200, seen[-1].text
    seen.append(patient.get(f"{base}/login", headers={"Referer": invite}))
    # Alice uses her reset link.
    link = f"{base}/reset/{tokens['reset']}"
    alice = requests.Session()
    seen.append(alice.get(link, headers={"Referer": f"{base}/forgot-password?email=Alice"}))
    assert seen[-1].status_code == 200, seen[-1].text
    form = {"csrf_token": _csrf(seen[-1]), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    seen.append(alice.post(link, data=form, headers={"Referer": link}, allow_redirects=False))
    assert seen[-1].status_code in (302, 303), seen[-1].text
    seen.append(alice.get(f"{base}/email/unsubscribe/{tokens['unsubscribe']}"))
    return seen


@pytest.mark.parametrize("config", ["make-run", "no-config-file"])
def test_a_journey_leaves_no_token_email_or_name_in_the_logs(tmp_path, journey_database, config):
    uri, tokens = journey_database
    tokens["unsubscribe"] = "u" * 43
    port = _free_port()
    access, errors, output = (tmp_path / n for n in ("access.log", "error.log", "output.log"))
    conf = ROOT / "gunicorn.conf.py"
    if config == "no-config-file":
        conf = tmp_path / "empty.conf.py"
        conf.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SCLERO_"))},
        "APP_ENV": "development",
        "FLASK_SQLALCHEMY_DATABASE_URI": uri,
        "FLASK_VAPID_GENERATE_DEV_KEY": "memory",
        "PYTHONPATH": str(ROOT),
    }
    with output.open("w") as out:
        # The Makefile's run line, with files for the logs.
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(conf), "--workers", "1"]
            + ["--bind", f"127.0.0.1:{port}", "--access-logfile", str(access)]
            + ["--error-logfile", str(errors), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(port, proc, errors)
            responses = _journey(f"http://127.0.0.1:{port}", tokens)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    logged = access.read_text()
    text = logged + errors.read_text() + output.read_text()
    # The journey was logged, redacted.
    assert 'GET /clinic/patients?[redacted] HTTP/1.1" 200' in logged, logged
    assert "GET /invite/[redacted] HTTP/1.1" in logged and "/reset/[redacted]" in logged
    assert "GET /login?[redacted]" in logged and "/email/unsubscribe/[redacted]" in logged
    for secret in (*tokens.values(), *SECRETS_IN_URLS):
        assert secret not in text, secret
    for response in responses:
        assert response.headers["Server"] == "gunicorn"  # no version (10036)
