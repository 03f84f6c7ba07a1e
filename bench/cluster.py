"""Benchmark: the clinic behind HAProxy, two gunicorn instances against one, with one
instance killed midway (issue 21 point 3).

What runs
    ``/usr/sbin/haproxy`` with ``deploy/haproxy.cfg`` (the deployment's own file; only its
    environment variables are set here) in front of two gunicorn instances
    (``wsgi:app``, production settings, ``-k sync -w 2 --preload`` each), three
    ``flask notifications worker`` dispatchers, a throw-away PostgreSQL database, Redis
    (database 7: the shared rate-limit counters) and the photo store: moto's S3 server
    on loopback (started here, a private bucket) when this checkout has the S3 store
    (``SCLERO_PHOTO_STORE``); before that, the local folder shared by both instances
    (they run on one machine). The first line printed says which.

The load
    A pool of threads (``--threads``, default one per user, so the client never queues)
    drives 100 patients and 10 clinicians (signed in once through the real form, CSRF
    on) for ``--seconds`` (default 60). Each virtual user follows its own timetable: a
    step every 2-3 s (``THINK``, drawn from the user's own seeded generator), due at a
    fixed time whatever the server does. So both runs are offered the same load: a slow
    answer does not thin the load (a closed loop would, and would then compare runs at
    different loads); the next step just starts late. The time a user waits for a step
    is counted from when it was due to when its last answer came (the lateness included,
    so a slow run cannot hide its queue: no coordinated omission). Patients: Today, tick
    a task, check-in POST, diary, photo upload. Clinicians: dashboard, a patient's page,
    mark a day reviewed.
    Redirects are not followed: a 303 answering a POST is its acknowledgement.

The two runs
    1. single: the same HAProxy with one instance, the other in maintenance (admin
       socket); half of it before the cluster run (on web1), half after (on web2), so a
       change in the machine's other load weighs on both runs alike.
    2. cluster: both instances; at half time web1's whole process group gets SIGKILL
       (a crashed machine, not a graceful stop), then it is restarted on its port and
       HAProxy's health checks take it back.

Judged (exit status 1 on a miss)
    - lost writes: every acknowledged write (2xx/3xx to a POST) is looked up in the
      database at the end, by its client_key or its effect, and ``flask photos verify``
      reads every photo back from the store against its sha256: 0 missing;
    - errors in the cluster run <= the requests in flight on web1 when it was killed
      (the requests HAProxy's log shows web1 dropping after they were sent to it, or
      its ``scur`` read just before the kill if higher), where only a 502/504
      answered during web1's outage counts against that bound: any other error (a 500,
      a 4xx, a refused connection, a 503, an error before the kill or after web1 is
      back) is a miss of its own, so nothing hides under the bound;
    - p95 of the cluster run's step times <= 1.5 x the single-instance run's, at the
      same offered load: steps offered per second are printed for both, and a run
      offered more than 10 % less than the other (a client that could not keep to the
      timetable) is "could not measure" (exit 2), never a pass.
    Per page p50/p95/p99 and requests per second of both runs are printed beside, with
    the request-level p95 ratio (reported, not judged).

Usage
    .venv/bin/python bench/cluster.py [--seconds 60] [--quick] [--threads N]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

``--quick``: 20 s, 30 patients, 4 clinicians (a smoke run). Exit status 0 PASS, 1 an
aim missed, 2 could not measure (haproxy missing, a process did not start, sign-in
failed).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import http.client
import io
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = "/usr/sbin/haproxy"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
HOST = "care.bench.example"  # SCLERO_BASE_URL's host: the app answers no other
REDIS_URL = "redis://127.0.0.1:6379/7"
PASSWORD = "bench password 2026"  # noqa: S105 - throw-away accounts in a throw-away database
WORKERS = 2  # gunicorn workers per instance (HAProxy's maxconn 4 = 2 x this)
DISPATCHERS = 3
THINK = (2.0, 3.0)  # seconds a user waits between steps
P95_AIM = 1.5
SAME_LOAD = 0.10  # offered steps/s of the two runs may differ by this much, no more
PATIENT_DAYS = (0, 1, 2, 3, 4, 5, 7, 10)  # days since treatment: tasks, check-ins, photos


class BenchError(RuntimeError):
    """The benchmark could not measure; the message says why."""


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------- database and seed


def scratch_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database next to ``admin_url``'s; returns (its URL, its name)."""
    import sqlalchemy as sa

    name = f"sclero_cluster_{os.getpid()}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class Account:
    email: str
    patient_id: int | None = None  # None for clinicians
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    red_flags: list[str] = field(default_factory=list)
    review_forms: list[tuple[int, str, str]] = field(default_factory=list)


