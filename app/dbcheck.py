"""Pooled PostgreSQL connections checked without a round trip (issue 22 point 2).

SQLAlchemy's ``pool_pre_ping`` sends a query and waits for its answer each time a
connection leaves the pool: one network round trip per request, on pages that need only
one or two statements. Instead, when a connection is checked out, its socket is polled
(one system call, no traffic): an idle connection's socket has nothing to read unless
the server sent something on its own, which for this app means it closed the connection
(a restart, ``pg_terminate_backend``, an idle timeout) and said so. Such a connection is
refused with ``DisconnectionError``, and the pool replaces it before anyone uses it, so a
PostgreSQL restart costs no failed request. ``pool_recycle`` (config.py) bounds how old
a connection may get, for a link that drops without the server saying so (a NAT or
firewall timeout), which neither a poll nor anything short of a round trip can see.
tests/services/test_dbcheck.py terminates the pool's connections on a real PostgreSQL.
"""

from __future__ import annotations

import select

from sqlalchemy import event
from sqlalchemy import exc
from sqlalchemy.engine import Engine


def has_news(dbapi_connection: object) -> bool:
    """Whether an idle connection is closed, or its socket has something to read."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return True
    try:
        fd = dbapi_connection.fileno()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a closed psycopg connection raises on fileno()
        return True
    poll = select.poll()
    poll.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poll.poll(0))


def check_on_checkout(dbapi_connection, connection_record, connection_proxy) -> None:  # noqa: ANN001
    """Refuse a pooled connection the server has closed; the pool tries another."""
    if has_news(dbapi_connection):
        raise exc.DisconnectionError("the server closed this pooled connection")


def install(engine: Engine) -> None:
    """Check PostgreSQL connections at checkout (SQLite is a file: nothing to check)."""
    if engine.dialect.name == "postgresql" and not event.contains(
        engine, "checkout", check_on_checkout
    ):
        event.listen(engine, "checkout", check_on_checkout)
