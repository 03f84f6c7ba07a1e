"""The patient's record as a FHIR R4 Bundle (issue 20 point 2): every bundle built here
is validated with ``fhir.resources`` (its R4B models: R4 with the technical correction)
and every reference is checked to resolve inside the bundle; the content, the codes,
the check-in history, an empty record, Unicode names and a statement count that does
not grow with the diary.

``check_bundle`` and ``full_record`` are shared with tests/web/test_fhir_routes.py.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import event

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import Clinic
from app.models import Comment
from app.models import OutcomeRating
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.services.clinic.closure_steps import closed_email
from app.services.errors import NotFound
from app.services.export.fhir import patient_bundle
from tests.conftest import NOW
from tests.conftest import make_patient

FULL = "fhir.full@patients.example"
NOT_FHIR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# ``fhir.resources`` checks structure, types, cardinality and the id pattern but not
# that a ``code`` is in its required value set, so the statuses are checked here
# (R4 value sets: EventStatus, ObservationStatus, QuestionnaireResponseStatus, ...).
EVENT = {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed"}
OBSERVED = {"registered", "preliminary", "final", "amended", "corrected", "cancelled"}
STATUSES = {
    "Procedure": EVENT,
    "Communication": EVENT,
    "Media": EVENT,
    "Observation": OBSERVED,
    "DetectedIssue": OBSERVED,
    "QuestionnaireResponse": {"in-progress", "completed", "amended", "stopped"},
    "Questionnaire": {"draft", "active", "retired"},
}


def check_bundle(bundle: dict) -> dict[str, dict]:
    """Validate ``bundle`` as FHIR R4 (R4B models) and check that every reference and
    every canonical to a Questionnaire resolves to an entry: the resources by fullUrl."""
    Bundle.model_validate(bundle)
    _check_json_values(bundle)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert len(by_url) == len(bundle["entry"]), "fullUrls are unique"
    for url, resource in by_url.items():
        assert url.startswith("urn:uuid:") and url.endswith(resource["id"])
    canonicals = {
        f"{r['url']}|{r['version']}"
        for r in by_url.values()
        if r["resourceType"] == "Questionnaire"
    }
    assert bundle["type"] in {"collection", "searchset"}
    for r in by_url.values():
        if r["resourceType"] in STATUSES:
            assert r["status"] in STATUSES[r["resourceType"]], r
        if r["resourceType"] == "DetectedIssue":
            assert r["severity"] in {"high", "moderate", "low"}
    for e in bundle["entry"]:
        assert e.get("search", {"mode": "match"})["mode"] in {"match", "include"}
    for target in _references(bundle["entry"]):
        assert target in by_url, f"unresolved reference {target}"
    for r in by_url.values():
        if r["resourceType"] == "QuestionnaireResponse":
            assert r["questionnaire"] in canonicals
    return by_url


def _check_json_values(bundle: dict) -> None:
    """What fhir.resources lets through: FHIR JSON has no empty string, array or object,
    and a FHIR string no control character but tab, CR and LF (R4 datatypes)."""
    for value in _values(bundle):
        assert value not in ("", [], {}, None), f"empty value in {bundle}"
        if isinstance(value, str):
            assert not NOT_FHIR.search(value), f"control character in {value!r}"


def _values(value: object):
    """Every value in a JSON tree, containers included."""
    yield value
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in inner:
        yield from _values(item)


def _references(value: object):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference":
                yield inner
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def of_type(by_url: dict[str, dict], kind: str) -> list[dict]:
    return [r for r in by_url.values() if r["resourceType"] == kind]


def full_record(clinic_id: int, clinician_id: int, checkins: int = 3, name: str = "Fern Full"):
    """A patient with everything: a done session with ``checkins`` check-ins (day 1
    corrected once), an acknowledged emergency alert with a clinic-only note and an open
    same-day alert, two comments (one from a removed account), a before and an after
    photo, a rating changed once, a clearance score, and a booked and a cancelled
    session. Returns the patient's id."""
    clinic = db.session.get(Clinic, clinic_id)
    p = make_patient(clinic, f"{uuid.uuid4().hex[:6]}.{FULL}", day=50, name=name)
    p.language, p.phone = "es", "+44 7700 900123"
    t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == p.id))
    t.areas, t.concentration, t.form = "left calf, right thigh", "0.5%", "foam"
    t.compression, t.checks_confirmed_by_id = "Class 2 stockings for 72 hours", clinician_id
    for status in (TreatmentStatus.SCHEDULED, TreatmentStatus.CANCELLED):
        db.session.add(
            Treatment(
                patient_id=p.id,
                protocol_version_id=t.protocol_version_id,
                appointment_at=NOW + timedelta(days=10),
                status=status,
            )
        )
    rows = []
    for day in range(1, checkins + 1):
        answers = {
            "pain": day % 11,
            "bruising": "moderate",
            "skin": ["brown"],
            "red_flags": ["calf-pain"] if day == 2 else [],
            "red_flags_no": ["chest-breathing"],
            "lumps": True,
            "itching": None,
            "walked": False,
            "note": "Ça va, un peu mal 🙂",
        }
        c = CheckIn(
            patient_id=p.id,
            clinic_id=p.clinic_id,
            treatment_id=t.id,
            day=day,
            on_date=(t.treated_at + timedelta(days=day)).date(),
            answers=answers,
            pain=answers["pain"],
            bruising="moderate",
            level="same_day" if day == 2 else "routine",
            reasons=["Calf pain"] if day == 2 else [],
            created_at=t.treated_at + timedelta(days=day),
            updated_at=t.treated_at + timedelta(days=day, hours=2),
        )
        if day == 1:
            earlier = {**answers, "pain": 9, "bruising": "severe", "skin": []}
            c.history = [{"at": c.created_at.isoformat(), "answers": earlier}]
        rows.append(c)
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(
        [
            Alert(
                patient_id=p.id,
                clinic_id=p.clinic_id,
                checkin_id=rows[0].id,
                level="emergency",
                severity=0,
                reasons=["Chest pain"],
                created_at=rows[0].created_at,
                acknowledged_at=rows[0].created_at + timedelta(minutes=5),
                acknowledged_by_id=clinician_id,
                ack_note="CLINIC-ONLY-NOTE called 999",
            ),
            Alert(
                patient_id=p.id,
                clinic_id=p.clinic_id,
                checkin_id=rows[-1].id,
                level="same_day",
                severity=1,
                reasons=["Calf pain"],
                created_at=rows[-1].created_at,
            ),
            Comment(patient_id=p.id, author_id=clinician_id, author_name="Doc1", body="Well done"),
            Comment(patient_id=p.id, author_id=None, author_name="Gone Doctor", body="Keep on"),
        ]
    )
    photos = [_photo(p, t, t.treated_at - timedelta(days=1), "before")]
    photos.append(_photo(p, t, t.treated_at + timedelta(days=40), "after"))
    db.session.add_all(photos)
    db.session.flush()
    db.session.add(
        OutcomeRating(
            treatment_id=t.id,
            patient_id=p.id,
            improvement=70,
            satisfaction=4,
            side_effects="matting pigmentation",
            history=[{"at": NOW.isoformat(), "improvement": 50}],
        )
    )
    db.session.add(
        ClearanceScore(
            treatment_id=t.id,
            site="left-calf-inner",
            before_photo_id=photos[0].id,
            after_photo_id=photos[1].id,
            score=3,
            scored_by_id=clinician_id,
        )
    )
    db.session.commit()
    return p.id


