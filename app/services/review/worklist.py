"""The clinician's worklist: one table of the work waiting on the clinic (open alerts,
check-ins and photos to review, patients who missed check-ins), filtered and sorted as
the clinician asks (issue 19 point 1).

Built on the dashboard's sections (``triage``), each a page of at most ``PAGE`` rows read
in its own index order, so the worklist costs the same few statements for a clinic of
100 patients or of 10,000 (bench/clinician_dashboard.py). Sorting puts those rows in
one order; it never reads more rows than the sections' pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.extensions import db
from app.i18n import N_
from app.principal import Principal
from app.services.audit import audit_views
from app.services.review.paging import Section
from app.services.review.triage import Dashboard
from app.services.review.triage import Scope
from app.services.review.triage import dashboard

# The worklist's kinds, in the order of the filter (the section each comes from).
WORK_KINDS = {
    "alerts": N_("Alerts to acknowledge"),
    "checkins": N_("New check-ins to review"),
    "photos": N_("New photos to review"),
    "missed": N_("Missed two or more check-ins"),
}
# Urgency filter: the triage levels each choice keeps (app/domain/triage.py's tiers).
WORK_URGENCIES = {
    "": (N_("Any urgency"), None),
    "urgent": (N_("Emergency or same day"), ("emergency", "same_day")),
    "emergency": (N_("Emergency only"), ("emergency",)),
}
WORK_SORTS = {
    "urgency": N_("Urgency, then oldest"),
    "time": N_("Oldest first"),
    "patient": N_("Patient name"),
}
# Sort rank of a row: the triage tiers first (clinical reference §2.6: an
# emergency answer needs action now, same day today), then patients not heard from for
# two days (a call may be needed), then what only needs looking at.
_RANK = {"emergency": 0, "same_day": 1, "routine": 2, "missed": 2, "none": 3, "photo": 3}
_KIND_ORDER = {"alerts": 0, "checkins": 1, "missed": 2, "photos": 3}
# Rows of the whole worklist on one page: the first this many of the sections' pages in
# the chosen order. A page of fixed size costs the same for any clinic; the rest of each
# kind is one click away (its filter pages through all of it, PAGE rows at a time).
ROWS = 40


@dataclass(frozen=True)
class WorkView:
    """The clinician's filter and sort, from the query string (unknown values: defaults,
    so an old or edited link still shows the worklist)."""

    kind: str = ""
    urgency: str = ""
    sort: str = "urgency"

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> WorkView:
        kind = args.get("kind", "")
        urgency = args.get("urgency", "")
        sort = args.get("sort", "urgency")
        return cls(
            kind if kind in WORK_KINDS else "",
            urgency if urgency in WORK_URGENCIES else "",
            sort if sort in WORK_SORTS else "urgency",
        )

    def scope(self, upcoming: bool = True) -> Scope:
        kinds = frozenset((self.kind,)) if self.kind else None
        return Scope(kinds, WORK_URGENCIES[self.urgency][1], upcoming)

    def args(self) -> dict[str, str]:
        """The query string that shows this view (defaults left out)."""
        pairs = {"kind": self.kind, "urgency": self.urgency}
        pairs["sort"] = "" if self.sort == "urgency" else self.sort
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True)
class Item:
    """One row of the worklist: ``row`` is the section's row (its columns differ by kind)."""

    kind: str
    key: str
    level: str
    at: datetime | None
    name: str
    patient_id: int
    row: Any


@dataclass(frozen=True)
class Worklist:
    view: WorkView
    board: Dashboard
    items: list[Item]
    version: str
    # Rows read but left for later pages of their kind (the page shows ``ROWS`` at most).
    hidden: int = 0

    @property
    def sections(self) -> dict[str, Section]:
        return {kind: getattr(self.board, kind) for kind in WORK_KINDS}

    def query(self) -> dict[str, Any]:
        """The query string that shows this worklist again: the view and the page of
        each kind past its first (the page's refresh must not jump back to page 1)."""
        pages = {f"{k}_page": s.page for k, s in self.sections.items() if s.page > 1}
        return {**self.view.args(), **pages}


