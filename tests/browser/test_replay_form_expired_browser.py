"""An entry saved offline is kept when its replay meets an expired form token (the
person signed in again elsewhere): the server read nothing, so nothing may be dropped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import TaskTick
from tests.browser.conftest import wait_for_sw_control

pytestmark = pytest.mark.browser

QUEUE = "JSON.parse(localStorage.getItem('sc-queue-' + "
QUEUE += "document.querySelector('meta[name=sc-user]').content) || '[]').length"


def test_an_expired_token_keeps_the_entry_and_a_reload_sends_it(
    live_server, page, in_app, js_errors
):
    base = live_server.url
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("day3@demo.sclerocare.example")
    page.get_by_label("Password").fill("demo patient 2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()
    wait_for_sw_control(page)

    page.context.set_offline(True)
    page.locator("#task-walks button.tick").click()
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")
    # The page's token goes stale, as when the session cookie was replaced meanwhile.
    page.evaluate("document.querySelector('meta[name=csrf-token]').content = 'stale'")
    page.context.set_offline(False)
    expect(page.locator("#sc-status")).to_contain_text(
        "Please reload this page to send what you saved", timeout=15_000
    )
    assert page.evaluate(QUEUE) == 1
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(TaskTick))) == 0

    page.reload()  # a fresh token: the kept entry goes, once
    expect(page.locator("#sc-status")).to_contain_text("Sent.", timeout=15_000)
    ticks = in_app(lambda: [(t.task_key, t.day) for t in db.session.scalars(sa.select(TaskTick))])
    assert ticks == [("walks", 3)]
    assert page.evaluate(QUEUE) == 0
    assert js_errors == []
