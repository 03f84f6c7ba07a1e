"""``flask photos`` commands: ``sweep`` (files no row refers to), ``verify`` (every
photo's files against their sha256) and ``migrate --to s3`` (the local folder into the
bucket). Each works on the configured store, the local folder or the S3 bucket; a store
that does not answer is a clear message and exit status 1, not a traceback."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.adapters.photo_store import StorageError
from app.services import photos
from app.services.photos import migrate

photos_cli = AppGroup(
    "photos", help="Photo store upkeep: orphan sweep, integrity check, migration to S3."
)


def _minutes(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # A negative age put the cut-off in the future, so the sweep deleted the files of
    # uploads in flight on every instance (their rows not yet committed); nan and inf
    # were a traceback.
    if value is not None and not 0 <= value < float("inf"):
        raise click.BadParameter("give a number of minutes, 0 or more.")
    return value


@photos_cli.command("sweep")
@click.option(
    "--older-than",
    "minutes",
    type=float,
    default=None,
    callback=_minutes,
    help="Minutes (default PHOTO_ORPHAN_MINUTES): younger files may be uploads in flight.",
)
@click.option(
    "--claim",
    is_flag=True,
    help="Mark the store as this installation's even if another installation marked it "
    "(only after a secret-key change, when no other installation uses the store).",
)
def photos_sweep(minutes: float | None, claim: bool) -> None:
    """Remove photo files that no database row refers to (crashed uploads)."""
    try:
        removed = photos.sweep(minutes, claim)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {removed} unreferenced photo file(s)")


@photos_cli.command("verify")
def photos_verify() -> None:
    """Check every photo's files against their recorded sha256; exit 1 on damage."""
    try:
        bad = photos.verify_all()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if bad:
        click.echo(f"damaged or missing: photo ids {', '.join(map(str, bad))}", err=True)
        raise SystemExit(1)
    click.echo("all photo files match their sha256")


@photos_cli.command("migrate")
@click.option("--to", "target", type=click.Choice(["s3"]), required=True)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Copy at most this many files, then stop (run again to go on).",
)
def photos_migrate(target: str, limit: int | None) -> None:
    """Copy every photo file the database refers to from the local folder into the
    configured S3 bucket, checked by sha256. Resumable and idempotent; local files stay."""
    try:
        done = migrate.to_s3(limit, progress=lambda line: click.echo(line, err=True))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{done.total} photo file(s) referenced: {done.copied} copied, {done.present} "
        f"already in the bucket, {len(done.damaged)} missing or damaged locally"
    )
    if done.stopped:
        click.echo("stopped at --limit: run the command again to copy the rest")
        raise SystemExit(2)
    if done.damaged:
        click.echo("run `flask photos verify` on the local folder for the damaged ones", err=True)
        raise SystemExit(1)
    switched = (current_app.config.get("SCLERO_PHOTO_STORE") or "local") == "s3"
    click.echo(
        "every file is in the bucket and matches its sha256; "
        + (
            "the app already serves from it."
            if switched
            else "to switch over set SCLERO_PHOTO_STORE=s3, restart, then run "
            "`flask photos verify`. The local folder is left as it was."
        )
    )