def seed(db_url: str, patients: int, clinicians: int) -> tuple[list[Account], list[Account]]:
    """The demo clinic (``app.services.demo``: protocols loaded and signed off), then
    ``patients`` patients at days 0-10 of their course and ``clinicians`` clinicians,
    with their reminders queued for the dispatchers."""
    sys.path.insert(0, str(ROOT))
    from datetime import time as day_time
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import sqlalchemy as sa

    from app import create_app
    from app.clock import now
    from app.extensions import db
    from app.models import Clinic
    from app.models import Patient
    from app.models import Role
    from app.models import Treatment
    from app.models import TreatmentStatus
    from app.models import User
    from app.security import hash_password
    from app.services import demo
    from app.services import protocols
    from app.services.care import followup
    from app.services.notify import enqueue
    from app.services.outcomes import tallies
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=db_url)
    rng = random.Random(21)
    with app.app_context():
        at = now()
        demo.seed(at, app.config["SCLERO_PROTOCOL_DIR"])
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
        version = {v.key: v for v in protocols.latest_for_clinic(clinic.id)}["compression-72h"]
        hashed = hash_password(PASSWORD)  # one hash for all: argon2 costs ~50 ms each
        tz = ZoneInfo(demo.TZ)
        made: list[tuple[User, Patient | None]] = []
        for n in range(clinicians):
            user = User(
                email=f"clinician{n}@bench.example",
                name=f"Clinician {n}",
                role=Role.CLINICIAN,
                clinic_id=clinic.id,
                password_hash=hashed,
            )
            db.session.add(user)
            made.append((user, None))
        for n in range(patients):
            day = rng.choice(PATIENT_DAYS)
            user = User(
                email=f"patient{n}@bench.example",
                name=f"Patient {n}",
                role=Role.PATIENT,
                clinic_id=clinic.id,
                password_hash=hashed,
            )
            patient = Patient(user=user, clinic_id=clinic.id, timezone=demo.TZ)
            treated = datetime.combine(
                at.astimezone(tz).date() - timedelta(days=day), day_time(8, 0), tz
            )
            treated = min(treated, at - timedelta(minutes=30))
            treatment = Treatment(
                patient=patient,
                protocol_version=version,
                appointment_at=treated,
                treated_at=treated,
                status=TreatmentStatus.DONE,
                sclerosant="Polidocanol",
                form="liquid",
                concentration="0.5%",
                areas="Left calf",
                compression="Class 2 stockings",
            )
            db.session.add_all([user, patient, treatment])
            made.append((user, patient))
        db.session.flush()
        for treatment in db.session.scalars(
            sa.select(Treatment).join(Patient).where(Patient.clinic_id == clinic.id)
        ):
            followup.note_treatment(treatment)
            enqueue.enqueue_reminders(treatment, at)
        tallies.rebuild(db.session.connection(), clinic.id)
        db.session.commit()
        staff = [Account(u.email) for u, p in made if p is None]
        people = [Account(u.email, p.id) for u, p in made if p is not None]
        db.engine.dispose()
    return people, staff


