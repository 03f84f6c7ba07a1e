"""Outcomes per session (issue 19 points 6 and 7): the patient's rating six weeks on, the
clinician's blinded clearance score, the patient page's outcomes, the clinic's outcomes
page and its CSV, and stocking adherence for compression protocols only."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import Clinic
from app.models import OutcomeRating
from app.models import OutcomeTally
from app.models import Patient
from app.models import Photo
from app.models import SessionFacts
from app.models import Treatment
from app.models import TreatmentStatus
from app.services.outcomes import facts
from app.services.outcomes import tallies
from app.services.protocols import protocol_by_version
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.web.test_checkin import form as checkin_form

DANA = "dana@patients.example"  # clinic 1, treated 50 days ago (compression-72h)
NORA = "nora@patients.example"  # clinic 1, treated 50 days ago (compression-none)


def _session_of(patient_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.min(Treatment.id)).where(Treatment.patient_id == patient_id)
    )


def _photo(patient: Patient, treatment_id: int, taken, phase: str, view: str = "inner") -> int:
    photo = Photo(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        treatment_id=treatment_id,
        phase=phase,
        day=None,
        taken_at=taken,
        taken_on=taken.date(),
        side="left",
        region="calf",
        view=view,
        full_key=uuid.uuid4().hex,
        full_sha256="0" * 64,
        full_size=1,
        thumb_key=uuid.uuid4().hex,
        thumb_sha256="0" * 64,
        width=400,
        height=300,
        source_format="jpeg",
    )
    db.session.add(photo)
    db.session.commit()
    return photo.id


def _checkin(patient: Patient, treatment_id: int, day: int, **answers) -> None:
    base = {"pain": 1, "bruising": "mild", "skin": [], "red_flags": []}
    base |= answers
    t = db.session.get(Treatment, treatment_id)
    db.session.add(
        CheckIn(
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
            treatment_id=treatment_id,
            day=day,
            on_date=(t.treated_at + timedelta(days=day)).date(),
            answers=base,
            pain=base["pain"],
            bruising=base["bruising"],
            level=answers.pop("level", "routine" if base["skin"] else "none"),
        )
    )
    db.session.flush()
    # As the check-in service does after storing a check-in.
    facts.note_checkin(
        treatment_id, protocol_by_version(t.protocol_version_id, t.protocol_version.sha256)
    )
    db.session.commit()


def old_session_with_photos(patient_id: int) -> int:
    """A done session 60 days before NOW for a patient, with a before photo and an after
    photo at 40 days (before the patient's later session): the session's id."""
    p = db.session.get(Patient, patient_id)
    later = db.session.get(Treatment, _session_of(patient_id))
    t = Treatment(
        patient_id=p.id,
        protocol_version_id=later.protocol_version_id,
        appointment_at=NOW - timedelta(days=60),
        treated_at=NOW - timedelta(days=60),
        status=TreatmentStatus.DONE,
    )
    db.session.add(t)
    db.session.flush()
    tallies.add_session(t.id)  # made here, not by the service that records a session
    db.session.commit()
    _photo(p, t.id, t.treated_at - timedelta(days=1), "before")
    _photo(p, t.id, t.treated_at + timedelta(days=40), "after")
    return t.id


def _counted(patient: Patient) -> Patient:
    """A patient made by ``make_patient`` (which bypasses the services), with the done
    session counted in the clinic's outcome totals as recording it would."""
    tallies.add_session(_session_of(patient.id))
    db.session.commit()
    return patient


@pytest.fixture(autouse=True)
def _totals(world, in_app):
    """The world's patients (made without the services) in their clinics' totals."""

    def recount():
        tallies.rebuild(db.session.connection())
        db.session.commit()

    in_app(recount)


@pytest.fixture
def dana(world, in_app):
    """Dana: a session 50 days ago with a before photo and an after photo at 5 weeks."""

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        p = _counted(make_patient(clinic, DANA, day=50, name="Dana Marker-D"))
        tid = _session_of(p.id)
        t = db.session.get(Treatment, tid)
        _photo(p, tid, t.treated_at - timedelta(days=2), "before")
        _photo(p, tid, t.treated_at + timedelta(days=35), "after")
        return p.id, tid

    return in_app(build)


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _rate(client, tid: int, improvement="70", satisfaction="4", effects=("matting",)):
    data = {"improvement": improvement, "satisfaction": satisfaction, "side_effects": list(effects)}
    return client.post(f"/patient/outcomes/{tid}", data=data)


# ------------------------------------------------------------------ the patient


def test_today_asks_about_a_session_six_weeks_on_and_the_rating_is_stored(app, dana, in_app):
    _pid, tid = dana
    client = _client(app, DANA)
    today = text_of(client.get("/patient/today"))
    assert "How did your session on 1 October 2026 go?" in today
    form = client.get(f"/patient/outcomes/{tid}")
    assert form.status_code == 200
    assert 'name="improvement" value="100"' in form.get_data(as_text=True)
    r = _rate(client, tid)
    assert r.status_code == 303 and r.headers["Location"].endswith("/patient/today")
    row = in_app(lambda: db.session.scalar(sa.select(OutcomeRating)))
    assert (row.improvement, row.satisfaction, row.side_effects) == (70, 4, "matting")
    # Rated: the card is gone.
    assert "How did your session" not in text_of(client.get("/patient/today"))


def test_a_rating_can_be_changed_for_four_weeks_keeping_the_earlier_answer(
    app, dana, in_app, clock
):
    _pid, tid = dana
    client = _client(app, DANA)
    assert _rate(client, tid).status_code == 303
    clock.advance(days=3)
    client = _client(app, DANA)  # a new sign-in: the last one has timed out
    assert _rate(client, tid, "90", "5", ("none",)).status_code == 303
    row = in_app(lambda: db.session.scalar(sa.select(OutcomeRating)))
    assert (row.improvement, row.satisfaction, row.side_effects) == (90, 5, "")
    assert [h["improvement"] for h in row.history] == [70]
    clock.advance(days=30)
    r = _rate(_client(app, DANA), tid, "10")
    assert r.status_code == 400
    assert "can no longer be changed" in text_of(r)
    assert in_app(lambda: db.session.scalar(sa.select(OutcomeRating.improvement))) == 90


@pytest.mark.parametrize(
    ("improvement", "satisfaction", "effects", "message"),
    [
        ("", "4", ("none",), "Choose how much better it looks"),
        ("150", "4", ("none",), "Choose how much better it looks"),
        ("abc", "4", ("none",), "Choose how much better it looks"),
        ("50", "9", ("none",), "Choose how happy you are"),
        ("50", "3", (), "Tell us about side effects, or choose none"),
        ("50", "3", ("none", "matting"), "not both"),
        ("50", "3", ("<script>",), "Tell us about side effects"),
    ],
)
def test_bad_ratings_get_a_clear_message(
    app, dana, in_app, improvement, satisfaction, effects, message
):
    _pid, tid = dana
    r = _rate(_client(app, DANA), tid, improvement, satisfaction, effects)
    assert r.status_code == 400
    assert message in text_of(r)
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(OutcomeRating)))
        == 0
    )


