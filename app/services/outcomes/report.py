"""The clinic's outcomes page and its CSV (issue 19 points 6 and 7): per protocol and per
sclerosant, with counts, the patients' median improvement and satisfaction, the
clearance scores' distribution, complication rates and stocking adherence.

Everything is counted in SQL, in a fixed number of statements whatever the clinic's size
(bench/outcomes.py): the database returns counts per (protocol version, sclerosant) and
per value, and Python only adds those few rows up per protocol and per sclerosant. The
check-ins are not read here: each session's complications and stocking answers are kept
in one ``SessionFacts`` row by the check-in service (app/services/outcomes/facts.py).

Complications, per done session, from its check-ins (the definitions are
app/domain/outcomes.py:complications; a session counts once per kind however many days
showed it):

- bruising beyond expected: bruising answered "severe" on any day, or "moderate" or
  worse from day 28 (ref 2.5: bruising fades over 2-4 weeks);
- pigmentation: the skin change "brown marks or lines"; matting: "new fine red vessels"
  (ref 2.5);
- skin breakdown: a blister, an open sore, skin turning white, grey or black (ref 2.6);
  these answers raise a same-day alert;
- suspected DVT or PE: a check-in that raised an alert (emergency or same day) with a
  "yes" to the protocol's calf/leg or chest warning sign (kinds "calf" and "chest").

Stocking adherence (compression protocols only, ref 4.7): the day and night answers
"worn" and "not worn" summed over the sessions' check-ins; "not reported" is the
required slots (days of the protocol's stocking tasks, day and night counted apart,
for a session treated at midday) less those answers, so a skipped question or a missed
check-in is never counted as "not worn".
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
from app.models import Patient
from app.models import ProtocolVersion
from app.models import SessionFacts
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
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


def _rows(clinic_id: int) -> list:
    """One statement, one pass over the clinic's done sessions: per (protocol version,
    sclerosant, rating given, clearance score), how many sessions, how many of them had
    each complication, and their stocking answers. The rows are combinations of values
    (a few hundred per protocol at most), never one per session."""
    f = SessionFacts
    flags = [
        sa.func.coalesce(sa.func.sum(sa.case((getattr(f, k), 1), else_=0)), 0).label(k)
        for k in rules.COMPLICATIONS
    ]
    counts = [
        sa.func.coalesce(sa.func.sum(getattr(f, k)), 0).label(k)
        for k in ("day_yes", "day_no", "night_yes", "night_no")
    ]
    keys = (
        Treatment.protocol_version_id,
        Treatment.sclerosant,
        f.improvement,
        f.satisfaction,
        f.side_effects,
        f.score,
    )
    # From the clinic's patients (indexed by clinic) to their sessions (by patient), so a
    # small clinic's page reads its own rows, not every clinic's sessions; then one
    # short row per session (its rating and score are copied into it).
    return db.session.execute(
        sa.select(*keys, sa.func.count().label("sessions"), *flags, *counts)
        .select_from(Patient)
        .join(Treatment, Treatment.patient_id == Patient.id)
        .outerjoin(f, f.treatment_id == Treatment.id)
        .where(Patient.clinic_id == clinic_id, Treatment.status == TreatmentStatus.DONE)
        .group_by(*keys)
    ).all()


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
        self.by_protocol: dict[str, Group] = {}
        self.by_agent: dict[str, Group] = {}

    def groups(self, vid: int, sclerosant: str) -> tuple[Group, Group]:
        key = self.key_of[vid]
        agent = (sclerosant or "").strip() or NOT_RECORDED
        a = self.by_protocol.setdefault(key, Group(self.names.get(key, key)))
        b = self.by_agent.setdefault(agent.casefold(), Group(agent))
        return a, b

    def add(self, rows: list) -> None:
        """Sum the rows per (version, sclerosant) in plain lists first (thousands of
        rows, kept cheap), then into the few groups."""
        for key, sums in _per_version(rows).items():
            self._fold(*key, sums)

    def _fold(self, vid: int, sclerosant: str, sums: list) -> None:
        n, flags, worn, not_worn, imp, sat, eff, clr = sums
        slots = self.slots[vid]
        for g in self.groups(vid, sclerosant):
            g.sessions += n
            for k, count in zip(rules.COMPLICATIONS, flags, strict=True):
                g.complications[k] += count
            if slots is not None:
                g.add_wear(rules.Wear(slots * n, worn, not_worn))
            g.improvement.update(imp)
            g.satisfaction.update(sat)
            g.effects.update(eff)
            g.clearance.update(clr)


def _per_version(rows: list) -> dict[tuple, list]:
    """The statement's rows summed per (version, sclerosant): [sessions, flags, worn,
    not worn, improvement, satisfaction, side effects, clearance]."""
    kinds = len(rules.COMPLICATIONS)
    acc: dict[tuple, list] = {}
    for row in rows:
        vid, sclerosant, improvement, satisfaction, effects, score, n = row[:7]
        a = acc.get((vid, sclerosant))
        if a is None:
            a = acc[(vid, sclerosant)] = [0, [0] * kinds, 0, 0, Counter(), Counter()]
            a += [Counter(), Counter()]
        a[0] += n
        flags = a[1]
        for i in range(kinds):
            flags[i] += row[7 + i]
        a[2] += row[7 + kinds] + row[9 + kinds]  # worn: day and night
        a[3] += row[8 + kinds] + row[10 + kinds]  # not worn
        if improvement is not None:
            a[4][improvement] += n
            a[5][satisfaction] += n
            for e in (effects or "").split():
                a[6][e] += n
        if score is not None:
            a[7][score] += n
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
    folder.add(_rows(clinic_id))
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
            writer.writerow([rules.csv_safe(c) for c in row])
    return out.getvalue()
