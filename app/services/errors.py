"""Exceptions services raise; the web layer maps them to pages and status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: the message is safe to show to the user."""


class NotFound(ServiceError):
    """The object does not exist *for this user* (other patients' data is 'not found')."""


class Invalid(ServiceError):
    """Input that breaks a rule; ``field`` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class LoginThrottled(ServiceError):
    """Too many failed sign-ins for this email in the window."""


class BadCredentials(ServiceError):
    """Email or password wrong (never says which)."""


class InvitationUnusable(ServiceError):
    """An invitation link that is unknown, used or expired; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
