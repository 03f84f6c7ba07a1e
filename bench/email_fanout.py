"""Benchmark: reminder emails sent by the app's dispatcher against bare smtplib loops,
to the same local SMTP server (issue 17 point 5).

What it measures
    A scratch database (SQLite file by default, a scratch PostgreSQL database with
    ``--postgres``) gets ``--count`` patients (no push device, no quiet hours), each with
    one treatment and one due reminder row. An aiosmtpd server runs in a *separate
    process* (its CPU does not compete with the sender for the GIL) on 127.0.0.1; it
    accepts every message and counts messages and SMTP connections. Then, in the same
    run:

    * **dispatcher**: ``dispatch.run_until_empty(...)`` with the app's defaults and its
      real SMTP sender (Flask-Mailman): claim the reminders, fold each patient's into
      the day's digest row (one email per patient), claim the digests, build each email
      (generic text, unsubscribe link and headers), send it on one SMTP connection per
      batch, and commit each outcome as it returns.
    * **bare smtplib loop** (the reference of the issue): for each message,
      ``with smtplib.SMTP(host, port) as s: s.send_message(msg)``, a fresh connection per
      email as a script that "just sends mail" does. It touches no database and records
      nothing.
    * **bare loop on one connection** (the floor): the same messages over a single
      connection; printed for information.

    The messages are split into ``--rounds`` (default 4) interleaved rounds, the order of
    the methods reversed every other round, so drift on a busy machine hits all alike;
    the aim uses the median of the per-round ratios.

Aims
    * dispatcher rate / bare smtplib loop rate >= 1.0;
    * dispatcher connections <= number of batches it sent (one per batch, reused).

What it showed on the project's machine (2 shared cores)
    First version, load 7 to 9, ``--latency-ms 0``: ratio 0.75 to 0.9. A profile showed
    the fenced outcome UPDATE's statement object rebuilt for every email costing about
    as much as the database round trip; built once (app/services/notify/delivery.py
    ``_fenced_update``), load about 2: SQLite 1.08 and 1.10 (652 emails/s against the
    loop's 622), PostgreSQL 0.78 (542 against 703: every outcome is a commit, which
    exactly-once needs, and a PostgreSQL commit costs more than a loopback SMTP
    connection). With ``--latency-ms 5`` (a provider one network hop away) the ratio
    was 1.1 to 1.2 before the change: the loop pays EHLO and the connection for every
    email, the dispatcher once per batch (4 connections for 400 emails against 400).

Usage
    .venv/bin/python bench/email_fanout.py [--count 1000] [--rounds 4]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Exit status: 0 aims met, 1 an aim missed, 2 could not measure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app.clock import advancing  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import OutboxMessage  # noqa: E402
from app.models import OutboxState  # noqa: E402
from bench.push_fanout import insert_chunked  # noqa: E402
from bench.push_fanout import make_app  # noqa: E402
from bench.push_fanout import scratch_databases  # noqa: E402
from bench.push_fanout import seed_people  # noqa: E402
from tests.smtp_double import free_port  # noqa: E402

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 10:00 in London


class NoPush:
    """The patients have no device: every reminder goes by email."""

    def send(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("no push expected")


def _serve(port: int, counters, ready, latency: float) -> None:  # noqa: ANN001
    """The SMTP server process: accept everything, count messages and connections. With
    ``latency`` (seconds), each reply to EHLO, MAIL, RCPT and DATA waits that long, as a
    provider across a network would (both methods pay it for every command they send)."""
    import asyncio

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    async def pause() -> None:
        if latency:
            await asyncio.sleep(latency)

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201
            await pause()
            session.host_name = hostname
            return responses

        async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001, ANN201
            await pause()
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001, ANN201
            await pause()
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
            await pause()
            with counters.get_lock():
                counters[0] += 1
            return "250 OK"

    class Counting(SMTP):
        def connection_made(self, transport):  # noqa: ANN001, ANN201
            with counters.get_lock():
                counters[1] += 1
            super().connection_made(transport)

    class Ctl(Controller):
        def factory(self):  # noqa: ANN201
            return Counting(self.handler, **self.SMTP_kwargs)

    controller = Ctl(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    with counters.get_lock():
        counters[1] = 0  # start() connects once itself
    ready.set()
    while True:
        time.sleep(3600)


class Server:
    def __init__(self, latency_ms: float = 0.0) -> None:
        self.port = free_port()
        self.counters = multiprocessing.Array("q", 2)
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_serve,
            args=(self.port, self.counters, ready, latency_ms / 1000),
            daemon=True,
        )
        self.process.start()
        if not ready.wait(20):
            raise SystemExit(2)

    def counts(self) -> tuple[int, int]:
        with self.counters.get_lock():
            return self.counters[0], self.counters[1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def seed(app, count: int, rounds: int) -> list[int]:  # noqa: ANN001
    """Patients and one due reminder each; round r's rows fall due at T0 + r hours."""
    per_round = [count // rounds + (1 if r < count % rounds else 0) for r in range(rounds)]
    with app.app_context(), db.engine.begin() as conn:
        seed_people(conn, count, T0)
        rows, patient = [], 1
        for r, n in enumerate(per_round):
            due = T0 + timedelta(hours=r)
            for _ in range(n):
                rows.append(
                    dict(
                        patient_id=patient,
                        treatment_id=patient,
                        key="daily:bench",
                        kind="daily",
                        channel="push",
                        link="/patient/today",
                        due_at=due,
                        available_at=due,
                        expires_at=due + timedelta(hours=12),
                        state=OutboxState.PENDING.value,
                        attempts=0,
                        time_critical=False,
                        last_error="",
                        detail="",
                        created_at=T0,
                    )
                )
                patient += 1
        insert_chunked(conn, OutboxMessage.__table__, iter(rows))
    return per_round


def bare_messages(n: int, offset: int) -> list[EmailMessage]:
    out = []
    for i in range(offset, offset + n):
        msg = EmailMessage()
        msg["From"] = "ScleroCare <noreply@clinic.example>"
        msg["To"] = f"p{i + 1}@bench.example"
        msg["Subject"] = "Your ScleroCare reminders for today"
        msg["List-Unsubscribe"] = f"<http://localhost/email/unsubscribe/{i}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(
            "Hello,\n\nYou have reminders from your clinic today:\n- Your check-in and "
            "aftercare for today are ready.\n\nOpen ScleroCare: http://localhost/patient/today\n"
        )
        out.append(msg)
    return out


