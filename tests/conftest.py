"""Shared fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL),
a pinned clock, builders for clinics, staff and patients, and a sign-in helper.

Tables are created once per run and emptied after every test, which keeps the suite
fast on both backends. ``REQUIRE_POSTGRES=1`` (set by CI) turns a missing PostgreSQL
into a failure instead of a skip.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.security import hash_password
from app.services import protocols
from app.services.care import followup
from config import TestingConfig

PROTOCOL_DIR = TestingConfig.SCLERO_PROTOCOL_DIR
PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def resolve_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def is_postgres() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@dataclass
class Clock:
    """The instant the app believes it is; tests move it."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now = self.now + timedelta(**kwargs)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return resolve_database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def _schema(database_url: str):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield
    with app.app_context():
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(database_url: str, _schema, clock: Clock, tmp_path_factory: pytest.TempPathFactory):
    """The app, with *no* context held: each request gets its own app context, as in
    production (a shared one would leak ``g`` and the session's identity map between
    requests and hide bugs). Use ``in_app`` to read the database in a test. Photos go
    to a fresh folder per test, and so do export zips."""
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        SCLERO_NOW=clock,
        PHOTO_STORAGE_DIR=str(tmp_path_factory.mktemp("photos")),
        # "Download my data" zips (issue 20): never the repository's instance/ folder.
        SCLERO_EXPORT_DIR=str(tmp_path_factory.mktemp("exports")),
    )
    yield app
    with app.app_context():
        _db.session.remove()
        _empty_tables()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint on loopback (moto server mode), one per test run."""
    from tests.s3_server import start_s3_server

    url, stop = start_s3_server()
    yield url
    stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty, private bucket for one test."""
    from app.adapters.photo_store_s3 import make_client

    name = f"photos-{uuid.uuid4().hex[:12]}"
    make_client(s3_endpoint, "us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_app(app, s3_endpoint: str, s3_bucket: str):
    """The app with its photos in the test's bucket (``SCLERO_PHOTO_STORE=s3``)."""
    app.config.update(
        SCLERO_PHOTO_STORE="s3",
        SCLERO_S3_BUCKET=s3_bucket,
        SCLERO_S3_ENDPOINT_URL=s3_endpoint,
        SCLERO_S3_REGION="us-east-1",
        SCLERO_S3_PREFIX="clinic-a/",
    )
    return app


@pytest.fixture
def in_app(app):
    """Run a function inside a fresh app context and return its result."""

    def run(fn, *args, **kwargs):
        with app.app_context():
            return fn(*args, **kwargs)

    return run


def scalar(stmt):
    """One value from the database (call through ``in_app``)."""
    return _db.session.scalar(stmt)


def count(model) -> int:
    """Number of rows of a model (call through ``in_app``)."""
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _empty_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            # The audit trail is append-only (a trigger, app/models/audit.py); emptying
            # the tests' tables is the maintenance it lets through, for this transaction.
            conn.execute(sa.text("SET LOCAL sclero.audit_maintenance = 'on'"))
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ----------------------------------------------------------------- builders


@dataclass
class World:
    """Two clinics; patients A (day 3) and B (booked tomorrow) in clinic 1, C (day 5) in
    clinic 2; a clinician in each. Ids only: rows are reloaded where needed."""

    clinic1: int
    clinic2: int
    clinician1: int
    clinician2: int
    patient_a: int
    patient_b: int
    patient_c: int


def make_clinic(slug: str, name: str | None = None) -> Clinic:
    clinic = Clinic(
        slug=slug,
        name=name or f"{slug.title()} Clinic",
        phone="01632 960 111",
        emergency_number="999",
        # Realistic structured hours (app/domain/hours.py): NOW, a Friday noon, is open.
        opening_hours="Mon-Fri 09:00-17:00",
        hours="Mon-Fri 09:00-17:00",
        out_of_hours="Or go to an urgent treatment centre.",
        out_of_hours_name="NHS 111",
        out_of_hours_phone="111",
        timezone="Europe/London",
    )
    _db.session.add(clinic)
    _db.session.commit()
    for path in protocols.shipped_files(PROTOCOL_DIR):
        protocols.load(path, slug, NOW - timedelta(days=60))
    sign_off_all(clinic)
    return clinic


def sign_off_all(clinic: Clinic, name: str = "Test Sign-off") -> None:
    """Mark every protocol version of a clinic signed off, as a clinic admin would have,
    so new patients and bookings may use them (tests of sign-off itself load versions
    after this and sign them off through the service)."""
    _db.session.execute(
        sa.update(ProtocolVersion)
        .where(ProtocolVersion.clinic_id == clinic.id, ProtocolVersion.signed_off_at.is_(None))
        .values(signed_off_at=NOW - timedelta(days=60), signed_off_by_name=name)
    )
    _db.session.commit()


def make_staff(clinic: Clinic, email: str, role: Role = Role.CLINICIAN) -> User:
    user = User(email=email, name=email.split("@")[0].title(), role=role, clinic_id=clinic.id)
    user.password_hash = hash_password(PASSWORD)
    _db.session.add(user)
    _db.session.commit()
    return user


def version_id(clinic: Clinic, key: str = "compression-72h") -> int:
    return next(v.id for v in protocols.latest_for_clinic(clinic.id) if v.key == key)


def make_patient(
    clinic: Clinic,
    email: str,
    *,
    day: int | None = 3,
    tz: str = "Europe/London",
    key: str = "compression-72h",
    now: datetime = NOW,
    at: time = time(10, 0),
    name: str | None = None,
) -> Patient:
    """A patient who is ``day`` days after treatment, or (day=None) booked for tomorrow."""
    zone = ZoneInfo(tz)
    user = User(
        email=email,
        name=name or email.split("@")[0].title(),
        role=Role.PATIENT,
        clinic_id=clinic.id,
    )
    user.password_hash = hash_password(PASSWORD)
    patient = Patient(user=user, clinic_id=clinic.id, timezone=tz)
    today = now.astimezone(zone).date()
    vid = version_id(clinic, key)
    if day is None:
        when = datetime.combine(today + timedelta(days=1), at, zone)
        treatment = Treatment(patient=patient, protocol_version_id=vid, appointment_at=when)
    else:
        when = datetime.combine(today - timedelta(days=day), at, zone)
        treatment = Treatment(
            patient=patient,
            protocol_version_id=vid,
            appointment_at=when,
            treated_at=when,
            status=TreatmentStatus.DONE,
            sclerosant="Polidocanol",
            form="liquid",
            areas="left calf",
        )
    _db.session.add_all([user, patient, treatment])
    _db.session.flush()
    # Rows made here bypass the services, which keep the follow-up state themselves.
    followup.note_treatment(treatment)
    _db.session.commit()
    return patient


def world_at_revision(app, runner, revision: str) -> None:  # noqa: ANN001
    """The test world in a database at an older ``revision``: built through the models
    at head, then migrated down. The models follow the newest schema, so they cannot
    write to an older one (a column added later breaks the insert); every migration's
    downgrade keeps the rows, so a migration's own upgrade is then tested on data."""
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        build_world()
        _db.session.remove()
    result = runner.invoke(args=["db", "downgrade", revision])
    assert result.exit_code == 0, result.output


def build_world() -> World:
    c1 = make_clinic("north")
    c2 = make_clinic("south")
    return World(
        clinic1=c1.id,
        clinic2=c2.id,
        clinician1=make_staff(c1, "doc1@north.example").id,
        clinician2=make_staff(c2, "doc2@south.example").id,
        patient_a=make_patient(c1, "alice@patients.example", day=3, name="Alice Marker-A").id,
        patient_b=make_patient(c1, "bob@patients.example", day=None, name="Bob Marker-B").id,
        patient_c=make_patient(c2, "cara@patients.example", day=5, name="Cara Marker-C").id,
    )


@pytest.fixture
def world(in_app) -> World:
    return in_app(build_world)


def add_staff_device(user_id: int, endpoint: str) -> None:
    """A clinician's push device (alerts), stored directly; run it with ``in_app``."""
    _db.session.add(PushSubscription(user_id=user_id, endpoint=endpoint, p256dh="x", auth="y"))
    _db.session.commit()


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def text_of(response) -> str:
    """Visible text of an HTML response, whitespace folded (for assertions on wording)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


@pytest.fixture
def push_service(app):
    """The local push service (verifies VAPID, decrypts), which the app may post to."""
    from tests.push_double import PushServiceDouble

    key = app.extensions["sclero_push"]["public_key"]
    with PushServiceDouble(vapid_public_key_b64u=key) as ps:
        app.config["PUSH_ALLOW_HTTP"] = (ps.netloc,)
        yield ps


@pytest.fixture
def sender(app):
    """The app's real push sender, with a 1 s timeout so a hanging service ends quickly."""
    from app.adapters.push import WebPushSender

    ext = app.extensions["sclero_push"]
    return WebPushSender(ext["vapid"], app.config["VAPID_SUBJECT"], timeout=1.0)


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback (tests/smtp_double.py) that the app sends to."""
    from tests.smtp_double import SmtpDouble

    server = SmtpDouble().start()
    app.config["MAIL_PORT"] = server.port
    yield server
    server.stop()


@pytest.fixture
def empty_postgres():
    """A new, empty PostgreSQL database (dropped afterwards), as its URL."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not PostgreSQL")
        pytest.skip("set TEST_DATABASE_URL=postgresql+psycopg://... to run on PostgreSQL")
    base = sa.engine.make_url(url)
    name = f"sclerocare_empty_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ------------------------------------------------------------------ logs hold no secrets