def _photo(p, t: Treatment, taken, phase: str) -> Photo:
    return Photo(
        patient_id=p.id,
        clinic_id=p.clinic_id,
        treatment_id=t.id,
        phase=phase,
        day=None,
        taken_at=taken,
        taken_on=taken.date(),
        side="left",
        region="calf",
        view="inner",
        note="Looks better",
        full_key=uuid.uuid4().hex,
        full_sha256="0" * 64,
        full_size=1234,
        thumb_key=uuid.uuid4().hex,
        thumb_sha256="0" * 64,
        width=400,
        height=300,
        source_format="jpeg",
    )


def _bundle(pid: int, **kwargs) -> dict:
    return patient_bundle(db.session, pid, now=NOW, **kwargs)


@pytest.fixture
def full(world, in_app) -> int:
    return in_app(full_record, world.clinic1, world.clinician1)


def test_a_full_record_is_valid_fhir_with_every_reference_resolved(in_app, full):
    bundle = in_app(_bundle, full, for_clinic=True)
    assert bundle["type"] == "collection"
    by_url = check_bundle(bundle)
    counts = {}
    for r in by_url.values():
        counts[r["resourceType"]] = counts.get(r["resourceType"], 0) + 1
    assert counts == {
        "Patient": 1,
        "Organization": 1,
        "Procedure": 3,
        "Questionnaire": 1,
        # 3 check-ins, the first corrected once: its earlier answers are a 4th.
        "QuestionnaireResponse": 4,
        # pain and bruising per check-in, 3 for the rating, 1 clearance score
        "Observation": 3 * 2 + 3 + 1,
        "DetectedIssue": 2,
        "Communication": 2,
        "Media": 2,
        # the one clinician: checks, acknowledgement, comment, score
        "Practitioner": 1,
    }