def test_another_patients_session_or_one_not_due_is_not_found(app, world, dana, in_app):
    _pid, tid = dana
    alice = _client(app, "alice@patients.example")
    assert alice.get(f"/patient/outcomes/{tid}").status_code == 404
    assert _rate(alice, tid).status_code == 404
    # Alice's own session is 3 days old: not due yet, and no card on Today.
    own = in_app(_session_of, world.patient_a)
    assert alice.get(f"/patient/outcomes/{own}").status_code == 404
    assert "How did your session" not in text_of(alice.get("/patient/today"))
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(OutcomeRating)))
        == 0
    )


def test_the_rating_is_due_at_the_next_session_if_that_comes_first(app, world, in_app):
    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        p = make_patient(clinic, DANA, day=20)
        t = db.session.get(Treatment, _session_of(p.id))
        db.session.add(
            Treatment(
                patient_id=p.id,
                protocol_version_id=t.protocol_version_id,
                appointment_at=NOW - timedelta(hours=1),
            )
        )
        db.session.commit()

    in_app(build)
    assert "How did your session" in text_of(_client(app, DANA).get("/patient/today"))


def test_the_rating_is_asked_the_day_before_the_next_session(app, world, in_app):
    # Asked only at the appointment itself, the patient would be in the chair: the card
    # shows from the start of the patient's local day before the next session.
    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        p = make_patient(clinic, DANA, day=20)
        t = db.session.get(Treatment, _session_of(p.id))
        db.session.add(
            Treatment(
                patient_id=p.id,
                protocol_version_id=t.protocol_version_id,
                appointment_at=NOW + timedelta(hours=30),
            )
        )
        db.session.commit()

    in_app(build)
    assert "How did your session" in text_of(_client(app, DANA).get("/patient/today"))


