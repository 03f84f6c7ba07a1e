"""Configuration classes: safe defaults here, secrets from instance/config.py or FLASK_* env.

Loading order (see ``app.create_app``): the class chosen by ``APP_ENV`` (production by
default, so a missing variable can never switch debug on), then ``instance/config.py``,
then ``FLASK_*`` environment variables, then explicit overrides, then ``validate()``.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from typing import Any


def _env_flag(name: str) -> bool:
    """A yes/no environment variable: 1, true, yes or on mean yes."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


class Config:
    """Defaults shared by every environment. No secrets here."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    # No pre-ping: it costs a round trip per request. PostgreSQL connections are checked
    # at checkout without one (app/dbcheck.py); recycling bounds their age for links
    # dropped silently (docs/decisions/compression-and-connections.md).
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": 1800}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session: patients leave tabs open
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # a whole request; also the largest photo taken
    # The check-in form may carry a photo: a body up to this size is still read, so an
    # over-large photo is refused on its own and the answers are saved (app.speedups: CheckInBody).
    SCLERO_CHECKIN_MAX_BODY = 80 * 1024 * 1024
    SCLERO_INVITE_TTL = timedelta(days=7)
    # After discharge a patient may still read their diary, photos and plan this long.
    SCLERO_DISCHARGE_READ = timedelta(days=90)
    # Backups age out (checklist E7): `flask backup prune ROOT` removes this app's backups
    # older than KEEP_DAYS, always keeping the newest KEEP_LAST; `flask retention run`
    # prunes SCLERO_BACKUP_ROOT when set. An erased patient stays in backups at most
    # KEEP_DAYS after erasure (docs/decisions/account-closure.md).
    # A stopped or replaced calendar link answers an empty calendar this long, so
    # subscribed calendars clear its events; then 404 (app/services/ical/links.py).
    SCLERO_CALENDAR_RETIRED = timedelta(days=30)
    SCLERO_BACKUP_ROOT: str | None = None
    SCLERO_BACKUP_KEEP_DAYS = 35
    SCLERO_BACKUP_KEEP_LAST = 3
    # Throttle: this many failed sign-ins for one email in the window locks that email.
    SCLERO_LOGIN_MAX_FAILURES = 10
    SCLERO_LOGIN_WINDOW = timedelta(minutes=15)
    # argon2id, OWASP minimum (m=19 MiB, t=2, p=1); security checklist A1.
    SCLERO_ARGON2 = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
    SCLERO_PROTOCOL_DIR = os.path.join(os.path.dirname(__file__), "app", "protocols")
    # Web push (VAPID). Production sets both; development keeps a key in instance/.
    VAPID_PRIVATE_KEY: str | None = None
    VAPID_SUBJECT: str | None = None
    VAPID_GENERATE_DEV_KEY: str | bool = False  # True: instance/ file; "memory": per process
    # Push endpoints must be https on these hosts (security checklist B10: no SSRF).
    PUSH_ALLOWED_HOSTS: tuple[str, ...] = (
        "fcm.googleapis.com",
        "android.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.services.mozilla.com",
        "web.push.apple.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    )
    PUSH_ALLOW_HTTP: tuple[str, ...] = ()  # host:port allowed over http (tests only)
    PUSH_TIMEOUT_SECONDS = 10.0
    NOTIFY_POLL_SECONDS = 15.0
    # Email (Flask-Mailman over SMTP; app/adapters/mail.py). Read from MAIL_* variables
    # (or FLASK_MAIL_*); production refuses to start without a sender address.
    MAIL_BACKEND = "smtp"  # Flask-Mailman's default in tests is an in-memory outbox
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25") or 25)
    MAIL_USE_TLS = _env_flag("MAIL_USE_TLS")  # STARTTLS on MAIL_PORT (usually 587)
    MAIL_USE_SSL = _env_flag("MAIL_USE_SSL")  # TLS from the first byte (usually 465)
    MAIL_USERNAME: str | None = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD: str | None = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER: str | None = os.environ.get("MAIL_DEFAULT_FROM") or None
    MAIL_TIMEOUT = 10.0  # seconds per SMTP operation: a hung server must not stall a batch
    # The address patients and staff reach the app at, e.g. https://care.example-clinic.uk.
    # Links made outside a request (emails sent by the dispatcher, ``flask clinic create``)
    # are built from it, never from a request's Host header, which the sender controls.
    # Production refuses to start without an https one. SCLERO_BASE_URL or
    # FLASK_SCLERO_BASE_URL.
    SCLERO_BASE_URL: str | None = os.environ.get("SCLERO_BASE_URL") or None
    SCLERO_RESET_TTL = timedelta(hours=1)
    # At most this many reset emails per account per hour; more asks get the same page.
    SCLERO_RESET_MAX_PER_HOUR = 3
    # "Forgot your password?" takes at least this long for any email, known or not, so
    # its timing does not tell which emails have accounts (app/services/accounts/reset.py).
    SCLERO_RESET_MIN_SECONDS = 0.25
    # Asks from one network address are limited by SCLERO_RESET_ASK_LIMIT (app/limits.py).
    # Photo diary. Files live outside static/; None means <instance folder>/photos.
    PHOTO_STORAGE_DIR: str | None = None
    PHOTO_MAX_PIXELS = 50_000_000  # checked from the header, before any decoding
    PHOTO_LONG_EDGE = 2048  # stored size: enough for clinical detail
    PHOTO_THUMB_EDGE = 320
    PHOTO_JPEG_QUALITY = 88
    PHOTO_MAX_PER_DAY = 20
    PHOTO_MAX_TOTAL = 500
    # Unreferenced files younger than this may belong to an upload still in flight.
    PHOTO_ORPHAN_MINUTES = 60
    # Tests only (ignored unless TESTING): simulate a crash at a write stage.
    PHOTO_CRASH_AT: str | None = None
    # Where photo files live (README "Photo storage"): "local" (PHOTO_STORAGE_DIR) or
    # "s3", an S3-compatible bucket (AWS S3, MinIO, Ceph) through boto3. Credentials come
    # from boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, instance role...).
    SCLERO_PHOTO_STORE = (os.environ.get("SCLERO_PHOTO_STORE") or "local").strip().lower()
    SCLERO_S3_BUCKET: str | None = os.environ.get("SCLERO_S3_BUCKET") or None
    SCLERO_S3_ENDPOINT_URL: str | None = os.environ.get("SCLERO_S3_ENDPOINT_URL") or None  # AWS
    SCLERO_S3_REGION: str | None = os.environ.get("SCLERO_S3_REGION") or None
    SCLERO_S3_PREFIX = os.environ.get("SCLERO_S3_PREFIX", "")
    # Connect and read timeout of each call, and attempts in all: a bucket that does not
    # answer fails a photo request in about timeout x attempts seconds, never hangs it.
    # Kept as given and checked at start-up (_photo_store_problems): "abc" was a traceback
    # on import, and "-1" or "nan" a ValueError (a 500) on every photo.
    SCLERO_S3_TIMEOUT: float | str = os.environ.get("SCLERO_S3_TIMEOUT") or 5.0
    SCLERO_S3_ATTEMPTS: int | str = os.environ.get("SCLERO_S3_ATTEMPTS") or 2
    # --- staff second factor and password change (issue 18) ---
    # Clinicians and admins must pass a TOTP code after their password (and enrol one
    # first if they have none). On unless a config turns it off: Development and
    # Testing do, so `make run` and the suite sign in with a password alone.
    SCLERO_STAFF_MFA_REQUIRED = True
    # "Trust this device": skips the code on that browser for this long, 12 h at most.
    SCLERO_MFA_TRUST = timedelta(hours=12)
    # Wrong codes that end a pending sign-in (the person starts again with the password).
    SCLERO_MFA_MAX_FAILURES = 5

    # --- per-address limits (issue 18) ---
    # Flask-Limiter's store (app/limits.py). Every worker must share the counts, so
    # production uses Redis (this default: a Redis on the same machine, database 0) and
    # refuses memory://, which counts per process. Development and tests use memory://.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "redis://127.0.0.1:6379/0"
    # POSTs per client address (the limits library's syntax), counted whatever the answer:
    # sign-in; "Forgot your password?" (each may send an email); the invitation and reset
    # pages together. A clinic's staff and patients on its Wi-Fi share one address, so
    # the sign-in limit leaves room for a busy morning.
    SCLERO_SIGNIN_LIMIT = os.environ.get("SCLERO_SIGNIN_LIMIT") or "30 per 15 minutes"
    SCLERO_RESET_ASK_LIMIT = os.environ.get("SCLERO_RESET_ASK_LIMIT") or "10 per hour"
    SCLERO_LINK_PAGE_LIMIT = os.environ.get("SCLERO_LINK_PAGE_LIMIT") or "30 per 15 minutes"
    # Requests from 127.0.0.1 or ::1 are not limited per address: behind a local proxy
    # whose hops are not configured, every client seems to come from there, and one
    # limit would then stop everybody. Turn off only if clients really connect locally.
    SCLERO_RATELIMIT_EXEMPT_LOOPBACK = True

    # --- headers, hosts, proxies and production refusals (issue 18) ---
    # Sent with every response once cookies are Secure (production): browsers then only
    # ever use https for a year, so a café's Wi-Fi cannot strip it (checklist D5).
    SCLERO_HSTS = "max-age=31536000; includeSubDomains"
    # Host names the app answers to; any other Host header gets 400 (Flask's
    # TRUSTED_HOSTS). A comma-separated list from SCLERO_TRUSTED_HOSTS; empty means every
    # host in development and tests, and the host of SCLERO_BASE_URL in production
    # (app/web.py: install_hosts_and_proxies).
    SCLERO_TRUSTED_HOSTS: str | list[str] = os.environ.get("SCLERO_TRUSTED_HOSTS", "")
    SCLERO_HOSTS_FROM_BASE_URL = False
    # How many proxies (nginx, a load balancer) stand in front of gunicorn. Each appends
    # the address it got the request from to X-Forwarded-For, so only the rightmost this
    # many entries can be trusted: a client can write anything to the left of them.
    # 0 (no proxy) ignores X-Forwarded-For; too high a number lets clients choose their
    # address in the audit trail and the per-address limits (checklist G6).
    SCLERO_PROXY_COUNT: int | str = os.environ.get("SCLERO_PROXY_COUNT", "0") or 0
    # Production refuses SQLite unless this is set (a single-machine clinic that backs
    # the file up), and refuses Flask-Limiter's memory:// storage unless the other is
    # set (with one gunicorn worker only: each worker would count on its own).
    SCLERO_ALLOW_SQLITE = _env_flag("SCLERO_ALLOW_SQLITE")
    SCLERO_ALLOW_MEMORY_LIMITS = _env_flag("SCLERO_ALLOW_MEMORY_LIMITS")
    # How many app servers (machines or gunicorn masters) serve this clinic network. With
    # more than one, or more than one gunicorn worker (gunicorn.conf.py tells the workers
    # how many there are), nothing a request needs may live in one process: production
    # then refuses memory:// limits whatever SCLERO_ALLOW_MEMORY_LIMITS says
    # (docs/decisions/stateless-app-servers.md).
    SCLERO_INSTANCES: int | str = os.environ.get("SCLERO_INSTANCES", "1") or 1

    # --- session lifetimes (issue 18) ---
    # A sign-in session ends after this much idleness, or this long after sign-in
    # however active (security checklist A7; ASVS 3.3.2; docs/decisions/session-lifetimes.md).
    SCLERO_PATIENT_IDLE = timedelta(minutes=30)
    SCLERO_CLINICIAN_IDLE = timedelta(minutes=15)
    SCLERO_PATIENT_ABSOLUTE = timedelta(hours=12)
    SCLERO_CLINICIAN_ABSOLUTE = timedelta(hours=12)
    # A patient's remembered phone: a device token in a cookie plus a PIN opens a new
    # session without the password, until this long after the phone was remembered.
    SCLERO_DEVICE_TTL = timedelta(days=30)
    # This many wrong PINs in a row forget the phone (the password is needed again).
    SCLERO_DEVICE_PIN_TRIES = 5

    # --- fresh sign-in and refused reads (issue 18) ---
    # Sensitive staff actions (roles, links, second-factor reset, settings, sign-off)
    # need the password (and code) proved within this long (checklist A9; app/freshness.py).
    SCLERO_FRESH_AUTH = timedelta(minutes=15)
    # Wrong tries on "Confirm it's you" before the session ends, as at sign-in.
    SCLERO_REAUTH_MAX_FAILURES = 5
    # More refused object reads than this by one account in an hour alert the clinic's
    # admins (checklist E2; app/services/refusals.py).
    SCLERO_REFUSAL_ALERT_LIMIT = 50

    # --- production review: rate-limit store timeouts (issue 18) ---
    # redis-py waits 5 s for an answer by default, so a Redis that hangs (full memory, a
    # stuck host) held sign-ins for 5 s at a time in every worker. The local Redis answers
    # in about a millisecond; after this long the limiter counts in memory instead
    # (app/limits.py) and the page is answered.
    RATELIMIT_STORAGE_OPTIONS: dict[str, Any] = {
        "socket_timeout": 0.3,
        "socket_connect_timeout": 0.3,
    }

    # --- desk layout (issue 19 point 1, task "desk") ---
    # How often the dashboard asks whether its worklist changed (app/static/js/worklist.js).
    # An unchanged list costs one small request (204) and is neither sent nor audited.
    SCLERO_WORKLIST_POLL_SECONDS = 45

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Refuse to start without a database URL and a secret key."""
        if not config.get("SQLALCHEMY_DATABASE_URI"):
            raise ConfigError("Set FLASK_SQLALCHEMY_DATABASE_URI (e.g. postgresql+psycopg://...).")
        if not config.get("SECRET_KEY"):
            raise ConfigError("Set FLASK_SECRET_KEY to a long random value.")

    # Task "today" (issue 19 point 4): the locale of dates the page's script writes
    # itself (the offline banner), rendered on the sc-generated meta: day month year,
    # never the phone's own locale.
    SCLERO_DATE_LOCALE = "en-GB"

    # --- closure and retention (issue 20 point 4, task "ret") ---
    # Years a closed account's clinical record is kept when the clinic has not set its
    # own: UK adult health records, 8 years after the end of treatment (NHS England
    # Records Management Code of Practice 2021); each clinic may choose otherwise.
    SCLERO_RETENTION_YEARS = 8
    # Photos at closure when the clinic has not chosen: "keep" them with the record
    # (erased with it) or "delete" them when the account is closed.
    SCLERO_PHOTOS_AT_CLOSURE = "keep"

    # --- the patient's calendar (issue 20 point 3, task "ical") ---
    # Fetches of calendar subscription links (app/patient/calendar.py), per link and per
    # client address. A calendar app polls a link every 15 minutes to a day, so a link
    # fetched more often than the first is a runaway client. The second is per address
    # and high: Google Calendar fetches every Google user's links from a few of its own
    # addresses, so a low one would stop all of a clinic's Google subscriptions at once.
    # Guessing links is hopeless at any rate (256-bit tokens): these only keep it cheap.
    SCLERO_CALENDAR_LINK_LIMIT = os.environ.get("SCLERO_CALENDAR_LINK_LIMIT") or "30 per hour"
    SCLERO_CALENDAR_FEED_LIMIT = os.environ.get("SCLERO_CALENDAR_FEED_LIMIT") or "3000 per hour"

    # --- "Download my data" (issue 20 point 1, task "export") ---
    # A ready export's link works once, until this long after it was built; then the
    # zip is deleted (app/services/export/jobs.py). A day covers "it came while I slept".
    SCLERO_EXPORT_LINK_TTL = timedelta(hours=24)
    # A worker building an export holds it this long, renewed as it goes; a worker killed
    # mid-build lets another take the job once the lease runs out.
    SCLERO_EXPORT_LEASE = timedelta(minutes=5)
    # Attempts before a job is given up as failed (the patient may then ask again).
    SCLERO_EXPORT_MAX_ATTEMPTS = 3
    # Where zips are built; empty means instance/exports (outside static/, mode 0700).
    SCLERO_EXPORT_DIR = ""

    # --- FHIR ids (issue 20 point 2, review "rvfhir") ---
    # What names this installation in the ids of its FHIR bundles (app/domain/fhir.py:
    # finished), so two clinics' servers never give two patients the same id. Unset:
    # SCLERO_BASE_URL. Set it (any fixed text) before moving to a new address, or every
    # id a receiving EHR holds changes with the address.
    SCLERO_FHIR_INSTALL: str | None = os.environ.get("SCLERO_FHIR_INSTALL") or None


