"""``flask retention run [--now ISO]``: erase the clinical records of closed accounts
whose retention period has ended (issue 20 point 4, app/services/clinic/retention.py).

Idempotent and safe to run from cron as often as wanted; a run after downtime catches
up. ``--now`` pretends an instant (tests, or checking what a date would erase is not
offered: a run always erases).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli import _parse_now
from app.services.clinic import retention

retention_cli = AppGroup("retention", help="Closed accounts: erase records past retention.")


@retention_cli.command("run")
@click.option("--now", "at", default=None, help="Pretend it is this ISO time (with offset).")
def run_command(at: str | None) -> None:
    """Erase every closed account's record whose retention ended at or before now."""
    report = retention.run(_parse_now(at))
    click.echo(f"retention run: {report.erased} records erased, {report.files} photo files removed")
