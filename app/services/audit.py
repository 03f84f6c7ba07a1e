"""The audit trail's writers: views of a patient's data, changes, and refused attempts.

Shared by every clinician use-case (review, photos, clinic), so each records the same
who, which patient, what, when and from where.

Every event joins one hash chain (``app.domain.audit_chain``, docs/audit.md) through
``_chain``: it moves the one head row first (``UPDATE ... RETURNING``: the row lock on
PostgreSQL, the write lock on SQLite, both held to commit), so appends from many
workers are serialised and each event's id and ``prev_hash`` follow the one before.

The writers here queue their events on the session; they are appended when the session
commits (``before_commit``), in one executemany insert. So the head is the last lock a
transaction takes and is held only while it commits: a use-case that audits and then
locks a patient or a clinic cannot deadlock with one that does it the other way round.
An ``AuditEvent`` added to the session directly (a few command-line use-cases do) is
chained when it is flushed (``before_flush``). Queued events go with a rollback, as an
added row would.

Patients are named by id, never by name or email: a patient acting is stored as
``patient #<id>`` (``actor_label``) and the audit page looks names up when it shows
them. Every event is sealed (``app.domain.audit_chain.seal``): when ``flask retention
run`` erases a record, ``erase_texts`` blanks the texts of the events that could name
the patient (older ones may, written before this rule) and the chain still verifies
(docs/decisions/account-closure.md).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import now
from app.domain.audit_chain import CONTENT_FIELDS
from app.domain.audit_chain import ERASED_TEXT
from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import seal
from app.domain.audit_chain import sealed_row_hash
from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.models import User
from app.models.audit import AuditChainHead
from app.models.user import Role
from app.principal import Principal
from app.services.errors import NotFound

_PENDING = "sclero_audit_pending"
_EVENTS = AuditEvent.__table__
_HEAD = AuditChainHead.__table__
# Column sizes: longer text is cut, as before, rather than failing the use-case.
# NUL, and any surrogate code point (in a Python str one is always unpaired).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SIZES = {"actor_name": 120, "action": 40, "detail": 300, "address": 64}


def audit(
    actor: Principal, patient_id: int | None, action: str, address: str, detail: str = ""
) -> None:
    """Add an audit event (committed with the caller's transaction)."""
    _queue(
        [
            _event(
                clinic_id=actor.clinic_id,
                actor_id=actor.id,
                actor_name=_actor_name(actor),
                patient_id=patient_id,
                action=action,
                detail=detail,
                address=address,
            )
        ]
    )


def system_event(
    clinic_id: int, patient_id: int | None, action: str, detail: str, name: str
) -> None:
    """An event done by the app itself, not a signed-in person (``flask retention run``
    erasing a record): no actor id, ``name`` says what did it, ``address`` "cli"."""
    _queue(
        [
            _event(
                clinic_id=clinic_id,
                actor_id=None,
                actor_name=name,
                patient_id=patient_id,
                action=action,
                detail=detail,
                address="cli",
            )
        ]
    )


def actor_label(role: Role | None, name: str, patient_id: int | None) -> str:
    """What an event stores as its actor's name: a member of staff's name, but a patient
    only by id (``patient #12``), so no event names a patient whose record is later
    erased; the audit page shows the name while the record exists."""
    if role != Role.PATIENT:
        return name
    return f"patient #{patient_id}" if patient_id is not None else "patient"


def _actor_name(actor: Principal) -> str:
    # getattr: a few use-cases and tests pass a plain stand-in with id, clinic and name.
    role = getattr(actor, "role", None)
    patient = getattr(actor, "patient", None)
    return actor_label(role, actor.name, patient.id if patient is not None else None)


def audit_views(actor: Principal, patient_ids: list[int], address: str, detail: str) -> None:
    """A "view" audit event for each of ``patient_ids``, in one executemany insert."""
    if not patient_ids:
        return
    # Read the actor once: current_user is a proxy, and a page lists up to 80 patients.
    event = _event(
        clinic_id=actor.clinic_id,
        actor_id=actor.id,
        actor_name=_actor_name(actor),
        patient_id=None,
        action="view",
        detail=detail,
        address=address,
    )
    _queue([{**event, "patient_id": pid} for pid in patient_ids])


def own_patient(actor: Principal, patient_id: int, address: str, action: str) -> Patient:
    """A patient of the actor's clinic; anything else is audited and "not found"."""
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"{action} patient #{patient_id}", "No such patient.")
    return patient


