"""The report reads like a paper (issue #30): tables without pandas' index and in words, wide ones
cut to a readable width with a link to their CSV, bookkeeping in one closing section, pages titled
and their figures described, no widget state; and exploring the committed results read-only, or
an empty store, from a kernel."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

from lthlib.experiment.grid import Grid, listed
from lthlib.experiment.store import Store
from lthlib.machine import platform
from lthlib.report import notebook as report
from lthlib.report import render

matplotlib.use("Agg")


@pytest.fixture
def shown(monkeypatch):
    """What the notebook displays: tables (as frames), Markdown (as text)."""
    seen = {"tables": [], "text": []}
    monkeypatch.setattr(report, "_display_frame", lambda frame: seen["tables"].append(frame))
    monkeypatch.setattr(report, "_markdown", lambda text: seen["text"].append(text))
    report._BOOKKEEPING.clear()
    yield seen
    report._BOOKKEEPING.clear()


@pytest.fixture
def folders(monkeypatch, tmp_path):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.delenv("LTH_REPORT", raising=False)
    monkeypatch.delenv(platform.COMMITTED_ENV, raising=False)
    return tmp_path


def test_cells_read_in_words():
    assert [report.cell_text(v) for v in (True, np.bool_(False), np.nan, None, 76.1, 0.0004, 0.0, "x")] == \
        ["yes", "no", "–", "–", "76.10", "0.0004", "0.00", "x"]


def test_a_shown_table_has_no_index_words_for_values_and_links_its_wide_columns(shown, folders):
    wide = pd.DataFrame({"dataset": ["imdb"], "model": ["cnn"], "matches": [False],
                         **{f"c{i}": [float(i)] for i in range(12)}, "gap": [np.nan]})
    report.show_table(wide, "smoke", "wide")
    table = shown["tables"][0]
    assert len(table.columns) == report.MAX_SHOWN_COLUMNS and list(table.index) == [0]
    assert table.iloc[0]["dataset × model"] == "IMDb CNN" and table.iloc[0]["matches"] == "no"
    said = " ".join(shown["text"])
    assert "more columns" in said and "gap" in said and "](../results/smoke/tables/wide.csv)" not in said
    assert "wide.csv" in said                      # a link to the full table, relative to the page
    assert not [t for t in shown["text"] if t.startswith("saved")]   # bookkeeping waits for the closing section


def test_links_are_relative_to_the_page_that_shows_them(monkeypatch, folders):
    monkeypatch.setenv("LTH_RESULTS_DIR", "results")
    path = platform.results_dir("quick") / "tables" / "t.csv"
    assert report._link(path, "quick").endswith("(../results/quick/tables/t.csv)")        # notebooks/
    monkeypatch.setenv("LTH_REPORT", "1")
    assert report._link(path, "quick").endswith("(../../results/quick/tables/t.csv)")     # reports/quick/


def test_the_closing_section_holds_what_ran_and_what_was_written(shown, folders):
    report.show_table(pd.DataFrame({"a": [1]}), "smoke", "t")
    report.note("All 4 cells ran (status 'done').")
    assert shown["text"] == []
    grid = Grid.of("smoke", models=["cnn"])
    report.closing(grid)
    assert shown["text"][0] == "## About this run"
    body = shown["text"][1]
    assert "All 4 cells ran" in body and "t.csv" in body and "profile smoke" in body and "[" not in grid.describe()
    assert report._BOOKKEEPING == []


def test_what_training_prints_waits_for_the_closing_section(shown, folders, capsys):
    def train(cells, *, progress):
        print(f"SKIPPED imdb: no archive\ntrained 0 of {cells} networks ({cells} were in the store); none left")
        return cells

    assert report.noting_output(train, 4, progress=False) == 4
    assert capsys.readouterr().out == "" and shown["text"] == []
    assert report._BOOKKEEPING == ["SKIPPED imdb: no archive",
                                   "trained 0 of 4 networks (4 were in the store); none left"]


def test_the_selection_is_described_in_words_not_python_lists():
    assert listed([0, 1, 2, 3, 4]) == "0–4" and listed(["imdb", "ag_news"]) == "imdb, ag_news"
    assert listed([0, 2]) == "0, 2" and listed([]) == "none"


def _executed(tmp_path: Path) -> Path:
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "bar"}}
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    figure = nbformat.v4.new_output("display_data", data={"image/png": png},
                                    metadata={"image/png": {"alt": "Winning tickets: accuracy"}})
    bare = nbformat.v4.new_output("display_data", data={"image/png": png})
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 03 · Winning tickets\n\n**Question.** …"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.from_dict(widget), figure, bare])],
        metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    path = tmp_path / "03_winning_tickets.ipynb"
    nbformat.write(notebook, path)
    return path


def test_a_page_is_titled_its_figures_described_and_its_widgets_gone(tmp_path):
    html = render.export_html(_executed(tmp_path)).read_text()
    assert "<title>03 · Winning tickets</title>" in html
    assert 'alt="Winning tickets: accuracy"' in html and 'alt="03 · Winning tickets: figure 2"' in html
    assert "No description has been provided" not in html
    saved = nbformat.read(tmp_path / "03_winning_tickets.ipynb", as_version=4)
    assert "widgets" not in saved.metadata and len(saved.cells[1].outputs) == 2


def test_show_figure_gives_the_figure_its_title_as_alt_text(monkeypatch, folders):
    import matplotlib.pyplot as plt
    given = {}
    monkeypatch.setattr(report, "_display", lambda obj, metadata=None: given.update(metadata or {}))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.suptitle("Winning tickets: test accuracy vs weights remaining")
    report.show_figure(fig, "smoke", "acc")
    assert given["image/png"]["alt"] == "Winning tickets: test accuracy vs weights remaining"


# -- exploring from a kernel ------------------------------------------------------------------

def _kernel(monkeypatch, committed: bool) -> None:
    monkeypatch.setattr(platform, "in_jupyter_kernel", lambda: True)
    if committed:
        monkeypatch.setenv(platform.COMMITTED_ENV, "1")


def test_reading_the_committed_results_trains_nothing_and_writes_scratch(monkeypatch, folders, shown):
    grid = Grid.of("smoke", models=["cnn"], seeds=[0])
    committed = Store(folders / "results" / "smoke")
    cells = grid.expected()[["dataset", "model", "arm", "seed"]].assign(status="done", reason="", levels_done=4)
    committed.root.mkdir(parents=True, exist_ok=True)
    cells.to_csv(committed.table_path("status"), index=False)
    _kernel(monkeypatch, committed=True)
    monkeypatch.setattr(Grid, "run", lambda *a, **k: pytest.fail("a read-only kernel trained"))
    assert platform.reading_committed() and report.store("smoke").root == committed.root
    status = report.run_arms(grid)
    assert list(status["status"]) == ["done"] * len(cells)
    assert platform.results_dir("smoke").name == "smoke-scratch"       # its tables go to scratch
    assert "nothing trained" in " ".join(report._BOOKKEEPING)


def test_reading_committed_needs_a_kernel(monkeypatch, folders):
    monkeypatch.setenv(platform.COMMITTED_ENV, "1")          # a shell (lth run, run_all.sh) ignores it
    assert not platform.reading_committed()
    assert platform.read_dir("smoke") == platform.results_dir("smoke")


def test_a_notebook_on_an_empty_store_says_what_to_run(monkeypatch, folders):
    _kernel(monkeypatch, committed=False)
    grid = Grid.of("smoke", models=["cnn"], seeds=[0])
    with pytest.raises(report.NothingToShow) as error:
        report.load_results(grid)
    message = str(error.value)
    assert "smoke-scratch" in message and "lth run --profile smoke" in message
    assert f"%env {platform.COMMITTED_ENV}=1" in message


def test_lth_lab_committed_sets_the_kernels_environment_and_passes_the_rest(monkeypatch):
    from lthlib import cli
    from lthlib.report import lab
    given = {}
    monkeypatch.delenv(platform.COMMITTED_ENV, raising=False)
    monkeypatch.setattr(lab, "main", lambda args: given.setdefault("args", args) and 0)
    cli.main(["lab", "--committed", "--no-browser", "--port", "8899"])
    assert given["args"] == ["--no-browser", "--port", "8899"]
    import os
    assert os.environ[platform.COMMITTED_ENV] == "1"
    monkeypatch.delenv(platform.COMMITTED_ENV)


def test_items_under_a_heading_line_nest_under_it():
    assert report.as_list(["Primary family:", "- (a) ticket − dense", "- (b) ticket − re-init", "Every other row"]) \
        == ["- Primary family:", "  - (a) ticket − dense", "  - (b) ticket − re-init", "- Every other row"]
    assert report.as_list(["- a", "- b"]) == ["- a", "- b"]
