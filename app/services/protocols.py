"""Protocol files: validate, load as a new version, list, and read back (cached)."""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.domain.protocol import Problem
from app.domain.protocol import Protocol
from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from app.domain.protocol.parse import BOM
from app.extensions import db
from app.models import Clinic
from app.models import ProtocolVersion
from app.services.errors import Invalid
from app.textinput import find_control

MAX_FILE_BYTES = 256 * 1024


def read_file(path: str) -> Protocol:
    """Read and validate a protocol file from disk.

    :raises ProtocolError: for an unreadable, oversized, non-UTF-8 or invalid file.
    """
    return _checked(path, _read_text(path))


def _read_text(path: str) -> str:
    """A protocol file's text, without the byte order mark a Windows editor may have
    put before it (so a file saved with and without one is the same version).

    :raises ProtocolError: for an unreadable, oversized or non-UTF-8 file.
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(
            [Problem(name, "file", "path", f"cannot be read: {exc.strerror}")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProtocolError(
            [Problem(name, "file", "size", f"is larger than {MAX_FILE_BYTES} bytes")]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            [Problem(name, "file", "encoding", f"is not UTF-8 text ({exc.reason})")]
        ) from None
    return text.removeprefix(BOM)


def _checked(path: str, text: str) -> Protocol:
    """The protocol in ``text`` (read from ``path``), validated.

    :raises ProtocolError: naming every problem.
    """
    name = os.path.basename(path)
    protocol = parse_protocol(text, name)
    # TOML escapes (\u0000) can still put control characters into the text, which
    # PostgreSQL cannot store and no page should show (app.textinput).
    place = find_control(tomllib.loads(text))
    if place:
        raise ProtocolError(
            [Problem(name, "text", place, "holds a control character (such as NUL); remove it")]
        )
    return protocol


@dataclass(frozen=True)
class LoadResult:
    """What ``load`` did for one clinic."""

    clinic: str
    key: str
    version: int
    created: bool


def load(path: str, clinic_slug: str | None, now: datetime) -> list[LoadResult]:
    """Store a validated protocol file as the next version for one clinic or for all.

    An unchanged file (same bytes as the latest version) makes no new version.
    """
    # Read once: the text checked is the text stored.
    text = _read_text(path)
    protocol = _checked(path, text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    query = sa.select(Clinic).order_by(Clinic.id)
    if clinic_slug:
        query = query.where(Clinic.slug == clinic_slug)
    clinics = db.session.scalars(query).all()
    if not clinics:
        raise Invalid(
            "clinic", f"no clinic {clinic_slug!r}" if clinic_slug else "no clinics exist yet"
        )
    results = [_store(clinic, protocol, text, digest, now) for clinic in clinics]
    db.session.commit()
    return results


def _store(clinic: Clinic, protocol: Protocol, text: str, digest: str, now: datetime) -> LoadResult:
    latest = db.session.scalar(
        sa.select(ProtocolVersion)
        .where(ProtocolVersion.clinic_id == clinic.id, ProtocolVersion.key == protocol.key)
        .order_by(ProtocolVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.sha256 == digest:
        return LoadResult(clinic.slug, protocol.key, latest.version, False)
    version = (latest.version + 1) if latest else 1
    db.session.add(
        ProtocolVersion(
            clinic_id=clinic.id,
            key=protocol.key,
            version=version,
            name=protocol.name,
            source_text=text,
            sha256=digest,
            created_at=now,
        )
    )
    db.session.flush()
    return LoadResult(clinic.slug, protocol.key, version, True)


def latest_for_clinic(clinic_id: int, *, signed_off: bool = False) -> list[ProtocolVersion]:
    """The newest version of each protocol a clinic has, by name.

    ``signed_off``: the newest version a clinic admin has signed off, which is what a
    new treatment may use; a newer version waiting for sign-off leaves the one before it
    on offer, and a protocol with no signed-off version is not offered at all.
    """
    newest = sa.select(ProtocolVersion.key, sa.func.max(ProtocolVersion.version).label("v")).where(
        ProtocolVersion.clinic_id == clinic_id
    )
    if signed_off:
        newest = newest.where(ProtocolVersion.signed_off_at.is_not(None))
    newest = newest.group_by(ProtocolVersion.key).subquery()
    return list(
        db.session.scalars(
            sa.select(ProtocolVersion)
            .join(
                newest,
                sa.and_(ProtocolVersion.key == newest.c.key, ProtocolVersion.version == newest.c.v),
            )
            .where(ProtocolVersion.clinic_id == clinic_id)
            .order_by(ProtocolVersion.name)
        )
    )


def all_versions() -> list[tuple[str, ProtocolVersion]]:
    """Every stored version with its clinic's slug, for ``flask protocols list``."""
    rows = db.session.execute(
        sa.select(Clinic.slug, ProtocolVersion)
        .join(ProtocolVersion, ProtocolVersion.clinic_id == Clinic.id)
        .order_by(Clinic.slug, ProtocolVersion.key, ProtocolVersion.version)
    ).all()
    return [(slug, pv) for slug, pv in rows]


# Parsed protocols by (version id, sha256). Versions never change once written, and the
# digest keeps a different database (tests reuse ids) from hitting a stale entry.
_PARSED: dict[tuple[int, str], Protocol] = {}


def protocol_by_version(version_id: int, sha256: str, text: str | None = None) -> Protocol:
    """A stored protocol version, parsed once per process; loads the text on a miss."""
    key = (version_id, sha256)
    found = _PARSED.get(key)
    if found is None:
        if text is None:
            text = db.session.scalar(
                sa.select(ProtocolVersion.source_text).where(ProtocolVersion.id == version_id)
            )
        found = parse_protocol(text or "", f"protocol version {version_id}", stored=True)
        if len(_PARSED) > 512:
            _PARSED.clear()
        _PARSED[key] = found
    return found


def shipped_files(directory: str) -> list[str]:
    """The protocol files shipped with the app, sorted."""
    return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".toml"))
