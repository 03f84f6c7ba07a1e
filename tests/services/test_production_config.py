"""Production refuses unsafe configuration (issue 18 point 9, checklist G1), and a key
rotation through ``SECRET_KEY_FALLBACKS`` keeps sign-ins during it (G2).

Each refusal is tried on ``create_app(ProductionConfig, ...)`` with one unsafe setting
on top of a complete, safe production configuration, and must name the setting.
``production_app`` is shared with the header and host tests.
"""

from __future__ import annotations

import re

import pytest

import config
from app import create_app
from app.extensions import db
from config import ConfigError
from config import ProductionConfig
from config import TestingConfig
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of

BASE = "https://care.clinic.example"
SAFE = {
    "SECRET_KEY": "k" * 48,
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://sclerocare@db.invalid/sclerocare",
    "VAPID_GENERATE_DEV_KEY": "memory",
    "VAPID_SUBJECT": "mailto:it@clinic.example",
    "MAIL_DEFAULT_SENDER": "Clinic <noreply@clinic.example>",
    "SCLERO_BASE_URL": BASE,
}


@pytest.fixture(autouse=True)
def _no_flask_env(monkeypatch):
    """The developer's FLASK_* variables must not decide what production accepts."""
    import os

    for name in list(os.environ):
        if name.startswith("FLASK_") or name.startswith("SCLERO_"):
            monkeypatch.delenv(name)


def production_app(monkeypatch, database_url: str | None = None, **overrides):
    """The app with the production configuration, on the suite's database if given.

    The suite's SQLite file lives under /tmp, which production refuses; the temporary
    folder check is switched off for that one case, and only here.
    """
    settings = dict(SAFE)
    if database_url:
        settings["SQLALCHEMY_DATABASE_URI"] = database_url
        if database_url.startswith("sqlite"):
            settings["SCLERO_ALLOW_SQLITE"] = True
            monkeypatch.setattr(config, "_under_temp_folder", lambda path: False)
    settings.update(overrides)
    return create_app(ProductionConfig, **settings)


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def test_a_complete_safe_configuration_starts(monkeypatch):
    app = production_app(monkeypatch)
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["TRUSTED_HOSTS"] == ["care.clinic.example"]
    dispose(app)


REFUSED = [
    ("DEBUG", {"DEBUG": True}),
    ("WTF_CSRF_ENABLED", {"WTF_CSRF_ENABLED": False}),
    ("SESSION_COOKIE_SECURE", {"SESSION_COOKIE_SECURE": False}),
    ("REMEMBER_COOKIE_SECURE", {"REMEMBER_COOKIE_SECURE": False}),
    ("SESSION_COOKIE_HTTPONLY", {"SESSION_COOKIE_HTTPONLY": False}),
    ("REMEMBER_COOKIE_HTTPONLY", {"REMEMBER_COOKIE_HTTPONLY": False}),
    ("SESSION_COOKIE_SAMESITE", {"SESSION_COOKIE_SAMESITE": None}),
    ("SESSION_COOKIE_DOMAIN", {"SESSION_COOKIE_DOMAIN": "clinic.example"}),
    ("PUSH_ALLOW_HTTP", {"PUSH_ALLOW_HTTP": ("127.0.0.1:8080",)}),
    ("SQLALCHEMY_DATABASE_URI", {"SQLALCHEMY_DATABASE_URI": "sqlite:////srv/sclero/clinic.db"}),
    (
        "SQLALCHEMY_DATABASE_URI",
        {"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/clinic.db", "SCLERO_ALLOW_SQLITE": True},
    ),
    (
        "SQLALCHEMY_DATABASE_URI",
        {"SQLALCHEMY_DATABASE_URI": "sqlite:////var/tmp/c.db", "SCLERO_ALLOW_SQLITE": True},
    ),
    ("SQLALCHEMY_DATABASE_URI", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SCLERO_ALLOW_SQLITE": 1}),
    ("MAX_CONTENT_LENGTH", {"MAX_CONTENT_LENGTH": None}),
    ("MAX_CONTENT_LENGTH", {"MAX_CONTENT_LENGTH": 10 * 1024**3}),
    ("MAX_CONTENT_LENGTH", {"MAX_CONTENT_LENGTH": 0}),
    ("MAX_FORM_MEMORY_SIZE", {"MAX_FORM_MEMORY_SIZE": None}),
    ("RATELIMIT_STORAGE_URI", {"RATELIMIT_STORAGE_URI": "memory://"}),
    ("FLASK_SECRET_KEY", {"SECRET_KEY": "short"}),
    ("FLASK_SECRET_KEY", {"SECRET_KEY": "dev-only-not-secret" + "x" * 40}),
    ("SECRET_KEY_FALLBACKS", {"SECRET_KEY_FALLBACKS": ["dev-only-not-secret"]}),
    ("TESTING", {"TESTING": True}),
    ("LOGIN_DISABLED", {"LOGIN_DISABLED": True}),
    ("SCLERO_PROXY_COUNT", {"SCLERO_PROXY_COUNT": "two"}),
    ("SCLERO_PROXY_COUNT", {"SCLERO_PROXY_COUNT": -1}),
]


@pytest.mark.parametrize(("setting", "unsafe"), REFUSED, ids=[str(u) for _, u in REFUSED])
def test_production_refuses_an_unsafe_setting_and_names_it(monkeypatch, setting, unsafe):
    with pytest.raises(ConfigError, match=re.escape(setting)):
        dispose(production_app(monkeypatch, **unsafe))


def test_flask_debug_from_the_environment_is_refused(monkeypatch):
    # `FLASK_DEBUG=1 flask ...` or `flask run --debug`: Flask reads it when the app is made.
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="DEBUG"):
        dispose(production_app(monkeypatch))