@pytest.fixture(autouse=True)
def _logs_hold_no_secrets(monkeypatch, caplog):
    """Checklist E3, over the whole suite: every log record a test's code writes (INFO and
    above, the level production logs at) is searched for every random token issued
    during the test (sign-in sessions, invitation, reset and device links, trusted
    devices: all come from ``secrets.token_urlsafe``) and for the test password. A hit
    fails that test, whatever it was testing."""
    import logging
    import secrets

    real = secrets.token_urlsafe
    issued: list[str] = []

    def recording(nbytes=None):  # noqa: ANN001, ANN202 - same signature as the real one
        value = real(nbytes)
        if len(value) >= 20:  # short ones are not secrets here (ids, nonces for tests)
            issued.append(value)
        return value

    monkeypatch.setattr(secrets, "token_urlsafe", recording)
    caplog.set_level(logging.INFO)
    # The engine's SQL echo is off in production; at INFO it would log every statement.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    hits = secrets_in_logs(records, [PASSWORD, *issued])
    assert not hits, f"a log record holds a secret: {hits[0]}"


def secrets_in_logs(records, words: list[str]) -> list[str]:  # noqa: ANN001 - LogRecords
    """The records (as "logger: message") whose message or traceback holds one of
    ``words``."""
    hits = []
    for record in records:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format holds nothing to find
            continue
        text += record.exc_text or ""
        if any(word in text for word in words):
            hits.append(f"{record.name}: {text[:200]}")
    return hits
