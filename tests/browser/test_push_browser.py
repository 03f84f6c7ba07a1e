"""Reminders (web push) in a real browser: the reminders page, the service worker, and
the whole path from the button to a notification on screen.

Chromium here cannot reach a real push service, so ``PushManager.subscribe`` is stubbed
(``FAKE_SUBSCRIBE``) to return a subscription minted by the local push service
(tests/push_double.py), which verifies VAPID and decrypts what the app sends. The
decrypted bytes are then handed to the service worker with CDP
``ServiceWorker.deliverPushMessage``, exactly as a push service would. Recipe:
shared/testing/browser-and-push.md §8.5-8.6.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.domain.reminders import MESSAGES
from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.models import User
from app.services import demo
from app.services.notify import dispatch
from tests.browser.conftest import PHONE
from tests.browser.test_today_browser import sign_in
from tests.push_double import PushServiceDouble
from tests.push_double import b64u_dec

pytestmark = pytest.mark.browser

DAY0 = f"day0@{demo.DOMAIN}"
ON = "Reminders are on for this device."
# sw.js FALLBACK_BODY as served: in each offered language (app/assets.py)
GENERIC_BODY = (
    "You have a new reminder. Open ScleroCare to see it. / "
    "Tiene un recordatorio nuevo. Abra ScleroCare para verlo."
)
HEALTH_WORDS = ("stocking", "vein", "bruis", "calf")
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

# Counts the page's calls to Notification.requestPermission (the real one still runs).
COUNT_PERMISSION_REQUESTS = """
(() => {
  if (!self.Notification || !Notification.requestPermission) return;
  const real = Notification.requestPermission.bind(Notification);
  self.__permissionRequests = 0;
  Notification.requestPermission = (...args) => {
    self.__permissionRequests += 1;
    return real(...args);
  };
})();
"""

# Replaces PushManager.subscribe (which cannot reach a real push service here) with one
# returning a subscription minted by the push double, kept across page loads like a real
# one. Refuses without permission, like the real one. Injected with
# context.add_init_script(FAKE_SUBSCRIBE % json).
FAKE_SUBSCRIBE = """
(() => {
  const fake = %s;
  const b64 = (s) => Uint8Array.from(
    atob((s + '='.repeat((4 - s.length %% 4) %% 4)).replace(/-/g, '+').replace(/_/g, '/')),
    (c) => c.charCodeAt(0)).buffer;
  // Kept across page loads (localStorage), as a real subscription is.
  const keep = self.localStorage || null;
  const KEY = '__fakePushSubscription';
  let current = null;
  const make = () => ({
    endpoint: fake.endpoint, expirationTime: null, options: {userVisibleOnly: true},
    getKey: (k) => b64(fake.keys[k]), toJSON: () => fake,
    unsubscribe: async () => {
      current = null;
      if (keep) keep.removeItem(KEY);
      return true;
    },
  });
  if (keep && keep.getItem(KEY)) {
    current = make();
    self.__lastApplicationServerKey = keep.getItem(KEY + ':key');
  }
  if (self.PushManager) {
    PushManager.prototype.subscribe = async function (opts) {
      if (!opts || !opts.userVisibleOnly || !opts.applicationServerKey) {
        throw new DOMException('bad options', 'NotAllowedError');
      }
      if (Notification.permission !== 'granted') {
        throw new DOMException('Registration failed - permission denied', 'NotAllowedError');
      }
      const key = new Uint8Array(opts.applicationServerKey);
      window.__lastApplicationServerKey = btoa(String.fromCharCode(...key));
      if (keep) {
        keep.setItem(KEY, '1');
        keep.setItem(KEY + ':key', window.__lastApplicationServerKey);
      }
      return (current = make());
    };
    PushManager.prototype.getSubscription = async function () { return current; };
  }
})();
"""


@pytest.fixture
def push_service(app):
    """The local push service, allowed over http; started before the live server."""
    key = app.extensions["sclero_push"]["public_key"]
    with PushServiceDouble(vapid_public_key_b64u=key) as ps:
        app.config["PUSH_ALLOW_HTTP"] = (ps.netloc,)
        yield ps


def wait_sw_activated(page: Page, timeout_ms: int = 10_000) -> dict:
    """Wait until the page's service worker registration is *activated*."""
    return page.evaluate(
        """async (timeout) => {
        const reg = await navigator.serviceWorker.ready;
        const w = reg.active;
        if (w.state !== 'activated') await new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error('sw not activated')), timeout);
            w.addEventListener('statechange', () => {
                if (w.state === 'activated') { clearTimeout(t); res(); } });
        });
        return {scope: reg.scope, state: w.state};
    }""",
        timeout_ms,
    )


