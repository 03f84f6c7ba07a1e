"""Review of `flask protocols sign-off` (issue 17 point 3): a version number past what
the database can hold is a usage error naming the option, never a traceback (on
PostgreSQL the query itself failed: "integer out of range")."""

from __future__ import annotations

from tests.services.test_cli_signoff import _setup
from tests.services.test_cli_signoff import _sign_off
from tests.services.test_cli_signoff import _state


def test_a_version_number_too_big_for_the_database_is_a_usage_error(in_app, tmp_path, runner):
    _setup(in_app, tmp_path, runner)
    for number in (str(2**31), str(2**63), "9" * 40):
        result = _sign_off(runner, "boss@east.example", version=number)
        assert result.exit_code == 2, (number, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "--version" in result.output
    assert _state(in_app)[0] is None  # nothing was signed off
