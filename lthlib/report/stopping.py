"""Each run's stopping: the epoch two rules pick, and whether the epoch cap stopped it (the
readings :mod:`lthlib.report.learning` builds its tables from; issue #28).

Every function reads the store's tidy tables of **one study** (what
:func:`lthlib.report.results.load_results` gives for a grid): ``runs`` (one row per trained
network) and ``epochs`` (one row per epoch of it, test accuracy included), joined on
``config_hash`` and ``level``.  Level 0 is the dense network every arm records: it is read once
per seed, as the arm :data:`~lthlib.report.paired.DENSE`.  A frame holding two studies' rows
for one dataset × model × arm × seed × level (the committed ``results/quick`` tables hold the
IMP grid and the transfer study) is refused: restrict it with ``load_results`` first.

Two stopping rules pick each run's reported epoch:

- **the study's** (``loss``): the epoch of the lowest validation loss, ties to the earliest (the
  trainer keeps a strictly lower loss only); its test accuracy is runs.csv's ``test_acc``,
  which :func:`study_rule_mismatches` checks;
- **the alternative** (``acc``): the epoch of the highest validation accuracy, ties to the earliest.

The cap: a run trains at most ``epochs`` epochs (a pruned level of fine-tuning its
``finetune_epochs``: :meth:`lthlib.experiment.arms.Arm.epochs`) and stops early after
``patience`` epochs without a lower validation loss.  It is **cap-bound** when it ran all
``epochs`` and patience had not run out: ``epochs_run == cap`` and
``best_epoch > epochs_run − patience`` (no patience: every run that reached the cap).

- :func:`runs_view`                  the runs, level 0 once per seed as ``dense``
- :func:`per_run`                    each run's epoch and test accuracy under both rules
- :func:`epoch_curves`               every epoch of those runs (the learning curves)
- :func:`study_rule_mismatches`      runs whose ``test_acc`` is not the study's rule's epoch's
- :func:`cap_binding`, :func:`profile_caps`, :func:`with_caps`   how often the epoch cap bound
- :func:`describe_cap_binding`       what that says, in a sentence
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from ..core.config import ExperimentConfig, TrainConfig
from ..experiment.arms import ARMS, TICKET, all_arms
from .labels import arm_label
from .paired import DENSE
from .stats import PAIR

KEY = [*PAIR, "arm", "seed", "level"]
RUN = ["config_hash", "level"]
GROUP = [*PAIR, "arm", "level"]
#: the issue's acceptance: the cap binds in at most this share of an arm's runs
CAP_LIMIT = 0.10
#: cap_of: (dataset, model, arm, seed) -> a config, its TrainConfig or (epochs, patience); or a
#: mapping keyed by (dataset, model, arm), (dataset, model) or arm
CapOf = Callable[[str, str, str, int], Any] | Mapping[Any, Any]
PER_RUN_COLUMNS = [*KEY, "config_hash", "trained_as", "remaining", "epochs_run", "best_epoch", "test_acc",
                   "loss_epoch", "loss_test_acc", "acc_epoch", "acc_test_acc", "n_epochs"]
CAP_COLUMNS = ["n_runs", "n_cap_bound", "share", "n_best_at_cap", "n_fixed_budget", "within_limit"]


# ---------------------------------------------------------------------------------------------
# Runs and their epochs
# ---------------------------------------------------------------------------------------------

def _arm_order(arm: str) -> int:
    order = [DENSE, *all_arms()]
    return order.index(arm) if arm in order else len(order)


def sorted_rows(frame: pd.DataFrame, by: Sequence[str] = GROUP) -> pd.DataFrame:
    """Rows in the report's order: dense, then the arms as :func:`all_arms` lists them."""
    if frame.empty:
        return frame
    return frame.sort_values(list(by), key=lambda c: c.map(_arm_order) if c.name == "arm" else c,
                             kind="stable").reset_index(drop=True)


