"""The import rules of docs/architecture.md, checked on every module in app/.

Each module's imports are read with ``ast`` (nothing is imported). An import under
``if TYPE_CHECKING:`` is ignored: it never runs. Relative imports are resolved, and
``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else
``pkg``. An import inside a function is a real edge at run time, so it counts for every
rule, the cycle rule included; a report says when an edge is inside a function.

The rules:

* a view (a module in app/auth, app/patient, app/clinician or app/pwa) imports no
  ``app.models`` module and no other blueprint's modules;
* app/domain imports only the standard library and app.domain;
* app/models imports neither app.domain nor app.services;
* no cycle among the modules of app/.

The checker is also run on small made-up module trees that break each rule, so a
mistake in the checker cannot make the real-tree tests pass silently.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VIEW_PACKAGES = ("app.auth", "app.patient", "app.clinician", "app.pwa")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    path: str  # its file, relative to the root
    line: int
    target: str  # the imported module (or, outside app/, the imported name)
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.path}:{self.line} imports {self.target}{where}"


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def find_modules(root: Path, package: str = "app") -> dict[str, Path]:
    """Every module under root/package, by dotted name (a package by its own name)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _Reader(ast.NodeVisitor):
    def __init__(self, name: str, path: Path, root: Path, modules: dict[str, Path]):
        self.name = name
        self.rel = path.relative_to(root).as_posix()
        self.is_package = path.name == "__init__.py"
        self.modules = modules
        self.depth = 0
        self.found: list[Import] = []

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(Import(self.name, self.rel, node.lineno, target, self.depth > 0))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # only the else branch ever runs
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.name.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            self._add(node, candidate if candidate in self.modules else base)


def read_imports(root: Path, package: str = "app") -> tuple[dict[str, Path], list[Import]]:
    modules = find_modules(root, package)
    found: list[Import] = []
    for name, path in modules.items():
        reader = _Reader(name, path, root, modules)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(reader.found)
    return modules, found


def _view_package(name: str) -> str | None:
    return next((p for p in VIEW_PACKAGES if within(name, p)), None)


def view_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        own = _view_package(imp.source)
        if own is None:
            continue
        if within(imp.target, "app.models"):
            out.append(f"{imp}: a view may not import models")
        other = _view_package(imp.target)
        if other is not None and other != own:
            out.append(f"{imp}: a view may not import another blueprint ({other})")
    return out


def domain_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        if not within(imp.source, "app.domain"):
            continue
        top = imp.target.split(".")[0]
        if within(imp.target, "app.domain") or top in sys.stdlib_module_names:
            continue
        out.append(f"{imp}: app/domain may import only the standard library and app.domain")
    return out


def model_violations(imports: list[Import]) -> list[str]:
    return [
        f"{imp}: app/models may not import app.domain or app.services"
        for imp in imports
        if within(imp.source, "app.models")
        and (within(imp.target, "app.domain") or within(imp.target, "app.services"))
    ]


