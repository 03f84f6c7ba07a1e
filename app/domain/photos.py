"""Pure rules of the photo diary: body sites, and where a photo sits in a course.

* ``Site`` (with ``SIDES``, ``REGIONS``, ``VIEWS``): a body site such as
  ``left-calf-inner``, parsed from form values or a token, and its label in words.
* ``place``: which session a photo taken now belongs to, and as what (a "before" photo
  of the next session, or day N after the latest treatment).
* ``when_label``: that placement in words ("Day 3 after treatment").
* ``fit_box``: a photo's size scaled to fit a square thumbnail slot (for the width and
  height attributes that keep a page still while thumbnails load).

No Flask, no database, no clock: callers pass ``now`` and the course's sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import say
from app.domain.offsets import day_number

# Values marked for translation: the upload form lists them in the reader's language.
SIDES = {"left": N_("Left"), "right": N_("Right")}
REGIONS = {
    "thigh": N_("thigh"),
    "knee": N_("knee"),
    "calf": N_("calf"),
    "ankle": N_("ankle"),
    "foot": N_("foot"),
}
VIEWS = {
    "front": N_("front"),
    "back": N_("back"),
    "inner": N_("inner side"),
    "outer": N_("outer side"),
}
# The side and part said together, marked for translation: other languages agree the
# side with the part ("pantorrilla izquierda", "muslo izquierdo").
_PARTS = {
    ("left", "thigh"): N_("Left thigh"),
    ("left", "knee"): N_("Left knee"),
    ("left", "calf"): N_("Left calf"),
    ("left", "ankle"): N_("Left ankle"),
    ("left", "foot"): N_("Left foot"),
    ("right", "thigh"): N_("Right thigh"),
    ("right", "knee"): N_("Right knee"),
    ("right", "calf"): N_("Right calf"),
    ("right", "ankle"): N_("Right ankle"),
    ("right", "foot"): N_("Right foot"),
}
# A photo taken this close before a booked session belongs to that session's "before" set.
BEFORE_DAYS = 7


class SiteError(ValueError):
    """A site with a missing or unknown part; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def site_problem(side: str | None, region: str | None, view: str | None) -> SiteError | None:
    """The error for the first missing or unknown part of a site, or None if it is whole."""
    # Whole sentences, marked: the page says the message in the reader's language
    # (``translated``); a phrase pasted into "Please choose ..." could not be translated.
    for field, value, allowed, message in (
        ("side", side, SIDES, N_("Please choose left or right.")),
        ("region", region, REGIONS, N_("Please choose the part of the leg.")),
        ("view", view, VIEWS, N_("Please choose front, back, inner or outer.")),
    ):
        if value not in allowed:
            return SiteError(field, message)
    return None


@dataclass(frozen=True)
class Site:
    """A body site: side, region and view (``left-calf-inner``)."""

    side: str
    region: str
    view: str

    @classmethod
    def parse(cls, side: str | None, region: str | None, view: str | None) -> Site:
        """A site from form values; :raises SiteError: naming the missing part."""
        problem = site_problem(side, region, view)
        if problem is not None:
            raise problem
        return cls(side, region, view)  # type: ignore[arg-type]

    @classmethod
    def from_token(cls, token: str | None) -> Site | None:
        parts = (token or "").split("-")
        if len(parts) != 3 or site_problem(*parts) is not None:
            return None
        return cls(*parts)

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> Site | None:
        """A site from a ``site`` token or side/region/view values (query or form)."""
        parts = (values.get(k, "") for k in ("side", "region", "view"))
        return cls.from_token(values.get("site") or "-".join(parts))

    @property
    def token(self) -> str:
        return f"{self.side}-{self.region}-{self.view}"

    @property
    def label(self) -> str:
        """ "Left calf, inner side", in the reader's language. A site the app does not
        know (a row written by an older version or by hand) is named as stored rather
        than failing the page or the patient's data export."""
        part, view = _PARTS.get((self.side, self.region)), VIEWS.get(self.view)
        if part is None or view is None:
            return f"{self.side} {self.region}, {self.view}"
        return say(N_("%(part)s, %(view)s"), part=say(part), view=say(view))


def place(
    now: datetime,
    tz: ZoneInfo,
    upcoming: tuple[int, datetime] | None,
    recovering: tuple[int, datetime] | None,
) -> tuple[int | None, str, int | None]:
    """Which session a photo taken now belongs to: (treatment id, phase, day).

    ``upcoming`` is the next booked session (id, appointment time), ``recovering`` the
    one being recovered from (id, anchor), either None. Before the first treatment, or
    within a week before the next booked session, it is a "before" photo of that
    session; otherwise day N after the latest treatment.
    """
    if upcoming is not None:
        upcoming_id, appointment_at = upcoming
        if recovering is None or now <= appointment_at <= now + timedelta(days=BEFORE_DAYS):
            return upcoming_id, "before", min(0, day_number(appointment_at, now, tz))
    if recovering is not None:
        recovering_id, anchor = recovering
        return recovering_id, "after", day_number(anchor, now, tz)
    return None, "before", None


def when_label(phase: str, day: int | None, session: int | None, many: bool) -> str:
    """Where a photo sits in the course, in words."""
    numbered = bool(many and session)
    if phase == "before":
        if numbered:
            return say(N_("Before session %(n)s"), n=session)
        return say(N_("Before treatment"))
    if day == 0:
        if numbered:
            return say(N_("Treatment day of session %(n)s"), n=session)
        return say(N_("Treatment day"))
    if numbered:
        return say(N_("Day %(day)s after session %(n)s"), day=day, n=session)
    return say(N_("Day %(day)s after treatment"), day=day)


def fit_box(width: int, height: int, edge: int) -> tuple[int, int]:
    """(width, height) of a ``width`` x ``height`` photo scaled down to fit an
    ``edge`` x ``edge`` slot (never scaled up), each at least 1."""
    scale = min(1.0, edge / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
