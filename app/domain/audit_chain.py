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
