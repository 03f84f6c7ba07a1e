"""Production start-up with several app servers or workers (issue 21 point 2): per-process
(memory://) rate limits are refused whenever more than one process serves requests, and
SCLERO_ALLOW_MEMORY_LIMITS cannot override that."""

from __future__ import annotations

import os
import runpy
import types
from pathlib import Path

import pytest

from config import WORKERS_VARIABLE
from config import ConfigError
from config import ProductionConfig
from tests.services.test_production_config import SAFE
from tests.services.test_production_config import _no_flask_env  # noqa: F401 - autouse
from tests.services.test_production_config import dispose
from tests.services.test_production_config import production_app

MEMORY = {"RATELIMIT_STORAGE_URI": "memory://", "SCLERO_ALLOW_MEMORY_LIMITS": True}
ROOT = Path(__file__).resolve().parents[2]
# A push key every instance shares (the value is only checked for presence here).
KEY = "shared-vapid-key"
# Folders every instance mounts (only checked for presence here).
FOLDERS = {"PHOTO_STORAGE_DIR": "/srv/sclero/photos", "SCLERO_EXPORT_DIR": "/srv/sclero/exports"}


def _settings(**overrides) -> dict:
    settings = {k: getattr(ProductionConfig, k) for k in dir(ProductionConfig) if k.isupper()}
    return settings | SAFE | overrides


def test_one_process_may_still_count_in_memory_when_allowed():
    ProductionConfig.validate(_settings(**MEMORY, SCLERO_INSTANCES="1"))


def test_two_instances_refuse_memory_limits_even_when_allowed(monkeypatch):
    with pytest.raises(ConfigError) as refused:
        dispose(production_app(monkeypatch, **MEMORY, SCLERO_INSTANCES=2, VAPID_PRIVATE_KEY=KEY))
    message = str(refused.value)
    assert "RATELIMIT_STORAGE_URI: memory:// counts in each process" in message
    assert "2 processes are configured (SCLERO_INSTANCES=2 app servers x 1 gunicorn" in message
    assert "redis://" in message


def test_several_gunicorn_workers_refuse_memory_limits(monkeypatch):
    # gunicorn.conf.py's on_starting hook sets the variable in the master; the workers
    # inherit it and make the app.
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    hooks["on_starting"](types.SimpleNamespace(cfg=types.SimpleNamespace(workers=4)))
    monkeypatch.setenv(WORKERS_VARIABLE, os.environ[WORKERS_VARIABLE])  # undone after
    with pytest.raises(ConfigError, match=r"4 processes are configured .* x 4 gunicorn"):
        ProductionConfig.validate(_settings(**MEMORY))
    # Redis shared by every process is what several processes need.
    ProductionConfig.validate(
        _settings(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/6", VAPID_PRIVATE_KEY=KEY)
    )


def test_several_instances_refuse_a_key_made_per_process():
    # SAFE's push key is made in memory (each process its own): fine for one process.
    ProductionConfig.validate(_settings())
    with pytest.raises(ConfigError, match="VAPID_GENERATE_DEV_KEY: 2 processes are configured"):
        ProductionConfig.validate(_settings(SCLERO_INSTANCES=2))
    ProductionConfig.validate(_settings(SCLERO_INSTANCES=2, VAPID_PRIVATE_KEY=KEY, **FOLDERS))


def test_several_instances_refuse_folders_inside_each_instance(tmp_path):
    # Several workers of one app server share its instance folder: fine.
    shared = {"VAPID_PRIVATE_KEY": KEY, "SCLERO_INSTANCES": 2}
    with pytest.raises(ConfigError) as refused:
        ProductionConfig.validate(_settings(**shared))
    assert "PHOTO_STORAGE_DIR: several app servers" in str(refused.value)
    assert "SCLERO_EXPORT_DIR: several app servers" in str(refused.value)
    mounted = {"PHOTO_STORAGE_DIR": str(tmp_path / "p"), "SCLERO_EXPORT_DIR": str(tmp_path)}
    ProductionConfig.validate(_settings(**shared, **mounted))
    # A bucket is shared by every instance, and downloads wait in it too: no folder to
    # share at all (the export folder is then each builder's scratch space).
    bucket = {"SCLERO_PHOTO_STORE": "s3", "SCLERO_S3_BUCKET": "photos"}
    ProductionConfig.validate(_settings(**shared, **bucket))


@pytest.mark.parametrize("count", ["0", "-2", "two", True, ""])
def test_a_nonsense_instance_count_is_refused_by_name(count):
    with pytest.raises(ConfigError, match="SCLERO_INSTANCES: give the number"):
        ProductionConfig.validate(_settings(SCLERO_INSTANCES=count))


class _Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, message: str, *args) -> None:  # noqa: ANN002
        self.errors.append(message % args)


def test_a_worker_added_at_run_time_is_checked_at_the_new_count(monkeypatch):
    """``kill -TTIN`` adds a worker after the start-up check: the hook checks again, and
    keeps one worker when memory:// limits are only allowed for one."""
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    monkeypatch.setenv("APP_ENV", "production")
    allowed_alone = types.SimpleNamespace(config=_settings(**MEMORY, VAPID_PRIVATE_KEY=KEY))
    server = types.SimpleNamespace(
        app=types.SimpleNamespace(callable=allowed_alone), log=_Log(), _num_workers=2
    )
    hooks["nworkers_changed"](server, 2, 1)
    assert server._num_workers == 1 and os.environ[WORKERS_VARIABLE] == "1"
    assert "refused to go from 1 to 2 workers" in server.log.errors[0]
    assert "memory://" in server.log.errors[0]

    # With Redis shared by every process, a second worker is fine and is told the count.
    shared = types.SimpleNamespace(
        config=_settings(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/6", VAPID_PRIVATE_KEY=KEY)
    )
    server = types.SimpleNamespace(
        app=types.SimpleNamespace(callable=shared), log=_Log(), _num_workers=3
    )
    hooks["nworkers_changed"](server, 3, 1)
    assert server._num_workers == 3 and os.environ[WORKERS_VARIABLE] == "3"
    assert server.log.errors == []
    # Fewer workers (TTOU) need no check, only the new count.
    hooks["nworkers_changed"](server, 2, 3)
    assert os.environ[WORKERS_VARIABLE] == "2"


def test_a_preloaded_app_is_checked_once_the_worker_count_is_known(monkeypatch):
    """--preload makes the app before on_starting sets the count: the hook checks then."""
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    preloaded = types.SimpleNamespace(config=_settings(**MEMORY, VAPID_PRIVATE_KEY=KEY))
    server = types.SimpleNamespace(
        cfg=types.SimpleNamespace(workers=2), app=types.SimpleNamespace(callable=preloaded)
    )
    with pytest.raises(ConfigError, match=r"x 2 gunicorn workers each"):
        hooks["on_starting"](server)
    monkeypatch.setenv(WORKERS_VARIABLE, os.environ[WORKERS_VARIABLE])  # undone after
    server.cfg.workers = 1
    hooks["on_starting"](server)  # one worker may count in memory when allowed
