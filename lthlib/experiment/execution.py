"""One way to train a grid: :func:`execute`, whatever supplies the groups (``lth run`` and the
notebooks' :class:`~lthlib.experiment.grid.Grid`, ``lth transfer``'s
:class:`~lthlib.experiment.transfer.TransferGrid`, the campaign's units).

A *group* is a list of configurations that train in order in one place (a branch after its
trunk); different groups may train at once.  Groups come in *phases* (the transfer grid's trunks,
then its target arms): a phase starts when the one before it has finished.  :func:`execute`

1. rebuilds a damaged tidy table from the runs' files (:meth:`~lthlib.experiment.store.Store.mend_tables`),
   and prepares each group's data here, once, before any worker needs it (a dataset whose files
   cannot be had leaves the configurations that read it 'skipped', with the reason);
2. trains the groups: in this process when the executor is local with one worker, else through
   the executor (:mod:`lthlib.machine.executors`: worker processes here, Ray, Slurm), one task
   per group, built from its name here and closed after when it is given by name;
3. merges the finished levels of every run the groups wrote (their lineage's run hashes,
   :mod:`lthlib.experiment.lineage`) into the tidy tables, in this process alone, even when a
   worker failed;
4. returns one status row per configuration: done, or skipped and why.

:class:`Cells` is what every grid of cells shares on top of it: building and checking every
cell's configuration, the expected rows, and one status row per cell from what ran.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from ..core.config import ConfigError, ExperimentConfig, NotApplicable, data_hash
from ..data.sources import DataUnavailable
from ..machine.executors import Executor, make_executor
from ..machine.executors.local import LocalExecutor
from ..machine.platform import resolve_device
from .arms import run_hash
from .lineage import lineage
from .progress import NetworkProgress
from .runner import load_data, run
from .store import Store

CELL = ["dataset", "model", "arm", "seed"]
STATUS_COLUMNS = [*CELL, "config_hash", "status", "reason", "levels_done"]
#: how a skipped configuration's reason starts: its data could not be had, or it was refused
DATA_UNAVAILABLE, REFUSED = "data unavailable", "configuration refused"

Group = list[ExperimentConfig]


def status_row(cfg: ExperimentConfig, status: str, reason: str = "", levels_done: int = 0) -> dict:
    """One configuration's status row, named by its (dataset, model, arm, seed) and run hash."""
    return {"dataset": cfg.data.dataset, "model": cfg.model.name, "arm": cfg.arm, "seed": cfg.seed,
            "config_hash": run_hash(cfg), "status": status, "reason": reason, "levels_done": levels_done}


# ---------------------------------------------------------------------------------------------
# One group, here or in a worker
# ---------------------------------------------------------------------------------------------

def run_group(group: Group, root, max_level: int | None, progress: bool, record: bool = True) -> list[dict]:
    """The configurations of one group, in order; a refused one does not stop the rest.
    ``record=False``: only the runs' own folders are written (the coordinator collects them)."""
    store, status = Store(root), []
    for cfg in group:
        try:
            rows = run(cfg, store, max_level=max_level, progress=progress, record=record)
            status.append(status_row(cfg, "done", levels_done=len(rows)))
        except ConfigError as error:  # found only with the data (e.g. a rewind point too late)
            print(f"REFUSED {cfg.data.dataset}/{cfg.model.name}/{cfg.arm}: {error}")
            status.append(status_row(cfg, "skipped", f"{REFUSED}: {error}"))
    return status


def run_group_payload(configs: list[dict], root: str, max_level: int | None) -> list[dict]:
    """:func:`run_group` for a worker anywhere (configs as dicts, no progress bars)."""
    group = [ExperimentConfig.from_dict(c) for c in configs]
    return run_group(group, root, max_level, False, record=False)


def group_payloads(groups: list[Group], root, max_level: int | None) -> list[dict]:
    """One executor payload per group: :func:`run_group_payload` and its arguments, as JSON."""
    return [{"fn": f"{__name__}:run_group_payload", "name": f"{g[0].data.dataset}/{g[0].model.name} seed {g[0].seed}",
             "kwargs": {"configs": [c.to_dict() for c in g], "root": str(root), "max_level": max_level}}
            for g in groups]


