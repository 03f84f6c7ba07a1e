"""What a discharged patient may still do: the one rule for read access after discharge.

Pure: the discharge instant, now and the read period are arguments
(``SCLERO_DISCHARGE_READ`` in the app's config).
"""

from __future__ import annotations

import enum
from datetime import datetime
from datetime import timedelta


class Access(enum.StrEnum):
    """A patient's access to their own pages."""

    ACTIVE = "active"  # in care: everything works
    READ_ONLY = "read_only"  # discharged: may read diary, photos and plan, change nothing
    ENDED = "ended"  # the read period is over: may no longer sign in


def access(discharged_at: datetime | None, now: datetime, read_for: timedelta) -> Access:
    """The access of a patient discharged at ``discharged_at`` (None: never, or re-opened)."""
    if discharged_at is None:
        return Access.ACTIVE
    if now < discharged_at + read_for:
        return Access.READ_ONLY
    return Access.ENDED


def read_until(discharged_at: datetime, read_for: timedelta) -> datetime:
    """The end of the read period (exclusive)."""
    return discharged_at + read_for
