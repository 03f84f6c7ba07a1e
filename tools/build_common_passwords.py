"""Write app/data/common-passwords.txt, the common-password list the password rules
refuse (app/services/accounts/passwords.py; checklist A2, ASVS 2.1.7).

There is no network here, so the list comes from what zxcvbn ships: its ``passwords``
frequency list (30,000 passwords from leaked password sets, most common first), lower
cased and without repeats, plus the ten 12-character passwords the app refused before.
Run again after upgrading zxcvbn::

    .venv/bin/python tools/build_common_passwords.py
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

OUT = Path(__file__).resolve().parents[1] / "app" / "data" / "common-passwords.txt"

# The app's first list (all 12+ characters), kept so nothing it refused is now allowed.
EARLIER = (
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
)


def build() -> list[str]:
    """The entries, most common first, lower case, each once."""
    seen: dict[str, None] = {}
    for word in [*FREQUENCY_LISTS["passwords"], *EARLIER]:
        word = word.strip().lower()
        if word and not word.startswith("#"):
            seen.setdefault(word, None)
    return list(seen)


def main() -> None:
    words = build()
    header = [
        "# Common passwords, one a line, lower case, most common first. Refused whatever",
        "# their case by app/services/accounts/passwords.py. Made by",
        "# tools/build_common_passwords.py from the 'passwords' frequency list shipped with",
        f"# zxcvbn {version('zxcvbn')} (from leaked password sets), plus the app's earlier",
        f"# list of ten. {len(words)} entries. Lines starting with # are comments.",
    ]
    OUT.write_text("\n".join(header + words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} entries to {OUT}")


if __name__ == "__main__":
    main()
