"""'Download my data' (issue 20 point 1): the zip's contents, one job per request, the
worker's claim and crash safety, expiry, single use, the notification and the audit.

``seed_diary`` is shared with tests/web/test_export_pages.py and bench/export.py: it
writes check-ins (with an edit history), ticks, an alert, a comment and photo files
straight to the tables and the photo store, as the services would have.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ChecklistTick
from app.models import Comment
from app.models import ExportJob
from app.models import ExportState
from app.models import OutboxMessage
from app.models import Patient
from app.models import Photo
from app.models import TaskTick
from app.models import Treatment
from app.principal import Principal
from app.services import export
from app.services.accounts import sessions
from app.services.notify.delivery import payload_for
from app.services.notify.outbox import ClaimedMessage
from app.services.photos import storage


@pytest.fixture
def export_folder(app):
    """The test's own folder of zips (tests/conftest.py gives each app one)."""
    return Path(app.config["SCLERO_EXPORT_DIR"])


def seed_diary(patient_id: int, checkins: int = 3, photos: int = 2, photo_size: int = 2048):
    """Check-ins (each edited once), ticks, an alert, a comment and ``photos`` photo files
    of ``photo_size`` random bytes for the patient's first session; no commit."""
    patient = db.session.get(Patient, patient_id)
    treatment = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    start = treatment.anchor
    rows = []
    for day in range(1, checkins + 1):
        rows.append(
            CheckIn(
                patient_id=patient_id,
                clinic_id=patient.clinic_id,
                treatment_id=treatment.id,
                day=day,
                on_date=(start + timedelta(days=day)).date(),
                answers={"pain": day % 10, "bruising": "mild"},
                history=[{"at": start.isoformat(), "answers": {"pain": 9}}],
                pain=day % 10,
                bruising="mild",
                level="routine",
                reasons=[],
                note=f"day {day} note",
                created_at=start + timedelta(days=day),
                updated_at=start + timedelta(days=day),
            )
        )
    db.session.add_all(rows)
    db.session.flush()
    db.session.add(
        Alert(
            patient_id=patient_id,
            clinic_id=patient.clinic_id,
            checkin_id=rows[0].id,
            level="same_day",
            severity=1,
            reasons=["pain"],
            ack_note="Rest and call us if worse.",
            note_shared=True,
        )
    )
    db.session.add(
        Comment(patient_id=patient_id, author_name="Dr Reed", body="Healing well, keep going.")
    )
    db.session.add(ChecklistTick(treatment_id=treatment.id, item_key="stockings"))
    db.session.add(TaskTick(treatment_id=treatment.id, task_key="walk", day=1))
    store = storage.store()
    for i in range(photos):
        data = os.urandom(photo_size)
        full, thumb = store.put(data), store.put(data[:64])
        db.session.add(
            Photo(
                patient_id=patient_id,
                clinic_id=patient.clinic_id,
                treatment_id=treatment.id,
                phase="after",
                day=1 + i % 30,
                taken_at=start + timedelta(days=1, minutes=i),
                taken_on=(start + timedelta(days=1)).date(),
                side="left",
                region="calf",
                view="inner",
                full_key=full.key,
                full_sha256=full.sha256,
                full_size=full.size,
                thumb_key=thumb.key,
                thumb_sha256=thumb.sha256,
                width=1200,
                height=900,
                source_format="jpeg",
            )
        )


def principal_of(patient_id: int) -> Principal:
    """The signed-in patient as the services get them (a real sign-in session)."""
    user = db.session.get(Patient, patient_id).user
    token = sessions.open_session(user, now())
    db.session.commit()
    return sessions.user_for_session(token, now())


def ask_and_build(patient_id: int) -> int:
    job = export.request_export(principal_of(patient_id), "127.0.0.1", now())
    report = export.run_due(now)
    assert report.built == 1
    return job.id


def zip_of(job_id: int) -> zipfile.ZipFile:
    job = db.session.get(ExportJob, job_id)
    return zipfile.ZipFile(os.path.join(export.export_dir(), job.file_name))


