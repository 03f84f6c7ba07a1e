"""Web push: VAPID keys, endpoint checks, and the sender (pywebpush under the hood).

The sender signs one VAPID header per push-service origin and reuses it for about 12
hours (signing per message costs as much as encrypting it; performance anchors PG-H3),
sets TTL, Urgency, Topic and a timeout on every request, and reports the push service's
answer without raising, so the dispatcher decides what each status means.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from py_vapid import Vapid
from pywebpush import WebPusher

from config import ConfigError

VAPID_LIFETIME = 12 * 3600  # seconds a signed header is reused (Apple accepts up to 24 h)


def b64u(data: bytes) -> str:
    """URL-safe base64 without padding, as the Push API uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    """Decode URL-safe base64 with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------ VAPID keys


def load_vapid(app: Flask) -> Vapid | None:
    """The app's VAPID key, from configuration or (development) ``instance/``.

    Production must configure ``VAPID_PRIVATE_KEY`` and a ``mailto:``/``https:``
    ``VAPID_SUBJECT``; start-up stops with a clear message otherwise. Development and
    tests generate a key on first run and keep it in ``instance/vapid_private.pem``.
    """
    subject = app.config.get("VAPID_SUBJECT") or ""
    if not subject.startswith(("mailto:", "https:")) or subject.endswith(
        ("@localhost", ".invalid")
    ):
        raise ConfigError(
            "Set VAPID_SUBJECT to a real mailto: or https: address (push services check it)."
        )
    key = app.config.get("VAPID_PRIVATE_KEY")
    if key:
        try:
            return Vapid.from_string(private_key=key)
        except Exception:  # noqa: BLE001 - py_vapid raises several types for bad input
            raise ConfigError(
                "VAPID_PRIVATE_KEY is not a valid base64url P-256 private key."
            ) from None
    if not app.config.get("VAPID_GENERATE_DEV_KEY"):
        raise ConfigError(
            "Set VAPID_PRIVATE_KEY (generate one with `flask notifications vapid-keygen`)."
        )
    path = os.path.join(app.instance_path, "vapid_private.pem")
    if not os.path.exists(path):
        os.makedirs(app.instance_path, exist_ok=True)
        fresh = Vapid()
        fresh.generate_keys()
        fresh.save_key(path)
    return Vapid.from_file(path)


_MEMORY: list[Vapid] = []


def _memory_key() -> Vapid:
    """One throwaway key per process (tests), so no file is written."""
    if not _MEMORY:
        fresh = Vapid()
        fresh.generate_keys()
        _MEMORY.append(fresh)
    return _MEMORY[0]


def init_app(app: Flask) -> None:
    """Load the VAPID key at start-up (fails fast when missing) and build the sender."""
    vapid = load_vapid(app)
    app.extensions["sclero_push"] = {
        "vapid": vapid,
        "public_key": public_key_b64u(vapid),
        "sender": WebPushSender(
            vapid, app.config["VAPID_SUBJECT"], app.config["PUSH_TIMEOUT_SECONDS"]
        ),
    }


def public_key_b64u(vapid: Vapid) -> str:
    """The applicationServerKey browsers subscribe with (uncompressed point, base64url)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64u(raw)


def private_key_b64u(vapid: Vapid) -> str:
    """The raw private scalar, base64url: what ``VAPID_PRIVATE_KEY`` takes."""
    return b64u(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))


# ------------------------------------------------------------------ subscriptions


class BadSubscription(ValueError):
    """A subscription the server refuses to store; the message is safe to show."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """What a browser's ``PushSubscription.toJSON()`` gives, checked."""

    endpoint: str
    p256dh: str
    auth: str

    def as_dict(self) -> dict[str, object]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for pattern in allowed:
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if host == pattern:
            return True
    return False


def check_subscription(
    data: object, allowed_hosts: tuple[str, ...], allow_http: tuple[str, ...] = ()
) -> SubscriptionInfo:
    """Validate a subscription from the browser.

    Endpoints must be ``https://`` on a known push service (configuration), so the
    server can never be made to post to an internal address (security checklist B10).
    ``allow_http`` lists ``host:port`` pairs allowed over plain http (tests only).
    """
    if not isinstance(data, dict):
        raise BadSubscription("The subscription is missing.")
    endpoint = data.get("endpoint")
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    if not isinstance(endpoint, str) or len(endpoint) > 1000:
        raise BadSubscription("The subscription has no usable endpoint.")
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    local_ok = parts.scheme == "http" and parts.netloc in allow_http
    if not local_ok and (
        parts.scheme != "https" or not _host_allowed(host, allowed_hosts) or parts.username
    ):
        raise BadSubscription("This browser's push service is not supported.")
    try:
        point = b64u_decode(str(keys.get("p256dh", "")))
        auth = b64u_decode(str(keys.get("auth", "")))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, TypeError):
        raise BadSubscription("The subscription keys are not valid.") from None
    if len(auth) != 16:
        raise BadSubscription("The subscription keys are not valid.")
    return SubscriptionInfo(endpoint, b64u(point), b64u(auth))


# ------------------------------------------------------------------ sending


@dataclass(frozen=True)
class SendResult:
    """The push service's answer: status (None when unreachable) and Retry-After."""

    status: int | None
    retry_after: float | None = None
    error: str = ""


class PushSender(Protocol):
    """Anything that can deliver one encrypted push message."""

    def send(
        self, sub: SubscriptionInfo, payload: bytes, *, ttl: int, urgency: str, topic: str
    ) -> SendResult: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds only; dates are rare here)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class WebPushSender:
    """Sends with pywebpush, reusing one VAPID header per push-service origin."""

    def __init__(self, vapid: Vapid, subject: str, timeout: float = 10.0):
        self.vapid = vapid
        self.subject = subject
        self.timeout = timeout
        self.signatures = 0
        self._headers: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def vapid_headers(self, endpoint: str) -> dict[str, str]:
        """A signed VAPID header for the endpoint's origin, cached for ~12 hours."""
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        with self._lock:
            cached = self._headers.get(origin)
            if cached is not None and cached[0] - 600 > now:
                return dict(cached[1])
            exp = int(now) + VAPID_LIFETIME
            # A fresh claims dict every time: pywebpush/py_vapid mutate it (pywebpush#79).
            headers = self.vapid.sign({"sub": self.subject, "aud": origin, "exp": exp})
            self.signatures += 1
            self._headers[origin] = (exp, headers)
            return dict(headers)

    def send(
        self, sub: SubscriptionInfo, payload: bytes, *, ttl: int, urgency: str, topic: str
    ) -> SendResult:
        headers = self.vapid_headers(sub.endpoint)
        headers["Urgency"] = urgency
        headers["Topic"] = topic
        pusher = WebPusher(sub.as_dict(), requests_session=self._session())
        try:
            response = pusher.send(
                payload,
                headers=headers,
                ttl=ttl,
                timeout=self.timeout,
                content_encoding="aes128gcm",
            )
        except requests.RequestException as exc:
            return SendResult(None, error=type(exc).__name__)
        return SendResult(
            response.status_code,
            parse_retry_after(response.headers.get("Retry-After")),
            "" if response.status_code < 300 else f"HTTP {response.status_code}",
        )
