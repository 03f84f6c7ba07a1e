"""bench/cluster.py judges honestly (issue 21 point 3): an acknowledged write that the
database does not hold is reported as lost, and an error the kill cannot explain is not
hidden under the "errors <= in flight" bound."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa

from app.extensions import db
from app.models import CheckIn
from app.models import CheckInKey
from app.models import Patient
from app.models import Treatment
from bench import cluster
from tests.conftest import NOW


def _day(patient_id: int, day: int, reviewed: bool) -> int:
    patient = db.session.get(Patient, patient_id)
    treatment = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    row = CheckIn(
        patient_id=patient_id,
        clinic_id=patient.clinic_id,
        treatment_id=treatment.id,
        day=day,
        on_date=(treatment.anchor + timedelta(days=day)).date(),
        answers={"pain": 1, "bruising": "mild"},
        pain=1,
        bruising="mild",
        level="none",
        reasons=[],
        created_at=NOW,
        updated_at=NOW,
        reviewed_at=NOW if reviewed else None,
    )
    db.session.add(row)
    db.session.flush()
    if day == 1:
        db.session.add(CheckInKey(client_key="kept-key", checkin_id=row.id))
    db.session.commit()
    return row.id


def test_an_acknowledged_write_missing_from_the_database_is_reported(world, in_app, database_url):
    unreviewed = in_app(_day, world.patient_a, 1, False)
    reviewed = in_app(_day, world.patient_a, 2, True)
    madrid = NOW.astimezone(timezone(timedelta(hours=1))).isoformat()
    acks = [
        cluster.Ack("checkin", "alice@patients.example", ("kept-key",)),  # held
        cluster.Ack("checkin", "alice@patients.example", ("never-stored",)),  # faked ack
        cluster.Ack("photo", "alice@patients.example", ("no-such-photo",)),
        cluster.Ack("tick", "alice@patients.example", ("stockings", 3)),
        # The clinician saw the day at NOW and was told "reviewed", but it is not.
        cluster.Ack("review", "doc1@north.example", (unreviewed, NOW.isoformat())),
        # The same instant written with another offset (a server TimeZone not UTC).
        cluster.Ack("review", "doc1@north.example", (unreviewed, madrid)),
        cluster.Ack("review", "doc1@north.example", (reviewed, NOW.isoformat())),  # held
        # Changed by the patient after the page was drawn: rightly not reviewed.
        cluster.Ack("review", "doc1@north.example", (unreviewed, "2026-11-19T08:00:00+00:00")),
    ]
    lost = cluster.lost_writes(database_url, acks)
    assert lost == {"check-in": 1, "photo": 1, "tick": 1, "review": 2}


def test_errors_the_kill_cannot_explain_are_not_hidden_under_the_bound():
    run = cluster.Result("cluster", killed_at=100.0, back_at=110.0)
    run.failures = [
        (99.0, 100.2, 502),  # in flight on web1 at the kill: explained
        (105.0, 105.1, 504),  # explained
        (101.0, 101.5, 500),  # an app bug, whatever the timing
        (50.0, 50.1, 502),  # long before the kill
        (120.0, 120.3, 502),  # after web1 was back
        (103.0, 103.0, 0),  # HAProxy itself refused or reset: never the kill
    ]
    assert cluster.kill_errors(run) == (2, 4)
    # Nothing killed (the single run): every error is unexplained.
    assert cluster.kill_errors(cluster.Result("single", failures=[(1.0, 1.1, 502)])) == (0, 1)


def test_only_requests_the_killed_server_dropped_count_as_in_flight():
    """The in-flight bound comes from HAProxy's log: a 502/504 whose termination state
    starts with S (the server dropped a request it had been sent). A refused connection,
    a queue timeout or another server's answer is not a request web1 was working on."""
    dropped = (
        "127.0.0.1:1 [07/Dec/2026:13:41:30.460] sclerocare app/web1 0/0/0/-1/26 502 209 - - "
        'SH-- 2/2/1/1/0 0/0 "POST /patient/checkin HTTP/1.1"'
    )
    others = [
        dropped.replace(" SH-- ", " SC-- ").replace("app/web1 0/0/0/-1/26", "app/web1 0/0/-1/-1/3"),
        dropped.replace(" 502 ", " 503 ").replace(" SH-- ", " sQ-- "),
        dropped.replace(" 502 ", " 200 ").replace(" SH-- ", " ---- "),
    ]
    found = cluster.DROPPED.search(dropped)
    assert found and found.group(1) == "web1"
    assert cluster.DROPPED.search(dropped.replace(" SH-- ", " SD-- "))
    assert not any(cluster.DROPPED.search(line) for line in others)


def test_the_p95_ratio_is_judged_only_at_the_same_offered_load():
    """A client that could not keep to the timetable offered one run less load: its p95
    ratio is not a pass (nor a miss), it is "could not measure"."""
    single = cluster.Result("single", seconds=60.0, offered=2400, steps=[100.0] * 20)
    same = cluster.Result("cluster", seconds=60.0, offered=2300, steps=[120.0] * 20)
    thinner = cluster.Result("cluster", seconds=60.0, offered=1800, steps=[90.0] * 20)
    assert cluster.same_load(single, same) and not cluster.same_load(single, thinner)
    assert cluster.verdict(single, same, 1.2, Counter()) == 0
    assert cluster.verdict(single, same, 1.6, Counter()) == 1
    assert cluster.verdict(single, thinner, 0.9, Counter()) == 2
    # Lost writes are a miss whatever the load.
    assert cluster.verdict(single, thinner, 0.9, Counter({"checkin": 1})) == 1


def test_a_slow_answer_makes_the_next_step_late_not_the_load_thinner():
    """The timetable: the next step is due THINK after the last was due, not after its
    answer came, and the wait is in the step's time."""
    result = cluster.Result("single")
    user = cluster.Account("a@x", patient_id=1)
    load = cluster.Load(0, [user], b"", result)
    start = time.monotonic()
    load.queue = [(start, 0, user)]
    load.step = lambda who: time.sleep(0.3)  # an answer slower than nothing
    load.run(0.5, 1)
    assert result.offered == 1 and result.steps[0] >= 300
    (due_next, _, _) = load.queue[0]
    assert cluster.THINK[0] <= due_next - start <= cluster.THINK[1]
