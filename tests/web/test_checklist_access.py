"""Security checklist cases A1, A5 and B2-B10 that no earlier test checked in full.

Each test names its case id. They go through the test client as an attacker would and
assert on the stored rows and on the response body, not only on the status code (the
OpenEyes lesson of checklist B2): a 404 page must not carry another patient's data.
"""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from app.models import CheckIn
from app.models import Clinic
from app.models import Photo
from app.models import PushSubscription
from app.models import User
from config import Config
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_auth import _invite
from tests.web.test_checkin import form

ALICE, BOB, CARA = "alice@patients.example", "bob@patients.example", "cara@patients.example"
DOC1 = "doc1@north.example"
ALICE_NOTE = "Alice-private-note-7731"


def _second_day3_patient(in_app, world, email="dan@patients.example", name=None) -> int:
    """Another patient of clinic 1 on day 3, so the same check-in form applies."""

    def make():
        clinic = db.session.get(Clinic, world.clinic1)
        return make_patient(clinic, email, day=3, name=name).id

    return in_app(make)


def _checkins(in_app) -> list[tuple[int, str]]:
    return in_app(
        lambda: [
            (c.patient_id, c.note)
            for c in db.session.scalars(sa.select(CheckIn).order_by(CheckIn.id))
        ]
    )


# ------------------------------------------------------------------ A: accounts


def test_a1_a_password_set_by_invitation_is_stored_as_argon2id_at_owasp_cost(
    app, client, world, in_app
):
    """A1: set a password through the real page, then read the user row. The hash is
    argon2id with m >= 19456 KiB and t >= 2 (the production setting), and the
    plaintext is in no column of the users table."""
    app.config["SCLERO_ARGON2"] = dict(Config.SCLERO_ARGON2)  # production's cost
    password = "plain-text-sentinel 4471"
    token = _invite(app, BOB)
    r = client.post(f"/invite/{token}", data={"password": password, "confirm": password})
    assert r.status_code in (302, 303)
    row = in_app(
        lambda: db.session.execute(sa.select(User.__table__).where(User.email == BOB)).one()
    )
    stored = row.password_hash
    assert stored.startswith("$argon2id$")
    m, t = re.search(r"\$m=(\d+),t=(\d+),p=\d+\$", stored).groups()
    assert int(m) >= 19456 and int(t) >= 2
    assert not any(password in str(value) for value in row)
    assert password not in r.get_data(as_text=True)


def _session_token(app, cookie_value: str) -> str | None:
    data = app.session_interface.get_signing_serializer(app).loads(cookie_value)
    return data.get("_user_id")


def test_a5_signing_in_opens_a_new_random_session_every_time(app, world, in_app):
    """A5: the session cookie before and after sign-in differ; the signed-in session is
    a fresh random token (at least 64 bits: here 256) whose SHA-256 alone is stored;
    signing in again gives a different token, so a planted cookie is never adopted."""
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("session")
    before_token = _session_token(app, before.value) if before else None
    assert before_token is None  # nothing to fix before sign-in
    tokens = []
    for _ in range(2):
        assert login(client, ALICE).status_code == 302
        after = client.get_cookie("session")
        assert before is None or after.value != before.value
        token = _session_token(app, after.value)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)  # token_urlsafe(32): 256 bits
        tokens.append(token)
    assert tokens[0] != tokens[1]
    stored = set(in_app(lambda: list(db.session.scalars(sa.select(AuthSession.token_hash)))))
    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} <= stored
    assert not stored & set(tokens)


# ------------------------------------------------------------------ B: access control


def test_b2_a_patient_of_the_same_clinic_reaches_no_object_of_alice(app, world, in_app):
    """B2: Bob (Alice's clinic) asks for Alice's photo, thumbnail and device by id and by
    the ids next to them: every answer is 404 with none of Alice's markers or photo
    bytes, and nothing of hers is deleted."""
    alice = app.test_client()
    login(alice, ALICE)
    assert upload(alice, phone_jpeg((200, 150)), note=ALICE_NOTE).status_code == 303
    pid = in_app(lambda: db.session.scalar(sa.select(Photo.id)))

    def device():
        sub = PushSubscription(
            endpoint="https://fcm.googleapis.com/fcm/send/alice-device",
            p256dh="k",
            auth="a",
            patient_id=world.patient_a,
            device="Alice phone",
        )
        db.session.add(sub)
        db.session.commit()
        return sub.id

    sub_id = in_app(device)
    bob = app.test_client()
    login(bob, BOB)
    attempts = [
        ("GET", f"/patient/photos/{i}{suffix}")
        for i in (pid, pid + 1, pid - 1)
        for suffix in ("", "/image", "/thumb")
    ]
    attempts += [
        ("POST", f"/patient/photos/{pid}/delete"),
        ("POST", f"/patient/reminders/devices/{sub_id}/delete"),
        ("GET", f"/patient/photos/compare?site=left-calf-inner&a={pid}&b={pid}"),
    ]
    for method, url in attempts:
        r = bob.open(url, method=method, data={"confirm": "yes"})
        body = r.get_data()
        if "compare" in url:
            assert r.status_code in (200, 404)
            assert f"/{pid}/".encode() not in body
        else:
            assert r.status_code == 404, (method, url, r.status_code)
        for marker in (b"Alice", ALICE_NOTE.encode(), b"alice@", b"\xff\xd8\xff"):
            assert marker not in body, (url, marker)
    assert in_app(lambda: db.session.get(Photo, pid)) is not None
    assert in_app(lambda: db.session.get(PushSubscription, sub_id)) is not None