# ----------------------------------------------------------------- processes


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    ports: list[int]
    haproxy_port: int
    socket_path: Path
    web: dict[int, subprocess.Popen] = field(default_factory=dict)
    others: list[subprocess.Popen] = field(default_factory=list)

    def start_web(self, n: int) -> None:
        log = (self.tmp / f"web{n}.log").open("a")
        cmd = [
            sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
            "-k", "sync", "-w", str(WORKERS), "--preload", "-b", f"127.0.0.1:{self.ports[n - 1]}",
            "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning",
            "--control-socket", str(self.tmp / f"web{n}.ctl"), "wsgi:app",
        ]  # fmt: skip
        # Each instance its own control socket, as the unit: gunicorn's default
        # ($HOME/.gunicorn/gunicorn.ctl) is one path that every gunicorn of this user,
        # here or in another checkout, unlinks and takes over at start.
        # --preload: the master imports the app once and forks its workers, so a restart
        # costs one import, not one per worker (as deploy/sclerocare-web@.service).
        # A session of its own: the kill takes the master and its workers at once.
        self.web[n] = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_web(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web[n].poll() is not None:
                log = (self.tmp / f"web{n}.log").read_text()[-3000:]
                raise BenchError(f"gunicorn web{n} exited:\n{log}")
            try:
                status, _, _ = request(self.ports[n - 1], "GET", "/manifest.webmanifest")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn web{n} did not answer within {timeout:.0f} s")

    def kill_web(self, n: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.web[n].pid, signal.SIGKILL)
        self.web[n].wait(10)

    def start_others(self) -> None:
        for n in range(1, DISPATCHERS + 1):
            log = (self.tmp / f"dispatch{n}.log").open("w")
            self.others.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "notifications", "worker", "--interval", "2"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        env = {
            **os.environ,
            "SCLERO_HOST": HOST,
            "SCLERO_HTTP_BIND": f"127.0.0.1:{self.haproxy_port}",
            "SCLERO_HAPROXY_SOCKET": str(self.socket_path),
            "SCLERO_WEB1": f"127.0.0.1:{self.ports[0]}",
            "SCLERO_WEB2": f"127.0.0.1:{self.ports[1]}",
        }
        env.pop("SCLERO_TLS_CERT", None)  # loopback: plain http
        env.pop("SCLERO_HAPROXY_USER", None)  # run as whoever runs the bench
        log = (self.tmp / "haproxy.log").open("w")
        self.others.append(
            subprocess.Popen(
                [HAPROXY, "-db", "-f", str(HAPROXY_CFG)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.socket_path))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_stat(self, name: str) -> dict[str, str]:
        lines = self.admin("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "app" and row.get("svname") == name:
                return row
        raise BenchError(f"HAProxy does not list server {name}")

    def wait_status(self, name: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server_stat(name).get("status", "").startswith(status):
                return
            time.sleep(0.2)
        raise BenchError(f"HAProxy: {name} not {status} within {timeout:.0f} s")

    def stop(self) -> None:
        for proc in [*self.web.values(), *self.others]:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if proc in self.web.values():
                        os.killpg(proc.pid, signal.SIGTERM)
                    else:
                        proc.terminate()
        for proc in [*self.web.values(), *self.others]:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                # A gunicorn master's workers too: killing the master alone would leave
                # them serving until they notice their parent is gone.
                with contextlib.suppress(ProcessLookupError):
                    if proc in self.web.values():
                        os.killpg(proc.pid, signal.SIGKILL)
                    else:
                        proc.kill()
                proc.wait(5)


def app_env(tmp: Path, db_url: str) -> dict[str, str]:
    from py_vapid import Vapid

    sys.path.insert(0, str(ROOT))
    from app.adapters import push

    vapid = Vapid()
    vapid.generate_keys()
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        FLASK_APP="wsgi.py",
        FLASK_SQLALCHEMY_DATABASE_URI=db_url,
        FLASK_SECRET_KEY=secrets.token_urlsafe(48),
        FLASK_VAPID_PRIVATE_KEY=push.private_key_b64u(vapid),
        FLASK_VAPID_SUBJECT="mailto:bench@bench.example",
        FLASK_SCLERO_BASE_URL=f"https://{HOST}",
        MAIL_DEFAULT_FROM="Bench <noreply@bench.example>",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT="9",  # discard: closed here, a stray email fails at once
        RATELIMIT_STORAGE_URI=REDIS_URL,
        SCLERO_PROXY_COUNT="1",
        SCLERO_INSTANCES="2",
        FLASK_PHOTO_STORAGE_DIR=str(tmp / "photos"),
        FLASK_SCLERO_EXPORT_DIR=str(tmp / "exports"),
        # Staff sign in with a password alone here: the journeys measured start after
        # sign-in, and a TOTP per clinician would only add set-up.
        FLASK_SCLERO_STAFF_MFA_REQUIRED="false",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"flask db upgrade failed:\n{done.stdout}{done.stderr}")


def s3_store_available() -> bool:
    """Whether this checkout has the S3 photo store (issue 21 point 1) yet."""
    texts = [(ROOT / "config.py").read_text()]
    texts += [p.read_text() for p in (ROOT / "app").rglob("*.py")]
    return any("SCLERO_PHOTO_STORE" in text for text in texts)


def start_s3(tmp: Path, env: dict[str, str]) -> subprocess.Popen:
    """moto's S3 server on loopback (a process of its own, so it does not share the load
    generator's interpreter), a private bucket in it, and the instances pointed at it."""
    import boto3

    port = free_port()
    log = (tmp / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    env.update(
        SCLERO_PHOTO_STORE="s3",
        SCLERO_S3_BUCKET="sclerocare-bench",
        SCLERO_S3_ENDPOINT_URL=endpoint,
        SCLERO_S3_REGION="us-east-1",
        SCLERO_S3_PREFIX="photos/",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="bench", aws_secret_access_key="bench",  # noqa: S106
            ).create_bucket(Bucket="sclerocare-bench")  # fmt: skip
            return proc
        except Exception:  # noqa: BLE001 - not listening yet
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # still running but not answering: not left behind
                proc.wait(5)
                raise BenchError(
                    f"moto's S3 server did not start:\n{(tmp / 'moto.log').read_text()}"
                ) from None
            time.sleep(0.3)


# ----------------------------------------------------------------- HTTP


def request(port, method, path, headers=None, body=None):  # noqa: ANN001, ANN201
    """One request, no redirect followed, a new connection each time (a reused one that
    HAProxy closed would be a client error, not the server's): (status, headers, text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def call(port: int, who: Account, method: str, path: str, form=None, files=None):  # noqa: ANN001, ANN201
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in who.cookies.items())}
    body: bytes | str | None = None
    if files:
        body, headers["Content-Type"] = multipart(form or {}, files)
    elif form is not None:
        body = urlencode(form, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    status, msg, text = request(port, method, path, headers, body)
    for raw in msg.get_all("Set-Cookie") or []:
        for name, morsel in SimpleCookie(raw).items():
            who.cookies[name] = morsel.value
    return status, text


def multipart(form: dict, files: dict) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    out = io.BytesIO()
    for name, value in form.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(f"{value}\r\n".encode())
    for name, (filename, data) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
RED_FLAG = re.compile(r'name="(rf-[a-z0-9-]+)"')
TASK = re.compile(
    r'action="(/patient/tasks/[^"]+)">\s*<input type="hidden" name="csrf_token" value="[^"]*">'
    r'\s*<input type="hidden" name="day" value="(-?\d+)">\s*'
    r'<input type="hidden" name="done" value="1">'
)
# An httplog line whose status is 5xx: `... backend/server Tq/Tw/Tc/Tr/Ta 503 ...`.
FAILED = re.compile(r" -?\d+/-?\d+/-?\d+/-?\d+/\d+ 5\d\d ")
# A 502/504 ended by the server (S) while HAProxy waited for its headers (H) or body (D):
# the server dropped a request it had been sent (`app/web1 0/0/0/-1/26 502 209 - - SH--`),
# i.e. one in flight on it. SC (connection refused) was never sent, so it is not one.
DROPPED = re.compile(r" app/(web\d+) -?\d+/-?\d+/-?\d+/-?\d+/\d+ 50[24] \d+ \S+ \S+ S[HD]\S{2} ")
REVIEW = re.compile(
    r'action="/clinic/checkins/(\d+)/review">.*?name="seen" value="([^"]+)">'
    r'.*?name="photos_upto" value="(\d+)"',
    re.S,
)


def sign_in(port: int, who: Account) -> None:
    status, text = call(port, who, "GET", "/login")
    token = CSRF.search(text)
    if status != 200 or not token:
        raise BenchError(f"GET /login for {who.email}: status {status}, no CSRF token")
    form = {"email": who.email, "password": PASSWORD, "csrf_token": token.group(1), "next": ""}
    status, _ = call(port, who, "POST", "/login", form)
    if status not in (302, 303):
        raise BenchError(f"POST /login for {who.email}: status {status}, expected a redirect")
    home = "/patient/today" if who.patient_id else "/clinic/"
    status, text = call(port, who, "GET", home)
    meta = CSRF_META.search(text)
    if status != 200 or not meta:
        raise BenchError(f"GET {home} for {who.email} after sign-in: status {status}")
    who.csrf = meta.group(1)
    if who.patient_id:
        status, text = call(port, who, "GET", "/patient/checkin")
        who.red_flags = sorted(set(RED_FLAG.findall(text)))


def photo_jpeg() -> bytes:
    from PIL import Image

    rng = random.Random(7)
    img = Image.new("RGB", (640, 480))
    img.putdata([(rng.randrange(256), 120, 110) for _ in range(640 * 480)])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


# ----------------------------------------------------------------- load


@dataclass
class Ack:
    kind: str  # checkin | photo | tick | review
    who: str
    key: tuple


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    # (sent, answered, status) of each failed request, time.monotonic(): only a 502/504
    # answered during the outage can be a request the killed instance was working on.
    failures: list[tuple[float, float, int]] = field(default_factory=list)
    killed_at: float | None = None
    # How late each step started after it was due (ms): a user whose last step was still
    # waiting for an answer (or, with fewer threads than users, the client's own queue).
    lags: list[float] = field(default_factory=list)
    # Each step from when it was due to its last answer (ms): what the user waited,
    # lateness included. The judged figure.
    steps: list[float] = field(default_factory=list)
    offered: int = 0  # steps due within the run (the timetable), started or not
    back_at: float | None = None
    acks: list[Ack] = field(default_factory=list)
    in_flight_web1: int | None = None
    in_flight_client: int | None = None
    # Requests HAProxy's log shows web1 dropping after they were sent to it: the ones it
    # was working on when killed. scur, read just before the kill, misses any request
    # sent in the instant between the read and the SIGKILL, so the log is the bound.
    dropped_web1: int = 0
    kill_note: str = ""


class Load:
    """A bounded pool of threads taking the user whose next step is due soonest."""

    def __init__(self, port: int, users: list[Account], photo: bytes, result: Result) -> None:
        self.port, self.photo, self.result = port, photo, result
        self.rng = random.Random(2126)
        self.lock = threading.Lock()
        start = time.monotonic()
        # One generator per user for its timetable: the same timetable in every run,
        # whatever order the threads happen to take users in.
        self.clocks = [random.Random(2126 + i) for i in range(len(users))]
        self.queue = [
            (start + self.clocks[i].uniform(0, THINK[1]), i, u) for i, u in enumerate(users)
        ]
        heapq.heapify(self.queue)
        self.in_flight = 0
        self.reviewable: list[int] = [u.patient_id for u in users if u.patient_id]

    def run(self, seconds: float, threads: int, midway=None) -> None:  # noqa: ANN001
        self.end = time.monotonic() + seconds
        pool = [threading.Thread(target=self.worker, daemon=True) for _ in range(threads)]
        started = time.monotonic()
        for t in pool:
            t.start()
        if midway:
            time.sleep(seconds / 2)
            midway(self)
        for t in pool:
            t.join()
        self.result.seconds += time.monotonic() - started

    def worker(self) -> None:
        while True:
            with self.lock:
                due, seq, user = heapq.heappop(self.queue)
            if due >= self.end:
                with self.lock:
                    heapq.heappush(self.queue, (due, seq, user))
                return
            time.sleep(max(0.0, due - time.monotonic()))
            with self.lock:
                self.result.offered += 1
                self.result.lags.append(max(0.0, time.monotonic() - due) * 1000)
            try:
                self.step(user)
            except Exception as exc:  # noqa: BLE001 - a bug here must not thin the load unseen
                # Without this the thread would die quietly: fewer threads, less load,
                # and a run that looks fine. Counted as an error, it fails the verdict.
                with self.lock:
                    self.result.errors[f"bench itself: {type(exc).__name__}: {exc}"] += 1
                    self.result.failures.append((time.monotonic(), time.monotonic(), -1))
            finally:
                with self.lock:
                    self.result.steps.append((time.monotonic() - due) * 1000)
                    # Due on the user's timetable, not after the answer: a slow answer
                    # makes the next step late, it does not offer less load.
                    think = self.clocks[seq].uniform(*THINK)
                    heapq.heappush(self.queue, (due + think, seq, user))

    def timed(self, page: str, who: Account, method: str, path: str, form=None, files=None):  # noqa: ANN001, ANN201
        with self.lock:
            self.in_flight += 1
        began = time.perf_counter()
        sent = time.monotonic()
        try:
            status, text = call(self.port, who, method, path, form, files)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short
            status, text = 0, type(exc).__name__
        finally:
            with self.lock:
                self.in_flight -= 1
        elapsed = (time.perf_counter() - began) * 1000
        with self.lock:
            self.result.latencies[page].append(elapsed)
            if not 200 <= status < 400:
                self.result.errors[f"{page}: {status or text}"] += 1
                self.result.failures.append((sent, time.monotonic(), status))
        return status, text

    def ack(self, status: int, kind: str, who: Account, key: tuple) -> None:
        if 200 <= status < 400:
            with self.lock:
                self.result.acks.append(Ack(kind, who.email, key))

    def step(self, who: Account) -> None:
        if who.patient_id:
            self.patient_step(who)
        else:
            self.clinician_step(who)

    def patient_step(self, who: Account) -> None:
        pick = self.rng.random()
        if pick < 0.35:
            self.timed("patient Today", who, "GET", "/patient/today")
        elif pick < 0.50:
            status, text = self.timed("patient Today", who, "GET", "/patient/today")
            tasks = TASK.findall(text) if status == 200 else []
            if tasks:
                path, day = self.rng.choice(tasks)
                form = {"csrf_token": who.csrf, "day": day, "done": "1"}
                status, _ = self.timed("patient tick (POST)", who, "POST", path, form)
                self.ack(status, "tick", who, (path.rsplit("/", 1)[1], int(day)))
        elif pick < 0.68:
            key = secrets.token_hex(16)
            form = {
                "csrf_token": who.csrf, "pain": str(self.rng.randrange(5)), "bruising": "mild",
                "skin": "none", "itching": "no", "lumps": "no", "stockings_day": "yes",
                "stockings_night": "yes", "walked": "yes", "elevated": "yes",
                "note": f"bench {key}", "client_key": key,
                **dict.fromkeys(who.red_flags, "no"),
            }  # fmt: skip
            status, _ = self.timed("patient check-in (POST)", who, "POST", "/patient/checkin", form)
            self.ack(status, "checkin", who, (key,))
            if 200 <= status < 400:
                with self.lock:
                    self.reviewable.append(who.patient_id)
        elif pick < 0.90:
            self.timed("patient diary", who, "GET", "/patient/diary")
        else:
            key = secrets.token_hex(16)
            form = {
                "csrf_token": who.csrf, "side": "left", "region": "calf", "view": "inner",
                "note": "bench photo", "client_key": key,
            }  # fmt: skip
            files = {"photo": ("calf.jpg", self.photo)}
            status, _ = self.timed(
                "patient photo upload (POST)", who, "POST", "/patient/photos", form, files
            )
            self.ack(status, "photo", who, (key,))

    def clinician_step(self, who: Account) -> None:
        pick = self.rng.random()
        if pick < 0.4 or (pick >= 0.8 and not who.review_forms):
            self.timed("clinic dashboard", who, "GET", "/clinic/")
            return
        if pick < 0.8:
            with self.lock:
                patient = self.rng.choice(self.reviewable)
            status, text = self.timed(
                "clinic patient page", who, "GET", f"/clinic/patients/{patient}"
            )
            if status == 200:
                who.review_forms = [(int(c), s, u) for c, s, u in REVIEW.findall(text)]
            return
        checkin, seen, upto = who.review_forms.pop(self.rng.randrange(len(who.review_forms)))
        form = {"csrf_token": who.csrf, "seen": seen, "photos_upto": upto}
        status, _ = self.timed(
            "clinic mark reviewed (POST)", who, "POST", f"/clinic/checkins/{checkin}/review", form
        )
        self.ack(status, "review", who, (checkin, seen))


# ----------------------------------------------------------------- lost writes


def lost_writes(db_url: str, acks: list[Ack]) -> Counter[str]:
    """Acknowledged writes the database does not hold, by kind. A review is lost if its
    day is still unreviewed at the version the clinician saw (a later edit by the
    patient rightly reopens a day)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    lost: Counter[str] = Counter()
    with engine.connect() as conn:
        checkin_keys = set(conn.scalars(sa.text("SELECT client_key FROM checkin_keys")))
        photo_keys = set(
            conn.scalars(sa.text("SELECT client_key FROM photos WHERE client_key IS NOT NULL"))
        )
        ticks = set(
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT u.email, t.task_key, t.day FROM task_ticks t "
                    "JOIN treatments tr ON tr.id = t.treatment_id "
                    "JOIN patients p ON p.id = tr.patient_id JOIN users u ON u.id = p.user_id"
                )
            )
        )
        days = {
            row.id: row
            for row in conn.execute(sa.text("SELECT id, reviewed_at, updated_at FROM checkins"))
        }
    engine.dispose()
    for ack in acks:
        if ack.kind == "checkin" and ack.key[0] not in checkin_keys:
            lost["check-in"] += 1
        elif ack.kind == "photo" and ack.key[0] not in photo_keys:
            lost["photo"] += 1
        elif ack.kind == "tick" and (ack.who, *ack.key) not in ticks:
            lost["tick"] += 1
        elif ack.kind == "review":
            row = days.get(ack.key[0])
            seen = instant(ack.key[1])
            if row is None or (row.reviewed_at is None and instant(row.updated_at) == seen):
                lost["review"] += 1
    return lost


def instant(value: datetime | str) -> datetime:
    """One point in time from what the page sent (``isoformat()`` in UTC) or what the raw
    query returned (aware on PostgreSQL, in the server's TimeZone; a naive UTC string on
    SQLite). Comparing the texts would miss a lost review whenever the server's TimeZone
    is not UTC (``+01:00`` never equals ``+00:00``)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ----------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def report(single: Result, cluster: Result) -> float:
    """Print per-page figures and the offered load; return the judged ratio: p95 of the
    cluster's step times (lateness included) over the single run's."""
    pages = sorted(set(single.latencies) | set(cluster.latencies))
    say(f"\n{'page':30} {'run':8} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7}")
    for page in [*pages, "ALL"]:
        for run in (single, cluster):
            if page == "ALL":
                values = [v for vs in run.latencies.values() for v in vs]
            else:
                values = run.latencies.get(page, [])
            say(
                f"{page:30} {run.name:8} {len(values):>5} {pct(values, 50):>8.1f} "
                f"{pct(values, 95):>8.1f} {pct(values, 99):>8.1f} "
                f"{len(values) / run.seconds:>7.1f}"
            )
    for run in (single, cluster):
        say(
            f"{run.name}: {offered_rate(run):.2f} steps/s offered ({run.offered} in "
            f"{run.seconds:.0f} s); started late p50 {pct(run.lags, 50):.0f} ms, p95 "
            f"{pct(run.lags, 95):.0f} ms; step as the user waited it (lateness included) "
            f"p50 {pct(run.steps, 50):.0f} ms, p95 {pct(run.steps, 95):.0f} ms"
        )
    every = {r.name: [v for vs in r.latencies.values() for v in vs] for r in (single, cluster)}
    say(
        "p95 cluster / p95 single, requests alone (reported, not judged): "
        f"{pct(every['cluster'], 95) / pct(every['single'], 95):.2f}"
    )
    return pct(cluster.steps, 95) / pct(single.steps, 95)


def offered_rate(run: Result) -> float:
    return run.offered / run.seconds if run.seconds else 0.0


def same_load(single: Result, cluster: Result) -> bool:
    """Whether both runs were offered the same steps per second (within SAME_LOAD)."""
    a, b = offered_rate(single), offered_rate(cluster)
    return min(a, b) > 0 and abs(a - b) / max(a, b) <= SAME_LOAD


def kill_errors(run: Result) -> tuple[int, int]:
    """(errors the kill can explain, the others). Explained: HAProxy answered 502 (the
    server died mid-request) or 504, for a request sent before web1 was back and
    answered after the kill. Anything else would be hidden under the in-flight bound."""
    if run.killed_at is None:
        return 0, len(run.failures)
    back = run.back_at if run.back_at is not None else float("inf")
    explained = sum(
        1
        for sent, answered, status in run.failures
        if status in (502, 504) and answered >= run.killed_at and sent <= back
    )
    return explained, len(run.failures) - explained


def verdict(single: Result, cluster: Result, ratio: float, lost: Counter[str]) -> int:
    misses = []
    for run in (single, cluster):
        errors = sum(run.errors.values())
        say(f"\nerrors, {run.name} run: {errors}")
        for what, n in run.errors.most_common():
            say(f"    {n:>4}  {what}")
    say(f"\nkill: {cluster.kill_note}")
    cluster_errors = sum(cluster.errors.values())
    bound = max(cluster.in_flight_web1 or 0, cluster.dropped_web1)
    say(
        f"in flight on web1 at the kill: {cluster.dropped_web1} dropped by web1 in HAProxy's "
        f"log (scur read just before the kill: {cluster.in_flight_web1}); in flight from "
        f"the client, on either instance: {cluster.in_flight_client}"
    )
    if sum(single.errors.values()):
        misses.append("the single-instance run had errors (nothing was killed there)")
    explained, unexplained = kill_errors(cluster)
    if unexplained:
        misses.append(
            f"{unexplained} cluster error(s) not a 502/504 answered while web1 was down "
            "(a 500, a 4xx, a refused connection to HAProxy, a 503 from its queue or an "
            "error outside the outage is not a request in flight on the killed instance)"
        )
    if explained > bound:
        misses.append(f"cluster errors {explained} > in flight on the killed one {bound}")
    acks = Counter(a.kind for a in single.acks + cluster.acks)
    say(f"acknowledged writes: {dict(acks)}; lost: {sum(lost.values())} {dict(lost)}")
    if sum(lost.values()):
        misses.append(f"{sum(lost.values())} acknowledged write(s) lost")
    say(
        f"p95 cluster / p95 single (step times, lateness included, at "
        f"{offered_rate(cluster):.2f} / {offered_rate(single):.2f} steps/s offered): "
        f"{ratio:.2f} (aim <= {P95_AIM})"
    )
    # The p95 ratio means something only at the same offered load; lost writes and
    # unexplained errors are misses whatever the load.
    comparable = same_load(single, cluster)
    if comparable and not ratio <= P95_AIM:
        misses.append(f"p95 cluster is {ratio:.2f} x single (aim <= {P95_AIM})")
    if misses:
        say("MISS: " + "; ".join(misses))
        return 1
    if not comparable:
        say(
            "COULD NOT MEASURE the p95 ratio: the runs were not offered the same load "
            f"({offered_rate(single):.2f} and {offered_rate(cluster):.2f} steps/s, more "
            f"than {SAME_LOAD:.0%} apart: the client could not keep to the timetable)"
        )
        return 2
    say(
        f"PASS: 0 lost writes, {cluster_errors} error(s) <= {bound} in flight on the killed "
        f"instance, p95 {ratio:.2f} x single"
    )
    return 0


# ----------------------------------------------------------------- main


def midway_kill(cluster: Cluster, result: Result):  # noqa: ANN201
    def kill(load: Load) -> None:
        row = cluster.server_stat("web1")
        with load.lock:
            result.in_flight_client = load.in_flight
        result.in_flight_web1 = int(row.get("scur") or 0)
        began = result.killed_at = time.monotonic()
        cluster.kill_web(1)
        cluster.wait_status("web1", "DOWN", 15)
        down = time.monotonic() - began
        time.sleep(1)
        cluster.start_web(1)
        cluster.wait_web(1)
        cluster.wait_status("web1", "UP", 30)
        result.back_at = time.monotonic()
        result.kill_note = (
            f"web1 (master and {WORKERS} workers) got SIGKILL; HAProxy marked it DOWN after "
            f"{down:.1f} s, restarted, UP again {time.monotonic() - began:.1f} s after the kill"
        )

    return kill


def run(args: argparse.Namespace, tmp: Path) -> int:
    db_url, db_name = scratch_database(args.postgres)
    cluster = s3 = None
    try:
        env = app_env(tmp, db_url)
        s3 = start_s3(tmp, env) if s3_store_available() else None
        store = "S3 (moto on loopback)" if s3 else "photos in a shared folder"
        migrate(env)
        say(f"database {db_name}: seeding {args.patients} patients, {args.clinicians} clinicians")
        patients, staff = seed(db_url, args.patients, args.clinicians)
        (tmp / "photos").mkdir()
        cluster = Cluster(tmp, env, [free_port(), free_port()], free_port(), tmp / "haproxy.sock")
        if s3:
            cluster.others.append(s3)  # stopped with the rest
        cluster.start_web(1)
        cluster.start_web(2)
        cluster.start_others()
        cluster.wait_web(1)
        cluster.wait_web(2)
        cluster.wait_status("web1", "UP")
        cluster.wait_status("web2", "UP")
        users = patients + staff
        args.threads = args.threads or len(users)  # one per user: the client never queues
        for who in users:
            sign_in(cluster.haproxy_port, who)
        photo = photo_jpeg()
        say(
            f"HAProxy ({HAPROXY_CFG.relative_to(ROOT)}) on :{cluster.haproxy_port}; gunicorn "
            f"-w {WORKERS} on :{cluster.ports[0]} and :{cluster.ports[1]}; {DISPATCHERS} "
            f"dispatchers; PostgreSQL; Redis db 7; {store}. "
            f"{len(patients)} patients + {len(staff)} clinicians, {args.threads} threads, "
            f"think {THINK[0]:g}-{THINK[1]:g} s, {args.seconds:g} s per run"
        )
        # The single-instance run in two halves, before and after the cluster run (on
        # web1, then on web2: never a just-restarted instance), so that a change in what
        # else the machine is doing weighs on both runs alike.
        single, both = Result("single"), Result("cluster")
        half = args.seconds / 2
        cluster.admin("set server app/web2 state maint")
        Load(cluster.haproxy_port, users, photo, single).run(half, args.threads)
        cluster.admin("set server app/web2 state ready")
        cluster.wait_status("web2", "UP")
        Load(cluster.haproxy_port, users, photo, both).run(
            args.seconds, args.threads, midway_kill(cluster, both)
        )
        cluster.admin("set server app/web1 state maint")
        Load(cluster.haproxy_port, users, photo, single).run(half, args.threads)
        cluster.admin("set server app/web1 state ready")
        say(f"single run: {sum(map(len, single.latencies.values()))} requests")
        say(f"cluster run: {sum(map(len, both.latencies.values()))} requests")
        failed = [ln for ln in (tmp / "haproxy.log").read_text().splitlines() if FAILED.search(ln)]
        say(f"HAProxy log, requests answered 5xx ({len(failed)}; the first 12):")
        for line in failed[:12]:
            say(f"    {line[:160]}")
        # web1 is in maintenance during the single run, so any web1 drop is the kill's.
        both.dropped_web1 = sum(
            1 for line in failed if (m := DROPPED.search(line)) and m.group(1) == "web1"
        )
        lost = lost_writes(db_url, single.acks + both.acks)
        # Every photo row's files, read back from the store and checked against their
        # sha256: an acknowledged upload must have its objects, not only its row.
        verify = subprocess.run(
            [sys.executable, "-m", "flask", "photos", "verify"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        say(f"flask photos verify ({store}): {(verify.stdout + verify.stderr).strip()[-300:]}")
        if verify.returncode != 0:
            lost["photo files (flask photos verify)"] += 1
        ratio = report(single, both)
        return verdict(single, both, ratio, lost)
    finally:
        if cluster:
            cluster.stop()
        elif s3:
            s3.terminate()
            s3.wait(10)
        drop_database(args.postgres, db_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="seconds per run (60)")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--clinicians", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=0, help="client threads (default: one per user)"
    )
    parser.add_argument("--quick", action="store_true", help="20 s, 30 patients, 4 clinicians")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="an existing database of a server where a scratch database may be created",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.patients, args.clinicians = 20, 30, 4
    if not Path(HAPROXY).exists():
        say("needs Debian's HAProxy:  sudo apt-get install -y haproxy")
        return 2
    # `kill PID` or a CI timeout sends SIGTERM, whose default action ends Python without
    # running `finally`: HAProxy, gunicorn (sessions of their own), moto, the dispatchers
    # and the scratch database would all be left behind. As an exception, they are not.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="sclerocare-cluster-") as tmp:
            return run(args, Path(tmp))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
