"""How long a sign-in session lives (issue 18 point 10; security checklist A7): staff 15
minutes idle, patients 30, everyone 12 hours after signing in however busy; and the
signed-out mark the phone's service worker reads (docs/decisions/session-lifetimes.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from tests.conftest import login
from tests.conftest import text_of

DOC = "doc1@north.example"
ALICE = "alice@patients.example"


def signed_in(client, path: str) -> bool:
    r = client.get(path)
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 200


def test_staff_idle_15_minutes_is_precise_although_last_seen_is_written_rarely(
    client, world, clock
):
    """last_seen_at is not written on every request: a request 4 min 59 s after the last
    write may leave it alone. 14 more minutes idle is still 14 minutes, never 15+."""
    login(client, DOC)
    clock.advance(minutes=4, seconds=59)
    assert signed_in(client, "/clinic/")
    clock.advance(minutes=14)
    assert signed_in(client, "/clinic/")
    clock.advance(minutes=16)
    assert not signed_in(client, "/clinic/")


def test_staff_16_idle_minutes_always_end_the_session(client, world, clock):
    login(client, DOC)
    for _ in range(3):  # activity first, at odd moments, then the idle gap
        clock.advance(seconds=61)
        assert signed_in(client, "/clinic/")
    clock.advance(minutes=16)
    assert not signed_in(client, "/clinic/")
    clock.advance(seconds=1)
    assert not signed_in(client, "/clinic/")  # ended for good, not idle-dependent


def test_patient_idle_30_minutes(client, world, clock):
    login(client, ALICE)
    clock.advance(minutes=29)
    assert signed_in(client, "/patient/today")
    clock.advance(minutes=29, seconds=59)
    assert signed_in(client, "/patient/today")
    clock.advance(minutes=31)
    assert not signed_in(client, "/patient/today")


def test_an_idle_session_is_revoked_in_the_table(client, world, clock, in_app):
    login(client, ALICE)
    clock.advance(minutes=31)
    client.get("/patient/today")
    revoked = in_app(lambda: db.session.scalar(sa.select(AuthSession.revoked_at)))
    assert revoked == clock.now


def test_staff_sessions_end_12_hours_after_sign_in_however_busy(client, world, clock):
    login(client, DOC)
    for _ in range(12 * 6 - 1):  # a request every 10 minutes for 11 h 50 min
        clock.advance(minutes=10)
        assert signed_in(client, "/clinic/")
    clock.advance(minutes=10)  # exactly 12 hours: still in
    assert signed_in(client, "/clinic/")
    clock.advance(minutes=1)
    assert not signed_in(client, "/clinic/")
    login(client, DOC)  # a new sign-in starts a new 12 hours
    assert signed_in(client, "/clinic/")


def test_patient_sessions_end_12_hours_after_sign_in_however_busy(client, world, clock):
    login(client, ALICE)
    for _ in range(12 * 3):  # a page every 20 minutes for 12 hours
        clock.advance(minutes=20)
        assert signed_in(client, "/patient/today")
    clock.advance(minutes=1)
    r = client.get("/patient/today")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_the_sign_in_page_says_signed_out_only_to_the_signed_out(client, world):
    r = client.get("/login")
    assert r.status_code == 200 and r.headers["X-Sclero-Signed-Out"] == "1"
    login(client, ALICE)
    assert "X-Sclero-Signed-Out" not in client.get("/login").headers
    assert "X-Sclero-Signed-Out" not in client.get("/patient/today").headers


def test_an_ended_session_leads_to_a_page_marked_signed_out(client, world, clock):
    """What the service worker sees when it next asks for a kept page: a redirect to
    the sign-in page, which says "signed out" in its header."""
    login(client, ALICE)
    clock.advance(minutes=31)
    r = client.get("/patient/today", follow_redirects=True)
    assert r.request.path == "/login" and r.headers["X-Sclero-Signed-Out"] == "1"


def test_sign_out_clears_the_cache_and_cookies_but_not_the_storage(client, world):
    """Clear-Site-Data "storage" would wipe the phone's unsent check-ins (another
    person's too, on a shared phone) and the service worker: see the decision record."""
    login(client, ALICE)
    r = client.post("/logout")
    header = r.headers["Clear-Site-Data"]
    kinds = {part.strip() for part in header.split(",")}
    assert kinds == {'"cache"', '"cookies"'}
    assert '"storage"' not in header and '"*"' not in header
    # The message rides in the URL: the session cookie that would carry it is cleared.
    assert r.headers["Location"] == "/login?signed_out=1"
    assert "You have signed out." in text_of(client.get(r.headers["Location"]))
