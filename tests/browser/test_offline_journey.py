"""The whole patient journey in Chromium at phone size, including a spell offline.

Open the invitation, set a password, tick checklist items, see Today, go offline, tick
a task and save a check-in, come back online, and find both stored exactly once.
A screenshot of each step goes to test-artifacts/browser/journey/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Clinic
from app.models import TaskTick
from app.models import Treatment
from app.models import TreatmentStatus
from app.services import accounts
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

PASSWORD = "a sentence I will remember"


def _invite(clock) -> tuple[int, str]:
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
    patient = make_patient(
        clinic, "journey@patients.example", day=None, name="Jo Journey", now=clock()
    )
    patient.user.password_hash = None
    token = accounts.issue_invitation(patient.user, None, clock())
    db.session.commit()
    return patient.id, token


def _record_treatment(patient_id: int, clock) -> None:
    t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    t.treated_at = t.appointment_at = clock() - timedelta(days=1)
    t.status = TreatmentStatus.DONE
    db.session.commit()


def _wait_for_kept_pages(page, paths) -> None:
    """Until the service worker has kept every page of ``paths``."""
    wait_for_js(
        page,
        """async (paths) => {
            const cache = await caches.open('sclerocare-pages');
            for (const p of paths) { if (!(await cache.match(p))) return false; }
            return true;
        }""",
        paths,
        timeout=15_000,
    )


def test_invitation_to_offline_check_in(live_server, page, in_app, clock, artifacts, js_errors):
    shots = artifacts / "journey"
    shots.mkdir(exist_ok=True)
    base = live_server.url
    patient_id, token = in_app(_invite, clock)

    # 1. The invitation link: set a password.
    page.goto(f"{base}/invite/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Jo Journey")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Type it again").fill(PASSWORD)
    page.screenshot(path=shots / "1-invitation.png", full_page=True)
    page.get_by_role("button", name="Set password and continue").click()
    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your treatment is tomorrow")

    # 2. The checklist: tick two items.
    page.get_by_role("link", name="Checklist", exact=True).click()
    for key in ("no-lotions", "bring-stockings"):
        page.locator(f"#item-{key} button.tick").click()
        expect(page.locator(f"#item-{key} button.tick")).to_have_attribute("aria-pressed", "true")
    # 4 of the patient's own: the scan and consultation are the clinic's (not counted).
    expect(page.locator(".progress-text")).to_contain_text("2 of 4 done")
    page.screenshot(path=shots / "2-checklist.png", full_page=True)

    # 3. The treatment happens (recorded by the clinic); Today shows day 1.
    in_app(_record_treatment, patient_id, clock)
    page.goto(f"{base}/patient/today")
    expect(page.get_by_role("heading", level=1)).to_have_text("Day 1 after your treatment")
    wait_for_sw_control(page)
    page.reload()  # now through the service worker, which keeps the patient's pages
    _wait_for_kept_pages(page, ["/patient/today", "/patient/checkin"])
    page.screenshot(path=shots / "3-today.png", full_page=True)

    # 4. Offline: Today still opens, marked as a copy; a tick is saved on the phone.
    page.context.set_offline(True)
    page.reload()
    status = page.locator("#sc-status")
    expect(status).to_contain_text("Offline copy, last updated")
    page.locator("#task-walks button.tick").click()
    expect(status).to_contain_text("Saved on this phone, will send when online.")
    expect(page.locator("#task-walks button.tick")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=shots / "4-offline-tick.png", full_page=True)

    # 5. Offline check-in: every warning-sign question answered, then saved on the phone.
    page.goto(f"{base}/patient/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("How are you today?")
    for group in page.locator("fieldset.yesno").all():
        group.get_by_label("No", exact=True).check()
    page.locator('input[name="pain"][value="2"]').check(force=True)
    page.get_by_label("A little").check()
    page.get_by_label("No skin changes").check()
    page.get_by_label("Anything else you want the clinic to know?").fill(
        "Feeling fine, walked twice."
    )
    page.get_by_role("button", name="Send check-in").click()
    expect(page.locator("#sc-status")).to_contain_text(
        "Saved on this phone, will send when online."
    )
    page.screenshot(path=shots / "5-offline-checkin.png", full_page=True)
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn))) == 0

    # 6. Back online: both are sent, and the check-in's answer is shown.
    page.context.set_offline(False)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your check-in is sent", timeout=15_000
    )
    page.screenshot(path=shots / "6-sent.png", full_page=True)

    def stored():
        ticks = db.session.scalars(sa.select(TaskTick)).all()
        checkins = db.session.scalars(sa.select(CheckIn)).all()
        checklist = db.session.scalars(sa.select(ChecklistTick.item_key)).all()
        return (
            [(t.task_key, t.day) for t in ticks],
            [(c.day, c.note) for c in checkins],
            sorted(checklist),
        )

    ticks, checkins, checklist = in_app(stored)
    assert ticks == [("walks", 1)]
    assert checkins == [(1, "Feeling fine, walked twice.")]
    assert checklist == ["bring-stockings", "no-lotions"]
    page.goto(f"{base}/patient/today")
    expect(page.locator("#task-walks button.tick")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".checkin-card")).to_contain_text("Done today at")
    assert js_errors == []
