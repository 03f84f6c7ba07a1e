"""A patient signed in under the old service worker keeps working offline after the
update to the one that no longer precaches the patient's scripts at install (issue 22
point 4).

The old worker precached app.js, checkin.js ... at install; the new one precaches only
the offline page, start.js and the icon, and deletes the old cache when it activates.
Nothing then cached the patient's scripts again until a later online visit, so a
patient who lost signal after the update got their kept Today without app.js: no
offline banner, and a tick went nowhere.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app import assets
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_offline_reload_browser import QUEUE
from tests.browser.test_offline_triage import _demo_patient_day1
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

OLD_VERSION = "old0000000"


def _sources(app) -> tuple[str, str]:
    """(the worker as released before issue 22, this release's worker)."""
    ext = app.extensions["sclero_assets"]
    with app.app_context():
        ext.pop("sw", None)
        new = assets.service_worker_source(app)
    hashes = ext["hashes"]
    old_list = ["/offline"] + [
        f"/static/{name}?v={hashes.get(name, '0')}"
        for name in [*assets.PATIENT_ASSETS, "icons/icon-192.png"]
    ]
    old = new.replace(json.dumps(ext["version"]), json.dumps(OLD_VERSION), 1)
    start = old.index("const PRECACHE = ") + len("const PRECACHE = ")
    end = old.index(";", start)
    old = old[:start] + json.dumps(old_list) + old[end:]
    # The old worker had no precachePatient: the patient's scripts came from install.
    old = old.replace("precachePatient(),", "").replace(
        'event.data.type === "precache-patient"', "false"
    )
    return old, new


def _static_cache(page: Page) -> list[str]:
    return page.evaluate(
        """async () => {
            const names = (await caches.keys()).filter((k) => k.startsWith('sclerocare-static-'));
            const urls = [];
            for (const n of names) {
                for (const r of await (await caches.open(n)).keys()) urls.push(n + ' ' + r.url);
            }
            return urls;
        }"""
    )


def test_patient_scripts_survive_the_update_to_the_new_worker(
    app, page: Page, live_server, in_app, clock, js_errors
):
    base = live_server.url
    ext = app.extensions["sclero_assets"]
    old, new = _sources(app)
    ext["sw"] = old
    in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo_domain()}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today"])
    assert any("js/checkin.js" in u and OLD_VERSION in u for u in _static_cache(page))

    # The release: the page (open, online) finds the new worker, which takes over.
    ext["sw"] = new
    page.evaluate(
        "async () => { const r = await navigator.serviceWorker.getRegistration(); "
        "await r.update(); }"
    )
    version = ext["version"]
    wait_for_js(
        page,
        """async (v) => { const keys = await caches.keys();
            return keys.includes('sclerocare-static-' + v)
                && !keys.some((k) => k.endsWith('old0000000')); }""",
        version,
    )
    # The new worker is done installing and activating; its own work then settles.
    page.wait_for_timeout(1000)

    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#sc-status")).to_contain_text("Offline copy, last updated")
    tick = page.locator("#task-walks button.tick")
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    assert wait_for_js(page, QUEUE) == 1
    cached = _static_cache(page)
    for name in ("js/app.js", "js/checkin.js", "js/triage.js"):
        assert any(name in u for u in cached), (name, cached)
    page.context.set_offline(False)
    assert js_errors == []


def demo_domain() -> str:
    from app.services import demo

    return demo.DOMAIN


def test_a_page_kept_before_the_update_finds_its_changed_script_offline(
    app, page: Page, live_server, in_app, clock, js_errors
):
    """The update can come without the patient opening the app (the browser checks for
    it when a reminder arrives): the kept Today then still names the old app.js?v=...,
    which went with the old cache. Offline, the script of the same name is used."""
    base = live_server.url
    in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo_domain()}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today"])
    # As kept by the previous release: its app.js had another version.
    version = app.extensions["sclero_assets"]["hashes"]["js/app.js"]
    page.evaluate(
        """async (v) => {
            const cache = await caches.open('sclerocare-pages');
            const kept = await cache.match('/patient/today');
            const html = (await kept.text()).split('app.js?v=' + v).join('app.js?v=0ld0000000');
            await cache.put('/patient/today', new Response(html, {headers: kept.headers}));
        }""",
        version,
    )
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#sc-status")).to_contain_text("Offline copy, last updated")
    tick = page.locator("#task-walks button.tick")
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    assert wait_for_js(page, QUEUE) == 1
    page.context.set_offline(False)
    assert js_errors == []