def deliver_push(context: BrowserContext, page: Page, origin: str, data: str) -> None:
    """CDP: fire a 'push' event at the service worker, as the push service would."""
    cdp = context.new_cdp_session(page)
    regs: dict[str, dict] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: regs.update({r["registrationId"]: r for r in e["registrations"]}),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(100):
        live = [r for r in regs.values() if r["scopeURL"] == origin + "/" and not r["isDeleted"]]
        if live:
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError(f"no service worker registration for {origin}/: {regs}")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": live[0]["registrationId"], "data": data},
    )


def get_notifications(page: Page, expect_n: int = 1, timeout_ms: int = 5_000) -> list[dict]:
    notes: list[dict] = []
    for _ in range(timeout_ms // 50):
        notes = page.evaluate(
            """async () => (await (await navigator.serviceWorker.ready).getNotifications())
               .map(n => ({title: n.title, body: n.body, data: n.data, tag: n.tag}))"""
        )
        if len(notes) >= expect_n:
            return notes
        page.wait_for_timeout(50)
    return notes


def service_worker(context: BrowserContext):
    return (
        context.service_workers[0]
        if context.service_workers
        else context.wait_for_event("serviceworker")
    )


def _patient(email: str) -> tuple[int, str]:
    row = db.session.execute(
        sa.select(Patient.id, User.name)
        .join(User, Patient.user_id == User.id)
        .where(User.email == email)
    ).one()
    return row[0], row[1]


def _endpoints(patient_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(PushSubscription.endpoint).where(PushSubscription.patient_id == patient_id)
        )
    )


def _first_due(patient_id: int) -> tuple:
    """(available_at, kind, link) of this patient's earliest pending reminder."""
    return tuple(
        db.session.execute(
            sa.select(OutboxMessage.available_at, OutboxMessage.kind, OutboxMessage.link)
            .where(
                OutboxMessage.patient_id == patient_id,
                OutboxMessage.state == OutboxState.PENDING,
            )
            .order_by(OutboxMessage.available_at)
            .limit(1)
        ).one()
    )


def test_turn_on_reminders_then_a_reminder_reaches_the_screen(
    app, push_service, live_server, page: Page, in_app, artifacts, js_errors
):
    base = live_server.url
    context = page.context
    fake = push_service.new_subscription()
    context.add_init_script(FAKE_SUBSCRIBE % json.dumps(fake.info()))
    patient_id, name = in_app(_patient, DAY0)

    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/reminders")
    status = page.locator("#push-status")
    expect(status).to_have_text("Reminders are off on this device.")
    expect(page.locator("#ios-install")).to_be_hidden()
    assert in_app(_endpoints, patient_id) == []

    # Granted now, so the tap's requestPermission() says yes (headless has no prompt).
    context.grant_permissions(["notifications"], origin=base)
    with page.expect_navigation():  # saved, then the page reloads to list this device
        page.get_by_role("button", name="Turn on reminders").click()
    expect(status).to_have_text(ON)
    expect(page.get_by_role("button", name="Turn off reminders on this device")).to_be_visible()
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_hidden()
    expect(page.get_by_role("region", name="Devices with reminders")).to_contain_text(
        "Linux, Chrome"
    )
    assert in_app(_endpoints, patient_id) == [fake.endpoint]
    # The key the browser subscribed with is the server's VAPID public key.
    public_key = app.extensions["sclero_push"]["public_key"]
    assert (
        page.evaluate("window.__lastApplicationServerKey")
        == base64.b64encode(b64u_dec(public_key)).decode()
    )
    page.screenshot(path=str(artifacts / "reminders-on.png"), full_page=True)

    # The dispatcher sends the first reminder that falls due for this patient.
    at, kind, link = in_app(_first_due, patient_id)
    report = in_app(dispatch.run_until_empty, app.extensions["sclero_push"]["sender"], at)
    assert report.sent >= 1 and report.failed == 0, report
    assert fake.received, push_service.requests
    plaintext = fake.received[0]["plaintext"].decode()
    message = json.loads(plaintext)
    assert message["body"] == MESSAGES[kind] and message["data"]["url"] == link
    lowered = plaintext.lower()
    for word in (name.lower(), *name.lower().split(), *HEALTH_WORDS):
        assert word not in lowered, (word, plaintext)

    # The push service hands those exact bytes to the phone's service worker.
    wait_sw_activated(page)
    deliver_push(context, page, base, plaintext)
    notes = get_notifications(page)
    assert len(notes) == 1, notes
    note = notes[0]
    assert note["title"] == "ScleroCare"
    assert note["body"] == MESSAGES[kind]
    assert note["data"] == {"url": link} and link in ("/patient/today", "/patient/checklist")
    assert note["tag"] == message["tag"]
    assert js_errors == []