class DevelopmentConfig(Config):
    """``make run``: SQLite in instance/, plain http on 127.0.0.1, a known dev secret."""

    DEBUG = False  # the reloader would start the app twice next to the dispatcher
    SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - development only, refused in production
    VAPID_SUBJECT = "mailto:developers@sclerocare.example"
    VAPID_GENERATE_DEV_KEY = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SCLERO_DEMO = True
    SCLERO_STAFF_MFA_REQUIRED = False  # issue 18: a password alone on `make run`
    # `make run` starts a catcher here (tools/mail_catcher.py); /dev/mail shows its files.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "1025") or 1025)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_FROM") or "ScleroCare <noreply@localhost>"
    SCLERO_BASE_URL = os.environ.get("SCLERO_BASE_URL") or "http://127.0.0.1:5000"
    SCLERO_DEV_MAIL = True  # registers the /dev/mail pages
    RATELIMIT_STORAGE_URI = "memory://"  # one process (issue 18: app/limits.py)


class TestingConfig(Config):
    """Tests: in-memory SQLite unless TEST_DATABASE_URL is given by the test fixtures."""

    TESTING = True
    SECRET_KEY = "test-only-not-secret"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    VAPID_SUBJECT = "mailto:tests@sclerocare.example"
    VAPID_GENERATE_DEV_KEY = "memory"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    WTF_CSRF_ENABLED = False
    SCLERO_STAFF_MFA_REQUIRED = False  # issue 18: tests that need it turn it on
    # The local folder unless a test asks for S3 itself (tests/conftest.py ``s3_app``): an
    # exported SCLERO_PHOTO_STORE=s3 in the shell must not reach every other test.
    SCLERO_PHOTO_STORE = "local"
    # Cheap hashes keep the suite fast; a test checks that production uses the strong ones.
    SCLERO_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    SCLERO_RESET_MIN_SECONDS = 0.0  # the timing test sets its own floor
    SCLERO_DEMO = True
    # Nothing from the developer's environment: tests that send start their own SMTP
    # server on loopback (tests/smtp_double.py) and point MAIL_PORT at it. Port 9 is
    # "discard", closed here, so a stray send fails fast instead of reaching a real server.
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 9
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_DEFAULT_SENDER = "ScleroCare <noreply@clinic.example>"
    MAIL_TIMEOUT = 2.0
    SCLERO_BASE_URL = "http://localhost"
    RATELIMIT_STORAGE_URI = "memory://"  # each test's app counts afresh (app/limits.py)
    # The test client's requests come from 127.0.0.1: count them, as a real client's
    # would be (tests that send more than a limit's worth turn the exemption on).
    SCLERO_RATELIMIT_EXEMPT_LOOPBACK = False