def refuse(actor: Principal, address: str, what: str, message: str) -> NotFound:
    """Audit a refused attempt on another clinic's (or no) object, committed at once so
    the 404 that follows does not roll it back. :returns: the NotFound to raise."""
    audit(actor, None, "refused", address, what)
    db.session.commit()
    return NotFound(message)


def security_event(
    action: str,
    address: str,
    detail: str = "",
    *,
    clinic_id: int | None = None,
    user_id: int | None = None,
    name: str = "",
) -> None:
    """An authentication event (failed sign-in, lockout, second-factor failure), added
    to the caller's transaction. ``clinic_id`` and ``user_id`` are None when the email
    has no account: such events are kept without a clinic.
    """
    if user_id is not None:
        found = db.session.execute(
            sa.select(User.role, Patient.id)
            .outerjoin(Patient, Patient.user_id == User.id)
            .where(User.id == int(user_id))  # may come as text, as in _event
        ).first()
        if found is not None:
            name = actor_label(found[0], name, found[1])
    _queue(
        [
            _event(
                clinic_id=clinic_id,
                actor_id=user_id,
                actor_name=name or "(sign-in)",
                patient_id=None,
                action=action,
                detail=detail,
                address=address,
            )
        ]
    )


# ------------------------------------------------------------------ the one appender


def _event(**fields: Any) -> dict[str, Any]:
    """An event's content, cut to its columns, stamped with the one clock."""
    for name, size in _SIZES.items():
        fields[name] = _storable(str(fields[name] or ""))[:size]
    # The hash encodes ids as JSON numbers: an id handed over as "5" must not fail the
    # commit, nor hash differently from the 5 the column gives back.
    for name in ("clinic_id", "actor_id", "patient_id"):
        if fields[name] is not None:
            fields[name] = int(fields[name])
    fields["created_at"] = now()
    return fields


def _storable(text: str) -> str:
    """``text`` as both databases can store it, hashed as it will be read back.

    PostgreSQL refuses NUL in text and neither database takes a lone surrogate (from
    a JSON "\\ud800"); either would fail the commit, losing the use-case and its event.
    Replaced by U+FFFD before hashing, so the stored text and its hash agree.
    """
    return _UNSTORABLE.sub("\ufffd", text)


def _queue(events: list[dict[str, Any]]) -> None:
    session = db.session()  # this context's Session, behind the scoped proxy
    if not session.in_transaction():
        # Begin (no database I/O yet) so that a rollback before any query still ends a
        # transaction, and drops the queue (_drop_queued).
        session.begin()
    session.info.setdefault(_PENDING, []).extend(events)


def append(connection: sa.Connection, events: list[dict[str, Any]]) -> None:
    """Append ``events`` (content fields, no id or hashes) to the chain, in this order,
    in one executemany insert, in the connection's transaction."""
    if events:
        connection.execute(_EVENTS.insert(), _chain(connection, events))