def test_the_content_carries_the_codes_and_the_sclerosant(in_app, full):
    by_url = check_bundle(in_app(_bundle, full, for_clinic=True))
    done = next(r for r in of_type(by_url, "Procedure") if r["status"] == "completed")
    assert done["usedCode"] == [{"text": "Polidocanol 0.5% foam"}]
    codes = [[c["code"] for c in s["coding"]] for s in done["bodySite"]]
    assert codes == [
        ["53840002", "53840002:272741003=7771000"],
        ["68367000", "68367000:272741003=24028007"],
    ]
    photo_site = of_type(by_url, "Media")[0]["bodySite"]["coding"]
    assert [c["code"] for c in photo_site] == ["53840002", "53840002:272741003=7771000"]
    assert {r["status"] for r in of_type(by_url, "Procedure")} == {
        "completed",
        "preparation",
        "not-done",
    }
    pains = [
        r
        for r in of_type(by_url, "Observation")
        if r["code"]["coding"][0] == {"system": "http://loinc.org", "code": "72514-3", **_d()}
    ]
    assert sorted(p["valueQuantity"]["value"] for p in pains) == [1, 2, 3]
    assert pains[0]["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    bruises = [
        r for r in of_type(by_url, "Observation") if r["code"]["coding"][0]["code"] == "bruising"
    ]
    assert {b["valueCodeableConcept"]["coding"][0]["code"] for b in bruises} == {"6736007"}
    media = of_type(by_url, "Media")[0]
    photo_id = media["identifier"][0]["value"]
    assert media["content"]["url"] == f"http://localhost/clinic/photos/{photo_id}/image"
    assert "data" not in media["content"]


