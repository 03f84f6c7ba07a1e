"""Instant first paint (issue 22 point 4): what a page makes the browser fetch before it
can paint, and what the service worker makes it fetch before anyone signs in.

The critical path is the HTML plus every resource that can hold back rendering: each
stylesheet it links (in the head or the body) and each script without ``defer``,
``async`` or ``type="module"``; each is gzipped as the app serves it, and the sum must fit
the first round trip (14 KB; bench/pages.py prints the same figure).
"""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests.conftest import login

CRITICAL_BYTES = 14 * 1024
PATIENT_PAGES = (
    "/patient/today",
    "/patient/checklist",
    "/patient/plan",
    "/patient/diary",
    "/patient/checkin",
    "/patient/photos",
    "/patient/reminders",
)
# Only a signed-in patient's pages use these; the sign-in page must not fetch them.
PATIENT_ONLY = ("js/push.js", "js/checkin.js", "js/photoshrink.js", "js/triage.js", "photos.css")
TAG = re.compile(r"<(link|script)\b([^>]*)>", re.I)


def _attr(attrs: str, name: str) -> str | None:
    found = re.search(rf'\b{name}(?:="([^"]*)")?', attrs)
    if not found:
        return None
    return found.group(1) if found.group(1) is not None else ""


def blocking_resources(html: str) -> list[str]:
    """URLs of the stylesheets and the scripts that can hold back the first paint."""
    urls = []
    for tag, attrs in TAG.findall(html):
        if tag.lower() == "link":
            if (_attr(attrs, "rel") or "").lower() == "stylesheet":
                urls.append(_attr(attrs, "href"))
        else:
            src = _attr(attrs, "src")
            if src is None:
                continue  # inline (JSON data, not run)
            lazy = _attr(attrs, "defer") is not None or _attr(attrs, "async") is not None
            if not lazy and (_attr(attrs, "type") or "") != "module":
                urls.append(src)
    return urls


def wire_size(response) -> int:
    """Bytes as sent to a client that accepts gzip (gzipped here if the app did not)."""
    body = response.get_data()
    return (
        len(body)
        if response.headers.get("Content-Encoding") == "gzip"
        else len(gzip.compress(body))
    )


def critical_path(client, path: str) -> tuple[int, list[str], str]:
    """(gzip bytes of HTML + blocking resources, those resources, the HTML)."""
    gz = {"Accept-Encoding": "gzip"}
    page = client.get(path, headers=gz)
    assert page.status_code == 200, (path, page.status_code)
    html = gzip.decompress(page.get_data()) if page.headers.get("Content-Encoding") else None
    html = (html or page.get_data()).decode("utf-8")
    total = wire_size(page)
    urls = blocking_resources(html)
    for url in urls:
        asset = client.get(url, headers=gz)
        assert asset.status_code == 200, url
        total += wire_size(asset)
    return total, urls, html


def test_blocking_resources_are_found_and_deferred_scripts_are_not():
    html = (
        '<link rel="stylesheet" href="/a.css"><link rel="icon" href="/i.png">'
        '<script src="/b.js"></script><script src="/c.js" defer></script>'
        '<script type="application/json" id="x">{}</script><p><link rel="stylesheet" '
        'href="/d.css"></p><script src="/e.js" async></script>'
    )
    assert blocking_resources(html) == ["/a.css", "/b.js", "/d.css"]


def test_the_sign_in_page_fits_the_first_round_trip_and_loads_no_patient_script(client):
    size, urls, html = critical_path(client, "/login")
    assert size <= CRITICAL_BYTES, (size, urls)
    for name in (*PATIENT_ONLY, "js/app.js"):
        assert name not in html, name
    assert "js/start.js" in html


def test_the_service_worker_precaches_no_patient_asset_at_install(client):
    source = client.get("/sw.js").get_data(as_text=True)
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", source).group(1))
    later = json.loads(re.search(r"const PATIENT_ASSETS = (\[.*?\]);", source).group(1))
    assert "/offline" in precache
    for name in PATIENT_ONLY:
        assert not any(name in url for url in precache), (name, precache)
        assert any(name in url for url in later), (name, later)  # offline check-in still works
    assert all("?v=" in url for url in precache[1:] + later)


@pytest.mark.parametrize("photos", [False, True], ids=["no-photos", "photos"])
@pytest.mark.parametrize("path", PATIENT_PAGES)
def test_every_patient_page_fits_the_first_round_trip(client, world, in_app, path, photos):
    if photos:
        from tests.web.test_diary_days import add_days

        in_app(lambda: add_days(world.patient_a, photos=range(8)))
    login(client, "alice@patients.example")
    size, urls, html = critical_path(client, path)
    assert size <= CRITICAL_BYTES, (path, size, urls)
    head = html[: html.index("</head>")]
    assert "photos.css" not in head, "photos.css must not hold back the whole page"
    if path in ("/patient/diary", "/patient/photos"):
        # Linked where the photos are, and only when there are photos to style.
        assert ("photos.css" in html) is photos


def test_the_clinician_dashboard_fits_the_first_round_trip(client, world):
    login(client, "doc1@north.example")
    size, urls, _html = critical_path(client, "/clinic/")
    assert size <= CRITICAL_BYTES, (size, urls)


def test_the_check_in_fetches_photos_css_after_paint_unless_the_photo_box_starts_open(
    client, world
):
    login(client, "alice@patients.example")
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert "data-stylesheet=" in html and "photos.css" in html
    outside_noscript = re.sub(r"<noscript>.*?</noscript>", "", html, flags=re.S)
    assert not re.search(r'<link rel="stylesheet"[^>]*photos\.css', outside_noscript)
