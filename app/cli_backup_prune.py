"""``flask backup prune ROOT [--keep-days N] [--keep-last K] [--now ISO]`` (checklist
E7): remove this app's backups under ROOT once they are older than N days, always
keeping the newest K (app/services/backup_prune.py). Defaults:
``SCLERO_BACKUP_KEEP_DAYS`` and ``SCLERO_BACKUP_KEEP_LAST``. ``flask retention run``
calls the same prune on ``SCLERO_BACKUP_ROOT`` when that is set.

Kept out of app/cli.py, which holds ``backup create`` and ``restore``: registered on the
same ``backup`` group by ``app.register_cli``.
"""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from app.cli import _parse_now
from app.services import backup_prune


def prune_with_config(root: str, at: datetime, days: int | None, last: int | None) -> str:
    """Prune ``root`` with the given counts or the configured ones; the summary line.

    :raises click.ClickException: the prune was refused, or a backup could not be
        removed (the message says which; the others were pruned and the run audited).
    """
    config = current_app.config
    keep_days = days if days is not None else int(config["SCLERO_BACKUP_KEEP_DAYS"])
    keep_last = last if last is not None else int(config["SCLERO_BACKUP_KEEP_LAST"])
    try:
        report = backup_prune.prune(root, at, keep_days=keep_days, keep_last=keep_last)
    except backup_prune.PruneError as exc:
        raise click.ClickException(str(exc)) from None
    if report.failed:
        raise click.ClickException(f"backup prune: {report.summary()}")
    return f"backup prune: {report.summary()}"


@click.command("prune")
@with_appcontext  # added to the group after it was built, so not wrapped by AppGroup
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--keep-days", type=int, default=None, help="Remove backups older than this.")
@click.option("--keep-last", type=int, default=None, help="Always keep this many newest.")
@click.option("--now", "at", default=None, help="Pretend it is this ISO time (with offset).")
def prune_command(root: str, keep_days: int | None, keep_last: int | None, at: str | None):
    """Remove this app's backups under ROOT older than --keep-days (by their manifest),
    keeping the newest --keep-last; anything that is not a backup is left alone."""
    click.echo(prune_with_config(root, _parse_now(at), keep_days, keep_last))