def _d() -> dict:
    return {"display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}


def test_the_patients_zip_can_point_photos_at_its_own_copies(in_app, full):
    by_url = check_bundle(in_app(_bundle, full, photo_url=lambda pid: f"photos/{pid}.jpg"))
    urls = sorted(m["content"]["url"] for m in of_type(by_url, "Media"))
    assert urls == sorted(
        f"photos/{m['identifier'][0]['value']}.jpg" for m in of_type(by_url, "Media")
    )
    patient = of_type(by_url, "Patient")[0]
    assert patient["communication"][0]["language"]["coding"][0] == {
        "system": "urn:ietf:bcp:47",
        "code": "es",
        "display": "es",
    }
    assert {"system": "phone", "value": "+44 7700 900123"} in patient["telecom"]


def test_a_corrected_check_in_shows_the_latest_answers_and_keeps_the_earlier(in_app, full):
    by_url = check_bundle(in_app(_bundle, full))
    responses = of_type(by_url, "QuestionnaireResponse")
    amended = [r for r in responses if r["status"] == "amended"]
    superseded = [r for r in responses if r.get("meta", {}).get("tag")]
    assert len(amended) == 1 and len(superseded) == 1
    assert amended[0]["meta"]["versionId"] == "2"
    assert superseded[0]["meta"]["versionId"] == "1"
    assert superseded[0]["identifier"] == amended[0]["identifier"]

    def answer(r, link):
        return next(i["answer"][0] for i in r["item"] if i["linkId"] == link)

    assert answer(amended[0], "pain") == {"valueInteger": 1}
    assert answer(superseded[0], "pain") == {"valueInteger": 9}
    # "itching" was not answered: left out, never sent as "no".
    assert "itching" not in [i["linkId"] for i in amended[0]["item"]]
    assert answer(amended[0], "walked") == {"valueBoolean": False}
    assert answer(amended[0], "flag-chest-breathing") == {"valueBoolean": False}
    assert answer(amended[0], "note") == {"valueString": "Ça va, un peu mal 🙂"}
    # Nothing points at the superseded answers: they are history, not the record.
    urls = [u for u, r in by_url.items() if r is superseded[0]]
    assert urls[0] not in set(_references(list(by_url.values())))


def test_odd_history_entries_still_give_a_valid_bundle(in_app, full):
    def garble():
        c = db.session.scalar(
            sa.select(CheckIn).where(CheckIn.patient_id == full, CheckIn.day == 2)
        )
        c.history = [
            {"at": "2026-10-01T10:00:00", "answers": {"pain": 5, "bruising": "mild"}},
            {"at": "yesterday", "answers": "not a dict"},
            "garbage",
        ]
        db.session.commit()

    in_app(garble)
    by_url = check_bundle(in_app(_bundle, full))
    superseded = [r for r in of_type(by_url, "QuestionnaireResponse") if r["meta"].get("tag")]
    assert len(superseded) == 1 + 3
    naive = next(r for r in superseded if r["authored"].startswith("2026-10-01"))
    assert naive["authored"] == "2026-10-01T10:00:00+00:00"
    assert [i["linkId"] for i in naive["item"]] == ["pain", "bruising"]


def test_alert_states_and_the_clinic_only_note(in_app, full):
    clinic = check_bundle(in_app(_bundle, full, for_clinic=True))
    mine = check_bundle(in_app(_bundle, full))
    issues = sorted(of_type(clinic, "DetectedIssue"), key=lambda r: r["severity"])
    assert [(i["severity"], i["status"]) for i in issues] == [
        ("high", "final"),
        ("moderate", "preliminary"),
    ]
    assert "CLINIC-ONLY-NOTE" in issues[0]["mitigation"][0]["action"]["text"]
    # Each is about the session whose aftercare raised it, and cites its check-in.
    for issue in issues:
        (session,) = (clinic[ref["reference"]] for ref in issue["implicated"])
        assert session["resourceType"] == "Procedure" and session["status"] == "completed"
        (evidence,) = (clinic[ref["reference"]] for ref in issue["evidence"][0]["detail"])
        assert evidence["resourceType"] == "QuestionnaireResponse"
        assert evidence["partOf"] == issue["implicated"]
    own = next(i for i in of_type(mine, "DetectedIssue") if i["status"] == "final")
    assert "CLINIC-ONLY-NOTE" not in str(own)
    assert own["mitigation"][0]["action"]["text"] == "Acknowledged by the clinic"


def test_comments_and_outcomes(in_app, full):
    by_url = check_bundle(in_app(_bundle, full))
    senders = sorted(c["sender"]["display"] for c in of_type(by_url, "Communication"))
    assert senders == ["Doc1", "Gone Doctor"]
    values = {
        r["code"]["coding"][0]["code"]: r.get("valueQuantity", {}).get(
            "value", r.get("valueString")
        )
        for r in of_type(by_url, "Observation")
    }
    assert values["improvement"] == 70 and values["satisfaction"] == 4
    assert values["side-effects"] == "matting, pigmentation"
    assert values["clearance"] == 3


def test_a_patient_with_no_data_gives_a_small_valid_bundle(world, in_app):
    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        return make_patient(clinic, "empty.fhir@patients.example", day=None, name="Émile Ø").id

    pid = in_app(build)
    by_url = check_bundle(in_app(_bundle, pid))
    kinds = sorted(r["resourceType"] for r in by_url.values())
    assert kinds == ["Organization", "Patient", "Procedure", "Questionnaire"]
    assert of_type(by_url, "Patient")[0]["name"] == [{"text": "Émile Ø"}]


def test_unicode_names_survive(world, in_app):
    def build():
        user = db.session.get(User, world.clinician1)
        user.name = "Dr Łukasz Ñúñez 医生"
        db.session.commit()
        return full_record(world.clinic1, world.clinician1, 1, name="Zoë O’Brien-李")

    pid = in_app(build)
    by_url = check_bundle(in_app(_bundle, pid))
    assert of_type(by_url, "Patient")[0]["name"][0]["text"] == "Zoë O’Brien-李"
    assert of_type(by_url, "Practitioner")[0]["name"][0]["text"] == "Dr Łukasz Ñúñez 医生"


def test_ids_are_stable_between_exports(in_app, full, clock):
    first = in_app(_bundle, full)
    clock.advance(hours=1)
    second = in_app(lambda: patient_bundle(db.session, full, now=clock()))
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_two_installations_never_give_a_row_the_same_id(app, world, in_app):
    """Row ids start at 1 on every server: Patient 1 of two clinics' own installations
    must differ in every id and identifier a receiving EHR matches on, or it would merge
    two people's records. Naming the installation keeps its ids through a move."""

    def ids(**config: str | None) -> tuple[set[str], set[tuple[str, str]], set[str]]:
        app.config.update(config)
        by_url = check_bundle(in_app(_bundle, world.patient_a))
        keys = {(i["system"], i["value"]) for r in by_url.values() for i in _ids(r)}
        urls = {r["url"] for r in of_type(by_url, "Questionnaire")}
        return set(by_url), keys, urls

    first = ids(SCLERO_BASE_URL="https://north.example", SCLERO_FHIR_INSTALL=None)
    other = ids(SCLERO_BASE_URL="https://south.example", SCLERO_FHIR_INSTALL=None)
    for mine, theirs in zip(first, other, strict=True):
        assert mine and not mine & theirs
    assert ids(SCLERO_BASE_URL="https://north.example") == first
    named = ids(SCLERO_FHIR_INSTALL="north-clinic-2026")
    assert ids(SCLERO_BASE_URL="https://moved.example") == named


def _ids(resource: dict) -> list[dict]:
    found = resource.get("identifier", [])
    return found if isinstance(found, list) else [found]


def test_no_such_patient_is_not_found(world, in_app):
    with pytest.raises(NotFound):
        in_app(_bundle, 999_999)


def test_the_statement_count_does_not_grow_with_the_check_ins(app, world, in_app):
    small = in_app(full_record, world.clinic1, world.clinician1, 2)
    large = in_app(full_record, world.clinic1, world.clinician1, 12)
    in_app(_bundle, small)  # warm: the parsed protocol cache

    def statements(pid: int) -> int:
        seen: list[str] = []
        engine = in_app(lambda: db.engine)

        def record(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            in_app(_bundle, pid)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    # One per kind of row: 9 today (patient, sessions, check-ins, alerts, comments,
    # photos, ratings, scores, staff).
    assert statements(small) == statements(large) <= 10


def test_control_characters_and_long_text_stay_valid_fhir(world, in_app):
    """Any byte in any free-text field (an escape, a bell, RTL marks, emoji, 10 kB): the
    bundle is still valid FHIR, each forbidden character shown as U+FFFD and the rest of
    the words kept as they were. (NUL: PostgreSQL stores none; tests/domain covers it.)"""
    long = "Ça va 🙂 \u202eRTL\u200f " + "x" * 10_000

    def build():
        pid = full_record(world.clinic1, world.clinician1, 2, name="Zoë\x01 \x1b[31mO")
        done = Treatment.treated_at.is_not(None)
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == pid, done))
        t.sclerosant, t.compression, t.areas = "Polidocanol\x02", "\x03", "\x04, left\x05 calf"
        for c in db.session.scalars(sa.select(Comment).where(Comment.patient_id == pid)):
            c.body = "\x07"
        for c in db.session.scalars(sa.select(CheckIn).where(CheckIn.patient_id == pid)):
            c.answers = {**c.answers, "note": "line\x08\x0b\n" + long}
        for photo in db.session.scalars(sa.select(Photo).where(Photo.patient_id == pid)):
            photo.note = "\x0c"
        db.session.commit()
        return pid

    by_url = check_bundle(in_app(_bundle, in_app(build), for_clinic=True))
    assert of_type(by_url, "Patient")[0]["name"] == [{"text": "Zoë\ufffd \ufffd[31mO"}]
    assert {c["payload"][0]["contentString"] for c in of_type(by_url, "Communication")} == {
        "\ufffd"
    }
    notes = [
        i["answer"][0]["valueString"]
        for r in of_type(by_url, "QuestionnaireResponse")
        for i in r["item"]
        if i["linkId"] == "note"
    ]
    # Both check-ins' latest answers (day 1's earlier version kept its own note).
    assert notes.count("line\ufffd\ufffd\n" + long) == 2


