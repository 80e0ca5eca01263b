"""The dense recipe, chosen on validation before any pruning (notebook 01).

A profile's :class:`Sweep` trains the dense network of every (dataset, model) once per
(learning rate, weight decay) on one seed; :func:`choose` picks one point per (dataset, model)
by a rule fixed in code before the sweep ran, reading validation only.  The profile then trains
every arm with the chosen recipe (:data:`lthlib.experiment.profiles.QUICK_RECIPES`), so "does
the ticket match dense" compares with a dense network tuned as well as this budget allows.

The sweep's runs are ordinary dense levels in the store (level 0 of the winning ticket under
that recipe), so the chosen point's network is the grid's seed-0 dense network, trained once.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, Iterable

import pandas as pd

from ..core.config import ConfigError, ExperimentConfig
from .arms import TICKET, run_hash
from .execution import execute
from .profiles import PROFILES, experiment
from .store import Store

#: two validation accuracies closer than this (points) are a tie: one seed cannot tell them apart
TIE = 0.25
SWEEP_COLUMNS = ["dataset", "model", "lr", "weight_decay", "best_val_acc", "best_val_loss", "best_epoch",
                 "epochs_run", "cap", "cap_bound", "test_acc", "chosen"]


@dataclass(frozen=True)
class Sweep:
    """The grid of dense recipes a profile tries, on one seed."""
    lrs: tuple[float, ...]
    weight_decays: tuple[float, ...]
    seed: int = 0

    def points(self) -> list[dict[str, float]]:
        return [{"lr": lr, "weight_decay": wd} for lr, wd in product(self.lrs, self.weight_decays)]


#: per profile: the learning rates around the study's (5e-3 IMDb, 1e-3 AG News) and AdamW's
#: decoupled weight decay from none to strong (lr x decay x steps: ~0.3 and ~3 over ten epochs)
SWEEPS = {"smoke": Sweep((1e-2, 3e-2), (0.0, 0.1)),
          "quick": Sweep((1e-3, 2e-3, 5e-3), (0.0, 0.1, 1.0)),
          "paper": Sweep((1e-3, 2e-3, 5e-3), (0.0, 0.1, 1.0))}


def sweep_configs(profile: str, datasets: Iterable[str], models: Iterable[str], sweep: Sweep | None = None,
                  overrides: dict[str, Any] | None = None) -> list[ExperimentConfig]:
    """One dense configuration per (dataset, model, recipe point), on top of ``overrides``."""
    sweep = sweep or SWEEPS[profile]
    return [experiment(profile, d, m, TICKET, sweep.seed, **{**(overrides or {}), "levels": 0, **point})
            for d in datasets for m in models for point in sweep.points()]


def run_sweep(profile: str, datasets: Iterable[str], models: Iterable[str], store: Store | None = None, *,
              sweep: Sweep | None = None, overrides: dict[str, Any] | None = None, executor: str | None = "local",
              workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Train what the store lacks of the sweep, then its table (:func:`sweep_table`)."""
    store = store or Store.of_profile(profile)
    configs = sweep_configs(profile, list(datasets), list(models), sweep, overrides)
    execute([[[cfg] for cfg in configs]], store, max_level=0, progress=progress, workers=workers,
            executor=executor)
    return sweep_table(configs, store.runs())


def sweep_table(configs: list[ExperimentConfig], runs: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep point that trained: what validation says of it (and test, for the
    record: the choice never reads it), and which point :func:`choose` picked."""
    dense = runs[runs["level"] == 0].drop_duplicates("config_hash").set_index("config_hash") if len(runs) else None
    rows = []
    for cfg in configs:
        key = run_hash(cfg)
        if dense is None or key not in dense.index:
            continue
        row = dense.loc[key]
        epochs_run, cap, patience = int(row["epochs_run"]), cfg.train.epochs, cfg.train.patience
        rows.append({"dataset": cfg.data.dataset, "model": cfg.model.name, "lr": cfg.train.lr,
                     "weight_decay": cfg.train.weight_decay, "best_val_acc": 100 * float(row["best_val_acc"]),
                     "best_val_loss": float(row["best_val_loss"]), "best_epoch": int(row["best_epoch"]),
                     "epochs_run": epochs_run, "cap": cap,
                     "cap_bound": epochs_run >= cap and (patience is None or int(row["best_epoch"]) > cap - patience),
                     "test_acc": 100 * float(row["test_acc"])})
    table = pd.DataFrame(rows, columns=SWEEP_COLUMNS[:-1])
    chosen = choose(table)
    picked = set(zip(chosen["dataset"], chosen["model"], chosen["lr"], chosen["weight_decay"]))
    table["chosen"] = [k in picked for k in zip(table["dataset"], table["model"], table["lr"], table["weight_decay"])]
    return table


def choose(table: pd.DataFrame) -> pd.DataFrame:
    """The rule, fixed before the sweep ran: per (dataset, model), the points whose validation
    accuracy (of the weights the study's rule keeps: best validation loss) lies within
    :data:`TIE` points of the best; of those the least regularised (smallest weight decay), then
    the best validation accuracy.  Test accuracy plays no part."""
    rows = []
    for (dataset, model), group in table.groupby(["dataset", "model"], sort=True):
        close = group[group["best_val_acc"] >= group["best_val_acc"].max() - TIE]
        pick = close.sort_values(["weight_decay", "best_val_acc"], ascending=[True, False]).iloc[0]
        rows.append({"dataset": dataset, "model": model, "lr": float(pick["lr"]),
                     "weight_decay": float(pick["weight_decay"]), "best_val_acc": float(pick["best_val_acc"])})
    return pd.DataFrame(rows, columns=["dataset", "model", "lr", "weight_decay", "best_val_acc"])


def recipes(table: pd.DataFrame) -> dict[tuple[str, str], dict[str, float]]:
    """:func:`choose`'s picks in the form of :data:`lthlib.experiment.profiles.QUICK_RECIPES`."""
    return {(r.dataset, r.model): {"lr": r.lr, "weight_decay": r.weight_decay}
            for r in choose(table).itertuples(index=False)}


def check_choice(profile: str, table: pd.DataFrame) -> None:
    """Stop before any arm trains when the sweep chose another recipe than the one the profile
    trains every arm with (its ``recipes``): the profile must be updated first, so that the rule,
    not the code's last edit, decides the recipe.  Pairs the profile has no recipe for pass."""
    fixed = PROFILES.get(profile).recipes
    wrong = {pair: (chosen, fixed[pair]) for pair, chosen in recipes(table).items()
             if pair in fixed and any(fixed[pair].get(k) != v for k, v in chosen.items())}
    if wrong:
        lines = "; ".join(f"{d} {m}: the sweep chose {c}, the profile trains with {f}"
                          for (d, m), (c, f) in wrong.items())
        raise ConfigError(f"{lines}.  Set the chosen recipes in the {profile!r} profile's recipes "
                          f"(lthlib/experiment/profiles.py) before training the grid.")
