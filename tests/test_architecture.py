"""The package's shape: wings import only the wings below them, and no module imports itself
back through a circle (every import counts: module-level, inside functions and under
``TYPE_CHECKING``); no module is over the line budget; every package's docstring names its
modules; no two modules outside the command line share a name."""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGE = REPOSITORY / "lthlib"
#: Each wing and the wings it may import (its own always).  README "Layout" draws the same.
MAY_IMPORT = {
    "core": set(),
    "machine": {"core"},
    "data": {"core", "machine"},
    "nets": {"core", "machine", "data"},
    "experiment": {"core", "machine", "data", "nets"},
    "run": {"core", "machine", "data", "nets", "experiment"},
    "deploy": {"core", "machine", "data", "nets", "experiment"},
    "report": {"core", "machine", "data", "nets", "experiment"},
    "cli": {"core", "machine", "data", "nets", "experiment", "run", "deploy", "report"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The lthlib modules ``path`` imports, resolved to module names (a package's own name when
    it imports names from its ``__init__``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.startswith("lthlib")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("lthlib"):
                continue
            for alias in node.names:  # 'from .nets import masks' imports the module lthlib.nets.masks
                candidate = f"{base}.{alias.name}"
                out.add(candidate if _is_module(candidate) else base)
    return out - {name}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def wing(name: str) -> str:
    """The wing of a module: the package under lthlib it lives in (every ``lthlib.cli.*`` is cli)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {module_name(p): imported_modules(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_lives_in_a_wing():
    loose = [m for m in GRAPH if m != "lthlib" and wing(m) not in MAY_IMPORT]
    assert not loose, f"modules outside every wing: {loose}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "lthlib"))
def test_a_wing_imports_only_the_wings_below_it(module):
    allowed = MAY_IMPORT[wing(module)] | {wing(module)}
    bad = sorted(m for m in GRAPH[module] if wing(m) not in allowed)
    assert not bad, f"{module} ({wing(module)}) imports {bad}; it may import {sorted(allowed)}"


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports), or None (depth-first)."""
    state: dict[str, int] = {}   # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        path.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (circle := visit(module)):
            return circle
    return None


def test_no_module_imports_itself_back_through_a_circle():
    circle = find_circle(GRAPH)
    assert circle is None, f"import circle: {' -> '.join(circle)}"


def test_the_checker_sees_relative_imports_and_circles():
    """The checks above would catch what they claim: resolved names, and a planted circle."""
    assert "lthlib.nets.masks" in GRAPH["lthlib.experiment.runner"]
    assert "lthlib.machine.platform" in GRAPH["lthlib.machine.executors.local"]
    planted = {**GRAPH, "lthlib.nets.masks": GRAPH["lthlib.nets.masks"] | {"lthlib.experiment.runner"}}
    assert find_circle(planted) is not None
    assert wing("lthlib.experiment.runner") not in MAY_IMPORT["nets"]


# -- size and names ------------------------------------------------------------------------------

#: No module longer than this many lines: a longer one is split by subject into a package.
MAX_LINES = 450
#: The folders whose modules the budget holds for.
BUDGETED = ("lthlib", "benchmarks", "tools", "tests")


BUDGETED_MODULES = sorted(p.relative_to(REPOSITORY).as_posix() for folder in BUDGETED
                          for p in (REPOSITORY / folder).rglob("*.py"))


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", BUDGETED_MODULES)
def test_no_module_is_over_the_line_budget(path):
    lines = line_count(REPOSITORY / path)
    assert lines <= MAX_LINES, f"{path} has {lines} lines, over the budget of {MAX_LINES}: split it by subject"


def package_members(package: Path) -> list[str]:
    """The names of a package's modules and sub-packages (its ``__init__`` aside)."""
    modules = [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    packages = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    return sorted(modules + packages)


def names_member(docstring: str, package: str, member: str) -> bool:
    """Does ``docstring`` name ``member``: a line of a listing that starts with it (``    name   what
    it holds``, ``- name``), or its full dotted name (``:mod:`lthlib.deploy.stored```)?"""
    listed = re.search(rf"^\s*(?:- )?{re.escape(member)}\s", docstring, re.MULTILINE)
    return bool(listed) or f"{package}.{member}" in docstring


PACKAGES = sorted(p.parent for p in PACKAGE.rglob("__init__.py"))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: module_name(p / "__init__.py"))
def test_every_package_docstring_names_its_modules(package):
    name = module_name(package / "__init__.py")
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    unnamed = [m for m in package_members(package) if not names_member(docstring, name, m)]
    assert not unnamed, f"{name}'s docstring does not name {unnamed}: a line each on what it holds"


def shared_names(modules) -> dict[str, list[str]]:
    """Last name -> the modules and packages that share it, outside lthlib.cli (whose modules are
    named after the ``lth`` commands they run: ``lth carry`` is ``lthlib.cli.carry``)."""
    where = defaultdict(list)
    for name in sorted(modules):
        if name != "lthlib" and wing(name) != "cli":
            where[name.rpartition(".")[2]].append(name)
    return {short: names for short, names in where.items() if len(names) > 1}


def test_no_two_modules_share_a_name():
    """Distinct names for distinct things: two modules named alike are two things a reader confuses."""
    shared = shared_names(GRAPH)
    assert not shared, f"modules that share a name: {shared}"


def test_the_budget_and_naming_checks_would_catch_what_they_claim():
    assert {"lthlib/cli/__init__.py", "benchmarks/bench_training.py", "tools/screenshots.py",
            "tests/test_architecture.py"} <= set(BUDGETED_MODULES)
    assert wing("lthlib.cli.run") == "cli" and wing("lthlib.run.campaign") == "run"
    planted = [*GRAPH, "lthlib.report.overlap"]
    assert shared_names(planted)["overlap"] == ["lthlib.experiment.overlap", "lthlib.report.overlap"]
    assert shared_names(["lthlib.cli.carry", "lthlib.run.carry"]) == {}
    assert names_member("    stored   a stored level", "lthlib.deploy", "stored")
    assert names_member("- :mod:`~lthlib.deploy.stored`  find", "lthlib.deploy", "stored")
    assert not names_member("what stored levels hold", "lthlib.deploy", "stored")
    assert not names_member("    storedx  a stored level", "lthlib.deploy", "stored")
