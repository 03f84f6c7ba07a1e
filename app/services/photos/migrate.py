"""``flask photos migrate --to s3``: copy the local photo folder into the bucket.

Every file a photo row refers to (full size and thumbnail) is read from the local folder,
checked against the row's sha256, streamed to the bucket under the same key with its
sha256 as metadata, and read back and checked again. A key whose object already says it
has the row's sha256 (HeadObject) is read back and checked too, and copied again when
its bytes do not match (metadata alone would let a damaged object pass), so the command
is idempotent and resumes where a stopped run left off; ``limit`` stops it on purpose
after that many copies. Local files are never deleted: switching over is a configuration
change (README "Photo storage"). A bucket prefix marked by another installation is
refused before anything is copied (``owner``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.adapters.photo_store import StorageError
from app.adapters.photo_store import StorageUnavailable
from app.extensions import db
from app.models import Photo
from app.services.photos import storage
from app.services.photos.owner import ensure_ours

if TYPE_CHECKING:  # boto3 is imported only when a bucket is used (storage.s3_store)
    from app.adapters.photo_store_s3 import S3PhotoStore


@dataclass
class Migration:
    """What a run did: keys copied, already there, and local files missing or damaged."""

    total: int = 0
    copied: int = 0
    present: int = 0
    damaged: list[str] = field(default_factory=list)
    stopped: bool = False  # the limit was reached before the end

    @property
    def complete(self) -> bool:
        return not self.stopped and not self.damaged


def referenced_files() -> list[tuple[str, str]]:
    """Every (key, sha256) a photo row refers to, in key order."""
    rows = db.session.execute(
        sa.select(Photo.full_key, Photo.full_sha256, Photo.thumb_key, Photo.thumb_sha256)
    )
    found = {}
    for full_key, full_sha, thumb_key, thumb_sha in rows:
        found[full_key] = full_sha
        found[thumb_key] = thumb_sha
    db.session.rollback()  # no transaction held open during a long copy
    return sorted(found.items())


def to_s3(limit: int | None = None, progress: Callable[[str], None] | None = None) -> Migration:
    """Copy every referenced local photo file into the configured bucket.

    :raises StorageError: the bucket is not configured or does not answer.
    """
    source, target = storage.local_store(), storage.s3_store()
    ensure_ours(target)
    done = Migration()
    files = referenced_files()
    done.total = len(files)
    for key, sha256 in files:
        if target.stored_sha256(key) == sha256 and _holds(target, key, sha256):
            done.present += 1
            continue
        if limit is not None and done.copied >= limit:
            done.stopped = True
            break
        try:
            with source.open(key) as f:
                target.put_at(key, f, sha256)
            target.read(key, sha256)  # read back: the bucket holds exactly the row's bytes
        except StorageUnavailable:
            raise
        except StorageError as exc:
            done.damaged.append(key)
            if progress:
                progress(f"not copied: {exc}")
            continue
        done.copied += 1
    return done


def _holds(target: S3PhotoStore, key: str, sha256: str) -> bool:
    """Whether the bucket's object has exactly the row's bytes (not only its metadata)."""
    try:
        target.read(key, sha256)
    except StorageUnavailable:
        raise
    except StorageError:
        return False
    return True
