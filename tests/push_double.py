"""A local Web Push service for tests: verifies VAPID and decrypts every payload.

* Mints subscriptions the way a browser does: a P-256 key pair (p256dh) and 16 random
  bytes (auth); endpoint ``http://127.0.0.1:<port>/push/<id>``.
* Accepts the RFC 8030 POST that pywebpush sends, verifies the RFC 8292 VAPID header
  (``Authorization: vapid t=<ES256 JWT>,k=<public key>``) and decrypts the RFC 8291
  aes128gcm body with http_ece, using the subscription's private key and auth secret.
* Can be told to answer 404, 410, 429 (+Retry-After), 500, 413 or to hang for a given
  subscription, to exercise every branch of the dispatcher, and to take ``delay_seconds``
  over every answer (a slow push service).

Adapted from the recipe in shared/testing/browser-and-push.md §8.4.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from dataclasses import field

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils as ec_utils
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response


def b64u_enc(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidError(Exception):
    pass


def verify_vapid(
    authorization: str, expected_aud: str, expected_key_b64u: str | None = None
) -> dict:
    """Verify ``vapid t=<jwt>,k=<key>`` (RFC 8292); return the claims or raise VapidError."""
    scheme, _, params = (authorization or "").partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"bad scheme {scheme!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    token, key_b64u = parts["t"], parts["k"]
    if expected_key_b64u and key_b64u != expected_key_b64u:
        raise VapidError("k= does not match the applicationServerKey of the subscription")
    header_b64, claims_b64, sig_b64 = token.split(".")
    header = json.loads(b64u_dec(header_b64))
    if header.get("alg") != "ES256":
        raise VapidError(f"alg {header.get('alg')}")
    sig = b64u_dec(sig_b64)
    if len(sig) != 64:
        raise VapidError("signature is not raw r||s (64 bytes)")
    der = ec_utils.encode_dss_signature(
        int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    )
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64u_dec(key_b64u))
    try:
        pub.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("bad ES256 signature") from None
    claims = json.loads(b64u_dec(claims_b64))
    now = time.time()
    if claims.get("aud") != expected_aud:
        raise VapidError(f"aud {claims.get('aud')!r} != {expected_aud!r}")
    if not (now < claims.get("exp", 0) <= now + 24 * 3600):
        raise VapidError(f"exp {claims.get('exp')} not within 24h")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise VapidError(f"sub {claims.get('sub')!r}")
    return claims


@dataclass
class FakeSubscription:
    sub_id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    respond: tuple = (201, {})  # (status, extra headers); status "hang" sleeps
    received: list = field(default_factory=list)  # decrypted messages

    def info(self) -> dict:
        """What the browser's PushSubscription.toJSON() would give the app."""
        pub = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64u_enc(pub), "auth": b64u_enc(self.auth)},
        }


class PushServiceDouble:
    """Run with ``with PushServiceDouble(...) as ps:``; ``ps.origin`` is its base URL."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, vapid_public_key_b64u: str | None = None
    ):
        self.vapid_public_key_b64u = vapid_public_key_b64u
        self.subs: dict[str, FakeSubscription] = {}
        self.requests: list[dict] = []
        self.hang_seconds = 3.0
        self.delay_seconds = 0.0  # every answer waits this long (a slow push service)
        self._lock = threading.Lock()
        self._srv = make_server(host, port, self._wsgi, threaded=True)
        self.netloc = f"{host}:{self._srv.server_port}"
        self.origin = f"http://{self.netloc}"
        self._thread = threading.Thread(
            target=self._srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> PushServiceDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._srv.shutdown()
        self._thread.join(5)
        self._srv.server_close()

    def new_subscription(self) -> FakeSubscription:
        sid = uuid.uuid4().hex
        sub = FakeSubscription(
            sid,
            f"{self.origin}/push/{sid}",
            ec.generate_private_key(ec.SECP256R1()),
            os.urandom(16),
        )
        self.subs[sid] = sub
        return sub

    def per_row(self) -> dict[int, int]:
        """How many times each outbox row reached a device (the payload's opaque id)."""
        counts: dict[int, int] = {}
        for plaintext in self.delivered():
            row = json.loads(plaintext)["data"]["id"]
            counts[row] = counts.get(row, 0) + 1
        return counts

    def delivered(self) -> list[bytes]:
        """Every decrypted plaintext, across subscriptions."""
        with self._lock:
            return [m["plaintext"] for s in self.subs.values() for m in s.received]

    @Request.application
    def _wsgi(self, req: Request) -> Response:
        rec: dict = {"path": req.path, "headers": dict(req.headers), "status": None, "error": None}
        with self._lock:
            self.requests.append(rec)

        def answer(status: int, body: str = "", headers: dict | None = None) -> Response:
            rec["status"] = status
            return Response(body, status=status, headers=headers or {})

        sub = self.subs.get(req.path.rsplit("/", 1)[-1])
        if req.method != "POST" or not req.path.startswith("/push/") or sub is None:
            return answer(404, "no such subscription")
        try:
            rec["claims"] = verify_vapid(
                req.headers.get("Authorization", ""), self.origin, self.vapid_public_key_b64u
            )
        except (VapidError, KeyError, ValueError) as exc:
            rec["error"] = f"vapid: {exc}"
            return answer(403, rec["error"])
        if "TTL" not in req.headers:
            rec["error"] = "missing TTL"
            return answer(400, "missing TTL")
        body = req.get_data()
        if len(body) > 4096:
            return answer(413, "payload too large")
        status, extra = sub.respond
        time.sleep(self.delay_seconds)  # 0 by default: a slow service when set
        if status == "hang":
            time.sleep(self.hang_seconds)
            return answer(201)
        if status >= 300:
            return answer(status, "configured failure", extra)
        if req.headers.get("Content-Encoding") != "aes128gcm":
            rec["error"] = "content-encoding"
            return answer(415, "want aes128gcm")
        try:
            plaintext = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as exc:  # noqa: BLE001 - any decryption failure is the test's finding
            rec["error"] = f"decrypt: {exc!r}"
            return answer(400, rec["error"])
        with self._lock:
            sub.received.append(
                {
                    "plaintext": plaintext,
                    "ttl": req.headers.get("TTL"),
                    "urgency": req.headers.get("Urgency"),
                    "topic": req.headers.get("Topic"),
                    "size": len(body),
                }
            )
        return answer(201, "", {"Location": f"{self.origin}/message/{uuid.uuid4().hex}"})
