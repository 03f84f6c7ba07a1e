"""The audit trail's hash chain: one event's fingerprint, from its content and the
fingerprint of the event before it.

Each event's ``row_hash`` is SHA-256 over a canonical encoding of its content fields and
its ``prev_hash``, so editing any field of a stored event changes what its hash should
be, and removing an event leaves the next one pointing at a hash that is no longer
there. The encoding is frozen: existing chains (and the migration that chained the
rows stored before it) depend on it byte for byte, so never change it in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

# prev_hash of the first event: "nothing came before".
GENESIS = "0" * 64

# Every column of an audit event the hash covers; id and created_at included so an event
# cannot be moved in the order or in time without detection.
CONTENT_FIELDS = (
    "id",
    "clinic_id",
    "actor_id",
    "actor_name",
    "patient_id",
    "action",
    "detail",
    "address",
    "created_at",
)


def canonical(event: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes hashed for ``event``: JSON with sorted keys and no spaces, so one event
    has exactly one encoding (a "|"-joined string would let a name containing "|" move
    text from one field to the next undetected)."""
    created = event["created_at"]
    if not isinstance(created, datetime) or created.tzinfo is None:
        raise ValueError("an audit event's created_at must be an aware datetime")
    fields: dict[str, Any] = {name: event[name] for name in CONTENT_FIELDS}
    fields["created_at"] = created.astimezone(UTC).isoformat(timespec="microseconds")
    fields["prev_hash"] = prev_hash
    for name in ("id", "clinic_id", "actor_id", "patient_id"):
        value = fields[name]
        # bool is an int in Python: refuse it rather than hash True as true.
        if value is not None and (type(value) is not int):
            raise ValueError(f"an audit event's {name} must be an int or None")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def row_hash(event: Mapping[str, Any], prev_hash: str) -> str:
    """The hex SHA-256 an event with these fields, after ``prev_hash``, must carry."""
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


# ------------------------------------------------------------------ sealed events
#
# An event whose free text may name a person (``actor_name``, ``detail``) is hashed
# through a seal: the hash covers the seal, a salted SHA-256 of the two texts, not the
# texts themselves. The text and the salt can then be blanked (a patient's record
# erased after its retention period, docs/decisions/account-closure.md) and the chain
# still verifies against the stored seal. The salt is random per event and goes with
# the text, so a blanked event's seal cannot be tested against a guessed name.

# The texts an erased event carries in place of its own (the verifier accepts no other:
# a blanked event cannot be given new words).
ERASED_TEXT = "(erased)"
SEALED_FIELDS = tuple(name for name in CONTENT_FIELDS if name not in ("actor_name", "detail"))


def seal(salt: str, actor_name: str, detail: str) -> str:
    """The seal over an event's texts: hex SHA-256 of a JSON list, so no text can move
    from one field to the other undetected."""
    doc = json.dumps([salt, actor_name, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(doc.encode("utf-8", "surrogatepass")).hexdigest()


def sealed_row_hash(event: Mapping[str, Any], prev_hash: str) -> str:
    """The hex SHA-256 a sealed event must carry: as ``row_hash``, with ``seal`` in place
    of the two texts, and a version key so the two encodings never collide."""
    fields = {name: event[name] for name in SEALED_FIELDS}
    fields["actor_name"] = fields["detail"] = ""
    body = json.loads(canonical(fields, prev_hash))
    for name in ("actor_name", "detail"):
        del body[name]
    body["seal"] = str(event["seal"])
    body["v"] = 2
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
