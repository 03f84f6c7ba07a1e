"""Unbound Flask extension instances; bound to an app in ``create_app``."""

from __future__ import annotations

import logging
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask
from flask import g
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.dbtypes import Base

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()


def reads() -> sa.Connection:
    """This request's connection for plain reads (Core queries), beside the ORM session.

    Setting up and tearing down the ORM session's connection costs more than a query
    (bench/today_page.py), and the pages every patient opens only read: the sign-in
    check and the Today, checklist and plan queries use this connection instead. It
    never writes, and a use-case that writes does so through ``db.session`` as usual, so
    reads here do not see that request's uncommitted writes: read before writing.
    """
    conn = g.get("_sclero_reads")
    if conn is None or conn.closed:
        conn = g._sclero_reads = db.engine.connect()
        if conn.dialect.name != "sqlite":
            # Reads need no transaction: without one, PostgreSQL is spared a BEGIN and
            # the pool's ROLLBACK on return, two round trips per page. (SQLite's driver
            # begins only before a write, so there is nothing to spare.)
            conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def drop_reads() -> None:
    """Give up this request's read connection, e.g. after an error.

    A connection the server ended mid-request stays unusable until rolled back, and the
    error page asks again who is signed in: on a fresh connection it can still answer.
    """
    conn = g.pop("_sclero_reads", None)
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken: the pool discards it anyway
            conn.invalidate()


def init_reads(app: Flask) -> None:
    """Close the read connection when the request's app context ends."""

    @app.teardown_appcontext
    def _close_reads(_exc: BaseException | None) -> None:
        conn = g.pop("_sclero_reads", None)
        if conn is not None:
            conn.close()


class MigrationCommands(click.Group):
    """``flask db``, binding Flask-Migrate to the app only when the command is run.

    Flask-Migrate imports Alembic, Mako and Pygments (~15 MB in every web worker) just
    to offer these commands; a request never needs them. Running ``flask db ...`` binds
    the real extension (``app.extensions["migrate"]``, which migrations/env.py reads)
    and hands the command line to its own group, options and subcommands included.
    """

    def __init__(self, app: Flask, directory: str) -> None:
        super().__init__("db", help="Perform database migrations.")
        self.app, self.directory = app, directory

    def _real(self) -> click.Group:
        # Imported after the app's logging is set up, Alembic would announce each of its
        # plugins at INFO; imported first (as before), it said nothing.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from flask_migrate import Migrate
        from flask_migrate.cli import db as commands

        if "migrate" not in self.app.extensions:
            Migrate(self.app, db, directory=self.directory)
        return commands

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:  # noqa: ANN401
        return self._real().make_context(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)


def init_migrations(app: Flask, directory: str) -> None:
    """Offer ``flask db`` (Flask-Migrate) without importing it until it is run."""
    app.cli.add_command(MigrationCommands(app, directory))
