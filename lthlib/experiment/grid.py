"""The grid: the cells (dataset × model × arm × seed) asked for under a profile, their
configurations, their status rows, and running them.

It is the one place anything loops over runs: the notebooks (:mod:`lthlib.report.notebook`), the
``lth`` command, the campaign and carry build a :class:`Grid` and ask it.

- :meth:`Grid.of`        a grid from names, each checked against its registry
- :func:`selection`      a notebook's papermill parameters as a grid
- :meth:`Grid.cells`     every cell; :meth:`Grid.groups` the cells of each (dataset, model, seed)
- :meth:`Grid.config`    one cell's :class:`~lthlib.core.config.ExperimentConfig`
- :meth:`Grid.expected`  one row per cell: its run hash and levels, or why it is refused
- :meth:`Grid.status`    one status.csv row per cell, from what a store holds
- :meth:`Grid.run`       train what the store lacks through :func:`~lthlib.experiment.execution.execute`
                         (in this process, in worker processes, on Ray or Slurm: the grid's
                         ``executor``, by name); then merge what trained into the tables

A grid names exactly the configurations it means, so tables read through it keep only their
rows: a store may hold runs made with other parameters, and those are left out, never mixed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, NamedTuple

import pandas as pd

from ..core.config import ConfigError, ExperimentConfig
from ..core.parameters import as_list, parse_all
from ..data.datasets import DATASETS
from ..machine.executors import Executor, executor_name
from ..nets.models import MODELS
from .arms import TICKET, arm_names, comparison, run_hash
from .execution import CELL, STATUS_COLUMNS, Cells, execute
from .profiles import PROFILES, experiment, validate
from .store import Store

EXPECTED_COLUMNS = [*CELL, "protocol", "config_hash", "levels_expected", "last_level", "refused"]


class Cell(NamedTuple):
    dataset: str
    model: str
    arm: str
    seed: int


@dataclass
class Grid(Cells):
    """Datasets × models × arms × seeds under a profile, with the overrides every cell gets, and
    the executor its training runs on (by name: local, ray, slurm)."""
    profile: str
    datasets: list[str]
    models: list[str]
    seeds: list[int]
    arms: tuple[str, ...] = (TICKET,)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: the seeds were left to the profile, which may run some arms or datasets on other seeds
    profile_seeds: bool = False
    #: the GloVe size of the models that read GloVe (None: the profile's); see :func:`with_glove_dim`
    glove_dim: int | None = None
    executor: str = "local"
    _configs: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, profile: str, datasets: Iterable[str] | None = None, models: Iterable[str] | None = None,
           arms: Iterable[str] | None = None, seeds: Iterable[int] | None = None, *,
           glove_dim: int | None = None, executor: str | None = None, **overrides: Any) -> "Grid":
        """Names checked against the registries; None: the profile's datasets, models and seeds
        (``seeds`` None: each arm's seeds on each dataset, :meth:`Profile.seeds_for`) and the
        local executor."""
        entry = PROFILES.get(profile)
        return cls(entry.name, [DATASETS.get(d).name for d in datasets or entry.datasets],
                   [MODELS.get(m).name for m in models or entry.models],
                   list(entry.seeds) if seeds is None else [int(s) for s in seeds],
                   tuple(arm_names(arms or (TICKET,))), parse_all(overrides), profile_seeds=seeds is None,
                   glove_dim=None if glove_dim is None else int(glove_dim), executor=executor_name(executor))

    # -- the cells ---------------------------------------------------------------------------
    def seeds_of(self, arm: str, dataset: str) -> list[int]:
        """The seeds of one arm on one dataset: the profile's for them, unless seeds were given."""
        if not self.profile_seeds:
            return list(self.seeds)
        return list(PROFILES.get(self.profile).seeds_for(arm, dataset))

    def pairs(self) -> list[tuple[str, str]]:
        return [(d, m) for d in self.datasets for m in self.models]

    def cells(self, arms: Iterable[str] | None = None) -> list[Cell]:
        """Every cell of ``arms`` (default: the grid's), by dataset, model, arm, then seed."""
        return [Cell(d, m, a, s) for d, m in self.pairs() for a in (arms or self.arms) for s in self.seeds_of(a, d)]

    def groups(self, arms: Iterable[str] | None = None) -> list[list[Cell]]:
        """The cells of each (dataset, model, seed), its arms in order: a group trains in order
        (a branch needs its trunk), different groups may train at once."""
        arms = list(arms or self.arms)
        out = []
        for dataset, model in self.pairs():
            for seed in sorted({s for a in arms for s in self.seeds_of(a, dataset)}):
                out.append([Cell(dataset, model, a, seed) for a in arms if seed in self.seeds_of(a, dataset)])
        return out

    def config(self, dataset: str, model: str, arm: str, seed: int) -> ExperimentConfig:
        """One cell's configuration (a ConfigError says why it cannot run)."""
        cell = Cell(dataset, model, arm, seed)
        if cell not in self._configs:
            cfg = experiment(self.profile, *cell, **self.overrides)
            self._configs[cell] = with_glove_dim(cfg, self.glove_dim)
        return self._configs[cell]

    def cell_config(self, cell: Cell) -> ExperimentConfig:
        return self.config(*cell)

    def levels(self, dataset: str, model: str, max_level: int | None = None) -> int:
        """The pruning levels of a (dataset, model), at most ``max_level``."""
        levels = self.config(dataset, model, TICKET, self.seeds_of(TICKET, dataset)[0]).prune.levels
        return levels if max_level is None else min(levels, max_level)

    def refusal(self, arm: str) -> str | None:
        """Why ``arm``'s configurations cannot run (None: they can)."""
        try:
            self.check([arm])
        except ConfigError as error:
            return f"configuration refused: {error}"
        return None

    def check(self, arms: Iterable[str] | None = None) -> None:
        """Build every cell's configuration (no data read), so bad input fails before training;
        a cell its arm does not apply to (:class:`~lthlib.core.config.NotApplicable`) is no error."""
        if not self.seeds and not self.profile_seeds:
            raise ConfigError("a grid needs at least one seed")
        self.check_cells(self.cells(arms))

    # -- what the grid holds and expects ----------------------------------------------------
    def protocol(self, dataset: str) -> str:
        """The split protocol the grid's runs of ``dataset`` use."""
        model = self.models[0] if self.models else PROFILES.get(self.profile).models[0]
        try:
            return self.config(dataset, model, TICKET, 0).data.protocol
        except ConfigError:  # e.g. a protocol override this dataset does not have
            return DATASETS.get(dataset).default_protocol

    @property
    def protocols(self) -> dict[str, str]:
        """dataset -> protocol, for every dataset of the profile (labels need it)."""
        names = dict.fromkeys([*self.datasets, *PROFILES.get(self.profile).datasets])
        return {name: self.protocol(name) for name in names if name in DATASETS}

    def config_value(self, name: str) -> Any:
        """A top-level configuration field as this grid sets it (e.g. ``early_bird_epsilon``)."""
        return getattr(self.config(self.datasets[0], self.models[0], TICKET, self.seeds[0]), name)

    def expected(self, arms: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per cell, with its config hash and number of levels (0..levels); ``refused``
        holds the reason a configuration is invalid."""
        rows = [{**self.expected_row(cell), "protocol": self.protocol(cell.dataset)} for cell in self.cells(arms)]
        return pd.DataFrame(rows, columns=EXPECTED_COLUMNS)

    def status_row(self, cell: Cell, status: str, reason: str = "", levels_done: int = 0) -> dict:
        try:
            config_hash = run_hash(self.config(*cell))
        except ConfigError:
            config_hash = ""
        return {**cell._asdict(), "config_hash": config_hash, "status": status, "reason": reason,
                "levels_done": levels_done}

    def status(self, store: Store, max_level: int | None = None,
               skipped: Callable[[Cell], str | None] = lambda cell: None, waiting: str = "") -> list[dict]:
        """One status row per cell from the levels ``store`` holds: done, partial or pending
        (``waiting`` says why, with ``{done}`` and ``{expected}``), or skipped when ``skipped``
        gives a reason."""
        runs = store.runs()
        found = runs.groupby("config_hash")["level"].nunique() if not runs.empty else pd.Series(dtype=int)
        rows = []
        for cell in self.cells():
            row = self.status_row(cell, "pending")
            expected = self.levels(cell.dataset, cell.model, max_level) + 1
            done = min(int(found.get(row["config_hash"], 0)), expected)
            why = skipped(cell)
            if why:
                row.update(status="skipped", reason=why)
            elif done >= expected:
                row.update(status="done")
            else:
                row.update(status="partial" if done else "pending", reason=waiting.format(done=done, expected=expected))
            rows.append({**row, "levels_done": done})
        return rows

    def describe(self) -> str:
        """The selection in words: profile, datasets, models, seeds, arms, and where they differ."""
        extra = self.settings()
        entry, exceptions = PROFILES.get(self.profile), ""
        if self.profile_seeds:
            exceptions += "".join(f"; {d} on seeds {listed(entry.dataset_seeds[d])}"
                                  for d in self.datasets if d in entry.dataset_seeds)
            exceptions += "".join(f"; {a} on seeds {listed(entry.arm_seeds[a])} only"
                                  for a in self.arms if a in entry.arm_seeds)
            exceptions += "".join(f"; {a} on {listed(entry.arm_datasets[a])} only"
                                  for a in self.arms if a in entry.arm_datasets)
        return (f"profile {self.profile}: datasets {listed(self.datasets)}; models {listed(self.models)}; "
                f"seeds {listed(self.seeds)}; arms {listed(self.arms)}{exceptions}; {extra}")

    # -- running -------------------------------------------------------------------------------
    def run(self, arms: Iterable[str] | None = None, *, max_level: int | None = None,
            store: Store | None = None, progress: bool = False, workers: int | None = None,
            executor: Executor | str | None = None) -> pd.DataFrame:
        """Train every cell of ``arms`` (default: the grid's) that the store lacks; return (and
        record in status.csv) one status row per cell.

        An arm whose configuration is refused (e.g. a rewind point past the end of training),
        and a dataset whose files cannot be had, are skipped with the reason; the rest run
        (:func:`~lthlib.experiment.execution.execute`).  Cells of one (dataset, model, seed) run in
        order (branches need their trunk); different ones run at once on ``executor`` (default:
        the grid's): a name (``"local"``, ``"ray"``, ``"slurm"``, built with its defaults and
        closed after) or an :class:`~lthlib.machine.executors.Executor` built with
        :func:`~lthlib.machine.executors.make_executor`.  Locally, ``workers`` processes at once
        (default :func:`~lthlib.machine.platform.default_workers`; one: in this process), each a
        fresh interpreter, so a script may call this at top level, without an ``if __name__ ==
        "__main__"`` guard.  This process alone merges what trained into the tidy tables.
        """
        store = store or Store.of_profile(self.profile)
        cells = self.cells(arms)
        refused = {cell: reason for cell in cells if (reason := self.why_not(cell))}  # before anything trains
        groups = [[self.config(*c) for c in group if c not in refused] for group in self.groups(arms)]
        ran = execute([[g for g in groups if g]], store, max_level=max_level, progress=progress, workers=workers,
                      executor=self.executor if executor is None else executor)
        status = self.status_rows(cells, ran, refused)
        store.record_status(status)
        return pd.DataFrame(status, columns=STATUS_COLUMNS)


def with_glove_dim(cfg: ExperimentConfig, glove_dim: int | None) -> ExperimentConfig:
    """``cfg`` with ``embed_dim = glove_dim`` where its model reads GloVe (GloVe 6B 100d cannot
    be had offline; 50d can).  An ``embed_dim`` override would also change the CNN's randomly
    initialised embedding, which needs no GloVe at all."""
    if glove_dim is None or cfg.model.embedding != "glove" or cfg.model.embed_dim == glove_dim:
        return cfg
    return validate(replace(cfg, model=replace(cfg.model, embed_dim=glove_dim)))


# ---------------------------------------------------------------------------------------------
# A notebook's parameters
# ---------------------------------------------------------------------------------------------

def selection(profile: str = "smoke", datasets=None, models=None, seeds=None, arms=None,
              family: str | None = None, default_arms: Iterable[str] | None = None, **parameters) -> Grid:
    """A notebook's papermill parameters as a grid (None = the profile's value; '["imdb"]' or
    'imdb,ag_news' work).

    ``arms`` None means ``default_arms`` when given, else :func:`lthlib.experiment.arms.comparison`
    of ``family``: the winning ticket and that family's arms ('all': every arm; no family: the
    winning ticket alone).  The other parameters are overrides (``levels``, ``epochs``,
    ``rewind_point``, ...); None leaves the profile's value.  ``executor``: where the grid
    trains (local, ray or slurm; None: local).
    """
    chosen_arms = as_list(arms) or default_arms or comparison(family)
    return Grid.of(profile, as_list(datasets), as_list(models), chosen_arms, as_list(seeds, int), **parameters)


def listed(values) -> str:
    """Names or numbers as a reader writes them: 'imdb, ag_news'; consecutive integers as '0–4'."""
    values = list(values)
    if len(values) > 2 and all(isinstance(v, int) for v in values) and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}–{values[-1]}"
    return ", ".join(map(str, values)) if values else "none"
