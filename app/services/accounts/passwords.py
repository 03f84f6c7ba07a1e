"""The password rules every account follows (checklist A2; ASVS 2.1.1 to 2.1.9).

Length 12 to 128, any characters, no composition rules. Refused: a password from the
common-password list (``app/data/common-passwords.txt``, about 30,000 entries from
zxcvbn's leaked-password list, any case), one made mostly of the person's own email or
name, and one the zxcvbn estimator scores under ``MIN_SCORE`` (it knows words, names,
keyboard rows, repeats, dates and the person's own details). A few unrelated words pass.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from app.i18n import N_
from app.i18n import current_locale
from app.i18n import gettext
from app.services.errors import Invalid

MIN_PASSWORD = 12
MAX_PASSWORD = 128
# zxcvbn's 0 to 4; 3 is "safely unguessable: moderate protection from offline attacks".
MIN_SCORE = 3
# zxcvbn's own limit: its matching grows fast with length. A longer password is scored
# on its start, which can only make the score lower, never let a weak one through.
_ESTIMATE_CHARS = 72
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "common-passwords.txt"
# Whole marked sentences: the pages look each up in the reader's language (the views'
# ``_(exc.message)``); a number pasted in would match no catalogue entry. The numbers are
# MIN_PASSWORD and MAX_PASSWORD (tests/web/test_rvi18n_spanish.py holds them equal).
TOO_SHORT = N_("Use at least 12 characters. A short sentence works well.")
TOO_LONG = N_("Use at most 128 characters.")
TOO_COMMON = N_("This password is too common, so it is easy to guess. Try a few unrelated words.")
PERSONAL = N_(
    "Please do not build your password from your email or name. Try a few unrelated words."
)
NOT_THE_SAME = N_("The two passwords are not the same.")
GUESSABLE = N_("This password is easy to guess. Try a few unrelated words.")


def _load_common(path: Path) -> frozenset[str]:
    """The entries of a common-password file, lower case (``#`` lines are comments)."""
    with path.open(encoding="utf-8") as lines:
        return frozenset(
            word for line in lines if (word := line.strip().lower()) and not word.startswith("#")
        )


# Read once per process (about 10 ms), on the first password check rather than at
# import: the set takes ~4 MB, and most requests of a web worker check no password.
@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list (``COMMON_PASSWORDS_FILE``), lower case."""
    return _load_common(COMMON_PASSWORDS_FILE)


def check_password_rules(password: str, *, email: str = "", name: str = "") -> None:
    """Length 12 to 128, not well known, not the person's own email or name, and hard
    enough to guess (checklist A2).

    :param email: the account's email, and ``name`` the person's name: refused as the
        password, and given to the estimator as words an attacker would try first.
    :raises Invalid: on field ``password``, with a message saying what to do.
    """
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", TOO_SHORT)
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", TOO_LONG)
    if password.strip().lower() in common_passwords():
        raise Invalid("password", TOO_COMMON)
    if _mostly_personal(password, email, name):
        raise Invalid("password", PERSONAL)
    # Imported here: its dictionaries cost a worker ~12 MB, and few requests set a password.
    from zxcvbn import zxcvbn

    result = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=_personal_words(email, name))
    if result["score"] < MIN_SCORE:
        # zxcvbn's warning says why in plain words ("Repeats like "aaa" are easy to
        # guess."); its suggestions lean towards symbols and capitals, so they are left out.
        why = result["feedback"].get("warning") or ""
        if not why:
            raise Invalid("password", GUESSABLE)
        # zxcvbn words its warning in English only: an English reader gets it after the
        # sentence; any other reader gets the sentence alone, in their language.
        if current_locale().language != "en":
            raise Invalid("password", gettext(GUESSABLE))
        raise Invalid("password", f"{GUESSABLE} {why}")


def check_new_password(password: str, confirm: str, *, email: str = "", name: str = "") -> None:
    """A new password chosen on a link's page: the rules, then the same twice."""
    check_password_rules(password, email=email, name=name)
    if password != confirm:
        raise Invalid("confirm", NOT_THE_SAME)


def _letters(text: str) -> str:
    """Lower-case letters and digits only: "Alice.Smith@x" and "alice smith x" match."""
    return re.sub(r"[\W_]+", "", text.lower())


def _personal_words(email: str, name: str) -> list[str]:
    """The email, its part before the @, the name and each part of the name."""
    email = email.strip()
    words = [email, email.partition("@")[0], name.strip(), *name.split()]
    return [w for w in dict.fromkeys(words) if len(w) >= 2]


def _mostly_personal(password: str, email: str, name: str) -> bool:
    """Whether, without the person's email, its part before the @ and their whole name,
    fewer than half of the password's letters and digits would be left (or fewer than
    six). A first name inside a longer phrase is left to the estimator."""
    left = whole = _letters(password)
    wholes = {_letters(email), _letters(email.partition("@")[0]), _letters(name)}
    # Longest first: the whole email goes before its local part.
    for word in sorted(wholes, key=len, reverse=True):
        if len(word) >= 3:
            left = left.replace(word, "")
    return left != whole and (len(left) < 6 or len(left) * 2 < len(whole))