class ProductionConfig(Config):
    """Production: every secret from the environment; refuses dev values."""

    SCLERO_DEMO = False
    # ``__Host-``: the browser keeps such a cookie only if it is Secure, has Path=/ and
    # no Domain, so no sibling subdomain can set or overwrite the session (checklist D5).
    # Development (plain http) keeps the plain names, which the browser would drop.
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_PATH = "/"
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    REMEMBER_COOKIE_PATH = "/"
    SCLERO_HOSTS_FROM_BASE_URL = True

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        super().validate(config)
        if (
            str(config["SECRET_KEY"]).startswith(("dev-only", "test-only"))
            or len(str(config["SECRET_KEY"])) < 32
        ):
            raise ConfigError("FLASK_SECRET_KEY must be a random value of at least 32 characters.")
        if not config.get("MAIL_DEFAULT_SENDER"):
            raise ConfigError(
                "Set MAIL_DEFAULT_FROM to the address emails come from "
                '(e.g. "Your Clinic <noreply@clinic.example>").'
            )
        if config.get("SCLERO_DEV_MAIL"):
            raise ConfigError("SCLERO_DEV_MAIL shows caught mail to anyone: development only.")
        if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
            raise ConfigError("Set only one of MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL.")
        if not str(config.get("SCLERO_BASE_URL") or "").startswith("https://"):
            raise ConfigError(
                "Set SCLERO_BASE_URL to the site's https address (links in emails use it)."
            )
        problems = unsafe_production_settings(config)
        if problems:
            raise ConfigError(
                "Production refuses to start with unsafe settings:\n- " + "\n- ".join(problems)
            )