def test_the_zip_holds_the_summary_the_records_every_photo_and_the_bundle(in_app, world):
    def run():
        seed_diary(world.patient_a, checkins=5, photos=3)
        db.session.commit()
        job_id = ask_and_build(world.patient_a)
        photos = {p.id: p for p in db.session.scalars(sa.select(Photo))}
        with zip_of(job_id) as zf:
            names = zf.namelist()
            data = json.loads(zf.read("data.json"))
            summary = zf.read("summary.html").decode()
            bundle = json.loads(zf.read("fhir/bundle.json"))
            hashes = {
                n: hashlib.sha256(zf.read(n)).hexdigest() for n in names if n.startswith("photos/")
            }
            assert zf.testzip() is None
        return names, data, summary, bundle, hashes, {p.id: p.full_sha256 for p in photos.values()}

    names, data, summary, bundle, hashes, stored = in_app(run)
    assert {"summary.html", "data.json", "fhir/bundle.json"} <= set(names)
    assert data["account"]["name"] == "Alice Marker-A"
    assert len(data["checkins"]) == 5
    assert data["checkins"][0]["history"] == [
        {"at": data["checkins"][0]["history"][0]["at"], "answers": {"pain": 9}}
    ]
    assert [c["body"] for c in data["comments"]] == ["Healing well, keep going."]
    assert data["alerts"][0]["note_to_you"] == "Rest and call us if worse."
    assert data["checklist_ticks"][0]["item_key"] == "stockings"
    assert data["task_ticks"][0]["task_key"] == "walk"
    assert any(e["detail"].startswith("asked for export") for e in data["audit"])
    # Every photo row's file is in the zip, byte for byte.
    by_file = {p["file"]: p for p in data["photos"]}
    assert set(by_file) == set(hashes)
    for name, digest in hashes.items():
        assert digest == by_file[name]["full_sha256"] == stored[by_file[name]["id"]]
    assert bundle["resourceType"] == "Bundle"
    # The bundle's photos point at the copies in the zip, one folder up from fhir/.
    media = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"]
    assert sorted(m["content"]["url"] for m in media) == sorted(f"../{n}" for n in hashes)
    # The summary stands alone: no address outside the zip, no script.
    assert "Alice Marker-A" in summary and "day 5 note" in summary
    assert not re.search(r"(https?:)?//|<script|@import|url\(", summary, re.I)
    assert re.search(r"@media print", summary)


def test_another_patients_records_are_not_in_the_zip(in_app, world):
    def run():
        seed_diary(world.patient_a, checkins=2, photos=1)
        seed_diary(world.patient_c, checkins=4, photos=2)
        db.session.commit()
        with zip_of(ask_and_build(world.patient_a)) as zf:
            return zf.namelist(), zf.read("data.json").decode() + zf.read("summary.html").decode()

    names, text = in_app(run)
    assert len([n for n in names if n.startswith("photos/")]) == 1
    assert "Cara" not in text and "day 3 note" not in text


def test_asking_twice_gives_one_job(in_app, world):
    def run():
        user = principal_of(world.patient_a)
        first = export.request_export(user, "127.0.0.1", now())
        second = export.request_export(user, "127.0.0.1", now())
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ExportJob))
        asks = db.session.scalar(
            sa.select(sa.func.count()).where(
                AuditEvent.action == "export", AuditEvent.actor_id.is_not(None)
            )
        )
        return first.id, second.id, count, asks

    first, second, count, asks = in_app(run)
    assert first == second and count == 1
    assert asks == 2  # every request is audited, the repeat included


def test_the_index_refuses_a_second_open_job(in_app, world):
    """Two requests racing past the check both insert: the partial unique index keeps one."""

    def run():
        patient = db.session.get(Patient, world.patient_a)
        db.session.add(ExportJob(patient_id=patient.id, clinic_id=patient.clinic_id))
        db.session.commit()
        db.session.add(ExportJob(patient_id=patient.id, clinic_id=patient.clinic_id))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()

    in_app(run)


def test_ready_sends_a_generic_notification_and_audits_the_build(in_app, world):
    def run():
        job_id = ask_and_build(world.patient_a)
        row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "export"))
        message = ClaimedMessage(
            row.id, row.patient_id, None, row.kind, row.link, False, 0, row.due_at, None
        )
        events = db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.patient_id == world.patient_a)
        ).all()
        return job_id, row.key, row.link, json.loads(payload_for(message)), events

    job_id, key, link, payload, events = in_app(run)
    assert key == f"export:{job_id}"
    assert link == "/patient/reminders#data-title"
    assert payload["body"] == "Your download is ready."
    assert "Alice" not in json.dumps(payload)
    assert f"built export #{job_id}" in events


