"""Review of "Download my data" (rvexport): two patients' zips keep apart byte for byte,
stored text of any shape (a lone surrogate, NUL, RTL, emoji, 10 kB) is exported rather
than failing the build for ever, a stored field cannot steer a zip entry out of its
folder, and a patient with no records still gets a zip."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import AccountClosure
from app.models import CheckIn
from app.models import Comment
from app.models import EmailPreference
from app.models import ExportJob
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Photo
from app.models import User
from app.services import export
from tests.services.test_export import ask_and_build
from tests.services.test_export import principal_of
from tests.services.test_export import seed_diary
from tests.services.test_export import zip_of


@pytest.fixture
def export_folder(app) -> Path:
    return Path(app.config["SCLERO_EXPORT_DIR"])


def _contents(job_id: int) -> dict[str, bytes]:
    with zip_of(job_id) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def _hashes(patient_id: int) -> set[str]:
    return set(
        db.session.scalars(sa.select(Photo.full_sha256).where(Photo.patient_id == patient_id))
    )


def test_two_patients_with_photos_each_get_exactly_their_own(in_app, world):
    """Every photo of A by sha256, none of B's; every row id in data.json is A's."""

    def run():
        seed_diary(world.patient_a, checkins=3, photos=2)
        seed_diary(world.patient_b, checkins=4, photos=3)  # same clinic, same session type
        db.session.add(Comment(patient_id=world.patient_b, author_name="Dr X", body="B-ONLY"))
        db.session.commit()
        a, b = ask_and_build(world.patient_a), ask_and_build(world.patient_b)
        files_a, files_b = _contents(a), _contents(b)
        own = {
            "checkins": set(
                db.session.scalars(
                    sa.select(CheckIn.id).where(CheckIn.patient_id == world.patient_a)
                )
            ),
            "photos": set(
                db.session.scalars(sa.select(Photo.id).where(Photo.patient_id == world.patient_a))
            ),
        }
        return files_a, files_b, _hashes(world.patient_a), _hashes(world.patient_b), own

    files_a, files_b, hashes_a, hashes_b, own = in_app(run)
    for files, mine, theirs, other_name in (
        (files_a, hashes_a, hashes_b, b"Bob Marker-B"),
        (files_b, hashes_b, hashes_a, b"Alice Marker-A"),
    ):
        got = {hashlib.sha256(v).hexdigest() for k, v in files.items() if k.startswith("photos/")}
        assert got == mine and not got & theirs
        for name, body in files.items():
            assert other_name not in body, name
    data_a = json.loads(files_a["data.json"])
    assert {c["id"] for c in data_a["checkins"]} == own["checkins"]
    assert {p["id"] for p in data_a["photos"]} == own["photos"]
    assert all(b"B-ONLY" not in body for body in files_a.values())
    assert b"B-ONLY" in files_b["data.json"]


ODD = "NUL\x00 RTL \u202eevil\u202c עברית 😀 broken \ud83d emoji " + "x" * 10_000


def test_a_lone_surrogate_nul_rtl_and_10_kb_in_stored_text_still_export(in_app, world):
    """JSON columns read back a lone surrogate (stored before the input rules); writing it
    as UTF-8 failed the build on every retry, so the patient could never have their data.
    It becomes U+FFFD; everything else is kept as written."""

    def run():
        seed_diary(world.patient_a, checkins=2, photos=1)
        for c in db.session.scalars(
            sa.select(CheckIn).where(CheckIn.patient_id == world.patient_a)
        ):
            c.answers = {**c.answers, "note": ODD}
            c.history = [{"at": "2026-01-01T00:00:00", "answers": {"note": ODD}}]
        db.session.commit()
        job_id = ask_and_build(world.patient_a)
        return _contents(job_id), db.session.get(ExportJob, job_id).state.value

    files, state = in_app(run)
    assert state == "ready"
    data = json.loads(files["data.json"])
    note = data["checkins"][0]["answers"]["note"]
    assert note == ODD.replace("\ud83d", "\ufffd")
    files["summary.html"].decode("utf-8")  # strict: valid UTF-8
    json.loads(files["fhir/bundle.json"])


def test_no_stored_field_steers_a_zip_entry_out_of_photos(in_app, world):
    """The entry name is built from the photo's site fields; a row written by a command
    line or an old version with '../' or a slash in them must not name a path outside
    photos/ (some unzip tools follow it)."""

    def run():
        seed_diary(world.patient_a, checkins=1, photos=1)
        photo = db.session.scalar(sa.select(Photo).where(Photo.patient_id == world.patient_a))
        photo.side, photo.region, photo.view = "../../..", "/etc", "..\\x"
        db.session.commit()
        return list(_contents(ask_and_build(world.patient_a)))

    names = in_app(run)
    photos = [n for n in names if n.startswith("photos/")]
    assert len(photos) == 1
    (name,) = photos
    assert ".." not in name and "\\" not in name and name.count("/") == 1


def test_a_patient_with_no_records_gets_a_zip(in_app, world):
    """Bob has no session day, no check-in, no photo: still a valid zip and summary."""

    def run():
        user = db.session.get(Patient, world.patient_b).user
        user.name = "Ünïcode ‮RTL‬ 😀 O'Brien <b>&"
        db.session.commit()
        return _contents(ask_and_build(world.patient_b))

    files = in_app(run)
    data = json.loads(files["data.json"])
    assert data["checkins"] == [] and data["photos"] == []
    assert not [n for n in files if n.startswith("photos/")]
    summary = files["summary.html"].decode()
    assert "<b>&" not in summary and "O&#39;Brien &lt;b&gt;&amp;" in summary
    assert User  # the name above is the account's


def test_two_workers_at_once_build_each_export_once(app, in_app, world, export_folder):
    """Two worker passes racing (threads; on PostgreSQL the claim's SKIP LOCKED): each of
    three exports is built once, with one "ready" message and one file each."""
    patients = [world.patient_a, world.patient_b, world.patient_c]

    def ask_all():
        for pid in patients:
            seed_diary(pid, checkins=2, photos=2)
        db.session.commit()
        for pid in patients:
            export.request_export(principal_of(pid), "127.0.0.1", now())

    in_app(ask_all)
    start, errors, built = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            with app.app_context():
                start.wait()
                built.append(export.run_due(now).built)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(2)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == [] and sum(built) == 3

    def outcome():
        states = db.session.scalars(sa.select(ExportJob.state)).all()
        keys = db.session.scalars(
            sa.select(OutboxMessage.key).where(OutboxMessage.kind == "export")
        ).all()
        return [s.value for s in states], sorted(keys)

    states, keys = in_app(outcome)
    assert states == ["ready"] * 3
    assert len(keys) == 3 == len(set(keys))
    assert len([p for p in export_folder.iterdir() if p.suffix == ".zip"]) == 3
    assert not [p for p in export_folder.iterdir() if p.name.endswith(".part")]


def test_two_devices_asking_at_once_get_one_export(app, in_app, world):
    """The same patient asks from two phones at the same instant: one job, two audited
    requests, no error (the partial unique index and the savepoint)."""
    principals = in_app(lambda: [principal_of(world.patient_a) for _ in range(4)])
    start, errors, ids = threading.Barrier(4), [], []

    def device(who) -> None:
        try:
            with app.app_context():
                start.wait()
                ids.append(export.request_export(who, "127.0.0.1", now()).id)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=device, args=(p,)) for p in principals]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    count = in_app(lambda: db.session.scalar(sa.select(sa.func.count(ExportJob.id))))
    assert count == 1


def test_the_reminders_sent_the_email_choices_and_a_closure_request_are_in_it(in_app, world):
    """Art. 15 covers what the app keeps besides the diary: the reminders sent to the
    patient (not the staff's messages about them, not another patient's), their email
    choice and a request to close the account."""

    def run():
        staff = db.session.scalar(sa.select(User.id).where(User.email == "doc1@north.example"))
        at = now()
        for pid, recipient, key in (
            (world.patient_a, None, "daily:a"),
            (world.patient_a, staff, "alert:staff"),
            (world.patient_b, None, "daily:b"),
        ):
            db.session.add(
                OutboxMessage(
                    patient_id=pid,
                    recipient_user_id=recipient,
                    key=key,
                    kind="alert" if recipient else "daily",
                    link="/patient",
                    due_at=at,
                    available_at=at,
                    state=OutboxState.SENT,
                    sent_at=at,
                )
            )
        db.session.add(EmailPreference(patient_id=world.patient_a, reminders_by_email=True))
        patient = db.session.get(Patient, world.patient_a)
        db.session.add(
            AccountClosure(patient_id=patient.id, clinic_id=patient.clinic_id, requested_at=at)
        )
        db.session.commit()
        return json.loads(_contents(ask_and_build(world.patient_a))["data.json"])

    data = in_app(run)
    assert [(n["kind"], n["state"]) for n in data["notifications"]] == [("daily", "sent")]
    assert data["email_preferences"][0]["reminders_by_email"] is True
    assert len(data["account_closure"]) == 1 and data["account_closure"][0]["requested_at"]


def test_a_download_closed_before_its_first_byte_still_deletes_the_file(
    in_app, world, export_folder
):
    """The server closes the response without reading it (an error after the view, a
    client gone before the body): the spent export's file goes then, not at the sweep."""

    def run():
        job_id = ask_and_build(world.patient_a)
        chunks = export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        chunks.close()  # what the WSGI server calls on any response it ends

    in_app(run)
    assert list(export_folder.iterdir()) == []
