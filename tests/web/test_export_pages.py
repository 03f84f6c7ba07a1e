"""'Download my data' pages (issue 20 points 1 and 5): the "Your data" section, the one
download, clear pages for a used or expired link, 404 for everyone else, never stored,
and never handled by the service worker."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import AuditEvent
from app.models import ExportJob
from app.models import Patient
from app.services import export
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of

ALICE = "alice@patients.example"
BOB = "bob@patients.example"
SW = Path(__file__).resolve().parents[2] / "app" / "static" / "sw.js"


@pytest.fixture
def export_folder(app):
    """The test's own folder of zips (tests/conftest.py gives each app one)."""
    return Path(app.config["SCLERO_EXPORT_DIR"])


def ask(client) -> int:
    response = client.post("/patient/export")
    assert response.status_code == 303
    return _latest_job(client.application)


def _latest_job(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(ExportJob.id)))


def build(in_app) -> None:
    assert in_app(lambda: export.run_due(now).built) == 1


def test_the_section_says_preparing_then_ready_then_downloads_once(client, in_app, world):
    login(client, ALICE)
    page = text_of(client.get("/patient/reminders"))
    assert "Your data" in page and "Prepare my download" in page
    response = client.post("/patient/export", follow_redirects=True)
    assert "Preparing…" in text_of(response)
    job_id = _latest_job(client.application)
    build(in_app)
    page = client.get("/patient/reminders")
    assert "Ready" in text_of(page)
    link = f"/patient/export/{job_id}/download"
    assert link in page.get_data(as_text=True)
    download = client.post(link)
    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store, private"
    assert "summary.html" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    # A used link: a clear page, not an error.
    again = client.post(link)
    assert again.status_code == 410
    assert "this one has been used" in text_of(again)
    assert again.headers["Cache-Control"] == "no-store, private"
    assert "has been used or has expired" in text_of(client.get("/patient/reminders"))


def test_a_double_click_makes_one_job(client, in_app, world):
    login(client, ALICE)
    client.post("/patient/export")
    client.post("/patient/export")
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id)))) == 1


def test_an_expired_link_gets_a_clear_page(client, in_app, world, clock):
    login(client, ALICE)
    client.post("/patient/export")
    build(in_app)
    job_id = _latest_job(client.application)
    clock.advance(hours=25)
    login(client, ALICE)  # the sign-in session itself ended after 12 hours
    response = client.post(f"/patient/export/{job_id}/download")
    assert response.status_code == 410
    assert "The link has expired" in text_of(response)


def test_a_link_before_it_is_ready_says_so(client, world):
    login(client, ALICE)
    client.post("/patient/export")
    job_id = _latest_job(client.application)
    response = client.post(f"/patient/export/{job_id}/download")
    assert response.status_code == 410
    assert "still being prepared" in text_of(response)


def test_another_patient_gets_404_and_it_is_audited(client, in_app, world, export_folder):
    login(client, ALICE)
    client.post("/patient/export")
    build(in_app)
    job_id = _latest_job(client.application)
    client.post("/logout")
    login(client, BOB)
    response = client.post(f"/patient/export/{job_id}/download")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store, private"
    refused = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "refused")
        ).all()
    )
    assert any(f"export #{job_id}" in d for d in refused)
    assert len(list(export_folder.iterdir())) == 1  # Alice's zip is still there, unused


@pytest.mark.parametrize("who", ["doc1@north.example", "doc2@south.example", None])
def test_staff_of_any_clinic_and_nobody_get_404_for_every_export_url(client, in_app, world, who):
    login(client, ALICE)
    client.post("/patient/export")
    build(in_app)
    job_id = _latest_job(client.application)
    client.post("/logout")
    if who:
        login(client, who)
    for response in (
        client.post(f"/patient/export/{job_id}/download"),
        client.post("/patient/export"),
    ):
        assert response.status_code == 404
        assert response.headers["Cache-Control"] == "no-store, private"
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id)))) == 1


