"""The remembered phone's cookie, and what sign-in and sign-out do with it.

Shared by the sign-in routes (``routes``) and the PIN pages (``device``). The cookie
holds a random token (the table keeps its hash: app/services/accounts/devices.py). It
is HttpOnly, so page scripts cannot read it, SameSite=Lax, and ``__Host-`` prefixed on
https, so no other site or subdomain can set or widen it.
"""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import redirect
from flask import request
from flask import url_for

from app.clock import now
from app.principal import Principal
from app.services.accounts import devices


def cookie_name() -> str:
    # The __Host- prefix is only accepted on a Secure cookie (plain http in development).
    secure = current_app.config["SESSION_COOKIE_SECURE"]
    return "__Host-sclero_device" if secure else "sclero_device"


def device_token() -> str | None:
    """The remembered phone's token from this request's cookie, if any."""
    return request.cookies.get(cookie_name()) or None


def set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(),
        token,
        max_age=int(current_app.config["SCLERO_DEVICE_TTL"].total_seconds()),
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def drop_cookie(response: Response) -> None:
    response.delete_cookie(
        cookie_name(),
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def pin_page_instead(next_path: str | None) -> Response | None:
    """On a remembered phone, the sign-in page is "Welcome back, enter your PIN"
    (unless the patient asked for the password page: ``?password=1``)."""
    if request.args.get("password") or devices.device_for_token(device_token(), now()) is None:
        return None
    return redirect(url_for("auth.pin_sign_in", next=next_path or None))


def after_password(user: Principal, remember: bool, target: str) -> Response:
    """Where a password sign-in goes: the PIN choice when a patient ticked "Remember this
    phone", else ``target``. Staff are never remembered (they have a second factor).
    A phone remembered for someone else is forgotten here."""
    if remember and user.is_patient:
        response = redirect(url_for("auth.choose_pin", next=target))
    else:
        response = redirect(target)
    if devices.forget_other_persons_device(device_token(), user.id, now()):
        drop_cookie(response)
    return response


def on_sign_out(response: Response) -> None:
    """Signing out forgets this phone: "Sign out" means leave nothing of mine here."""
    devices.forget_device(device_token(), now())
    drop_cookie(response)
