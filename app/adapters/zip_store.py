"""Where finished "Download my data" zips wait for their one download: a folder, or the
photo bucket (issue 21: nothing a request needs may live on one app server).

A zip is built in a local scratch folder (``<name>.part``), then ``place``d: renamed
into the folder, or uploaded to ``<prefix>exports/<name>`` and the part removed. The
worker that builds it (a dispatcher) and the instance that serves it need not share a
disk when the store is the bucket. ``open`` gives the bytes in chunks (never whole) and
raises ``FileNotFoundError`` for a zip that is gone; ``remove`` is idempotent; ``sweep``
removes zips no ready job names once older than a build's lease. Names are the worker's
own (``export-<id>-<token>.zip``), never the user's. Objects are private like photos: no
ACL, no URL. Nothing here imports a service or a model.
"""

from __future__ import annotations

import os
import re
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import BinaryIO
from typing import Protocol

from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError

from app.adapters.photo_store import StorageUnavailable
from app.adapters.photo_store import fsync_dir
from app.adapters.photo_store import remove_file

# The worker names zips ``export-<job id>-<32 hex>.zip``; any plain name of that shape
# (no folder, no dot first) is accepted, nothing that could reach outside the store.
NAME = re.compile(r"^export-[A-Za-z0-9_-]+\.zip$")


class ZipStore(Protocol):
    """What the export services need from the place zips wait in."""

    def place(self, part: str, name: str) -> None:
        """Make the finished local file ``part`` the zip ``name`` (whole or not at all)."""
        ...

    def open(self, name: str) -> BinaryIO:
        """The zip for reading in chunks; FileNotFoundError when it is gone."""
        ...

    def remove(self, name: str) -> bool:
        """Remove the zip; False when it was already gone."""
        ...

    def sweep(self, wanted: set[str], cutoff: float) -> int:
        """Remove zips (and parts) not in ``wanted`` last written before ``cutoff``
        (epoch seconds); how many went."""
        ...


def _checked(name: str) -> str:
    if not NAME.match(name):
        raise ValueError("not an export zip's name")
    return name


class FolderZips:
    """Zips in ``folder`` (the scratch folder itself: placing is a rename)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def place(self, part: str, name: str) -> None:
        os.rename(part, os.path.join(self.folder, _checked(name)))
        fsync_dir(self.folder)

    def open(self, name: str) -> BinaryIO:
        return open(os.path.join(self.folder, _checked(name)), "rb")  # noqa: SIM115 - caller closes

    def remove(self, name: str) -> bool:
        return remove_file(os.path.join(self.folder, _checked(name)))

    def sweep(self, wanted: set[str], cutoff: float) -> int:
        return sweep_folder(self.folder, wanted, cutoff)


class BucketZips:
    """Zips as objects ``<prefix>exports/<name>`` in the photo bucket, built in
    ``scratch`` (a folder of this machine's own: only the building worker reads it)."""

    def __init__(self, client: Any, bucket: str, prefix: str, scratch: str) -> None:  # noqa: ANN401 - boto3 client
        self.client, self.bucket, self.scratch = client, bucket, scratch
        self.prefix = (prefix.strip("/") + "/" if prefix.strip("/") else "") + "exports/"

    def place(self, part: str, name: str) -> None:
        # Imported here, as in open: boto3 costs every worker ~11 MB, and a BucketZips
        # exists only when photos are in a bucket.
        from app.adapters.photo_store_s3 import TRANSFER

        # upload_file sends a large zip in checksummed parts: an object is never seen
        # half-written, and a failed upload leaves at most an unfinished multipart upload.
        self._call(
            "upload_file",
            part,
            self.bucket,
            self.prefix + _checked(name),
            ExtraArgs={"ContentType": "application/zip"},
            Config=TRANSFER,
        )
        remove_file(part)

    def open(self, name: str) -> BinaryIO:
        from app.adapters.photo_store_s3 import MISSING
        from app.adapters.photo_store_s3 import ObjectReader

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(name))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in MISSING:
                raise FileNotFoundError(name) from None
            raise StorageUnavailable(f"the export store refused {name}") from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"the export store did not answer: {exc}") from None
        return ObjectReader(answer["Body"], name)  # type: ignore[return-value]

    def remove(self, name: str) -> bool:
        # DeleteObject answers the same for a missing object: "gone" either way.
        self._call("delete_object", Bucket=self.bucket, Key=self.prefix + _checked(name))
        return True

    def sweep(self, wanted: set[str], cutoff: float) -> int:
        removed = sweep_folder(self.scratch, set(), cutoff)  # a dead worker's parts
        old = datetime.fromtimestamp(cutoff, UTC)
        pages = self._call("get_paginator", "list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if NAME.match(name) and name not in wanted and item["LastModified"] <= old:
                        self.remove(name)
                        removed += 1
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"the export store did not answer: {exc}") from None
        return removed

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - boto3
        try:
            return getattr(self.client, operation)(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"the export store did not answer: {exc}") from None


def sweep_folder(folder: str, wanted: set[str], cutoff: float) -> int:
    """Remove files in ``folder`` not in ``wanted`` whose last write is before ``cutoff``."""
    removed = 0
    for entry in os.scandir(folder):
        if entry.name in wanted or not entry.is_file(follow_symlinks=False):
            continue
        if entry.stat().st_mtime <= cutoff and remove_file(entry.path):
            removed += 1
    return removed


__all__ = ["BucketZips", "FolderZips", "ZipStore", "remove_file", "sweep_folder"]
