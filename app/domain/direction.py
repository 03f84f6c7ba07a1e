"""Invisible characters that change the order text is displayed in.

The Unicode embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069)
make text display differently from what it says: "Call 999" can read as another
number ("Trojan Source"). No keyboard types them; right-to-left languages display
correctly without them. Text staff write for patients to read, and the names of
people and clinics, refuse them (the marks U+200E and U+200F, which only nudge
neutral characters, are allowed).
"""

from __future__ import annotations

DIRECTION_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
MESSAGE = "Remove the hidden text-direction characters (often pasted in by accident)."


def has_direction_controls(text: str) -> bool:
    """Whether ``text`` holds an embedding, override or isolate character."""
    return not DIRECTION_CONTROLS.isdisjoint(text)
