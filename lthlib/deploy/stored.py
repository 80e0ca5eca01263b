"""Where a stored level's trained weights are, or why there are none.

A level's deployable weights are what training left in ``final.pt``: the weights after its last
epoch.  The runner keeps them for the dense level 0 (in the dense run's own folder, shared by
every arm) and for every level of a trunk (IMP prunes them at the next level); a branch's
levels keep none (:meth:`lthlib.experiment.runner.Runner._finish`).  They are the weights
``final_test_acc`` was measured on; ``test_acc`` is the best-validation epoch's, whose weights
the store does not keep (with early stopping, up to ``patience`` epochs earlier).

Nothing here writes to the store: a run that is not there is reported, not created.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.config import ConfigError, ExperimentConfig
from ..experiment.arms import ARMS, TICKET
from ..experiment.grid import Grid
from ..experiment.lineage import lineage
from ..experiment.store import RunDir, Store
from ..machine.platform import display_path
from .forms import check_exportable

WEIGHTS = "final.pt"


@dataclass(frozen=True)
class StoredLevel:
    """One trained level of one run, and the file holding its weights."""
    profile: str
    cfg: ExperimentConfig
    level: int
    run: RunDir           # the folder the weights are in (the dense run's for level 0)
    row: dict             # its runs.csv row (from metrics.json)

    @property
    def weights(self) -> Path:
        return self.run.file(self.level, WEIGHTS)

    @property
    def arm(self) -> str:
        return "dense" if self.level == 0 else self.cfg.arm

    @property
    def label(self) -> str:
        cfg = self.cfg
        return f"{cfg.data.dataset}/{cfg.model.name}/{self.arm} seed {cfg.seed} level {self.level}"

    def identity(self) -> dict:
        """Who this network is: the columns every deploy table starts with."""
        cfg = self.cfg
        return {"dataset": cfg.data.dataset, "protocol": cfg.data.protocol, "model": cfg.model.name,
                "arm": self.arm, "seed": cfg.seed, "level": self.level, "config_hash": self.run.hash,
                "remaining": float(self.row.get("remaining", float("nan")))}


def find_level(profile: str, dataset: str, model: str, arm: str = TICKET, seed: int = 0, level: int = 0, *,
               store: Store | None = None, glove_dim: int | None = None, train: bool = False,
               **overrides) -> StoredLevel:
    """The stored level a profile's (dataset, model, arm, seed) trained, under ``overrides`` (the
    same ``--set`` parameters it was trained with).  ``train``: first train what the store lacks
    of that run, up to ``level`` (the store resumes, so a trained level is never trained again).
    A ConfigError says what is wrong and what exists: an unknown name, a model the exporter does
    not know, a level the configuration does not have, a run the store lacks, a level not
    trained, a branch's level (no weights kept)."""
    check_exportable(model)   # first: the grid's own message would list models the exporter refuses
    grid = Grid.of(profile, [dataset], [model], [arm], [seed], glove_dim=glove_dim, **overrides)
    store = store or Store.of_profile(grid.profile)
    check_level(grid.config(grid.datasets[0], grid.models[0], grid.arms[0], int(seed)), int(level))
    if level and not ARMS.get(grid.arms[0]).is_trunk:
        raise ConfigError(_branch_keeps_no_weights(f"{dataset}/{model}/{arm} seed {seed} level {level}", arm))
    if train and not _is_stored(grid, int(seed), int(level), store):
        print(f"lth: the {grid.profile} store lacks {dataset}/{model}/{arm} seed {seed} up to level {level}: "
              f"training it first (resumable; --no-train to refuse)")
        grid.run(max_level=int(level), store=store, progress=True)
    return stored_level(grid, grid.datasets[0], grid.models[0], grid.arms[0], int(seed), int(level), store)


def _is_stored(grid: Grid, seed: int, level: int, store: Store) -> bool:
    try:
        stored_level(grid, grid.datasets[0], grid.models[0], grid.arms[0], seed, level, store)
        return True
    except ConfigError:
        return False


def check_level(cfg: ExperimentConfig, level: int) -> None:
    if level < 0 or level > cfg.prune.levels:
        raise ConfigError(f"{cfg.data.dataset}/{cfg.model.name}/{cfg.arm} seed {cfg.seed}: no level {level}; "
                          f"this configuration trains levels 0-{cfg.prune.levels} (0 dense, then "
                          f"{cfg.prune.levels} pruned)")


def stored_level(grid: Grid, dataset: str, model: str, arm: str, seed: int, level: int,
                 store: Store) -> StoredLevel:
    cfg = grid.config(dataset, model, arm, seed)
    cell = f"{dataset}/{model}/{arm} seed {seed}"
    check_level(cfg, level)
    run = lineage(cfg, store.root).level_dir(level)
    if not run.path.is_dir() or not run.levels_done():
        raise ConfigError(f"the {grid.profile} store ({display_path(store.root)}) has no trained run of "
                          f"{cell} with these settings (folder {display_path(run.path)}); "
                          f"{describe_store(store)}; without --no-train, lth export trains it first")
    if not run.is_done(level):
        done = ", ".join(map(str, run.levels_done()))
        raise ConfigError(f"{cell}: level {level} is not trained; trained levels: {done} "
                          f"(this configuration trains levels 0-{cfg.prune.levels})")
    found = StoredLevel(grid.profile, cfg, level, run, run.metrics(level)["row"])
    if not found.weights.exists():
        raise ConfigError(_no_weights(found, arm))
    return found


def _branch_keeps_no_weights(label: str, arm: str) -> str:
    trunks = ", ".join(a.name for a in ARMS if a.is_trunk)
    return (f"{label}: {arm} is a branch, and a branch's levels keep no trained weights "
            f"({WEIGHTS} is kept for the dense level 0 and for trunks: {trunks}); export level 0 "
            f"or a trunk's level")


def _no_weights(found: StoredLevel, arm: str) -> str:
    if not ARMS.get(arm).is_trunk:
        return _branch_keeps_no_weights(found.label, arm)
    return (f"{found.label}: {display_path(found.weights)} is missing (deleted?); delete that level's "
            f"metrics.json and run the grid again to train it again to the same numbers")


def describe_store(store: Store) -> str:
    """What the store holds, one (dataset, model, arm) each with its seeds and levels."""
    runs = store.runs()
    if runs.empty:
        return "it has no runs yet (train some with `lth run`)"
    held = runs.groupby(["dataset", "model", "arm"], sort=True).agg(
        seeds=("seed", lambda s: ",".join(map(str, sorted(set(s))))), levels=("level", "max"))
    return "it has: " + "; ".join(f"{d}/{m}/{a} seeds {row.seeds} levels 0-{row.levels}"
                                  for (d, m, a), row in held.iterrows())


def ticket_levels(grid: Grid, dataset: str, model: str, seed: int, store: Store,
                  arm: str = TICKET) -> list[StoredLevel]:
    """The dense level and every trained level of a trunk (the winning ticket by default), in order."""
    cfg = grid.config(dataset, model, arm, seed)
    run = lineage(cfg, store.root).own
    done = run.levels_done() if run.path.is_dir() else []
    return [stored_level(grid, dataset, model, arm, seed, level, store) for level in [0, *[d for d in done if d]]]

