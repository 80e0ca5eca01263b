"""The results store: one folder per run, named by the hash of its configuration.

Layout under ``results/<profile>/``::

    runs/<config_hash>/config.json        the run key (what defines it) and the full configuration
    runs/<dense_hash>/theta0.pt           the initial weights, in the shared dense run's folder
    runs/<dense_hash>/theta_k_<iter>.pt   θk, the late-rewinding target after <iter> iterations
    runs/<dense_hash>/level_00/epoch_XX.pt the dense weights after each epoch (early-bird masks)
    runs/<config_hash>/level_XX/mask.pt   the mask trained at level XX (written before training)
    runs/<config_hash>/level_XX/checkpoint.pt   while level XX trains (deleted when done)
    runs/<config_hash>/level_XX/final.pt  the trained weights (trunks only: the next level prunes them)
    runs/<config_hash>/level_XX/metrics.json    the finished level: its runs.csv row, epochs, layers
    runs.csv, epochs.csv, layers.csv      tidy tables built from the metrics files
    status.csv                            which grid cells ran, and why others did not

``metrics.json`` is the source of truth: a level is done exactly when it exists.  The tidy
tables are updated under an exclusive file lock (two processes writing at once cannot corrupt
them) and can always be rebuilt from the metrics files with :meth:`Store.rebuild_tables`.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from typing import Iterator

import pandas as pd
import torch

from ..core.config import ExperimentConfig, fingerprint
from ..machine.files import atomic_write, load_torch, save_json
from ..machine.platform import results_dir

TABLES = ("runs", "epochs", "layers", "collapse", "mask_distance")
HASH_COLUMNS = {"config_hash": str, "trunk_hash": str, "shared_from": str}  # '0123' is no number
ROW_KEYS = ("config_hash", "level")  # one runs.csv row per trained network


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=HASH_COLUMNS)


def save_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda handle: frame.to_csv(handle, index=False))


class RunDir:
    """One run's folder, named by the hash of its key: what defines its results
    (:func:`lthlib.core.config.run_key`); ``config.json`` keeps the key and the full configuration."""

    def __init__(self, root: Path, key: dict, config: ExperimentConfig | None = None):
        self.key = key
        self.config = config
        self.hash = fingerprint(key)
        self.path = root / "runs" / self.hash

    def ensure(self) -> "RunDir":
        config_file = self.path / "config.json"
        if not config_file.exists():
            full = self.config.to_dict() if self.config is not None else None
            save_json({"config_hash": self.hash, "key": self.key, "config": full}, config_file)
        return self

    def level(self, level: int) -> Path:
        return self.path / f"level_{level:02d}"

    def file(self, level: int, name: str) -> Path:
        return self.level(level) / name

    def is_done(self, level: int) -> bool:
        return self.file(level, "metrics.json").exists()

    def metrics(self, level: int) -> dict:
        return json.loads(self.file(level, "metrics.json").read_text())


class Store:
    """All runs of one profile, and the tidy tables built from them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def of_profile(cls, profile: str) -> "Store":
        """The store of a profile: ``results/<profile>/`` (``LTH_RESULTS_DIR`` moves it)."""
        return cls(results_dir(profile))

    def run_dir(self, key: dict, config: ExperimentConfig | None = None) -> RunDir:
        return RunDir(self.root, key, config).ensure()

    # -- tables ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self.root / ".tables.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def table_path(self, name: str) -> Path:
        return self.root / f"{name}.csv"

    def record(self, metrics: dict) -> None:
        """Add one finished level's rows to the tidy tables (replacing any older copy)."""
        with self.locked():
            for name in TABLES:
                new = pd.DataFrame(_table_rows(metrics, name))
                if new.empty:
                    continue
                path = self.table_path(name)
                if path.exists():
                    old = read_csv(path)
                    same = (old["config_hash"] == metrics["row"]["config_hash"]) & (
                        old["level"] == metrics["row"]["level"])
                    new = pd.concat([old[~same], new], ignore_index=True)
                save_csv(new.sort_values(list(ROW_KEYS), kind="stable"), path)

    def rebuild_tables(self) -> None:
        """Rebuild runs/epochs/layers.csv from every metrics.json (after a crash or by hand)."""
        all_metrics = [json.loads(p.read_text()) for p in sorted(self.root.glob("runs/*/level_*/metrics.json"))]
        all_metrics = [m for m in all_metrics if m["row"]["arm"] != "dense"]  # shared, not an arm
        with self.locked():
            for name in TABLES:
                rows = [row for m in all_metrics for row in _table_rows(m, name)]
                if rows:
                    save_csv(pd.DataFrame(rows), self.table_path(name))
                else:  # a table no run has rows for yet is absent, as before any run
                    self.table_path(name).unlink(missing_ok=True)

    def table(self, name: str) -> pd.DataFrame:
        path = self.table_path(name)
        return read_csv(path) if path.exists() else pd.DataFrame()

    def runs(self) -> pd.DataFrame:
        return self.table("runs")

    def epochs(self) -> pd.DataFrame:
        return self.table("epochs")

    def layers(self) -> pd.DataFrame:
        return self.table("layers")

    def load_mask(self, config_hash: str, level: int) -> dict[str, torch.Tensor]:
        return load_torch(self.root / "runs" / config_hash / f"level_{level:02d}" / "mask.pt")

    # -- grid status ----------------------------------------------------------------------
    def record_status(self, rows: list[dict]) -> pd.DataFrame:
        """Merge (dataset, model, arm, seed) status rows: what ran, what was skipped and why."""
        keys = ["dataset", "model", "arm", "seed"]
        with self.locked():
            path = self.table_path("status")
            new = pd.DataFrame(rows)
            if path.exists() and not new.empty:
                old = read_csv(path)
                merged = old.merge(new[keys], on=keys, how="left", indicator=True)
                new = pd.concat([old[(merged["_merge"] == "left_only").to_numpy()], new],
                                ignore_index=True)
            if not new.empty:
                save_csv(new.sort_values(keys, kind="stable"), path)
            return new


def _table_rows(metrics: dict, name: str) -> list[dict]:
    row = metrics["row"]
    if name == "runs":
        return [row]
    ident = {k: row[k] for k in ("config_hash", "dataset", "model", "arm", "seed", "level")}
    return [{**ident, **item} for item in metrics.get(name, [])]
