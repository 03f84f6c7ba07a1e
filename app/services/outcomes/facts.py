"""Each done session's complications and stocking answers, as one short row
(``SessionFacts``): the one place they are worked out from the check-ins. The patient
page reads the row; the clinic's running totals add it (app/services/outcomes/tallies.py).
Ratings and scores are not copied here: they have their own rows.

The check-in service calls ``note_checkin`` after storing a check-in or raising an alert
from a refused form (under the patient's lock, in its transaction), which also moves the
clinic's totals by the difference; a session's alerts count as its check-ins do for a
suspected DVT or PE (app/domain/outcomes.py:alert_complications). ``backfill``
recomputes every row and the totals, for loaders that bypass the services (benchmarks).
Both apply app/domain/outcomes.py:complications, the one
definition of each kind. The migration that adds the table has its own copy over
explicit columns (models follow the newest schema, a migration must not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.domain import outcomes as rules
from app.domain.protocol.model import Protocol
from app.domain.protocol.parse import parse_protocol
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import ProtocolVersion
from app.models import SessionFacts
from app.models import Treatment
from app.services.outcomes import tallies

CHUNK = 5_000


@dataclass(frozen=True)
class Clot:
    """A protocol's DVT or PE warning signs: by key (check-in answers) and by title
    (alert reasons)."""

    keys: frozenset[str] = frozenset()
    titles: frozenset[str] = frozenset()

    @classmethod
    def of(cls, protocol: Protocol) -> Clot:
        return cls(
            frozenset(rules.clot_flag_keys(protocol)), frozenset(rules.clot_flag_titles(protocol))
        )


def facts_of(
    treatment_id: int,
    checkins: Iterable[tuple[int, dict[str, Any]]],
    clot: Clot,
    alerts: Iterable[object] = (),
) -> dict[str, Any]:
    """A session's row from its check-ins' (day, answers) and its alerts' reasons."""
    row: dict[str, Any] = dict.fromkeys(rules.COMPLICATIONS, False)
    row |= {"treatment_id": treatment_id, "day_yes": 0, "day_no": 0, "night_yes": 0, "night_no": 0}
    for reasons in alerts:
        for kind in rules.alert_complications(reasons, set(clot.titles)):
            row[kind] = True
    for day, answers in checkins:
        for kind in rules.complications(answers or {}, day, set(clot.keys)):
            row[kind] = True
        for key, short in (("stockings_day", "day"), ("stockings_night", "night")):
            value = (answers or {}).get(key)
            if value is True:
                row[f"{short}_yes"] += 1
            elif value is False:
                row[f"{short}_no"] += 1
    return row


def _row(treatment_id: int) -> SessionFacts:
    """The session's row, made (with nothing found yet) if it has none."""
    found = db.session.get(SessionFacts, treatment_id)
    if found is None:
        found = SessionFacts(**facts_of(treatment_id, [], Clot()))
        db.session.add(found)
    return found


def note_checkin(treatment_id: int, protocol: Protocol) -> None:
    """Recompute one session's row from its check-ins (a session has a few dozen) and
    its alerts; call it after the check-in or alert is added (flushed or not)."""
    rows = db.session.execute(
        sa.select(CheckIn.day, CheckIn.answers).where(CheckIn.treatment_id == treatment_id)
    ).all()
    alerts = db.session.scalars(sa.select(Alert.reasons).where(Alert.treatment_id == treatment_id))
    values = facts_of(treatment_id, rows, Clot.of(protocol), list(alerts))
    with tallies.tracked(treatment_id):
        found = _row(treatment_id)
        for key, value in values.items():
            setattr(found, key, value)


def backfill(connection: sa.Connection) -> int:
    """Recompute every session's row from all check-ins and alerts, then every clinic's
    totals; :returns: session rows written."""
    clot: dict[int, Clot] = {}
    for vid, text in connection.execute(sa.select(ProtocolVersion.id, ProtocolVersion.source_text)):
        clot[vid] = Clot.of(parse_protocol(text, f"version {vid}", stored=True))
    version_of = dict(
        connection.execute(sa.select(Treatment.id, Treatment.protocol_version_id)).all()
    )
    alerts: dict[int, list[object]] = {}
    for tid, reasons in connection.execute(
        sa.select(Alert.treatment_id, Alert.reasons).where(Alert.treatment_id.is_not(None))
    ):
        alerts.setdefault(tid, []).append(reasons)

    def row(tid: int, days: list) -> dict[str, Any]:
        return facts_of(tid, days, clot.get(version_of.get(tid, 0), Clot()), alerts.pop(tid, ()))

    connection.execute(sa.delete(SessionFacts.__table__))
    stream = connection.execute(
        sa.select(CheckIn.treatment_id, CheckIn.day, CheckIn.answers)
        .order_by(CheckIn.treatment_id)
        .execution_options(yield_per=CHUNK)
    )
    batch: list[dict[str, Any]] = []
    written, current, days = 0, None, []
    for tid, day, answers in stream:
        if tid != current and current is not None:
            batch.append(row(current, days))
            days = []
        current = tid
        days.append((day, answers))
        if len(batch) >= CHUNK:
            connection.execute(sa.insert(SessionFacts.__table__), batch)
            written, batch = written + len(batch), []
    if current is not None:
        batch.append(row(current, days))
    # Sessions with alerts and no check-in (a refused form never sent again).
    batch += [row(tid, []) for tid in sorted(alerts) if tid in version_of]
    for i in range(0, len(batch), CHUNK):
        connection.execute(sa.insert(SessionFacts.__table__), batch[i : i + CHUNK])
    written += len(batch)
    tallies.rebuild(connection)
    return written
