"""``flask retention run [--now ISO]``: erase the clinical records of closed accounts
whose retention period has ended (issue 20 point 4, app/services/clinic/retention.py).

Idempotent and safe to run from cron as often as wanted; a run after downtime catches
up. With ``SCLERO_BACKUP_ROOT`` set it then prunes the backups there
(``flask backup prune``, app/cli_backup_prune.py), so an erased record does not live on
in old backups. ``--now`` pretends an instant (tests, or checking what a date would erase is not
offered: a run always erases).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli import _parse_now
from app.cli_backup_prune import prune_with_config
from app.services.clinic import retention

retention_cli = AppGroup("retention", help="Closed accounts: erase records past retention.")


@retention_cli.command("run")
@click.option("--now", "at", default=None, help="Pretend it is this ISO time (with offset).")
def run_command(at: str | None) -> None:
    """Erase every closed account's record whose retention ended at or before now."""
    instant = _parse_now(at)
    report = retention.run(instant)
    click.echo(f"retention run: {report.erased} records erased, {report.files} photo files removed")
    # An erased record lives on in older backups until they age out (checklist E7).
    root = current_app.config.get("SCLERO_BACKUP_ROOT")
    if root:
        click.echo(prune_with_config(str(root), instant, None, None))
