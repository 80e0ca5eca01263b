"""pyproject.toml is the one list of dependencies; environment.yml must agree with it."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + project["optional-dependencies"]["test"]
    return {Requirement(r).name.lower(): Requirement(r) for r in names}


def environment_pip_lines() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\s*- pip:\s*$", line))
    return [re.sub(r"^\s*-\s*", "", line) for line in lines[start + 1:] if line.strip().startswith("-")]


def test_environment_installs_the_package_itself():
    assert "-e .[test]" in environment_pip_lines()


def test_environment_lists_exactly_the_pyproject_dependencies_with_compatible_pins():
    ours = pyproject_requirements()
    theirs = {Requirement(line).name.lower(): Requirement(line)
              for line in environment_pip_lines() if not line.startswith("-e")}
    assert set(theirs) == set(ours), f"differ: {set(theirs) ^ set(ours)}"
    for name, req in theirs.items():
        pinned = [Version(s.version) for s in req.specifier]
        assert pinned, f"{name} has no version in environment.yml"
        for version in pinned:
            assert ours[name].specifier.contains(version), (
                f"environment.yml's {name} {req.specifier} falls outside pyproject's {ours[name].specifier}")


def test_ci_calls_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert "./run_all.sh --test" in readme and "./run_all.sh --test" in ci
