"""``flask export run``: build the patients' "Download my data" zips (issue 20 point 1).

Each pass expires old links (deleting their files), sweeps files no ready export names
(a worker killed mid-build), and builds due exports one at a time. The notification
worker (``flask notifications worker``) runs a pass after each of its own, so a site
that runs that worker needs nothing more; this command is for a separate worker or cron.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.adapters.photo_store import StorageError
from app.clock import now
from app.extensions import db
from app.services import export

export_cli = AppGroup("export", help="Patients' data downloads: build, expire, sweep.")


@export_cli.command("run")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=50,
    show_default=True,
    help="Most exports built in this run.",
)
def run_command(limit: int) -> None:
    """One pass: expire, sweep, then build up to LIMIT due exports."""
    try:
        report = export.run_due(now, limit=limit)
    except StorageError as exc:  # a bucket that does not answer: said, not a traceback
        raise click.ClickException(f"exports: nothing done: {exc}") from None
    db.session.remove()
    click.echo(
        f"exports: {report.built} built, {report.failed} failed, "
        f"{report.expired} expired, {report.swept} stray files removed"
    )


def worker_pass() -> None:
    """The notification worker's call: one small pass (a few builds), so reminders are
    never held back for long by a patient's large export."""
    export.run_due(now, limit=2)
