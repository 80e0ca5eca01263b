"""Rendering the report: the notebooks executed by papermill into reports/<profile>/, each then
written as the HTML page a reader sees.

The page has no code (one link away, to the notebook's script), a short "run with" line of the
parameters papermill injected, and tables that scroll inside it rather than widen it.
``lth report`` calls :func:`render_report`; ``run_all.sh`` runs papermill itself and then
``python -m lthlib.report.render NOTEBOOK.ipynb`` (:func:`export_html`).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import nbformat

from ..core.config import ConfigError
from ..core.parameters import as_list
from ..machine.platform import REPORT_ENV, ROOT

NOTEBOOK_PATTERN = "0*_*.ipynb"

#: the page's reading width; tables and long lines scroll within it instead of widening it
STYLE = """<style>
body { max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon table, .rendered_html table { display: block; max-width: 100%; overflow-x: auto;
  font-size: 0.85em; }
.jp-OutputArea-output pre { white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }
.lth-run-with { color: #555; font-size: 0.9em; border-bottom: 1px solid #ddd; padding-bottom: 0.5em; }
</style>
"""


class NotebookFailed(Exception):
    """A notebook's cell raised; the message names the notebook, the cell, the error and the
    executed copy that holds it."""


def render_report(profile: str, parameters: dict[str, Any], only: str | None) -> Path:
    """Execute the report's notebooks (all, or ``only`` those: :func:`select_notebooks`) with
    ``parameters`` into reports/<profile>/ and write each one's HTML beside it; return the folder
    (relative to the repository root).  The kernels write the report's folders, not a scratch one."""
    notebooks = select_notebooks(ROOT / "notebooks", only)
    reports = Path("reports") / profile  # relative: papermill records the paths in the notebook
    os.environ[REPORT_ENV] = "1"
    with contextlib.chdir(ROOT):
        reports.mkdir(parents=True, exist_ok=True)
        for notebook in notebooks:
            print(f"lth: [{profile}] {notebook.name}", flush=True)
            output = reports / notebook.name
            execute(Path("notebooks") / notebook.name, output, parameters)
            export_html(output)
    return reports


def select_notebooks(folder: Path, only: str | None) -> list[Path]:
    """The report's notebooks in order, or those ``only`` names by number ('03', '3') or name."""
    notebooks = sorted(folder.glob(NOTEBOOK_PATTERN))
    wanted = as_list(only)
    if not wanted:
        return notebooks
    have = ", ".join(n.stem for n in notebooks)
    unknown = [w for w in wanted if not any(_names(n, w) for n in notebooks)]
    if unknown:
        raise ConfigError(f"--only {', '.join(unknown)} matches no notebook; have: {have}")
    return [n for n in notebooks if any(_names(n, w) for w in wanted)]


def _names(notebook: Path, wanted: str) -> bool:
    return wanted in (notebook.stem, notebook.name) or wanted.zfill(2) == notebook.stem[:2]


def execute(notebook: Path, output: Path, parameters: dict[str, Any]) -> None:
    """papermill, run in the notebooks folder; a failing cell becomes a NotebookFailed saying which."""
    import papermill
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   cwd=str(notebook.parent), progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(failure_message(notebook.name, output, error)) from None


def failure_message(name: str, output: Path, error) -> str:
    """Which notebook, cell and error, and where the executed copy with the error is."""
    lines = str(error.source or "").strip().splitlines()
    return (f"notebook {name} failed at cell {error.cell_index} (In [{error.exec_count}]): "
            f"{lines[0] if lines else ''}\nlth: {error.ename}: {error.evalue}\n"
            f"lth: the executed copy with the error is {output}")


def run_with(notebook: nbformat.NotebookNode) -> str:
    """The parameters papermill injected, as ``name=value`` pairs (empty when none were)."""
    parameters = notebook.metadata.get("papermill", {}).get("parameters", {})
    return ", ".join(f"{name}={value!r}" for name, value in parameters.items())


def header_cell(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A first cell: the run's parameters and where its code is (relative to reports/<profile>/)."""
    script = f"../../notebooks/{name}.py"
    parts = [f"Run with {run_with(notebook)}" if run_with(notebook) else "",
             f'code: <a href="{script}">notebooks/{name}.py</a> (the report hides it)']
    text = " · ".join(part for part in parts if part)
    return nbformat.v4.new_markdown_cell(f'<div class="lth-run-with">{text}</div>')


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def notebook_title(notebook: nbformat.NotebookNode, default: str) -> str:
    """The first Markdown heading of the notebook (its title), else ``default``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return default


def without_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without live widgets (progress bars): their state is kilobytes of JSON that
    renders blank offline, and the report's pages say what ran in words."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if WIDGET_VIEW not in out.get("data", {})]
    return notebook


def image_alts(notebook: nbformat.NotebookNode, title: str) -> list[str]:
    """Each image's alt text in page order: the figure's own title where the notebook gave one
    (:func:`lthlib.report.notebook.show_figure` puts it in the output's metadata), else the
    page's title and the figure's number."""
    alts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                given = out.get("metadata", {}).get("image/png", {}).get("alt")
                alts.append(given or f"{title}: figure {len(alts) + 1}")
    return alts


def with_alts(html: str, alts: list[str]) -> str:
    """The page with ``alts`` on its PNG images, in order (nbconvert's lab template writes a
    placeholder for every one)."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(html, features="html.parser")
    for image, alt in zip(soup.select('img[src^="data:image/png"]'), alts):
        image["alt"] = alt
    return str(soup)


def export_html(executed: Path | str) -> Path:
    """Write ``executed`` (an .ipynb) as HTML beside it, without code, titled by its first heading,
    every figure described; the .ipynb itself loses its widget state.  Return the HTML's path."""
    from nbconvert import HTMLExporter
    executed = Path(executed)
    notebook = without_widgets(nbformat.read(executed, as_version=4))
    nbformat.write(notebook, executed)
    title = notebook_title(notebook, executed.stem)
    notebook.metadata["title"] = title
    notebook.cells.insert(1 if notebook.cells and notebook.cells[0].cell_type == "markdown" else 0,
                          header_cell(notebook, executed.stem))
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    body = with_alts(body, image_alts(notebook, title))
    html = executed.with_suffix(".html")
    html.write_text(body.replace("</head>", STYLE + "</head>", 1), encoding="utf-8")
    return html


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m lthlib.report.render EXECUTED.ipynb [...]", file=sys.stderr)
        return 2
    for path in paths:
        export_html(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
