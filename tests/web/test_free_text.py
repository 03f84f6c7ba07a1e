"""Every free-text field of every form and JSON endpoint, with any text (issue 14
point 6): the request is never a 500, and what is stored is exactly the text as the
rules of app/textinput.py clean it (no NUL, no control character, line breaks as
``\\n`` in notes), on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

Each test keeps one app and one signed-in client across its examples, as a person
would send one text after another.
"""

from __future__ import annotations

import base64
import io
import itertools
from datetime import date

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import CheckInKey
from app.models import Comment
from app.models import Patient
from app.models import Photo
from app.models import PushSubscription
from app.models import Treatment
from app.models import User
from app.services import accounts
from app.textinput import clean_text
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.web.test_checkin import form

# Any character a form can carry (a lone surrogate cannot be encoded), with the
# troublesome ones drawn often: NUL, CR, LF, CRLF, tab, escape, DEL, C1 controls.
controls = st.sampled_from(["\x00", "\r\n", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\x9f"])
chars = st.characters(exclude_categories=["Cs"])
form_text = st.lists(st.one_of(chars, chars, controls), max_size=60).map("".join)
# JSON can carry lone surrogates too.
json_text = st.lists(st.one_of(st.characters(codec=None), controls), min_size=1, max_size=40).map(
    "".join
)

FIELDS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def multi(value: str) -> str:
    return clean_text(value, multiline=True).strip()


def single(value: str) -> str:
    return clean_text(value, multiline=False).strip()


def _no_controls(value: str) -> bool:
    return not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) <= 0x9F for c in value)


@pytest.fixture
def patient(client, world):
    assert login(client, "alice@patients.example").status_code == 302
    return client


@pytest.fixture
def doc(app, world):
    client = app.test_client()
    assert login(client, "doc1@north.example").status_code == 302
    return client


def _one(in_app, stmt):
    return in_app(lambda: db.session.scalar(stmt))


NUMBERS = itertools.count()


@FIELDS
@given(key=form_text)
def test_check_in_client_key(patient, in_app, key):
    key = f"{next(NUMBERS)}-{key}"  # a new key each time: no replay
    r = patient.post("/patient/checkin", data=form(yes={"infection"}, client_key=key))
    assert r.status_code == 200 and "Please call the clinic today" in r.get_data(as_text=True)
    keys = in_app(lambda: db.session.scalars(sa.select(CheckInKey.client_key)).all())
    assert single(key)[:64] in keys
    assert all(_no_controls(k) for k in keys)


@FIELDS
@given(note=form_text)
def test_check_in_note_is_stored_as_cleaned(patient, in_app, note):
    r = patient.post("/patient/checkin", data=form(note=note))
    assert r.status_code == 200
    assert _one(in_app, sa.select(CheckIn.note)) == multi(note)


@FIELDS
@given(note=form_text)
def test_acknowledgement_note(doc, world, in_app, note):
    def new_alert():
        checkin = db.session.scalar(sa.select(CheckIn.id))
        if checkin is None:
            treatment = db.session.scalar(
                sa.select(Treatment).where(Treatment.patient_id == world.patient_a)
            )
            row = CheckIn(
                patient_id=world.patient_a,
                clinic_id=world.clinic1,
                treatment_id=treatment.id,
                day=3,
                on_date=date(2026, 11, 20),
                answers={},
                pain=9,
                bruising="mild",
                level="same_day",
                reasons=["Pain 9 out of 10"],
            )
            db.session.add(row)
            db.session.flush()
            checkin = row.id
        alert = Alert(
            patient_id=world.patient_a,
            clinic_id=world.clinic1,
            checkin_id=checkin,
            level="same_day",
            severity=1,
        )
        db.session.add(alert)
        db.session.commit()
        return alert.id

    alert_id = in_app(new_alert)
    r = doc.post(
        f"/clinic/alerts/{alert_id}/acknowledge", data={"note": note, "patient": world.patient_a}
    )
    assert r.status_code == 303
    stored = in_app(lambda: db.session.get(Alert, alert_id))
    assert stored.acknowledged_at is not None and stored.ack_note == multi(note)


@FIELDS
@given(body=form_text)
def test_comment(doc, world, in_app, body):
    before = in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Comment)))
    r = doc.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": body})
    assert r.status_code == 303
    latest = _one(in_app, sa.select(Comment.body).order_by(Comment.id.desc()).limit(1))
    if multi(body):
        assert latest == multi(body)
    else:  # "Write a comment first."
        assert (
            in_app(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Comment)))
            == before
        )


