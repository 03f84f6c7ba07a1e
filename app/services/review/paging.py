"""Paging for the clinician's lists: a ``Section`` is one page of rows and their count.

Shared by the dashboard's sections and the audit log. Long lists count only as far as
``COUNT_CAP`` (see ``capped_page``), so a page costs the same whatever the clinic's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db

PAGE = 20
# Sections a clinician works through page by page count at most this many rows, then say
# "more than 100": past five pages an exact figure changes nothing they do, and counting
# thousands of rows would make the dashboard slower the larger the clinic.
COUNT_CAP = 100


@dataclass(frozen=True)
class Section:
    """One dashboard section: a page of rows and the total count.

    ``capped``: there are more than ``total`` rows (the count stopped there); the pages
    after ``pages`` exist but were not counted.
    """

    rows: list[sa.Row]
    total: int
    page: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.capped


def counted_page(query: sa.Select, count: sa.Select, page: int) -> Section:
    """A page of ``query`` with the exact count ``count`` selects."""
    total = db.session.scalar(count) or 0
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    rows = list(db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)))
    return Section(rows, total, page)


def capped_total(matching: sa.Select, page: int) -> tuple[int, bool]:
    """How many rows ``matching`` selects, counting no further than ``COUNT_CAP`` rows or
    the end of the requested page (whichever is further), so there is always a next page
    to offer when one exists. :returns: (rows counted, whether more were left uncounted)."""
    known = max(COUNT_CAP, max(page, 1) * PAGE)
    counted = (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(matching.limit(known + 1).subquery())
        )
        or 0
    )
    return min(counted, known), counted > known


def capped_page(query: sa.Select, matching: sa.Select, page: int) -> Section:
    """A page of ``query`` with a count capped as in ``capped_total``."""
    total, capped = capped_total(matching, page)
    page = min(max(page, 1), max(1, -(-total // PAGE)))
    rows = list(db.session.execute(query.limit(PAGE).offset((page - 1) * PAGE)))
    return Section(rows, total, page, capped)
