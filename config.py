"""Configuration classes: safe defaults here, secrets from instance/config.py or FLASK_* env.

Loading order (see ``app.create_app``): the class chosen by ``APP_ENV`` (production by
default, so a missing variable can never switch debug on), then ``instance/config.py``,
then ``FLASK_*`` environment variables, then explicit overrides, then ``validate()``.
"""

from __future__ import annotations

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
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
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
    # Sign-in sessions end after this much idleness (security checklist A7).
    SCLERO_PATIENT_IDLE = timedelta(days=14)
    SCLERO_CLINICIAN_IDLE = timedelta(minutes=30)
    SCLERO_INVITE_TTL = timedelta(days=7)
    # After discharge a patient may still read their diary, photos and plan this long.
    SCLERO_DISCHARGE_READ = timedelta(days=90)
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
    # At most this many asks an hour from one network address, for any emails: someone
    # with a list of patients' emails cannot have the clinic mail every one of them.
    # Off (0) by default: behind the README's proxy every request comes from 127.0.0.1
    # (nothing rewrites REMOTE_ADDR from X-Forwarded-For), and a limit on that one
    # address would let anyone stop every reset. Set it where the address is the client's.
    SCLERO_RESET_MAX_PER_ADDRESS = int(os.environ.get("SCLERO_RESET_MAX_PER_ADDRESS", "0") or 0)
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
    # --- staff second factor and password change (issue 18) ---
    # Clinicians and admins must pass a TOTP code after their password (and enrol one
    # first if they have none). On unless a config turns it off: Development and
    # Testing do, so `make run` and the suite sign in with a password alone.
    SCLERO_STAFF_MFA_REQUIRED = True
    # "Trust this device": skips the code on that browser for this long, 12 h at most.
    SCLERO_MFA_TRUST = timedelta(hours=12)
    # Wrong codes that end a pending sign-in (the person starts again with the password).
    SCLERO_MFA_MAX_FAILURES = 5

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Refuse to start without a database URL and a secret key."""
        if not config.get("SQLALCHEMY_DATABASE_URI"):
            raise ConfigError("Set FLASK_SQLALCHEMY_DATABASE_URI (e.g. postgresql+psycopg://...).")
        if not config.get("SECRET_KEY"):
            raise ConfigError("Set FLASK_SECRET_KEY to a long random value.")


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


class ProductionConfig(Config):
    """Production: every secret from the environment; refuses dev values."""

    SCLERO_DEMO = False

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