def bare_loop(port: int, messages: list[EmailMessage]) -> None:
    for msg in messages:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.send_message(msg)


def bare_one_connection(port: int, messages: list[EmailMessage]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        for msg in messages:
            s.send_message(msg)


def timed(server: Server, expected: int, fn) -> tuple[float, int]:  # noqa: ANN001
    """Seconds taken and connections opened; every message must have arrived."""
    sent0, conns0 = server.counts()
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    sent1, conns1 = server.counts()
    if sent1 - sent0 != expected:
        print(f"expected {expected} messages, the server got {sent1 - sent0}")
        raise SystemExit(2)
    return took, conns1 - conns0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", default=None)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="delay of each SMTP reply (a provider across a network: try 5 to 20)",
    )
    args = parser.parse_args(argv)
    server = Server(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return run(args, server, tmp)
    finally:
        server.stop()


def run(args: argparse.Namespace, server: Server, tmp: str) -> int:
    from app.services.notify import dispatch

    with scratch_databases(args.postgres, ("email_fanout",)) as urls:
        url = urls[0]
        app = make_app(url)
        app.config["MAIL_PORT"] = server.port
        per_round = seed(app, args.count, args.rounds)
        ratios, totals = [], {"dispatcher": [0.0, 0], "bare": [0.0, 0], "one": [0.0, 0]}
        batches = 0
        offset = 0
        for r, n in enumerate(per_round):
            at = T0 + timedelta(hours=r, minutes=1)

            def dispatcher(at: datetime = at) -> None:
                nonlocal batches
                with app.app_context():
                    report = dispatch.run_until_empty(NoPush(), advancing(at))
                    assert report.sent == report.emails, report
                    batches += -(-report.sent // 200)
                    db.session.remove()

            messages = bare_messages(n, offset)
            offset += n
            plan = [
                ("dispatcher", dispatcher),
                ("bare", lambda m=messages: bare_loop(server.port, m)),
                ("one", lambda m=messages: bare_one_connection(server.port, m)),
            ]
            if r % 2:
                plan.reverse()
            took = {}
            for name, fn in plan:
                seconds, conns = timed(server, n, fn)
                took[name] = seconds
                totals[name][0] += seconds
                totals[name][1] += conns
            ratios.append(took["bare"] / took["dispatcher"])  # rate ratio = time ratio^-1
            print(
                f"round {r + 1}: {n} emails; dispatcher {n / took['dispatcher']:.0f}/s, "
                f"bare loop {n / took['bare']:.0f}/s, one connection {n / took['one']:.0f}/s"
            )
        with app.app_context():
            states = dict(
                db.session.execute(
                    sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)
                ).all()
            )
    count = sum(per_round)
    rate = {k: count / v[0] for k, v in totals.items()}
    median = statistics.median(ratios)
    print(
        f"\n{count} reminder emails, {args.rounds} interleaved rounds, "
        f"SMTP replies delayed {args.latency_ms:g} ms"
    )
    print(
        f"  dispatcher (Flask-Mailman, outbox): {rate['dispatcher']:8.0f} emails/s, "
        f"{totals['dispatcher'][1]} SMTP connections"
    )
    print(
        f"  bare smtplib loop:                  {rate['bare']:8.0f} emails/s, "
        f"{totals['bare'][1]} SMTP connections"
    )
    print(
        f"  bare loop on one connection:        {rate['one']:8.0f} emails/s, "
        f"{totals['one'][1]} SMTP connections (information)"
    )
    print(
        f"  ratio dispatcher / bare loop: median {median:.2f} (per round "
        f"{', '.join(f'{x:.2f}' for x in ratios)}), pooled {rate['dispatcher'] / rate['bare']:.2f}"
    )
    print(f"  ratio dispatcher / one connection: {rate['dispatcher'] / rate['one']:.2f}")
    shown = {getattr(k, "value", k): v for k, v in states.items()}
    print(f"  outbox states: {shown}")
    ok = median >= 1.0 and totals["dispatcher"][1] <= max(batches, 1)
    print(
        f"  aims: ratio >= 1.0 {'met' if median >= 1.0 else 'MISSED'}; "
        f"connections <= batches ({batches}) "
        f"{'met' if totals['dispatcher'][1] <= max(batches, 1) else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
