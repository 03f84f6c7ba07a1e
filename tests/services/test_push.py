"""Web push end to end on the server: outbox planning, dispatch, the push service's answers.

Uses the local push service (tests/push_double.py), which verifies VAPID and decrypts
every payload, so assertions are on what a phone would really receive.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PushSubscription
from app.models import Treatment
from app.services.notify import dispatch
from app.services.notify import enqueue
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import make_staff
from tests.conftest import text_of

HEALTH_WORDS = (
    "stocking",
    "bruis",
    "vein",
    "calf",
    " leg",
    "pain",
    "treat",
    "sclerosant",
    "foam",
    "alice",
    "marker",
)


def _treated_patient(in_app, email="alice@patients.example", day=0, **kwargs):
    def build():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")) or make_clinic(
            "north"
        )
        patient = make_patient(clinic, email, day=day, name="Alice Marker", **kwargs)
        treatment = db.session.scalar(
            sa.select(Treatment).where(Treatment.patient_id == patient.id)
        )
        enqueue.enqueue_reminders(
            treatment, datetime(2026, 11, 20, 12, 0, tzinfo=UTC) - timedelta(days=day)
        )
        db.session.commit()
        return patient.id

    return in_app(build)


def _only(in_app, key: str) -> None:
    """Cancel every planned row but ``key``, so a one-row batch claims that one (the
    others would be claimed first and dropped as past their time)."""

    def run():
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.key != key)
            .values(state=OutboxState.CANCELLED)
        )
        db.session.commit()

    in_app(run)


def _subscribe(client, email, fake):
    login(client, email)
    r = client.post("/patient/reminders/subscribe", json={"subscription": fake.info()})
    assert r.status_code == 200, r.get_json()


def _rows(in_app, **filters):
    def q():
        query = sa.select(OutboxMessage)
        for k, v in filters.items():
            query = query.where(getattr(OutboxMessage, k) == v)
        return [
            (r.key, r.state, r.due_at)
            for r in db.session.scalars(query.order_by(OutboxMessage.due_at))
        ]

    return in_app(q)


def test_milestone_reaches_the_phone_decrypted_with_no_health_details(
    app, client, in_app, push_service, sender
):
    _treated_patient(in_app)
    fake = push_service.new_subscription()
    _subscribe(client, "alice@patients.example", fake)
    # 72 h after a 10:00 treatment on Fri 20 Nov: Mon 23 Nov 10:00 London.
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    report = in_app(dispatch.run_until_empty, sender, at)
    assert report.sent >= 1 and report.failed == 0
    messages = [json.loads(p) for p in push_service.delivered()]
    assert messages, "nothing was delivered"
    for m in messages:
        text = json.dumps(m).lower()
        assert not any(word in text for word in HEALTH_WORDS), m
        assert m["title"] == "ScleroCare" and m["data"]["url"].startswith("/patient/")
    milestone = [m for m in messages if m["body"] == "There is an update to your aftercare today."]
    assert milestone and milestone[0]["data"]["url"] == "/patient/today"
    received = next(iter(push_service.subs.values())).received
    assert all(r["ttl"] and r["topic"].startswith("sc") and len(r["topic"]) <= 32 for r in received)
    # Sending again sends nothing: each row goes once.
    assert in_app(dispatch.run_until_empty, sender, at).claimed == 0


def test_quiet_hours_delay_a_reminder_until_they_end(app, in_app):
    # Treated Fri 22:30 London: the 72 h milestone, Mon 22:30, waits until Tue 08:00.
    from datetime import time

    _treated_patient(in_app, at=time(22, 30))
    rows = {k: due for k, _, due in _rows(in_app)}
    assert rows["milestone:stockings-night-off"] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_reschedule_moves_and_cancel_cancels_reminders_without_duplicates(
    app, client, in_app, world
):
    login(client, "doc1@north.example")
    tid = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    in_app(
        lambda: (
            enqueue.enqueue_reminders(
                db.session.get(Treatment, tid), datetime(2026, 11, 20, tzinfo=UTC)
            ),
            db.session.commit(),
        )
    )
    before = {k: due for k, _, due in _rows(in_app, treatment_id=tid)}
    client.post(f"/clinic/sessions/{tid}/reschedule", data={"date": "2026-11-30", "time": "10:00"})
    moved = _rows(in_app, treatment_id=tid)
    # Moving again to the same time changes nothing and adds nothing.
    client.post(f"/clinic/sessions/{tid}/reschedule", data={"date": "2026-11-30", "time": "10:00"})
    assert _rows(in_app, treatment_id=tid) == moved
    keys = [k for k, _, _ in moved]
    assert len(keys) == len(set(keys)) and set(before) <= set(keys)
    # Reminders that were due before the move are now 9 days later (no DST in between);
    # ones that had been too late to send before are planned now that they are ahead.
    assert all(due - before[k] == timedelta(days=9) for k, _, due in moved if k in before)
    client.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"})
    assert {state for _, state, _ in _rows(in_app, treatment_id=tid)} == {OutboxState.CANCELLED}


@pytest.mark.parametrize(
    ("respond", "row_state", "sub_kept"),
    [
        ((404, {}), OutboxState.NO_DEVICE, False),
        ((410, {}), OutboxState.NO_DEVICE, False),
        ((429, {"Retry-After": "120"}), OutboxState.PENDING, True),
        ((500, {}), OutboxState.PENDING, True),
        (("hang", {}), OutboxState.PENDING, True),
        ((413, {}), OutboxState.FAILED, True),
        ((400, {}), OutboxState.FAILED, True),
    ],
)
def test_each_push_service_answer(
    app, client, in_app, push_service, sender, respond, row_state, sub_kept
):
    _treated_patient(in_app)
    fake = push_service.new_subscription()
    fake.respond = respond
    push_service.hang_seconds = 2.0
    _subscribe(client, "alice@patients.example", fake)
    _only(in_app, "milestone:stockings-night-off")  # 72 h after: Mon 23 Nov 10:00 London
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    started = time.perf_counter()
    in_app(dispatch.dispatch_due, sender, at, batch=1)
    # The sender's 1 s timeout ends a hanging push service's 2 s wait.
    assert time.perf_counter() - started < push_service.hang_seconds
    row = in_app(
        lambda: db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.attempts == 1))
    )
    assert row.state == row_state
    kept = in_app(
        lambda: db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription))
    )
    assert kept == (1 if sub_kept else 0)
    if respond[0] == 429:
        assert row.available_at >= at + timedelta(seconds=120)
    if row_state == OutboxState.PENDING:
        # Not before its back-off: a pass a second later claims nothing of it.
        in_app(dispatch.dispatch_due, sender, at + timedelta(seconds=1), batch=50)
        again = in_app(lambda: db.session.get(OutboxMessage, row.id))
        assert again.state == OutboxState.PENDING and again.attempts == 1


def test_a_gone_device_is_removed_but_another_device_still_gets_it(
    app, in_app, push_service, sender, client
):
    _treated_patient(in_app)
    gone, good = push_service.new_subscription(), push_service.new_subscription()
    gone.respond = (410, {})
    _subscribe(client, "alice@patients.example", gone)
    client.post("/patient/reminders/subscribe", json={"subscription": good.info()})
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    report = in_app(dispatch.run_until_empty, sender, at)
    # Sent: every row still worth sending (the others are past their time).
    assert report.sent >= 1 and report.sent == report.claimed - report.dropped
    assert report.gone_subscriptions == 1
    endpoints = in_app(lambda: list(db.session.scalars(sa.select(PushSubscription.endpoint))))
    assert endpoints == [good.endpoint]
    assert len(good.received) == report.sent


def test_repeated_failures_give_up_visibly(app, in_app, push_service, sender, client):
    _treated_patient(in_app)
    fake = push_service.new_subscription()
    fake.respond = (503, {})
    _subscribe(client, "alice@patients.example", fake)
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    for _ in range(dispatch.MAX_ATTEMPTS + 1):
        in_app(dispatch.run_until_empty, sender, at)
        at += timedelta(minutes=20)  # past each back-off, and still on the same day
    failed = in_app(
        lambda: db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.state == OutboxState.FAILED)
        ).all()
    )
    assert failed, "rows should fail after the last attempt"
    assert all(
        r.attempts == dispatch.MAX_ATTEMPTS and r.last_error.startswith("gave up") for r in failed
    )


def test_one_vapid_signature_per_push_service(app, in_app, push_service, sender, client):
    _treated_patient(in_app)
    for _ in range(3):
        fake = push_service.new_subscription()
        _subscribe(client, "alice@patients.example", fake)
    in_app(dispatch.run_until_empty, sender, datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC))
    assert len(push_service.delivered()) > 3
    assert sender.signatures == 1


def test_a_redirect_is_not_followed(app, in_app, push_service, sender, client):
    """A push service's 3xx is an answer, not a route: following it could post to a host
    the allowlist never saw (security checklist B10)."""
    _treated_patient(in_app)
    fake, elsewhere = push_service.new_subscription(), push_service.new_subscription()
    fake.respond = (307, {"Location": elsewhere.endpoint})
    _subscribe(client, "alice@patients.example", fake)
    report = in_app(dispatch.dispatch_due, sender, datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC))
    tried = report.claimed - report.dropped
    assert tried >= 1 and report.statuses == {"307": tried}
    assert report.failed == tried and not elsewhere.received
    assert [r["path"] for r in push_service.requests] == ["/push/" + fake.sub_id] * tried


def test_each_outcome_is_committed_alone_in_one_statement_whatever_the_devices(
    app, in_app, push_service, sender
):
    """Claim, then the batch's lookups, then per sent row one UPDATE of the row in
    autocommit, as soon as its sends return (issue 15 point 1: a crash repeats at most
    the rows in flight), none per device; the devices' bookkeeping is one UPDATE at the
    end of the batch."""
    client = app.test_client()
    _treated_patient(in_app)
    for _ in range(2):
        _subscribe(client, "alice@patients.example", push_service.new_subscription())
    at = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "synchronous_commit" not in statement:  # PostgreSQL only
            statements.append(statement.split(None, 1)[0].upper())

    def commit(conn):
        statements.append("COMMIT")

    def run():
        sa.event.listen(db.engine, "before_cursor_execute", record)
        sa.event.listen(db.engine, "commit", commit)
        try:
            return dispatch.dispatch_due(sender, at, batch=50)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
            sa.event.remove(db.engine, "commit", commit)

    report = in_app(run)
    assert report.sent >= 2 and report.deliveries == 2 * report.sent
    assert report.sent + report.dropped == report.claimed
    # Before: the claim (committed at once), the devices, the zones, the other due rows,
    # the dropped rows, and the commit that ends the read before the network.
    before = statements.index("COMMIT", 2) + 1
    assert statements[:before] == [
        "UPDATE",
        "COMMIT",
        "SELECT",
        "SELECT",
        "SELECT",
        *["UPDATE"] * (statements[:before].count("UPDATE") - 1),
        "COMMIT",
    ], statements
    assert statements[before:] == ["UPDATE"] * report.sent + ["UPDATE"], statements
    assert len(_rows(in_app, state=OutboxState.SENT)) == report.sent
    seen = in_app(lambda: db.session.scalars(sa.select(PushSubscription.last_success_at)).all())
    assert all(s is not None and s >= at for s in seen) and len(seen) == 2


def test_proxy_variables_are_honoured_once_per_push_service(monkeypatch, sender):
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "push.direct.example")
    proxied = sender._route(urlsplit("https://fcm.googleapis.com/fcm/send/abc"))
    direct = sender._route(urlsplit("https://push.direct.example/x"))
    assert proxied.absolute and proxied.opener.proxy.host == "proxy.internal"
    assert not direct.absolute and direct.opener.host == "push.direct.example"
    # Made once per origin: a second message to the same service reuses the pool.
    assert sender._route(urlsplit("https://push.direct.example/y")) is direct


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://evil.example/push/1",
        "file:///etc/passwd",
        "https://fcm.googleapis.com.evil.example/x",
        "https://user@fcm.googleapis.com/x",
        # A known push service's name on another port (adversarial review, 2026-12-07).
        "https://fcm.googleapis.com:6379/x",
        "https://fcm.googleapis.com:99999/x",
        "https://fcm.googleapis.com:abc/x",
    ],
)
def test_subscriptions_to_unknown_hosts_are_refused(app, client, in_app, push_service, endpoint):
    _treated_patient(in_app)
    fake = push_service.new_subscription().info()
    fake["endpoint"] = endpoint
    login(client, "alice@patients.example")
    r = client.post("/patient/reminders/subscribe", json={"subscription": fake})
    assert r.status_code == 400 and "not supported" in r.get_json()["error"]


def test_the_standard_port_written_out_is_accepted(app, client, in_app, push_service):
    _treated_patient(in_app)
    fake = push_service.new_subscription().info()
    fake["endpoint"] = "https://fcm.googleapis.com:443/fcm/send/abc"
    login(client, "alice@patients.example")
    r = client.post("/patient/reminders/subscribe", json={"subscription": fake})
    assert r.status_code == 200, r.get_json()


def test_bad_keys_and_garbage_are_refused_with_a_message(app, client, in_app, push_service):
    _treated_patient(in_app)
    login(client, "alice@patients.example")
    fake = push_service.new_subscription().info()
    fake["keys"]["p256dh"] = "AAAA"
    assert (
        client.post("/patient/reminders/subscribe", json={"subscription": fake}).status_code == 400
    )
    assert client.post("/patient/reminders/subscribe", data="not json").status_code == 400
    assert (
        client.post("/patient/reminders/subscribe", json={"subscription": "x"}).status_code == 400
    )


def test_logout_removes_the_devices_subscribed_in_that_session(app, client, in_app, push_service):
    _treated_patient(in_app)
    _subscribe(client, "alice@patients.example", push_service.new_subscription())
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)))
        == 1
    )
    client.post("/logout")
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)))
        == 0
    )


def test_clinician_sees_reminder_delivery_state(app, client, in_app, push_service, sender):
    pid = _treated_patient(in_app)
    in_app(
        lambda: make_staff(
            db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")), "doc@north.example"
        )
    )
    login(client, "doc@north.example")
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert (
        "has not turned on reminders on any device" in page and "Last delivered: none yet" in page
    )
    patient = app.test_client()
    _subscribe(patient, "alice@patients.example", push_service.new_subscription())
    in_app(dispatch.run_until_empty, sender, datetime(2026, 11, 21, 9, 0, 30, tzinfo=UTC))
    page = text_of(client.get(f"/clinic/patients/{pid}"))
    assert (
        "On for 1 device" in page
        and "Last delivered: Sat 21 Nov 2026" in page
        and "Next planned:" in page
    )


def test_a_same_day_answer_pushes_a_generic_alert_to_the_clinicians_phone(
    app, client, in_app, push_service, sender
):
    _treated_patient(in_app, day=5)
    in_app(
        lambda: make_staff(
            db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")), "doc@north.example"
        )
    )
    doc = app.test_client()
    login(doc, "doc@north.example")
    phone = push_service.new_subscription()
    assert (
        doc.post("/clinic/reminders/subscribe", json={"subscription": phone.info()}).status_code
        == 200
    )
    login(client, "alice@patients.example")
    form = client.get("/patient/checkin").get_data(as_text=True)
    flags = set(re.findall(r'name="(rf-[a-z-]+)"', form))
    data = {f: "no" for f in flags} | {"rf-calf-pain-swelling": "yes"}
    data |= {"pain": "3", "bruising": "mild", "skin": "none", "walked": "yes", "elevated": "yes"}
    assert "Please call the clinic today" in text_of(client.post("/patient/checkin", data=data))
    in_app(dispatch.run_until_empty, sender, datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC))
    got = [json.loads(m["plaintext"]) for m in phone.received]
    assert [m["body"] for m in got] == ["A patient needs attention. Open the clinic dashboard."]
    assert got[0]["data"]["url"] == "/clinic/"
    assert phone.received[0]["urgency"] == "high"
    # The badge on the clinician's Dashboard tab counts the open alert.
    assert 'aria-label="1 open alert"' in doc.get("/clinic/").get_data(as_text=True)


def test_reconfirming_on_app_open_never_turns_a_device_back_on(
    app, client, in_app, push_service, clock
):
    """The app re-confirms its subscription each time it opens. That refreshes a device
    that is on, but a device turned off (here from another phone's list) or another
    person's device stays as it is: 404 {"off": true}, and nothing is stored."""
    pid = _treated_patient(in_app)
    _treated_patient(in_app, email="bob@patients.example")
    phone, other_phone = push_service.new_subscription(), push_service.new_subscription()
    _subscribe(client, "alice@patients.example", phone)
    stored = in_app(lambda: db.session.scalar(sa.select(PushSubscription)))
    clock.advance(hours=30)
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    again = {"subscription": phone.info(), "reconfirm": True}
    assert client.post("/patient/reminders/subscribe", json=again).status_code == 200
    refreshed = in_app(lambda: db.session.scalar(sa.select(PushSubscription)))
    assert refreshed.id == stored.id and refreshed.confirmed_at == clock.now

    # Turned off from the list (as from another phone): re-confirming does not undo it.
    page = client.get("/patient/reminders").get_data(as_text=True)
    delete = re.search(r'action="(/patient/reminders/devices/\d+/delete)"', page).group(1)
    assert client.post(delete).status_code == 303
    r = client.post("/patient/reminders/subscribe", json=again)
    assert r.status_code == 404 and r.get_json()["off"] is True
    count = sa.select(sa.func.count()).select_from(PushSubscription)
    assert in_app(lambda: db.session.scalar(count)) == 0

    # A device never turned on is not turned on by a re-confirmation either.
    unknown = {"subscription": other_phone.info(), "reconfirm": True}
    assert client.post("/patient/reminders/subscribe", json=unknown).status_code == 404
    assert in_app(lambda: db.session.scalar(count)) == 0

    # Another person's device on a shared phone stays theirs.
    _subscribe(client, "alice@patients.example", phone)
    bob = app.test_client()
    login(bob, "bob@patients.example")
    assert bob.post("/patient/reminders/subscribe", json=again).status_code == 404
    owner = in_app(lambda: db.session.scalar(sa.select(PushSubscription.patient_id)))
    assert owner == pid
    # The explicit "Turn on" tap still moves it, as before.
    turn_on = {"subscription": phone.info()}
    assert bob.post("/patient/reminders/subscribe", json=turn_on).status_code == 200
    assert in_app(lambda: db.session.scalar(sa.select(PushSubscription.patient_id))) != pid
    # Garbage is refused with a message, not a crash.
    assert client.post("/patient/reminders/subscribe", json=["x"]).status_code == 400


def test_quiet_hours_saved_show_on_the_reminders_page(app, client, in_app):
    _treated_patient(in_app)
    login(client, "alice@patients.example")
    page = client.get("/patient/reminders").get_data(as_text=True)
    assert 'value="21:00"' in page and 'value="08:00"' in page  # the defaults
    r = client.post("/patient/reminders/quiet-hours", data={"start": "22:30", "end": "07:15"})
    assert r.status_code == 303
    page = client.get("/patient/reminders").get_data(as_text=True)
    assert 'value="22:30"' in page and 'value="07:15"' in page
    assert "Quiet hours saved." in page


def test_staff_phones_are_reconfirmed_the_same_way(app, client, in_app, push_service):
    """The clinician's "Alerts on my phone" page re-confirms too: the clinician's own
    device is refreshed; a patient's app on a phone that holds it cannot take it over."""
    _treated_patient(in_app)
    in_app(
        lambda: make_staff(
            db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north")), "doc@north.example"
        )
    )
    doc = app.test_client()
    login(doc, "doc@north.example")
    phone = push_service.new_subscription()
    on = {"subscription": phone.info()}
    again = on | {"reconfirm": True}
    assert doc.post("/clinic/reminders/subscribe", json=on).status_code == 200
    assert doc.post("/clinic/reminders/subscribe", json=again).status_code == 200
    login(client, "alice@patients.example")
    assert client.post("/patient/reminders/subscribe", json=again).status_code == 404
    owner = sa.select(PushSubscription.user_id, PushSubscription.patient_id)
    user_id, patient_id = in_app(lambda: db.session.execute(owner).one())
    assert user_id is not None and patient_id is None
    other = {"subscription": push_service.new_subscription().info(), "reconfirm": True}
    assert doc.post("/clinic/reminders/subscribe", json=other).status_code == 404


def test_a_stored_endpoint_on_another_port_is_never_connected_to(app, push_service, sender):
    """Rows stored before subscriptions were held to port 443 are answered as gone
    (and so removed) without a connection being opened."""
    from app.adapters.push import SubscriptionInfo

    info = push_service.new_subscription().info()
    for endpoint in ("https://fcm.googleapis.com:6379/x", "https://fcm.googleapis.com:99999/x"):
        sub = SubscriptionInfo(endpoint, info["keys"]["p256dh"], info["keys"]["auth"])
        result = sender.send(sub, b"{}", ttl=60, urgency="normal", topic="sc-test")
        assert result.status == 410 and "port" in (result.error or "")
    assert push_service.delivered() == []
