"""Review of `flask clinic` (issue 17 point 1): two `create`s racing for one slug or one
admin email, odd bytes in command-line options, and odd base URLs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import User
from tests.conftest import count
from tests.conftest import make_clinic
from tests.services.test_clinic_cli import LINK
from tests.services.test_clinic_cli import create_args


def _checks_miss_once(monkeypatch, misses: int) -> None:
    """The service's first ``misses`` existence checks find nothing, as when another
    `flask clinic create` commits just after them: the race the unique index decides."""
    real = db.session.scalar
    left = [misses]

    def scalar(statement, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if left[0] > 0:
            left[0] -= 1
            return None
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", scalar)


def test_two_creates_with_one_slug_make_one_clinic_and_a_clear_error(
    app, runner, in_app, monkeypatch
):
    app.config["SCLERO_BASE_URL"] = "https://care.example"
    in_app(make_clinic, "north-leeds")  # the other command, already committed
    _checks_miss_once(monkeypatch, 2)
    result = runner.invoke(args=create_args(**{"--admin-email": "other@north-leeds.example"}))
    assert result.exit_code == 1, result.output
    assert "--slug: The slug 'north-leeds' is taken" in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    monkeypatch.undo()
    assert in_app(count, Clinic) == 1
    assert in_app(lambda: db.session.scalar(sa.select(User.id))) is None


def test_two_creates_with_one_admin_email_make_one_clinic_and_a_clear_error(
    app, runner, in_app, monkeypatch
):
    app.config["SCLERO_BASE_URL"] = "https://care.example"
    assert runner.invoke(args=create_args()).exit_code == 0
    _checks_miss_once(monkeypatch, 2)
    result = runner.invoke(args=create_args(**{"--slug": "leeds-two"}))
    assert result.exit_code == 1, result.output
    assert "--admin-email: There is already an account" in result.output
    monkeypatch.undo()
    assert in_app(count, Clinic) == 1


@pytest.mark.parametrize(
    "base",
    [
        "https://care.example/#x",
        "https://care.example/\r\nX: y",
        "https://care.example/ app",
        "https://user:secret@care.example",
    ],
)
def test_a_base_url_a_link_cannot_be_made_from_is_refused(app, runner, in_app, base):
    result = runner.invoke(args=[*create_args(), "--base-url", base])
    assert result.exit_code == 1, result.output
    assert "--base-url" in result.output
    assert in_app(count, Clinic) == 0


def test_a_base_url_with_a_path_keeps_it(runner):
    result = runner.invoke(args=[*create_args(), "--base-url", "https://care.example/north/"])
    assert result.exit_code == 0, result.output
    assert LINK.search(result.output).group(1).startswith("https://care.example/north/invite/")


@pytest.mark.parametrize("name", ["NHS\x00111", "NHS\u202e111"])
def test_set_hours_refuses_unprintable_names(runner, in_app, name):
    in_app(make_clinic, "north")
    args = ["--out-of-hours-name", name, "--out-of-hours-phone", "111"]
    result = runner.invoke(args=["clinic", "set-hours", "north", "Mon-Fri 09:00-17:00", *args])
    assert result.exit_code == 1, result.output
    assert "out-of-hours" in result.output.lower()
    stored = in_app(lambda: db.session.scalar(sa.select(Clinic.out_of_hours_name)))
    assert stored == "NHS 111"


def test_two_creates_at_once_make_one_clinic(app, in_app):
    """Two `flask clinic create` runs at the same moment, in two threads with their own
    connections: one clinic, and the other a clear error on the slug (never a crash)."""
    import threading

    from app.services.clinic import setup
    from app.services.errors import Invalid
    from tests.conftest import NOW

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(n: int) -> None:
        with app.app_context():
            new = setup.NewClinic(
                name=f"Leeds {n}",
                slug="leeds",
                timezone="Europe/London",
                admin_email=f"lead{n}@leeds.example",
                phone="0113 496 0000",
                emergency_number="999",
            )
            barrier.wait()
            try:
                setup.create_clinic(new, NOW)
            except Invalid as exc:
                outcomes.append(f"{exc.field}: {exc.message}")
            else:
                outcomes.append("created")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [
        "created",
        "slug: The slug 'leeds' is taken by another clinic; choose another.",
    ]
    assert in_app(count, Clinic) == 1
    assert in_app(count, User) == 1


ODD = ["\x00", "x" * 100_000, "\u202e", "a\r\nb", "\udcff"]
OPTIONS = [
    "name",
    "--slug",
    "--time-zone",
    "--admin-email",
    "--admin-name",
    "--phone",
    "--emergency-number",
    "--out-of-hours-name",
    "--out-of-hours-phone",
]


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("odd", ODD, ids=["nul", "100k", "rlo", "crlf", "surrogate"])
def test_odd_bytes_in_any_create_option_are_a_clear_error(app, runner, in_app, option, odd):
    app.config["SCLERO_BASE_URL"] = "https://care.example"
    args = create_args(**({} if option == "name" else {option: f"a{odd}"}))
    if option == "name":
        args[2] = f"North {odd}"
    if option.startswith("--out-of-hours"):
        args += ["--out-of-hours-name", "NHS 111", "--out-of-hours-phone", "111"]
        args[args.index(option, len(args) - 4) + 1] = f"a{odd}"
    result = runner.invoke(args=args)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.output.startswith("Error: ")
        assert in_app(count, Clinic) == 0
    else:  # accepted: then stored as something printable on one line
        name = in_app(lambda: db.session.scalar(sa.select(Clinic.name)))
        assert name.isprintable()
