"""The package's shape: wings import only the wings below them, and no module imports itself
back through a circle.  Every import counts: module-level, inside functions and under
``TYPE_CHECKING``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lthlib"
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
    parts = name.split(".")
    return "cli" if parts[1:] == ["cli"] else parts[1] if len(parts) > 1 else ""


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