# ------------------------------------------------------------------ the clinician


def test_scoring_is_blind_to_the_patients_rating_until_saved(app, dana, in_app):
    pid, tid = dana
    assert _rate(_client(app, DANA), tid, "73", "2", ("pigmentation",)).status_code == 303
    doc = _client(app, "doc1@north.example")
    page = doc.get(f"/clinic/patients/{pid}")
    body = text_of(page)
    assert "Rated; shown once the photos are scored" in body
    assert "73%" not in body and "pigmentation" not in body.split("Outcomes", 1)[1]
    scoring = doc.get(f"/clinic/sessions/{tid}/clearance")
    html = scoring.get_data(as_text=True)
    assert scoring.status_code == 200
    assert "Before, " in text_of(scoring) and "After, " in text_of(scoring)
    # "73" alone may turn up inside a random token or asset hash: the rating is looked
    # for as shown text, and as an attribute's whole value or a percentage in the markup.
    shown = text_of(scoring).replace("patient's rating", "")
    for leak in ("73", "satisfaction", "pigmentation", "Unhappy", "rating:"):
        assert leak not in shown
    for leak in ('"73"', "'73'", ">73<", "73%", "satisfaction", "pigmentation", "Unhappy"):
        assert leak not in html.replace("patient's rating", "")
    r = doc.post(
        f"/clinic/sessions/{tid}/clearance", data={"site": "left-calf-inner", "score": "3"}
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(
        f"/clinic/patients/{pid}#outcomes"
    )
    body = text_of(doc.get(f"/clinic/patients/{pid}"))
    assert "3 of 4" in body and "73% better, satisfaction 2 of 5; still has pigmentation" in body
    event = in_app(
        lambda: db.session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "score"))
    )
    assert event.startswith(f"clearance 3 for session #{tid}")


def test_a_bad_score_or_a_site_without_a_pair_gets_a_message(app, dana, in_app):
    _pid, tid = dana
    doc = _client(app, "doc1@north.example")
    r = doc.post(
        f"/clinic/sessions/{tid}/clearance", data={"site": "left-calf-inner", "score": "7"}
    )
    assert r.status_code == 400 and "Choose a clearance score from 0 to 4." in text_of(r)
    r = doc.post(
        f"/clinic/sessions/{tid}/clearance", data={"site": "right-calf-inner", "score": "2"}
    )
    assert r.status_code == 400 and "Choose a site with a before and an after photo." in text_of(r)
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(ClearanceScore)))
        == 0
    )


def test_another_clinics_clinician_gets_404_and_sees_none_of_it(app, dana, in_app):
    pid, tid = dana
    assert _rate(_client(app, DANA), tid, "73").status_code == 303
    other = _client(app, "doc2@south.example")
    assert other.get(f"/clinic/sessions/{tid}/clearance").status_code == 404
    r = other.post(
        f"/clinic/sessions/{tid}/clearance", data={"site": "left-calf-inner", "score": "3"}
    )
    assert r.status_code == 404
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(ClearanceScore)))
        == 0
    )
    page = text_of(other.get("/clinic/outcomes"))
    assert "Outcomes: South Clinic" in page and "n=1" not in page
    # A patient gets 404 on the clinic's pages.
    assert _client(app, DANA).get("/clinic/outcomes").status_code == 404


