"""The audit trail: who looked at or changed which patient's data, as a hash chain.

Events are append-only. Each carries ``prev_hash`` (the ``row_hash`` of the event
before it, by id) and ``row_hash`` (SHA-256 of its own content and ``prev_hash``, see
``app.domain.audit_chain``); ``audit_chain_head`` holds the last id, last hash and count,
so removing the newest events is detected too. Only ``app.services.audit`` writes them;
``flask audit verify`` checks them (docs/audit.md).

``actor_id`` and ``patient_id`` are plain ids, not foreign keys: an ``ON DELETE SET
NULL`` would rewrite stored events (breaking their hash, and refused by the PostgreSQL
trigger), and the trail must outlive the account or patient it names.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.dbtypes import UTCDateTime
from app.extensions import db

# The setting that lets maintenance (the test suite emptying its tables) remove audit
# rows on PostgreSQL: `SET LOCAL sclero.audit_maintenance = 'on'`. Only a session that
# can run arbitrary SQL can set it, and such a session could drop the trigger anyway;
# the trigger stops the app's own statements and mistakes, the chain shows the rest.
MAINTENANCE_SETTING = "sclero.audit_maintenance"

# The texts of an erased event: app.domain.audit_chain.ERASED_TEXT, which models may not
# import (tests/test_import_rules.py); tests/services/test_audit_sealed.py checks they match.
ERASED_TEXT = "(erased)"

# Installed by the migration and by create_all (the tests' schema), PostgreSQL only.
APPEND_ONLY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION sclero_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{MAINTENANCE_SETTING}', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    -- Erasure (docs/decisions/account-closure.md): a sealed event may lose its texts and
    -- its salt, and nothing else: the chain still verifies against the stored seal.
    -- (Nested: OLD and NEW are only both rows on a row-level UPDATE.)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' THEN
        IF OLD.seal IS NOT NULL AND OLD.seal_salt IS NOT NULL
            AND NEW.seal_salt IS NULL AND NEW.actor_name = '{ERASED_TEXT}'
            AND NEW.detail = '{ERASED_TEXT}'
            AND (NEW.id, NEW.clinic_id, NEW.actor_id, NEW.patient_id, NEW.action,
                 NEW.address, NEW.created_at, NEW.prev_hash, NEW.row_hash, NEW.seal)
                IS NOT DISTINCT FROM
                (OLD.id, OLD.clinic_id, OLD.actor_id, OLD.patient_id, OLD.action,
                 OLD.address, OLD.created_at, OLD.prev_hash, OLD.row_hash, OLD.seal) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
APPEND_ONLY_TRIGGERS = (
    "CREATE OR REPLACE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION sclero_audit_append_only()",
    "CREATE OR REPLACE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION sclero_audit_append_only()",
    # The head is updated on every append, but never removed.
    "CREATE OR REPLACE TRIGGER audit_chain_head_keep BEFORE DELETE ON audit_chain_head "
    "FOR EACH ROW EXECUTE FUNCTION sclero_audit_append_only()",
    "CREATE OR REPLACE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION sclero_audit_append_only()",
)
DROP_APPEND_ONLY = (
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_chain_head_keep ON audit_chain_head",
    "DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head",
    "DROP FUNCTION IF EXISTS sclero_audit_append_only()",
)


class AuditEvent(db.Model):
    """Who looked at or changed which patient's data, when and from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_clinic_time", "clinic_id", "created_at"),
        # "Who looked at your diary": a patient's latest events, read in order (the
        # dashboard adds one per patient it lists, so a followed patient gathers many).
        sa.Index("ix_audit_events_patient_time", "patient_id", "created_at"),
    )

    # Always given by the appender (the head's last id + 1), never by the sequence, so
    # the chain order is the id order.
    id: Mapped[int] = mapped_column(primary_key=True)
    # None for sign-in events of an email with no account: they belong to no clinic.
    clinic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinics.id"))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(sa.String(120))
    # Indexed with created_at (ix_audit_events_patient_time).
    patient_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str] = mapped_column(sa.String(300), default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    row_hash: Mapped[str] = mapped_column(sa.String(64))
    # The seal over actor_name and detail (app/domain/audit_chain.py), which row_hash
    # covers instead of the texts, and its salt; both None on an event chained before
    # sealing (hashed over its texts, which then cannot be erased). An erased event keeps
    # its seal and loses its salt and texts.
    seal_salt: Mapped[str | None] = mapped_column(sa.String(32))
    seal: Mapped[str | None] = mapped_column(sa.String(64))


class AuditChainHead(db.Model):
    """The chain's one head row (id 1): the newest event's id and hash and the number of
    events, updated in the transaction of every append. Its row lock (PostgreSQL) or the
    write lock (SQLite) serialises appends."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int]
    last_hash: Mapped[str] = mapped_column(sa.String(64))
    count: Mapped[int] = mapped_column(sa.BigInteger)


def _install_triggers(target: sa.Table, connection: sa.Connection, **_kw: object) -> None:
    if connection.dialect.name != "postgresql":
        return
    connection.execute(sa.text(APPEND_ONLY_FUNCTION))
    for statement in APPEND_ONLY_TRIGGERS:
        connection.execute(sa.text(statement))


# create_all makes audit_chain_head after audit_events (alphabetical among unrelated
# tables is not guaranteed), so the triggers go on once both exist: after the metadata.
sa.event.listen(db.metadata, "after_create", _install_triggers)