def test_b3_a_check_in_replayed_with_another_patients_key_never_touches_theirs(app, world, in_app):
    """B2/B3: Dan sends a check-in under the client key Alice's phone used. Alice's
    check-in is neither changed nor shown to Dan, and Dan gets no part of it."""
    _second_day3_patient(in_app, world)
    alice = app.test_client()
    login(alice, ALICE)
    key = "shared-key-0001"
    assert (
        alice.post("/patient/checkin", data=form(note=ALICE_NOTE, client_key=key)).status_code
        == 200
    )
    dan = app.test_client()
    login(dan, "dan@patients.example")
    r = dan.post("/patient/checkin", data=form(note="dan's own note", client_key=key))
    assert r.status_code < 500
    assert ALICE_NOTE not in r.get_data(as_text=True)
    rows = _checkins(in_app)
    assert (world.patient_a, ALICE_NOTE) in rows
    assert all(note != ALICE_NOTE or pid == world.patient_a for pid, note in rows)
    assert ALICE_NOTE not in dan.get("/patient/diary").get_data(as_text=True)


def test_b3_owner_and_clinic_fields_posted_by_hand_are_ignored(app, world, in_app):
    """B3: a check-in and a photo posted with ``patient_id``/``clinic_id`` of someone
    else are stored as the signed-in patient's own (no mass assignment)."""
    dan = _second_day3_patient(in_app, world)
    alice = app.test_client()
    login(alice, ALICE)
    extra = {"patient_id": str(dan), "clinic_id": str(world.clinic2), "user_id": "1"}
    assert alice.post("/patient/checkin", data=form(note="mine", **extra)).status_code == 200
    assert upload(alice, phone_jpeg((200, 150)), **extra).status_code == 303
    assert _checkins(in_app) == [(world.patient_a, "mine")]
    owners = in_app(lambda: list(db.session.scalars(sa.select(Photo.patient_id))))
    assert owners == [world.patient_a]


def test_b4_b5_list_filters_and_searches_cannot_widen_the_scope(app, world, in_app):
    """B4/B5: a patient's lists ignore ``?patient_id=``; a clinician's list ignores
    ``?clinic_id=2`` and a search for clinic 2's patient by name or email finds
    nothing; the clinic-2 patient's page is 404 with no marker in the body."""
    cara = app.test_client()
    login(cara, CARA)
    assert upload(cara, phone_jpeg((200, 150)), note="Cara-photo-note").status_code == 303
    cara_photo = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    alice = app.test_client()
    login(alice, ALICE)
    for url in ("/patient/photos", "/patient/diary", "/patient/today", "/patient/plan"):
        for query in (f"?patient_id={world.patient_c}", f"?clinic_id={world.clinic2}"):
            body = alice.get(url + query).get_data(as_text=True)
            assert f"/{cara_photo}/" not in body and "Cara" not in body, url + query

    doc = app.test_client()
    login(doc, DOC1)
    for query in (
        "q=Cara",
        "q=cara@patients.example",
        "q=Marker-C",
        f"clinic_id={world.clinic2}",
        f"clinic_id={world.clinic2}&q=Cara&status=all",
    ):
        r = doc.get(f"/clinic/patients?{query}")
        assert r.status_code == 200
        body = r.get_data(as_text=True)  # the search box echoes the query itself
        assert "Cara Marker-C" not in body and f"/patients/{world.patient_c}" not in body, query
    r = doc.get(f"/clinic/patients/{world.patient_c}")
    assert r.status_code == 404 and b"Cara" not in r.data


