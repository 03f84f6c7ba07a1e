"""ScleroCare: the application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask import Request
from flask import current_app
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from app import textinput
from config import Config
from config import config_by_name


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key set.

    Flask builds a new serializer (and derives its keys) on every request; the keys only
    change with the configuration, so the serializer is kept until they do.
    """

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._serializer is None or self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]


def _signed_in_patient() -> bool:
    from flask_login import current_user

    from app.models import Role

    return bool(current_user.is_authenticated and current_user.role == Role.PATIENT)


class InputRequest(Request):
    """Flask's request, with the input rules of ``app.textinput`` applied centrally: form
    fields and query arguments are cleaned as they are parsed (and their ``get(type=int)``
    stays within the database's range), and JSON bodies are size- and depth-limited."""

    parameter_storage_class = textinput.CleanMultiDict

    @property
    def json_module(self) -> type[textinput.JsonInput]:
        return textinput.JsonInput

    @json_module.setter
    def json_module(self, value: Any) -> None:
        # Flask hands each request the app's JSON provider; request bodies keep the
        # limits above (the app's provider still writes responses and sessions).
        pass


class CheckInRequest(InputRequest):
    """Flask's request, with a larger body allowed for the daily check-in.

    The check-in form carries an optional photo. If its body went over
    ``MAX_CONTENT_LENGTH`` the whole form would be refused unread (413) and the patient's
    answers lost with it; read up to ``SCLERO_CHECKIN_MAX_BODY`` instead, so only the
    photo is refused (the view checks its size) and the check-in is saved and triaged.
    Only for a signed-in patient: nobody else may make the server take in that much.
    """

    @property
    def sends_checkin(self) -> bool:
        """A daily check-in being sent (its 413 page says what to do: app/errors.py)."""
        return self.method == "POST" and self.path == "/patient/checkin"

    @property
    def max_content_length(self) -> int | None:
        if (
            self._max_content_length is None
            and current_app
            and self.sends_checkin
            and _signed_in_patient()
        ):
            return current_app.config["SCLERO_CHECKIN_MAX_BODY"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class App(Flask):
    """Flask, minus two per-request costs that never change (bench/today_page.py)."""

    request_class = CheckInRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before any blueprint adds a rule: ids within the database's range, and no
        # control characters in path parts (app.textinput).
        self.url_map.converters.update(
            int=textinput.IdConverter,
            default=textinput.TextConverter,
            string=textinput.TextConverter,
        )
        self.session_interface = CookieSessions()
        self._sync: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # Flask asks ``inspect`` whether each view and hook is a coroutine function on every
        # request; the answer for a given function never changes.
        done = self._sync.get(func)
        if done is None:
            done = self._sync[func] = super().ensure_sync(func)
        return done


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the app: config, extensions, blueprints, errors, CLI, logging."""
    app = App(__name__, instance_relative_config=True)
    load_config(app, config_class, overrides)
    register_extensions(app)
    register_blueprints(app)
    register_templating(app)
    register_error_handlers(app)
    register_cli(app)
    configure_logging(app)
    return app


def load_config(app: Flask, config_class: type[Config] | None, overrides: dict[str, Any]) -> None:
    """Class defaults, then instance/config.py and FLASK_* env (not in tests), then overrides."""
    cls = config_class or config_by_name(os.environ.get("APP_ENV", "production"))
    app.config.from_object(cls)
    if not app.config.get("TESTING"):
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI") and app.config.get("SCLERO_DEMO"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "sclerocare.db")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if (app.config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("sqlite"):
        # A pre-ping costs a round trip per request and protects nothing for a file.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    cls.validate(app.config)


def register_extensions(app: Flask) -> None:
    """Bind db, migrations, login and CSRF; SQLite gets foreign keys and WAL."""
    from app.auth import loader
    from app.extensions import csrf
    from app.extensions import db
    from app.extensions import init_reads
    from app.extensions import login_manager
    from app.extensions import migrate

    db.init_app(app)
    init_reads(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    loader.init_app(app)
    from app.adapters import push

    push.init_app(app)
    with app.app_context():
        from app.dbtypes import configure_sqlite

        configure_sqlite(db.engine)


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience."""
    from app.auth import bp as auth_bp
    from app.clinician import bp as clinician_bp
    from app.patient import bp as patient_bp
    from app.pwa import bp as pwa_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(patient_bp, url_prefix="/patient")
    app.register_blueprint(clinician_bp, url_prefix="/clinic")
    app.register_blueprint(pwa_bp)


def register_templating(app: Flask) -> None:
    """Template filters, versioned asset URLs, compression and the inline stylesheet."""
    from app import assets
    from app import templating

    templating.register(app)
    assets.init_app(app)


def register_error_handlers(app: Flask) -> None:
    """Friendly pages for 4xx and 5xx, never internals; security headers."""
    from app.errors import register

    register(app)


def register_cli(app: Flask) -> None:
    """``flask protocols ...``, ``flask dev ...``, ``flask users ...``."""
    from app.cli import register

    register(app)


def configure_logging(app: Flask) -> None:
    """Log INFO and above to stderr outside debug mode."""
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
