"""ScleroCare: the application factory."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from flask import Request

from app import textinput
from config import Config
from config import config_by_name


class InputRequest(Request):
    """Flask's request, with the input rules of ``app.textinput`` applied centrally: form
    fields and query arguments are cleaned as they are parsed (and their ``get(type=int)``
    stays within the database's range), an urlencoded body that is not UTF-8 is a 400
    (``textinput.UnreadableForm``), and JSON bodies are size- and depth-limited."""

    parameter_storage_class = textinput.CleanMultiDict
    form_data_parser_class = textinput.FormParser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except textinput.UnreadableForm:
            # Read as empty from now on: the error page, and anything after it that looks
            # at the form, must not meet the same error again (that would be a 500).
            empty = self.parameter_storage_class()
            self.__dict__.update(form=empty, files=empty)
            raise

    @property
    def json_module(self) -> type[textinput.JsonInput]:
        return textinput.JsonInput

    @json_module.setter
    def json_module(self, value: Any) -> None:
        # Flask hands each request the app's JSON provider; request bodies keep the
        # limits above (the app's provider still writes responses and sessions).
        pass


class App(Flask):
    """Flask with the input rules of ``app.textinput`` on every request and URL.

    What replaces Flask's own behaviour for speed (and the check-in's body limit) is in
    app/speedups.py, put in place by ``register_speedups``.
    """

    request_class = InputRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before any blueprint adds a rule: ids within the database's range, and no
        # control characters in path parts (app.textinput).
        self.url_map.converters.update(
            int=textinput.IdConverter,
            default=textinput.TextConverter,
            string=textinput.TextConverter,
        )


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the app: config, extensions, blueprints, speed-ups, templating, errors, CLI,
    logging."""
    app = App(__name__, instance_relative_config=True)
    load_config(app, config_class, overrides)
    register_extensions(app)
    register_blueprints(app)
    register_speedups(app)
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
    from app.extensions import init_migrations
    from app.extensions import init_reads
    from app.extensions import login_manager

    db.init_app(app)
    init_reads(app)
    from app import dbcheck

    with app.app_context():
        dbcheck.install(db.engine)  # no pre-ping round trip per request (issue 22)
    init_migrations(app, os.path.join(os.path.dirname(__file__), "..", "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    loader.init_app(app)
    from app.adapters import push

    push.init_app(app)
    from app.adapters import mail

    mail.init_app(app)
    from app import limits

    limits.init_app(app)  # per-address limits on the sign-in pages (issue 18)
    with app.app_context():
        from app.dbtypes import configure_sqlite

        configure_sqlite(db.engine)


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience."""
    from app.auth import bp as auth_bp
    from app.clinician import bp as clinician_bp
    from app.clinician import fhir_bp
    from app.patient import bp as patient_bp
    from app.pwa import bp as pwa_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(patient_bp, url_prefix="/patient")
    app.register_blueprint(clinician_bp, url_prefix="/clinic")
    # The clinic's FHIR integration point (issue 20 point 2, docs/fhir.md).
    app.register_blueprint(fhir_bp, url_prefix="/fhir")
    app.register_blueprint(pwa_bp)
    if app.config.get("SCLERO_DEV_MAIL"):
        from app.devmail import bp as devmail_bp

        app.register_blueprint(devmail_bp)


def register_speedups(app: Flask) -> None:
    """Where Flask's own behaviour is replaced (app/speedups.py): after the blueprints
    and Flask-WTF, whose check-in route and ``csrf_token`` they need."""
    from app import speedups

    speedups.install(app)


def register_templating(app: Flask) -> None:
    """Template filters, versioned asset URLs, their cache headers and the inline stylesheet."""
    from app import assets
    from app import templating

    templating.register(app)
    assets.init_app(app)
    from app import i18n

    i18n.init_app(app)


def register_error_handlers(app: Flask) -> None:
    """Friendly pages for 4xx and 5xx, never internals; security headers."""
    from app.errors import register

    register(app)


def register_cli(app: Flask) -> None:
    """``flask protocols ...``, ``flask dev ...``, ``flask users ...``."""
    from app.cli import register
    from app.cli_retention import retention_cli

    register(app)
    app.cli.add_command(retention_cli)  # issue 20 point 4: `flask retention run`
    from app.cli import backup_cli
    from app.cli_backup_prune import prune_command

    backup_cli.add_command(prune_command)  # checklist E7: `flask backup prune ROOT`


def configure_logging(app: Flask) -> None:
    """Log INFO and above to stderr outside debug mode."""
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