def test_a_kill_between_writing_and_marking_ready_is_built_again_never_offered_half(
    app, in_app, world, clock, export_folder
):
    from app.adapters.photo_store import SimulatedCrash

    def ask():
        seed_diary(world.patient_a, photos=2)
        db.session.commit()
        return export.request_export(principal_of(world.patient_a), "127.0.0.1", now()).id

    job_id = in_app(ask)
    app.config["SCLERO_EXPORT_CRASH_AT"] = "written"

    def crashing_pass():
        with pytest.raises(SimulatedCrash):
            export.run_due(now)

    in_app(crashing_pass)
    app.config["SCLERO_EXPORT_CRASH_AT"] = None
    assert len(os.listdir(export_folder)) == 1  # the dead worker's whole zip, unnamed

    def state():
        job = db.session.get(ExportJob, job_id)
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        return job.state, job.file_name, gone.value.reason

    assert in_app(state) == (ExportState.BUILDING, None, "preparing")
    # Nobody takes it while the dead worker's lease runs.
    assert in_app(lambda: export.run_due(now).built) == 0
    clock.advance(minutes=6)
    report = in_app(lambda: export.run_due(now))
    assert report.built == 1
    in_app(lambda: export.sweep(timedelta(0)))

    def after():
        job = db.session.get(ExportJob, job_id)
        return job.state, job.attempts, job.file_name

    state_now, attempts, name = in_app(after)
    assert state_now == ExportState.READY and attempts == 2
    assert os.listdir(export_folder) == [name]  # the dead worker's file swept
    chunks = in_app(
        lambda: b"".join(
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        )
    )
    assert zipfile.ZipFile(__import__("io").BytesIO(chunks)).testzip() is None


def test_a_download_works_once_and_deletes_the_file(in_app, world, export_folder):
    def run():
        job_id = ask_and_build(world.patient_a)
        user = principal_of(world.patient_a)
        data = b"".join(export.take_download(user, job_id, "127.0.0.1", now()))
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(user, job_id, "127.0.0.1", now())
        return data, gone.value.reason, db.session.get(ExportJob, job_id).state

    data, reason, state = in_app(run)
    assert data.startswith(b"PK") and reason == "used" and state == ExportState.DOWNLOADED
    assert os.listdir(export_folder) == []


def test_an_unused_link_expires_and_its_file_goes(in_app, world, clock, export_folder):
    job_id = in_app(lambda: ask_and_build(world.patient_a))
    assert len(os.listdir(export_folder)) == 1
    clock.advance(hours=24, seconds=1)
    assert in_app(lambda: export.run_due(now).expired) == 1
    assert os.listdir(export_folder) == []

    def run():
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        return gone.value.reason, export.latest(principal_of(world.patient_a), now()).state

    assert in_app(run) == ("expired", "expired")


def test_a_link_past_its_end_is_expired_even_before_the_worker_passes(in_app, world, clock):
    job_id = in_app(lambda: ask_and_build(world.patient_a))
    clock.advance(hours=25)

    def run():
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        return gone.value.reason

    assert in_app(run) == "expired"


def build_with_one_photo_spoiled(patient_id: int, spoil) -> tuple[int, int]:  # noqa: ANN001
    """Seed three photos, ``spoil(path)`` the second one's stored file, build the
    export; the job's id and the spoiled photo's id."""
    seed_diary(patient_id, photos=3)
    db.session.commit()
    spoiled = db.session.scalars(sa.select(Photo).order_by(Photo.id)).all()[1]
    spoil(storage.store().path(spoiled.full_key))
    return ask_and_build(patient_id), spoiled.id


def left_out_of(job_id: int, photo_id: int) -> dict:
    """What the zip says and holds about one photo left out of it."""
    photo = db.session.get(Photo, photo_id)
    with zip_of(job_id) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        data = json.loads(zf.read("data.json"))
        return {
            "job": db.session.get(ExportJob, job_id).state,
            "photos_in_zip": sorted(n for n in names if n.startswith("photos/")),
            "photo_bytes": [zf.read(n) for n in names if n.startswith("photos/")],
            "files_in_json": sorted(p["file"] for p in data["photos"] if p["file"]),
            "file_of_it": next(p["file"] for p in data["photos"] if p["id"] == photo_id),
            "not_included": data["photos_not_included"],
            "summary": zf.read("summary.html").decode(),
            "bundle": json.loads(zf.read("fhir/bundle.json")),
            "taken_on": photo.taken_on.isoformat(),
        }


