"""Review of issue 18 point 3: a backup restores the audit chain whole. After
`flask backup restore`, `flask audit verify` passes with the same count, new events
continue the chain, and on PostgreSQL the append-only trigger is back in force.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import is_postgres
from tests.conftest import login
from tests.services.test_backup import _app
from tests.services.test_backup import _ok
from tests.services.test_backup import _source


def _trip(source_url: str, target_url: str, tmp_path) -> None:
    src, _ = _source(source_url, tmp_path / "photos-src")
    doc = src.test_client()
    assert login(doc, "doc1@north.example").status_code == 302
    assert doc.get("/clinic/").status_code == 200  # "view" events
    before = _ok(src, "audit", "verify")
    assert before.startswith("audit chain intact: ") and not before.startswith(
        "audit chain intact: 0 "
    )
    folder = tmp_path / "backup"
    _ok(src, "backup", "create", str(folder))
    with src.app_context():
        db.engine.dispose()

    dst = _app(target_url, tmp_path / "photos-dst")
    _ok(dst, "backup", "restore", str(folder))
    assert _ok(dst, "audit", "verify") == before
    doc = dst.test_client()
    assert login(doc, "doc1@north.example").status_code == 302
    assert doc.get("/clinic/").status_code == 200  # appends after the restored head
    after = _ok(dst, "audit", "verify")
    assert after.startswith("audit chain intact: ") and after != before
    if dst.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        with dst.app_context(), pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE audit_events SET detail = 'x'"))
    with dst.app_context():
        db.engine.dispose()


def test_sqlite_restore_keeps_the_chain(tmp_path):
    _trip(f"sqlite:///{tmp_path / 'src.db'}", f"sqlite:///{tmp_path / 'dst.db'}", tmp_path)


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PostgreSQL")
def test_postgres_restore_keeps_the_chain_and_the_trigger(tmp_path):
    base = sa.engine.make_url(os.environ["TEST_DATABASE_URL"])
    names = [f"sclerocare_r2bk_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
        _trip(urls[0], urls[1], tmp_path)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