# A request's whole body; photos are at most 20 MB, so more than this is a mistake.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
# Folders anyone on the machine may write to, emptied at reboot: no place for the database.
TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - refused, not used


def _under_temp_folder(path: str) -> bool:
    import tempfile

    real = os.path.realpath(path)
    roots = {os.path.realpath(p) for p in (*TEMP_FOLDERS, tempfile.gettempdir())}
    return any(real == root or real.startswith(root + os.sep) for root in roots)


def _sqlite_file(uri: str, root: str) -> str | None:
    """The file an SQLite URL opens, as SQLite and Flask-SQLAlchemy will read it; None
    for an in-memory database.

    Read the way the database layer reads it, not as text: SQLAlchemy decodes percent
    escapes (``sqlite:////%74mp/c.db`` is /tmp/c.db), ``?uri=true`` makes the name a
    ``file:`` URI that SQLite decodes again (``sqlite:///file:/tmp/c.db?uri=true``), and
    Flask-SQLAlchemy puts a relative name in the instance folder (``root``), not in the
    folder the command happens to run from.
    """
    from urllib.parse import unquote
    from urllib.parse import urlsplit

    from sqlalchemy.engine import make_url

    url = make_url(uri)
    name = url.database or ""
    if str(url.query.get("mode", "")).lower() == "memory":
        return None
    if url.query.get("uri") and name.lower().startswith("file:"):
        parts = urlsplit(name)
        if "mode=memory" in parts.query.lower():
            return None
        name = unquote(parts.path)
    if not name or name == ":memory:":
        return None
    return os.path.join(root, name)  # an absolute name stays as it is