def media_of(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"]


def test_a_missing_photo_file_is_left_out_and_everything_else_is_built(
    in_app, world, export_folder
):
    job_id, photo_id = in_app(lambda: build_with_one_photo_spoiled(world.patient_a, os.remove))
    out = in_app(left_out_of, job_id, photo_id)
    assert out["job"] == ExportState.READY
    # The two other photos are in the zip, and data.json points at exactly them.
    assert len(out["photos_in_zip"]) == 2
    assert out["files_in_json"] == out["photos_in_zip"]
    assert out["file_of_it"] is None
    [note] = out["not_included"]
    assert (note["id"], note["taken_on"], note["side"], note["region"], note["view"]) == (
        photo_id,
        out["taken_on"],
        "left",
        "calf",
        "inner",
    )
    assert "could not be found" in note["reason"]
    # The summary names it by date and site, and says why.
    assert "Photos that could not be included (1)" in out["summary"]
    assert "Left calf, inner side:</strong>" in out["summary"]
    assert "could not be found in the clinic&#39;s photo store" in out["summary"]
    # The bundle holds a Media for each photo in the zip, and none for the one left out.
    media = media_of(out["bundle"])
    assert sorted(m["content"]["url"] for m in media) == [f"../{n}" for n in out["photos_in_zip"]]
    assert f"Media/{photo_id}" not in json.dumps(out["bundle"])
    assert "/clinic/photos/" not in json.dumps(out["bundle"])


def test_asking_again_after_a_photo_file_went_missing_builds_again(in_app, world):
    job_id, _ = in_app(lambda: build_with_one_photo_spoiled(world.patient_a, os.remove))

    def again():
        # The first zip, downloaded (read to its end), then a new request.
        b"".join(export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now()))
        return ask_and_build(world.patient_a)

    second = in_app(again)
    assert second != job_id
    assert in_app(lambda: db.session.get(ExportJob, second).state) == ExportState.READY


def test_the_export_command_builds_and_reports(runner, in_app, world):
    in_app(lambda: export.request_export(principal_of(world.patient_a), "127.0.0.1", now()))
    result = runner.invoke(args=["export", "run"])
    assert result.exit_code == 0, result.output
    assert "1 built" in result.output
    assert in_app(lambda: db.session.scalar(sa.select(ExportJob.state))) == ExportState.READY


def test_summary_follows_the_patients_language(in_app, world):
    def run():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()
        with zip_of(ask_and_build(world.patient_a)) as zf:
            return zf.read("summary.html").decode()

    summary = in_app(run)
    assert 'lang="es' in summary


def test_a_photo_file_of_the_wrong_size_is_left_out(in_app, world, export_folder):
    def longer(path: str) -> None:
        with open(path, "ab") as f:
            f.write(b"extra")

    job_id, photo_id = in_app(lambda: build_with_one_photo_spoiled(world.patient_a, longer))
    out = in_app(left_out_of, job_id, photo_id)
    assert out["job"] == ExportState.READY
    assert len(out["photos_in_zip"]) == 2 and out["file_of_it"] is None
    assert [n["id"] for n in out["not_included"]] == [photo_id]
    assert "has changed since the photo was saved" in out["not_included"][0]["reason"]
    assert not any(b.endswith(b"extra") for b in out["photo_bytes"])
    assert len(media_of(out["bundle"])) == 2


def test_an_altered_photo_file_of_the_right_size_is_never_in_the_zip(in_app, world):
    altered = b"ALTERED!" * 256  # 2048 bytes: the size seed_diary's photos are

    def overwrite(path: str) -> None:
        with open(path, "wb") as f:
            f.write(altered)

    job_id, photo_id = in_app(lambda: build_with_one_photo_spoiled(world.patient_a, overwrite))
    out = in_app(left_out_of, job_id, photo_id)
    assert out["job"] == ExportState.READY
    assert altered not in out["photo_bytes"] and len(out["photo_bytes"]) == 2
    assert [n["id"] for n in out["not_included"]] == [photo_id]
    assert "has changed since the photo was saved" in out["not_included"][0]["reason"]
    assert f"Media/{photo_id}" not in json.dumps(out["bundle"])


