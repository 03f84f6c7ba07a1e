"""Sending a day's check-in: store the answers once per day (edits keep the earlier
ones, replays change nothing), triage them, alert the clinic, and store a photo sent
with them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain.checkin import MAX_NOTE
from app.domain.checkin import NOTE_MESSAGE
from app.domain.checkin import OPTIONAL_YES_NO
from app.domain.checkin import AnswerError
from app.domain.checkin import Answers
from app.domain.checkin import Triage
from app.domain.checkin import check_answers
from app.domain.checkin import triage
from app.domain.checkin import unasked_as_none
from app.domain.checkin_early import early_triage
from app.domain.offsets import local_date
from app.domain.protocol.model import AnswerRule
from app.domain.recovery import TodayView
from app.domain.recovery import build_today
from app.extensions import db
from app.i18n import _
from app.models import CheckIn
from app.models import CheckInKey
from app.models import Photo
from app.principal import Principal
from app.services import photos
from app.services.care import followup
from app.services.care.course import protocol_for
from app.services.checkins.alerts import AlertDay
from app.services.checkins.alerts import Answered
from app.services.checkins.alerts import answered
from app.services.checkins.alerts import day_checkin
from app.services.checkins.alerts import raise_alert
from app.services.checkins.alerts import raise_day_alert
from app.services.checkins.form import CheckInForm
from app.services.checkins.form import checkin_form
from app.services.errors import Invalid
from app.services.locking import lock_patient
from app.services.outcomes import facts as outcome_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckInResult:
    """The stored check-in, its triage, and today's view (for reassurance text)."""

    checkin: CheckIn
    triage: Triage
    today: TodayView
    replay: bool
    # The optional photo sent with the check-in: stored, or why not (the check-in stands).
    photo: Photo | None = None
    photo_error: str | None = None
    # A note too long to store, set aside so the answers and their triage still stand
    # (issue 14 point 6); shown back on the result page so nothing typed is lost.
    note_refused: str | None = None


@dataclass(frozen=True)
class AttachedPhoto:
    """A photo sent with the check-in form: its bytes (None if over the size limit,
    so never read) and the site the patient chose for it."""

    data: bytes | None
    side: str | None
    region: str | None
    view: str | None


class AnswersRefused(Invalid):
    """The check-in was refused (answers missing or out of range); a photo sent with it
    was still stored if it could be, so the patient need not choose it again.

    ``errors`` maps every field that needs attention to its message, in form order.
    """

    def __init__(
        self,
        refused: Invalid,
        photo: Photo | None,
        photo_error: str | None,
        errors: dict[str, str] | None = None,
    ):
        super().__init__(refused.field, refused.message)
        self.photo, self.photo_error = photo, photo_error
        self.errors = errors or {refused.field: refused.message}
        # The urgent answers already alerted to the clinic, for the advice shown first.
        self.urgent: Triage | None = getattr(refused, "urgent", None)


class _Refused(Invalid):
    """Every problem with the answers at once (from ``check_answers``), and the triage
    of the answers readable on their own, if it alerted the clinic."""

    def __init__(self, errors: dict[str, str], urgent: Triage | None = None):
        first = next(iter(errors))
        super().__init__(first, errors[first])
        self.errors = errors
        self.urgent = urgent


def _alert_early(
    user: Principal,
    form: CheckInForm,
    raw: dict[str, object],
    rules: tuple[AnswerRule, ...],
    now: datetime,
    closed: bool = False,
) -> Triage | None:
    """Alert the clinic at once for a refused form's urgent answers (a warning sign's
    "yes" with another question left blank), and commit: the advice and the alert must
    not wait for the form to be fixed (issue 19 point 3). Keyed by the treatment day,
    so a double tap or the fixed form sent later joins this alert, never adds one.
    ``closed``: the day's answers can no longer be changed, so the alert is not tied to
    its stored check-in, whose answers do not hold this "yes"."""
    decision = early_triage(raw, form.in_window, rules)
    if not decision.alerts_clinic:
        return None
    t = form.course.recovering
    assert t is not None
    lock_patient(form.course.patient.id)
    stored = day_checkin(t.id, form.day)
    tied = None if closed else stored
    day = AlertDay(form.course.patient.id, user.clinic_id, t.id, form.day, tied, answered(stored))
    raise_day_alert(day, decision, now)
    # A clot sign or skin breakdown alerted here counts on the outcomes page even if no
    # valid form follows (app/domain/outcomes.py:alert_complications).
    outcome_facts.note_checkin(t.id, protocol_for(t))
    db.session.commit()
    return decision


