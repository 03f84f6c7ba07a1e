"""The clinic's outcomes page and its CSV (issue 19 points 6 and 7): per protocol and per
sclerosant, with counts, the patients' median improvement and satisfaction, the
clearance scores' distribution, complication rates and stocking adherence.

The page reads the clinic's running totals (app/services/outcomes/tallies.py): a few
hundred rows per (protocol version, sclerosant) whatever the clinic's size, in a fixed
number of statements (bench/outcomes.py); Python adds them up per protocol and per
sclerosant. Medians come from the counts per value the totals keep.

Complications: a done session counts once per kind however many of its check-ins showed
it. What each kind is (bruising beyond expected, pigmentation, matting, skin breakdown,
suspected DVT or PE) and its source is defined once, in
app/domain/outcomes.py:complications; each session's ``SessionFacts`` row applies it.

Stocking adherence (compression protocols only, ref 4.7): the day and night answers
"worn" and "not worn" summed over the sessions' check-ins; "not reported" is the
required slots (days of the protocol's stocking tasks, day and night counted apart,
for a session treated at midday) less those answers, so a skipped question or a missed
check-in is never counted as "not worn". A protocol with stocking tasks (marked
``stockings = true``) that asks no stockings question has its sessions counted as "not
asked": nothing was asked, so neither 0 % nor a blank (issue 19 point 7).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain import outcomes as rules
from app.domain.protocol.model import Protocol
from app.extensions import db
from app.models import ProtocolVersion
from app.principal import Principal
from app.services.audit import audit
from app.services.outcomes import tallies
from app.services.protocols import protocol_by_version

NOT_RECORDED = "Not recorded"


@dataclass
class Group:
    """One row of the page: a protocol or a sclerosant, with counts."""

    label: str
    sessions: int = 0
    improvement: Counter = field(default_factory=Counter)
    satisfaction: Counter = field(default_factory=Counter)
    effects: Counter = field(default_factory=Counter)  # side effects still present at rating
    clearance: Counter = field(default_factory=Counter)
    complications: Counter = field(default_factory=Counter)
    wear: rules.Wear | None = None

    @property
    def rated(self) -> int:
        return sum(self.improvement.values())

    @property
    def scored(self) -> int:
        return sum(self.clearance.values())

    @property
    def shown(self) -> bool:
        """Enough ratings that no one patient's can be read from the medians."""
        return self.rated >= rules.MIN_RATINGS_SHOWN

    @property
    def median_improvement(self) -> float | None:
        return rules.median_from_counts(self.improvement) if self.shown else None

    @property
    def median_satisfaction(self) -> float | None:
        return rules.median_from_counts(self.satisfaction) if self.shown else None

    def complication_rate(self, key: str) -> float | None:
        return rules.rate(self.complications[key], self.sessions)

    def add_wear(self, wear: rules.Wear) -> None:
        self.wear = wear if self.wear is None else self.wear + wear


@dataclass(frozen=True)
class Report:
    clinic: str
    by_protocol: list[Group]
    by_sclerosant: list[Group]


# A version's required slots depend only on its text and the clinic's zone.
_SLOTS: dict[tuple[int, str, str], int | None] = {}


def _nominal_slots(version_id: int, sha256: str, tz: ZoneInfo, protocol: Protocol) -> int | None:
    key = (version_id, sha256, str(tz))
    if key not in _SLOTS:
        if len(_SLOTS) > 512:
            _SLOTS.clear()
        compression = rules.is_compression(protocol)
        _SLOTS[key] = rules.nominal_required_slots(protocol, tz) if compression else None
    return _SLOTS[key]