def worklist(
    actor: Principal,
    now: datetime,
    pages: dict[str, int],
    address: str,
    view: WorkView,
    *,
    upcoming: bool = True,
    audit: bool = True,
) -> Worklist:
    """The worklist for ``view``; ``audit=False`` reads it only to compare ``version``
    with the one the clinician's page shows (nothing is shown, so nothing is audited)."""
    board = dashboard(actor, now, pages, view.scope(upcoming))
    items = _items(board)
    items.sort(key=_SORT_KEYS[view.sort])
    hidden = 0
    if not view.kind and len(items) > ROWS:
        # Open alerts (at most a page of them) are never cut, whatever the order: sorted
        # by name, an emergency of a late-named patient fell below the 40th row.
        room = ROWS - sum(i.kind == "alerts" for i in items)
        others = [i for i in items if i.kind != "alerts"]
        cut = {i.key for i in others[max(room, 0) :]}
        hidden = len(cut)
        items = [i for i in items if i.key not in cut]
    work = Worklist(view, board, items, _version(board, items), hidden)
    if audit:
        audit_shown(actor, work, address)
    return work


def worklist_update(
    actor: Principal, now: datetime, pages: dict[str, int], address: str, view: WorkView, since: str
) -> Worklist | None:
    """The worklist for the page to swap in (no upcoming sessions), or None while its
    version is still ``since``: an unchanged list is neither shown nor audited."""
    work = worklist(actor, now, pages, address, view, upcoming=False, audit=False)
    if work.version == since:
        return None
    audit_shown(actor, work, address)
    return work


def audit_shown(actor: Principal, work: Worklist, address: str) -> None:
    """A "view" audit event for each patient on the page (rows read but cut from the
    page show nothing)."""
    board = work.board
    shown = dict.fromkeys(
        [i.patient_id for i in work.items] + [u.patient_id for u in board.upcoming.rows]
    )
    audit_views(actor, list(shown), address, "dashboard")
    db.session.commit()


def _items(board: Dashboard) -> list[Item]:
    items = [
        Item("alerts", f"alert-{a.id}", a.level, a.created_at, a.name, a.patient_id, a)
        for a in board.alerts.rows
    ]
    items += [
        Item("checkins", f"checkin-{c.id}", c.level, c.updated_at, c.name, c.patient_id, c)
        for c in board.checkins.rows
    ]
    items += [
        Item("photos", f"photo-{p.id}", "photo", p.created_at, p.name, p.patient_id, p)
        for p in board.photos.rows
    ]
    items += [
        Item(
            "missed",
            f"missed-{m.patient_id}",
            "missed",
            m.last_checkin or m.treated_at,
            m.name,
            m.patient_id,
            m,
        )
        for m in board.missed.rows
    ]
    return items


def _when(item: Item) -> float:
    return item.at.timestamp() if item.at is not None else 0.0


_SORT_KEYS = {
    "urgency": lambda i: (_RANK[i.level], _when(i), _KIND_ORDER[i.kind], i.key),
    "time": lambda i: (_when(i), _KIND_ORDER[i.kind], i.key),
    "patient": lambda i: (i.name.casefold(), _RANK[i.level], _when(i), i.key),
}


def _version(board: Dashboard, items: list[Item]) -> str:
    """A short fingerprint of what the worklist shows: its counts and each row with the
    time it last changed (a check-in the patient corrected shows new answers)."""
    counts = [(s.total, s.capped, s.page) for s in (getattr(board, k) for k in WORK_KINDS)]
    # An open alert's reasons too: a patient's edit can add one (a calf sign to a chest
    # pain) without changing its time or tier, and a row kept unrefreshed would then be
    # refused when acknowledged (adversarial review, 2026-12-08).
    rows = [(i.key, i.level, _when(i), getattr(i.row, "reasons", None)) for i in items]
    return hashlib.sha256(repr((counts, rows)).encode()).hexdigest()[:16]
