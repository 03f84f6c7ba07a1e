"""The clinic's outcomes page from running totals (issue 19 Benchmark): on random data,
after sessions are recorded, corrected, checked in, rated and scored in any order, the
page shows exactly what adding up every session from its own rows gives; the totals
equal a recount; and the page's statement count does not grow with the clinic."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.domain import outcomes as rules
from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import Clinic
from app.models import OutcomeRating
from app.models import OutcomeTally
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.principal import ClinicInfo
from app.principal import Principal
from app.services.outcomes import clinic_report
from app.services.outcomes import facts
from app.services.outcomes import tallies
from app.services.protocols import protocol_by_version
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import make_staff
from tests.web.test_checkin import form
from tests.web.test_outcomes import _checkin
from tests.web.test_outcomes import _client
from tests.web.test_outcomes import _counted
from tests.web.test_outcomes import _rate
from tests.web.test_outcomes import checkin_form

KEYS = ("compression-72h", "compression-none", "compression-24h")
AGENTS = ("Polidocanol", "polidocanol ", "STS", "", "Sodium tetradecyl sulfate")


@pytest.fixture(autouse=True)
def _totals(world, in_app):
    """The world's patients (made without the services) in their clinics' totals."""

    def recount():
        tallies.rebuild(db.session.connection())
        db.session.commit()

    in_app(recount)


# ------------------------------------------------------------------ a plain recount


def _plain(clinic_id: int) -> dict[tuple[str, str], dict]:
    """Every done session of the clinic read from its own rows (check-ins, rating,
    score) and added up per protocol and per sclerosant: what the page must show."""
    clinic = db.session.get(Clinic, clinic_id)
    tz = ZoneInfo(clinic.timezone)
    versions = list(
        db.session.scalars(sa.select(ProtocolVersion).where(ProtocolVersion.clinic_id == clinic_id))
    )
    names = {v.key: v.name for v in sorted(versions, key=lambda v: v.version)}
    out: dict[tuple[str, str], dict] = {}
    done = db.session.scalars(
        sa.select(Treatment)
        .join(Patient, Patient.id == Treatment.patient_id)
        .where(Patient.clinic_id == clinic_id, Treatment.status == TreatmentStatus.DONE)
    )
    for t in done:
        v = t.protocol_version
        protocol = protocol_by_version(v.id, v.sha256)
        clot = rules.clot_flag_keys(protocol)
        found: set[str] = set()
        worn = not_worn = 0
        for c in db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == t.id)):
            found |= rules.complications(c.answers or {}, c.day, clot)
            for key in ("stockings_day", "stockings_night"):
                worn += (c.answers or {}).get(key) is True
                not_worn += (c.answers or {}).get(key) is False
        titles = rules.clot_flag_titles(protocol)
        alerts = db.session.scalars(sa.select(Alert.reasons).where(Alert.treatment_id == t.id))
        for reasons in alerts:
            found |= rules.alert_complications(reasons, titles)
        rating = db.session.scalar(
            sa.select(OutcomeRating).where(OutcomeRating.treatment_id == t.id)
        )
        score = db.session.scalar(
            sa.select(ClearanceScore.score).where(ClearanceScore.treatment_id == t.id)
        )
        agent = t.sclerosant.strip() or "Not recorded"
        for group in (("protocol", names[v.key]), ("sclerosant", agent.casefold())):
            g = out.setdefault(
                group,
                {
                    "sessions": 0,
                    "complications": Counter(),
                    "improvement": Counter(),
                    "satisfaction": Counter(),
                    "effects": Counter(),
                    "clearance": Counter(),
                    "wear": None,
                },
            )
            g["sessions"] += 1
            g["complications"].update(found)
            if rating is not None:
                g["improvement"][rating.improvement] += 1
                g["satisfaction"][rating.satisfaction] += 1
                g["effects"].update(rating.side_effects.split())
            if score is not None:
                g["clearance"][score] += 1
            if rules.is_compression(protocol):
                slots = rules.nominal_required_slots(protocol, tz)
                w = rules.Wear(slots, worn, not_worn)
                g["wear"] = w if g["wear"] is None else g["wear"] + w
    return out


def _shown(clinic_id: int) -> dict[tuple[str, str], dict]:
    """The page's groups as the service builds them from the totals."""
    staff = db.session.scalar(
        sa.select(User).where(User.clinic_id == clinic_id, User.email.like("doc%"))
    )
    clinic = db.session.get(Clinic, clinic_id)
    info = ClinicInfo(clinic.id, clinic.name, "", "", "", "", clinic.timezone)
    actor = Principal(staff.id, staff.email, staff.name, staff.role, info, None, 0, "")
    report = clinic_report(actor, "127.0.0.1")
    out = {}
    for grouping, groups in (
        ("protocol", report.by_protocol),
        ("sclerosant", report.by_sclerosant),
    ):
        for g in groups:
            label = g.label if grouping == "protocol" else g.label.casefold()
            out[(grouping, label)] = {
                "sessions": g.sessions,
                "complications": +g.complications,
                "improvement": +g.improvement,
                "satisfaction": +g.satisfaction,
                "effects": +g.effects,
                "clearance": +g.clearance,
                "wear": g.wear,
            }
            # The medians the page prints come from those counts.
            expected = rules.median_from_counts(g.improvement) if g.shown else None
            assert g.median_improvement == expected
    return out