def test_a_photo_left_out_is_explained_in_the_patients_language(in_app, world):
    def run():
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()
        return build_with_one_photo_spoiled(world.patient_a, os.remove)

    job_id, photo_id = in_app(run)
    out = in_app(left_out_of, job_id, photo_id)
    reason = out["not_included"][0]["reason"]
    assert "could not be found" not in reason
    assert "no se encontr" in reason.lower()
    assert reason in out["summary"].replace("&#39;", "'")
    assert "Fotos que no se pudieron incluir (1)" in out["summary"]


def test_no_photo_left_out_means_an_empty_list(in_app, world):
    def run():
        seed_diary(world.patient_a, photos=2)
        db.session.commit()
        with zip_of(ask_and_build(world.patient_a)) as zf:
            return json.loads(zf.read("data.json")), zf.read("summary.html").decode()

    data, summary = in_app(run)
    assert data["photos_not_included"] == []
    assert all(p["file"] for p in data["photos"]) and len(data["photos"]) == 2
    assert "could not be included" not in summary


def test_the_ready_push_reaches_the_phone_with_generic_words_only(
    in_app, client, push_service, sender, world, clock
):
    from app.models import OutboxState
    from app.services.notify import dispatch
    from tests.conftest import login

    fake = push_service.new_subscription()
    login(client, "alice@patients.example")
    subscribed = client.post("/patient/reminders/subscribe", json={"subscription": fake.info()})
    assert subscribed.status_code == 200
    client.post("/patient/export")

    def quiet_others():  # only the export's row is due, so the delivery is unambiguous
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.kind != "export")
            .values(state=OutboxState.CANCELLED)
        )
        db.session.commit()

    in_app(lambda: export.run_due(now))
    in_app(quiet_others)
    report = in_app(dispatch.run_until_empty, sender, clock())
    assert report.sent == 1
    [message] = [json.loads(p) for p in push_service.delivered()]
    assert message["body"] == "Your download is ready."
    assert message["data"]["url"] == "/patient/reminders#data-title"
    assert "alice" not in json.dumps(message).lower()


def test_a_ready_zip_gone_from_the_disk_is_a_clear_failure(in_app, world, export_folder):
    def run():
        job_id = ask_and_build(world.patient_a)
        for entry in export_folder.iterdir():
            entry.unlink()
        with pytest.raises(export.ExportGone) as gone:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        job = db.session.get(ExportJob, job_id)
        return gone.value.reason, job.state, job.last_error

    assert in_app(run) == ("failed", ExportState.FAILED, "file missing")


def test_a_spanish_summary_says_its_stored_values_in_spanish(in_app, world):
    """The summary's cells showed stored codes and English ("done", "mild", "routine",
    "same_day", "left calf inner", ISO dates, the plan's English title) to a patient
    who reads Spanish (review rvi18n)."""

    def run():
        seed_diary(world.patient_a)
        db.session.get(Patient, world.patient_a).language = "es"
        db.session.commit()
        with zip_of(ask_and_build(world.patient_a)) as zf:
            return zf.read("summary.html").decode()

    summary = in_app(run)
    cells = re.findall(r"<td>([^<]*)</td>", summary)
    for english in ("done", "mild", "routine", "left calf inner", "liquid"):
        assert not any(english in cell.split() or cell.strip() == english for cell in cells)
    assert not any(re.fullmatch(r"\d{4}-\d\d-\d\d", cell.strip()) for cell in cells)
    assert "same_day" not in summary
    assert "72 hours day and night" not in summary
    words = ("Tratamiento hecho", "leve", "Sin urgencia", "En el día", "Pantorrilla izquierda")
    for spanish in words:
        assert spanish in summary, spanish
    assert "mié 18 nov 2026" in summary  # the check-in's and the photo's day, by Babel
    # One tick of each: no "1 puntos" (the sentence is not a plural entry).
    assert "Puntos de la lista: 1; tareas diarias: 1." in summary
    # The audit trail's actions are said in words, not as the stored English codes.
    assert "Se pidieron o descargaron sus datos" in summary
    assert not re.search(r"<td>(view|export)\b", summary)