# ---------------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------------

def with_data(phases: list[list[Group]], progress: bool) -> tuple[list[list[Group]], list[dict]]:
    """The groups whose data (their own and a transfer's source's) can be had, prepared here
    once each; the status rows of the configurations of the others, skipped with the reason."""
    ready: set[str] = set()
    errors: dict[str, str] = {}   # data hash -> why its files cannot be had

    def missing(cfg: ExperimentConfig) -> str | None:
        for needed in (cfg, cfg.source):
            key = None if needed is None else data_hash(needed.data)
            if key is None or key in ready:
                continue
            if key not in errors:
                try:
                    load_data(needed, progress)
                    ready.add(key)
                    continue
                except DataUnavailable as error:
                    errors[key] = f"{DATA_UNAVAILABLE}: {error}"
                    print(f"SKIPPED {needed.data.dataset}: {errors[key]}")
            return errors[key]
        return None

    kept, skipped = [], []
    for phase in phases:
        kept.append([])
        for group in phase:
            reasons = [missing(cfg) for cfg in group]
            if not any(reasons):
                kept[-1].append(group)
                continue
            why = next(r for r in reasons if r)
            skipped += [status_row(cfg, "skipped", reason or why) for cfg, reason in zip(group, reasons)]
    return kept, skipped


def executor_of(executor: Executor | str | None, configs: list[ExperimentConfig],
                workers: int | None) -> tuple[Executor, bool]:
    """The executor ``executor`` is, or the one it names (built now: bad names and options fail
    before anything trains; one GPU per task when the configurations train on CUDA); and whether
    it was built here (then :func:`execute` closes it)."""
    if executor is not None and not isinstance(executor, str):
        return executor, False
    gpu = bool(configs) and resolve_device(configs[0].train.device).type == "cuda"
    return make_executor(executor, workers=workers, gpu=gpu), True


def in_process(executor: Executor, groups: list[Group]) -> bool:
    """Whether the groups train in this process: a local executor that would use one worker."""
    return isinstance(executor, LocalExecutor) and executor.workers_for(len(groups)) == 1


def run_hashes(groups: Iterable[Group], root) -> list[str]:
    """The runs whose levels the groups put in the tidy tables (each configuration's lineage)."""
    return list(dict.fromkeys(h for group in groups for cfg in group for h in lineage(cfg, root).run_hashes()))


def alone_when_ready(groups: list[Group], root, max_level: int | None) -> list[Group]:
    """``groups``, each one whose configurations need nothing trained but their own levels (their
    dense level and trunk are in the store, as notebook 06's arms find notebook 03's tickets)
    split into one group per configuration, so that they train at once rather than in turn."""
    out = []
    for group in groups:
        out += [[cfg] for cfg in group] if all(_ready(cfg, root, max_level) for cfg in group) else [group]
    return out


def _ready(cfg: ExperimentConfig, root, max_level: int | None) -> bool:
    line = lineage(cfg, root)
    own = {(line.own.hash, level) for level in line.own_levels(max_level)}
    return all(run.is_done(level) for run, level in line.networks(max_level) if (run.hash, level) not in own)


def markers(groups: Iterable[Group], root, max_level: int | None) -> list:
    """The ``metrics.json`` of every network the groups train, each once."""
    return list(dict.fromkeys(m for group in groups for cfg in group for m in lineage(cfg, root).markers(max_level)))


def execute(phases: list[list[Group]], store: Store, *, max_level: int | None = None, progress: bool = False,
            workers: int | None = None, executor: Executor | str | None = "local",
            epoch_bars: bool = False, summary: bool = True) -> list[dict]:
    """Train the phases' groups that the store lacks (see the module docstring); one status row
    per configuration, skipped ones first.  ``progress``: a live bar of networks trained and
    left; ``epoch_bars``: a bar per epoch (in this process only); ``summary``: print the count
    of networks trained.  A failed worker is a :class:`~lthlib.machine.executors.JobFailed`."""
    configs = [cfg for phase in phases for group in phase for cfg in group]
    executor, owned = executor_of(executor, configs, workers)
    try:
        store.mend_tables()  # a damaged tidy table is rebuilt now, not found after the training
        phases, status = with_data(phases, progress)
        phases = [alone_when_ready(phase, store.root, max_level) for phase in phases]
        groups = [group for phase in phases for group in phase]
        watch = NetworkProgress(markers(groups, store.root, max_level), show=progress)
        try:
            with watch:
                for phase in phases:
                    status += _train(phase, store, max_level, executor, epoch_bars)
        finally:  # what finished is in the tables even when a worker failed
            store.collect(run_hashes(groups, store.root))
            if summary:
                print(watch.summary(), flush=True)
    finally:
        if owned:
            getattr(executor, "close", lambda: None)()
    return status


