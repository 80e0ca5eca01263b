"""Tickets across datasets: a winning ticket found on one dataset, trained on another of the
same vocabulary (the study's announced follow-up; Morcos et al. 2019 for images).

A profile's :class:`~lthlib.experiment.profiles.TransferStudy` names the pairs (source, target)
and seeds.  Every network of the study, on every dataset of its pairs, reads **one vocabulary**
built from all their training splits (``DataConfig.shared_vocab``), so row i of an embedding is
the same word everywhere and a mask on it carries over.  For each pair, model, seed and level L
the target trains, paired by seed:

- ``winning_ticket``      its own IMP ticket at level L (level 0: its dense network);
- ``transferred_ticket``  the source's level-L ticket mask from the source's θ0;
- ``transferred_reinit``  that mask, every weight re-drawn;
- ``transferred_random``  a random mask of that mask's per-tensor counts, from the source's θ0.

How a mask moves (:func:`lthlib.nets.masks.transferred_masks`): an output layer whose class
count differs is re-initialised (the target's own θ0 rows) and left dense; the embedding rows of
words the source never trained on are masked at random at the embedding's remaining share.  The
transferred arms search nothing on the target: its own ticket's ``mask_search_epochs`` at level L
is the search they avoid.

:class:`TransferGrid` builds the cells' configurations and trains them through the one execution
path (:func:`lthlib.experiment.execution.execute`, on the grid's executor, by name): first every
trunk (each dataset, model and seed, one group each), then the target arms.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import pandas as pd

from ..core.config import ConfigError, ExperimentConfig
from ..core.parameters import as_list, parse_all
from ..data.datasets import DATASETS
from ..machine.executors import Executor, executor_name
from ..nets.models import MODELS
from .arms import TICKET, families, run_hash
from .execution import Cells, execute
from .grid import listed
from .profiles import PROFILES, TransferStudy, experiment, validate
from .store import Store

#: What a target trains in a pair: its own ticket, then the arms that carry the source's mask.
TARGET_ARMS = (TICKET, *families("transfer"))
TRANSFER_CELL = ["source", "dataset", "model", "arm", "seed"]
TRANSFER_STATUS = "transfer_status"
TRANSFER_EXPECTED = [*TRANSFER_CELL, "protocol", "config_hash", "trunk_hash", "levels_expected", "last_level"]


class TransferCell(NamedTuple):
    source: str     # the pair's source: where the mask comes from (the own ticket's pair)
    dataset: str    # the target
    model: str
    arm: str
    seed: int


def study_of(profile: str) -> TransferStudy:
    study = PROFILES.get(profile).transfer
    if study is None:
        raise ConfigError(f"profile {profile!r} has no transfer experiment; profiles with one: "
                          f"{', '.join(p.name for p in PROFILES if p.transfer is not None)}")
    return study


def parse_pairs(pairs: Any) -> list[tuple[str, str]]:
    """'imdb>sst2,sst2>imdb' or [['imdb', 'sst2']] -> [('imdb', 'sst2'), ...], names checked."""
    out = []
    for item in as_list(pairs) or []:
        source, target = (item.split(">") if isinstance(item, str) else item)
        source, target = DATASETS.get(source.strip()).name, DATASETS.get(target.strip()).name
        if source == target:
            raise ConfigError(f"a transfer pair needs two datasets, got {source} > {target}")
        out.append((source, target))
    return out


@dataclass
class TransferGrid(Cells):
    """Pairs × models × seeds of one profile's transfer experiment, with overrides for every cell
    and the executor its training runs on (by name)."""
    profile: str
    pairs: list[tuple[str, str]]
    models: list[str]
    seeds: list[int]
    overrides: dict[str, Any] = field(default_factory=dict)
    executor: str = "local"

    @classmethod
    def of(cls, profile: str, pairs=None, models=None, seeds=None, executor: str | None = None,
           **overrides: Any) -> "TransferGrid":
        """None: the profile's pairs, models and the study's seeds, and the local executor."""
        study = study_of(profile)
        chosen = parse_pairs(pairs) or list(study.pairs)
        unknown = [p for p in chosen if p not in study.pairs]
        if unknown:
            raise ConfigError(f"pairs {unknown} are not in profile {profile!r}'s transfer study, whose "
                              f"one vocabulary is built from {', '.join(study.datasets)}; valid pairs: "
                              f"{', '.join(f'{s}>{t}' for s, t in study.pairs)}")
        return cls(profile, chosen, [MODELS.get(m).name for m in as_list(models) or PROFILES.get(profile).models],
                   [int(s) for s in as_list(seeds, int) or study.seeds], parse_all(overrides),
                   executor_name(executor))

    @property
    def study(self) -> TransferStudy:
        return study_of(self.profile)

    # -- configurations ----------------------------------------------------------------------
    def _own(self, dataset: str, model: str, seed: int) -> ExperimentConfig:
        """A dataset's winning-ticket configuration in this study (its settings, no vocabulary)."""
        return experiment(self.profile, dataset, model, TICKET, seed,
                          **{**self.study.settings.get(dataset, {}), **self.overrides})

    def shared_vocab(self, model: str) -> tuple[str, ...]:
        """'dataset/protocol' of every dataset of the study: the one vocabulary's sources."""
        return tuple(f"{d}/{self._own(d, model, self.seeds[0]).data.protocol}" for d in self.study.datasets)

    def trunk(self, dataset: str, model: str, seed: int) -> ExperimentConfig:
        """One dataset's winning-ticket trunk on the study's shared vocabulary (a pretrained
        model reads its own tokenizer's, the same on every dataset)."""
        cfg = self._own(dataset, model, seed)
        if MODELS.get(model).pretrained is not None:
            return validate(cfg)
        return validate(replace(cfg, data=replace(cfg.data, shared_vocab=self.shared_vocab(model))))

    def cell_config(self, cell: TransferCell) -> ExperimentConfig:
        return self.config(cell)

    def config_value(self, name: str) -> Any:
        """A top-level configuration field as this grid sets it (its first trunk's)."""
        return getattr(self.trunks()[0], name)

    def config(self, cell: TransferCell) -> ExperimentConfig:
        target = self.trunk(cell.dataset, cell.model, cell.seed)
        if cell.arm == TICKET:
            return target
        return validate(replace(target, arm=cell.arm, source=self.trunk(cell.source, cell.model, cell.seed)))

    # -- cells -------------------------------------------------------------------------------
    def cells(self) -> list[TransferCell]:
        """Per pair, model and seed: the target's own ticket, then the transferred arms."""
        return [TransferCell(source, target, model, arm, seed)
                for source, target in self.pairs for model in self.models for seed in self.seeds
                for arm in TARGET_ARMS]

    def trunks(self) -> list[ExperimentConfig]:
        """Every trunk the cells need (sources and targets), once each."""
        found = {}
        for source, target in self.pairs:
            for dataset in (source, target):
                for model in self.models:
                    for seed in self.seeds:
                        cfg = self.trunk(dataset, model, seed)
                        found.setdefault(run_hash(cfg), cfg)
        return list(found.values())

    def branches(self) -> list[list[ExperimentConfig]]:
        """The target arms, one group per pair, model and seed (each after its trunks)."""
        keys = dict.fromkeys((c.source, c.dataset, c.model, c.seed) for c in self.cells() if c.arm != TICKET)
        return [[self.config(c) for c in self.cells() if (c.source, c.dataset, c.model, c.seed) == key
                 and c.arm != TICKET] for key in keys]

    def expected(self) -> pd.DataFrame:
        return pd.DataFrame([self.expected_row(cell) for cell in self.cells()], columns=TRANSFER_EXPECTED)

    def check(self) -> None:
        """Build every configuration (no data read): bad input fails before any training."""
        for cell in self.cells():
            self.config(cell)

    def describe(self) -> str:
        if not self.pairs:
            return (f"profile {self.profile!r} transfer: no pair left (the datasets parameter names "
                    f"neither side of {', '.join(f'{s}>{t}' for s, t in self.study.pairs)}); nothing runs")
        extra = self.settings()
        def words(value):
            return listed(value) if isinstance(value, (list, tuple)) else value
        changed = "; ".join(f"{d}: {', '.join(f'{k} {words(v)}' for k, v in s.items())}"
                            for d, s in self.study.settings.items() if any(d in p for p in self.pairs))
        return (f"profile {self.profile} transfer: pairs {', '.join(f'{s} → {t}' for s, t in self.pairs)}; "
                f"models {listed(self.models)}; seeds {listed(self.seeds)}; one vocabulary from "
                f"{', '.join(self.shared_vocab(self.models[0]))}; {extra}"
                + (f"; this study's runs of {changed}" if changed else ""))

    # -- running -----------------------------------------------------------------------------
    def run(self, store: Store | None = None, *, max_level: int | None = None, progress: bool = False,
            workers: int | None = None, executor: Executor | str | None = None) -> pd.DataFrame:
        """Train what the store lacks on ``executor`` (default: the grid's; see :meth:`Grid.run
        <lthlib.experiment.grid.Grid.run>`): every trunk (one group each), then the target arms
        (one group per pair, model and seed); record one ``transfer_status`` row per cell."""
        self.check()
        store = store or Store.of_profile(self.profile)
        ran = execute([[[cfg] for cfg in self.trunks()], self.branches()], store, max_level=max_level,
                      progress=progress, workers=workers, executor=self.executor if executor is None else executor)
        rows = self.status_rows(self.cells(), ran)
        if rows:
            store.record_status(rows, table=TRANSFER_STATUS, keys=TRANSFER_CELL)
        return pd.DataFrame(rows, columns=[*TRANSFER_CELL, "config_hash", "status", "reason", "levels_done"])


def transfer_grid(profile: str = "smoke", pairs=None, models=None, seeds=None, datasets=None,
                  **parameters) -> TransferGrid:
    """Notebook 07's papermill parameters as a transfer grid (None: the profile's).  ``datasets``
    (the parameter every notebook takes) keeps the pairs both of whose datasets it names."""
    grid = TransferGrid.of(profile, pairs, models, seeds, **{k: v for k, v in parameters.items() if v is not None})
    kept = set(as_list(datasets) or [d for pair in grid.pairs for d in pair])
    grid.pairs = [pair for pair in grid.pairs if set(pair) <= kept]
    return grid

