"""A resumable campaign: prioritised work under a time budget, for borrowed GPU machines.

    run_campaign("paper", datasets=["imdb"], models=["lstm"], minutes=9, glove_dim=50)

Work units, in priority order
    Seed by seed (every unit of seed 0 before any of seed 1): the dense network of every
    (dataset, model) first; then level by level, for every (dataset, model), every arm in
    :data:`PRIORITY` order, then any other registered arm in registration order.  A unit is one
    arm up to one level, trained in this process through the grids' one execution path
    (:func:`lthlib.experiment.execution.execute` with ``max_level``), so a budget cut leaves the
    low levels complete across arms rather than one arm complete.

Budget
    Before each unit the campaign estimates its time: the epochs it has left to train (its own
    level, and any dense or trunk level it needs that is not done) times the wall seconds per
    epoch measured in this command for its (dataset, model); before any such measurement, the
    store's ``runs.csv`` (``train_seconds / epochs_run``) times :data:`PRIOR_MARGIN`.  It stops at
    the first unit that would overrun the budget.  A unit that nothing can estimate yet runs
    while budget is left, and a command's first unit always runs, so every command makes
    progress.  A unit is never cut short: one that overruns is stopped by whatever limits the
    command (a timeout), and its training resumes from its last epoch checkpoint next time.

Progress
    ``results/<profile>/campaign.json``, rewritten after every unit: units done and remaining,
    the next one, seconds per epoch and samples per second measured, the deviations from the
    profile (:mod:`lthlib.run.deviations`), the determinism settings (:mod:`lthlib.machine.platform`),
    why the command stopped, and the earlier commands' summaries.  ``status.csv`` gets one row
    per cell: done, partial or pending, and why.

Everything is resumable (the store skips finished levels and resumes checkpoints): the same
command again goes on where the last one stopped.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..core.config import ConfigError
from ..experiment.arms import ARMS, TICKET
from ..experiment.execution import DATA_UNAVAILABLE, execute, run_hashes
from ..experiment.grid import Cell, Grid
from ..experiment.lineage import lineage
from ..experiment.store import RunDir, Store
from ..machine import platform
from ..machine.files import save_json
from . import deviations

#: The arms a campaign trains first, in this order; other registered arms come after them.
PRIORITY = ("winning_ticket", "random_reinit", "random_reinit_keep_glove", "random_pruning", "dense_rewinding",
            "dense_rewinding_reinit", "late_rewinding", "late_rewinding_reinit", "lr_rewinding", "fine_tuning")
DENSE = "dense"
PROGRESS_FILE = "campaign.json"
#: Seconds per epoch read from an earlier command's runs.csv are taken this much larger: they
#: leave out what a level costs besides its epochs (building, saving, mask analysis).
PRIOR_MARGIN = 1.25


def arm_order(arms: Iterable[str] | None = None) -> list[str]:
    """``arms`` (None: every registered arm), each checked, in campaign priority order."""
    registered = list(ARMS.names())
    names = dict.fromkeys(ARMS.get(a).name for a in (registered if arms is None else arms))
    rank = {name: i for i, name in enumerate(PRIORITY)}
    return sorted(names, key=lambda a: (rank.get(a, len(PRIORITY)), registered.index(a)))


@dataclass(frozen=True)
class Unit:
    """One arm of one (dataset, model, seed) trained up to ``level`` (the dense network: level 0)."""
    dataset: str
    model: str
    seed: int
    arm: str
    level: int

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.model} s{self.seed} {self.arm} L{self.level}"

    @property
    def pair(self) -> tuple[str, str]:
        return self.dataset, self.model


def units(grid: Grid, max_level: int | None = None) -> list[Unit]:
    """Every unit of ``grid``, in priority order (see the module docstring); ``grid.arms`` are
    expected in :func:`arm_order`."""
    levels = {pair: grid.levels(*pair, max_level) for pair in grid.pairs()}
    seeds = sorted({s for d in grid.datasets for a in grid.arms for s in grid.seeds_of(a, d)})
    out = []
    for seed in seeds:
        out += [Unit(d, m, seed, DENSE, 0) for d, m in grid.pairs()
                if any(seed in grid.seeds_of(a, d) for a in grid.arms)]
        for level in range(1, max(levels.values(), default=0) + 1):
            out += [Unit(d, m, seed, arm, level) for d, m in grid.pairs() if level <= levels[(d, m)]
                    for arm in grid.arms if seed in grid.seeds_of(arm, d) and runs(grid, d, m, arm, seed)]
    return out


def runs(grid: Grid, dataset: str, model: str, arm: str, seed: int) -> bool:
    """Whether a cell of the grid can run (one its arm does not apply to cannot)."""
    return grid.why_not(Cell(dataset, model, arm, seed)) is None


def unit_config(grid: Grid, unit: Unit):
    """The configuration a unit trains (the dense network: the winning ticket's level 0)."""
    return grid.config(unit.dataset, unit.model, TICKET if unit.arm == DENSE else unit.arm, unit.seed)


def describe(grid: Grid, max_level: int | None) -> dict:
    return {"datasets": grid.datasets, "models": grid.models, "seeds": grid.seeds, "arms": list(grid.arms),
            "max_level": max_level, "glove_dim": grid.glove_dim, "overrides": grid.overrides}


# ---------------------------------------------------------------------------------------------
# What a unit has left to train, and how long that takes
# ---------------------------------------------------------------------------------------------

@dataclass
class Pending:
    """One level a unit will train: its run folder, its index and its epochs."""
    run: RunDir
    level: int
    epochs: int


def pending(grid: Grid, unit: Unit, root: Path) -> list[Pending]:
    """The levels ``unit`` still has to train (the dense one and trunk levels it needs included),
    from its configuration's lineage."""
    cfg = unit_config(grid, unit)
    return [Pending(run, level, cfg.train.epochs if level == 0 else ARMS.get(run.config.arm).epochs(run.config))
            for run, level in lineage(cfg, root).networks(unit.level) if not run.is_done(level)]


@dataclass
class Measured:
    """What one command trained of one (dataset, model)."""
    units: int = 0
    epochs: int = 0
    wall_seconds: float = 0.0    # the units' whole time: building, evaluating and saving included
    train_seconds: float = 0.0   # the levels' own train_seconds (runs.csv)
    samples: float = 0.0         # training examples seen: n_train x epochs_run

    def add(self, wall_seconds: float, rows: list[dict]) -> None:
        self.units += 1
        self.wall_seconds += wall_seconds
        for row in rows:
            self.epochs += int(row["epochs_run"])
            self.train_seconds += float(row["train_seconds"])
            self.samples += float(row["n_train"]) * int(row["epochs_run"])

    def wall_per_epoch(self) -> float | None:
        return _ratio(self.wall_seconds, self.epochs)

    def summary(self, dataset: str, model: str) -> dict:
        return {"dataset": dataset, "model": model, "units": self.units, "epochs": self.epochs,
                "seconds_per_epoch": _ratio(self.train_seconds, self.epochs),
                "wall_seconds_per_epoch": self.wall_per_epoch(),
                "samples_per_second": _ratio(self.samples, self.train_seconds)}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def prior_seconds_per_epoch(runs: pd.DataFrame, pair: tuple[str, str]) -> float | None:
    """Seconds per epoch of the (dataset, model)'s levels already in runs.csv, with a margin."""
    if runs.empty:
        return None
    rows = runs[(runs["dataset"] == pair[0]) & (runs["model"] == pair[1]) & (runs["epochs_run"] > 0)]
    return PRIOR_MARGIN * rows["train_seconds"].sum() / rows["epochs_run"].sum() if len(rows) else None


# ---------------------------------------------------------------------------------------------
# The campaign
# ---------------------------------------------------------------------------------------------

@dataclass
class CampaignReport:
    """What one command did; ``record`` is what it wrote to campaign.json."""
    state: str                   # finished | stopped | interrupted | failed
    stop_reason: str
    units_total: int
    units_done: int
    units_run: list[str]
    next_unit: str | None
    elapsed_seconds: float
    path: Path
    record: dict


class Campaign:
    """Runs a grid's units in order until they are done or the budget would be exceeded."""

    def __init__(self, grid: Grid, store: Store, budget_seconds: float, max_level: int | None = None,
                 progress: bool = False):
        self.grid, self.store, self.budget, self.progress = grid, store, float(budget_seconds), progress
        self.max_level = max_level
        self.start, self.started_at = time.monotonic(), _now()
        self.units = units(grid, max_level)
        self.measured = {pair: Measured() for pair in grid.pairs()}
        store.mend_tables()  # a damaged runs.csv is rebuilt before its timings are read
        self.priors = {pair: prior_seconds_per_epoch(store.runs(), pair) for pair in grid.pairs()}
        self.log: list[dict] = []
        self.skipped: dict[Unit, str] = {}
        self.blocked: dict[tuple, str] = {}    # (dataset, model) or (dataset, model, seed, arm) -> why
        self.state, self.stop_reason, self.next_unit = "running", "", None
        self.history = _history(store.root / PROGRESS_FILE, grid.profile)
        self.settings: dict = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def run(self) -> None:
        # levels an earlier command finished but was stopped before it merged them into the tables
        self.store.collect(run_hashes([[unit_config(self.grid, u) for u in self.units]], self.store.root))
        for unit in self.units:
            reason = self.blocked.get(unit.pair) or self.blocked.get(_cell(unit))
            if reason:
                self.skipped[unit] = reason
                continue
            todo = pending(self.grid, unit, self.store.root)
            if not todo:
                continue
            estimate = self.estimate(unit, todo)
            if not self.fits(estimate):
                self.state, self.next_unit = "stopped", unit
                self.stop_reason = self.budget_message(unit, estimate)
                return
            self.run_unit(unit, todo, estimate)
            self.save()
        self.state, self.stop_reason = "finished", "every unit is done"
        if self.skipped:
            self.stop_reason = f"every unit is done but {len(self.skipped)} skipped (see 'skipped' for why)"

    def estimate(self, unit: Unit, todo: list[Pending]) -> float | None:
        rate = self.measured[unit.pair].wall_per_epoch() or self.priors.get(unit.pair)
        return None if rate is None else rate * sum(p.epochs for p in todo)

    def fits(self, estimate: float | None) -> bool:
        left = self.budget - self.elapsed()
        if estimate is None:
            return left > 0 or not self.log
        return estimate <= left

    def budget_message(self, unit: Unit, estimate: float | None) -> str:
        left = max(self.budget - self.elapsed(), 0.0)
        needs = "an unknown time" if estimate is None else f"about {estimate:.0f} s"
        return (f"time budget: the next unit, {unit.name}, needs {needs} and {left:.0f} s of the "
                f"{self.budget:.0f} s budget are left")

    def run_unit(self, unit: Unit, todo: list[Pending], estimate: float | None) -> None:
        began = time.monotonic()
        status = execute([[[unit_config(self.grid, unit)]]], self.store, max_level=unit.level, workers=1,
                         executor="local", epoch_bars=self.progress, summary=False)[0]
        if status["status"] == "skipped":  # no data: the pair is blocked; refused: the cell
            blocked = unit.pair if status["reason"].startswith(DATA_UNAVAILABLE) else _cell(unit)
            self.blocked[blocked] = self.skipped[unit] = status["reason"]
            return
        wall = time.monotonic() - began
        rows = [p.run.metrics(p.level)["row"] for p in todo if p.run.is_done(p.level)]
        self.measured[unit.pair].add(wall, rows)
        epochs = sum(int(r["epochs_run"]) for r in rows)
        self.log.append({"unit": unit.name, "epochs": epochs, "wall_seconds": round(wall, 2),
                         "estimate_seconds": None if estimate is None else round(estimate, 2)})
        guess = "no estimate" if estimate is None else f"estimated {estimate:.0f} s"
        print(f"campaign: {unit.name}: {epochs} epochs in {wall:.0f} s ({guess}); "
              f"{max(self.budget - self.elapsed(), 0):.0f} s left", flush=True)

    # -- the record ------------------------------------------------------------------------
    def units_done(self) -> int:
        return sum(1 for unit in self.units if not pending(self.grid, unit, self.store.root))

    def record(self) -> dict:
        done = self.units_done()
        return {
            "profile": self.grid.profile, "state": self.state, "stop_reason": self.stop_reason,
            "command": describe(self.grid, self.max_level), "budget_seconds": self.budget,
            "started_at": self.started_at, "updated_at": _now(), "elapsed_seconds": round(self.elapsed(), 2),
            "device": self.settings.get("device", ""), "determinism": self.settings.get("determinism", {}),
            "units": {"total": len(self.units), "done": done, "remaining": len(self.units) - done,
                      "run_now": len(self.log), "skipped": len(self.skipped)},
            "next_unit": self.next_unit.name if self.next_unit else None,
            "measured": [m.summary(*pair) for pair, m in self.measured.items() if m.units],
            "samples_per_second": _ratio(sum(m.samples for m in self.measured.values()),
                                         sum(m.train_seconds for m in self.measured.values())),
            "deviations": self.deviations(), "log": self.log,
            "skipped": [{"unit": unit.name, "reason": why} for unit, why in self.skipped.items()],
            "history": self.history,
        }

    def deviations(self) -> list[dict]:
        return [row for d, m in self.grid.pairs()
                for row in deviations.deviations(self.grid.profile,
                                                self.grid.config(d, m, TICKET, self.grid.seeds_of(TICKET, d)[0]))]

    def save(self) -> dict:
        """Write campaign.json and the grid's status rows; return the record."""
        self.store.record_status(self.status_rows())
        record = self.record()
        save_json(record, self.store.root / PROGRESS_FILE)
        return record

    def status_rows(self) -> list[dict]:
        """One status.csv row per (dataset, model, arm, seed) cell of the grid."""
        def skipped(cell) -> str | None:
            return self.blocked.get((cell.dataset, cell.model)) or self.blocked.get(
                (cell.dataset, cell.model, cell.seed, cell.arm))
        waiting = (f"campaign {self.state}: {{done}} of {{expected}} levels so far; the same "
                   "'lth campaign' command again goes on")
        return self.grid.status(self.store, self.max_level, skipped, waiting)

    def report(self, record: dict) -> CampaignReport:
        return CampaignReport(self.state, self.stop_reason, record["units"]["total"], record["units"]["done"],
                              [row["unit"] for row in self.log], record["next_unit"], self.elapsed(),
                              self.store.root / PROGRESS_FILE, record)


def _cell(unit: Unit) -> tuple:
    return unit.dataset, unit.model, unit.seed, unit.arm


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _history(path: Path, profile: str) -> list[dict]:
    """Earlier commands' summaries: the last record's history, and the last record itself."""
    if not path.exists():
        return []
    last = json.loads(path.read_text())
    if last.get("profile") != profile:
        return []
    keys = ("started_at", "updated_at", "state", "stop_reason", "elapsed_seconds", "device", "command",
            "samples_per_second")
    summary = {k: last.get(k) for k in keys} | {"units_run": len(last.get("log", []))}
    return [*last.get("history", []), summary]


def _device_settings(grid: Grid, deterministic: bool) -> dict:
    """The device the grid trains on, and (on CUDA, when asked) deterministic kernels."""
    dataset, model = grid.pairs()[0]
    cfg = grid.config(dataset, model, TICKET, grid.seeds_of(TICKET, dataset)[0])
    device = platform.resolve_device(cfg.train.device)
    if device.type != "cuda":
        note = "none needed: on the CPU a resumed run is bit-identical (tests/test_train.py)"
        return {"device": "cpu", "determinism": {"note": note}}
    settings = platform.enable() if deterministic else platform.settings()
    return {"device": platform.device_name(device), "determinism": settings}


def run_campaign(profile: str, *, datasets: Iterable[str] | None = None, models: Iterable[str] | None = None,
                 seeds: Iterable[int] | None = None, arms: Iterable[str] | None = None, minutes: float,
                 store: Store | None = None, glove_dim: int | None = None, max_level: int | None = None,
                 deterministic: bool = True, progress: bool = False, **overrides: Any) -> CampaignReport:
    """Train a profile's grid in priority order until done or ``minutes`` would be exceeded.

    ``glove_dim``: the GloVe size of the models that read GloVe (:mod:`lthlib.run.deviations`);
    ``max_level``: stop every arm at this level; ``deterministic``: on CUDA, deterministic
    kernels (:mod:`lthlib.machine.platform`), so that a unit killed mid-way resumes to the numbers it
    would have had; ``overrides``: the ``--set`` parameters of :data:`lthlib.core.parameters.PARAMETERS`.
    Refuses bad input (a ConfigError) before any training.  See the module docstring.
    """
    if minutes is None or float(minutes) < 0:
        raise ConfigError(f"minutes must be a number >= 0, got {minutes!r}")
    grid = Grid.of(profile, datasets, models, arm_order(arms), seeds, glove_dim=glove_dim, **overrides)
    grid.check()
    store = store or Store.of_profile(grid.profile)
    campaign = Campaign(grid, store, 60.0 * float(minutes), max_level, progress)
    campaign.settings = _device_settings(grid, deterministic)
    campaign.save()
    try:
        campaign.run()
    except KeyboardInterrupt:
        campaign.state, campaign.stop_reason = "interrupted", "interrupted (a signal or Ctrl-C)"
        raise
    except BaseException as error:
        campaign.state, campaign.stop_reason = "failed", f"{type(error).__name__}: {error}"
        raise
    finally:
        record = campaign.save()
    print(f"campaign {campaign.state}: {campaign.stop_reason}; {record['units']['done']} of "
          f"{record['units']['total']} units done", flush=True)
    return campaign.report(record)
