"""Photo bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph): the ``PhotoStore`` calls.

The guarantees of the local folder, adapted to objects:

* The object is written first, and whole: a small one with ``PutObject`` and its
  Content-MD5, a file through a multipart upload whose parts carry checksums, so a short
  or altered transfer is refused by the server. Only then does the service write the row
  with the sha256. An object is never visible half-written; a crash leaves at most an
  unreferenced object (or an unfinished multipart upload), which ``sweep`` removes.
* Each object carries its sha256 as metadata (``x-amz-meta-sha256``), so a migration can
  tell a finished copy from HeadObject alone; ``read`` checks the bytes themselves.
* Objects are private: no ACL is ever set (the bucket's default, private, applies) and no
  URL is ever handed out; photos leave only through the app, with its private headers.
* Keys are the local folder's random ``ab/<32 hex>.jpg``, under an optional prefix.
* Every call has connect and read timeouts and a bounded number of retries, so a bucket
  that does not answer gives ``StorageUnavailable`` in seconds, never a hung request.

Credentials come from boto3's own chain (environment, shared files, instance role); none
are configured here. Nothing here imports a service or a model.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError
from botocore.exceptions import FlexibleChecksumError

from app.adapters.photo_store import CHUNK
from app.adapters.photo_store import KEY_PATTERN
from app.adapters.photo_store import OWNER_NAME
from app.adapters.photo_store import SimulatedCrash
from app.adapters.photo_store import Source
from app.adapters.photo_store import StorageError
from app.adapters.photo_store import StorageUnavailable
from app.adapters.photo_store import Stored
from app.adapters.photo_store import chunks
from app.adapters.photo_store import new_key
from app.clock import wall_seconds

SHA_META = "sha256"
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# Above this a file is sent in parts of this size: memory stays a few parts, whatever
# the upload's size (a 20 MB upload: peak well under 150 MB, bench/photo_ingest.py).
PART = 8 * 1024 * 1024
TRANSFER = TransferConfig(
    multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=2, use_threads=True
)


def make_client(
    endpoint_url: str | None,
    region: str | None,
    timeout: float = 5.0,
    attempts: int = 2,
) -> Any:  # noqa: ANN401 - boto3's client class is generated at run time
    """A boto3 S3 client with timeouts and bounded retries (build once per process: it is
    thread-safe, and building one costs milliseconds of CPU)."""
    config = BotoConfig(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "total_max_attempts": max(1, attempts)},
        # Path-style works with every S3-compatible server (MinIO, Ceph, moto).
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )


def _failure(exc: Exception, what: str) -> StorageError:
    """A boto3 error as the store's own: missing or damaged is StorageError, the rest
    (timeouts, refusals) StorageUnavailable."""
    if isinstance(exc, FlexibleChecksumError):
        # The bytes do not match the checksum the bucket holds: damage, not an outage.
        return StorageError(f"photo file {what} does not match its sha256 (checksum)")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in MISSING:
            return StorageError(f"photo file {what} is missing")
        return StorageUnavailable(f"photo storage refused {what}: {code or 'error'}")
    return StorageUnavailable(f"photo storage did not answer for {what}: {type(exc).__name__}")


class ObjectReader(io.RawIOBase):
    """An object's body, read in chunks as the caller asks (the export), never whole."""

    def __init__(self, body: Any, key: str) -> None:  # noqa: ANN401 - botocore StreamingBody
        super().__init__()
        self._body, self._key = body, key

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise _failure(exc, self._key) from None

    def readinto(self, buffer: Any) -> int:  # noqa: ANN401 - a writable buffer
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class _Hashing(io.RawIOBase):
    """A file read through, hashing and counting what passes (for ``upload_fileobj``)."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source, self.digest, self.size = source, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class S3PhotoStore:
    """Objects ``<prefix>ab/<32 hex>.jpg`` in ``bucket``, through ``client``."""

    def __init__(
        self, client: Any, bucket: str, prefix: str = "", crash_at: str | None = None
    ) -> None:  # noqa: ANN401 - boto3 client
        self.client, self.bucket, self.crash_at = client, bucket, crash_at
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _crash(self, stage: str) -> None:
        if self.crash_at == stage:
            raise SimulatedCrash(stage)

    def name(self, key: str) -> str:
        """The object name of a key; keys that are not ours never reach the bucket."""
        if not KEY_PATTERN.match(key):
            raise StorageError("malformed photo key")
        return self.prefix + key

    def where(self) -> str:
        return f"the bucket {self.bucket}" + (f" under {self.prefix}" if self.prefix else "")

    # ---------------------------------------------------------------- writes

    def put(self, data: Source) -> Stored:
        return self._write(new_key(), data, None)

    def put_at(self, key: str, data: Source, sha256: str) -> Stored:
        return self._write(key, data, sha256)

    def _write(self, key: str, data: Source, expected: str | None) -> Stored:
        name = self.name(key)
        if isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data)
            stored = Stored(key, hashlib.sha256(data).hexdigest(), len(data))
            if expected is not None and stored.sha256 != expected:
                raise StorageError(f"photo file {key} does not match its sha256")
            if len(data) <= PART:
                self._put_small(name, data, stored)
                self._crash("renamed")
                return stored
            data = io.BytesIO(data)
        return self._put_file(key, name, data, expected)

    def _put_small(self, name: str, data: bytes, stored: Stored) -> None:
        # Content-MD5 is S3's transfer check (a short or altered body is refused); the
        # integrity that matters is the sha256 kept in the row, so MD5 is not for security.
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=data,
                ContentMD5=md5,
                ContentType="image/jpeg",
                Metadata={SHA_META: stored.sha256},
            )
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, stored.key) from None

    def _put_file(self, key: str, name: str, source: BinaryIO, expected: str | None) -> Stored:
        """A file: its sha256 goes in the metadata, so it is read once to hash it (a
        seekable file in place, any other through a temporary file), then uploaded."""
        if not _seekable(source):
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
            try:
                for chunk in chunks(source):
                    spool.write(chunk)
                spool.seek(0)
                return self._put_file(key, name, spool, expected)
            finally:
                spool.close()
        start = source.tell()
        digest, size = hashlib.sha256(), 0
        for chunk in chunks(source):
            digest.update(chunk)
            size += len(chunk)
        sha256 = digest.hexdigest()
        if expected is not None and sha256 != expected:
            raise StorageError(f"photo file {key} does not match its sha256")
        source.seek(start)
        reading = _Hashing(source)
        try:
            self.client.upload_fileobj(
                reading,
                self.bucket,
                name,
                ExtraArgs={"ContentType": "image/jpeg", "Metadata": {SHA_META: sha256}},
                Config=TRANSFER,
            )
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, key) from None
        if reading.digest.hexdigest() != sha256:
            # The file changed between hashing and sending: the object is not what the
            # metadata says, so it must not stay.
            self.delete(key)
            raise StorageError(f"photo file {key} changed while it was stored")
        self._crash("renamed")
        return Stored(key, sha256, size)

    # ---------------------------------------------------------------- reads

    def _get(self, key: str) -> Any:  # noqa: ANN401 - the GetObject answer
        name = self.name(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, key) from None

    def read(self, key: str, sha256: str) -> bytes:
        with self.open(key) as body:
            data = body.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"photo file {key} does not match its sha256")
        return data

    def open(self, key: str) -> BinaryIO:
        return ObjectReader(self._get(key)["Body"], key)  # type: ignore[return-value]

    def stored_sha256(self, key: str) -> str | None:
        """The sha256 an object says it has (HeadObject), or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except (BotoCoreError, ClientError) as exc:
            failure = _failure(exc, key)
            if isinstance(failure, StorageUnavailable):
                raise failure from None
            return None
        return head.get("Metadata", {}).get(SHA_META)

    # ---------------------------------------------------------------- removal

    def delete(self, key: str) -> None:
        # DeleteObject of a missing object succeeds: idempotent, as the local store.
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.name(key))
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, key) from None

    def sweep(self, is_referenced: Callable[[set[str]], set[str]], older_than: float) -> int:
        """Delete objects under the prefix older than ``older_than`` seconds that no row
        uses, and unfinished multipart uploads of our keys as old (the temp files of
        objects)."""
        cutoff = datetime.fromtimestamp(wall_seconds() - older_than, UTC)
        removed = 0
        for page in self._pages("list_objects_v2", "Contents"):
            old = {
                item["Key"][len(self.prefix) :] for item in page if item["LastModified"] <= cutoff
            }
            keys = {k for k in old if KEY_PATTERN.match(k)}
            for key in sorted(keys - (is_referenced(keys) if keys else set())):
                self.delete(key)
                removed += 1
        for page in self._pages("list_multipart_uploads", "Uploads"):
            for upload in page:
                # Only our own keys: the prefix is a plain string match, so another
                # clinic's or tool's upload under "<prefix>b/..." is listed too, and may
                # be in flight right now.
                ours = KEY_PATTERN.match(upload["Key"][len(self.prefix) :])
                if ours and upload["Initiated"] <= cutoff:
                    self._call(
                        "abort_multipart_upload",
                        Bucket=self.bucket,
                        Key=upload["Key"],
                        UploadId=upload["UploadId"],
                    )
                    removed += 1
        return removed

    def keys(self) -> Iterable[str]:
        for page in self._pages("list_objects_v2", "Contents"):
            for item in page:
                key = item["Key"][len(self.prefix) :]
                if KEY_PATTERN.match(key):
                    yield key

    def has_files(self) -> bool:
        answer = self._call("list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=2)
        return any(item["Key"] != self.prefix + OWNER_NAME for item in answer.get("Contents", []))

    def owner(self) -> str | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + OWNER_NAME)
            raw = answer["Body"].read(256)
        except (BotoCoreError, ClientError) as exc:
            failure = _failure(exc, OWNER_NAME)
            if isinstance(failure, StorageUnavailable):
                raise failure from None
            return None
        # An unreadable or foreign mark is still a mark: it must not pass as "no owner".
        return raw.decode("ascii", "replace").strip()

    def set_owner(self, mark: str) -> None:
        # One PutObject: S3 never shows a half-written object.
        self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self.prefix + OWNER_NAME,
            Body=mark.encode("ascii"),
            ContentType="text/plain",
        )

    def _pages(self, operation: str, field: str) -> Iterator[list[dict]]:
        try:
            for page in self.client.get_paginator(operation).paginate(
                Bucket=self.bucket, Prefix=self.prefix
            ):
                yield page.get(field, [])
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, f"{operation} of {self.bucket}") from None

    def _call(self, operation: str, **kwargs: Any) -> Any:  # noqa: ANN401 - boto3 answers
        try:
            return getattr(self.client, operation)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise _failure(exc, f"{operation} of {self.bucket}") from None


def _seekable(source: BinaryIO) -> bool:
    try:
        return source.seekable()
    except (AttributeError, OSError, ValueError):
        return False


__all__ = ["CHUNK", "S3PhotoStore", "make_client"]
