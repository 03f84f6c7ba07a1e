"""Outcomes per session (issue 19 points 6 and 7): when a patient's rating is due, the
clinic's clearance scale, medians from counts, stocking adherence, and which stored
check-in answers count as a complication.

Pure functions: every instant and time zone is an argument.

Sources (docs/clinical-reference.md):
- ref 2.8, ways to measure the outcome: the patient's own estimate of improvement in
  per cent, satisfaction on a 5-point scale, and blinded review of matched before and
  after photos (Kern 2007, EASI); rater and patient scores disagree (Bayer 2021), so
  both are kept and the rater never sees the patient's rating before scoring.
- ref 2.7 and 2.5: treated veins fade over weeks, so the rating is asked six weeks
  after a session (or when the next session comes first); pigmentation and matting
  are reviewed from week 4.
- ref 4.7: a stocking wear log as adherence data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.checkin import fixed_questions_for_day
from app.domain.offsets import local_date
from app.domain.offsets import local_midnight
from app.domain.protocol.model import Protocol
from app.domain.protocol.requirements import SKIN_CHOICES
from app.domain.recovery.resolved_plan import FOLLOW_UP_DAYS
from app.domain.recovery.stockings import always_stockings
from app.domain.recovery.stockings import asks_stockings as asks_stockings
from app.domain.recovery.stockings import has_stockings as is_compression  # marked or asked
from app.domain.recovery.stockings import stocking_tasks

# ref 2.7: small veins fade over weeks; six weeks gives most of the result time to show.
RATING_DUE_AFTER = timedelta(weeks=6)
# A rating can be changed for four weeks after it is first given (last write wins, each
# earlier answer kept in the row's history), then it is the session's record.
RATING_EDITABLE_FOR = timedelta(weeks=4)
# The prompt on Today stops six months after it became due: a rating that late would
# say little about the session.
RATING_OPEN_FOR = timedelta(days=183)
# The "after" photo of a pair is the latest of its site at least this long after the
# session (ref 2.5: bruising and trapped blood mostly settle by 4 weeks).
AFTER_PHOTO_FROM = timedelta(weeks=4)

# The clinic page shows a group's median rating only from this many ratings: with one
# or two, the median is a patient's own rating, which a clinician could read there
# before scoring that session's photos (ref 2.8: the rater stays blind to it). Five is
# the usual smallest cell of published health statistics.
MIN_RATINGS_SHOWN = 5

IMPROVEMENT_STEPS = tuple(range(0, 101, 10))
# Satisfaction on a 5-point scale, 1 "very unhappy" to 5 "very happy" (ref 2.8); the
# patient's words are in app/patient/outcomes.py, marked for translation.
SATISFACTION = (1, 2, 3, 4, 5)
# Side effects that may still be present at the rating (ref 2.5).
SIDE_EFFECTS = ("matting", "pigmentation")
NO_SIDE_EFFECT = "none"

# The clinic's clearance scale for matched photos: the share of treated vessels gone
# (a quartile scale as used in blinded photo review, ref 2.8; stated as the clinic's
# scale, not a validated instrument).
CLEARANCE = {
    0: "0: no clearance",
    1: "1: less than 25% cleared",
    2: "2: 25 to 50% cleared",
    3: "3: 51 to 75% cleared",
    4: "4: more than 75% cleared",
}

# Complications, each from stored check-in answers (see ``complications``):
COMPLICATIONS = {
    "bruising": "Bruising beyond expected",
    "pigmentation": "Pigmentation",
    "matting": "Matting",
    "skin_breakdown": "Skin breakdown",
    "dvt": "Suspected DVT or PE",
}
# ref 2.5: bruising fades over 2 to 4 weeks; "severe" at any time, or any bruising
# still "moderate" or worse from day 28, is beyond what the leaflets call expected.
BRUISING_LATE_DAY = 28
SKIN_BREAKDOWN = ("blister", "sore", "pale", "black")  # ref 2.6 urgent tier
PIGMENTATION_SKIN = "brown"  # "Brown marks or lines" (ref 2.5 hyperpigmentation)
MATTING_SKIN = "red-vessels"  # "New fine red vessels" (ref 2.5 matting)
# The protocol warning signs that stand for a possible clot: calf or leg (DVT) and chest
# (pulmonary embolism), marked by ``kind`` (app/domain/protocol/requirements.py).
CLOT_KINDS = ("calf", "chest")


class OutcomeError(ValueError):
    """A rating or score that cannot be stored; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# ------------------------------------------------------------------ when it is due


