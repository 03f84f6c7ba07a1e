"""Every benchmark script still imports after code moves (they are run by hand, not by
the suite, so a stale import would otherwise go unnoticed until someone measures)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
# pages_wsgi builds the production app from wsgi.py at import, which needs a deployed
# configuration; bench/pages.py starts it in its own process with that configuration.
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in ("__init__", "pages_wsgi"))


def test_the_scripts_are_found():
    assert {"today_page", "push_fanout", "photo_ingest", "clinician_dashboard"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_script_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(getattr(module, "main", None)), f"bench/{name}.py has no main()"
