"""``flask audit verify``: check the audit trail's hash chain end to end (docs/audit.md).

Prints ``audit chain intact: N events`` and exits 0, or names the first edited or
missing event and exits 1, so a cron job or monitoring check can alert on it.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.services.audit_verify import BATCH
from app.services.audit_verify import verify

audit_cli = AppGroup("audit", help="The audit trail: check its hash chain.")


@audit_cli.command("verify")
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=1_000_000),
    default=BATCH,
    show_default=True,
    help="Events read per query.",
)
def verify_command(batch: int) -> None:
    """Walk every audit event in order; report the first edited or missing one."""
    with db.engine.connect() as conn:
        report = verify(conn, batch)
    if not report.intact:
        click.echo(f"audit chain BROKEN after {report.count} good events: {report.problem}")
        raise SystemExit(1)
    click.echo(f"audit chain intact: {report.count} events")
