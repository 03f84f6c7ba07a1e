"""The clinic's outcomes page and its CSV (issue 19 points 6 and 7): per protocol and per
sclerosant, with counts, the patients' median improvement and satisfaction, the
clearance scores' distribution, complication rates and stocking adherence.

Everything is counted in SQL, in a fixed number of statements whatever the clinic's size
(bench/outcomes.py): the database returns counts per (protocol version, sclerosant) and
per value, and Python only adds those few rows up per protocol and per sclerosant.

Complications, per done session, from its check-ins (the definitions are
app/domain/outcomes.py:complications, applied here in SQL; a session counts once per
kind however many days showed it):

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
from app.extensions import db
from app.models import CheckIn
from app.models import ClearanceScore
from app.models import OutcomeRating
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.protocols import protocol_by_version

NOT_RECORDED = "Not recorded"
# Stocking answers are only asked in the first weeks; reading them no later than this
# day keeps the JSON out of the way for later check-ins.
WEAR_DAYS = 30


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
    def median_improvement(self) -> float | None:
        return rules.median_from_counts(self.improvement)

    @property
    def median_satisfaction(self) -> float | None:
        return rules.median_from_counts(self.satisfaction)

    def complication_rate(self, key: str) -> float | None:
        return rules.rate(self.complications[key], self.sessions)

    def add_wear(self, wear: rules.Wear) -> None:
        self.wear = wear if self.wear is None else self.wear + wear


@dataclass(frozen=True)
class Report:
    clinic: str
    by_protocol: list[Group]
    by_sclerosant: list[Group]


def _skin_text(dialect: str) -> sa.ColumnElement:
    """The stored skin changes as JSON text (``["brown", "red-vessels"]``)."""
    if dialect == "postgresql":
        return sa.literal_column("(checkins.answers -> 'skin')::text")
    return sa.func.json_extract(CheckIn.answers, "$.skin")


def _flags_text(dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.literal_column("(checkins.answers -> 'red_flags')::text")
    return sa.func.json_extract(CheckIn.answers, "$.red_flags")


def _has_any(text: sa.ColumnElement, values: list[str]) -> sa.ColumnElement:
    """A JSON array's text holds one of ``values`` (each a whole quoted element)."""
    if not values:
        return sa.false()
    return sa.or_(*(text.like(f'%"{v}"%', escape="\\") for v in map(_like_escape, values)))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _flag(condition: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.max(sa.case((condition, 1), else_=0))


def _session_rows(clinic_id: int, clot_keys: list[str]) -> list:
    """Per (protocol version, sclerosant): sessions, sessions with each complication,
    and stocking answers. One statement: the check-ins are read once, grouped by session."""
    dialect = db.engine.dialect.name
    skin, flags = _skin_text(dialect), _flags_text(dialect)
    noted = CheckIn.level != "none"  # every complication below raises at least "routine"
    alerted = CheckIn.level.in_(("emergency", "same_day"))
    early = CheckIn.day < WEAR_DAYS

    def answered(key: str, value: bool) -> sa.ColumnElement:
        worn = CheckIn.answers[key].as_boolean()
        return sa.func.sum(sa.case((sa.and_(early, worn.is_(value)), 1), else_=0))

    per_session = (
        sa.select(
            CheckIn.treatment_id.label("tid"),
            _flag(
                sa.or_(
                    CheckIn.bruising == "severe",
                    sa.and_(CheckIn.bruising == "moderate", CheckIn.day >= rules.BRUISING_LATE_DAY),
                )
            ).label("bruising"),
            _flag(sa.and_(noted, _has_any(skin, [rules.PIGMENTATION_SKIN]))).label("pigmentation"),
            _flag(sa.and_(noted, _has_any(skin, [rules.MATTING_SKIN]))).label("matting"),
            _flag(sa.and_(noted, _has_any(skin, list(rules.SKIN_BREAKDOWN)))).label(
                "skin_breakdown"
            ),
            _flag(sa.and_(alerted, _has_any(flags, clot_keys))).label("dvt"),
            answered("stockings_day", True).label("day_yes"),
            answered("stockings_day", False).label("day_no"),
            answered("stockings_night", True).label("night_yes"),
            answered("stockings_night", False).label("night_no"),
        )
        .where(CheckIn.clinic_id == clinic_id)
        .group_by(CheckIn.treatment_id)
        .subquery()
    )
    keys = (*rules.COMPLICATIONS, "day_yes", "day_no", "night_yes", "night_no")
    sums = [sa.func.coalesce(sa.func.sum(per_session.c[k]), 0).label(k) for k in keys]
    return db.session.execute(
        sa.select(Treatment.protocol_version_id, Treatment.sclerosant, sa.func.count(), *sums)
        .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
        .outerjoin(per_session, per_session.c.tid == Treatment.id)
        .where(ProtocolVersion.clinic_id == clinic_id, Treatment.status == TreatmentStatus.DONE)
        .group_by(Treatment.protocol_version_id, Treatment.sclerosant)
    ).all()


class _Folder:
    """Adds the database's rows per (protocol version, sclerosant) into both groupings."""

    def __init__(self, versions: list, tz: ZoneInfo) -> None:
        parsed = {v.id: protocol_by_version(v.id, v.sha256) for v in versions}
        self.key_of = {v.id: v.key for v in versions}
        self.names = {v.key: v.name for v in sorted(versions, key=lambda v: v.version)}
        self.slots = {
            vid: rules.nominal_required_slots(p, tz) if rules.is_compression(p) else None
            for vid, p in parsed.items()
        }
        self.clot = sorted({k for p in parsed.values() for k in rules.clot_flag_keys(p)})
        self.by_protocol: dict[str, Group] = {}
        self.by_agent: dict[str, Group] = {}

    def groups(self, vid: int, sclerosant: str) -> tuple[Group, Group]:
        key = self.key_of[vid]
        agent = (sclerosant or "").strip() or NOT_RECORDED
        a = self.by_protocol.setdefault(key, Group(self.names.get(key, key)))
        b = self.by_agent.setdefault(agent.casefold(), Group(agent))
        return a, b

    def add_sessions(self, rows: list) -> None:
        for row in rows:
            vid, sessions = row[0], row[2]
            slots = self.slots[vid]
            wear = None
            if slots is not None:
                worn, not_worn = row.day_yes + row.night_yes, row.day_no + row.night_no
                wear = rules.Wear(slots * sessions, worn, not_worn)
            for g in self.groups(vid, row[1]):
                g.sessions += sessions
                for k in rules.COMPLICATIONS:
                    g.complications[k] += getattr(row, k)
                if wear is not None:
                    g.add_wear(wear)

    def add_ratings(self, rows: list) -> None:
        for vid, sclerosant, improvement, satisfaction, effects, n in rows:
            for g in self.groups(vid, sclerosant):
                g.improvement[improvement] += n
                g.satisfaction[satisfaction] += n
                for e in (effects or "").split():
                    g.effects[e] += n

    def add_scores(self, rows: list) -> None:
        for vid, sclerosant, score, n in rows:
            for g in self.groups(vid, sclerosant):
                g.clearance[score] += n


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
    folder.add_sessions(_session_rows(clinic_id, folder.clot))
    in_clinic = sa.and_(
        ProtocolVersion.id == Treatment.protocol_version_id, ProtocolVersion.clinic_id == clinic_id
    )
    group = (Treatment.protocol_version_id, Treatment.sclerosant)
    rating_values = (
        OutcomeRating.improvement,
        OutcomeRating.satisfaction,
        OutcomeRating.side_effects,
    )
    folder.add_ratings(
        db.session.execute(
            sa.select(*group, *rating_values, sa.func.count())
            .join(Treatment, Treatment.id == OutcomeRating.treatment_id)
            .join(ProtocolVersion, in_clinic)
            .group_by(*group, *rating_values)
        ).all()
    )
    folder.add_scores(
        db.session.execute(
            sa.select(*group, ClearanceScore.score, sa.func.count())
            .join(Treatment, Treatment.id == ClearanceScore.treatment_id)
            .join(ProtocolVersion, in_clinic)
            .group_by(*group, ClearanceScore.score)
        ).all()
    )
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
