"""Where a sign-in link is shown, it is shown whole, with a Copy button and a QR code
drawn on the server (issue 17 point 6): the patient page's new link, the staff pages."""

from __future__ import annotations

import re

from app.qr import qr_svg
from tests.conftest import text_of
from tests.web.test_signin_link_accountability import sign_in_admin


def _new_patient_link(client, world):
    r = client.post(f"/clinic/patients/{world.patient_a}/invitation", follow_redirects=True)
    assert r.status_code == 200
    return r


def test_patient_page_shows_the_whole_link_with_copy_and_qr(client, world, in_app):
    sign_in_admin(client, in_app, world)  # Alice has a password: an admin's link (issue 18)
    r = _new_patient_link(client, world)
    html = r.get_data(as_text=True)
    match = re.search(
        r'<textarea id="invite-link" class="copy share-link-text" readonly[^>]*>([^<]+)</textarea>',
        html,
    )
    assert match, "the link is in a read-only box"
    link = match.group(1)
    assert re.fullmatch(r"http://localhost/invite/[A-Za-z0-9_-]{40,}", link)
    # The Copy button, its live status line, and the script that makes it work.
    assert 'data-copy-target="invite-link"' in html
    assert 'id="invite-link-status" class="copy-status" role="status" aria-live="polite"' in html
    assert re.search(r'<script src="/static/js/copylink\.js\?v=\w+" defer>', html)
    assert re.search(r'<link rel="stylesheet" href="/static/css/share\.css\?v=\w+">', html)
    # The QR code is inline SVG of exactly this link: nothing fetched from elsewhere.
    assert str(qr_svg(link, "QR code of the invitation link")) in html
    assert 'role="img" aria-label="QR code of the invitation link"' in html
    assert "Or let Alice Marker-A scan this code" in text_of(r)
    # No other host is named on the page (the token must not leave the server).
    assert not re.search(r'(src|href)="https?://', html)


def test_qr_codes_differ_per_link_and_are_svg():
    a, b = qr_svg("http://localhost/invite/aaa"), qr_svg("http://localhost/invite/bbb")
    assert a.startswith("<svg ") and a.endswith("</svg>") and "viewBox" in a
    assert a != b
    # The label is escaped: an attribute cannot be broken out of.
    assert '"><script>' not in qr_svg("x", '"><script>')


def test_copy_script_and_styles_are_served(client):
    with client.get("/static/js/copylink.js") as js:
        assert js.status_code == 200 and b"navigator.clipboard" in js.data
        assert b"Copied" in js.data and b"select()" in js.data
    with client.get("/static/css/share.css") as css:
        assert css.status_code == 200 and b"overflow-wrap: anywhere" in css.data
