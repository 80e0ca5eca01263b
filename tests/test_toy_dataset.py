"""Adding a dataset is one step: a module that registers it.  The toy dataset lives in a module
the tests write (smoke_report.py: a generated file, a parser, two classes); no module of lthlib
changes.  It runs through the library in-process, then through the whole smoke report (notebooks
included; conftest.py's session render, shared with test_run_all.py) in a copy of the repository,
where ``LTH_PLUGINS`` makes every process load it."""
from __future__ import annotations

import json
import sys

import pytest

from lthlib.data.datasets import DATASETS
from lthlib.data.sources import SOURCES

from smoke_report import TOY_MODULE, errors, write_toy_dataset


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """The toy files in a mirror, and the module that registers the dataset, on sys.path."""
    mirror, plugins = write_toy_dataset(tmp_path)
    monkeypatch.syspath_prepend(str(plugins))
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LTH_PLUGINS", TOY_MODULE)
    yield plugins
    DATASETS.unregister("toy")
    for name in ("train.tsv", "test.tsv"):
        SOURCES.unregister(f"toy/{name}")
    sys.modules.pop(TOY_MODULE, None)


def test_a_registered_dataset_runs_through_the_library(toy_plugin, tmp_path):
    from lthlib.core.registry import load_plugins
    from lthlib.experiment.grid import Grid
    from lthlib.experiment.store import Store
    from lthlib.machine.platform import plugin_modules
    load_plugins(plugin_modules())
    assert "toy" in DATASETS
    store = Store(tmp_path / "results")
    grid = Grid.of("smoke", ["toy"], ["cnn"], ["winning_ticket", "random_reinit"], [0], epochs=2, levels=1)
    status = grid.run(store=store, progress=False, workers=1)
    assert status["status"].tolist() == ["done", "done"]
    runs = store.runs()
    assert set(runs["dataset"]) == {"toy"} and len(runs) == 4
    assert runs.query("level == 0")["test_acc"].iloc[0] > 0.8     # the cue words make it easy


@pytest.mark.slow
def test_a_registered_dataset_runs_through_the_whole_smoke_report(smoke_report):
    assert smoke_report.proc.returncode == 0, smoke_report.proc.stderr[-3000:]
    reports = smoke_report.reports
    for notebook in sorted(reports.glob("*.ipynb")):
        assert not errors(notebook), f"{notebook.name}: {errors(notebook)}"
    dense = (smoke_report.tables / "dense_accuracy.md").read_text()
    assert "| toy | cnn | 2 |" in dense                       # tables keep the registered name
    for notebook in ("00_data_prep", "05_analysis", "06_tickets_without_the_full_price"):
        shown = json.dumps(json.loads((reports / f"{notebook}.ipynb").read_text()))
        assert "Toy weather" in shown, notebook              # readers see its display name
    assert "synthetic" not in (smoke_report.results / "runs.csv").read_text()
