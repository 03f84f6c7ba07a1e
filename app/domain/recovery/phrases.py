"""How Today and the plan say when: a milestone's heading and a rule's timing.

Both pages word a rule with these, for the same ``now``, so they never disagree
("From 14:00 today: ..." before a milestone's moment, "Until 14:00 today" for a rule).
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.offsets import local_date
from app.domain.recovery.windows import Window
from app.domain.wording import ending_on
from app.domain.wording import lower_first
from app.domain.wording import starting
from app.domain.wording import starting_on

# "from now" as the shipped protocols' titles end, in each catalogue's language (the
# Spanish titles end "desde ahora"; app/translations).
_FROM_NOW = re.compile(r"\s+(from now|desde ahora)[.!]?$", re.IGNORECASE)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def milestone_heading(title: str, at: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A milestone's title as true at ``now``: never "from now" before its moment.

    Protocol titles may end in "from now" (they are written for the moment itself).
    Before that moment the heading says from when ("From 14:00 today: you can take
    your stockings off to sleep"); on its own date once reached, the title as written;
    on a later date, the title without "from now".
    """
    rest = _FROM_NOW.sub("", title)
    if at > now:
        return f"{capital(starting(at, tz, now))}: {lower_first(rest)}"
    if local_date(at, tz) == local_date(now, tz):
        return title
    return rest


def timing(w: Window, tz: ZoneInfo, now: datetime, today: date | None = None) -> str:
    """When a task or rule applies, seen from ``now``: "Until 14:00 today", or
    "From 14:00 today until the end of Sat 6 Dec" before it starts.

    :param today: the local date of ``now``, when the caller has it already.
    """
    today = today or local_date(now, tz)
    end = ending_on(w.end, w.end_is_exact, tz, today)
    if now < w.start:
        return capital(f"{starting_on(w.start, tz, today)} {end}")
    return capital(end)
