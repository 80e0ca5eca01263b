"""The report's tables, each a function of the store's tidy tables (``runs``, ``status``).

- :func:`dense_table`    dense accuracy per dataset × model, beside the study's
- :func:`study_view`     the best pruned level chosen on *test*, as the reproduced study did
- :func:`sound_view`     the level chosen on *validation*, mean ± 95% CI over seeds, and the
                         sparsest level that matches dense under two stated criteria
- :func:`level_table`    test accuracy per arm and level, mean ± CI
- :func:`missing_cells`  every expected cell without (all its) results, and why

Accuracies and sparsities are shown in % (the store keeps fractions).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..data.datasets import DATASETS
from ..experiment.arms import ARMS, TICKET, all_arms
from .stats import PAIR, confidence_interval, format_ci, summarise

#: The resets the study's table compares: IMP rewound to θ0 (its winning ticket), and both
#: meanings of its "late rewinding": to θk early in training, and to the end of dense training.
STUDY_RESETS = ("theta0", "theta_k", "dense_final")
STUDY_COLUMNS = ["study_dense_acc", "study_ticket_acc", "study_ticket_sparsity", "study_n_params"]
DENSE_COLUMNS = ["dataset", "model", "n_seeds", "test_acc", "test_acc_ci", "test_acc_text", "val_acc",
                 "val_acc_ci", "best_epoch", "epochs_run", "train_seconds", "n_params"]
MISSING_COLUMNS = ["dataset", "model", "arm", "seed", "levels_found", "levels_expected", "state", "reason"]


def study_table(arm: str = TICKET) -> pd.DataFrame:
    """The reproduced study's published numbers per dataset × model, from the dataset registry:
    the table ``arm`` reproduces (:attr:`~lthlib.experiment.arms.Arm.study_table`: the winning
    ticket's is the study's table without late rewinding, dense rewinding's the one with it);
    empty for an arm the study has no table for."""
    table = ARMS.get(arm).study_table
    rows = [{"dataset": ds.name, "model": model, "study_dense_acc": numbers.dense_acc,
             "study_ticket_acc": numbers.ticket_acc, "study_ticket_sparsity": numbers.ticket_sparsity,
             "study_n_params": numbers.n_params}
            for ds in DATASETS for model, numbers in (ds.study_numbers(table) if table else {}).items()]
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
    (:func:`lthlib.experiment.arms.all_arms`).
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

    ``expected`` is :func:`lthlib.experiment.grid.expected_cells`.  The reason is the status table's
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