def _sqlite_problem(config: dict[str, Any]) -> str | None:
    """Why this database URL is refused in production, or None."""
    uri = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not uri.lower().startswith("sqlite"):
        return None
    root = getattr(config, "root_path", None) or os.getcwd()
    try:
        path = _sqlite_file(uri, root)
    except Exception:  # noqa: BLE001 - SQLAlchemy's own error would only come later
        return "SQLALCHEMY_DATABASE_URI: not a database address SQLAlchemy can read."
    if path is None:
        return "SQLALCHEMY_DATABASE_URI: an in-memory SQLite database loses every record."
    if not config.get("SCLERO_ALLOW_SQLITE"):
        return (
            "SQLALCHEMY_DATABASE_URI: SQLite is for a single-machine clinic only; use "
            "PostgreSQL, or set SCLERO_ALLOW_SQLITE=1 if this really is one machine."
        )
    if _under_temp_folder(path):
        return (
            "SQLALCHEMY_DATABASE_URI: the SQLite file is under a temporary folder, which is "
            "emptied at reboot; put it on a disk that is backed up."
        )
    return None


def _mode_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    if config.get("DEBUG"):
        problems.append(
            "DEBUG (FLASK_DEBUG): debug mode shows internals and code to anyone; turn it off."
        )
    if config.get("TESTING"):
        problems.append("TESTING: test mode changes error handling; turn it off.")
    if config.get("LOGIN_DISABLED"):
        problems.append("LOGIN_DISABLED: every page would be open to anyone.")
    # From the environment FLASK_WTF_CSRF_ENABLED=0 (or null, "") arrives as 0 or None,
    # which Flask-WTF reads as "off" too; a word such as "no" leaves it on, but says the
    # operator meant off, so it is refused as well.
    csrf = config.get("WTF_CSRF_ENABLED", True)
    if not csrf or str(csrf).strip().lower() in ("0", "false", "no", "off"):
        problems.append(
            "WTF_CSRF_ENABLED: forms must be protected from forged requests "
            "(leave it unset, or set it to true)."
        )
    if config.get("PUSH_ALLOW_HTTP"):
        problems.append("PUSH_ALLOW_HTTP: push services must be reached over https (tests only).")
    return problems