def _recounted_totals() -> list[tuple]:
    """The totals kept, then the totals a recount from the rows gives (none zero)."""
    t = OutcomeTally

    def rows() -> list[tuple]:
        return sorted(
            tuple(r)
            for r in db.session.execute(
                sa.select(t.clinic_id, t.protocol_version_id, t.sclerosant, t.key, t.count).where(
                    t.count != 0
                )
            )
        )

    kept = rows()
    db.session.commit()
    with db.engine.begin() as conn:
        tallies.rebuild(conn)
    return [kept, rows()]


# ------------------------------------------------------------------ random changes


def _random_changes(rng: random.Random, clinic_id: int, n_patients: int, steps: int) -> None:
    clinic = db.session.get(Clinic, clinic_id)
    tids = []
    for i in range(n_patients):
        key = rng.choice(KEYS)
        p = make_patient(clinic, f"r{i}-{rng.random()}@patients.example", day=50, key=key)
        tids.append(_counted(p).id)
    tids = [
        db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == pid))
        for pid in tids
    ]
    days: dict[int, set[int]] = {tid: set() for tid in tids}
    for _ in range(steps):
        tid = rng.choice(tids)
        t = db.session.get(Treatment, tid)
        p = db.session.get(Patient, t.patient_id)
        action = rng.choice(("checkin", "checkin", "rate", "score", "agent", "undo"))
        if action == "checkin":
            free = [d for d in range(0, 40) if d not in days[tid]]
            day = rng.choice(free)
            days[tid].add(day)
            answers = {
                "bruising": rng.choice(("none", "mild", "moderate", "severe")),
                "skin": rng.sample(["brown", "red-vessels", "sore", "blister", "pale"], 2)
                if rng.random() < 0.3
                else [],
                "red_flags": ["calf-pain-swelling"] if rng.random() < 0.1 else [],
                "stockings_day": rng.choice((True, False, None)),
                "stockings_night": rng.choice((True, False, None)),
            }
            _checkin(p, tid, day, **answers)  # the check-in service's facts (and totals)
            continue
        with tallies.tracked(tid):  # as each service does, under the patient's lock
            if action == "rate":
                r = db.session.scalar(
                    sa.select(OutcomeRating).where(OutcomeRating.treatment_id == tid)
                )
                if r is None:
                    r = OutcomeRating(treatment_id=tid, patient_id=p.id, history=[])
                    db.session.add(r)
                r.improvement = rng.randrange(0, 101)
                r.satisfaction = rng.randint(1, 5)
                r.side_effects = rng.choice(("", "matting", "pigmentation", "matting pigmentation"))
            elif action == "score":
                s = db.session.scalar(
                    sa.select(ClearanceScore).where(ClearanceScore.treatment_id == tid)
                )
                if s is None:
                    s = ClearanceScore(treatment_id=tid, site="left-calf-inner")
                    db.session.add(s)
                s.score = rng.randint(0, 4)
            elif action == "agent":  # recording again corrects the sclerosant
                t.sclerosant = rng.choice(AGENTS)
            else:  # as if never recorded, then recorded again (moves it out and back)
                t.status = (
                    TreatmentStatus.SCHEDULED
                    if t.status == TreatmentStatus.DONE
                    else TreatmentStatus.DONE
                )
        db.session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_page_from_totals_equals_adding_up_every_session(world, in_app, seed):
    rng = random.Random(seed)
    in_app(_random_changes, rng, world.clinic1, 12, 90)
    assert in_app(_shown, world.clinic1) == in_app(_plain, world.clinic1)
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted
    # Another clinic's page is its own: Cara's one session, none of the above.
    other = in_app(_shown, world.clinic2)
    assert sum(g["sessions"] for (kind, _), g in other.items() if kind == "protocol") == 1


