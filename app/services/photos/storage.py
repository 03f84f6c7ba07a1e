"""Where photo files live and how they are made: the configured ``PhotoStore``, the
image settings, integrity-checked reads, and the crash stages tests can simulate.

Callers use ``storage.store()`` (not a copy of the name), so a test can swap the store.
``SCLERO_PHOTO_STORE`` picks the local folder (default) or an S3-compatible bucket; the
bucket's boto3 client is built once per process and settings (``s3_client``), not per
request.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from flask import current_app

from app.adapters import imaging
from app.adapters.photo_store import LocalPhotoStore
from app.adapters.photo_store import PhotoStore
from app.adapters.photo_store import SimulatedCrash
from app.adapters.photo_store import StorageError
from app.models import Photo

if TYPE_CHECKING:
    from app.adapters.photo_store_s3 import S3PhotoStore


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
    if (current_app.config.get("SCLERO_PHOTO_STORE") or "local") == "s3":
        return s3_store()
    return local_store()


def local_store() -> LocalPhotoStore:
    """The local photo folder (``flask photos migrate`` reads it whatever is configured)."""
    root = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalPhotoStore(root, crash_at=crash_stage())


def s3_store() -> S3PhotoStore:
    """The configured bucket; StorageError when no bucket is set."""
    # Imported here: boto3 costs every worker ~11 MB, and most installations keep
    # photos in the local folder.
    from app.adapters.photo_store_s3 import S3PhotoStore

    config = current_app.config
    bucket = config.get("SCLERO_S3_BUCKET")
    if not bucket:
        raise StorageError("SCLERO_PHOTO_STORE is s3 but SCLERO_S3_BUCKET is not set")
    client = s3_client(
        config.get("SCLERO_S3_ENDPOINT_URL") or None,
        config.get("SCLERO_S3_REGION") or None,
        float(config.get("SCLERO_S3_TIMEOUT") or 5.0),
        int(config.get("SCLERO_S3_ATTEMPTS") or 2),
    )
    return S3PhotoStore(client, bucket, config.get("SCLERO_S3_PREFIX") or "", crash_stage())


@functools.lru_cache(maxsize=8)
def s3_client(endpoint_url: str | None, region: str | None, timeout: float, attempts: int):  # noqa: ANN201
    """One boto3 client per process and settings (clients are thread-safe)."""
    from app.adapters.photo_store_s3 import make_client  # boto3 only when S3 is used

    return make_client(endpoint_url, region, timeout, attempts)


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
