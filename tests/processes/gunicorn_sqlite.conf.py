"""Gunicorn settings for tests/processes/test_two_instances.py on the suite's SQLite file.

The project's gunicorn.conf.py, unchanged, plus one thing: production refuses an SQLite
file under a temporary folder, and the suite's file is under /tmp. The check is switched
off in gunicorn's master, before any worker is forked (the workers inherit the module),
as tests/services/test_production_config.py's ``production_app`` does in process. On
PostgreSQL the test uses gunicorn.conf.py itself.
"""

import runpy
from pathlib import Path

import config as _app_config  # "config" itself is a gunicorn setting's name

_project = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
logger_class = _project["logger_class"]
on_starting = _project["on_starting"]
_app_config._under_temp_folder = lambda path: False  # noqa: SLF001 - the suite's file
