"""Review of issue 18 point 9: production refusals tried through the environment, as an
operator sets them, and SQLite addresses written the ways SQLite still opens a
temporary file.

- ``FLASK_WTF_CSRF_ENABLED=0`` (or ``null``, ``""``) arrives through Flask's JSON parsing
  as 0 or None: Flask-WTF reads either as "off", and production started with CSRF off.
- ``sqlite:////%74mp/c.db`` and ``sqlite:///file:/tmp/c.db?uri=true`` open /tmp/c.db, and
  were accepted; a relative name was checked against the current folder, while
  Flask-SQLAlchemy opens it in the instance folder.
"""

from __future__ import annotations

import os

import pytest
from flask import Config as FlaskConfig

import config
from config import ConfigError
from tests.services.test_production_config import _no_flask_env  # noqa: F401 - autouse
from tests.services.test_production_config import dispose
from tests.services.test_production_config import production_app


@pytest.mark.parametrize("value", ["0", "null", '""', "no", "off"])
def test_csrf_switched_off_from_the_environment_is_refused(monkeypatch, value):
    monkeypatch.setenv("FLASK_WTF_CSRF_ENABLED", value)
    with pytest.raises(ConfigError, match="WTF_CSRF_ENABLED"):
        dispose(production_app(monkeypatch))


def _with(uri: str, root: str = "/srv/sclerocare/instance") -> FlaskConfig:
    settings = FlaskConfig(root)
    settings.update(SQLALCHEMY_DATABASE_URI=uri, SCLERO_ALLOW_SQLITE=True)
    return settings


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:////%74mp/clinic.db",
        "sqlite:////%2Ftmp/clinic.db",
        "sqlite:///file:/tmp/clinic.db?uri=true",
        "sqlite:///file:///var/tmp/clinic.db?uri=true",
        "sqlite:///file:/dev/%73hm/clinic.db?uri=true",
    ],
)
def test_an_encoded_temporary_sqlite_file_is_refused(uri):
    assert "temporary folder" in (config._sqlite_problem(_with(uri)) or "")


def test_an_in_memory_sqlite_uri_is_refused():
    uri = "sqlite:///file::memory:?uri=true"
    assert "in-memory" in (config._sqlite_problem(_with(uri)) or "")


def test_a_relative_sqlite_name_is_checked_where_it_will_be_opened(tmp_path):
    # Flask-SQLAlchemy opens a relative name in the instance folder: one under /tmp is
    # refused whatever folder the command runs from; one on a real disk is accepted.
    assert "temporary folder" in (config._sqlite_problem(_with("sqlite:///c.db", "/tmp/i")) or "")
    assert config._sqlite_problem(_with("sqlite:///c.db", "/srv/sclerocare/instance")) is None


def test_a_relative_name_in_production_reads_the_apps_instance_folder(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(config, "_under_temp_folder", lambda path: seen.append(path) or False)
    dispose(
        production_app(
            monkeypatch, SQLALCHEMY_DATABASE_URI="sqlite:///clinic.db", SCLERO_ALLOW_SQLITE=True
        )
    )
    assert seen == [os.path.join(os.path.dirname(config.__file__), "instance", "clinic.db")]


@pytest.mark.parametrize("value", ["null", "0", "1000000000000", '"80000000"'])
def test_an_unbounded_check_in_body_is_refused(monkeypatch, value):
    # A signed-in patient's check-in is read up to this size, not MAX_CONTENT_LENGTH.
    monkeypatch.setenv("FLASK_SCLERO_CHECKIN_MAX_BODY", value)
    with pytest.raises(ConfigError, match="SCLERO_CHECKIN_MAX_BODY"):
        dispose(production_app(monkeypatch))
