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
    predictions.csv                       each level's predicted class of every test example
                                          (one character per example: '0' + class)
    test_labels.csv                       the true classes of each test set, by its data_hash
    status.csv                            which grid cells ran, and why others did not

``metrics.json`` is the source of truth and the completion marker: a level is done exactly when
it exists **and parses** (it is written last, atomically: temporary name, flushed, ``os.replace``).
A damaged one (truncated by a partial copy between hosts, say) is reported (once) and its level
trained again, to the same numbers; a damaged checkpoint restarts its level; a damaged or missing
weight file or mask a finished level left is a :class:`~lthlib.machine.files.DamagedFile` naming it
and the fix.  A damaged tidy table (garbage, cut short) is rebuilt from the runs' files.

A store may sit on a filesystem many hosts share (NFS).  Every run writes only its own folder;
while a process trains a level it holds that level's claim (``level_XX/.claim``, an exclusive
``fcntl`` lock the kernel or the NFS lock manager drops when the process dies), so a second
process asking for the same level waits, then finds it done: nothing is trained twice.  The tidy
tables are never appended to by workers: the process that coordinates a grid (or ``lth tables``)
merges the runs' ``metrics.json`` into them, under an exclusive lock, one process at a time
(:meth:`Store.collect`); :meth:`Store.rebuild_tables` rebuilds them from the metrics files alone,
and :meth:`Store.mend_tables` does when one of them is damaged.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from ..core.config import ExperimentConfig, fingerprint
from ..machine.files import DamagedFile, atomic_write, load_json, load_torch, save_json
from ..machine.platform import read_dir, results_dir

TABLES = ("runs", "epochs", "layers", "collapse", "mask_distance", "predictions", "test_labels")
#: read as text: a hash such as '0123' is no number, nor is a string of predicted classes
HASH_COLUMNS = {"config_hash": str, "trunk_hash": str, "shared_from": str, "data_hash": str,
                "predicted": str, "labels": str}
ROW_KEYS = ("config_hash", "level")  # one runs.csv row per trained network
#: the columns that name one table's rows (a newer copy replaces the older): the run level's,
#: but one test set's labels for every run that shares it
TABLE_KEYS = {**dict.fromkeys(TABLES, ROW_KEYS), "test_labels": ("data_hash",)}
#: What to do about a damaged metrics.json, in every message that names one.
RETRAIN_FIX = ("run the same grid again (`lth run` with the same arguments): the level is trained again "
               "to the same numbers; or delete the file")
_HELD: dict[Path, list] = {}  # this process's claims: path -> [open lock file, depth]
_WARNED: set[tuple] = set()   # the damaged metrics.json this process has reported: (path, size, mtime)


def encode_classes(classes: torch.Tensor) -> str:
    """Classes as one character each ('0' + class): compact, and one CSV cell."""
    return bytes((classes.to(torch.int64) + ord("0")).tolist()).decode("ascii")


def decode_classes(text: str) -> "np.ndarray":
    """The classes :func:`encode_classes` wrote, as an int array."""
    return np.frombuffer(str(text).encode("ascii"), dtype=np.uint8).astype(np.int64) - ord("0")