def test_b6_two_patients_with_the_same_name_each_see_only_their_own(app, world, in_app):
    """B6: a second "Alice Marker-A" in the same clinic. Each sees only their own check-in;
    the clinician's search finds two rows linking to two different ids."""
    twin = _second_day3_patient(in_app, world, "alice.twin@patients.example", "Alice Marker-A")
    first, second = app.test_client(), app.test_client()
    login(first, ALICE)
    login(second, "alice.twin@patients.example")
    assert first.post("/patient/checkin", data=form(note="first-alice-note")).status_code == 200
    assert second.post("/patient/checkin", data=form(note="twin-alice-note")).status_code == 200
    for client, mine, theirs in ((first, "first", "twin"), (second, "twin", "first")):
        diary = client.get("/patient/diary").get_data(as_text=True)
        checkin = client.get("/patient/checkin").get_data(as_text=True)
        assert f"{mine}-alice-note" in diary + checkin
        assert f"{theirs}-alice-note" not in diary + checkin
    assert sorted(_checkins(in_app)) == sorted(
        [(world.patient_a, "first-alice-note"), (twin, "twin-alice-note")]
    )
    doc = app.test_client()
    login(doc, DOC1)
    listing = doc.get("/clinic/patients?q=Alice+Marker-A").get_data(as_text=True)
    assert f"/clinic/patients/{world.patient_a}" in listing
    assert f"/clinic/patients/{twin}" in listing


def test_b8_a_failing_authorization_check_gives_a_generic_page_and_no_data(
    app, world, in_app, monkeypatch
):
    """B8: the ownership checks raise. The clinician's record page and the patient's
    photo answer with the generic error page: no name, note or image bytes."""
    from app.services.photos import album
    from app.services.review import patient_record

    alice = app.test_client()
    login(alice, ALICE)
    assert upload(alice, phone_jpeg((200, 150)), note=ALICE_NOTE).status_code == 303
    pid = in_app(lambda: db.session.scalar(sa.select(Photo.id)))

    def broken(*args, **kwargs):
        raise RuntimeError("authorization helper exploded")

    monkeypatch.setattr(patient_record, "own_patient", broken)
    monkeypatch.setattr(album, "_own", broken)
    doc = app.test_client()
    login(doc, DOC1)
    for client, url in (
        (doc, f"/clinic/patients/{world.patient_a}"),
        (alice, f"/patient/photos/{pid}"),
        (alice, f"/patient/photos/{pid}/image"),
    ):
        r = client.get(url)
        assert r.status_code in (403, 404, 500), url
        body = r.get_data()
        for leak in (b"Marker-A", ALICE_NOTE.encode(), b"\xff\xd8\xff", b"exploded", b"Traceback"):
            assert leak not in body, (url, leak)
        assert "something went wrong" in text_of(r).lower() or r.status_code != 500


@pytest.mark.parametrize(
    "path",
    [
        "/static/uploads/x.jpg",
        "/photos/../../app.db",
        "/patient/photos/..%2f..%2fapp.db",
        "/patient/photos/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/patient/photos/..%5c..%5capp.db",
        "/static/..%2f..%2fconfig.py",
        "/static/%2e%2e/%2e%2e/config.py",
        "/patient/photos//etc/passwd",
        "/clinic/photos/%2fetc%2fpasswd/image",
        "/patient/photos/1%00.jpg/image",
    ],
)
def test_b9_path_tricks_never_reach_a_file(app, world, path):
    """B9: traversal, encoded separators, absolute paths and a NUL byte get 404 (or 400
    for the NUL), never a file: no config source, no database, no passwd."""
    client = app.test_client()
    login(client, ALICE)
    r = client.get(path)
    assert r.status_code in (400, 404), (path, r.status_code)
    body = r.get_data()
    for leak in (b"root:x:0:0", b"SQLite format", b"SECRET_KEY", b"class Config"):
        assert leak not in body


def test_b10_a_patient_cannot_turn_off_another_patients_device(app, world, in_app):
    """B10: Bob tries to remove Alice's device by id and by its endpoint; both leave it
    in place (an endpoint is only ever removed for its owner)."""
    endpoint = "https://fcm.googleapis.com/fcm/send/alice-only"

    def device():
        sub = PushSubscription(
            endpoint=endpoint, p256dh="k", auth="a", patient_id=world.patient_a, device="x"
        )
        db.session.add(sub)
        db.session.commit()
        return sub.id

    sub_id = in_app(device)
    bob = app.test_client()
    login(bob, BOB)
    assert bob.post(f"/patient/reminders/devices/{sub_id}/delete").status_code == 404
    bob.post("/patient/reminders/unsubscribe", json={"endpoint": endpoint})
    owner = in_app(lambda: db.session.get(PushSubscription, sub_id).patient_id)
    assert owner == world.patient_a
