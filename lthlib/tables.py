"""The report's tables, each a function of the store's tidy tables (``runs``, ``status``, masks).

- :func:`dense_table`    dense accuracy per dataset × model, beside the study's
- :func:`study_view`     the best pruned level chosen on *test*, as the reproduced study did
- :func:`sound_view`     the level chosen on *validation*, mean ± 95% CI over seeds, and the
                         sparsest level that matches dense under two stated criteria
- :func:`level_table`    test accuracy per arm and level, mean ± CI
- :func:`missing_cells`  every expected cell without (all its) results, and why
- :func:`mask_overlap`   Jaccard overlap of an arm's masks across seeds and levels

Accuracies and sparsities are shown in % (the store keeps fractions).
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .arms import ARMS, TICKET
from .datasets import DATASETS
from .labels import all_arms
from .masks import Masks, jaccard
from .stats import PAIR, confidence_interval, format_ci, summarise

#: The resets the study's table compares: IMP rewound to θ0 (its winning ticket), and both
#: meanings of its "late rewinding": to θk early in training, and to the end of dense training.
STUDY_RESETS = ("theta0", "theta_k", "dense_final")
STUDY_COLUMNS = ["study_dense_acc", "study_ticket_acc", "study_ticket_sparsity", "study_n_params"]
DENSE_COLUMNS = ["dataset", "model", "n_seeds", "test_acc", "test_acc_ci", "test_acc_text", "val_acc",
                 "val_acc_ci", "best_epoch", "epochs_run", "train_seconds", "n_params"]
MISSING_COLUMNS = ["dataset", "model", "arm", "seed", "levels_found", "levels_expected", "state", "reason"]
OVERLAP_COLUMNS = [*PAIR, "kind", "level", "remaining", "pair", "jaccard", "random"]


def study_table() -> pd.DataFrame:
    """The reproduced study's published numbers per dataset × model, from the dataset registry."""
    rows = [{"dataset": ds.name, "model": model, "study_dense_acc": numbers.dense_acc,
             "study_ticket_acc": numbers.ticket_acc, "study_ticket_sparsity": numbers.ticket_sparsity,
             "study_n_params": numbers.n_params}
            for ds in DATASETS for model, numbers in ds.study.items()]
    return pd.DataFrame(rows, columns=[*PAIR, *STUDY_COLUMNS])


def study_arms() -> list[tuple[str, str]]:
    """(arm, column prefix) of the study view: the trunks that reset to :data:`STUDY_RESETS`;
    the winning ticket's columns are ``ticket_*``."""
    return [(a.name, "ticket" if a.name == TICKET else a.name)
            for a in ARMS if a.is_trunk and a.reset_to in STUDY_RESETS]


def dense_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Level 0, one row per (dataset, model, seed): every arm records the same dense network."""
    if runs.empty:
        return runs
    dense = runs[runs["level"] == 0]
    return dense.drop_duplicates(["dataset", "model", "seed"]).reset_index(drop=True)


def dense_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Dense accuracy per dataset × model: test (and validation) accuracy, mean ± 95% CI over
    seeds, in %, beside the study's dense accuracy."""
    rows = []
    for (dataset, model), g in dense_runs(runs).groupby(PAIR, sort=True):
        test, test_ci = confidence_interval(100 * g["test_acc"])
        val, val_ci = confidence_interval(100 * g["best_val_acc"])
        rows.append({"dataset": dataset, "model": model, "n_seeds": len(g),
                     "test_acc": test, "test_acc_ci": test_ci, "test_acc_text": format_ci(test, test_ci),
                     "val_acc": val, "val_acc_ci": val_ci,
                     "best_epoch": float(g["best_epoch"].mean()),
                     "epochs_run": float(g["epochs_run"].mean()),
                     "train_seconds": float(g["train_seconds"].mean()),
                     "n_params": int(g["n_params"].iloc[0])})
    table = pd.DataFrame(rows, columns=DENSE_COLUMNS)
    return table.merge(study_table()[[*PAIR, "study_dense_acc", "study_n_params"]], on=PAIR, how="left")