@pytest.mark.parametrize(
    "allowed",
    [
        {"SQLALCHEMY_DATABASE_URI": "sqlite:////srv/sclero/clinic.db", "SCLERO_ALLOW_SQLITE": True},
        {"RATELIMIT_STORAGE_URI": "memory://", "SCLERO_ALLOW_MEMORY_LIMITS": True},
        {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"},
        {"SECRET_KEY_FALLBACKS": ["o" * 40]},
        {"MAX_CONTENT_LENGTH": 20 * 1024 * 1024},
    ],
)
def test_what_a_clinic_may_choose_is_accepted(allowed):
    # Checked on the settings alone: a SQLite file under /srv does not exist here.
    settings = {k: getattr(ProductionConfig, k) for k in dir(ProductionConfig) if k.isupper()}
    ProductionConfig.validate(settings | SAFE | allowed)


def test_every_problem_is_listed_at_once(monkeypatch):
    # An operator fixing one setting at a time would restart once per problem.
    with pytest.raises(ConfigError) as refused:
        production_app(monkeypatch, DEBUG=True, PUSH_ALLOW_HTTP=("h:1",), MAX_CONTENT_LENGTH=None)
    message = str(refused.value)
    assert "DEBUG" in message and "PUSH_ALLOW_HTTP" in message
    assert "MAX_CONTENT_LENGTH" in message


# ----------------------------------------------------------------- G2 key rotation


def _patient_page(app, cookie: str):
    browser = app.test_client()
    browser.set_cookie("session", cookie)
    return browser.get("/patient/today")


def test_a_rotated_key_keeps_sign_ins_only_while_it_is_a_fallback(
    client, world, database_url, clock
):
    login(client, "alice@patients.example", PASSWORD)
    old_cookie = client.get_cookie("session").value
    new_key = "n" * 48
    rotating = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        SCLERO_NOW=clock,
        SECRET_KEY=new_key,
        SECRET_KEY_FALLBACKS=[TestingConfig.SECRET_KEY],
    )
    rotated = create_app(
        TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, SCLERO_NOW=clock, SECRET_KEY=new_key
    )
    try:
        during = _patient_page(rotating, old_cookie)
        assert during.status_code == 200 and "Sign out" in text_of(during)
        after = _patient_page(rotated, old_cookie)
        assert after.status_code == 302 and "/login" in after.headers["Location"]
        # A cookie the rotating app writes is signed with the new key, so it survives
        # the fallback's removal.
        fresh = rotating.test_client()
        login(fresh, "alice@patients.example", PASSWORD)
        assert _patient_page(rotated, fresh.get_cookie("session").value).status_code == 200
    finally:
        dispose(rotating)
        dispose(rotated)
