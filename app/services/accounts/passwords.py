"""The password rules every account follows (checklist A2)."""

from __future__ import annotations

from app.services.errors import Invalid

MIN_PASSWORD = 12
MAX_PASSWORD = 128
# A short list of the most common passwords of 12+ characters; refusing them is cheap.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "password1234",
        "qwertyuiop12",
        "passwordpassword",
        "111111111111",
        "iloveyou1234",
        "123412341234",
        "abcdefghijkl",
        "qwertyuiopas",
        "letmein12345",
    }
)


def check_password_rules(password: str) -> None:
    """Length 12 to 128, any characters, not a well-known password (checklist A2)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "password", f"Use at least {MIN_PASSWORD} characters. A short sentence works well."
        )
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", f"Use at most {MAX_PASSWORD} characters.")
    if password.lower() in COMMON_PASSWORDS:
        raise Invalid("password", "That password is too common. Please choose another.")


def check_new_password(password: str, confirm: str, *, email: str = "", name: str = "") -> None:
    """A new password chosen on a link's page: the rules, then the same twice."""
    check_password_rules(password)
    if password != confirm:
        raise Invalid("confirm", "The two passwords are not the same.")