def best_per_seed(runs: pd.DataFrame, arm: str, criterion: str) -> pd.DataFrame:
    """Per (dataset, model, seed): the pruned level (≥ 1) of ``arm`` with the highest
    ``criterion`` (ties: the sparser level), and its test accuracy and sparsity."""
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)].dropna(subset=[criterion])
    if sub.empty:
        return pd.DataFrame(columns=[*PAIR, "seed", "level", "test_acc", "remaining"])
    sub = sub.sort_values([*PAIR, "seed", criterion, "level"], ascending=[True, True, True, False, False])
    return sub.drop_duplicates([*PAIR, "seed"])[[*PAIR, "seed", "level", "test_acc", "remaining"]]


def _of_pair(frame: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    return frame[(frame["dataset"] == dataset) & (frame["model"] == model)]


def _joined_levels(levels: pd.Series) -> str:
    return ",".join(str(int(v)) for v in levels)


def study_view(runs: pd.DataFrame) -> pd.DataFrame:
    """The numbers as the reproduced study reported them, beside its published ones.

    Per dataset × model: the dense test accuracy; for each arm of :func:`study_arms`, the best
    pruned level's test accuracy and sparsity.  The best level is chosen **on the test set**
    (the study's criterion: optimistic, since the same numbers pick and score it), per seed,
    then test accuracy and sparsity are averaged over seeds.  Accuracies and sparsities in %.
    """
    arms = study_arms()
    best = {arm: best_per_seed(runs, arm, "test_acc") for arm, _ in arms}
    rows = []
    for (dataset, model), g in dense_runs(runs).groupby(PAIR, sort=True):
        row = {"dataset": dataset, "model": model, "n_seeds": len(g),
               "dense_acc": 100 * g["test_acc"].mean(), "n_params": int(g["n_params"].iloc[0])}
        for arm, prefix in arms:
            chosen = _of_pair(best[arm], dataset, model)
            row[f"{prefix}_acc"] = 100 * chosen["test_acc"].mean() if len(chosen) else np.nan
            row[f"{prefix}_sparsity"] = 100 * (1 - chosen["remaining"]).mean() if len(chosen) else np.nan
            row[f"{prefix}_levels"] = _joined_levels(chosen["level"])
        rows.append(row)
    columns = [*PAIR, "n_seeds", "dense_acc", "n_params"] + [
        f"{prefix}_{what}" for _, prefix in arms for what in ("acc", "sparsity", "levels")]
    return pd.DataFrame(rows, columns=columns).merge(study_table(), on=PAIR, how="left")


def _largest_sparsity(sparsity: pd.Series, ok: pd.Series | None) -> float:
    return float(sparsity[ok].max()) if ok is not None and ok.any() else np.nan


def _sound_row(runs: pd.DataFrame, by_level: pd.DataFrame, dense: pd.DataFrame, arm: str,
               level: float) -> dict | None:
    """One dataset × model's sound-view row for ``arm`` (``dense``: its level-0 rows)."""
    dataset, model = dense["dataset"].iloc[0], dense["model"].iloc[0]
    best = _of_pair(best_per_seed(runs, arm, "best_val_acc"), dataset, model)
    if best.empty:
        return None
    dense_mean, dense_ci = confidence_interval(100 * dense["test_acc"], level)
    dense_std = float((100 * dense["test_acc"]).std(ddof=1)) if len(dense) > 1 else float("nan")
    acc, ci = confidence_interval(100 * best["test_acc"], level)
    levels = _of_pair(by_level, dataset, model)
    levels = levels[levels["arm"] == arm]
    means, sparsity = 100 * levels["mean"], 100 * (1 - levels["remaining"])
    within_std = means >= dense_mean - dense_std if not pd.isna(dense_std) else None
    return {"dataset": dataset, "model": model, "arm": arm, "n_seeds": len(best),
            "dense_acc": dense_mean, "dense_ci": dense_ci, "dense_std": dense_std,
            "chosen_levels": _joined_levels(best["level"]),
            "chosen_sparsity": 100 * (1 - best["remaining"]).mean(),
            "chosen_acc": acc, "chosen_ci": ci, "chosen_text": format_ci(acc, ci),
            "match_std_sparsity": _largest_sparsity(sparsity, within_std),
            "match_mean_sparsity": _largest_sparsity(sparsity, means >= dense_mean)}


def sound_view(runs: pd.DataFrame, arms: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """The numbers chosen soundly, one row per dataset × model × arm (in %).

    - ``chosen_*``: per seed, the pruned level (≥ 1) with the highest **validation** accuracy;
      its test accuracy, mean ± t-interval over seeds (``chosen_acc``, ``chosen_ci``), and its
      mean sparsity.
    - ``match_std_sparsity``: the largest sparsity (over levels ≥ 1) whose mean test accuracy
      across seeds is within one standard deviation (across seeds) of the dense mean,
      i.e. ``mean ≥ dense_mean − dense_std``: criterion (a).  NaN with one seed (no std).
    - ``match_mean_sparsity``: the largest sparsity whose mean test accuracy is at least the
      dense mean: criterion (b).
    NaN sparsity: no level meets the criterion.  ``arms`` None: every arm, in the report's order
    (:func:`lthlib.labels.all_arms`).
    """
    if runs.empty:
        return pd.DataFrame()
    present = set(runs["arm"])
    arms = [a for a in (arms or all_arms()) if a in present]
    by_level = summarise(runs[runs["level"] >= 1], [*PAIR, "arm", "level"], "test_acc", level)
    rows = [_sound_row(runs, by_level, dense, arm, level)
            for _, dense in dense_runs(runs).groupby(PAIR, sort=True) for arm in arms]
    return pd.DataFrame([row for row in rows if row is not None])


def level_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) per dataset × model × arm × level: mean ± CI over seeds."""
    table = summarise(runs, [*PAIR, "arm", "level"], "test_acc")
    for column in ("mean", "std", "ci", "ci_low", "ci_high", "remaining"):
        table[column] = 100 * table[column]
    return table.rename(columns={"mean": "test_acc", "remaining": "remaining_pct"})


# ---------------------------------------------------------------------------------------------
# Missing cells
# ---------------------------------------------------------------------------------------------

def _trains_it(arm: str) -> str:
    notebook = ARMS.get(arm).notebook if arm in ARMS else "?"
    return f"run notebooks/{notebook}.ipynb"


def _why_missing(cell, n_found: int, status) -> str:
    """Why an expected cell lacks levels: its status row's reason, or which notebook trains it."""
    if status is not None and status.status != "done":
        return str(status.reason)
    if status is not None and str(status.config_hash) != cell.config_hash:
        return f"the store ran this cell with other parameters; not yet with these ({_trains_it(cell.arm)})"
    if status is not None:
        return (f"status 'done' but only {n_found} of {int(cell.levels_expected)} levels are in "
                "runs.csv (a run limited by max_level, or interrupted)")
    return f"not run yet ({_trains_it(cell.arm)})"


def missing_cells(runs: pd.DataFrame, status: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Every expected dataset × model × arm × seed cell that lacks some or all of its levels, and why.

    ``expected`` is :func:`lthlib.selection.expected_cells`.  The reason is the status table's
    (e.g. data unavailable), the configuration's refusal, or, for a cell nothing has tried,
    which notebook trains it.
    """
    if expected.empty:
        return pd.DataFrame(columns=MISSING_COLUMNS)
    found = runs.groupby("config_hash")["level"].nunique() if not runs.empty else pd.Series(dtype=int)
    by_cell = {}
    if status is not None and not status.empty:
        by_cell = {(r.dataset, r.model, r.arm, int(r.seed)): r for r in status.itertuples(index=False)}
    rows = []
    for cell in expected.itertuples(index=False):
        n_found = int(found.get(cell.config_hash, 0)) if cell.config_hash else 0
        if cell.refused:
            state, reason = "missing", f"configuration refused: {cell.refused}"
        elif not pd.isna(cell.levels_expected) and n_found >= cell.levels_expected:
            continue
        else:
            state = "missing" if n_found == 0 else "partial"
            key = (cell.dataset, cell.model, cell.arm, int(cell.seed))
            reason = _why_missing(cell, n_found, by_cell.get(key))
        rows.append({"dataset": cell.dataset, "model": cell.model, "arm": cell.arm, "seed": int(cell.seed),
                     "levels_found": n_found, "levels_expected": cell.levels_expected,
                     "state": state, "reason": reason})
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Mask overlap
# ---------------------------------------------------------------------------------------------

def random_jaccard(remaining: float) -> float:
    """The expected Jaccard index of two independent random masks keeping ``remaining``: p/(2-p)."""
    return remaining / (2 - remaining)


def _across_seeds(level_rows: pd.DataFrame, mask: Callable[[str, int], Masks]) -> list[dict]:
    """Every pair of seeds at one level, against independent random masks of that sparsity."""
    first = level_rows.iloc[0]
    remaining, lvl = float(level_rows["remaining"].mean()), int(first.level)
    return [{"dataset": first.dataset, "model": first.model, "kind": "across seeds", "level": lvl,
             "remaining": remaining, "pair": f"seeds {int(r1.seed)}-{int(r2.seed)}",
             "jaccard": jaccard(mask(r1.config_hash, lvl), mask(r2.config_hash, lvl)),
             "random": random_jaccard(remaining)}
            for (_, r1), (_, r2) in itertools.combinations(level_rows.iterrows(), 2)]


def _consecutive(level_rows: pd.DataFrame, previous: pd.DataFrame,
                 mask: Callable[[str, int], Masks]) -> list[dict]:
    """Each seed's mask at level L against its own at L - 1.  The reference is a mask nested in
    the previous one: |A∩B| / |A∪B| = |B| / |A|, the ratio of what remains."""
    remaining, prev_remaining = float(level_rows["remaining"].mean()), float(previous["remaining"].mean())
    rows = []
    for r in level_rows.itertuples(index=False):
        if not (previous["config_hash"] == r.config_hash).any():
            continue
        lvl = int(r.level)
        rows.append({"dataset": r.dataset, "model": r.model, "kind": "consecutive levels", "level": lvl,
                     "remaining": remaining, "pair": f"seed {int(r.seed)}: L{lvl - 1}-L{lvl}",
                     "jaccard": jaccard(mask(r.config_hash, lvl - 1), mask(r.config_hash, lvl)),
                     "random": remaining / prev_remaining if prev_remaining else np.nan})
    return rows


def mask_overlap(runs: pd.DataFrame, load_mask: Callable[[str, int], Masks],
                 arm: str = TICKET) -> pd.DataFrame:
    """Jaccard overlap of ``arm``'s masks (``load_mask(config_hash, level)`` -> masks).

    Rows of kind ``across seeds``: every pair of seeds at the same level (≥ 1); rows of kind
    ``consecutive levels``: each seed's mask at level L against L - 1 (L ≥ 2, where both are
    pruned).  ``random`` is the reference: across seeds, the expected overlap of independent
    random masks of that sparsity, p / (2 - p); between consecutive levels, the overlap of a mask
    nested in the previous one (the ratio of their sizes), which IMP reaches by construction.
    """
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)] if not runs.empty else runs
    cache: dict[tuple[str, int], Masks] = {}

    def mask(config_hash: str, lvl: int) -> Masks:
        if (config_hash, lvl) not in cache:
            cache[(config_hash, lvl)] = load_mask(config_hash, int(lvl))
        return cache[(config_hash, lvl)]

    rows = []
    for (dataset, model, lvl), level_rows in (sub.groupby([*PAIR, "level"], sort=True) if len(sub) else ()):
        level_rows = level_rows.sort_values("seed")
        rows += _across_seeds(level_rows, mask)
        if lvl >= 2:
            previous = _of_pair(sub, dataset, model)
            rows += _consecutive(level_rows, previous[previous["level"] == lvl - 1], mask)
        for key in [k for k in cache if k[1] < lvl - 1]:  # masks no later level needs
            cache.pop(key)
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS)
