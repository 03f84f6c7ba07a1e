"""Web push: VAPID keys, endpoint checks, and the sender.

The sender encrypts with pywebpush, signs one VAPID header per push-service origin and
reuses it for about 12 hours (signing per message costs as much as encrypting it;
performance anchors PG-H3), posts over a keep-alive connection pool per origin, sets
TTL, Urgency, Topic and a timeout on every request, follows no redirect, and reports
the push service's answer without raising, so the dispatcher decides what each status
means.

What services call: ``PushSender`` (``send`` one payload to one ``SubscriptionInfo``,
answering a ``SendResult``; ``WebPushSender`` is the real one), ``check_subscription``
(is an endpoint acceptable), and the VAPID key helpers. ``init_app``/``load_vapid`` wire
the key and sender into the Flask app at start-up. Nothing here imports a service or a
model.
"""

from __future__ import annotations

import base64
import email.utils
import os
import threading
import urllib.request
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol
from urllib.parse import SplitResult
from urllib.parse import urlsplit

import certifi
import click
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from py_vapid import Vapid

from app.clock import wall_seconds
from app.domain.language import N_
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
    ``VAPID_SUBJECT``; start-up stops with a clear message otherwise. Development
    generates a key on first run and keeps it in ``instance/vapid_private.pem``; tests
    (``"memory"``) use one throwaway key per process and write nothing.
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
    generate = app.config.get("VAPID_GENERATE_DEV_KEY")
    if generate == "memory":
        return _memory_key()
    if not generate:
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


