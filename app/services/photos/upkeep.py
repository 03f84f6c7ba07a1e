"""Keeping the photo files honest: remove files no row refers to (crashed or abandoned
uploads) and find photos whose files are missing or altered (``flask photos ...``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app.adapters.photo_store import StorageUnavailable
from app.extensions import db
from app.models import Photo
from app.services.photos import storage
from app.services.photos.owner import ensure_ours


def referenced(keys: set[str]) -> set[str]:
    """Those of ``keys`` a photo row refers to (as its full file or its thumbnail)."""
    found: set[str] = set()
    chunk = sorted(keys)
    for i in range(0, len(chunk), 500):
        part = chunk[i : i + 500]
        found.update(db.session.scalars(sa.select(Photo.full_key).where(Photo.full_key.in_(part))))
        found.update(
            db.session.scalars(sa.select(Photo.thumb_key).where(Photo.thumb_key.in_(part)))
        )
    return found


def sweep(older_than_minutes: float | None = None, claim: bool = False) -> int:
    """Remove stored files no row refers to (crashed or abandoned uploads).

    :raises OwnedElsewhere: the store is marked by another installation (``owner``).
    """
    minutes = (
        current_app.config["PHOTO_ORPHAN_MINUTES"]
        if older_than_minutes is None
        else older_than_minutes
    )
    files = storage.store()
    ensure_ours(files, claim)
    return files.sweep(referenced, minutes * 60)


def verify_all() -> list[int]:
    """Ids of photos whose full or thumbnail file is missing or altered.

    :raises StorageUnavailable: the store does not answer (nothing can be judged)."""
    files = storage.store()
    bad = []
    rows = db.session.execute(
        sa.select(Photo.id, Photo.full_key, Photo.full_sha256, Photo.thumb_key, Photo.thumb_sha256)
    )
    for pid, full_key, full_sha, thumb_key, thumb_sha in rows:
        try:
            files.read(full_key, full_sha)
            files.read(thumb_key, thumb_sha)
        except StorageUnavailable:
            raise  # the store, not this photo: say so once rather than list every photo
        except Exception:  # noqa: BLE001 - report every damaged photo, whatever the cause
            bad.append(pid)
    return bad
