"""Account closure and record retention (issue 20 point 4): the pure rules.

How long a closed patient's clinical record is kept is the clinic's choice (a clinic
setting, defaulting to ``SCLERO_RETENTION_YEARS``). The default of 8 years follows the
UK records management guidance for adult health records (NHS England, Records
Management Code of Practice 2021: adult records 8 years after the end of treatment);
the clinical and market reference names no retention period, so the number is the
clinic's policy, not a clinical rule of this app.

Photos are part of the clinical record, but a clinic may choose to delete them when an
account is closed (``DELETE``) rather than keep them with the record (``KEEP``).

Pure: the instants are arguments; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import datetime

# Photo policies a clinic can choose.
KEEP = "keep"  # photos stay with the clinical record until it is erased
DELETE = "delete"  # photos go when the account is closed
PHOTO_POLICIES = (KEEP, DELETE)

# The longest a clinic may set: a typo of 800 must not keep records for centuries, and
# datetime stops at year 9999.
YEARS_MAX = 100


def retention_end(closed_at: datetime, years: int) -> datetime:
    """The instant a record closed at ``closed_at`` may be erased: ``years`` calendar
    years later, at the same time of day. A closure on 29 February ends on 28 February
    of a year that has no 29th (never a day early into March, never an error)."""
    if years < 0:
        raise ValueError("years must not be negative")
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:  # 29 February into a common year
        return closed_at.replace(year=closed_at.year + years, day=28)


def erasure_due(keep_until: datetime | None, now: datetime) -> bool:
    """Whether a record kept until ``keep_until`` may be erased at ``now`` (None: the
    closure is not complete, so nothing is due). The end is inclusive: erased on the day
    the period ends, not a run later."""
    return keep_until is not None and now >= keep_until


def photos_go_at_closure(policy: str) -> bool:
    """Whether a clinic's photo policy deletes photos when an account is closed. An
    unknown value keeps them: deleting is the step that cannot be undone."""
    return policy == DELETE
