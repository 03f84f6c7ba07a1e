"""Recording what was done in a session: the treatment's time, the sclerosant and how
it was given, the clinic's own tasks confirmed; a correction keeps the values it
replaced in the audit (split from ``sessions``, which books, moves and cancels).

Every session is reached through the clinician's own clinic, so another clinic's
session is simply "not found" (404), never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.domain.protocol import ChecklistItem
from app.domain.protocol import Protocol
from app.domain.recovery.resolved_plan import carried_over
from app.extensions import db
from app.i18n import _
from app.i18n import local
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services.audit import audit
from app.services.care import followup
from app.services.clinic.checks import TREATED_FUTURE
from app.services.clinic.checks import TREATED_PAST
from app.services.clinic.checks import check_window
from app.services.clinic.checks import to_utc
from app.services.clinic.sessions import FORMS
from app.services.clinic.sessions import Saved
from app.services.clinic.sessions import in_care
from app.services.clinic.sessions import local_time
from app.services.clinic.sessions import locked
from app.services.clinic.sessions import treatment_for
from app.services.errors import Invalid
from app.services.notify import enqueue
from app.services.outcomes import tallies
from app.services.protocols import protocol_by_version


class RecordedMeanwhile(Invalid):
    """The session was recorded, with other details, after the form's page opened; the
    page shows the stored record again, and the entry refused in the message."""


@dataclass(frozen=True)
class TreatmentRecord:
    """What was done in a session, as the clinician enters it."""

    treated_local: datetime
    sclerosant: str
    form: str
    concentration: str
    areas: str
    compression: str
    # The clinician ticked "done before this treatment" for the clinic's own tasks.
    checks_confirmed: bool = False


def clinic_tasks(treatment: Treatment) -> tuple[ChecklistItem, ...]:
    """The clinic's own checklist items (by = "clinic") of a session's protocol."""
    protocol = protocol_by_version(treatment.protocol_version_id, treatment.protocol_version.sha256)
    return tuple(item for item in protocol.checklist if item.by == "clinic")


def record_treatment(
    clinician: Principal,
    treatment_id: int,
    record: TreatmentRecord,
    now: datetime,
    address: str,
    seen_recorded: bool | None = None,
) -> Saved:
    """Record that a booked session happened; aftercare day 0 starts from it. The note
    names what of an earlier session's aftercare leaves Today (``earlier_aftercare_note``).

    Recording again corrects the details (same row), so a double submit is harmless.
    ``seen_recorded`` is whether the form's page showed the session recorded already
    (None from a page or script without the field: as before). A page that opened it
    unrecorded, sent after a colleague recorded it with other details, is refused with
    what was stored, so nobody believes their own time is the plan's day 0 unaware
    (adversarial review, 2026-12-07: eight records at once all said "recorded").
    When the protocol has clinic tasks (a duplex scan, the consultation), the clinician
    must confirm they were done; the first confirmation (which tasks, who, when) is kept
    on the treatment and audited (issue 14 point 10).
    """
    treatment = locked(treatment_for(clinician, treatment_id, address, "record"))
    if treatment.status == TreatmentStatus.CANCELLED:
        raise Invalid("status", "This appointment was cancelled. Book a new session instead.")
    if treatment.status != TreatmentStatus.DONE:  # a correction starts no aftercare
        in_care(treatment.patient, "status", "recording a treatment")
    if record.form not in FORMS:
        raise Invalid("form", "Choose liquid or foam.")
    tasks = clinic_tasks(treatment)
    if tasks and not record.checks_confirmed:
        names = "; ".join(item.title for item in tasks)
        raise Invalid(
            "checks_done",
            f"Confirm that these were done before recording the treatment: {names}.",
        )
    tz = ZoneInfo(treatment.patient.timezone)
    treated = to_utc(record.treated_local, tz, "treated_at")
    check_window(treated, now, TREATED_PAST, TREATED_FUTURE, "treated_at")
    if seen_recorded is False and treatment.status == TreatmentStatus.DONE:
        if _same_record(treatment, record, treated):
            db.session.commit()  # a double submit: recorded once; releases the lock
            return Saved(treatment)
        raise RecordedMeanwhile(
            "status",
            f"Someone recorded this session while this page was open, with other details."
            f" The form now shows what was recorded (treated"
            f" {local_time(_treated(treatment), tz.key)}). Yours was not saved: treated"
            f" {local_time(treated, tz.key)}, {record.sclerosant.strip()},"
            f" {record.form}, {record.areas.strip()}. To change the record, edit the form"
            " and save.",
        )
    # The clinic's outcome totals (app/services/outcomes/tallies.py): a session counts
    # once done, in its sclerosant's group, so a record or a correction moves it.
    before = tallies.state(treatment.id)
    _audit_record(clinician, treatment, record, treated, address)
    treatment.treated_at = treated
    treatment.status = TreatmentStatus.DONE
    treatment.sclerosant = record.sclerosant.strip()
    treatment.form = record.form
    treatment.concentration = record.concentration.strip()
    treatment.areas = record.areas.strip()
    treatment.compression = record.compression.strip()
    if tasks and treatment.checks_confirmed_at is None:
        keys = " ".join(item.key for item in tasks)
        treatment.checks_confirmed = keys
        treatment.checks_confirmed_at, treatment.checks_confirmed_by_id = now, clinician.id
        audit(
            clinician,
            treatment.patient_id,
            "confirm",
            address,
            f"clinic tasks done before session #{treatment.id}: {keys}",
        )
    followup.note_treatment(treatment)
    tallies.apply(before, tallies.state(treatment.id))
    enqueue.replan_patient(treatment.patient.id, now)
    db.session.commit()
    note = earlier_aftercare_note(treatment)
    return Saved(treatment, (note,) if note else ())


def earlier_aftercare_note(treatment: Treatment) -> str | None:
    """For the clinician who just recorded ``treatment``: what of the patient's earlier
    sessions' aftercare was still running then, or None.

    Read after the record; a clinician who recorded a session inside another's
    aftercare (the booking warned of the interval) is told what still runs, which the
    patient's Today shows under the earlier session until it ends (``carried_over``),
    so they can tell the patient too. Said only of the latest recorded session, and
    not of an item the new session's own plan runs as long or longer.
    """
    done = list(
        db.session.scalars(
            sa.select(Treatment)
            .where(
                Treatment.patient_id == treatment.patient_id,
                Treatment.status == TreatmentStatus.DONE,
                Treatment.treated_at.is_not(None),
            )
            .order_by(Treatment.treated_at.desc(), Treatment.id.desc())
        )
    )
    if len(done) < 2 or done[0].id != treatment.id:
        return None
    tz, at = ZoneInfo(treatment.patient.timezone), _treated(treatment)
    running = carried_over(
        [(_protocol(t), _treated(t)) for t in done[1:]], (_protocol(treatment), at), tz, at
    )
    if not running:
        return None
    items = "; ".join(_until(title, end, tz) for title, end in running[:6])
    if len(running) > 6:
        items += "; " + _("and %(num)s more", num=len(running) - 6)
    return _(
        "From earlier sessions, these were still running: %(items)s. The patient's Today"
        " page shows them under their session until they end; tell the patient what"
        " still applies.",
        items=items,
    )


def _until(title: str, end: datetime, tz: ZoneInfo) -> str:
    """ "Waxing your legs until the end of Tue 15 Dec" for an end at local midnight, as
    the patient's Today says it ("until Wed 16 Dec 00:00" read aloud gives a day more);
    else with its time."""
    if end.astimezone(tz).time() == time(0, 0):
        day = local(end - timedelta(minutes=1), tz.key, "%a %-d %b")
        return _("%(what)s until the end of %(day)s", what=title, day=day)
    return _("%(what)s until %(day)s", what=title, day=local(end, tz.key, "%a %-d %b %H:%M"))


def _protocol(treatment: Treatment) -> Protocol:
    version = treatment.protocol_version
    return protocol_by_version(version.id, version.sha256)


def _treated(treatment: Treatment) -> datetime:
    """A recorded session's time (aware UTC: ``UTCDateTime`` loads every backend so)."""
    assert treatment.treated_at is not None  # a recorded session has its time
    return treatment.treated_at


