"""The photo store contract, run against both stores: the local folder and an S3 bucket
on a real loopback HTTP endpoint (moto server mode, ``tests/s3_server.py``).

Whatever the store: random private keys, bytes back as stored, a sha256 mismatch and a
missing key are ``StorageError``, deletes are idempotent, the sweep removes only old
unreferenced files, and a 20 MB file is stored in chunks, not held whole (issue 21).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import time
import tracemalloc

import pytest

from app.adapters.photo_store import KEY_PATTERN
from app.adapters.photo_store import LocalPhotoStore
from app.adapters.photo_store import StorageError
from app.adapters.photo_store import StorageUnavailable
from app.adapters.photo_store import Stored
from app.adapters.photo_store_s3 import S3PhotoStore
from app.adapters.photo_store_s3 import make_client

MB = 1024 * 1024


class Tamper:
    """Store-specific ways to alter, age and list what a store holds (for the tests)."""

    def __init__(self, store, kind: str) -> None:  # noqa: ANN001
        self.store, self.kind = store, kind

    def overwrite(self, key: str, data: bytes) -> None:
        if self.kind == "local":
            with open(self.store.path(key), "wb") as f:
                f.write(data)
        else:
            self.store.client.put_object(
                Bucket=self.store.bucket, Key=self.store.name(key), Body=data
            )

    def exists(self, key: str) -> bool:
        return key in set(self.store.keys())


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalPhotoStore(str(tmp_path / "photos"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3PhotoStore(make_client(endpoint, "us-east-1"), bucket, prefix="clinic-a")


@pytest.fixture
def tamper(store):
    return Tamper(store, "local" if isinstance(store, LocalPhotoStore) else "s3")


def test_put_read_open_delete(store, tamper):
    first, second = store.put(b"one"), store.put(b"one")
    assert first.key != second.key
    assert KEY_PATTERN.match(first.key) and KEY_PATTERN.match(second.key)
    assert first.sha256 == hashlib.sha256(b"one").hexdigest() and first.size == 3
    assert store.read(first.key, first.sha256) == b"one"
    with store.open(first.key) as f:
        assert f.read(2) + f.read(10) + f.read(10) == b"one"
    assert sorted(store.keys()) == sorted([first.key, second.key])
    assert store.has_files()
    store.delete(second.key)
    store.delete(second.key)  # idempotent
    assert not tamper.exists(second.key) and tamper.exists(first.key)
    with pytest.raises(StorageError, match="missing"):
        store.read(second.key, second.sha256)
    with pytest.raises(StorageError, match="missing"):
        store.open(second.key)


def test_an_empty_store_has_no_files(store):
    assert not store.has_files() and list(store.keys()) == []


def test_a_sha256_mismatch_is_a_storage_error(store, tamper):
    item = store.put(b"original bytes")
    tamper.overwrite(item.key, b"original bytes<script>")
    with pytest.raises(StorageError, match="sha256"):
        store.read(item.key, item.sha256)
    with pytest.raises(StorageError, match="sha256"):
        store.read(store.put(b"x").key, "0" * 64)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "ab/../../x.jpg", "AB/x.jpg"])
def test_keys_that_are_not_ours_never_reach_the_store(store, bad):
    for call in (lambda: store.read(bad, "0" * 64), lambda: store.open(bad)):
        with pytest.raises(StorageError, match="malformed"):
            call()
    with pytest.raises(StorageError, match="malformed"):
        store.delete(bad)


def test_put_at_keeps_the_key_and_refuses_other_bytes(store, tamper):
    key = "ab/" + "c" * 32 + ".jpg"
    data = b"restored photo"
    stored = store.put_at(key, io.BytesIO(data), hashlib.sha256(data).hexdigest())
    assert stored.key == key and store.read(key, stored.sha256) == data
    other = "cd/" + "e" * 32 + ".jpg"
    with pytest.raises(StorageError, match="sha256"):
        store.put_at(other, data, "0" * 64)
    assert not tamper.exists(other)
    assert list(store.keys()) == [key]  # nothing half-written left behind


def test_sweep_spares_young_and_referenced_files(store, tamper):
    orphan, kept = store.put(b"orphan"), store.put(b"kept")
    time.sleep(3)  # S3 times objects to the second, so the "old" ones must be seconds old
    young = store.put(b"young")
    asked: list[set[str]] = []

    def referenced(keys: set[str]) -> set[str]:
        asked.append(set(keys))
        return keys & {kept.key}

    assert store.sweep(referenced, older_than=2) == 1
    assert not tamper.exists(orphan.key)
    assert tamper.exists(kept.key) and tamper.exists(young.key)
    assert young.key not in set().union(*asked)  # young files are not even looked up
    assert store.sweep(lambda keys: keys, older_than=0) == 0  # all referenced: none go


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward (as a request body can be)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left, self.digest = size, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self.left if size is None or size < 0 else min(size, self.left)
        data = os.urandom(n) if n else b""
        self.left -= n
        self.digest.update(data)
        return data


PUT_IN_A_CHILD = """
import hashlib, io, os, sys, tracemalloc
sys.path.insert(0, os.getcwd())
from tests.services.test_photo_store_contract import Unseekable, MB
from app.adapters.photo_store_s3 import S3PhotoStore, make_client
endpoint, bucket, seekable, path = sys.argv[1:5]
store = S3PhotoStore(make_client(endpoint, "us-east-1"), bucket, prefix="clinic-a")
source = open(path, "rb") if seekable == "1" else Unseekable(20 * MB)
tracemalloc.start()
stored = store.put(source)
peak = tracemalloc.get_traced_memory()[1]
print(stored.key, stored.sha256, stored.size, peak)
"""


def _put(store, source):  # noqa: ANN001, ANN202
    """Put ``source``: (Stored, peak traced bytes of the put alone).

    An S3 put runs in a child process: the moto server lives in this one and keeps the
    object and its parts in memory, which would be counted against the client.
    """
    if isinstance(store, LocalPhotoStore):
        tracemalloc.start()
        try:
            stored = store.put(source)
            return stored, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    endpoint = store.client.meta.endpoint_url
    seekable, path = ("1", source.name) if hasattr(source, "name") else ("0", "-")
    out = subprocess.run(
        [sys.executable, "-c", PUT_IN_A_CHILD, endpoint, store.bucket, seekable, path],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    return Stored(out[0], out[1], int(out[2])), int(out[3])


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "stream"])
def test_a_20_mb_upload_is_streamed_not_held(store, tmp_path, seekable):
    size = 20 * MB
    path = tmp_path / "upload.bin"
    with open(path, "wb") as f:
        for _ in range(20):
            f.write(os.urandom(MB))
    source = open(path, "rb") if seekable else Unseekable(size)  # noqa: SIM115 - closed below
    try:
        stored, peak = _put(store, source)
    finally:
        source.close()
    assert stored.size == size
    if seekable:
        with open(path, "rb") as f:
            assert stored.sha256 == hashlib.sha256(f.read()).hexdigest()
    elif isinstance(store, LocalPhotoStore):
        assert stored.sha256 == source.digest.hexdigest()
    # Held whole, the upload alone would be 20 MB and its copies more: the local store
    # copies 1 MB at a time, the S3 store sends 8 MB parts, two at a time.
    limit = 8 * MB if isinstance(store, LocalPhotoStore) else 40 * MB
    assert peak < limit, f"peak {peak / MB:.1f} MB"
    digest = hashlib.sha256()
    with store.open(stored.key) as f:
        while chunk := f.read(MB):
            digest.update(chunk)
    assert digest.hexdigest() == stored.sha256


# ------------------------------------------------------------------ S3 only


@pytest.fixture
def s3_store(s3_endpoint, s3_bucket):
    return S3PhotoStore(make_client(s3_endpoint, "us-east-1"), s3_bucket, prefix="p")


def test_every_write_carries_a_checksum_of_its_bytes(s3_store, tmp_path):
    """A short or altered transfer must be refused by the server: every PutObject sends
    the Content-MD5 of its body, every part of a multipart upload a checksum. (AWS S3,
    MinIO and Ceph check them; moto does not, so this checks what is sent.)"""
    sent: list[tuple[str, dict, bytes]] = []

    def record(request, event_name: str, **kwargs) -> None:  # noqa: ANN001
        body = request.body
        data = body if isinstance(body, bytes) else body.read() if hasattr(body, "read") else b""
        if hasattr(body, "seek"):
            body.seek(0)
        sent.append((event_name.rsplit(".", 1)[-1], dict(request.headers), data))

    events = s3_store.client.meta.events
    for operation in ("PutObject", "UploadPart"):
        events.register(f"before-send.s3.{operation}", record)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(17 * MB))
    try:
        s3_store.put(b"a small photo")
        with open(big, "rb") as f:
            s3_store.put(f)
    finally:
        for operation in ("PutObject", "UploadPart"):
            events.unregister(f"before-send.s3.{operation}", record)
    assert [name for name, _, _ in sent] == ["PutObject", "UploadPart", "UploadPart", "UploadPart"]
    small_headers, small_body = sent[0][1], sent[0][2]
    md5 = base64.b64encode(hashlib.md5(small_body).digest())  # noqa: S324 - what S3 checks
    assert small_headers["Content-MD5"] in (md5, md5.decode())
    for _, headers, _ in sent[1:]:
        assert any(h.lower().startswith("x-amz-checksum-") or h == "Content-MD5" for h in headers)


def test_objects_carry_their_sha256_and_no_public_grant(s3_store):
    item = s3_store.put(b"private")
    assert s3_store.stored_sha256(item.key) == item.sha256
    assert s3_store.stored_sha256("ab/" + "0" * 32 + ".jpg") is None
    acl = s3_store.client.get_object_acl(Bucket=s3_store.bucket, Key=s3_store.name(item.key))
    assert all("URI" not in grant["Grantee"] for grant in acl["Grants"])  # no AllUsers


def test_sweep_aborts_abandoned_multipart_uploads_and_spares_strangers(s3_store):
    client, bucket = s3_store.client, s3_store.bucket
    client.create_multipart_upload(Bucket=bucket, Key="p/ab/" + "1" * 32 + ".jpg")
    client.put_object(Bucket=bucket, Key="p/not-a-photo.txt", Body=b"someone else's")
    # Another clinic's (or tool's) uploads in flight under our prefix string: not ours.
    strangers = {"p/b/ab/" + "3" * 32 + ".jpg", "p/backup.tar"}
    for key in strangers:
        client.create_multipart_upload(Bucket=bucket, Key=key)
    client.put_object(Bucket=bucket, Key="other/ab/" + "2" * 32 + ".jpg", Body=b"other prefix")
    time.sleep(1.1)
    assert s3_store.sweep(lambda keys: set(), older_than=0) == 1
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert {upload["Key"] for upload in left} == strangers
    for upload in left:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    names = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert names == {"p/not-a-photo.txt", "other/ab/" + "2" * 32 + ".jpg"}


def test_errors_map_to_damage_missing_or_unavailable(s3_store):
    """A body that fails the bucket's own checksum is damage (the photo's "damaged"
    page), a missing object is missing, a timeout or refusal is an outage (503)."""
    from botocore.exceptions import ClientError
    from botocore.exceptions import FlexibleChecksumError
    from botocore.exceptions import ReadTimeoutError

    from app.adapters.photo_store_s3 import _failure

    damaged = _failure(FlexibleChecksumError(error_msg="crc32 mismatch"), "ab/x.jpg")
    assert type(damaged) is StorageError and "sha256" in str(damaged)
    missing = _failure(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject"), "ab/x.jpg")
    assert type(missing) is StorageError and "missing" in str(missing)
    refused = _failure(ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject"), "k")
    assert isinstance(refused, StorageUnavailable) and "AccessDenied" in str(refused)
    slow = _failure(ReadTimeoutError(endpoint_url="http://s3"), "k")
    assert isinstance(slow, StorageUnavailable) and isinstance(slow, OSError)