def test_a_clearance_score_whose_photos_were_deleted(world, in_app):
    def build():
        pid = full_record(world.clinic1, world.clinician1, 1)
        db.session.execute(sa.delete(Photo).where(Photo.patient_id == pid))
        db.session.commit()
        return pid

    by_url = check_bundle(in_app(_bundle, in_app(build)))
    score = next(o for o in of_type(by_url, "Observation") if o["id"] and "interpretation" in o)
    assert "derivedFrom" not in score and not of_type(by_url, "Media")


def test_a_closed_account_sends_no_placeholder_address(world, in_app):
    """At closure the email address goes (issue 20 point 4) and a placeholder takes its
    place: the record kept for the retention period must not offer it as a contact."""

    def build():
        pid = full_record(world.clinic1, world.clinician1, 1)
        patient = db.session.get(Patient, pid)
        patient.user.email, patient.user.is_active = closed_email(patient.user.id), False
        db.session.commit()
        return pid

    patient = of_type(check_bundle(in_app(_bundle, in_app(build))), "Patient")[0]
    assert patient["telecom"] == [{"system": "phone", "value": "+44 7700 900123"}]
    assert patient["active"] is False


def test_a_check_in_and_alert_sent_during_the_export_leave_no_dangling_reference(world, in_app):
    """The export reads one kind of row at a time. A patient who sends an emergency
    check-in between the read of the check-ins and the read of the alerts must not leave
    the bundle citing a check-in it lacks (without a snapshot, as on SQLite, or a caller
    that reads in its own transaction: the clinic's route reads in one, see
    tests/web/test_fhir_routes.py)."""
    pid = in_app(full_record, world.clinic1, world.clinician1, 1)
    with alert_sent_meanwhile(in_app(lambda: db.engine), pid, world.clinic1) as fired:
        bundle = in_app(_bundle, pid)
    assert fired
    by_url = check_bundle(bundle)
    late = [i for i in of_type(by_url, "DetectedIssue") if "evidence" not in i]
    assert len(late) == 1 and late[0]["detail"] == "Chest pain, sent meanwhile"