def _cookie_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if not config.get(name):
            problems.append(f"{name}: sign-in cookies must only travel over https.")
    for name in ("SESSION_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY"):
        if not config.get(name):
            problems.append(f"{name}: scripts must not be able to read sign-in cookies.")
    if str(config.get("SESSION_COOKIE_SAMESITE") or "").lower() not in ("lax", "strict"):
        problems.append("SESSION_COOKIE_SAMESITE: must be Lax or Strict.")
    if str(config.get("SESSION_COOKIE_NAME") or "").startswith("__Host-") and (
        config.get("SESSION_COOKIE_DOMAIN") or (config.get("SESSION_COOKIE_PATH") or "/") != "/"
    ):
        problems.append(
            "SESSION_COOKIE_DOMAIN / SESSION_COOKIE_PATH: a __Host- cookie has no Domain and "
            "Path=/; browsers would drop it and nobody could sign in."
        )
    for key in config.get("SECRET_KEY_FALLBACKS") or ():
        if len(str(key)) < 32 or str(key).startswith(("dev-only", "test-only")):
            problems.append(
                "SECRET_KEY_FALLBACKS: each old key must be a production key (32+ characters)."
            )
            break
    return problems


def _limit_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    size = config.get("MAX_CONTENT_LENGTH")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_REQUEST_BYTES:
        problems.append(
            f"MAX_CONTENT_LENGTH: set a request size limit of at most {MAX_REQUEST_BYTES} "
            "bytes, or one upload could fill the disk or the memory."
        )
    # A signed-in patient's check-in may be read up to this size (app/speedups.py); None
    # (FLASK_SCLERO_CHECKIN_MAX_BODY=null) would let one patient's session send anything.
    checkin = config.get("SCLERO_CHECKIN_MAX_BODY")
    if (
        not isinstance(checkin, int)
        or isinstance(checkin, bool)
        or not 0 < checkin <= MAX_REQUEST_BYTES
    ):
        problems.append(
            f"SCLERO_CHECKIN_MAX_BODY: set the check-in size limit to at most "
            f"{MAX_REQUEST_BYTES} bytes."
        )
    for name in ("MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS"):
        if name in config and config[name] is None:
            problems.append(f"{name}: keep a limit (Flask's default is safe).")
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "")
    processes, why = serving_processes(config)
    if processes is None:
        problems.append(why)
    elif processes > 1:
        problems.extend(_several_process_problems(config, why))
    elif storage.startswith("memory://") and not config.get("SCLERO_ALLOW_MEMORY_LIMITS"):
        problems.append(
            "RATELIMIT_STORAGE_URI: memory:// counts per worker, so limits multiply with "
            "workers and reset on restart; use redis://, or set SCLERO_ALLOW_MEMORY_LIMITS=1 "
            "with a single worker."
        )
    sqlite = _sqlite_problem(config)
    if sqlite:
        problems.append(sqlite)
    return problems


