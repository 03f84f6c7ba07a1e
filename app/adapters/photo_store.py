"""Where photo bytes live: a small interface, and a local-folder implementation.

The database row is written only after the file is durably in place (temp file in the
same folder, fsync, rename, fsync the folder), so a row never points at a missing or
short file. A crash in between leaves at most an unreferenced file, which ``sweep``
removes once it is older than any upload still in flight. Names are random (128 bits)
and never come from the user; the folder is outside ``static/`` and nothing lists it.

What services call: ``PhotoStore`` (``put``, ``read`` checked against a sha256,
``open``, ``delete``, ``sweep``; ``put_at`` and ``keys`` for restores and migrations);
``LocalPhotoStore`` implements it, ``app.adapters.photo_store_s3.S3PhotoStore`` the same
calls on an S3-compatible bucket. ``put`` takes bytes or a binary file, which is copied
in chunks, so a large upload is never held whole. Nothing here imports a service or a
model.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO
from typing import Protocol

from app.clock import wall_seconds

KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.jpg$")
TEMP_PREFIX = ".tmp-"
# The owner mark: which installation sweeps this store (app/services/photos/owner.py). Two
# installations given one folder or bucket prefix would each sweep away the other's
# photos, which no row of theirs refers to; the mark lets the second one refuse.
OWNER_NAME = ".sclerocare-owner"
CHUNK = 1 << 20

Source = bytes | BinaryIO


class StorageError(Exception):
    """A stored file is missing, short, or does not match its recorded sha256."""


class StorageUnavailable(StorageError, OSError):
    """The store did not answer in time or refused the request. An I/O error too, so
    callers that leave a file they could not delete to the sweeper (``except OSError``)
    do the same with an unreachable bucket."""


class SimulatedCrash(BaseException):  # noqa: N818 - it models a kill, not an error
    """Raised at a named write stage in tests (``PHOTO_CRASH_AT``), like ``kill -9``.

    A BaseException, so the clean-up paths written for ordinary errors do not run and
    the test sees exactly what a dead process would leave behind.
    """


@dataclass(frozen=True)
class Stored:
    key: str
    sha256: str
    size: int


class PhotoStore(Protocol):
    """What the photo service needs from a store."""

    def put(self, data: Source) -> Stored:
        """Store bytes (or a binary file, read in chunks) durably under a new random key."""
        ...

    def put_at(self, key: str, data: Source, sha256: str) -> Stored:
        """Store ``data`` under a known ``key`` (a restore, a migration); StorageError,
        and nothing left behind, if its bytes do not match ``sha256``."""
        ...

    def read(self, key: str, sha256: str) -> bytes:
        """The bytes of ``key``, checked against ``sha256``; StorageError otherwise."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file of ``key`` for reading in chunks (the caller checks the sha256)."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if it is already gone)."""
        ...

    def sweep(self, is_referenced: Callable[[set[str]], set[str]], older_than: float) -> int:
        """Remove files and temp files older than ``older_than`` seconds that no row uses."""
        ...

    def keys(self) -> Iterable[str]:
        """Every stored key."""
        ...

    def has_files(self) -> bool:
        """Whether anything at all is stored (a restore goes only into an empty store).
        The owner mark alone is not a file: it holds no photo."""
        ...

    def owner(self) -> str | None:
        """The owner mark of the installation that sweeps this store, or None."""
        ...

    def set_owner(self, mark: str) -> None:
        """Write the owner mark (whole: a reader sees the old one or the new one)."""
        ...

    def where(self) -> str:
        """Where the files are, for messages ("the photo folder ...", "the bucket ...")."""
        ...


def new_key() -> str:
    """A fresh random key: ``ab/<32 hex>.jpg`` (128 bits; never from the user)."""
    name = secrets.token_hex(16)
    return f"{name[:2]}/{name}.jpg"


def chunks(data: Source) -> Iterable[bytes]:
    """The bytes of ``data`` in pieces of at most ``CHUNK`` (a file is read as it goes)."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for i in range(0, len(view), CHUNK):
            yield bytes(view[i : i + CHUNK])
        return
    while chunk := data.read(CHUNK):
        yield chunk