class _Folder:
    """Adds the database's rows per (protocol version, sclerosant) into both groupings."""

    def __init__(self, versions: list, tz: ZoneInfo) -> None:
        parsed = {v.id: protocol_by_version(v.id, v.sha256) for v in versions}
        self.key_of = {v.id: v.key for v in versions}
        self.names = {v.key: v.name for v in sorted(versions, key=lambda v: v.version)}
        self.slots = {v.id: _nominal_slots(v.id, v.sha256, tz, parsed[v.id]) for v in versions}
        # Stocking tasks but no stockings question: wear "not asked", not 0 of 0.
        self.unasked = {
            v.id
            for v in versions
            if rules.is_compression(parsed[v.id]) and not rules.asks_stockings(parsed[v.id])
        }
        self.by_protocol: dict[str, Group] = {}
        self.by_agent: dict[str, Group] = {}

    def groups(self, vid: int, sclerosant: str) -> tuple[Group, Group]:
        key = self.key_of[vid]
        agent = (sclerosant or "").strip() or NOT_RECORDED
        a = self.by_protocol.setdefault(key, Group(self.names.get(key, key)))
        b = self.by_agent.setdefault(agent.casefold(), Group(agent))
        return a, b

    def add(self, rows: list[tuple[int, str, str, int]]) -> None:
        """Fold the totals, (version, sclerosant, key, count), into both groupings."""
        for key, sums in _per_version(rows).items():
            self._fold(*key, sums)

    def _fold(self, vid: int, sclerosant: str, sums: dict[str, Counter]) -> None:
        plain = sums["plain"]
        n = plain[rules.SESSIONS]
        if n <= 0:  # every session of the group moved away or was corrected
            return
        slots = self.slots[vid]
        worn = plain["day_yes"] + plain["night_yes"]
        not_worn = plain["day_no"] + plain["night_no"]
        for g in self.groups(vid, sclerosant):
            g.sessions += n
            for k in rules.COMPLICATIONS:
                g.complications[k] += plain[k]
            if vid in self.unasked:
                g.add_wear(rules.Wear(unasked=n))
            elif slots is not None:
                g.add_wear(rules.Wear(slots * n, worn, not_worn))
            g.improvement.update(sums["improvement"])
            g.satisfaction.update(sums["satisfaction"])
            g.effects.update(sums["effect"])
            g.clearance.update(sums["clearance"])


_PER_VALUE = ("improvement", "satisfaction", "effect", "clearance")
_NUMBERS = ("improvement", "satisfaction", "clearance")  # the rest are keys (effects)


def _per_version(rows: list[tuple[int, str, str, int]]) -> dict[tuple[int, str], dict]:
    """The totals per (version, sclerosant): plain counts by key, and a count per value
    for each of improvement, satisfaction, side effect and clearance."""
    acc: dict[tuple[int, str], dict[str, Counter]] = {}
    for vid, sclerosant, key, count in rows:
        sums = acc.get((vid, sclerosant))
        if sums is None:
            sums = acc[(vid, sclerosant)] = {k: Counter() for k in ("plain", *_PER_VALUE)}
        name, value = rules.split_key(key)
        if value is None:
            sums["plain"][name] += count
        elif name in _PER_VALUE:
            sums[name][int(value) if name in _NUMBERS else value] += count
    return acc


def clinic_report(actor: Principal, address: str) -> Report:
    """The clinician's own clinic's outcomes (audited as a view of the clinic's data)."""
    clinic_id = actor.clinic_id
    versions = db.session.execute(
        sa.select(
            ProtocolVersion.id,
            ProtocolVersion.key,
            ProtocolVersion.name,
            ProtocolVersion.version,
            ProtocolVersion.sha256,
        ).where(ProtocolVersion.clinic_id == clinic_id)
    ).all()
    folder = _Folder(versions, ZoneInfo(actor.clinic.timezone))
    folder.add(tallies.read(clinic_id))
    audit(actor, None, "view", address, "clinic outcomes")
    db.session.commit()
    return Report(
        actor.clinic.name,
        sorted(folder.by_protocol.values(), key=lambda g: g.label.casefold()),
        sorted(folder.by_agent.values(), key=lambda g: g.label.casefold()),
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}"


def report_csv(report: Report) -> str:
    """The page as CSV, one row per group; every cell made safe for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    head = [
        "grouping",
        "group",
        "sessions",
        "rated",
        "median improvement %",
        "median satisfaction (1-5)",
        "scored",
    ]
    head += [f"clearance {k}" for k in rules.CLEARANCE]
    head += [f"{label} (sessions)" for label in rules.COMPLICATIONS.values()]
    head += ["stocking slots required", "worn", "not worn", "not reported", "worn % of answered"]
    head += ["sessions with stockings not asked"]
    writer.writerow(head)
    for grouping, groups in (
        ("protocol", report.by_protocol),
        ("sclerosant", report.by_sclerosant),
    ):
        for g in groups:
            w = g.wear
            row = [
                grouping,
                g.label,
                g.sessions,
                g.rated,
                g.median_improvement,
                g.median_satisfaction,
                g.scored,
            ]
            row += [g.clearance[k] for k in rules.CLEARANCE]
            row += [g.complications[k] for k in rules.COMPLICATIONS]
            row += [w.required, w.worn, w.not_worn, w.unknown, _pct(w.share)] if w else [""] * 5
            row += [w.unasked if w else ""]
            writer.writerow([rules.csv_safe(c) for c in row])
    return out.getvalue()