# Set by gunicorn.conf.py in gunicorn's master before it starts the workers, which
# inherit it: how many workers this app server runs.
WORKERS_VARIABLE = "SCLERO_GUNICORN_WORKERS"


def serving_processes(config: dict[str, Any]) -> tuple[int | None, str]:
    """How many processes serve requests (app servers times gunicorn workers) and the
    words that say so; (None, the problem) for a count that is not a whole number >= 1."""
    counts = []
    for name, raw in (
        ("SCLERO_INSTANCES", config.get("SCLERO_INSTANCES", 1)),
        (WORKERS_VARIABLE, os.environ.get(WORKERS_VARIABLE) or 1),
    ):
        try:
            number = int(str(raw).strip())
        except ValueError:
            number = 0
        if isinstance(raw, bool) or number < 1:
            return None, f"{name}: give the number of app servers as a whole number, 1 or more."
        counts.append(number)
    instances, workers = counts
    return instances * workers, (
        f"{instances * workers} processes are configured (SCLERO_INSTANCES={instances} "
        f"app servers x {workers} gunicorn workers each)"
    )


def _several_process_problems(config: dict[str, Any], why: str) -> list[str]:
    """What may not live in one process when several serve (stateless-app-servers.md)."""
    problems = []
    if str(config.get("RATELIMIT_STORAGE_URI") or "").startswith("memory://"):
        problems.append(
            f"RATELIMIT_STORAGE_URI: memory:// counts in each process, and {why}: every "
            "limit would be that many times looser and a locked-out client would simply be "
            "sent to another process. Use redis:// on a Redis every instance shares; "
            "SCLERO_ALLOW_MEMORY_LIMITS only applies to a single process."
        )
    if config.get("VAPID_GENERATE_DEV_KEY") and not config.get("VAPID_PRIVATE_KEY"):
        problems.append(
            f"VAPID_GENERATE_DEV_KEY: {why}, and each would sign pushes with a key of its "
            "own, which a phone subscribed through another refuses. Set VAPID_PRIVATE_KEY, "
            "the same on every instance and dispatcher."
        )
    if int(str(config.get("SCLERO_INSTANCES", 1)).strip()) > 1:
        problems.extend(_machine_folder_problems(config))
    return problems


