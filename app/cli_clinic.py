"""``flask clinic`` commands: create a clinic with its first admin, list clinics, set
opening hours. Each is a thin call into app/services/clinic (``setup``, ``settings``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import current_app
from flask import url_for
from flask.cli import AppGroup

from app.clock import now
from app.services.clinic import settings as clinic_settings
from app.services.clinic import setup as clinic_setup
from app.services.errors import Invalid
from app.services.errors import NotFound

clinic_cli = AppGroup(
    "clinic", help="Clinics: create one with its first admin, list them, set opening hours."
)


@clinic_cli.command("set-hours")
@click.argument("slug")
@click.argument("hours")
@click.option(
    "--out-of-hours-name",
    required=True,
    help="Whom patients call when the clinic is closed, e.g. 'NHS 111'.",
)
@click.option(
    "--out-of-hours-phone", required=True, help="That line's number, e.g. 111 or 01632 960 999."
)
def clinic_set_hours(
    slug: str, hours: str, out_of_hours_name: str, out_of_hours_phone: str
) -> None:
    """Set a clinic's weekly opening HOURS in its own time zone, and its out-of-hours line.

    HOURS looks like "Mon-Fri 08:30-18:00; Sat 09:00-12:30, 13:30-16:00". Days not named
    are closed; an interval may end at 24:00 or run past midnight (Fri 20:00-02:00); ""
    means never open, so patients are always sent to the out-of-hours line first.
    """
    try:
        stored = clinic_settings.set_hours(slug, hours, out_of_hours_name, out_of_hours_phone)
    except (Invalid, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ok: {slug} open {stored.summary}; when closed: {stored.out_of_hours}")


def _base_url(option: str | None) -> str:
    """The app's public address for links made here: ``--base-url`` or SCLERO_BASE_URL.

    Never a request's Host header: there is no request, and a link in a command's output
    must point where the clinic's users really reach the app.
    """
    base = (option or current_app.config.get("SCLERO_BASE_URL") or "").strip()
    parts = urlsplit(base)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or past 65535
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        # user:password@ is dropped from links; a space or line break would be sent on
        or "@" in parts.netloc
        or any(ch.isspace() or not ch.isprintable() for ch in base)
        or not port_ok
    ):
        raise click.ClickException(
            "Give the address users reach the app at with --base-url or SCLERO_BASE_URL "
            "(FLASK_SCLERO_BASE_URL), for example https://care.example-clinic.uk"
        )
    base = base.rstrip("/")
    # Made once before anything is stored: a link that cannot be made after the clinic
    # is committed would leave a clinic whose first admin never gets one.
    _sign_in_link(base, "check")
    return base


def _sign_in_link(base: str, token: str) -> str:
    # A request context for the public address, so the link follows the app's own URL
    # map (and a path prefix in the base URL) rather than a copy of its path here.
    with current_app.test_request_context("/", base_url=base):
        return url_for("auth.accept_invite", token=token, _external=True)


@clinic_cli.command("create")
@click.argument("name")
@click.option("--slug", required=True, help="Short name for commands, e.g. north-leeds.")
@click.option("--time-zone", "timezone", required=True, help="IANA zone, e.g. Europe/London.")
@click.option("--admin-email", required=True, help="The first clinic admin's email.")
@click.option("--admin-name", default="", help="The admin's name (default: from the email).")
@click.option("--phone", required=True, help="The clinic's main number, shown to patients.")
@click.option(
    "--emergency-number", required=True, help="The emergency number patients call: 999, 112..."
)
@click.option("--out-of-hours-name", default="", help="Whom to call when closed: 'NHS 111'.")
@click.option("--out-of-hours-phone", default="", help="That line's number, e.g. 111.")
@click.option("--base-url", default=None, help="The app's public address (SCLERO_BASE_URL).")
def clinic_create(  # noqa: PLR0913 - one option per setting, as the README lists them
    name: str,
    slug: str,
    timezone: str,
    admin_email: str,
    admin_name: str,
    phone: str,
    emergency_number: str,
    out_of_hours_name: str,
    out_of_hours_phone: str,
    base_url: str | None,
) -> None:
    """Create a clinic called NAME and its first clinic admin, and print the admin's
    one-time sign-in link (valid for SCLERO_INVITE_TTL, 7 days by default).

    The main phone and the emergency number are required: patient pages show both.
    The out-of-hours line and opening hours can be set later on the settings page.
    """
    base = _base_url(base_url)
    new = clinic_setup.NewClinic(
        name=name,
        slug=slug,
        timezone=timezone,
        admin_email=admin_email,
        admin_name=admin_name,
        phone=phone,
        emergency_number=emergency_number,
        out_of_hours_name=out_of_hours_name,
        out_of_hours_phone=out_of_hours_phone,
    )
    try:
        created = clinic_setup.create_clinic(new, now())
    except Invalid as exc:
        option = "--" + exc.field.replace("_", "-").replace("timezone", "time-zone")
        raise click.ClickException(f"{option}: {exc.message}") from None
    click.echo(f"ok: clinic {created.slug} ({created.name}) created")
    click.echo(f"First admin: {created.admin_email}. Send them this one-time sign-in link:")
    click.echo(_sign_in_link(base, created.invitation_token))
    click.echo(f"Next: flask protocols load app/protocols/FILE.toml --clinic {created.slug}")


@clinic_cli.command("list")
def clinic_list() -> None:
    """Every clinic: slug, name, time zone, staff and patients."""
    clinics = clinic_setup.list_clinics()
    if not clinics:
        click.echo("no clinics yet: create one with `flask clinic create`")
    for c in clinics:
        click.echo(f"{c.slug}\t{c.name}\t{c.timezone}\t{c.staff} staff\t{c.patients} patients")
