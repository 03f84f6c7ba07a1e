"""A tick saved on the phone while offline survives an expired sign-in: the patient is
asked to sign in, and the tick is sent once afterwards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import AuthSession
from app.models import TaskTick
from tests.browser.conftest import wait_for_sw_control

pytestmark = pytest.mark.browser


def test_offline_tick_is_sent_after_signing_in_again(live_server, page, in_app, clock, js_errors):
    base = live_server.url
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("day3@demo.sclerocare.example")
    page.get_by_label("Password").fill("demo patient 2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the service worker
    wait_for_sw_control(page)

    page.context.set_offline(True)
    page.locator("#task-walks button.tick").click()
    expect(page.locator("#sc-status")).to_contain_text(
        "Saved on this phone, will send when online."
    )

    # Meanwhile the sign-in session ends (idle timeout, or revoked on another device).
    def revoke():
        db.session.execute(sa.update(AuthSession).values(revoked_at=clock()))
        db.session.commit()

    in_app(revoke)
    page.context.set_offline(False)
    expect(page.locator("#sc-status")).to_contain_text(
        "Please sign in to send what you saved", timeout=15_000
    )
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(TaskTick))) == 0

    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("day3@demo.sclerocare.example")
    page.get_by_label("Password").fill("demo patient 2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.locator("#sc-status")).to_contain_text("Sent.", timeout=15_000)
    ticks = in_app(lambda: [(t.task_key, t.day) for t in db.session.scalars(sa.select(TaskTick))])
    assert ticks == [("walks", 3)]
    assert js_errors == []