def rating_due_at(anchor: datetime, next_appointment: datetime | None, tz: ZoneInfo) -> datetime:
    """When a done session's rating becomes due: six weeks after it, or, if the next
    session comes first, from the start of the patient's local day before it, so the
    patient can rate before being re-treated (at the appointment itself they are in the
    chair, and a session treated a little early would never have been asked)."""
    due = anchor + RATING_DUE_AFTER
    if next_appointment is None or next_appointment <= anchor:
        return due
    day_before = local_midnight(local_date(next_appointment, tz) - timedelta(days=1), tz)
    return min(due, max(day_before, anchor))


def rating_open(due_at: datetime, now: datetime) -> bool:
    """The rating can be given from its due time until it closes."""
    return due_at <= now < due_at + RATING_OPEN_FOR


def rating_editable(first_rated_at: datetime, now: datetime) -> bool:
    return now < first_rated_at + RATING_EDITABLE_FOR


# ------------------------------------------------------------------ input checks


@dataclass(frozen=True)
class Rating:
    improvement: int
    satisfaction: int
    side_effects: tuple[str, ...]  # () means "none"


def check_rating(improvement: object, satisfaction: object, side_effects: list[str]) -> Rating:
    """A patient's rating from raw form values, or OutcomeError with a plain message."""
    value = _int(improvement)
    if value is None or not 0 <= value <= 100:
        raise OutcomeError("improvement", "Choose how much better it looks, from 0 to 100%.")
    score = _int(satisfaction)
    if score not in SATISFACTION:
        raise OutcomeError("satisfaction", "Choose how happy you are with the result.")
    chosen = set(side_effects)
    if not chosen or not chosen <= {*SIDE_EFFECTS, NO_SIDE_EFFECT}:
        raise OutcomeError("side_effects", "Tell us about side effects, or choose none.")
    if NO_SIDE_EFFECT in chosen and len(chosen) > 1:
        raise OutcomeError("side_effects", "Choose side effects or none, not both.")
    return Rating(value, score, tuple(k for k in SIDE_EFFECTS if k in chosen))


def check_clearance(score: object) -> int:
    value = _int(score)
    if value not in CLEARANCE:
        raise OutcomeError("score", "Choose a clearance score from 0 to 4.")
    return value


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # Only ASCII digits with at most one leading minus: str.isdigit() also accepts
    # "²" or "--5", which int() then rejects (a 500 instead of a message).
    if isinstance(value, str) and len(value) < 6 and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


_INTEGER = re.compile(r"-?[0-9]{1,4}")


# ------------------------------------------------------------------ statistics


def median_from_counts(counts: dict[int, int]) -> float | None:
    """The median of values given as {value: how many} (the database counts them)."""
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(n: int) -> int:  # the n-th value (0-based) in sorted order
        seen = 0
        for value, k in ordered:
            seen += k
            if n < seen:
                return value
        raise AssertionError("unreachable")

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# ------------------------------------------------------------------ stockings


@dataclass(frozen=True)
class Wear:
    """Stocking wear of one session (or summed over many): required day and night
    "slots" and what the patient reported for them. Not answered is never "no".
    ``unasked``: sessions on a compression protocol that asks no stockings question,
    whose wear is "not asked", neither 0 % nor left out (issue 19 point 7)."""

    required: int = 0
    worn: int = 0
    not_worn: int = 0
    unasked: int = 0

    @property
    def unknown(self) -> int:
        return max(self.required - self.worn - self.not_worn, 0)

    @property
    def share(self) -> float | None:
        """Worn as a share of the answered slots (None when nothing was answered)."""
        return rate(self.worn, self.worn + self.not_worn)

    def __add__(self, other: Wear) -> Wear:
        return Wear(
            self.required + other.required,
            self.worn + other.worn,
            self.not_worn + other.not_worn,
            self.unasked + other.unasked,
        )