def _same_record(treatment: Treatment, record: TreatmentRecord, treated: datetime) -> bool:
    """Whether a recorded session already holds exactly these details."""
    return (
        _treated(treatment) == treated
        and treatment.sclerosant == record.sclerosant.strip()
        and treatment.form == record.form
        and treatment.concentration == record.concentration.strip()
        and treatment.areas == record.areas.strip()
        and treatment.compression == record.compression.strip()
    )


# What the audit trail calls each recorded detail. Names only, never the values: the
# areas and notes are clinical free text, which the audit trail does not hold.
_RECORD_FIELDS = {
    "sclerosant": "sclerosant",
    "form": "form",
    "concentration": "concentration",
    "areas": "areas treated",
    "compression": "compression",
}


def _audit_record(
    clinician: Principal,
    treatment: Treatment,
    record: TreatmentRecord,
    treated: datetime,
    address: str,
) -> None:
    """Audit recording a session, or correcting one already recorded: which details
    changed (by name), and the treatment time before and after."""
    tz = treatment.patient.timezone
    when = local_time(treated, tz)
    if treatment.status != TreatmentStatus.DONE or treatment.treated_at is None:
        audit(
            clinician,
            treatment.patient_id,
            "record treatment",
            address,
            f"session #{treatment.id} treated {when}",
        )
        return
    changed = [
        words
        for name, words in _RECORD_FIELDS.items()
        if (getattr(treatment, name) or "") != getattr(record, name).strip()
    ]
    before = local_time(treatment.treated_at, tz)
    if before != when:
        changed.insert(0, f"treated time {before} -> {when}")
    audit(
        clinician,
        treatment.patient_id,
        "correct treatment",
        address,
        f"session #{treatment.id}: " + ("; ".join(changed) or "saved again, nothing changed"),
    )
