"""An executed notebook as the HTML page a reader sees: no code (one link away, to the notebook's
script), a short "run with" line of the parameters papermill injected, and a page whose tables
scroll inside it rather than widen it.  ``run_all.sh`` and ``lth report`` both call
:func:`export_html`; ``python -m lthlib.report.export NOTEBOOK.ipynb`` is the shell's way in.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

#: the page's reading width; tables and long lines scroll within it instead of widening it
STYLE = """<style>
body { max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon table, .rendered_html table { display: block; max-width: 100%; overflow-x: auto;
  font-size: 0.85em; }
.jp-OutputArea-output pre { white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; }
.lth-run-with { color: #555; font-size: 0.9em; border-bottom: 1px solid #ddd; padding-bottom: 0.5em; }
</style>
"""


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


def export_html(executed: Path | str) -> Path:
    """Write ``executed`` (an .ipynb) as HTML beside it, without code; return the HTML's path."""
    from nbconvert import HTMLExporter
    executed = Path(executed)
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells.insert(1 if notebook.cells and notebook.cells[0].cell_type == "markdown" else 0,
                          header_cell(notebook, executed.stem))
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    html = executed.with_suffix(".html")
    html.write_text(body.replace("</head>", STYLE + "</head>", 1), encoding="utf-8")
    return html


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m lthlib.report.export EXECUTED.ipynb [...]", file=sys.stderr)
        return 2
    for path in paths:
        export_html(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
