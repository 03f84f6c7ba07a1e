"""Where photo files live and how they are made: the configured ``PhotoStore``, the
image settings, integrity-checked reads, and the crash stages tests can simulate.

Callers use ``storage.store()`` (not a copy of the name), so a test can swap the store.
"""

from __future__ import annotations

import os

from flask import current_app

from app.adapters import imaging
from app.adapters.photo_store import LocalPhotoStore
from app.adapters.photo_store import PhotoStore
from app.adapters.photo_store import SimulatedCrash
from app.models import Photo


def settings() -> imaging.Settings:
    config = current_app.config
    return imaging.Settings(
        max_pixels=config["PHOTO_MAX_PIXELS"],
        long_edge=config["PHOTO_LONG_EDGE"],
        thumb_edge=config["PHOTO_THUMB_EDGE"],
        quality=config["PHOTO_JPEG_QUALITY"],
    )


def store() -> PhotoStore:
    """The configured store (a local folder outside static/ by default)."""
    root = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalPhotoStore(root, crash_at=crash_stage())


def crash_stage() -> str | None:
    """The stage at which a test asked uploads to crash (``PHOTO_CRASH_AT``), if any."""
    return current_app.config.get("PHOTO_CRASH_AT") if current_app.testing else None


def crash(stage: str) -> None:
    """Simulate a crash here when a test asked for this stage."""
    if crash_stage() == stage:
        raise SimulatedCrash(stage)


def read(found: Photo, thumb: bool) -> bytes:
    """The JPEG bytes of a photo (full or thumbnail), checked against its sha256."""
    if thumb:
        return store().read(found.thumb_key, found.thumb_sha256)
    return store().read(found.full_key, found.full_sha256)