def test_the_patient_page_shows_stocking_wear_for_compression_only(app, world, dana, in_app):
    pid, tid = dana

    def build():
        p = db.session.get(Patient, pid)
        _checkin(p, tid, 0, stockings_day=True, stockings_night=True)
        _checkin(p, tid, 1, stockings_day=True, stockings_night=False)
        _checkin(p, tid, 2, stockings_day=None, stockings_night=None)
        clinic = db.session.get(Clinic, world.clinic1)
        return _counted(make_patient(clinic, NORA, day=50, key="compression-none")).id

    nora = in_app(build)
    doc = _client(app, "doc1@north.example")
    body = text_of(doc.get(f"/clinic/patients/{pid}"))
    # 72 h day and night from 10:00 on day 0, then daytime to day 10: the check-in asks
    # about the day on days 0-10 and the night on days 0-3 (15 slots).
    assert "Worn 3 of 15 required, not worn 1, not reported 11" in body
    body = text_of(doc.get(f"/clinic/patients/{nora}"))
    assert "No stockings in this protocol" in body and "Worn " not in body


# ------------------------------------------------------------------ the clinic page


def test_the_outcomes_page_counts_per_protocol_and_sclerosant(app, world, dana, in_app):
    pid, tid = dana

    def build():
        p = db.session.get(Patient, pid)
        _checkin(p, tid, 2, bruising="severe", level="routine")
        _checkin(p, tid, 5, skin=["brown", "red-vessels"])
        _checkin(p, tid, 6, skin=["sore"], level="same_day")
        _checkin(p, tid, 7, red_flags=["calf-pain-swelling"], level="same_day")
        _checkin(p, tid, 30, bruising="moderate", level="routine")
        with tallies.tracked(tid):  # a correction, as recording again would make
            t = db.session.get(Treatment, tid)
            t.sclerosant = '=HYPERLINK("http://evil")'
        db.session.commit()

    in_app(build)
    assert _rate(_client(app, DANA), tid, "60", "4", ("none",)).status_code == 303
    doc = _client(app, "doc1@north.example")
    assert (
        doc.post(
            f"/clinic/sessions/{tid}/clearance", data={"site": "left-calf-inner", "score": "2"}
        ).status_code
        == 303
    )
    page = doc.get("/clinic/outcomes")
    body = text_of(page)
    assert page.status_code == 200 and "By protocol" in body and "By sclerosant" in body
    # One rating: its median would be Dana's own answer (blinding: see the test below).
    assert "1 so far; medians shown from 5" in body and "60%" not in body
    assert "0 / 0 / 1 / 0 / 0 (n=1)" in body
    # Dana's session has every complication; Alice's (day 3) none: 1 of 2 sessions.
    for label in (
        "Bruising beyond expected",
        "Pigmentation",
        "Matting",
        "Skin breakdown",
        "Suspected DVT or PE",
    ):
        assert f"{label}: 1 (50%)" in body
    csv_text = doc.get("/clinic/outcomes.csv")
    assert csv_text.status_code == 200 and csv_text.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(csv_text.get_data(as_text=True))))
    agents = [r[1] for r in rows if r[0] == "sclerosant"]
    assert '\'=HYPERLINK("http://evil")' in agents
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    views = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.detail == "clinic outcomes")
        )
    )
    assert views == 2


def test_adherence_on_the_outcomes_page_counts_unanswered_as_not_reported(app, world, dana, in_app):
    pid, tid = dana

    def build():
        p = db.session.get(Patient, pid)
        _checkin(p, tid, 0, stockings_day=True, stockings_night=True)
        _checkin(p, tid, 1, stockings_day=False, stockings_night=None)
        clinic = db.session.get(Clinic, world.clinic1)
        _counted(make_patient(clinic, NORA, day=50, key="compression-none"))

    in_app(build)
    body = text_of(_client(app, "doc1@north.example").get("/clinic/outcomes"))
    assert "67% worn of answered (worn 2, not worn 1" in body
    assert "No compression" in body