def _train(groups: list[Group], store: Store, max_level: int | None, executor: Executor,
           epoch_bars: bool) -> list[dict]:
    if in_process(executor, groups):
        return [row for group in groups for row in run_group(group, store.root, max_level, epoch_bars, record=False)]
    results = executor.map(group_payloads(groups, store.root, max_level)) if groups else []
    return [row for rows in results for row in rows]


# ---------------------------------------------------------------------------------------------
# What every grid of cells shares
# ---------------------------------------------------------------------------------------------

class Cells(ABC):
    """A grid's cells (named tuples) and their configurations: a subclass supplies
    :meth:`cells` and :meth:`cell_config`, and has ``profile``, ``overrides`` and ``executor``."""
    profile: str
    overrides: dict[str, Any]
    executor: str

    @abstractmethod
    def cells(self) -> list[NamedTuple]:
        """Every cell of the grid, in order."""

    @abstractmethod
    def cell_config(self, cell: NamedTuple) -> ExperimentConfig:
        """One cell's configuration (a ConfigError says why it cannot run)."""

    def why_not(self, cell: NamedTuple) -> str | None:
        """Why one cell cannot run (None: it can)."""
        try:
            self.cell_config(cell)
        except ConfigError as error:
            return f"{REFUSED}: {error}"
        return None

    def check_cells(self, cells: Iterable[NamedTuple]) -> None:
        """Build every cell's configuration (no data read), so bad input fails before training;
        a cell its arm does not apply to (:class:`~lthlib.core.config.NotApplicable`) is no error."""
        for cell in cells:
            try:
                self.cell_config(cell)
            except NotApplicable:
                pass

    def expected_row(self, cell: NamedTuple) -> dict:
        """One cell, its run hash, its trunk's, its number of levels and its last level (a
        branch's levels need not be consecutive: ``branch_levels``); ``refused`` holds the reason
        its configuration is invalid."""
        row = {**cell._asdict(), "seed": int(cell.seed)}
        try:
            cfg = self.cell_config(cell)
        except ConfigError as error:
            return {**row, "config_hash": "", "trunk_hash": "", "levels_expected": float("nan"),
                    "last_level": float("nan"), "refused": str(error)}
        folders = lineage(cfg, Path())
        trunk = folders.trunk
        return {**row, "protocol": cfg.data.protocol, "config_hash": run_hash(cfg),
                "trunk_hash": trunk.own.hash if trunk is not None else "",
                "levels_expected": len(folders.own_levels()) + 1, "last_level": max(folders.own_levels(), default=0),
                "refused": ""}

    def settings(self) -> str:
        """The overrides every cell gets, in words."""
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "the profile's settings"

    def status_rows(self, cells: Iterable[NamedTuple], ran: list[dict],
                    refused: dict | None = None) -> list[dict]:
        """One row per cell from :func:`execute`'s rows (by run hash): done or skipped and why,
        skipped when ``refused`` gives its reason, else pending."""
        by_hash = {row["config_hash"]: row for row in ran}
        rows = []
        for cell in cells:
            reason = (refused or {}).get(cell)
            config_hash = "" if reason else run_hash(self.cell_config(cell))
            found = {"status": "skipped", "reason": reason} if reason else by_hash.get(config_hash, {})
            rows.append({**cell._asdict(), "config_hash": config_hash, "status": found.get("status", "pending"),
                         "reason": found.get("reason", ""), "levels_done": found.get("levels_done", 0)})
        return rows
