"""Review of issue 17 point 6: a patient's sign-in link is shown in the response to the
POST that made it and never travels in the session cookie (which is signed, not
encrypted: anyone who sees the cookie could read a token in it)."""

from __future__ import annotations

import base64
import re
import zlib

from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_signin_link_accountability import sign_in_admin


def _cookie_text(client) -> str:
    """The session cookie's payload as text (Flask's cookie is readable, only signed)."""
    cookie = client.get_cookie("session")
    if cookie is None:
        return ""
    value = cookie.value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode("utf-8", "replace")


def _token(html: str) -> str:
    match = re.search(r"/invite/([A-Za-z0-9_-]{40,})", html)
    assert match, "the link is on the page"
    return match.group(1)


def test_new_sign_in_link_is_in_the_post_response_not_the_cookie(client, world, in_app):
    sign_in_admin(client, in_app, world)  # Alice has a password: an admin's link (issue 18)
    r = client.post(f"/clinic/patients/{world.patient_a}/invitation")
    assert r.status_code == 200, "the link is shown by the POST's own response"
    token = _token(r.get_data(as_text=True))
    assert "Alice Marker-A" in text_of(r)
    assert token not in _cookie_text(client)
    assert "new_invite" not in _cookie_text(client)
    # Shown once: the next view of the page has no link.
    again = client.get(f"/clinic/patients/{world.patient_a}")
    assert "/invite/" not in again.get_data(as_text=True)


def test_new_patients_link_is_in_the_post_response_not_the_cookie(client, world, in_app):
    from app.services import protocols

    login(client, "doc1@north.example")
    vid = in_app(
        lambda: next(
            v.id for v in protocols.latest_for_clinic(world.clinic1) if v.key == "compression-72h"
        )
    )
    r = client.post(
        "/clinic/patients/new",
        data={
            "name": "Dora New",
            "email": "dora@patients.example",
            "timezone": "Europe/London",
            "date": "2026-11-25",
            "time": "10:00",
            "protocol": str(vid),
        },
    )
    assert r.status_code == 200, r.status_code
    token = _token(r.get_data(as_text=True))
    assert "Dora New" in text_of(r)
    assert token not in _cookie_text(client)
    assert "new_invite" not in _cookie_text(client)


def test_another_clinics_patient_gets_no_link(client, world):
    login(client, "doc1@north.example")
    r = client.post(f"/clinic/patients/{world.patient_c}/invitation")
    assert r.status_code == 404
    assert "/invite/" not in r.get_data(as_text=True)