def _alert_closed_day(
    user: Principal, raw: dict[str, object], now: datetime, day: int | None, refused: Invalid
) -> None:
    """A change to a day whose answers can no longer be changed (an edit kept offline
    for days) is refused, but a warning sign in it still reaches the clinic at once and
    the advice still comes first: the refusal must not lose a "yes" (issue 14 point 6).
    The day's stored answers stay as they are; the alert holds the new reasons.

    :raises _Refused: with the day's problem and the urgent triage, if it alerted.
    """
    if day is None or refused.field != "day":
        return
    try:
        form = checkin_form(user, now, day, closed_ok=True)
    except Invalid:
        return  # not a day of this treatment at all: nothing to read
    t = form.course.recovering
    assert t is not None
    raw = unasked_as_none(raw, form.fixed)
    urgent = _alert_early(user, form, raw, protocol_for(t).answer_rules, now, closed=True)
    if urgent is not None:
        raise _Refused({"day": refused.message}, urgent)


def submit_checkin(
    user: Principal,
    raw: dict[str, object],
    client_key: str | None,
    now: datetime,
    day: int | None = None,
    photo: AttachedPhoto | None = None,
) -> CheckInResult:
    """Store a day's check-in (once per day; editing keeps the earlier answers).

    A ``client_key`` seen before (double tap, offline replay, even of a version since
    edited) returns the stored check-in unchanged. Two first submits of the same day that
    race each other end as one check-in: the loser's insert fails on the one-per-day
    constraint and it is stored again, now as a replay or an edit of the winner's.
    Edits from several devices at once are serialised by the patient's lock
    (``lock_patient``), so every answer set confirmed to a device is either the current
    one or in the history. Emergency and same-day answers raise an alert for the clinic
    at once.

    A photo sent with it is stored after the check-in has committed (two commits on
    purpose): the answers and their triage must never wait for, or fail with, a photo.
    A refused photo is reported in the result, not raised.

    :raises AnswersRefused: for an out-of-range answer, naming the field.
    """
    client_key = (client_key or "").strip()[:64] or None
    try:
        try:
            result = _submit(user, raw, client_key, now, day)
        except sa.exc.IntegrityError:
            db.session.rollback()
            result = _submit(user, raw, client_key, now, day)
    except Invalid as exc:
        db.session.rollback()
        saved, error = _attach(user, photo, client_key, now) if photo else (None, None)
        errors = exc.errors if isinstance(exc, _Refused) else None
        raise AnswersRefused(exc, saved, error, errors) from None
    if photo is None:
        return result
    saved, error = _attach(user, photo, client_key, now)
    return replace(result, photo=saved, photo_error=error)


def _attach(
    user: Principal, attached: AttachedPhoto, client_key: str | None, now: datetime
) -> tuple[Photo | None, str | None]:
    """Store a check-in's photo in the photo diary: (photo, None) or (None, why not).

    Keyed on the check-in's key, so a double tap or a replay stores it once.
    """
    if attached.data is None:
        limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        # Said here, in the reader's language: the number cannot be looked up later.
        too_big = _("That photo is larger than %(mb)s MB. Please choose a smaller one.", mb=limit)
        return None, too_big
    key = f"checkin-{client_key[:56]}" if client_key else None
    try:
        site = photos.Site.parse(attached.side, attached.region, attached.view)
        return photos.add_photo(user, attached.data, site, "", key, now), None
    except Invalid as exc:
        return None, exc.message
    except Exception:
        # The check-in is already saved; a failing photo store must not turn its
        # triage advice into an error page.
        db.session.rollback()
        log.exception("photo sent with a check-in could not be stored")
        return None, "The photo could not be saved just now. Please try again later."


def _submit(
    user: Principal,
    raw: dict[str, object],
    client_key: str | None,
    now: datetime,
    day: int | None,
) -> CheckInResult:
    try:
        form = checkin_form(user, now, day)
    except Invalid as exc:
        if client_key and (replay := _by_key(client_key)) is not None:
            return _replayed(replay, checkin_form(user, now), now)
        _alert_closed_day(user, raw, now, day, exc)
        raise
    t = form.course.recovering
    assert t is not None
    protocol = protocol_for(t)
    # An over-long note is the one answer that may be refused on its own: the answers
    # (warning signs above all) are stored and triaged without it, like a refused photo.
    note = str(raw.get("note") or "")
    long_note = note.strip() if len(note.strip()) > MAX_NOTE else None
    if long_note is not None:
        raw = {**raw, "note": ""}
    raw = unasked_as_none(raw, form.fixed)
    try:
        answers = check_answers(
            **raw,  # type: ignore[arg-type]
            asked=form.questions,
            covered=form.covered,
            skin_covers=form.skin_covers,
            skin_choices=form.skin_choices,
        )
    except AnswerError as exc:
        if client_key and (replay := _by_key(client_key)) is not None:
            return _replayed(replay, form, now)  # stored before; the questions changed since
        errors = exc.errors if long_note is None else {**exc.errors, "note": _(NOTE_MESSAGE)}
        raise _Refused(errors, _alert_early(user, form, raw, protocol.answer_rules, now)) from None
    # Which optional questions the page did not ask that day, so they are never shown
    # as skipped ("not answered") to the patient or the clinician.
    not_asked = sorted(set(OPTIONAL_YES_NO) - form.fixed)
    sent = {**answers.as_dict(), "not_asked": not_asked}
    if client_key and (replay := _replay_of(client_key, sent)) is not None:
        return _replayed(replay, form, now)
    decision = triage(answers, form.in_window, protocol.answer_rules)
    # From here to the commit, one writer per patient: another device's edit of this
    # day must not be read before it commits and then overwritten (issue 15 point 3).
    lock_patient(form.course.patient.id)
    known = _by_key(client_key) if client_key else None
    if known is not None and _is_version(known, sent):
        # The same key sent twice at once: the other request stored it first.
        return _replayed(known, form, now)
    # A key seen before with other answers (a page restored with its key, changed and
    # sent again) is an edit, stored and triaged: never "as expected" for answers
    # nobody read. Its key already names a version, so it is not stored again.
    new_key = client_key if known is None else None
    checkin, before = _write_day(user, form, answers, sent, decision, now)
    if new_key:
        db.session.add(CheckInKey(client_key=new_key, checkin_id=checkin.id))
    if decision.alerts_clinic:
        raise_alert(checkin, decision, now, before)
    # The outcomes page's row, from the day's answers and alerts (after the alert).
    outcome_facts.note_checkin(checkin.treatment_id, protocol)
    db.session.commit()
    today = build_today(protocol, t.anchor, form.course.tz, now, set())
    return CheckInResult(checkin, decision, today, False, note_refused=long_note)