def runs_view(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with level 0 once per dataset × model × seed (and dense network, ``shared_from``)
    as arm :data:`DENSE`; ``trained_as`` keeps the arm that recorded it.  Refuses a frame with
    two rows of one dataset × model × arm × seed × level (two studies: see the module)."""
    if runs.empty:
        return runs.assign(trained_as=pd.Series(dtype=object))
    out = runs.assign(trained_as=runs["arm"])
    dense = out["level"] == 0
    out.loc[dense, "arm"] = DENSE
    same_dense = [*KEY, *(["shared_from"] if "shared_from" in out else [])]
    out = out[~(dense & out.duplicated(same_dense))]
    twice = out[out.duplicated(KEY, keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise ValueError(f"{len(twice)} rows share a dataset × model × arm × seed × level (e.g. "
                         f"{first['dataset']} {first['model']} {first['arm']} seed {first['seed']} level "
                         f"{first['level']}): the frame mixes studies; read one grid's rows with "
                         f"lthlib.report.notebook.load_results(grid)")
    return out.reset_index(drop=True)


def _rule_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    """Per run level (config_hash, level): the epoch and test accuracy each rule picks."""
    e = epochs[[*RUN, "epoch", "val_loss", "val_acc", "test_acc"]]
    by_loss = e.sort_values([*RUN, "val_loss", "epoch"]).drop_duplicates(RUN)
    by_acc = e.sort_values([*RUN, "val_acc", "epoch"], ascending=[True, True, False, True]).drop_duplicates(RUN)
    out = by_loss[[*RUN, "epoch", "test_acc"]].rename(columns={"epoch": "loss_epoch", "test_acc": "loss_test_acc"})
    out = out.merge(by_acc[[*RUN, "epoch", "test_acc"]].rename(
        columns={"epoch": "acc_epoch", "test_acc": "acc_test_acc"}), on=RUN)
    return out.merge(e.groupby(RUN).size().rename("n_epochs").reset_index(), on=RUN)


def per_run(runs: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (:func:`runs_view`): runs.csv's ``best_epoch`` and ``test_acc``, and the
    epoch and test accuracy (fractions) each rule picks from its epochs (NaN: no epochs)."""
    view = runs_view(runs)
    if view.empty:
        return pd.DataFrame(columns=PER_RUN_COLUMNS)
    out = view.merge(_rule_epochs(epochs), on=RUN, how="left")
    return out[PER_RUN_COLUMNS]


def epoch_curves(runs: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """epochs.csv's rows of the runs of :func:`runs_view` (level 0 once per seed, as
    ``dense``), each with its run's identity, ``remaining`` and ``best_epoch``."""
    view = runs_view(runs)
    columns = [*RUN, "epoch", "val_acc", "val_loss", "test_acc"]
    if view.empty or epochs.empty:
        return pd.DataFrame(columns=[*KEY, "remaining", "best_epoch", *columns[2:]])
    keep = view[[*RUN, *KEY[:-1], "remaining", "best_epoch"]]
    return epochs[columns].merge(keep, on=RUN)


def study_rule_mismatches(runs: pd.DataFrame, epochs: pd.DataFrame, tolerance: float = 1e-12) -> pd.DataFrame:
    """Every runs.csv row (any study) whose ``best_epoch`` or ``test_acc`` is not that of its
    epoch of lowest validation loss, or whose epochs.csv rows are missing or not ``epochs_run``
    many; empty when the study's rule reads as documented."""
    if runs.empty:
        return runs
    out = runs.merge(_rule_epochs(epochs), on=RUN, how="left")
    bad = (out["n_epochs"].isna() | (out["n_epochs"] != out["epochs_run"]) | (out["loss_epoch"] != out["best_epoch"])
           | ~((out["loss_test_acc"] - out["test_acc"]).abs() <= tolerance))
    return out[bad].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The epoch cap
# ---------------------------------------------------------------------------------------------

def profile_caps(profile: str, **overrides: Any) -> Callable[[str, str, str, int], ExperimentConfig]:
    """A ``cap_of`` for :func:`cap_binding`: the profile's configuration of a run
    (:func:`lthlib.experiment.profiles.experiment`, with ``overrides``: a notebook's parameters).
    A transfer arm, which needs a source, trains as its target's ticket does: that one's."""
    from ..experiment.profiles import experiment

    @functools.lru_cache(maxsize=None)
    def config(dataset: str, model: str, arm: str, seed: int) -> ExperimentConfig:
        own = TICKET if arm in ARMS and ARMS.get(arm).transfers else arm
        return experiment(profile, dataset, model, own, int(seed), **overrides)
    return config


def _limits(value: Any, arm: str, level: int) -> tuple[int, int | None]:
    """(cap, patience) of one run from what ``cap_of`` gave."""
    if isinstance(value, ExperimentConfig):
        epochs = value.train.epochs if level == 0 or arm not in ARMS else ARMS.get(arm).epochs(value)
        return int(epochs), value.train.patience
    if isinstance(value, TrainConfig):
        return int(value.epochs), value.patience
    epochs, patience = value
    return int(epochs), None if patience is None or pd.isna(patience) else int(patience)


def _limits_of(cap_of: CapOf | str) -> Callable[[str, str, str, int, int], tuple[int, int | None]]:
    if isinstance(cap_of, str):
        cap_of = profile_caps(cap_of)
    if callable(cap_of):
        return lambda d, m, a, s, lvl: _limits(cap_of(d, m, a, int(s)), a, lvl)

    def lookup(d: str, m: str, a: str, s: int, lvl: int):
        for key in ((d, m, a), (d, m), a):
            if key in cap_of:
                return _limits(cap_of[key], a, lvl)
        raise KeyError(f"cap_of has no entry for {(d, m, a)} (keys: (dataset, model, arm), (dataset, model) or arm)")
    return lookup


def with_caps(view: pd.DataFrame, cap_of: CapOf | str) -> pd.DataFrame:
    """``view`` (:func:`runs_view` or :func:`per_run`) with each run's ``cap`` and ``patience``
    (-1: none), ``cap_bound`` and ``best_at_cap``; refuses a run that trained past its cap."""
    limits = _limits_of(cap_of)
    found = [limits(r.dataset, r.model, r.trained_as, r.seed, int(r.level)) for r in view.itertuples(index=False)]
    out = view.assign(cap=[c for c, _ in found], patience=[-1 if p is None else p for _, p in found])
    over = out[out["epochs_run"] > out["cap"]]
    if len(over):
        r = over.iloc[0]
        raise ValueError(f"{r['dataset']} {r['model']} {r['arm']} seed {r['seed']} level {r['level']} ran "
                         f"{r['epochs_run']} epochs, past its cap of {r['cap']}: cap_of is not its configuration")
    patience_left = (out["patience"] < 0) | (out["best_epoch"] > out["epochs_run"] - out["patience"])
    # a budget no longer than the patience is fixed: early stopping cannot act before it (fine-tuning's
    # few epochs), so reaching it is the arm's definition, not a cap that binds
    fixed = (out["patience"] >= 0) & (out["cap"] <= out["patience"])
    return out.assign(cap_bound=(out["epochs_run"] == out["cap"]) & patience_left & ~fixed,
                      best_at_cap=out["best_epoch"] == out["cap"], fixed_budget=fixed)


def cap_binding(runs: pd.DataFrame, cap_of: CapOf | str, by: Sequence[str] = ("arm",),
                limit: float = CAP_LIMIT) -> pd.DataFrame:
    """Per ``by`` (the arm; add dataset and model for the breakdown), over every run (level 0
    once per seed, as ``dense``): how many ran into the epoch cap with patience left
    (``n_cap_bound``; see the module), their ``share``, how many were still at their best at
    the cap (``n_best_at_cap``: the validation loss still falling), and whether the share is at
    most ``limit``.  ``cap_of``: a profile name, a callable (dataset, model, arm, seed) -> config
    (e.g. a notebook's ``sel.config``), or a mapping (see :data:`CapOf`)."""
    by = list(by)
    view = runs_view(runs)
    if view.empty:
        return pd.DataFrame(columns=[*by, *CAP_COLUMNS])
    capped = with_caps(view, cap_of)
    table = capped.groupby(by, sort=False).agg(n_runs=("cap_bound", "size"), n_cap_bound=("cap_bound", "sum"),
                                               n_best_at_cap=("best_at_cap", "sum"),
                                               n_fixed_budget=("fixed_budget", "sum")).reset_index()
    table["share"] = table["n_cap_bound"] / table["n_runs"]
    table["within_limit"] = table["share"] <= limit
    return sorted_rows(table[[*by, *CAP_COLUMNS]], by)


def describe_cap_binding(table: pd.DataFrame, limit: float = CAP_LIMIT) -> str:
    """The arms whose runs the epoch cap bound in more than ``limit`` of them (:func:`cap_binding`
    by arm)."""
    if table.empty:
        return "No runs to check against the epoch cap yet."
    over = table[~table["within_limit"]]
    fixed = table[table["n_fixed_budget"] > 0] if "n_fixed_budget" in table else table.iloc[:0]
    note = "".join(f"  {arm_label(r.arm)} trains a fixed budget no longer than the patience in "
                   f"{r.n_fixed_budget} of {r.n_runs} runs (early stopping cannot act there; not counted)."
                   for r in fixed.itertuples())
    if over.empty:
        return f"The epoch cap bound in at most {limit:.0%} of every arm's runs.{note}"
    shares = ", ".join(f"{arm_label(r.arm)} {r.share:.0%} ({r.n_cap_bound}/{r.n_runs})" for r in over.itertuples())
    return (f"The epoch cap bound (training still had patience left) in more than {limit:.0%} of the runs of: "
            f"{shares}; their early-stopping epochs and accuracies are those of a capped budget.{note}")