@FIELDS
@given(name=form_text, email=form_text)
def test_new_patient_name_and_email(doc, in_app, name, email):
    n = next(NUMBERS)
    data = {"timezone": "Europe/London", "date": "2026-11-25", "time": "10:00", "protocol": "1"}
    r = doc.post("/clinic/patients/new", data={**data, "name": name, "email": f"p{n}@x.example"})
    assert r.status_code in (200, 400)
    stored = _one(in_app, sa.select(User.name).where(User.email == f"p{n}@x.example"))
    if r.status_code == 200:
        assert stored == single(name)
    else:  # no name, or too long: the form says so
        assert stored is None
        assert not single(name) or len(clean_text(name, multiline=False)) > 120
    r = doc.post("/clinic/patients/new", data={**data, "name": "Ann", "email": email})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        emails = in_app(lambda: db.session.scalars(sa.select(User.email)).all())
        assert single(email).lower() in emails


@FIELDS
@given(
    field=st.sampled_from(["sclerosant", "concentration", "areas", "compression"]),
    value=form_text,
)
def test_treatment_record_fields(doc, world, in_app, field, value):
    treatment_id = _one(
        in_app, sa.select(Treatment.id).where(Treatment.patient_id == world.patient_a)
    )
    data = {
        "date": "2026-11-17",
        "time": "10:00",
        "sclerosant": "Polidocanol",
        "form": "liquid",
        "concentration": "0.5%",
        "areas": "left calf",
        "compression": "class 2",
    }
    before = in_app(lambda: getattr(db.session.get(Treatment, treatment_id), field))
    r = doc.post(f"/clinic/sessions/{treatment_id}/record", data={**data, field: value})
    assert r.status_code in (303, 400)
    stored = in_app(lambda: getattr(db.session.get(Treatment, treatment_id), field))
    # Stored as cleaned, or (required and empty, too long) refused and nothing changed.
    assert stored == (single(value) if r.status_code == 303 else before)


@FIELDS
@given(note=form_text)
def test_photo_note(app, patient, in_app, note):
    app.config["PHOTO_MAX_PER_DAY"] = 1000
    data = {"side": "left", "region": "calf", "view": "inner", "note": note}
    r = patient.post("/patient/photos", data={**data, "photo": (io.BytesIO(JPEG), "leg.jpg")})
    assert r.status_code in (303, 400)
    if r.status_code == 303:
        latest = _one(in_app, sa.select(Photo.note).order_by(Photo.id.desc()).limit(1))
        assert latest == multi(note)
    else:
        assert len(multi(note)) > 500


@FIELDS
@given(q=form_text, email=form_text, password=form_text)
def test_search_and_sign_in_text(app, doc, q, email, password):
    r = doc.get("/clinic/patients", query_string={"q": q})
    assert r.status_code == 200
    anyone = app.test_client()
    r = anyone.post("/login", data={"email": email, "password": password, "next": q})
    assert r.status_code in (400, 401, 429)


def _keys() -> dict[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64u(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"p256dh": b64u(point), "auth": b64u(b"0123456789abcdef")}


KEYS = _keys()
JPEG = phone_jpeg((48, 32))
PUSH = "https://fcm.googleapis.com/fcm/send/"


@FIELDS
@given(tail=json_text)
def test_push_subscription_endpoint(patient, in_app, tail):
    r = patient.post(
        "/patient/reminders/subscribe",
        json={"subscription": {"endpoint": PUSH + tail, "keys": KEYS}},
    )
    assert r.status_code in (200, 400) and r.is_json
    stored = in_app(lambda: db.session.scalars(sa.select(PushSubscription.endpoint)).all())
    if r.status_code == 200:
        assert PUSH + clean_text(tail, multiline=False) in stored
    for endpoint in stored:
        endpoint.encode("utf-8")  # storable and sendable
        assert _no_controls(endpoint)
    in_app(lambda: (db.session.execute(sa.delete(PushSubscription)), db.session.commit()))


@FIELDS
@given(password=form_text)
def test_invitation_password_is_kept_verbatim(app, world, in_app, password):
    app.config["SCLERO_RATELIMIT_EXEMPT_LOOPBACK"] = True  # many sign-ins: not a limit test
    assume(password.strip())

    def invite():
        user = db.session.get(Patient, world.patient_b).user
        token = accounts.issue_invitation(user, None, app.config["SCLERO_NOW"]())
        db.session.commit()
        return token

    token = in_app(invite)
    client = app.test_client()
    r = client.post(f"/invite/{token}", data={"password": password, "confirm": password})
    assert r.status_code in (302, 400)
    if r.status_code == 302 and len(password) <= 128:
        # Signing in with the very same characters works: nothing was changed in it.
        fresh = app.test_client()
        assert login(fresh, "bob@patients.example", password).status_code == 302
