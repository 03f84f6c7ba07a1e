"""``flask`` commands; each is a thin call into a service."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import click
from flask import Flask
from flask import current_app
from flask.cli import AppGroup
from py_vapid import Vapid

from app.adapters import push
from app.cli_audit import audit_cli
from app.cli_clinic import clinic_cli
from app.cli_export import export_cli
from app.cli_export import worker_pass as export_pass
from app.cli_mail import mail_cli
from app.cli_photos import photos_cli
from app.clock import advancing
from app.clock import now
from app.domain.protocol import ProtocolError
from app.extensions import db
from app.models import Role
from app.services import accounts
from app.services import backup
from app.services import demo
from app.services import protocol_admin
from app.services import protocols
from app.services.errors import Invalid
from app.services.notify import dispatch
from app.textinput import DB_INT_MAX
from config import ConfigError

protocols_cli = AppGroup("protocols", help="Validate, load and list clinic protocols.")
dev_cli = AppGroup("dev", help="Development helpers (demo data).")
users_cli = AppGroup("users", help="Staff accounts.")
notifications_cli = AppGroup("notifications", help="Send due reminders (web push).")
backup_cli = AppGroup("backup", help="Back up and restore the database and the photo files.")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use an ISO time such as 2026-11-22T09:00:00+00:00") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("include a UTC offset, e.g. +00:00")
    try:
        # 0001-01-01T00:00+14:00 is before the first UTC instant Python has (and
        # 9999-12-31T23:59-14:00 after the last): a traceback, found by a tester.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise click.BadParameter("give a time between the years 0002 and 9998") from None


def _summary(report: dispatch.DispatchReport) -> str:
    return (
        f"claimed {report.claimed}, sent {report.sent}, no device {report.no_device}, "
        f"retry later {report.retried}, failed {report.failed}, "
        f"dropped as late {report.dropped}, sent together {report.merged}, "
        f"after quiet hours {report.later}, "
        f"claim lost {report.lost}, pushes {report.deliveries} {report.statuses}"
    )


_LEASE = click.option(
    "--lease",
    type=click.FloatRange(min=1.0),
    default=dispatch.LEASE.total_seconds(),
    show_default=True,
    help="Seconds a claim lasts unless renewed (renewed every third of it while sending).",
)


def _sender():
    try:
        return current_app.extensions["sclero_push"]["sender"]
    except ConfigError as exc:  # no VAPID key yet: say so, no traceback
        raise click.ClickException(str(exc)) from None


@notifications_cli.command("send-due")
@click.option(
    "--now", "at", default=None, help="Pretend it is this instant (ISO 8601 with offset)."
)
@click.option("--batch", default=200, show_default=True, help="Rows claimed per transaction.")
@_LEASE
def send_due(at: str | None, batch: int, lease: float) -> None:
    """Send every reminder that is due now, once, then exit (for cron or systemd timers)."""
    clock = advancing(_parse_now(at)) if at else now
    report = dispatch.run_until_empty(_sender(), clock, batch=batch, lease=timedelta(seconds=lease))
    click.echo(_summary(report))


@notifications_cli.command("worker")
@click.option("--interval", type=float, default=None, help="Seconds between passes.")
@click.option("--batch", default=200, show_default=True, help="Rows claimed per transaction.")
@_LEASE
def worker(interval: float | None, batch: int, lease: float) -> None:
    """Keep sending due reminders until stopped (SIGTERM or Ctrl+C finish the pass first)."""
    pause = interval if interval is not None else current_app.config["NOTIFY_POLL_SECONDS"]
    sender = _sender()  # before the loop: a missing key stops the worker with its message
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    click.echo(f"notification worker: a pass every {pause:g} s")
    while not stopping.is_set():
        try:
            # The clock itself, not one reading of it: each batch reads the time afresh.
            report = dispatch.run_until_empty(
                sender, now, batch=batch, lease=timedelta(seconds=lease)
            )
            if report.claimed:
                click.echo(_summary(report))
            export_pass()  # "Download my data" zips (issue 20): built between passes
        except Exception:  # noqa: BLE001 - keep the worker alive; the error is logged
            logging.getLogger(__name__).exception("dispatch pass failed")
            db.session.rollback()
        finally:
            db.session.remove()
        stopping.wait(pause)
    click.echo("notification worker stopped")


@notifications_cli.command("vapid-keygen")
def vapid_keygen() -> None:
    """Print a new VAPID key pair for production configuration."""
    vapid = Vapid()
    vapid.generate_keys()
    click.echo(f"FLASK_VAPID_PRIVATE_KEY={push.private_key_b64u(vapid)}")
    click.echo(f"# public key (browsers subscribe with it): {push.public_key_b64u(vapid)}")


@protocols_cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check protocol files; print every problem with file, line, item and field.

    A file whose only problems are values written as "clinic must set" is valid but
    not ready to load: those are listed as "todo" and the command still succeeds.
    """
    failed = False
    for path in files:
        try:
            p = protocols.read_file(path)
        except ProtocolError as exc:
            if exc.only_open_values:
                for problem in exc.problems:
                    click.echo(f"todo: {problem}")
                count = len(exc.problems)
                click.echo(
                    f"ok: {path}: valid, but 'flask protocols load' refuses it until the "
                    f"{count} value{'s' if count != 1 else ''} above "
                    f"{'are' if count != 1 else 'is'} set"
                )
                continue
            failed = True
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
        else:
            click.echo(f"ok: {path}: {p.key} ({p.name})")
    if failed:
        raise SystemExit(1)