def read_csv(source, keys: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """A table (hashes as text) from a path or a file object; a path that does not read as a table
    the store wrote (:func:`table_damage`, or pandas cannot parse it, or rows lack their ``keys``)
    is a :class:`~lthlib.machine.files.DamagedFile` naming it and the fix (:func:`table_fix`)."""
    if not isinstance(source, (str, os.PathLike)):
        return pd.read_csv(source, dtype=HASH_COLUMNS)
    why = table_damage(source, keys)
    if why is None:
        try:
            frame = pd.read_csv(source, dtype=HASH_COLUMNS)
        except ValueError as error:  # pandas' ParserError, EmptyDataError; UnicodeDecodeError
            why = f"does not parse as a table ({type(error).__name__}: {str(error).splitlines()[0]})"
        else:
            if not keys or not frame[list(keys)].isna().to_numpy().any():
                return frame
            why = f"rows without their {', '.join(keys)}"
    raise DamagedFile(source, why, table_fix(Path(source)))


def table_fix(path: Path) -> str:
    """What rebuilds a damaged table of the store ``path`` is in: ``lth tables`` for a profile's
    store, a line of Python for a kernel's scratch store (which ``lth`` does not write)."""
    folder = path.parent
    if folder.name.endswith("-scratch"):
        return f"rebuild the tables from the runs' files: Store('{folder}').rebuild_tables()"
    return f"`lth tables --profile {folder.name}` rebuilds the tables from the runs' files"


def table_damage(path: Path, keys: tuple[str, ...] | list[str] = ()) -> str | None:
    """Why ``path`` is not a whole table the store wrote, from its header and its last byte
    (cheap: every table is written whole, ending in a newline); None when it looks whole."""
    with open(path, "rb") as handle:
        header = handle.readline()
        size = handle.seek(0, os.SEEK_END)
        if not size:
            return "empty"
        handle.seek(size - 1)
        if handle.read(1) != b"\n":
            return "cut short (it does not end with a newline)"
    try:
        columns = header.decode("utf-8").strip().split(",")
    except UnicodeDecodeError:
        return "not text"
    missing = [key for key in keys if key not in columns]
    return f"its header lacks {', '.join(missing)}" if missing else None


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
        """metrics.json exists and is whole; a damaged one is reported (the level will train again)."""
        path = self.file(level, "metrics.json")
        if not path.exists():
            return False
        try:
            read_metrics(path)
        except DamagedFile as error:
            seen = (path, *_size_and_time(path))
            if seen not in _WARNED:  # once, however many times a run asks
                _WARNED.add(seen)
                warnings.warn(f"{error}; training level {level} of run {self.hash} again", stacklevel=2)
            return False
        return True

    def metrics(self, level: int) -> dict:
        return read_metrics(self.file(level, "metrics.json"))

    def levels_done(self) -> list[int]:
        """The levels whose metrics.json is whole, in order."""
        found = sorted(int(p.parent.name.removeprefix("level_")) for p in self.path.glob("level_*/metrics.json"))
        return [level for level in found if self.is_done(level)]

    @contextlib.contextmanager
    def claim(self, level: int) -> Iterator[None]:
        """Hold level ``level`` of this run while training it: another process (on this host or
        another sharing the store) asking for it waits until it is released.  Re-entrant within a
        process; released by the kernel (or the NFS lock manager) if the process dies."""
        path = self.file(level, ".claim")
        if path in _HELD:
            _HELD[path][1] += 1
            try:
                yield
            finally:
                _HELD[path][1] -= 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for {path.parent}: another process is training it (pid "
                      f"{os.getpid()} waits)", file=sys.stderr, flush=True)
                fcntl.flock(handle, fcntl.LOCK_EX)
            _HELD[path] = [handle, 1]
            try:
                yield
            finally:
                del _HELD[path]
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()


def _size_and_time(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def is_whole(marker: Path) -> bool:
    """Whether a level's ``metrics.json`` marks it done: it exists and is whole (nothing said)."""
    try:
        read_metrics(marker)
    except (OSError, DamagedFile):
        return False
    return True


def read_metrics(path: Path) -> dict:
    """One level's metrics.json, verified: it parses and holds its row (DamagedFile otherwise)."""
    metrics = load_json(path, RETRAIN_FIX)
    if not isinstance(metrics, dict) or not isinstance(metrics.get("row"), dict) or "level" not in metrics["row"]:
        raise DamagedFile(path, "parses but holds no runs.csv row", RETRAIN_FIX)
    return metrics


class Store:
    """All runs of one profile, and the tidy tables built from them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def of_profile(cls, profile: str) -> "Store":
        """The store of a profile: ``results/<profile>/`` (``LTH_RESULTS_DIR`` moves it)."""
        return cls(results_dir(profile))

    @classmethod
    def for_reading(cls, profile: str) -> "Store":
        """The store a report reads: the profile's, or the committed one while a kernel explores
        it read-only (:func:`~lthlib.machine.platform.reading_committed`)."""
        return cls(read_dir(profile))

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
        """Add one finished level's rows to the tidy tables (replacing any older copy); for a
        process that trains alone (:func:`lthlib.experiment.runner.run`).  Grid workers never call
        it: their coordinator :meth:`collect` s what they trained."""
        self.record_many([metrics])

    def record_many(self, all_metrics: list[dict]) -> None:
        """Add finished levels' rows to the tidy tables, one read and one write per table, under
        the tables' lock (replacing older copies of the same (config_hash, level)).  A damaged
        table: every table is rebuilt from the runs' files (:meth:`mend_tables`)."""
        if not all_metrics:
            return
        damaged = None
        with self.locked():
            for name in TABLES:
                try:
                    self._merge(name, all_metrics)
                except DamagedFile as error:
                    damaged = error
                    break
        if damaged is not None:
            self._rebuild_for(str(damaged))

    def _merge(self, name: str, all_metrics: list[dict]) -> None:
        new = pd.DataFrame([row for m in all_metrics for row in _table_rows(m, name)])
        if new.empty:
            return
        key = list(TABLE_KEYS[name])
        path = self.table_path(name)
        if path.exists():
            old = read_csv(path, key)
            replaced = set(map(tuple, new[key].to_numpy().tolist()))
            same = pd.Series([k in replaced for k in map(tuple, old[key].to_numpy().tolist())],
                             index=old.index, dtype=bool)
            new = pd.concat([old[~same], new], ignore_index=True)
        new = new.drop_duplicates(subset=key, keep="last") if name == "test_labels" else new
        save_csv(new.sort_values(key, kind="stable"), path)

    def mend_tables(self) -> bool:
        """Rebuild the tidy tables from the runs' files when one of them is damaged (garbage, cut
        short: :func:`table_damage`), saying so; whether it did.  A grid calls it before it trains."""
        for name in TABLES:
            path = self.table_path(name)
            why = table_damage(path, TABLE_KEYS[name]) if path.exists() else None
            if why:
                self._rebuild_for(f"damaged file {path}: {why}")
                return True
        return False

    def _rebuild_for(self, damage: str) -> None:
        warnings.warn(f"{damage}; rebuilding the tidy tables from the runs' metrics.json", stacklevel=3)
        self.rebuild_tables(skip_damaged=True)

    def collect(self, config_hashes) -> int:
        """Merge the finished levels of these runs (their metrics.json) into the tidy tables;
        the coordinator's one write after its workers (anywhere) trained.  Returns the levels
        merged.  A damaged metrics.json is a DamagedFile naming it and the fix."""
        found = []
        for config_hash in dict.fromkeys(config_hashes):
            for path in sorted((self.root / "runs" / config_hash).glob("level_*/metrics.json")):
                found.append(read_metrics(path))
        self.record_many(found)
        return len(found)

    def rebuild_tables(self, skip_damaged: bool = False) -> None:
        """Rebuild runs/epochs/layers.csv from every metrics.json (after a crash, by hand, or
        ``lth tables``).  A damaged metrics.json stops it with a DamagedFile naming the file, or
        with ``skip_damaged`` is left out (said): a grid trains its level again, and collects it."""
        all_metrics = []
        for path in sorted(self.root.glob("runs/*/level_*/metrics.json")):
            try:
                all_metrics.append(read_metrics(path))
            except DamagedFile as error:
                if not skip_damaged:
                    raise
                warnings.warn(f"{error}; left out of the rebuilt tables", stacklevel=2)
        all_metrics = [m for m in all_metrics if m["row"]["arm"] != "dense"]  # shared, not an arm
        with self.locked():
            for name in TABLES:
                rows = [row for m in all_metrics for row in _table_rows(m, name)]
                if rows:
                    frame = pd.DataFrame(rows)
                    if name == "test_labels":
                        frame = frame.drop_duplicates(subset=list(TABLE_KEYS[name]), keep="last")
                    save_csv(frame, self.table_path(name))
                else:  # a table no run has rows for yet is absent, as before any run
                    self.table_path(name).unlink(missing_ok=True)

    def table(self, name: str) -> pd.DataFrame:
        """A tidy table (empty when absent); a damaged one is a DamagedFile naming it and the fix."""
        path = self.table_path(name)
        return read_csv(path, TABLE_KEYS.get(name, ())) if path.exists() else pd.DataFrame()

    def runs(self) -> pd.DataFrame:
        return self.table("runs")

    def epochs(self) -> pd.DataFrame:
        return self.table("epochs")

    def layers(self) -> pd.DataFrame:
        return self.table("layers")

    def load_mask(self, config_hash: str, level: int) -> dict[str, torch.Tensor]:
        return load_torch(self.root / "runs" / config_hash / f"level_{level:02d}" / "mask.pt")

    # -- grid status ----------------------------------------------------------------------
    def record_status(self, rows: list[dict], table: str = "status",
                      keys: tuple[str, ...] | list[str] = ("dataset", "model", "arm", "seed")) -> pd.DataFrame:
        """Merge status rows by their cell (``keys``): what ran, what was skipped and why."""
        keys = list(keys)
        with self.locked():
            path = self.table_path(table)
            new = pd.DataFrame(rows)
            old = self._status_table(path, keys) if path.exists() and not new.empty else None
            if old is not None:
                merged = old.merge(new[keys], on=keys, how="left", indicator=True)
                new = pd.concat([old[(merged["_merge"] == "left_only").to_numpy()], new],
                                ignore_index=True)
            if not new.empty:
                save_csv(new.sort_values(keys, kind="stable"), path)
            return new


    @staticmethod
    def _status_table(path: Path, keys: list[str]) -> pd.DataFrame | None:
        """A status table; None when it is damaged (said): the new rows replace it."""
        try:
            return read_csv(path, keys)
        except DamagedFile as error:
            warnings.warn(f"{error}; writing it afresh with this grid's cells", stacklevel=3)
            return None


def _table_rows(metrics: dict, name: str) -> list[dict]:
    row = metrics["row"]
    if name == "runs":
        return [row]
    if name == "test_labels":
        return [{"data_hash": row["data_hash"], "dataset": row["dataset"], "protocol": row["protocol"],
                 "labels": metrics["test_labels"]}] if "test_labels" in metrics else []
    if name == "predictions":
        return [{**{k: row[k] for k in (*ROW_KEYS, "dataset", "model", "arm", "seed", "data_hash")},
                 "predicted": metrics["test_predictions"]}] if "test_predictions" in metrics else []
    ident = {k: row[k] for k in ("config_hash", "dataset", "model", "arm", "seed", "level")}
    return [{**ident, **item} for item in metrics.get(name, [])]
