"""Review of issue 17 point 5: real `flask notifications worker` processes sending
account emails to a real SMTP server on loopback that answers each message slowly; two
of three workers are killed with SIGKILL mid-batch. Every email arrives; an email
arrives twice at most once per kill (``email_delivery``: one email in flight per worker);
every row ends sent with its link wiped from the database.

PostgreSQL only, like the other process tests (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import OutboxMessage
from app.models import OutboxState
from app.services.notify.email_enqueue import enqueue_link_email
from tests.conftest import is_postgres
from tests.conftest import make_clinic
from tests.conftest import make_staff
from tests.processes.test_dispatch_chaos import _stop
from tests.processes.test_dispatch_chaos import _wait
from tests.processes.test_dispatch_chaos import _workers
from tests.processes.test_dispatch_processes import _env
from tests.smtp_double import SmtpDouble
from tests.smtp_double import _Controller
from tests.smtp_double import _Handler

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not is_postgres(), reason="process runs need PostgreSQL"),
]

EMAILS = 120


class _SlowHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        await asyncio.sleep(0.05)  # each "250 OK" 50 ms late: kills land mid-batch
        return await super().handle_DATA(server, session, envelope)


class SlowSmtp(SmtpDouble):
    def start(self) -> SmtpDouble:
        self._controller = _Controller(self, self.port)
        self._controller.handler = _SlowHandler(self)
        self._controller.start()
        with self.lock:
            self.connections = 0
        return self


class NoPushService:
    netloc = "127.0.0.1:9"


def _links(n: int) -> None:
    clinic = make_clinic("chaos")
    now = datetime.now(UTC) - timedelta(seconds=5)
    for i in range(n):
        user = make_staff(clinic, f"doc{i}@chaos.example")
        enqueue_link_email(user, "signin", f"http://localhost/invite/secret-{i}", now)
    db.session.commit()


def _open(in_app) -> int:
    return in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
        )
    )


def test_kill_9_mid_batch_repeats_at_most_one_email_per_kill(app, in_app):
    smtp = SlowSmtp().start()
    try:
        in_app(_links, EMAILS)
        env = _env(app, NoPushService(), MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port))
        env["FLASK_MAIL_SERVER"] = "127.0.0.1"
        env["FLASK_MAIL_PORT"] = str(smtp.port)
        procs = _workers(env, 3, lease=2, batch=20)
        kills = 0
        try:
            for threshold in (20, 60):
                _wait(lambda t=threshold: len(smtp.messages) >= t)
                os.kill(procs[kills].pid, signal.SIGKILL)
                procs[kills].wait(10)
                kills += 1
                procs += _workers(env, 1, lease=2, batch=20)
            _wait(lambda: _open(in_app) == 0)
            time.sleep(0.3)
        finally:
            outputs = _stop(procs)
        assert all(p.returncode == 0 for p in procs[kills:]), outputs
        per_row = Counter(str(m["Message-ID"]) for m in smtp.messages)
        assert len(per_row) == EMAILS, "lost emails"
        repeats = sum(n - 1 for n in per_row.values())
        assert repeats <= kills, (repeats, kills)
        rows = in_app(
            lambda: db.session.execute(sa.select(OutboxMessage.state, OutboxMessage.secret)).all()
        )
        assert {state for state, _ in rows} == {OutboxState.SENT}
        assert {secret for _, secret in rows} == {None}
    finally:
        smtp.stop()