def lower_layer_violations(imports: list[Import]) -> list[str]:
    """Services and adapters sit below the web layer; adapters below services and models."""
    out = []
    web = (*VIEW_PACKAGES, "app.web", "app.push_devices")
    for imp in imports:
        if within(imp.source, "app.services") or within(imp.source, "app.adapters"):
            if any(within(imp.target, w) for w in web):
                out.append(f"{imp}: services and adapters may not import the web layer")
        if within(imp.source, "app.adapters") and (
            within(imp.target, "app.services") or within(imp.target, "app.models")
        ):
            out.append(f"{imp}: adapters may not import services or models")
    return out


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for child in graph[todo.pop()] - seen:
            seen.add(child)
            todo.append(child)
    return seen


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that each reach every other one (app/ is small: plain search)."""
    reach = {name: _reachable(name, graph) for name in graph}
    groups: list[list[str]] = []
    placed: set[str] = set()
    for name in sorted(graph):
        if name in placed or name not in reach[name]:
            continue
        group = sorted(m for m in reach[name] if name in reach[m])
        placed.update(group)
        groups.append(group)
    return groups


def _shortest_cycle(start: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return [start]


def cycles(modules: dict[str, Path], imports: list[Import]) -> list[str]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in imports:
        if imp.target in modules and imp.target != imp.source:
            graph[imp.source].add(imp.target)
            edges.setdefault((imp.source, imp.target), []).append(imp)
    out = []
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        path = _shortest_cycle(group[0], set(group), graph)
        steps = "; ".join(
            str(min(edges[(a, b)], key=lambda i: (i.in_function, i.line)))
            for a, b in zip(path, path[1:], strict=False)
        )
        out.append(f"cycle among {', '.join(group)}: {' -> '.join(path)} [{steps}]")
    return out


def _report(problems: list[str]) -> str:
    return "\n" + "\n".join(problems)


# The real tree.


@pytest.fixture(scope="module")
def real():
    return read_imports(ROOT)


def test_views_import_no_models_and_no_other_blueprint(real):
    problems = view_violations(real[1])
    assert problems == [], _report(problems)


def test_domain_imports_only_the_standard_library_and_itself(real):
    problems = domain_violations(real[1])
    assert problems == [], _report(problems)


def test_models_import_neither_domain_nor_services(real):
    problems = model_violations(real[1])
    assert problems == [], _report(problems)


def test_services_and_adapters_stay_below_the_web_and_adapters_below_services(real):
    problems = lower_layer_violations(real[1])
    assert problems == [], _report(problems)


def test_no_import_cycle_among_app_modules(real):
    problems = cycles(*real)
    assert problems == [], _report(problems)


# Each rule fires on a made-up tree that breaks it.


def _tree(tmp_path: Path, files: dict[str, str]) -> tuple[dict[str, Path], list[Import]]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for path in list((tmp_path / "app").rglob("*")):
        if path.is_dir() and not (path / "__init__.py").exists():
            (path / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "app" / "__init__.py").touch()
    return read_imports(tmp_path)


def test_a_view_importing_a_model_is_caught_however_it_is_written(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/models/user.py": "",
            "app/patient/routes.py": (
                "from app.models import user\n"
                "from ..models.user import User\n"
                "def page():\n"
                "    import app.models\n"
            ),
        },
    )
    problems = view_violations(imports)
    assert [p.split(":")[1].split()[0] for p in problems] == ["1", "2", "4"]
    assert "app/patient/routes.py:1 imports app.models.user" in problems[0]
    assert "(inside a function)" in problems[2]


def test_a_view_importing_another_blueprint_is_caught_but_its_own_is_not(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/patient/forms.py": "",
            "app/patient/routes.py": "from . import forms\nfrom app.clinician import routes\n",
            "app/clinician/routes.py": "",
        },
    )
    problems = view_violations(imports)
    assert len(problems) == 1
    assert "app/patient/routes.py:2 imports app.clinician.routes" in problems[0]


def test_domain_importing_outside_the_standard_library_is_caught(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/extensions.py": "",
            "app/domain/rules.py": (
                "from __future__ import annotations\n"
                "import datetime\n"
                "from . import wording\n"
                "import sqlalchemy\n"
                "from app import extensions\n"
            ),
            "app/domain/wording.py": "",
        },
    )
    problems = domain_violations(imports)
    assert len(problems) == 2
    assert "app/domain/rules.py:4 imports sqlalchemy" in problems[0]
    assert "app/domain/rules.py:5 imports app.extensions" in problems[1]


def test_models_importing_domain_or_services_are_caught(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/domain/hours.py": "",
            "app/services/audit.py": "",
            "app/models/clinic.py": (
                "from app.domain import hours\nfrom ..services.audit import record\n"
            ),
        },
    )
    problems = model_violations(imports)
    assert len(problems) == 2
    assert "app/models/clinic.py:1 imports app.domain.hours" in problems[0]
    assert "app/models/clinic.py:2 imports app.services.audit" in problems[1]


def test_type_checking_imports_are_ignored(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/services/audit.py": "",
            "app/models/user.py": (
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n"
                "    from app.services import audit\n"
                "if typing.TYPE_CHECKING:\n"
                "    import app.services.audit\n"
                "else:\n"
                "    import app.services.audit as runtime\n"
            ),
        },
    )
    problems = model_violations(imports)
    assert len(problems) == 1
    assert "app/models/user.py:8" in problems[0]


def test_a_cycle_is_caught_even_through_a_function_local_import(tmp_path):
    modules, imports = _tree(
        tmp_path,
        {
            "app/a.py": "from app import b\n",
            "app/b.py": "from .c import thing\n",
            "app/c.py": "def f():\n    from app.a import x\n",
            "app/d.py": "from app import a\n",
        },
    )
    problems = cycles(modules, imports)
    assert len(problems) == 1
    assert problems[0].startswith("cycle among app.a, app.b, app.c: app.a -> app.b -> app.c")
    assert "app/c.py:2 imports app.a (inside a function)" in problems[0]


def test_a_service_importing_a_view_or_an_adapter_importing_a_model_is_caught(tmp_path):
    _, imports = _tree(
        tmp_path,
        {
            "app/models/__init__.py": "",
            "app/web.py": "",
            "app/patient/routes.py": "",
            "app/services/x.py": "from app.patient import routes\nfrom app.web import y\n",
            "app/adapters/push.py": "from app.models import Patient\nfrom app import clock\n",
            "app/clock.py": "",
        },
    )
    problems = lower_layer_violations(imports)
    assert len(problems) == 3, problems
    assert sum("may not import services or models" in p for p in problems) == 1


def test_no_cycle_no_report(tmp_path):
    modules, imports = _tree(
        tmp_path,
        {"app/a.py": "from app import b\n", "app/b.py": "import json\n"},
    )
    assert cycles(modules, imports) == []


# ---------------------------------------------------------------- one clock

# Calls that read the system clock. app/clock.py is the one place allowed to make them,
# so pinning SCLERO_NOW pins every "now" in the app (issue 16 point 3).
CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}


def clock_reads(modules: dict[str, Path], root: Path = ROOT) -> list[str]:
    """Every call such as ``datetime.now()`` or ``time.time()`` outside app.clock."""
    found = []
    for name, path in sorted(modules.items()):
        if name == "app.clock":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in CLOCK_READS
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno} reads the system clock")
    return found


def test_only_app_clock_reads_the_system_clock(real):
    modules, _ = real
    assert not clock_reads(modules), _report(clock_reads(modules))


def test_a_clock_read_outside_app_clock_is_caught(tmp_path):
    modules, _ = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/clock.py": "import time\ndef now():\n    return time.time()\n",
            "app/services/__init__.py": "",
            "app/services/x.py": "from datetime import datetime\nT = datetime.now()\n",
        },
    )
    reads = clock_reads(modules, tmp_path)
    assert [p.split(":")[0] for p in reads] == ["app/services/x.py"]


# ---------------------------------------------------------------- module size

MAX_LINES = 400  # "small enough to read in one sitting" (issue 16 point 1)


def test_no_module_in_app_is_over_400_lines(real):
    modules, _ = real
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in sorted(modules.values())
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == [], _report(long)