def required_wear(protocol: Protocol, anchor: datetime, tz: ZoneInfo) -> dict[date, set[str]]:
    """The local days stockings must be worn, and which answers each day asks
    ("stockings_day", "stockings_night"), exactly as the check-in asks them."""
    if not is_compression(protocol):
        return {}
    first = local_date(anchor, tz)
    # Only the days up to the last stocking task's end can ask (plus two for time zones
    # and clock changes): the question rule is then run on a dozen days, not months.
    keys = stocking_tasks(protocol)
    ends = [t.end.rough_end_hours() // 24 for t in protocol.tasks if t.key in keys]
    if always_stockings(protocol):  # asked every day of the follow-up
        ends.append(FOLLOW_UP_DAYS)
    last = int(max(ends)) + 2
    days: dict[date, set[str]] = {}
    for n in range(0, last + 1):
        on = first + timedelta(days=n)
        asked = fixed_questions_for_day(protocol, anchor, tz, on)
        slots = asked & {"stockings_day", "stockings_night"}
        if slots:
            days[on] = set(slots)
    return days


def wear_of(required: dict[date, set[str]], worn: int, not_worn: int) -> Wear:
    """Required slots against the stocking answers of the session's check-ins ("yes"
    and "no" as counted in its facts row; a question not answered is neither)."""
    return Wear(sum(len(slots) for slots in required.values()), worn, not_worn)


def nominal_required_slots(protocol: Protocol, tz: ZoneInfo) -> int:
    """Required slots of one session treated at noon on a plain day: the clinic page's
    denominator (per-session exact counts would need each treatment's time)."""
    anchor = datetime(2026, 3, 11, 12, 0, tzinfo=tz)
    return sum(len(s) for s in required_wear(protocol, anchor, tz).values())


# ------------------------------------------------------------------ complications


def clot_flag_keys(protocol: Protocol) -> set[str]:
    """The protocol's warning-sign keys that stand for a possible DVT or PE."""
    return {f.key for f in protocol.red_flags if f.kind in CLOT_KINDS}


def clot_flag_titles(protocol: Protocol) -> set[str]:
    """The titles of the protocol's DVT or PE warning signs: an alert's reasons name a
    warning sign by its title (app/domain/checkin.py:triage), so these find the alerts
    that stand for a possible clot."""
    return {f.title for f in protocol.red_flags if f.kind in CLOT_KINDS}


def alert_complications(reasons: object, clot_titles: set[str]) -> set[str]:
    """The complications one stored alert shows: "dvt" when one of its reasons is a
    DVT or PE warning sign (``clot_flag_titles`` of the session's protocol), and
    "skin_breakdown" when one is a skin change of ``SKIN_BREAKDOWN`` (stored as its
    English label, app/domain/checkin.py:_answer_findings). The other kinds are routine
    answers, which alert no one.

    Why alerts count as well as answers: a "yes" to a clot sign on a form refused for
    another reason raises an alert at once with no check-in stored (issue 19 point 3,
    app/domain/checkin_early.py). A patient who never sends a valid form that day, or
    sends it with the sign now "no", still told the clinic of a possible clot, and an
    alert never loses a reason once given (app/services/checkins/alerts.py). Both are a
    suspected DVT or PE for the session, as the outcomes page says ("from its check-ins
    and alerts")."""
    if not isinstance(reasons, list):
        return set()
    given = {r for r in reasons if isinstance(r, str)}
    found = {"dvt"} if clot_titles & given else set()
    if given & {SKIN_CHOICES[k] for k in SKIN_BREAKDOWN}:
        found.add("skin_breakdown")
    return found


def complications(answers: dict[str, object], day: int, clot_keys: set[str]) -> set[str]:
    """The complications one stored check-in shows (keys of COMPLICATIONS).

    - bruising: "severe", or "moderate" or worse from day 28 (ref 2.5);
    - pigmentation: skin change "brown"; matting: skin change "red-vessels" (ref 2.5);
    - skin breakdown: a blister, open sore, white/grey or black skin (ref 2.6);
    - suspected DVT or PE: "yes" on any check-in to one of the protocol's warning signs
      of kind "calf" (pain or swelling of the calf or leg: possible DVT, usually days
      4 to 28) or "chest" (possible pulmonary embolism), ref 2.6 and the DVT / PE row of
      ref 2.5. Such a "yes" always raises an alert, but the definition is the answer,
      not the alert: an alert acknowledged or a tier changed later does not undo it.
    An alert for such a sign, or for skin breakdown, counts too, check-in or not
    (``alert_complications``).
    This is the one definition: each session's ``SessionFacts`` row applies it
    (app/services/outcomes/facts.py), and the patient page and the clinic's outcomes
    page both read that row.
    """
    found = set()
    bruising = answers.get("bruising")
    if bruising == "severe" or (bruising == "moderate" and day >= BRUISING_LATE_DAY):
        found.add("bruising")
    skin = answers.get("skin")
    # Stored JSON of any age: only strings count (a nested list would make set() raise,
    # and this runs inside the check-in's transaction, warning signs and all).
    skin = {s for s in skin if isinstance(s, str)} if isinstance(skin, list) else set()
    if PIGMENTATION_SKIN in skin:
        found.add("pigmentation")
    if MATTING_SKIN in skin:
        found.add("matting")
    if skin & set(SKIN_BREAKDOWN):
        found.add("skin_breakdown")
    flags = answers.get("red_flags")
    if isinstance(flags, list) and clot_keys & {f for f in flags if isinstance(f, str)}:
        found.add("dvt")
    return found


# ------------------------------------------------------------------ running totals

# What the clinic's outcomes page counts per (protocol version, sclerosant), each a key
# of the clinic's running totals (app/services/outcomes/tallies.py): "sessions"; each
# complication key (sessions showing it); the stocking answers "day_yes", "day_no",
# "night_yes", "night_no"; and one key per value for what needs a median or a
# distribution: "improvement:70", "satisfaction:4", "effect:matting", "clearance:2". A
# median cannot be kept as a running total, but a count per value can (0-100 % in
# whole per cent, 1-5, 0-4), and ``median_from_counts`` reads the median from it.
SESSIONS = "sessions"
STOCKING_COUNTS = ("day_yes", "day_no", "night_yes", "night_no")


@dataclass(frozen=True)
class SessionRecord:
    """What one done session adds to the totals: its complications and stocking answers
    (from its check-ins), the patient's rating if given, and the clearance score."""

    complications: frozenset[str] = frozenset()
    stockings: tuple[int, int, int, int] = (0, 0, 0, 0)  # as STOCKING_COUNTS
    rating: tuple[int, int, str] | None = None  # improvement, satisfaction, side effects
    score: int | None = None


def session_tally(record: SessionRecord) -> dict[str, int]:
    """One done session's share of the running totals (keys above; zeros left out)."""
    out = {SESSIONS: 1}
    out |= {k: 1 for k in COMPLICATIONS if k in record.complications}
    out |= {k: n for k, n in zip(STOCKING_COUNTS, record.stockings, strict=True) if n}
    if record.rating is not None:
        improvement, satisfaction, effects = record.rating
        out[f"improvement:{improvement}"] = 1
        out[f"satisfaction:{satisfaction}"] = 1
        out |= {f"effect:{e}": 1 for e in (effects or "").split()}
    if record.score is not None:
        out[f"clearance:{record.score}"] = 1
    return out


def split_key(key: str) -> tuple[str, str | None]:
    """("improvement", "70") from "improvement:70"; ("sessions", None) from "sessions"."""
    name, _sep, value = key.partition(":")
    return name, (value if _sep else None)


# ------------------------------------------------------------------ CSV


def csv_safe(cell: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
