"""Pooled connections are checked without a pre-ping round trip (app/dbcheck.py), and a
PostgreSQL restart (here: every backend terminated) costs no failed request."""

from __future__ import annotations

import socket
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app import dbcheck
from app.extensions import db
from tests.conftest import is_postgres
from tests.conftest import login

needs_postgres = pytest.mark.skipif(not is_postgres(), reason="needs TEST_DATABASE_URL on PG")


class FakeConnection:
    """A DB-API connection as far as the check sees it: a socket and flags."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False
        self.broken = False

    def fileno(self) -> int:
        return self.sock.fileno()


def test_an_idle_socket_passes_and_one_the_server_closed_does_not():
    ours, server = socket.socketpair()
    try:
        conn = FakeConnection(ours)
        assert not dbcheck.has_news(conn)
        server.close()  # the server ends the connection: the socket reads end-of-file
        assert dbcheck.has_news(conn)
    finally:
        ours.close()


def test_a_connection_marked_closed_or_broken_is_refused():
    ours, server = socket.socketpair()
    try:
        conn = FakeConnection(ours)
        conn.broken = True
        assert dbcheck.has_news(conn)
    finally:
        ours.close()
        server.close()


def test_the_shipped_engine_has_no_pre_ping(app):
    with app.app_context():
        assert db.engine.pool._pre_ping is False
        installed = event.contains(db.engine, "checkout", dbcheck.check_on_checkout)
        assert installed is (db.engine.dialect.name == "postgresql")


def _terminate_the_pools_connections(database_url: str) -> int:
    """What a PostgreSQL restart does to the app's pooled connections."""
    admin = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        admin.dispose()
    time.sleep(0.3)  # the backends' goodbye reaches the sockets
    return ended


@needs_postgres
def test_every_request_succeeds_after_the_servers_connections_end(app, client, world, database_url):
    login(client, "alice@patients.example")
    for _ in range(3):
        assert client.get("/patient/today").status_code == 200  # connections now pooled
    assert _terminate_the_pools_connections(database_url) >= 1
    for _ in range(3):
        assert client.get("/patient/today").status_code == 200


@needs_postgres
def test_without_the_check_the_first_use_after_a_restart_fails(app, database_url):
    """The check is what saves that request: without it (and without a pre-ping) the
    next checkout hands out a dead connection."""
    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))  # one connection now pooled
    event.remove(engine, "checkout", dbcheck.check_on_checkout)
    try:
        _terminate_the_pools_connections(database_url)
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        dbcheck.install(engine)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))  # (the pool was invalidated meanwhile)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        _terminate_the_pools_connections(database_url)
        with engine.connect() as conn:  # with the check: no error at all
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        dbcheck.install(engine)
        engine.dispose()


@needs_postgres
def test_a_connection_killed_after_checkout_gives_the_error_page(app, client, world, database_url):
    """The window no check can close: the server ends the connection after it left the
    pool and before its first statement. That request fails, but with the error page
    and its reference, and the next one succeeds. The page itself asks who is signed in
    again, and did so on the same dead read connection (app/extensions.py reads), so the
    error handler raised too and the server sent a bare "Internal Server Error"."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers
    login(client, "alice@patients.example")
    assert client.get("/patient/today").status_code == 200
    with app.app_context():
        engine = db.engine
    killed: list[int] = []

    def kill_once(dbapi_connection, connection_record, connection_proxy) -> None:  # noqa: ANN001
        if not killed:
            killed.append(_terminate_the_pools_connections(database_url))

    event.listen(engine, "checkout", kill_once)
    try:
        response = client.get("/patient/today")
    finally:
        event.remove(engine, "checkout", kill_once)
    assert killed
    assert response.status_code == 500
    assert "quote reference" in response.get_data(as_text=True)
    assert client.get("/patient/today").status_code == 200


def test_with_the_database_unreachable_the_error_page_still_answers(app, client, world):
    """No connection can be had at all (PostgreSQL down or restarting): the page that
    says so cannot read who is signed in or their language either, and failed in turn,
    leaving the server's bare "Internal Server Error" with no reference to quote."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(client, "alice@patients.example")
    with app.app_context():
        engine = db.engine

    def unreachable(dbapi_connection, connection_record, connection_proxy) -> None:  # noqa: ANN001
        raise sa.exc.OperationalError("connect", {}, Exception("connection refused"))

    event.listen(engine, "checkout", unreachable)
    try:
        response = client.get("/patient/today")
    finally:
        event.remove(engine, "checkout", unreachable)
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "quote reference" in text and "Nothing you did caused this" in text
    assert client.get("/patient/today").status_code == 200
