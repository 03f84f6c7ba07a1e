"""Sealing a second-factor secret for the database (moved out of ``mfa`` to keep that
module under the size limit; ``mfa.seal`` and ``mfa.unseal`` still name these).

AES-GCM under a key derived from SECRET_KEY (HMAC with a fixed label), so a copy of the
database, or of a backup, cannot mint codes without the app's key. Each key in
SECRET_KEY_FALLBACKS is tried too, so a rotated key keeps secrets readable meanwhile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

_KEY_LABEL = b"sclerocare/mfa-secret/v1"


def _keys() -> list[bytes]:
    secret_keys = [current_app.config["SECRET_KEY"]]
    secret_keys += list(current_app.config.get("SECRET_KEY_FALLBACKS") or [])
    return [
        hmac.new(str(k).encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest() for k in secret_keys
    ]


def seal(secret: str) -> str:
    """The secret encrypted under the current key, as text for the database."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_keys()[0]).encrypt(nonce, secret.encode("ascii"), _KEY_LABEL)
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(stored: str) -> str:
    """The secret back; the current key first, then each fallback key."""
    raw = base64.urlsafe_b64decode(stored.removeprefix("v1:").encode("ascii"))
    for key in _keys():
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], _KEY_LABEL).decode("ascii")
        except InvalidTag:
            continue
    raise RuntimeError("A second-factor secret cannot be read with any configured key.")
