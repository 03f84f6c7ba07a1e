"""Security checklist cases E4, E8 and F5: what is written, and how durably.

E4 drives sign-in, search, check-in and odd paths with line breaks, ANSI escapes and a
fake "login ok" line, capturing every log record the app writes. E8 edits a check-in the
clinician has already reviewed. F5 reads the pragmas (SQLite) or settings (PostgreSQL)
from the app's own engine, on more than one connection at once.
"""

from __future__ import annotations

import logging
import socket
import threading

import sqlalchemy as sa
from werkzeug.serving import make_server

from app import logredact
from app.extensions import db
from app.models import CheckIn
from tests.conftest import is_postgres
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form

ALICE, DOC1 = "alice@patients.example", "doc1@north.example"
FAKE = "\r\n2026-11-20 12:00:00 INFO app.auth: login ok for admin1@north.example \x1b[2K"


def test_e4_user_text_with_line_breaks_and_escapes_never_splits_a_log_record(app, world, caplog):
    """E4: a forged log line in an email, a password, a search, a note and a path. No
    record the app writes holds a raw line break or escape character, so one event is
    one line and no fake "login ok" record can be planted."""
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    client.post("/login", data={"email": "x@example.org" + FAKE, "password": "p" + FAKE})
    client.post("/forgot-password", data={"email": "alice@patients.example" + FAKE})
    client.get("/nothing-here/" + FAKE.replace("\r\n", "%0d%0a").replace(" ", "%20"))
    login(client, ALICE)
    assert client.post("/patient/checkin", data=form(note="sore" + FAKE)).status_code == 200
    doc = app.test_client()
    login(doc, DOC1)
    doc.get("/clinic/patients", query_string={"q": "Alice" + FAKE})
    for record in caplog.records:
        message = record.getMessage()
        assert "\r" not in message and "\x1b" not in message, (record.name, message)
        assert "\n" not in message or record.exc_info, (record.name, message)
        assert "login ok" not in message, (record.name, message)


def _raw_request(port: int, target: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        while conn.recv(65536):
            pass


def test_e4_the_access_log_writes_escapes_and_encoded_line_breaks_as_text(app, caplog):
    """E4: the development server's access log (Werkzeug) gets request lines carrying
    an ANSI escape, a DEL and percent-encoded line breaks: each request is one record,
    and the visitor's control characters are written as visible text, never raw."""
    logredact.install()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    targets = [b"/x\x1b[31mred\x7f", b"/y%0d%0a127.0.0.1%20-%20-%20login%20ok", b"/login?n=%0a%1b"]
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for target in targets:
                _raw_request(server.server_port, target)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len(lines) == len(targets), lines
    for line in lines:
        # Werkzeug colours the status itself (its own escapes); the visitor's are text.
        assert "\r" not in line and "\n" not in line and "\x7f" not in line, repr(line)
        assert "\x1b[31m" not in line, repr(line)
    assert "\\x1b[31mred\\x7f" in lines[0]  # written out as visible text


def test_e8_an_edit_after_the_clinicians_review_keeps_the_earlier_answers(app, world, in_app):
    """E8: Alice changes her check-in after the clinician marked it reviewed. The earlier
    answers and note are kept with their time, the review is cleared so the change gets
    a fresh look, and the clinician's page says it was changed."""
    alice = app.test_client()
    login(alice, ALICE)
    assert alice.post("/patient/checkin", data=form(pain="2", note="first note")).status_code == 200
    checkin_id = in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))
    doc = app.test_client()
    login(doc, DOC1)
    assert doc.post(f"/clinic/checkins/{checkin_id}/review").status_code in (302, 303)
    assert in_app(lambda: db.session.get(CheckIn, checkin_id).reviewed_at) is not None
    edit = alice.post("/patient/checkin", data=form(pain="7", note="much worse"))
    assert edit.status_code == 200
    row = in_app(lambda: db.session.get(CheckIn, checkin_id))
    assert (row.pain, row.note, row.reviewed_at) == (7, "much worse", None)
    assert len(row.history) == 1
    earlier = row.history[0]
    assert earlier["answers"]["pain"] == 2 and earlier["answers"]["note"] == "first note"
    assert earlier["at"]  # when the earlier version was written
    page = text_of(doc.get(f"/clinic/patients/{world.patient_a}"))
    assert "Changed 1 time that day; earlier answers are kept." in page


def _settings(conn: sa.Connection) -> dict[str, str]:
    if conn.dialect.name == "postgresql":
        return {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("fsync", "synchronous_commit")
        }
    return {
        name: str(conn.exec_driver_sql(f"PRAGMA {name}").scalar())
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
    }


def test_f5_every_connection_of_the_apps_engine_has_the_durable_settings(app, in_app):
    """F5: read from two connections of the app's own engine, open at once. SQLite: WAL,
    synchronous NORMAL (1; the power-loss trade-off is written in app/dbtypes.py) or
    FULL (2), a busy timeout of at least 5 s, foreign keys on. PostgreSQL: fsync and
    synchronous_commit on (the dispatcher turns the latter off only for its own
    outcome writes, and resets it)."""

    def read() -> list[dict[str, str]]:
        with db.engine.connect() as first, db.engine.connect() as second:
            return [_settings(first), _settings(second)]

    for found in in_app(read):
        if is_postgres():
            assert found == {"fsync": "on", "synchronous_commit": "on"}
        else:
            assert found["journal_mode"] == "wal"
            assert found["synchronous"] in ("1", "2")
            assert int(found["busy_timeout"]) >= 5000
            assert found["foreign_keys"] == "1"


def test_e3_the_suite_wide_log_check_finds_a_secret(caplog):
    """Checklist E3: tests/conftest.py searches every test's log records for the tokens
    issued during it; the search itself finds one (and passes clean records)."""
    import logging
    import secrets

    from tests.conftest import secrets_in_logs

    token = secrets.token_urlsafe(32)
    log = logging.getLogger("app.test_e3")
    log.warning("sent a link to someone")
    assert secrets_in_logs(caplog.records, [token]) == []
    log.warning("sent /reset/%s", token)
    assert secrets_in_logs(caplog.records, [token]) == [f"app.test_e3: sent /reset/{token}"]
    caplog.clear()  # the suite-wide check would (rightly) fail this test otherwise