def _write_day(
    user: Principal,
    form: CheckInForm,
    answers: Answers,
    sent: dict[str, object],
    decision: Triage,
    now: datetime,
) -> tuple[CheckIn, Answered | None]:
    """The day's check-in with these answers: new, or edited with the earlier answers
    kept in its history (flushed, not committed); and, for an edit, the reasons the
    answers it replaced gave and when they were sent."""
    t = form.course.recovering
    assert t is not None
    checkin = day_checkin(t.id, form.day)
    if checkin is None:
        checkin = CheckIn(
            patient_id=form.course.patient.id,
            clinic_id=user.clinic_id,
            treatment_id=t.id,
            day=form.day,
            on_date=local_date(t.anchor, form.course.tz) + timedelta(days=form.day),
            history=[],
            created_at=now,
        )
        db.session.add(checkin)
        before = None
    else:
        before = answered(checkin)
        checkin.history = [
            *checkin.history,
            {"at": checkin.updated_at.isoformat(), "answers": checkin.answers},
        ]
        checkin.reviewed_at = None  # changed answers need a fresh look
    checkin.answers = sent
    checkin.pain, checkin.bruising, checkin.note = answers.pain, answers.bruising, answers.note
    checkin.level, checkin.reasons = decision.level, list(decision.reasons)
    checkin.updated_at = now
    db.session.flush()
    followup.note_checkin(checkin.patient_id, now)
    return checkin, before


def _replayed(replay: CheckIn, form: CheckInForm, now: datetime) -> CheckInResult:
    """A key seen before: the check-in stored with it, unchanged, with its triage."""
    if replay.patient_id != form.course.patient.id:
        raise Invalid("day", _("Please reload the page and send your check-in again."))
    t = form.course.recovering
    assert t is not None
    stored = Triage(replay.level, tuple(replay.reasons))  # type: ignore[arg-type]
    today = build_today(protocol_for(t), t.anchor, form.course.tz, now, set())
    db.session.commit()  # nothing written; ends the transaction (and any lock) early
    return CheckInResult(replay, stored, today, True)


def _replay_of(client_key: str, sent: dict[str, object]) -> CheckIn | None:
    """The check-in stored with this key if ``sent`` is one of its versions (the answers
    now or in its history): a double tap or a replay. Other answers under a known key
    are not a replay, whatever the key says."""
    replay = _by_key(client_key)
    return replay if replay is not None and _is_version(replay, sent) else None


def _is_version(checkin: CheckIn, sent: dict[str, object]) -> bool:
    """Whether ``sent`` are the check-in's answers now or in its history."""
    versions = [checkin.answers, *(entry.get("answers") for entry in checkin.history or [])]
    same = _canonical(sent)
    return any(_canonical(v) == same for v in versions)


def _canonical(answers: object) -> str:
    # As stored (JSON): sets and tuples become sorted lists, keys sorted.
    def plain(value: object) -> object:
        if isinstance(value, frozenset | set):
            return sorted(value)
        if isinstance(value, tuple):
            return list(value)
        raise TypeError(type(value).__name__)

    return json.dumps(answers, sort_keys=True, default=plain)


def _by_key(client_key: str) -> CheckIn | None:
    """The check-in stored with this client key, read afresh."""
    return db.session.scalar(
        sa.select(CheckIn)
        .join(CheckInKey)
        .where(CheckInKey.client_key == client_key)
        .execution_options(populate_existing=True)
    )