def test_recording_and_correcting_a_session_move_it_between_groups(app, world, in_app):
    """Through the real record form: Bob's booked session counts once recorded, and a
    corrected sclerosant takes it, with its rating, to the other group."""
    doc = _client(app, "doc1@north.example")
    bob = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    form = {
        "date": "2026-11-20",
        "time": "11:00",
        "sclerosant": "Polidocanol",
        "form": "foam",
        "concentration": "1%",
        "areas": "left calf",
        "compression": "class 2",
        "checks_done": "y",
    }
    assert doc.post(f"/clinic/sessions/{bob}/record", data=form).status_code == 303
    shown = in_app(_shown, world.clinic1)
    assert shown[("sclerosant", "polidocanol")]["sessions"] == 2  # Alice's and Bob's
    assert shown == in_app(_plain, world.clinic1)
    form["sclerosant"] = "STS"
    assert doc.post(f"/clinic/sessions/{bob}/record", data=form).status_code == 303
    shown = in_app(_shown, world.clinic1)
    assert shown[("sclerosant", "polidocanol")]["sessions"] == 1
    assert shown[("sclerosant", "sts")]["sessions"] == 1
    assert shown == in_app(_plain, world.clinic1)
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted


def test_a_rating_changed_moves_its_counts_not_adds_them(app, world, in_app):
    """Through the rating service: a changed rating replaces its counts."""

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        p = _counted(make_patient(clinic, "rita@patients.example", day=50))
        return db.session.scalar(sa.select(Treatment.id).where(Treatment.patient_id == p.id))

    tid = in_app(build)
    rita = _client(app, "rita@patients.example")
    assert _rate(rita, tid, "40", "2", ("matting",)).status_code == 303
    assert _rate(rita, tid, "90", "5", ("none",)).status_code == 303
    g = in_app(_shown, world.clinic1)[("sclerosant", "polidocanol")]
    assert g["improvement"] == Counter({90: 1}) and g["effects"] == Counter()
    assert in_app(_shown, world.clinic1) == in_app(_plain, world.clinic1)


def test_an_erased_patient_leaves_the_totals_as_a_recount_does(world, in_app):
    """An erasure deletes the patient's account and the database cascades to the
    sessions; ``forget_patient`` first takes them out of the totals."""
    in_app(_random_changes, random.Random(5), world.clinic1, 6, 40)

    def erase():
        t = db.session.scalar(
            sa.select(Treatment)
            .join(Patient, Patient.id == Treatment.patient_id)
            .where(Treatment.status == TreatmentStatus.DONE, Patient.clinic_id == world.clinic1)
            .order_by(Treatment.id.desc())
            .limit(1)
        )
        pid = t.patient_id
        with tallies.tracked(t.id):  # a rating and a score, so there is more to take out
            rating = db.session.scalar(
                sa.select(OutcomeRating).where(OutcomeRating.treatment_id == t.id)
            )
            if rating is None:
                rating = OutcomeRating(treatment_id=t.id, patient_id=pid, history=[])
                db.session.add(rating)
            rating.improvement, rating.satisfaction, rating.side_effects = 55, 3, "matting"
        db.session.commit()
        user_id = db.session.get(Patient, pid).user_id
        tallies.forget_patient(pid)
        db.session.expunge_all()
        db.session.execute(sa.delete(User).where(User.id == user_id))
        db.session.commit()
        return pid

    pid = in_app(erase)
    assert in_app(lambda: db.session.get(Patient, pid)) is None
    assert in_app(_shown, world.clinic1) == in_app(_plain, world.clinic1)
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted


