"""`flask protocols sign-off` and the sign-off state in `flask protocols list`, and the
demo seed signing off what it loads (issue 17 point 3)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Role
from app.models import User
from tests.conftest import PROTOCOL_DIR
from tests.conftest import make_clinic
from tests.conftest import make_staff

SHIPPED_TEXT = Path(f"{PROTOCOL_DIR}/compression-72h.toml").read_text(encoding="utf-8")


def _setup(in_app, tmp_path, runner) -> None:
    def make() -> None:
        east = make_clinic("east")
        west = make_clinic("west")
        make_staff(east, "boss@east.example", Role.CLINIC_ADMIN)
        make_staff(east, "doc@east.example", Role.CLINICIAN)
        make_staff(west, "boss@west.example", Role.CLINIC_ADMIN)
        gone = make_staff(east, "gone@east.example", Role.CLINIC_ADMIN)
        gone.is_active = False
        db.session.commit()

    in_app(make)
    edited = tmp_path / "compression-72h.toml"
    edited.write_text(SHIPPED_TEXT.replace("sessions_max = 5", "sessions_max = 6"), "utf-8")
    result = runner.invoke(args=["protocols", "load", str(edited), "--clinic", "east"])
    assert "east: compression-72h v2 (new version)" in result.output
    assert "v2 is not signed off" in result.output


def _state(in_app):
    return in_app(
        lambda: db.session.execute(
            sa.select(
                ProtocolVersion.signed_off_at,
                ProtocolVersion.signed_off_by_name,
                ProtocolVersion.signed_off_by_id,
            )
            .join(Clinic)
            .where(
                Clinic.slug == "east",
                ProtocolVersion.key == "compression-72h",
                ProtocolVersion.version == 2,
            )
        ).one()
    )


def _sign_off(runner, by: str, version: str = "2", clinic: str = "east"):
    return runner.invoke(
        args=[
            "protocols",
            "sign-off",
            "--clinic",
            clinic,
            "--key",
            "compression-72h",
            "--version",
            version,
            "--by",
            by,
        ]
    )


def test_list_shows_who_signed_off_and_what_is_not(in_app, tmp_path, runner):
    _setup(in_app, tmp_path, runner)
    listing = runner.invoke(args=["protocols", "list"]).output.splitlines()
    v1 = next(line for line in listing if line.startswith("east\tcompression-72h\tv1"))
    v2 = next(line for line in listing if line.startswith("east\tcompression-72h\tv2"))
    assert "signed off" in v1 and "by Test Sign-off" in v1
    assert v2.endswith("NOT signed off")


def test_only_an_active_admin_of_the_clinic_may_sign_off(in_app, tmp_path, runner):
    _setup(in_app, tmp_path, runner)
    for email in ["doc@east.example", "boss@west.example", "gone@east.example", "who@x.example"]:
        result = _sign_off(runner, email)
        assert result.exit_code == 1
        assert "is not an active clinic admin of east" in result.output
    assert _sign_off(runner, "boss@east.example", version="9").exit_code == 1
    assert (
        "no protocol 'compression-72h' version 9"
        in _sign_off(runner, "boss@east.example", "9").output
    )
    assert "no clinic 'nope'" in _sign_off(runner, "boss@east.example", clinic="nope").output
    assert _state(in_app).signed_off_at is None


def test_sign_off_records_the_admin_audits_and_runs_once(in_app, tmp_path, runner, clock):
    _setup(in_app, tmp_path, runner)
    result = _sign_off(runner, " Boss@East.example ")
    assert result.exit_code == 0, result.output
    assert "ok: east compression-72h v2 signed off by Boss" in result.output
    boss = in_app(
        lambda: db.session.scalar(sa.select(User.id).where(User.email == "boss@east.example"))
    )
    state = _state(in_app)
    assert state == (clock.now, "Boss", boss)
    clock.advance(hours=1)
    again = _sign_off(runner, "boss@east.example")
    assert again.exit_code == 0 and "unchanged" in again.output
    assert _state(in_app) == state  # the first sign-off stands
    events = in_app(
        lambda: db.session.execute(
            sa.select(AuditEvent.actor_id, AuditEvent.detail, AuditEvent.address).where(
                AuditEvent.action == "sign off"
            )
        ).all()
    )
    assert len(events) == 1
    assert events[0].actor_id == boss and "compression-72h v2" in events[0].detail
    assert events[0].address == "command line"
    listing = runner.invoke(args=["protocols", "list"]).output
    assert "east\tcompression-72h\tv2" in listing and "by Boss" in listing


def test_seed_demo_signs_off_its_protocols(app, runner):
    assert runner.invoke(args=["dev", "seed-demo"]).exit_code == 0
    demo = [
        line
        for line in runner.invoke(args=["protocols", "list"]).output.splitlines()
        if line.startswith("demo\t")
    ]
    assert len(demo) >= 3
    assert all("by Dr Demo" in line for line in demo), demo


def test_two_admins_at_once_sign_off_once(app, in_app, tmp_path, runner, clock):
    """The second of two simultaneous sign-offs (two workers, two admins) finds the
    version signed by the first after it read it: it changes nothing and audits nothing."""
    from app.principal import ClinicInfo
    from app.principal import Principal
    from app.services import protocol_admin

    _setup(in_app, tmp_path, runner)

    def race() -> tuple[bool, str]:
        boss = db.session.scalar(sa.select(User).where(User.email == "boss@east.example"))
        clinic = ClinicInfo(boss.clinic_id, "East", "", "", "", "", "Europe/London")
        me = Principal(boss.id, boss.email, boss.name, boss.role, clinic, None, 0, "")
        version = db.session.scalar(
            sa.select(ProtocolVersion).where(
                ProtocolVersion.clinic_id == boss.clinic_id, ProtocolVersion.version == 2
            )
        )
        assert not version.is_signed_off  # read before the other admin's commit
        with db.engine.begin() as other:
            other.execute(
                sa.update(ProtocolVersion)
                .where(ProtocolVersion.id == version.id)
                .values(signed_off_at=clock.now, signed_off_by_name="Other Admin")
            )
        done = protocol_admin.sign_off(me, version.id, True, "127.0.0.1", clock.now)
        return done.signed_now, done.version.signed_off_by_name

    assert in_app(race) == (False, "Other Admin")
    count = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "sign off")
        )
    )
    assert count == 0
