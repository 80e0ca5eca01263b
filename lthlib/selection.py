"""A notebook's papermill parameters as one :class:`Selection`, and the store's results for it.

A selection is a profile's grid (datasets × models × seeds), the arms a notebook is about, and
the overrides its parameters set.  It names exactly the configurations it means, so
:func:`load_results` keeps only their rows: a store may hold runs made with other parameters,
and those are left out, never mixed in.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .arms import TICKET, run_hash
from .config import ConfigError, ExperimentConfig, as_list, results_dir
from .datasets import DATASETS
from .labels import arm_names, comparison
from .models import MODELS
from .profiles import OVERRIDES, PROFILES, experiment
from .store import Store

CELL = ["dataset", "model", "arm", "seed"]
EXPECTED_COLUMNS = [*CELL, "protocol", "config_hash", "levels_expected", "refused"]
#: Notebook parameters that are overrides, and how a papermill string becomes their value.
PARAMETER_TYPES = {"levels": int, "prune_fraction": float, "epochs": int, "rewind_point": str,
                   "prunable": str, "init_scope": str, "synflow_rounds": int, "early_bird_epsilon": float}


@dataclass
class Selection:
    """The papermill parameters of a notebook, parsed: the grid, the arms, the overrides."""
    profile: str
    datasets: list[str]
    models: list[str]
    seeds: list[int]
    arms: tuple[str, ...] = (TICKET,)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: the seeds were left to the profile, which may run some arms or datasets on other seeds
    profile_seeds: bool = False

    def seeds_of(self, arm: str, dataset: str) -> list[int]:
        """The seeds of one arm on one dataset: the profile's for them, unless seeds were given."""
        if not self.profile_seeds:
            return self.seeds
        return list(PROFILES.get(self.profile).seeds_for(arm, dataset))

    def cells(self, arm: str) -> list[tuple[str, str, int]]:
        """(dataset, model, seed) of every configuration of ``arm`` the selection names."""
        return [(d, m, s) for d, m in itertools.product(self.datasets, self.models) for s in self.seeds_of(arm, d)]

    def config(self, dataset: str, model: str, arm: str, seed: int) -> ExperimentConfig:
        return experiment(self.profile, dataset, model, arm, seed, **self.overrides)

    def protocol(self, dataset: str) -> str:
        """The split protocol the selection's runs of ``dataset`` use."""
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
        """A top-level configuration field as this selection sets it (e.g. ``early_bird_epsilon``)."""
        return getattr(self.config(self.datasets[0], self.models[0], TICKET, self.seeds[0]), name)

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "the profile's settings"
        grid, exceptions = PROFILES.get(self.profile), ""
        if self.profile_seeds:
            exceptions += "".join(f"; {d} on seeds {list(grid.dataset_seeds[d])}"
                                  for d in self.datasets if d in grid.dataset_seeds)
            exceptions += "".join(f"; {a} on seeds {list(grid.arm_seeds[a])} only"
                                  for a in self.arms if a in grid.arm_seeds)
        return (f"profile {self.profile!r}: datasets {self.datasets}, models {self.models}, "
                f"seeds {self.seeds}, arms {list(self.arms)}{exceptions}; {extra}")


def _given(value: Any) -> bool:
    return value is not None and str(value).strip().lower() not in ("", "none", "null")


def selection(profile: str = "smoke", datasets=None, models=None, seeds=None, arms=None,
              family: str | None = None, default_arms: Iterable[str] | None = None, **parameters) -> Selection:
    """Parse notebook parameters (None = the profile's value; '["imdb"]' or 'imdb,ag_news' work).

    ``arms`` None means ``default_arms`` when given, else :func:`lthlib.labels.comparison` of
    ``family``: the winning ticket and that family's arms ('all': every arm; no family: the
    winning ticket alone).  The other
    parameters are overrides (``levels``, ``epochs``, ``rewind_point``, ...); None leaves the
    profile's value.
    """
    grid = PROFILES.get(profile)
    overrides = {name: PARAMETER_TYPES.get(name, lambda v: v)(value)
                 for name, value in parameters.items() if _given(value)}
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(OVERRIDES))}")
    chosen_seeds = as_list(seeds, int)
    chosen_arms = tuple(arm_names(as_list(arms) or default_arms or comparison(family)))
    return Selection(profile=profile,
                     datasets=[DATASETS.get(name).name for name in as_list(datasets) or grid.datasets],
                     models=[MODELS.get(name).name for name in as_list(models) or grid.models],
                     seeds=list(grid.seeds) if chosen_seeds is None else chosen_seeds,
                     arms=chosen_arms, overrides=overrides, profile_seeds=chosen_seeds is None)


def config_hash(cfg: ExperimentConfig) -> str:
    """The store's name for a configuration's run: the fingerprint of its run key."""
    return run_hash(cfg)


def expected_cells(sel: Selection, arms: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per dataset × model × arm × seed the selection asks for, with its config hash
    and number of levels (0..levels); ``refused`` holds the reason a configuration is invalid."""
    rows = []
    cells = [(d, m, arm, seed) for d, m, arm in itertools.product(sel.datasets, sel.models, arms or sel.arms)
             for seed in sel.seeds_of(arm, d)]
    for dataset, model, arm, seed in cells:
        row = {"dataset": dataset, "model": model, "arm": arm, "seed": int(seed),
               "protocol": sel.protocol(dataset)}
        try:
            cfg = sel.config(dataset, model, arm, seed)
            row.update(config_hash=config_hash(cfg), levels_expected=cfg.prune.levels + 1, refused="")
        except ConfigError as error:
            row.update(config_hash="", levels_expected=np.nan, refused=str(error))
        rows.append(row)
    return pd.DataFrame(rows, columns=EXPECTED_COLUMNS)


def store(profile: str) -> Store:
    return Store(results_dir(profile))


@dataclass
class Results:
    """The store's tables restricted to a selection, what it expected, and the store itself."""
    runs: pd.DataFrame
    epochs: pd.DataFrame
    layers: pd.DataFrame
    status: pd.DataFrame
    expected: pd.DataFrame
    store: Store
    collapse: pd.DataFrame      # per masked tensor and level: what survives, what collapsed
    mask_distance: pd.DataFrame  # per early-bird level and dense epoch: the mask distance


def _keep(frame: pd.DataFrame, levels: pd.Series) -> pd.DataFrame:
    """The rows of the expected runs (``levels``: config hash -> number of levels expected)."""
    if frame.empty or "config_hash" not in frame:
        return frame
    wanted = frame["config_hash"].map(levels)
    return frame[wanted.notna() & (frame["level"] < wanted)].reset_index(drop=True)


def load_results(sel: Selection, arms: Iterable[str] | None = None) -> Results:
    """The store's tables, keeping only rows of the configurations the selection names (its
    arms, or ``arms``), up to its number of levels: a run key leaves the number of levels out,
    so a run extended further shares its folder, and the deeper levels are not this selection's."""
    st = store(sel.profile)
    expected = expected_cells(sel, arms)
    levels = expected[expected["config_hash"] != ""].set_index("config_hash")["levels_expected"]
    status = st.table("status")
    if not status.empty:
        status = status.merge(expected[CELL], on=CELL, how="inner")
    return Results(_keep(st.runs(), levels), _keep(st.epochs(), levels), _keep(st.layers(), levels),
                   status, expected, st, _keep(st.table("collapse"), levels), _keep(st.table("mask_distance"), levels))