def test_check_ins_of_many_patients_at_once_keep_the_totals_exact(app, world, in_app):
    """Patients of one clinic check in at the same moment: each check-in moves the same
    rows of the clinic's totals (PostgreSQL: row locks taken in one order, no deadlock,
    no lost update)."""
    emails = [f"burst{i}@patients.example" for i in range(6)]

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        for email in emails:
            _counted(make_patient(clinic, email, day=3))

    in_app(build)
    clients = [_client(app, e) for e in emails]
    barrier = threading.Barrier(len(clients))
    failures: list[BaseException] = []

    def run(client) -> None:
        try:
            barrier.wait(10)
            for answers in ({"skin": ["brown"]}, {"bruising": "severe"}):
                r = client.post("/patient/checkin", data=checkin_form(**answers))
                assert r.status_code in (200, 303), r.status_code
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads) and not failures, failures
    shown = in_app(_shown, world.clinic1)
    assert shown == in_app(_plain, world.clinic1)
    # The second check-in replaced the first's answers (same day): bruising, not brown.
    assert shown[("sclerosant", "polidocanol")]["complications"]["bruising"] == 6
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted


# ------------------------------------------------------------------ constant statements


def _statements(app, client, path: str) -> int:
    """SQL statements of one warm GET of ``path``."""
    assert client.get(path).status_code == 200
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def test_the_outcomes_page_costs_the_same_statements_for_any_clinic_size(app, world, in_app):
    doc = _client(app, "doc1@north.example")
    small = _statements(app, doc, "/clinic/outcomes")
    small_csv = _statements(app, doc, "/clinic/outcomes.csv")
    in_app(_random_changes, random.Random(9), world.clinic1, 15, 60)
    assert _statements(app, doc, "/clinic/outcomes") == small
    assert _statements(app, doc, "/clinic/outcomes.csv") == small_csv
    # And the sessions were counted (the same page, not an empty one).
    sessions = in_app(_shown, world.clinic1)[
        ("protocol", "72 hours day and night, then daytime stockings for a week")
    ]
    assert sessions["sessions"] >= 1


def test_the_totals_of_one_session_are_its_share_alone():
    record = rules.SessionRecord(
        complications=frozenset({"dvt", "matting"}),
        stockings=(2, 0, 1, 1),
        rating=(70, 4, "matting pigmentation"),
        score=3,
    )
    assert rules.session_tally(record) == {
        "sessions": 1,
        "matting": 1,
        "dvt": 1,
        "day_yes": 2,
        "night_yes": 1,
        "night_no": 1,
        "improvement:70": 1,
        "satisfaction:4": 1,
        "effect:matting": 1,
        "effect:pigmentation": 1,
        "clearance:3": 1,
    }
    assert rules.session_tally(rules.SessionRecord()) == {"sessions": 1}
    assert rules.split_key("improvement:70") == ("improvement", "70")
    assert rules.split_key("sessions") == ("sessions", None)


# ------------------------------------------------------------------ alerts without a check-in


def _dvt(clinic_id: int) -> int:
    return sum(
        db.session.scalars(
            sa.select(OutcomeTally.count).where(
                OutcomeTally.clinic_id == clinic_id, OutcomeTally.key == "dvt"
            )
        )
    )


def _alice(in_app) -> tuple[int, int]:
    def read():
        p = db.session.scalar(
            sa.select(Patient).join(User).where(User.email == "alice@patients.example")
        )
        tid = db.session.scalar(
            sa.select(Treatment.id).where(
                Treatment.patient_id == p.id, Treatment.status == TreatmentStatus.DONE
            )
        )
        return p.clinic_id, tid

    return in_app(read)