class LocalPhotoStore:
    """Files under ``root/ab/<32 hex>.jpg``, mode 0600, folders 0700."""

    def __init__(self, root: str, crash_at: str | None = None) -> None:
        self.root = os.path.abspath(root)
        self.crash_at = crash_at

    def _crash(self, stage: str) -> None:
        if self.crash_at == stage:
            raise SimulatedCrash(stage)

    def path(self, key: str) -> str:
        """The file for a key; keys that are not ours never reach the file system."""
        if not KEY_PATTERN.match(key):
            raise StorageError("malformed photo key")
        return os.path.join(self.root, key)

    def put(self, data: Source) -> Stored:
        return self._write(new_key(), data, None)

    def put_at(self, key: str, data: Source, sha256: str) -> Stored:
        return self._write(key, data, sha256)

    def _write(self, key: str, data: Source, expected: str | None) -> Stored:
        target = self.path(key)
        folder = os.path.dirname(target)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        temp = os.path.join(folder, f"{TEMP_PREFIX}{os.path.basename(key)[:-4]}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        digest, size = hashlib.sha256(), 0
        try:
            try:
                for chunk in chunks(data):
                    digest.update(chunk)
                    size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                self._crash("temp-written")
                os.fsync(fd)
                self._crash("fsynced")
            finally:
                os.close(fd)
            if expected is not None and digest.hexdigest() != expected:
                raise StorageError(f"photo file {key} does not match its sha256")
            os.rename(temp, target)  # 128 random bits: names do not clash
        except Exception:
            remove_file(temp)  # disk full, I/O error: leave nothing behind
            raise
        self._crash("renamed")
        fsync_dir(folder)
        return Stored(key, digest.hexdigest(), size)

    def read(self, key: str, sha256: str) -> bytes:
        try:
            with open(self.path(key), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise StorageError(f"photo file {key} is missing") from None
        except OSError as exc:  # a folder in its place, no permission: unreadable, as damage
            raise StorageError(f"photo file {key} cannot be read: {exc.strerror}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"photo file {key} does not match its sha256")
        return data

    def open(self, key: str) -> BinaryIO:
        # The export copies files in chunks rather than reading each whole (issue 20).
        try:
            return open(self.path(key), "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            raise StorageError(f"photo file {key} is missing") from None
        except OSError as exc:  # a folder in its place, no permission: unreadable, as damage
            raise StorageError(f"photo file {key} cannot be read: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        path = self.path(key)
        if remove_file(path):
            fsync_dir(os.path.dirname(path))

    def sweep(self, is_referenced: Callable[[set[str]], set[str]], older_than: float) -> int:
        cutoff = wall_seconds() - older_than
        removed = 0
        for folder, names in self._folders():
            old = [n for n in names if _mtime(os.path.join(folder, n)) <= cutoff]
            temps = [n for n in old if n.startswith(TEMP_PREFIX)]
            keys = {f"{os.path.basename(folder)}/{n}" for n in old if not n.startswith(".")}
            keep = is_referenced({k for k in keys if KEY_PATTERN.match(k)}) if keys else set()
            for name in temps + [k.split("/")[1] for k in keys - keep]:
                removed += remove_file(os.path.join(folder, name))
        return removed

    def keys(self) -> Iterable[str]:
        """Every stored key (for integrity checks and tests)."""
        for folder, names in self._folders():
            for name in names:
                key = f"{os.path.basename(folder)}/{name}"
                if KEY_PATTERN.match(key):
                    yield key

    def has_files(self) -> bool:
        # Any file at all, temp files and strangers included: a restore never merges.
        if not os.path.isdir(self.root):
            return False
        for folder, _, names in os.walk(self.root):
            if folder == self.root:
                names = [n for n in names if n != OWNER_NAME]
            if names:
                return True
        return False

    def owner(self) -> str | None:
        try:
            with open(os.path.join(self.root, OWNER_NAME), "rb") as f:
                raw = f.read(256)
        except FileNotFoundError:
            return None
        # An unreadable or foreign mark is still a mark: it must not pass as "no owner".
        return raw.decode("ascii", "replace").strip()

    def set_owner(self, mark: str) -> None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        target = os.path.join(self.root, OWNER_NAME)
        temp = f"{target}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, mark.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        fsync_dir(self.root)

    def where(self) -> str:
        return f"the photo folder {self.root}"

    def _folders(self) -> Iterable[tuple[str, list[str]]]:
        if not os.path.isdir(self.root):
            return
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False) and re.fullmatch(r"[0-9a-f]{2}", entry.name):
                yield entry.path, sorted(os.listdir(entry.path))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")


def remove_file(path: str) -> bool:
    """Remove a file; False when it was already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def fsync_dir(folder: str) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
