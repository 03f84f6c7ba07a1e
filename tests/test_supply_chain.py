"""The supply chain is locked (issue 18 point 11; checklist G3, G4).

Production, CI and `make install` install from `requirements/*.txt`, with exact versions
and sha256 hashes, and the Node audit tools from a committed `tools/package-lock.json`.
These tests fail when someone adds or changes a dependency in `pyproject.toml` or
`tools/package.json` without regenerating the locks (README "Updating the locks").
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "requirements" / "base.txt"
DEV = ROOT / "requirements" / "dev.txt"
NPM_LOCK = ROOT / "tools" / "package-lock.json"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;[^\\]*)?$")


def _entries(lock: Path) -> list[str]:
    """The lock's requirement entries, each with its backslash continuations joined."""
    entries: list[str] = []
    current = ""
    for raw in lock.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.rstrip("\\").strip() if current else line.rstrip("\\").strip()
        if not line.endswith("\\"):
            entries.append(current)
            current = ""
    if current:
        entries.append(current)
    return entries


def _pins(lock: Path) -> dict[str, str]:
    """Canonical name -> locked version."""
    pins = {}
    for entry in _entries(lock):
        requirement = entry.split(" --hash=")[0].strip()
        match = PIN.match(requirement)
        assert match, f"{lock.name}: not an exact pin: {requirement!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


@pytest.mark.parametrize("lock", [BASE, DEV], ids=["base", "dev"])
def test_every_lock_line_is_an_exact_version_with_a_sha256_hash(lock):
    entries = _entries(lock)
    assert len(entries) > 20, f"{lock.name} looks empty"
    for entry in entries:
        assert not entry.startswith("-"), f"{lock.name}: an option, not a package: {entry!r}"
        requirement, _, hashes = entry.partition(" --hash=")
        assert PIN.match(requirement.strip()), f"{lock.name}: not pinned with ==: {entry!r}"
        assert hashes.startswith("sha256:"), f"{lock.name}: no sha256 hash: {requirement!r}"
        for digest in re.findall(r"--hash=(\S+)", entry):
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (lock.name, requirement, digest)


@pytest.mark.parametrize("lock", [BASE, DEV], ids=["base", "dev"])
def test_locks_point_at_no_local_folder_or_other_index(lock):
    """The hashes must be the registry's: a lock made with a machine's extra wheel
    folders or indexes would name them, and CI elsewhere could not install it."""
    text = lock.read_text(encoding="utf-8")
    for needle in ("--find-links", "--index-url", "--extra-index-url", "file://", "/opt/"):
        assert needle not in text, f"{lock.name} mentions {needle}"


def test_every_runtime_dependency_is_locked_in_both_locks_within_its_range():
    runtime, _ = _declared()
    for lock in (BASE, DEV):
        pins = _pins(lock)
        for requirement in runtime:
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement.name} is in pyproject.toml but not {lock.name}"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock.name} locks {name}=={pins[name]}, outside {requirement}"
            )


def test_every_dev_dependency_is_locked_in_the_dev_lock_within_its_range():
    _, dev = _declared()
    pins = _pins(DEV)
    for requirement in dev:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is a dev dependency but not in dev.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"dev.txt locks {name}=={pins[name]}, outside {requirement}"
        )


def test_the_dev_lock_installs_the_same_versions_as_production():
    """CI tests what production runs: every package in both locks has one version."""
    base, dev = _pins(BASE), _pins(DEV)
    assert set(base) <= set(dev), sorted(set(base) - set(dev))
    differing = {name: (base[name], dev[name]) for name in base if base[name] != dev[name]}
    assert not differing


def test_pillow_is_locked_at_a_patched_release():
    """Checklist G4: image decoding of untrusted uploads runs on Pillow 12.3 or later."""
    assert Version(_pins(BASE)["pillow"]) >= Version("12.3")
    assert Version(_pins(DEV)["pillow"]) >= Version("12.3")


def test_install_and_ci_use_the_locks():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements/dev.txt" in makefile
    assert "--no-deps" in makefile
    assert re.search(r"^\$\(VENV\)/\.installed: .*\$\(LOCKS\)", makefile, re.M)
    assert "bandit -r app -ll" in makefile  # checklist G3
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert any("npm ci" in line for line in commands)
    assert not any("npm install" in line for line in commands)
    production = (ROOT / "README.md").read_text(encoding="utf-8").split("## Production")[1]
    assert "pip install --require-hashes -r requirements/base.txt" in production
    assert "pip install --no-deps --no-build-isolation ." in production
    assert "setuptools" in _pins(BASE)  # the build backend, locked for that build


def test_the_npm_lock_pins_every_package_with_integrity_and_matches_package_json():
    lock = json.loads(NPM_LOCK.read_text(encoding="utf-8"))
    assert lock["lockfileVersion"] >= 2
    packages = lock["packages"]
    manifest = json.loads((ROOT / "tools" / "package.json").read_text(encoding="utf-8"))
    assert packages[""]["devDependencies"] == manifest["devDependencies"]
    installed = {path: entry for path, entry in packages.items() if path}
    assert len(installed) > 10
    for path, entry in installed.items():
        assert entry.get("version"), path
        assert str(entry.get("integrity", "")).startswith("sha512-"), f"{path}: no integrity"
    for name, version in manifest["devDependencies"].items():
        assert packages[f"node_modules/{name}"]["version"] == version


def test_every_bandit_exception_says_why_at_its_line():
    """Checklist G3: `make test` runs bandit with no baseline, so a false positive is
    marked where it is: ``# nosec`` with the check's id (a bare one silences every
    check on the line), and the line above is a comment saying why."""
    marks = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if "# nosec" in line:
                above = lines[number - 2].strip() if number > 1 else ""
                marks.append((f"{path.relative_to(ROOT).as_posix()}:{number}", line, above))
    assert marks, "the four reviewed Markup() lines carry # nosec B704"
    for where, line, above in marks:
        assert re.search(r"# nosec B\d{3}$", line), f"{where}: {line.strip()}"
        assert above.startswith("# ") and len(above) > 20, f"{where}: no reason above"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )


def test_the_npm_lock_is_committed_and_not_ignored():
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    assert _git("ls-files", "--error-unmatch", "tools/package-lock.json").returncode == 0
    for lock in ("tools/package-lock.json", "requirements/base.txt", "requirements/dev.txt"):
        # check-ignore exits 1 when the path is not ignored.
        assert _git("check-ignore", "-q", lock).returncode == 1, f"{lock} is git-ignored"
