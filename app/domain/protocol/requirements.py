"""What every protocol must hold: the check-in's fixed questions and the red flags.

The answers' shape and the warning signs no clinic may leave out are the app's; which
questions a protocol asks, and at which tier, is protocol data (see ``checkin_rules``
and ``flag_coverage`` for the checks that use these).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.protocol.model import Tier

# The daily check-in's fixed questions (besides the warning signs). The answers' shape
# is the app's; which of them a protocol asks, and how they are triaged, is protocol data.
QUESTIONS = (
    "pain",
    "bruising",
    "skin",
    "lumps",
    "itching",
    "stockings_day",
    "stockings_night",
    "walked",
    "elevated",
)
# Questions that every protocol must ask, and why.
REQUIRED_QUESTIONS = {
    "pain": "it carries the same-day rule for severe pain (ref 2.6)",
    "skin": "it carries the same-day rule for skin breakdown (ref 2.6)",
    "bruising": "the clinic's chart of each diary plots it next to pain",
}
BRUISING_CHOICES = ("none", "mild", "moderate", "severe")
# The skin changes a patient can tick, in the patient's words. Their tiers are protocol
# data (``[[answer_rule]]`` with ``answer = "skin"``).
SKIN_CHOICES = {
    "blister": "A blister",
    "sore": "An open sore",
    "pale": "Skin turning white or grey",
    "black": "Skin turning black",
    "brown": "Brown marks or lines",
    "red-vessels": "New fine red vessels",
    "stocking-rubs": "A stocking that rubs or marks your skin",
}
# A stocking that rubs or marks the skin is a routine change (ref 2.6 routine tier: "a
# stocking that is uncomfortable or causes blisters or inflamed hair follicles"). It is
# one more tick in the skin list, offered only on the days a stockings question is
# asked, so a protocol without stockings never shows it (issue 19 point 3: no new
# question, no new tap). A protocol that asks about stockings must give it a tier.
STOCKING_SKIN = "stocking-rubs"
STOCKINGS_QUESTIONS = ("stockings_day", "stockings_night")


@dataclass(frozen=True)
class RequiredFlag:
    """A warning sign every protocol must ask about: its tier and the days it must cover."""

    kind: str
    what: str
    tiers: tuple[Tier, ...]
    first_day: int
    last_day: int
    source: str


# Every protocol must carry these red flags, marked by ``kind`` (never found by title):
# the emergency signs and the same-day rule for a possible deep vein thrombosis, each
# asked over at least these days (whole local days, for any treatment time).
REQUIRED_FLAGS = (
    RequiredFlag(
        "allergy",
        "an allergic reaction (anaphylaxis)",
        ("emergency",),
        0,
        1,
        "ref 2.6: emergency tier, asked in the first hour or day",
    ),
    RequiredFlag(
        "stroke",
        "stroke or TIA signs",
        ("emergency",),
        0,
        1,
        "ref 2.6: emergency tier, asked in the first hour or day",
    ),
    RequiredFlag(
        "chest",
        "chest pain or sudden breathlessness (possible pulmonary embolism)",
        ("emergency",),
        0,
        28,
        "ref 2.6: emergency tier; ref 2.5: DVT or PE usually 4-28 days after",
    ),
    RequiredFlag(
        "calf",
        "calf or leg pain or swelling (possible deep vein thrombosis)",
        ("emergency", "same_day"),
        3,
        28,
        "ref 2.6: urgent tier, DVT questions through days 3-28",
    ),
)
KINDS = tuple(r.kind for r in REQUIRED_FLAGS)