@contextmanager
def alert_sent_meanwhile(engine, pid: int, clinic_id: int):  # noqa: ANN001 - an Engine
    """While the block runs, just before the export reads the alerts, another
    connection stores (and commits) a new check-in of ``pid`` with an emergency alert.
    Yields a list that holds True once it has."""
    fired: list[bool] = []

    def meanwhile(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if fired or "FROM alerts" not in statement:
            return
        fired.append(True)
        with engine.begin() as other:
            query = sa.select(Treatment.id).where(Treatment.patient_id == pid)
            tid = other.execute(query).scalars().first()
            answers = {"pain": 8, "bruising": "mild"}
            new = CheckIn.__table__.insert().values(
                patient_id=pid,
                clinic_id=clinic_id,
                treatment_id=tid,
                day=9,
                on_date=NOW.date(),
                answers=answers,
                pain=8,
                bruising="mild",
                level="emergency",
                reasons=["Chest pain"],
                history=[],
                created_at=NOW,
                updated_at=NOW,
            )
            cid = other.execute(new).inserted_primary_key[0]
            alert = Alert.__table__.insert().values(
                patient_id=pid,
                clinic_id=clinic_id,
                checkin_id=cid,
                level="emergency",
                severity=0,
                reasons=["Chest pain, sent meanwhile"],
                created_at=NOW,
            )
            other.execute(alert)

    event.listen(engine, "before_cursor_execute", meanwhile)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", meanwhile)


def _outcome_codes(bundle: dict) -> set[str]:
    return {r["code"]["coding"][0]["code"] for r in of_type(check_bundle(bundle), "Observation")}


def test_the_clinics_copy_holds_no_rating_before_its_score_is_saved(in_app, full):
    """Review rvoutc: blinding (ref 2.8). The patient page hides a session's rating until
    its clearance score is saved; the clinic's FHIR copy ($everything and the download)
    must not show it either, or the clinician could read it there before scoring. The
    patient's own copy keeps it."""

    def unscore():
        db.session.execute(sa.delete(ClearanceScore))
        db.session.commit()

    in_app(unscore)
    clinic = _outcome_codes(in_app(_bundle, full, for_clinic=True))
    assert not clinic & {"improvement", "satisfaction", "side-effects"}
    own = _outcome_codes(in_app(_bundle, full))
    assert {"improvement", "satisfaction", "side-effects"} <= own


def test_the_clinics_copy_holds_the_rating_once_the_score_is_saved(in_app, full):
    clinic = _outcome_codes(in_app(_bundle, full, for_clinic=True))
    assert {"improvement", "satisfaction", "side-effects", "clearance"} <= clinic