def test_a_clot_sign_alerted_from_a_refused_form_counts_as_suspected_dvt(
    app, client, world, in_app
):
    """Review rvoutc: a "yes" to calf pain on a form refused for a blank pain score
    alerts the clinic with no check-in stored; if the patient never sends a valid form,
    the session is still a suspected DVT on the outcomes page, as a recount finds it."""
    clinic_id, tid = _alice(in_app)
    before = in_app(_dvt, clinic_id)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    assert r.status_code == 400
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(CheckIn.id)))) == 0
    assert in_app(_dvt, clinic_id) == before + 1
    shown = in_app(_shown, clinic_id)
    assert shown == in_app(_plain, clinic_id)
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted
    # A fixed form sent later with the sign now "no" does not take it away: the clinic
    # was told of a possible clot that day, and the alert keeps its reason.
    assert client.post("/patient/checkin", data=form()).status_code in (200, 303)
    assert in_app(_dvt, clinic_id) == before + 1
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted


def test_a_blister_alerted_from_a_refused_form_counts_as_skin_breakdown(app, client, world, in_app):
    """The same for the other complication that alerts: a blister ticked on a form
    refused for a blank pain score, and no valid form after it."""
    clinic_id, _tid = _alice(in_app)
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(skin="blister", pain=""))
    assert r.status_code == 400
    shown = in_app(_shown, clinic_id)
    assert shown == in_app(_plain, clinic_id)
    assert sum(g["complications"]["skin_breakdown"] for g in shown.values()) == 2  # 2 groupings
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted


def test_backfill_counts_a_session_whose_only_record_is_an_alert(app, client, world, in_app):
    clinic_id, _tid = _alice(in_app)
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"chest-breathing"}, bruising=""))
    kept = in_app(_dvt, clinic_id)

    def again():
        db.session.commit()
        with db.engine.begin() as conn:
            facts.backfill(conn)

    in_app(again)
    assert in_app(_dvt, clinic_id) == kept >= 1


# ------------------------------------------------------------------ several writers at once


def test_two_clinicians_score_and_the_patient_rates_at_once(app, world, in_app):
    """Review rvoutc: two clinicians of the clinic score the same session while the
    patient rates it (PostgreSQL with TEST_DATABASE_URL: real row locks). No 500; one
    score row, each saved score audited; the totals equal a recount."""
    from tests.web.test_outcomes import DANA
    from tests.web.test_outcomes import _photo
    from tests.web.test_outcomes import _session_of

    def build():
        clinic = db.session.get(Clinic, world.clinic1)
        make_staff(clinic, "doc3@north.example")
        p = _counted(make_patient(clinic, DANA, day=50, name="Dana Marker-D"))
        tid = _session_of(p.id)
        t = db.session.get(Treatment, tid)
        _photo(p, tid, t.treated_at - timedelta(days=2), "before")
        _photo(p, tid, t.treated_at + timedelta(days=35), "after")
        return tid

    tid = in_app(build)
    docs = [_client(app, "doc1@north.example"), _client(app, "doc3@north.example")]
    patient = _client(app, DANA)
    barrier = threading.Barrier(3)
    statuses: list[int] = []
    scored: list[bool] = []
    failures: list[BaseException] = []

    def score(client, value: str) -> None:
        try:
            barrier.wait(10)
            data = {"site": "left-calf-inner", "score": value}
            r = client.post(f"/clinic/sessions/{tid}/clearance", data=data)
            statuses.append(r.status_code)
            scored.append(r.status_code == 303)
        except BaseException as exc:
            failures.append(exc)

    def rate() -> None:
        try:
            barrier.wait(10)
            statuses.append(_rate(patient, tid, "60", "4", ()).status_code)
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=score, args=(docs[0], "1"), daemon=True),
        threading.Thread(target=score, args=(docs[1], "3"), daemon=True),
        threading.Thread(target=rate, daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads) and not failures, failures
    assert sorted(statuses) in ([303, 303, 303], [303, 303, 400]), statuses

    def read():
        scores = list(
            db.session.scalars(sa.select(ClearanceScore).where(ClearanceScore.treatment_id == tid))
        )
        audited = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "score")
        )
        return len(scores), audited

    rows, audited = in_app(read)
    assert rows == 1 and audited == sum(scored) >= 1
    assert in_app(_shown, world.clinic1) == in_app(_plain, world.clinic1)
    kept, recounted = in_app(_recounted_totals)
    assert kept == recounted