@protocols_cli.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--clinic", "clinic", default=None, help="Clinic slug; default: every clinic.")
def load(path: str, clinic: str | None) -> None:
    """Store a protocol file as a new version (unchanged files make no new version)."""
    try:
        results = protocols.load(path, clinic, now())
    except ProtocolError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
    except Invalid as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from None
    for r in results:
        state = "new version" if r.created else "unchanged"
        click.echo(f"{r.clinic}: {r.key} v{r.version} ({state})")
    for r in results:
        if r.created:
            click.echo(
                f"{r.clinic}: {r.key} v{r.version} is not signed off: new patients cannot have "
                f"it until a clinic admin signs it off (Protocols page, or `flask protocols "
                f"sign-off --clinic {r.clinic} --key {r.key} --version {r.version} --by EMAIL`)"
            )


@protocols_cli.command("list")
def list_versions() -> None:
    """Every protocol version of every clinic, with who signed it off and when."""
    for slug, v in protocols.all_versions():
        if v.signed_off_at is not None:
            state = f"signed off {v.signed_off_at:%Y-%m-%d %H:%M}Z by {v.signed_off_by_name}"
        else:
            state = "NOT signed off"
        click.echo(
            f"{slug}\t{v.key}\tv{v.version}\t{v.created_at:%Y-%m-%d %H:%M}Z\t{v.name}\t{state}"
        )


@protocols_cli.command("sign-off")
@click.option("--clinic", "clinic", required=True, help="Clinic slug.")
@click.option("--key", required=True, help="Protocol key, as `flask protocols list` shows.")
# At most the database's INTEGER: a bigger number was a traceback on PostgreSQL.
@click.option("--version", "number", type=click.IntRange(min=1, max=DB_INT_MAX), required=True)
@click.option("--by", "email", required=True, help="Email of an active admin of the clinic.")
def sign_off(clinic: str, key: str, number: int, email: str) -> None:
    """Sign a protocol version off for patients, as the named clinic admin (audited).

    Only a signed-off version can be chosen for a new patient or booking. Signing off a
    version already signed off changes nothing.
    """
    try:
        done = protocol_admin.sign_off_by_email(clinic, key, number, email, now())
    except Invalid as exc:
        raise click.ClickException(exc.message) from None
    v = done.version
    if done.signed_now:
        click.echo(f"ok: {clinic} {v.key} v{v.version} signed off by {v.signed_off_by_name}")
    else:
        click.echo(
            f"unchanged: {clinic} {v.key} v{v.version} was already signed off by "
            f"{v.signed_off_by_name} at {v.signed_off_at:%Y-%m-%d %H:%M}Z"
        )


@dev_cli.command("seed-demo")
def seed_demo() -> None:
    """Create or refresh the demo clinic and print the demo logins."""
    if not current_app.config.get("SCLERO_DEMO"):
        raise click.ClickException("Demo data is only for development (APP_ENV=development).")
    logins = demo.seed(now(), current_app.config["SCLERO_PROTOCOL_DIR"])
    click.echo("Demo logins:")
    for login in logins:
        click.echo(f"  {login.email:38} {login.password:22} {login.what}")


@users_cli.command("create-staff")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--clinic-id", type=int, required=True)
@click.option("--admin", is_flag=True, help="Clinic admin rather than clinician.")
@click.password_option()
def create_staff(email: str, name: str, clinic_id: int, admin: bool, password: str) -> None:
    """Create a clinician (or set their password); idempotent."""
    try:
        user = accounts.create_staff(
            clinic_id,
            email,
            name,
            password,
            Role.CLINIC_ADMIN if admin else Role.CLINICIAN,
            now(),
        )
    except Invalid as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"ok: {user.email} ({user.role.value})")


@backup_cli.command("create")
@click.argument("folder", type=click.Path(file_okay=False))
def backup_create(folder: str) -> None:
    """Write a consistent backup (database + photo files + sha256 manifest) into a new
    or empty FOLDER."""
    try:
        done = backup.create(folder, now())
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"backup of the {done.dialect} database (revision {done.revision or 'none'}) and "
        f"{done.photo_files} photo file(s) written to {done.folder}"
    )


@backup_cli.command("restore")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def backup_restore(folder: str) -> None:
    """Restore FOLDER into the configured database and photo folder, both empty."""
    try:
        done = backup.restore(folder)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored the {done.dialect} database (revision {done.revision or 'none'}) and "
        f"{done.photo_files} photo file(s) from {done.folder}; now run `flask photos verify` "
        "and `flask db check`"
    )


def register(app: Flask) -> None:
    """Attach the command groups and a shell context."""
    app.cli.add_command(protocols_cli)
    app.cli.add_command(dev_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(photos_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(export_cli)
    app.cli.add_command(clinic_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(audit_cli)

    @app.shell_context_processor
    def shell() -> dict[str, object]:
        from app import models

        return {"db": db, "models": models}
