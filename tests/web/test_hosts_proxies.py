"""Hosts and proxies (issue 18 point 7; checklist D10, G6): a request for a host the
clinic does not serve gets 400; links are built from SCLERO_BASE_URL even when a foreign
Host is let through; behind N proxies the audit trail and the per-address limits see
the client's address, which a spoofed X-Forwarded-For cannot choose."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.clock import advancing
from app.extensions import db
from app.models import AuditEvent
from app.models import OutboxMessage
from app.services.notify import dispatch
from app.web import public_url
from config import TestingConfig
from tests.conftest import login
from tests.services.test_production_config import BASE
from tests.services.test_production_config import _no_flask_env  # noqa: F401 - autouse
from tests.services.test_production_config import dispose
from tests.services.test_production_config import production_app
from tests.smtp_double import links_in
from tests.web.test_review17c_reset import NoPush

PROXY = {"REMOTE_ADDR": "127.0.0.1"}  # nginx on the same machine


@pytest.fixture
def prod(monkeypatch, database_url, _schema):
    app = production_app(monkeypatch, database_url)
    yield app
    dispose(app)


def test_production_answers_only_its_own_host(prod):
    browser = prod.test_client()
    assert browser.get("/login", base_url=BASE).status_code == 200
    assert browser.get("/login", base_url="https://care.clinic.example:443").status_code == 200
    for host in ("https://evil.example", "https://care.clinic.example.evil.example"):
        refused = browser.get("/login", base_url=host)
        assert refused.status_code == 400, host
        assert "Something in that request was not right" in refused.text


def test_listed_hosts_replace_the_base_url_host(app):
    listed = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        SCLERO_TRUSTED_HOSTS="care.clinic.example, staff.clinic.example",
    )
    try:
        browser = listed.test_client()
        assert browser.get("/login", base_url="http://staff.clinic.example").status_code == 200
        assert browser.get("/login", base_url="http://evil.example").status_code == 400
    finally:
        dispose(listed)


def test_links_use_the_base_url_even_for_a_foreign_host(
    app, client, world, in_app, clock, smtp_server
):
    # Testing lets any host through, so this is what a mistaken TRUSTED_HOSTS would allow.
    assert app.config["TRUSTED_HOSTS"] is None
    evil = "http://evil.example"
    page = client.post("/forgot-password", data={"email": "alice@patients.example"}, base_url=evil)
    assert page.status_code == 200
    in_app(dispatch.run_until_empty, NoPush(), advancing(clock()))
    links = links_in(smtp_server.to("alice@patients.example")[-1])
    assert any(link.startswith("http://localhost/reset/") for link in links), links
    assert not any("evil.example" in link for link in links)
    with app.test_request_context("/", base_url=evil):
        assert public_url("auth.accept_invite", token="t") == "http://localhost/invite/t"


def _proxied_app(database_url: str, count: int, clock, **extra):
    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        SCLERO_NOW=clock,
        SCLERO_PROXY_COUNT=count,
        **extra,
    )


def _audited_address(in_app, patient_id: int) -> str:
    return in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.address)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id.desc())
        ).first()
    )


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        # No proxy: the header is anyone's to write, and is ignored.
        (0, "1.2.3.4", "127.0.0.1"),
        # One proxy: the client wrote "1.2.3.4", nginx appended who it really was.
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        (1, "203.0.113.9", "203.0.113.9"),
        # Two proxies (a load balancer, then nginx): the second from the right.
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    ],
)
def test_the_audit_trail_holds_the_clients_address(
    database_url, world, in_app, clock, count, forwarded, expected
):
    proxied = _proxied_app(database_url, count, clock)
    try:
        browser = proxied.test_client()
        login(browser, "doc1@north.example")
        page = browser.get(
            f"/clinic/patients/{world.patient_a}",
            headers={"X-Forwarded-For": forwarded},
            environ_base=PROXY,
        )
        assert page.status_code == 200
    finally:
        dispose(proxied)
    assert _audited_address(in_app, world.patient_a) == expected


def test_a_forwarded_host_is_never_believed(monkeypatch, database_url, _schema):
    # x_host=0: the host comes from the base URL and the checked Host header, so a
    # client cannot smuggle another host past TRUSTED_HOSTS through the proxy.
    proxied = production_app(monkeypatch, database_url, SCLERO_PROXY_COUNT=1)
    try:
        browser = proxied.test_client()
        page = browser.get(
            "/login",
            base_url=BASE,
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example"},
            environ_base=PROXY,
        )
        assert page.status_code == 200
    finally:
        dispose(proxied)


def test_a_spoofed_forwarded_for_cannot_escape_the_per_address_limit(
    database_url, world, in_app, clock
):
    proxied = _proxied_app(database_url, 1, clock, SCLERO_RESET_ASK_LIMIT="3 per hour")

    def resets() -> int:
        return in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count()).where(OutboxMessage.kind == "reset")
            )
        )

    try:
        browser = proxied.test_client()
        for i in range(8):
            # A new made-up address each time; nginx appends the real one.
            browser.post(
                "/forgot-password",
                data={"email": "alice@patients.example" if i % 2 else "doc1@north.example"},
                headers={"X-Forwarded-For": f"10.9.8.{i}, 203.0.113.9"},
                environ_base=PROXY,
            )
        held = resets()
        assert held == 3  # two accounts: their own limit (3 each) would allow 6
        # Someone else behind the same proxy is not held up by it.
        browser.post(
            "/forgot-password",
            data={"email": "bob@patients.example"},
            headers={"X-Forwarded-For": "198.51.100.7"},
            environ_base=PROXY,
        )
        assert resets() == held + 1
    finally:
        dispose(proxied)