def _chain(connection: sa.Connection, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lock the head, give each event its id, ``prev_hash`` and ``row_hash``, and move
    the head past them. :returns: the events, completed, in chain order."""
    last_id, last_hash = _take_head(connection, len(events))
    chained = []
    for event in events:
        last_id += 1
        row = {**{name: event[name] for name in CONTENT_FIELDS if name != "id"}, "id": last_id}
        row["seal_salt"] = salt = secrets.token_hex(16)
        row["seal"] = seal(salt, row["actor_name"], row["detail"])
        row["prev_hash"] = last_hash
        row["row_hash"] = last_hash = sealed_row_hash(row, last_hash)
        chained.append(row)
    connection.execute(
        _HEAD.update().where(_HEAD.c.id == 1).values(last_id=last_id, last_hash=last_hash)
    )
    return chained


def erase_texts(patient_id: int, user_id: int | None) -> int:
    """Blank the texts (actor name and detail) of every event that could name the
    patient, keeping their seals so the chain still verifies; in the caller's transaction.

    Which events: those the patient did (their name was the actor's, before
    ``actor_label``), and those about them whose detail may hold their name, email or
    phone number: details changes, invitations emailed, and any mentioning the name,
    the phone number or an email address (written before details were kept out).
    Events of other patients and of staff are left as they are.

    :returns: how many events were blanked.
    """
    owner = db.session.execute(
        sa.select(User.name, Patient.phone)
        .join(Patient, Patient.user_id == User.id)
        .where(Patient.id == patient_id)
    ).first()
    words = [w.casefold() for w in (owner or ()) if w and len(w.strip()) >= 3]
    about = _EVENTS.c.patient_id == patient_id
    if user_id is not None:
        about = sa.or_(about, _EVENTS.c.actor_id == user_id)
    rows = db.session.execute(
        sa.select(_EVENTS.c.id, _EVENTS.c.actor_id, _EVENTS.c.action, _EVENTS.c.detail)
        .where(about, _EVENTS.c.seal_salt.is_not(None))
        .order_by(_EVENTS.c.id)
    ).all()
    doomed = [
        row.id
        for row in rows
        if (user_id is not None and row.actor_id == user_id) or _may_name(row, words)
    ]
    for start in range(0, len(doomed), 500):
        db.session.execute(
            _EVENTS.update()
            .where(_EVENTS.c.id.in_(doomed[start : start + 500]))
            .values(actor_name=ERASED_TEXT, detail=ERASED_TEXT, seal_salt=None)
        )
    return len(doomed)


# The details-change labels (app/services/clinic/lifecycle.py) whose values identify.
_IDENTIFYING_CHANGES = ("name", "email", "phone number")


def _may_name(row: sa.Row, words: list[str]) -> bool:
    detail = (row.detail or "").casefold()
    if row.action == "invitation emailed" or "@" in detail:
        return True
    if row.action == "change" and detail.startswith(tuple(f"{k}:" for k in _IDENTIFYING_CHANGES)):
        return True
    return any(word in detail for word in words)


def _take_head(connection: sa.Connection, count: int) -> tuple[int, str]:
    """Lock the head row by updating it first, and read the chain's end under the lock.

    An UPDATE, not SELECT ... FOR UPDATE, because SQLite has no FOR UPDATE: there the
    UPDATE takes the database's write lock, which is what serialises the appenders.
    """
    take = (
        _HEAD.update()
        .where(_HEAD.c.id == 1)
        .values(count=_HEAD.c.count + count)
        .returning(_HEAD.c.last_id, _HEAD.c.last_hash)
    )
    row = connection.execute(take).first()
    if row is None:
        # No head yet (a schema made by create_all, or tables emptied by the tests). A
        # head lost with events still stored is not repaired here: the new events then
        # start from GENESIS, and `flask audit verify` reports the break.
        connection.execute(
            sa.text(
                "INSERT INTO audit_chain_head (id, last_id, last_hash, count) "
                "VALUES (1, 0, :genesis, 0) ON CONFLICT (id) DO NOTHING"
            ),
            {"genesis": GENESIS},
        )
        row = connection.execute(take).one()
    return row.last_id, row.last_hash


@sa.event.listens_for(db.session, "before_commit")
def _append_queued(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint's release, not the commit: a flush failing in it would roll back
        # the appended events with the savepoint, after they left the queue.
        return
    events = session.info.pop(_PENDING, None)
    if events:
        append(session.connection(), events)


@sa.event.listens_for(db.session, "after_soft_rollback")
def _drop_queued(session: Session, previous_transaction: Any) -> None:
    # Only the outer transaction's rollback: a savepoint rolled back inside a use-case
    # (a unique key race retried) must not lose the events queued before it.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@sa.event.listens_for(db.session, "before_flush")
def _chain_added_events(session: Session, _context: Any, _instances: Any) -> None:
    """Chain ``AuditEvent`` objects added to the session directly; refuse changes to
    stored ones (SQLite has no trigger to do it)."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError(f"audit event #{obj.id} is append-only: it cannot change")
    added = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not added:
        return
    # session.new is unordered: keep the order they were added in.
    added.sort(key=lambda obj: sa.inspect(obj).insert_order)
    events = [
        _event(**{name: getattr(obj, name) for name in CONTENT_FIELDS if name != "id"})
        | {"created_at": obj.created_at or now()}
        for obj in added
    ]
    _label_patients(session.connection(), events)
    for obj, row in zip(added, _chain(session.connection(), events), strict=True):
        for name, value in row.items():
            setattr(obj, name, value)


def _label_patients(connection: sa.Connection, events: list[dict[str, Any]]) -> None:
    """Name a patient acting by id in events added as objects (a password reset): read
    on the flush's connection, since a session query here would flush again."""
    ids = {e["actor_id"] for e in events if e["actor_id"] is not None}  # ints: _event
    if not ids:
        return
    found = connection.execute(
        sa.select(User.id, User.role, Patient.id.label("patient_id"))
        .outerjoin(Patient, Patient.user_id == User.id)
        .where(User.id.in_(ids))
    ).all()
    roles = {row.id: (row.role, row.patient_id) for row in found}
    for event in events:
        if event["actor_id"] in roles:
            role, patient_id = roles[event["actor_id"]]
            event["actor_name"] = actor_label(role, event["actor_name"], patient_id)