class _Unconfigured(dict):
    """Stands in for the push set-up when a ``flask`` command started without a key:
    any use raises the same clear ConfigError start-up would have raised."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__()
        self.error = error

    def __getitem__(self, name: str) -> object:
        raise self.error


def init_app(app: Flask) -> None:
    """Load the VAPID key at start-up (fails fast when missing) and build the sender.

    Under a ``flask`` command the check waits until push is used: otherwise
    ``flask notifications vapid-keygen`` (and ``flask db upgrade``, ``flask backup``)
    could not run in production before the key they are meant to create exists. The
    web server (gunicorn loads ``wsgi:app`` with no command running) still refuses to
    start, and ``send-due``/``worker`` stop with the same message on their first send.
    """
    try:
        vapid = load_vapid(app)
    except ConfigError as exc:
        if click.get_current_context(silent=True) is None:
            raise
        app.extensions["sclero_push"] = _Unconfigured(exc)
        return
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


def _standard_port(parts: SplitResult) -> bool:
    """Whether an https address names no port or 443 (a port past 65535 or not a
    number is not one)."""
    try:
        return parts.port in (None, 443)
    except ValueError:
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
        raise BadSubscription(N_("The subscription is missing."))
    endpoint = data.get("endpoint")
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    if not isinstance(endpoint, str) or len(endpoint) > 1000:
        raise BadSubscription(N_("The subscription has no usable endpoint."))
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    local_ok = parts.scheme == "http" and parts.netloc in allow_http
    # The push services answer on 443 only; another port on their name would let a
    # browser's subscription aim the dispatcher at any service (adversarial review).
    standard_port = _standard_port(parts)
    if not local_ok and (
        parts.scheme != "https"
        or not _host_allowed(host, allowed_hosts)
        or parts.username
        or not standard_port
    ):
        raise BadSubscription(N_("This browser's push service is not supported."))
    try:
        point = b64u_decode(str(keys.get("p256dh", "")))
        auth = b64u_decode(str(keys.get("auth", "")))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, TypeError):
        raise BadSubscription(N_("The subscription keys are not valid.")) from None
    if len(auth) != 16:
        raise BadSubscription(N_("The subscription keys are not valid."))
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


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110
    10.2.3). ``now`` is the current Unix time (the clock when not given). A header that
    is neither gives None, and the usual back-off applies."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": the RFC says such dates are UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (wall_seconds() if now is None else now))


class WebPushSender:
    """Sends one push message at a time; safe to call from several threads at once.

    The payload is encrypted by pywebpush (RFC 8291, aes128gcm). The request goes out
    through urllib3: one keep-alive connection pool per push-service origin, made once,
    so a message costs an encryption and one HTTP exchange. (Through requests, which
    pywebpush would use, a request to a local push service took about 1.5 ms of CPU on
    this project's machine against 0.45 ms through urllib3 directly: requests merges
    settings and reads the proxy variables from the environment on every call.) Proxy
    variables are read once per origin instead.
    """

    def __init__(self, vapid: Vapid, subject: str, timeout: float = 10.0, *, connections: int = 8):
        self.vapid = vapid
        self.subject = subject
        self.timeout = urllib3.Timeout(total=timeout)  # connecting and answering, together
        self.connections = connections
        self.signatures = 0
        self._headers: dict[str, tuple[float, dict[str, str]]] = {}
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()

    def _vapid_for(self, origin: str) -> dict[str, str]:
        """A signed VAPID header for the origin, cached for ~12 hours; do not mutate it."""
        now = wall_seconds()
        # Read without the lock (a dict read is atomic), so threads do not queue on it
        # for every message; only signing takes the lock, and checks again inside.
        cached = self._headers.get(origin)
        if cached is not None and cached[0] - 600 > now:
            return cached[1]
        with self._lock:
            cached = self._headers.get(origin)
            if cached is not None and cached[0] - 600 > now:
                return cached[1]
            exp = int(now) + VAPID_LIFETIME
            # A fresh claims dict every time: pywebpush/py_vapid mutate it (pywebpush#79).
            headers = self.vapid.sign({"sub": self.subject, "aud": origin, "exp": exp})
            self.signatures += 1
            self._headers[origin] = (exp, headers)
            return headers

    def _route(self, parts: SplitResult) -> _Route:
        origin = _origin(parts)
        route = self._routes.get(origin)
        if route is None:
            with self._lock:
                route = self._routes.get(origin) or _Route.to(parts, self.connections)
                self._routes[origin] = route
        return route

    def send(
        self, sub: SubscriptionInfo, payload: bytes, *, ttl: int, urgency: str, topic: str
    ) -> SendResult:
        parts = urlsplit(sub.endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return SendResult(None, error="not a push endpoint")
        if parts.scheme == "https" and not _standard_port(parts):
            # Stored before subscriptions were held to port 443 (check_subscription):
            # never connected to; answered as gone, so the row is removed.
            return SendResult(410, error="not a push service's port")
        # Imported here: with aiohttp and requests it costs a web worker ~12 MB, and only
        # the notification sender encrypts payloads.
        from pywebpush import WebPusher

        body = WebPusher(sub.as_dict()).encode(payload, "aes128gcm")["body"]
        headers = {
            **self._vapid_for(_origin(parts)),
            "Content-Encoding": "aes128gcm",
            "TTL": str(ttl),
            "Urgency": urgency,
            "Topic": topic,
        }
        try:
            response = self._route(parts).post(parts, body, headers, self.timeout)
        except urllib3.exceptions.TimeoutError:
            return SendResult(None, error="timed out")
        except urllib3.exceptions.HTTPError as exc:
            return SendResult(None, error=f"unreachable: {type(exc).__name__}")
        status = response.status
        return SendResult(
            status,
            parse_retry_after(response.headers.get("Retry-After")),
            "" if status < 300 else f"HTTP {status}",
        )


def _origin(parts: SplitResult) -> str:
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class _Route:
    """How requests reach one push-service origin: its own pool, or through a proxy."""

    opener: urllib3.HTTPConnectionPool | urllib3.ProxyManager
    absolute: bool  # the proxy manager takes whole URLs, a pool takes paths

    @classmethod
    def to(cls, parts: SplitResult, connections: int) -> _Route:
        tls = {"ca_certs": certifi.where()} if parts.scheme == "https" else {}
        options = dict(maxsize=connections, retries=False, **tls)
        # The proxy variables requests would honour, read once per origin, not per message.
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
            return cls(urllib3.ProxyManager(proxy, **options), absolute=True)
        return cls(urllib3.connection_from_url(_origin(parts), **options), absolute=False)

    def post(
        self, parts: SplitResult, body: bytes, headers: dict[str, str], timeout: urllib3.Timeout
    ) -> urllib3.BaseHTTPResponse:
        target = (
            parts.geturl()
            if self.absolute
            else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        )
        # No redirects (a push service has no reason to send one, and following it
        # would leave the allowed hosts) and no retries: the dispatcher decides those.
        return self.opener.urlopen(
            "POST",
            target,
            body=body,
            headers=headers,
            timeout=timeout,
            retries=False,
            redirect=False,
        )
