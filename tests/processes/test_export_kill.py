"""`flask export run` killed with SIGKILL in the middle of a build (issue 20 point 1): the
job is left building, never offered; once its lease has run out the next run builds it
whole, and the dead run's half file is swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.models import ExportJob
from app.models import ExportState
from app.services import export
from tests.services.test_export import principal_of
from tests.services.test_export import seed_diary

ROOT = Path(__file__).resolve().parents[2]


def _env(app) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        APP_ENV="development",
        FLASK_APP="wsgi.py",
        FLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        FLASK_PHOTO_STORAGE_DIR=app.config["PHOTO_STORAGE_DIR"],
        FLASK_SCLERO_EXPORT_DIR=app.config["SCLERO_EXPORT_DIR"],
    )
    return env


def _run(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "export", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_build_killed_midway_is_built_again_and_never_offered_half(app, in_app, world):
    def ask() -> int:
        seed_diary(world.patient_a, checkins=30, photos=200, photo_size=256 * 1024)
        db.session.commit()
        return export.request_export(principal_of(world.patient_a), "127.0.0.1", now()).id

    job_id = in_app(ask)
    folder = Path(app.config["SCLERO_EXPORT_DIR"])
    env = _env(app)
    proc = _run(env)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    def state():
        job = db.session.get(ExportJob, job_id)
        try:
            export.take_download(principal_of(world.patient_a), job_id, "127.0.0.1", now())
        except export.ExportGone as gone:
            return job.state, job.file_name, gone.reason
        raise AssertionError("a half-built export was offered")

    assert in_app(state) == (ExportState.BUILDING, None, "preparing")
    # The dead run's lease still holds the job: another run leaves it alone.
    out = _run(env).communicate(timeout=120)[0]
    assert "0 built" in out, out

    def lease_ends():
        db.session.execute(
            sa.update(ExportJob)
            .where(ExportJob.id == job_id)
            .values(available_at=now())  # the pinned clock: long before the real one
        )
        db.session.commit()

    in_app(lease_ends)
    out = _run(env).communicate(timeout=120)[0]
    assert "1 built" in out, out
    in_app(lambda: export.sweep(timedelta(0)))
    job = in_app(lambda: db.session.get(ExportJob, job_id))
    assert job.state == ExportState.READY and job.attempts == 2
    assert [p.name for p in folder.iterdir()] == [job.file_name]
    with zipfile.ZipFile(folder / job.file_name) as zf:
        assert zf.testzip() is None
        assert len([n for n in zf.namelist() if n.startswith("photos/")]) == 200