def _machine_folder_problems(config: dict[str, Any]) -> list[str]:
    """Left unset, these folders are inside each app server's own instance folder: a
    photo uploaded through one was a 500 ("missing") on the others, and a "Download my
    data" zip built on one was not found on the next (stateless-app-servers.md)."""
    problems = []
    local = (config.get("SCLERO_PHOTO_STORE") or "local") == "local"
    if local and not config.get("PHOTO_STORAGE_DIR"):
        problems.append(
            "PHOTO_STORAGE_DIR: several app servers (SCLERO_INSTANCES) would each keep "
            "photos in their own instance folder. Use SCLERO_PHOTO_STORE=s3, or set "
            "PHOTO_STORAGE_DIR to one folder every instance mounts."
        )
    # With the photos in S3 the finished zips wait in the bucket too (export/files.py
    # ``zips``); the export folder is then only each builder's scratch space.
    if local and not config.get("SCLERO_EXPORT_DIR"):
        problems.append(
            "SCLERO_EXPORT_DIR: several app servers (SCLERO_INSTANCES) would each keep "
            "patients' downloads in their own instance folder. Use SCLERO_PHOTO_STORE=s3 "
            "(downloads then wait in the bucket), or set it to one folder every instance "
            "and dispatcher mounts."
        )
    return problems


def unsafe_production_settings(config: dict[str, Any]) -> list[str]:
    """Every setting that would make production unsafe, each naming the setting.

    Each guards against an override that is easy to leave in by mistake (a debugging
    session, a test's settings, a copied development file) and that nothing else would
    notice until it had exposed patients' records.
    """
    return (
        _mode_problems(config)
        + _cookie_problems(config)
        + _limit_problems(config)
        + _photo_store_problems(config)
    )


def _photo_store_problems(config: dict[str, Any]) -> list[str]:
    kind = config.get("SCLERO_PHOTO_STORE") or "local"
    if kind not in ("local", "s3"):
        return [f"SCLERO_PHOTO_STORE: use local or s3, not {kind!r}."]
    problems = []
    if kind == "s3" and not config.get("SCLERO_S3_BUCKET"):
        problems.append(
            "SCLERO_S3_BUCKET: SCLERO_PHOTO_STORE is s3, so name the bucket photos go in."
        )
    # Checked whatever the store: `flask photos migrate --to s3` uses them before the switch.
    timeout = _number(config.get("SCLERO_S3_TIMEOUT", 5.0), float)
    if timeout is None or not 0 < timeout <= 300:
        problems.append("SCLERO_S3_TIMEOUT: give the seconds a bucket call may take, 0 < s <= 300.")
    attempts = _number(config.get("SCLERO_S3_ATTEMPTS", 2), int)
    if attempts is None or not 1 <= attempts <= 10:
        problems.append("SCLERO_S3_ATTEMPTS: give the tries of each bucket call, 1 to 10.")
    prefix = str(config.get("SCLERO_S3_PREFIX") or "").strip("/")
    # "../", "a//b" or a control character is a key some servers refuse (MinIO) or that
    # a copy to disk (aws s3 sync) turns into a path outside its folder.
    if prefix and (
        any(part in ("", ".", "..") for part in prefix.split("/"))
        or any(ord(c) < 32 or c in "\\\x7f" for c in prefix)
        or len(prefix.encode()) > 512
    ):
        problems.append(
            "SCLERO_S3_PREFIX: use folder names separated by single '/' (no '.', '..', "
            "empty parts, backslashes or control characters), at most 512 bytes."
        )
    return problems


def _number(raw: object, kind: type[int] | type[float]) -> float | None:
    """``raw`` (a setting, often a string from the environment) as a finite number of
    ``kind``, or None when it is not one."""
    if isinstance(raw, bool):
        return None
    try:
        number = kind(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_by_name(name: str) -> type[Config]:
    """The config class for an ``APP_ENV`` value; unknown names are an error."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
