"""Adding a dataset is one step: a module that registers it.  This test's toy dataset lives in a
module the test writes (a generated file, a parser, two classes); no module of lthlib changes.
It runs through the library in-process, then through the whole smoke report (notebooks
included) in a copy of the repository, where ``LTH_PLUGINS`` makes every process load it."""
from __future__ import annotations

import hashlib
import importlib
import json
import random
import sys

import pytest

from lthlib.data.datasets import DATASETS
from lthlib.data.sources import SOURCES

PLUGIN = '''
from pathlib import Path

from lthlib.data.datasets import DATASETS, Dataset, Protocol, RawExample, given_split, read_files
from lthlib.data.sources import SOURCES, Source


def read_toy(path: Path, split: str) -> list[RawExample]:
    """One example a line: '<label>\\t<text>'."""
    rows = [line.split("\\t", 1) for line in path.read_text().splitlines() if line]
    return [RawExample(text, int(label), split, (i,)) for i, (label, text) in enumerate(rows)]


for name, sha in (("train.tsv", "{train_sha}"), ("test.tsv", "{test_sha}")):
    SOURCES.register(Source("toy", name, f"https://example.invalid/toy/{{name}}", sha256=sha))
DATASETS.register(Dataset("toy", "Toy weather", classes=lambda cfg: ["cold", "hot"],
                          read=read_files(read_toy),
                          protocols=(Protocol("given", ("toy/train.tsv", "toy/test.tsv"), given_split),)))
'''


def _toy_lines(n: int, seed: int) -> str:
    rng = random.Random(seed)
    cues = (["freezing", "snow", "ice", "chilly"], ["sunny", "heat", "warm", "scorching"])
    noise = [f"w{i}" for i in range(60)]
    lines = []
    for _ in range(n):
        label = rng.randrange(2)
        words = rng.choices(noise, k=rng.randint(6, 20)) + rng.choices(cues[label], k=2)
        rng.shuffle(words)
        lines.append(f"{label}\t{' '.join(words)}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """The toy files in a mirror, and the module that registers the dataset, on sys.path."""
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    files = {"toy/train.tsv": _toy_lines(800, 0), "toy/test.tsv": _toy_lines(200, 1)}
    sums = []
    for relpath, text in files.items():
        (mirror / relpath).write_text(text)
        sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {relpath}")
    (mirror / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    shas = {name.split("/")[1].split(".")[0] + "_sha": line.split()[0] for name, line in zip(files, sums)}
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_dataset.py").write_text(PLUGIN.format(**shas))
    monkeypatch.syspath_prepend(str(plugins))
    monkeypatch.setenv("LTH_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LTH_PLUGINS", "toy_dataset")
    yield plugins
    DATASETS.unregister("toy")
    for name in ("train.tsv", "test.tsv"):
        SOURCES.unregister(f"toy/{name}")
    sys.modules.pop("toy_dataset", None)


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
def test_a_registered_dataset_runs_through_the_whole_smoke_report(toy_plugin, tmp_path):
    run_all = importlib.import_module("test_run_all")
    result = run_all.run_smoke_report(tmp_path, ["-p", "datasets", '["toy"]', "-p", "models", '["cnn"]',
                                                 "-p", "seeds", "[0, 1]"],
                                      extra_env={"PYTHONPATH": str(toy_plugin)})
    assert result.returncode == 0, result.stderr[-3000:]
    reports = tmp_path / "repo" / "reports" / "smoke"
    for notebook in sorted(reports.glob("*.ipynb")):
        assert not run_all.errors(notebook), f"{notebook.name}: {run_all.errors(notebook)}"
    dense = (tmp_path / "results" / "smoke" / "tables" / "dense_accuracy.md").read_text()
    assert "| toy | cnn | 2 |" in dense                       # tables keep the registered name
    for notebook in ("00_data_prep", "05_analysis", "06_tickets_without_the_full_price"):
        shown = json.dumps(json.loads((reports / f"{notebook}.ipynb").read_text()))
        assert "Toy weather" in shown, notebook              # readers see its display name
    assert "synthetic" not in (tmp_path / "results" / "smoke" / "runs.csv").read_text()
