"""The notebooks: each percent-format script ``notebooks/NN_name.py`` (the source of truth) and the
``.ipynb`` papermill runs hold the same cells; every notebook has a ``parameters`` cell, is
stored without outputs, and keeps its logic in lthlib."""
from __future__ import annotations

import ast
import shutil
import tomllib
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SYNC_HINT = "run .venv/bin/jupytext --sync notebooks/{name}.py"


def scripts() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def cells(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every cell of a notebook, read from either side of a pair."""
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def pair_differences(script: Path) -> list[str]:
    """How the script and its .ipynb differ (empty when they are in sync)."""
    paired = script.with_suffix(".ipynb")
    if not paired.exists():
        return [f"{paired.name} is missing"]
    left, right = cells(script), cells(paired)
    out = []
    if len(left) != len(right):
        out.append(f"{script.name} has {len(left)} cells, {paired.name} {len(right)}")
    for index, (a, b) in enumerate(zip(left, right)):
        for what, x, y in zip(("type", "source", "tags"), a, b):
            if x != y:
                out.append(f"cell {index}: different {what} ({x!r:.60} vs {y!r:.60})")
    return out


def parameters_cells(path: Path) -> list[str]:
    return [source for kind, source, tags in cells(path) if kind == "code" and "parameters" in tags]


def test_every_notebook_is_a_pair():
    assert scripts(), "no notebooks/NN_name.py found"
    assert {p.stem for p in scripts()} == {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    config = tomllib.loads((NOTEBOOKS / "jupytext.toml").read_text())
    assert config["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_pair_is_in_sync(script):
    differences = pair_differences(script)
    assert not differences, "\n".join([*differences, SYNC_HINT.format(name=script.stem)])


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_with_the_profile(script):
    found = parameters_cells(script)
    assert len(found) == 1, f"{script.name}: {len(found)} cells tagged 'parameters'"
    assigned = {target.id for node in ast.parse(found[0]).body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert "profile" in assigned


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(script):
    notebook = jupytext.read(script.with_suffix(".ipynb"))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{script.name}: outputs stored"


LOGIC = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Try, ast.Lambda)


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_notebook_holds_no_logic(script):
    """Definitions, loops and branches belong in lthlib; a notebook calls it."""
    for kind, source, _ in cells(script):
        if kind != "code":
            continue
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
        found = sorted({type(node).__name__ for node in ast.walk(ast.parse(code)) if isinstance(node, LOGIC)})
        assert not found, f"{script.name}: {found} in a cell starting {source.splitlines()[0]!r}"


def _copy_pair(tmp_path: Path) -> Path:
    script = scripts()[0]
    shutil.copy(script, tmp_path / script.name)
    shutil.copy(script.with_suffix(".ipynb"), tmp_path / script.with_suffix(".ipynb").name)
    shutil.copy(NOTEBOOKS / "jupytext.toml", tmp_path / "jupytext.toml")
    return tmp_path / script.name


def test_an_edited_script_is_out_of_sync(tmp_path):
    script = _copy_pair(tmp_path)
    assert pair_differences(script) == []
    text = script.read_text()
    script.write_text(text.replace('profile = "smoke"', 'profile = "quick"', 1))
    assert any("different source" in d for d in pair_differences(script))
    script.write_text(text + '\n# %%\nprint("one more cell")\n')
    assert any("cells" in d for d in pair_differences(script))


def test_a_lost_parameters_tag_is_out_of_sync(tmp_path):
    script = _copy_pair(tmp_path)
    notebook = script.with_suffix(".ipynb")
    notebook.write_text(notebook.read_text().replace('"parameters"', '"other"'))
    assert any("different tags" in d for d in pair_differences(script))
    assert parameters_cells(notebook) == []
    notebook.unlink()
    assert pair_differences(script) == [f"{notebook.name} is missing"]


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(script):
    """papermill's parser skips a line it cannot read (an '=' in its comment, say), and then
    neither ``papermill --help-notebook`` nor type inference knows that parameter."""
    import nbformat
    from papermill.translators import PythonTranslator
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets]
    assert [p.name for p in PythonTranslator.inspect(cell)] == assigned