def test_a_check_in_sent_by_the_patient_reaches_the_outcomes_page(app, world, in_app):
    """Through the real check-in service: its answers update the session's row."""
    alice = _client(app, "alice@patients.example")
    r = alice.post("/patient/checkin", data=checkin_form(skin=["brown"], bruising="severe"))
    assert r.status_code in (200, 303)
    body = text_of(_client(app, "doc1@north.example").get("/clinic/outcomes"))
    assert "Pigmentation: 1 (100%)" in body and "Bruising beyond expected: 1 (100%)" in body
    assert "Matting: 0 (0%)" in body
    # Day 3 of compression-72h asks about the day and the night: both "yes" in the form.
    assert "(worn 2, not worn 0" in body
    # Sent again with other answers: the row follows the stored answers, not both.
    r = alice.post("/patient/checkin", data=checkin_form(bruising="mild"))
    body = text_of(_client(app, "doc1@north.example").get("/clinic/outcomes"))
    assert "Pigmentation: 0 (0%)" in body and "Bruising beyond expected: 0 (0%)" in body


def test_backfill_rebuilds_every_sessions_row_as_the_service_keeps_it(app, dana, in_app):
    pid, tid = dana
    assert _rate(_client(app, DANA), tid, "70", "4", ("matting",)).status_code == 303
    doc = _client(app, "doc1@north.example")
    r = doc.post(
        f"/clinic/sessions/{tid}/clearance", data={"site": "left-calf-inner", "score": "2"}
    )
    assert r.status_code == 303

    def build():
        p = db.session.get(Patient, pid)
        _checkin(p, tid, 0, stockings_day=True, stockings_night=False)
        _checkin(p, tid, 5, skin=["red-vessels"])
        _checkin(p, tid, 7, red_flags=["calf-pain-swelling"], level="same_day")

        def rows(model) -> list[dict]:
            return [dict(r._mapping) for r in db.session.execute(sa.select(model.__table__))]

        kept, totals = rows(SessionFacts), sorted(map(tuple, map(dict.values, rows(OutcomeTally))))
        db.session.commit()
        with db.engine.begin() as conn:
            written = facts.backfill(conn)
        db.session.expire_all()
        rebuilt = sorted(map(tuple, map(dict.values, rows(OutcomeTally))))
        return kept, written, rows(SessionFacts), totals, rebuilt

    kept, written, rebuilt, totals, recounted = in_app(build)
    assert written == 1 and rebuilt == kept
    assert kept[0]["matting"] and kept[0]["dvt"] and not kept[0]["pigmentation"]
    assert (kept[0]["day_yes"], kept[0]["night_no"]) == (1, 1)
    # No copies of the rating and score: their own rows are the one source.
    assert "improvement" not in kept[0] and "score" not in kept[0]
    # The totals kept by the services are what a recount from the rows gives.
    assert [r for r in totals if r[-1]] == [r for r in recounted if r[-1]]
    counted = {r[3]: r[4] for r in recounted if r[2] == "Polidocanol"}
    assert counted["improvement:70"] >= 1 and counted["clearance:2"] >= 1


def test_a_score_cannot_be_changed_once_the_rating_it_revealed_is_shown(app, dana, in_app):
    # Blinding (ref 2.8): saving the score shows the patient's rating on the patient
    # page; a "Change score" after that would be made knowing the rating.
    pid, tid = dana
    doc = _client(app, "doc1@north.example")
    data = {"site": "left-calf-inner", "score": "1"}
    assert doc.post(f"/clinic/sessions/{tid}/clearance", data=data).status_code == 303
    # Not rated yet: the score can still be corrected, blind.
    data["score"] = "2"
    assert doc.post(f"/clinic/sessions/{tid}/clearance", data=data).status_code == 303
    assert _rate(_client(app, DANA), tid, "90", "5").status_code == 303
    body = text_of(doc.get(f"/clinic/patients/{pid}"))
    assert "90% better" in body and "Change score" not in body
    page = doc.get(f"/clinic/sessions/{tid}/clearance")
    assert page.status_code == 200 and "can no longer be changed" in text_of(page)
    assert 'name="score"' not in page.get_data(as_text=True)
    data["score"] = "4"
    r = doc.post(f"/clinic/sessions/{tid}/clearance", data=data)
    assert r.status_code == 400 and "can no longer be changed" in text_of(r)
    stored = in_app(
        lambda: db.session.scalar(
            sa.select(ClearanceScore.score).where(ClearanceScore.treatment_id == tid)
        )
    )
    assert stored == 2