def test_turn_off_reminders_removes_this_device(
    push_service, live_server, page: Page, in_app, js_errors
):
    base = live_server.url
    fake = push_service.new_subscription()
    page.context.add_init_script(FAKE_SUBSCRIBE % json.dumps(fake.info()))
    patient_id, _ = in_app(_patient, DAY0)
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    status = page.locator("#push-status")
    expect(status).to_have_text("Reminders are off on this device.")
    page.context.grant_permissions(["notifications"], origin=base)
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on reminders").click()
    expect(status).to_have_text(ON)
    assert in_app(_endpoints, patient_id) == [fake.endpoint]

    with page.expect_navigation():
        page.get_by_role("button", name="Turn off reminders on this device").click()
    expect(status).to_have_text("Reminders are off on this device.")
    assert in_app(_endpoints, patient_id) == []
    # Permission is still granted, but opening the page again does not turn them back on.
    page.reload()
    expect(status).to_have_text("Reminders are off on this device.")
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_visible()
    assert in_app(_endpoints, patient_id) == []
    assert js_errors == []


def test_turning_off_this_device_in_the_list_is_not_undone_on_reload(
    push_service, live_server, page: Page, in_app, js_errors
):
    base = live_server.url
    fake = push_service.new_subscription()
    page.context.add_init_script(FAKE_SUBSCRIBE % json.dumps(fake.info()))
    patient_id, _ = in_app(_patient, DAY0)
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    status = page.locator("#push-status")
    expect(status).to_have_text("Reminders are off on this device.")
    page.context.grant_permissions(["notifications"], origin=base)
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on reminders").click()
    expect(status).to_have_text(ON)
    expect(page.locator("form[data-this-device='1']")).to_have_count(1)

    page.get_by_role("button", name="Turn off", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Reminders are off for that device.")
    expect(status).to_have_text("Reminders are off on this device.")
    expect(page.get_by_role("region", name="Devices with reminders")).to_contain_text(
        "No device has reminders turned on."
    )
    assert in_app(_endpoints, patient_id) == []
    assert js_errors == []


def test_iphone_in_safari_is_told_to_add_to_home_screen(browser, live_server, artifacts):
    base = live_server.url
    context = browser.new_context(
        viewport=PHONE, user_agent=IPHONE_SAFARI, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
        expect(page).to_have_url(f"{base}/patient/today")
        page.goto(f"{base}/patient/reminders")
        expect(page.locator("#push-status")).to_contain_text("Home Screen")
        guide = page.locator("#ios-install")
        expect(guide).to_be_visible()
        expect(guide).to_contain_text("Add to Home Screen")
        expect(page.get_by_role("button", name="Turn on reminders")).to_be_hidden()
        expect(page.get_by_role("button", name="Turn off reminders on this device")).to_be_hidden()
        page.screenshot(path=str(artifacts / "reminders-iphone-guide.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_denied_permission_explains_how_to_allow_and_stores_nothing(
    push_service, live_server, page: Page, in_app, js_errors
):
    base = live_server.url
    fake = push_service.new_subscription()
    page.context.add_init_script(FAKE_SUBSCRIBE % json.dumps(fake.info()))
    page.context.add_init_script(COUNT_PERMISSION_REQUESTS)
    patient_id, _ = in_app(_patient, DAY0)
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    # Opening the app and the reminders page never asks: only the tap does.
    assert page.evaluate("Notification.permission") == "default"
    assert page.evaluate("window.__permissionRequests") == 0
    page.goto(f"{base}/patient/reminders")
    status = page.locator("#push-status")
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_visible()
    assert page.evaluate("window.__permissionRequests") == 0
    # Headless Chromium has no prompt: requestPermission() resolves 'denied'.
    page.get_by_role("button", name="Turn on reminders").click()
    expect(status).to_contain_text("blocked")
    assert page.evaluate("window.__permissionRequests") == 1
    expect(status).to_contain_text("set Notifications to Allow")
    expect(page.get_by_role("button", name="Turn on reminders")).to_be_hidden()
    assert page.evaluate("window.__lastApplicationServerKey") is None
    assert in_app(_endpoints, patient_id) == []
    page.reload()  # now the browser reports 'denied' up front
    expect(status).to_contain_text("blocked")
    assert js_errors == []


def test_server_refusal_is_shown_and_the_button_comes_back(live_server, page: Page, in_app):
    base = live_server.url
    refused = {
        "endpoint": "https://push.evil.example/push/1",
        "expirationTime": None,
        "keys": {"p256dh": "BAAA", "auth": "AAAA"},
    }
    page.context.add_init_script(FAKE_SUBSCRIBE % json.dumps(refused))
    patient_id, _ = in_app(_patient, DAY0)
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    status = page.locator("#push-status")
    expect(status).to_have_text("Reminders are off on this device.")
    page.context.grant_permissions(["notifications"], origin=base)
    button = page.get_by_role("button", name="Turn on reminders")
    button.click()
    # The server's own words (400 {"ok": false, "error": ...}) reach the patient.
    expect(status).to_have_text(
        "Reminders could not be turned on: This browser's push service is not supported."
    )
    expect(button).to_be_visible()
    expect(button).to_be_enabled()
    assert in_app(_endpoints, patient_id) == []


def test_service_worker_routes_clicks_and_renews_subscriptions(
    push_service, live_server, page: Page, in_app
):
    base = live_server.url
    page.goto(f"{base}/login")
    wait_sw_activated(page)
    sw = service_worker(page.context)

    targets = sw.evaluate(
        """(urls) => urls.map((u) => notificationTarget(u, self.location.origin))""",
        [
            "/patient/checklist",
            "/patient/today#task-walks",
            f"{base}/patient/plan",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example/x",
            "javascript:alert(1)",
            "",
            None,
        ],
    )
    assert targets == [
        "/patient/checklist",
        "/patient/today#task-walks",
        "/patient/plan",
        "/patient/today",
        "/patient/today",
        "/patient/today",
        "/patient/today",
        "/patient/today",
        "/patient/today",
    ]

    shown = sw.evaluate(
        """(raws) => raws.map((r) => notificationFromPush(r))""",
        [
            json.dumps(
                {
                    "web_push": 8030,
                    "notification": {
                        "title": "ScleroCare",
                        "body": "Your check-in and aftercare for today are ready.",
                        "navigate": f"{base}/patient/checklist",
                    },
                }
            ),
            json.dumps(
                {"title": "ScleroCare", "body": "Hi", "data": {"url": "https://evil.example"}}
            ),
            "not json",
            "",
        ],
    )
    assert [(n["title"], n["options"]["body"], n["options"]["data"]) for n in shown] == [
        (
            "ScleroCare",
            "Your check-in and aftercare for today are ready.",
            {"url": "/patient/checklist"},
        ),
        ("ScleroCare", "Hi", {"url": "/patient/today"}),
        ("ScleroCare", GENERIC_BODY, {"url": "/patient/today"}),
        ("ScleroCare", GENERIC_BODY, {"url": "/patient/today"}),
    ]

    # A tap on a notification (notificationclick runs openTarget): headless Chromium
    # cannot click a notification, and focus()/openWindow() need that click, so the
    # worker's window list is replaced by recording stand-ins for this check only.
    routed = sw.evaluate(
        """async ([origin, scenarios]) => {
            const out = [];
            // On a worker's global object the attribute is its own property: keep it.
            const real = Object.getOwnPropertyDescriptor(self, 'clients')
              || Object.getOwnPropertyDescriptor(Object.getPrototypeOf(self), 'clients');
            for (const [urls, path] of scenarios) {
              const calls = [];
              const win = (url) => ({
                url,
                focus: async function () { calls.push(['focus', this.url]); return this; },
                navigate: async (to) => { calls.push(['navigate', to]); return { url: to }; },
              });
              Object.defineProperty(self, 'clients', { configurable: true, value: {
                matchAll: async () => urls.map((u) => win(origin + u)),
                openWindow: async (to) => { calls.push(['open', to]); return null; },
              } });
              try {
                await openTarget(path);
              } finally {
                delete self.clients;
                if (!('clients' in self)) Object.defineProperty(self, 'clients', real);
              }
              out.push(calls.map(([what, url]) => [what, url.replace(origin, '')]));
            }
            return out;
        }""",
        [
            base,
            [
                [["/patient/plan"], "/patient/plan"],  # already open: focus it
                [["/patient/diary"], "/patient/plan"],  # another page open: focus, go there
                [[], "/patient/today"],  # nothing open: open a window
            ],
        ],
    )
    assert routed == [
        [["focus", "/patient/plan"]],
        [["focus", "/patient/diary"], ["navigate", "/patient/plan"]],
        [["open", "/patient/today"]],
    ]
    assert sw.evaluate("typeof self.clients.openWindow") == "function"  # the real one is back

    # pushsubscriptionchange: the worker subscribes again with the old key and tells the
    # server (POST /push/resubscribe, no CSRF token in a worker) which endpoint it replaces.
    old, new = push_service.new_subscription(), push_service.new_subscription()
    patient_id, _ = in_app(_patient, DAY0)

    def store_old() -> None:
        info = old.info()
        db.session.add(
            PushSubscription(
                patient_id=patient_id,
                endpoint=info["endpoint"],
                p256dh=info["keys"]["p256dh"],
                auth=info["keys"]["auth"],
                device="Linux, Chrome",
            )
        )
        db.session.commit()

    in_app(store_old)
    result = sw.evaluate(
        """async ([oldEndpoint, fresh]) => {
            let usedKey = null;
            PushManager.prototype.subscribe = async (opts) => {
                usedKey = Array.from(new Uint8Array(opts.applicationServerKey)).slice(0, 3);
                return {endpoint: fresh.endpoint, toJSON: () => fresh};
            };
            const key = new Uint8Array(65); key[0] = 4; key[1] = 7; key[2] = 9;
            const r = await renewSubscription(
                {endpoint: oldEndpoint, options: {applicationServerKey: key.buffer}}, null);
            return {status: r.status, usedKey};
        }""",
        [old.endpoint, new.info()],
    )
    assert result == {"status": 200, "usedKey": [4, 7, 9]}
    assert in_app(_endpoints, patient_id) == [new.endpoint]


def _confirmed_at(patient_id: int):
    return db.session.scalar(
        sa.select(PushSubscription.confirmed_at).where(PushSubscription.patient_id == patient_id)
    )


def _set_confirmed_at(patient_id: int, when) -> None:
    db.session.execute(
        sa.update(PushSubscription)
        .where(PushSubscription.patient_id == patient_id)
        .values(confirmed_at=when)
    )
    db.session.commit()


def _remove_devices(patient_id: int) -> None:
    db.session.execute(sa.delete(PushSubscription).where(PushSubscription.patient_id == patient_id))
    db.session.commit()


def test_opening_the_app_reconfirms_the_device_but_never_turns_it_back_on(
    push_service, live_server, page: Page, in_app, clock, js_errors
):
    base = live_server.url
    fake = push_service.new_subscription()
    page.context.add_init_script(FAKE_SUBSCRIBE % json.dumps(fake.info()))
    patient_id, _ = in_app(_patient, DAY0)
    sign_in(page, base, DAY0, demo.PATIENT_PASSWORD)
    page.goto(f"{base}/patient/reminders")
    page.context.grant_permissions(["notifications"], origin=base)
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on reminders").click()
    expect(page.locator("#push-status")).to_have_text(ON)

    # Opening the app (any patient page) re-confirms this device with the server.
    old = clock.now - timedelta(days=3)
    in_app(_set_confirmed_at, patient_id, old)
    page.goto(f"{base}/patient/today")
    for _ in range(100):
        if in_app(_confirmed_at, patient_id) != old:
            break
        page.wait_for_timeout(50)
    assert in_app(_confirmed_at, patient_id) == clock.now
    assert in_app(_endpoints, patient_id) == [fake.endpoint]

    # Turned off from another phone's list: the next app open does not turn it back on,
    # and this browser drops its copy, so the reminders page shows it off too.
    in_app(_remove_devices, patient_id)
    page.evaluate("sessionStorage.clear()")
    page.reload()
    has_sub = (
        "async () => !!(await (await navigator.serviceWorker.ready).pushManager.getSubscription())"
    )
    for _ in range(100):
        if not page.evaluate(has_sub):
            break
        page.wait_for_timeout(50)
    assert page.evaluate(has_sub) is False
    assert in_app(_endpoints, patient_id) == []
    page.goto(f"{base}/patient/reminders")
    expect(page.locator("#push-status")).to_have_text("Reminders are off on this device.")
    assert in_app(_endpoints, patient_id) == []
    assert js_errors == []
