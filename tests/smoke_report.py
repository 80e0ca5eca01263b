"""The smoke report rendered end to end: ``./run_all.sh --profile smoke`` in a copy of the
repository, and the toy dataset a plugin module registers (``LTH_PLUGINS``) for it.

The copy (lthlib, notebooks, run_all.sh, pyproject.toml) lives under a temporary folder, with the
results, figures and data folders pointed there too, so a render touches nothing in the working
tree.  It uses the current environment (``VIRTUAL_ENV`` set, the copy first on ``PYTHONPATH``), so
nothing is installed.  conftest.py's ``smoke_report`` renders it once per session.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("lthlib", "notebooks"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("run_all.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, dest / name)


def errors(path: Path) -> list[str]:
    """The error outputs of an executed notebook, as 'name: value'."""
    nb = json.loads(path.read_text())
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"]
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@dataclass
class Render:
    """One ``run_all.sh --profile smoke`` under ``root``: the copy is ``root/repo``."""
    root: Path
    proc: subprocess.CompletedProcess
    started: float  # time.time() before it began

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def reports(self) -> Path:
        return self.repo / "reports" / "smoke"

    @property
    def figures(self) -> Path:
        return self.root / "figures" / "smoke"

    @property
    def results(self) -> Path:
        return self.root / "results" / "smoke"

    @property
    def tables(self) -> Path:
        return self.results / "tables"


def render_smoke_report(tmp_path: Path, args: list[str] = (), extra_env: dict | None = None) -> Render:
    """``./run_all.sh --profile smoke [args]`` in a copy of the repository under ``tmp_path``;
    ``extra_env``'s PYTHONPATH goes after the copy's."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_repo(repo)
    venv = Path(sys.executable).resolve().parent.parent
    extra_env = dict(extra_env or {})
    env = {**os.environ,
           "VIRTUAL_ENV": os.environ.get("VIRTUAL_ENV", str(venv)),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), extra_env.pop("PYTHONPATH", "")])),
           "LTH_RESULTS_DIR": str(tmp_path / "results"),
           "LTH_FIGURES_DIR": str(tmp_path / "figures"),
           "LTH_DATA_DIR": str(tmp_path / "data"),
           "MPLBACKEND": "Agg", **extra_env}
    started, start = time.time(), time.monotonic()
    proc = subprocess.run(["bash", "./run_all.sh", "--profile", "smoke", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=1800)
    elapsed = time.monotonic() - start
    print(proc.stdout[-3000:], proc.stderr[-3000:], f"run_all.sh --profile smoke {' '.join(args)}: "
          f"{elapsed:.0f} s", sep="\n")
    return Render(tmp_path, proc, started)


# ---------------------------------------------------------------------------------------------
# The toy dataset: a generated file, a parser, two classes, in a module no part of lthlib knows
# ---------------------------------------------------------------------------------------------

TOY_MODULE = "toy_dataset"
TOY_PLUGIN = '''
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


def write_toy_dataset(folder: Path) -> tuple[Path, Path]:
    """The toy files in a mirror (with SHA256SUMS) and the module that registers the dataset
    (:data:`TOY_MODULE`), under ``folder``: (mirror, folder of the module)."""
    mirror = folder / "mirror"
    (mirror / "toy").mkdir(parents=True)
    files = {"toy/train.tsv": _toy_lines(800, 0), "toy/test.tsv": _toy_lines(200, 1)}
    sums = []
    for relpath, text in files.items():
        (mirror / relpath).write_text(text)
        sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {relpath}")
    (mirror / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    shas = {name.split("/")[1].split(".")[0] + "_sha": line.split()[0] for name, line in zip(files, sums)}
    plugins = folder / "plugins"
    plugins.mkdir()
    (plugins / f"{TOY_MODULE}.py").write_text(TOY_PLUGIN.format(**shas))
    return mirror, plugins