@pytest.mark.parametrize(
    "path", ["/patient/export/0/download", "/patient/export/99999999999999999999/download"]
)
def test_a_made_up_export_id_is_404_not_an_error(client, world, path):
    login(client, ALICE)
    assert client.get(path).status_code == 405  # downloading is a POST: GET changes nothing
    assert client.post(path).status_code == 404


def test_asking_answers_no_store(client, world):
    login(client, ALICE)
    response = client.post("/patient/export")
    assert response.headers["Cache-Control"] == "no-store, private"


def test_the_service_worker_leaves_every_export_url_alone(app):
    """sw.js returns from its fetch handler for the export prefix before any caching, and
    the prefix is the one every export route starts with."""
    source = SW.read_text()
    prefix = re.search(r'const EXPORT_PREFIX = "([^"]+)";', source).group(1)
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.endswith("_export")]
    assert rules and all(rule.startswith(prefix) for rule in rules)
    assert prefix not in re.search(r"const OFFLINE_PAGES = \[([^\]]*)\]", source).group(1)
    handler = source[source.index('self.addEventListener("fetch"') :]
    handler = handler[: handler.index("\n});")]
    leave = handler.index("url.pathname.startsWith(EXPORT_PREFIX)) return;")
    assert leave < handler.index("respondWith")
    assert "caches" not in handler[:leave]


def test_a_discharged_patient_can_still_take_their_data(client, in_app, world):
    def discharge():
        db.session.get(Patient, world.patient_a).discharged_at = now()
        db.session.commit()

    in_app(discharge)
    login(client, ALICE)
    response = client.post("/patient/export")
    assert response.status_code == 303
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id)))) == 1


def _stay_signed_in_past_the_fresh_window(client, clock) -> None:
    """20 minutes of use (never idle 30): past SCLERO_FRESH_AUTH, still signed in."""
    for _ in range(2):
        clock.advance(minutes=10)
        assert client.get("/patient/reminders").status_code == 200


def test_asking_after_a_stale_sign_in_confirms_it_is_you_first(client, in_app, world, clock):
    """Checklist E6: the export is asked for after a fresh password, not on an old session."""
    login(client, ALICE)
    _stay_signed_in_past_the_fresh_window(client, clock)
    response = client.post("/patient/export")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm?next=")
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id)))) == 0
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert "please confirm it's you" in text_of(page)
    wrong = client.post(
        response.headers["Location"], data={"password": "not it", "next": "/patient/reminders"}
    )
    assert wrong.status_code == 401 and "That password is not right" in text_of(wrong)
    ok = client.post(
        response.headers["Location"],
        data={"password": PASSWORD, "next": "/patient/reminders#data-title"},
    )
    assert ok.status_code == 303 and ok.headers["Location"] == "/patient/reminders#data-title"
    assert client.post("/patient/export").headers["Location"].startswith("/patient/reminders")
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id)))) == 1
    actions = in_app(lambda: db.session.scalars(sa.select(AuditEvent.action)).all())
    assert "reauth_failed" in actions and "reauth" in actions


def test_downloading_after_a_stale_sign_in_confirms_first_and_keeps_the_zip(
    client, in_app, world, clock, export_folder
):
    login(client, ALICE)
    job_id = ask(client)
    build(in_app)
    _stay_signed_in_past_the_fresh_window(client, clock)
    link = f"/patient/export/{job_id}/download"
    response = client.post(link)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm?next=")
    assert response.headers["Cache-Control"] == "no-store, private"
    assert len(list(export_folder.iterdir())) == 1  # not spent by the refused click
    assert in_app(lambda: db.session.get(ExportJob, job_id).state.value) == "ready"
    client.post("/account/confirm", data={"password": PASSWORD, "next": "/patient/reminders"})
    download = client.post(link)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "summary.html" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert list(export_folder.iterdir()) == []  # spent, so gone