def test_the_outcomes_page_hides_a_median_that_is_one_patients_rating(app, world, dana, in_app):
    # Blinding (ref 2.8): with one rated session in a group, the page's "median" is that
    # patient's rating, readable before the clinician scores the session's photos.
    pid, tid = dana
    assert _rate(_client(app, DANA), tid, "73", "2", ("pigmentation",)).status_code == 303
    doc = _client(app, "doc1@north.example")
    body = text_of(doc.get("/clinic/outcomes"))
    assert "73%" not in body and "1 so far; medians shown from 5" in body
    rows = list(csv.reader(io.StringIO(doc.get("/clinic/outcomes.csv").get_data(as_text=True))))
    head = rows[0]
    for row in rows[1:]:
        cells = dict(zip(head, row, strict=True))
        assert cells["median improvement %"] == "" and cells["median satisfaction (1-5)"] == ""
        assert "73" not in row

    def four_more():
        for improvement in (10, 20, 80, 90):
            t = db.session.get(Treatment, old_session_with_photos(pid))
            with tallies.tracked(t.id):  # as the rating service does
                db.session.add(
                    OutcomeRating(
                        treatment_id=t.id,
                        patient_id=pid,
                        improvement=improvement,
                        satisfaction=3,
                        side_effects="",
                        history=[],
                    )
                )
        db.session.commit()

    in_app(four_more)
    body = text_of(doc.get("/clinic/outcomes"))
    assert "Median improvement" in body and "73% (n=5)" in body


def test_ratings_changed_from_four_phones_at_once_lose_no_confirmed_answer(app, dana, in_app):
    # Like check-ins (issue 15 point 3): each phone's confirmed rating is either the
    # current one or in the history, exactly once; none is lost by two phones reading
    # the same row and each writing back its own history.
    _pid, tid = dana
    devices, edits = 4, 5
    clients = [_client(app, DANA) for _ in range(devices)]
    barrier = threading.Barrier(devices)
    confirmed: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            for j in range(edits):
                answer = (10 * (2 * j + i % 2), 1 + i // 2 + 2 * (j % 2))
                r = _rate(clients[i], tid, str(answer[0]), str(answer[1]), ("none",))
                assert r.status_code == 303, r.status_code
                confirmed.append(answer)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads) and not failures, failures
    row = in_app(lambda: db.session.scalar(sa.select(OutcomeRating)))
    kept = [(row.improvement, row.satisfaction)]
    kept += [(h["improvement"], h["satisfaction"]) for h in row.history]
    assert sorted(kept) == sorted(confirmed)


def test_the_same_rating_sent_twice_is_stored_once(app, dana, in_app):
    # A double tap or a resend: the second send changes nothing, so the history keeps
    # no copy of the same answers (it holds answers the patient changed).
    _pid, tid = dana
    client = _client(app, DANA)
    assert _rate(client, tid, "70", "4", ("matting",)).status_code == 303
    assert _rate(client, tid, "70", "4", ("matting",)).status_code == 303
    row = in_app(lambda: db.session.scalar(sa.select(OutcomeRating)))
    assert (row.improvement, row.history) == (70, [])
    assert _rate(client, tid, "80", "4", ("matting",)).status_code == 303
    row = in_app(lambda: db.session.scalar(sa.select(OutcomeRating)))
    assert (row.improvement, [h["improvement"] for h in row.history]) == (80, [70])


def test_the_csv_opens_in_a_spreadsheet_with_its_accents_and_separators(app, dana, in_app):
    """Review rvoutc: a sclerosant with accents, an emoji, a comma, quotes and a line
    break. The file is UTF-8 with a byte order mark, which Excel needs to read it as
    UTF-8 (without it "Polidocanol é" opens as "Polidocanol Ã©"); every cell comes back
    whole through a CSV reader."""
    _pid, tid = dana
    agent = 'Polidocanol é 🙂, "1%"\nfoam; ‮RTL'

    def correct():
        with tallies.tracked(tid):
            db.session.get(Treatment, tid).sclerosant = agent
        db.session.commit()

    in_app(correct)
    r = _client(app, "doc1@north.example").get("/clinic/outcomes.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.mimetype_params.get("charset") == "utf-8"
    assert r.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][0] == "grouping"
    assert agent in [row[1] for row in rows if row[0] == "sclerosant"]
    assert len({len(row) for row in rows}) == 1
