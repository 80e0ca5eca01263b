"""The report layer: tables, confidence intervals, figures and plain sentences from the store.

Everything here is a function of the store's tidy tables (``runs``, ``epochs``, ``layers``,
``status``; see :mod:`lthlib.store`) so it can be tested on synthetic frames.  Notebooks call:

- :func:`selection`           the papermill parameters as one object (lists, overrides)
- :func:`run_arms`            train the arms of a selection (through :func:`lottery.run_grid`),
                              then print and return the status table
- :func:`load_results`        the store's tables, restricted to the selection's configurations
- :func:`study_view`          the numbers as the reproduced study picked them (on *test*)
- :func:`sound_view`          the level chosen on *validation*, mean ± 95% CI over seeds, and the
                              sparsest ticket that matches dense under two stated criteria
- :func:`paired_difference`   per level, the per-seed paired difference of two arms (mean, CI)
- ``plot_*``                  matplotlib figures (seaborn style); :func:`save_figure` writes them
- :func:`save_table`          CSV and Markdown under ``results/<profile>/tables/``
- ``describe_*``              short sentences built from the numbers, for the notebooks' text
- :func:`missing_cells`       every dataset × model × arm × seed without (all its) results, and why

Accuracies are fractions in the store; the views and figures show percentages.
"""
from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import config as C

# ---------------------------------------------------------------------------------------------
# Names, colours, the study's numbers
# ---------------------------------------------------------------------------------------------

DATASET_NAMES = {"imdb": "IMDb", "ag_news": "AG News", "synthetic": "Synthetic"}
MODEL_NAMES = {"cnn": "CNN", "lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
ARM_NAMES = {
    "winning_ticket": "winning ticket (θ0)",
    "late_rewinding": "late rewinding (θk)",
    "dense_rewinding": "dense rewinding (study's 'late')",
    "lr_rewinding": "LR rewinding",
    "fine_tuning": "fine-tuning",
    "random_reinit": "random re-init",
    "random_pruning": "random pruning",
}
ARM_COLORS = {
    "winning_ticket": "#1f77b4", "late_rewinding": "#2ca02c", "dense_rewinding": "#9467bd",
    "lr_rewinding": "#8c564b", "fine_tuning": "#e377c2", "random_reinit": "#d62728",
    "random_pruning": "#ff7f0e",
}
CONTROL_ARMS = ("winning_ticket", "random_reinit", "random_pruning")
REWIND_ARMS = ("winning_ticket", "late_rewinding", "dense_rewinding", "lr_rewinding", "fine_tuning")
# which notebook trains an arm (to say where a missing cell comes from)
ARM_NOTEBOOK = {
    "winning_ticket": "03_winning_tickets",
    "random_reinit": "02_random_pruning", "random_pruning": "02_random_pruning",
    "late_rewinding": "04_late_rewinding", "dense_rewinding": "04_late_rewinding",
    "lr_rewinding": "04_late_rewinding", "fine_tuning": "04_late_rewinding",
}

#: The reproduced study's published numbers: test accuracy in %, the best ticket's sparsity
#: (fraction of weights pruned, in %), and the dense parameter count.
STUDY_TABLE = pd.DataFrame([
    {"dataset": "imdb", "model": "cnn", "study_dense_acc": 87.04, "study_ticket_acc": 87.55,
     "study_ticket_sparsity": 36.0, "study_n_params": 5_120_801},
    {"dataset": "ag_news", "model": "cnn", "study_dense_acc": 89.18, "study_ticket_acc": 89.56,
     "study_ticket_sparsity": 89.3, "study_n_params": 5_121_704},
    {"dataset": "imdb", "model": "lstm", "study_dense_acc": 90.60, "study_ticket_acc": 90.24,
     "study_ticket_sparsity": 86.6, "study_n_params": 4_810_857},
    {"dataset": "ag_news", "model": "lstm", "study_dense_acc": 91.75, "study_ticket_acc": 91.89,
     "study_ticket_sparsity": 48.8, "study_n_params": 4_812_396},
])

PAIR = ["dataset", "model"]


def pair_name(dataset: str, model: str) -> str:
    return f"{DATASET_NAMES.get(dataset, dataset)} {MODEL_NAMES.get(model, model)}"


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------

# two-sided 95% t quantiles t_{0.975, df}, used when scipy is not installed
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
         25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042}


def t_quantile(q: float, df: int) -> float:
    """The q-quantile of Student's t with df degrees of freedom.

    scipy when it is installed; otherwise a table for q = 0.975 (df ≤ 30) and a Cornish-Fisher
    expansion around the normal quantile elsewhere (within 0.1% for df ≥ 5).
    """
    try:
        from scipy import stats
        return float(stats.t.ppf(q, df))
    except ImportError:
        pass
    if abs(q - 0.975) < 1e-12 and df in _T975:
        return _T975[df]
    z = statistics.NormalDist().inv_cdf(q)
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of the t-interval ``mean ± t_{(1+level)/2, n-1} · s / √n``.

    NaNs are dropped.  With one value the spread is unknown, so the half-width is NaN (not 0);
    with none, both are NaN.
    """
    x = np.asarray([v for v in values if v is not None and not pd.isna(v)], dtype=float)
    n = len(x)
    if n == 0:
        return float("nan"), float("nan")
    mean = float(x.mean())
    if n == 1:
        return mean, float("nan")
    sd = float(x.std(ddof=1))
    return mean, t_quantile((1 + level) / 2, n - 1) * sd / math.sqrt(n)


def summarise(frame: pd.DataFrame, by: Sequence[str], value: str = "test_acc",
              level: float = 0.95) -> pd.DataFrame:
    """Per group: n, mean, std, the CI half-width and bounds of ``value``; mean remaining too."""
    rows = []
    if frame.empty:
        return pd.DataFrame(columns=[*by, "n", "mean", "std", "ci", "ci_low", "ci_high", "remaining"])
    for key, group in frame.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        vals = group[value].dropna()
        mean, half = confidence_interval(vals, level)
        row = dict(zip(by, key))
        row.update(n=int(len(vals)), mean=mean,
                   std=float(vals.std(ddof=1)) if len(vals) > 1 else float("nan"),
                   ci=half, ci_low=mean - half, ci_high=mean + half)
        if "remaining" in group:
            row["remaining"] = float(group["remaining"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt_ci(mean: float, half: float, digits: int = 2, unit: str = "") -> str:
    """'82.00% ± 4.97%', or '82.00% (one seed, no interval)' when the half-width is NaN."""
    if pd.isna(mean):
        return "n/a"
    if pd.isna(half):
        return f"{mean:.{digits}f}{unit} (one seed, no interval)"
    return f"{mean:.{digits}f}{unit} ± {half:.{digits}f}{unit}"


# ---------------------------------------------------------------------------------------------
# Selections: the notebook parameters, the grid, the configurations they mean
# ---------------------------------------------------------------------------------------------

@dataclass
class Selection:
    """The papermill parameters of a notebook, parsed: which grid, and which overrides."""
    profile: str
    datasets: list[str]
    models: list[str]
    seeds: list[int]
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, dataset: str, model: str, arm: str, seed: int) -> C.ExperimentConfig:
        return C.experiment(self.profile, dataset, model, arm, seed, **self.overrides)

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "the profile's settings"
        return (f"profile {self.profile!r}: datasets {self.datasets}, models {self.models}, "
                f"seeds {self.seeds}; {extra}")


def selection(profile: str = "smoke", datasets=None, models=None, seeds=None, levels=None,
              prune_fraction=None, epochs=None, rewind_point=None, prunable=None,
              **more) -> Selection:
    """Parse notebook parameters (None = the profile's value; '["imdb"]' or 'imdb,ag_news' work)."""
    if profile not in C.PROFILE_GRIDS:
        raise C.ConfigError(f"unknown profile {profile!r}; valid: {', '.join(C.PROFILES)}")
    grid = C.PROFILE_GRIDS[profile]
    overrides = {"levels": None if levels is None else int(levels),
                 "prune_fraction": None if prune_fraction is None else float(prune_fraction),
                 "epochs": None if epochs is None else int(epochs),
                 "rewind_point": None if rewind_point is None else str(rewind_point),
                 "prunable": None if prunable is None else str(prunable), **more}
    overrides = {k: v for k, v in overrides.items()
                 if v is not None and str(v).strip().lower() not in ("", "none", "null")}
    return Selection(profile=profile,
                     datasets=C.as_list(datasets) or list(grid.datasets),
                     models=C.as_list(models) or list(grid.models),
                     seeds=C.as_list(seeds, int) if C.as_list(seeds, int) is not None else list(grid.seeds),
                     overrides=overrides)


def expected_cells(sel: Selection, arms: Iterable[str] = C.ARMS) -> pd.DataFrame:
    """One row per dataset × model × arm × seed the selection asks for, with its config hash
    and number of levels (0..levels); ``refused`` holds the reason a configuration is invalid."""
    rows = []
    for dataset, model, arm, seed in itertools.product(sel.datasets, sel.models, arms, sel.seeds):
        row = {"dataset": dataset, "model": model, "arm": arm, "seed": int(seed)}
        try:
            cfg = sel.config(dataset, model, arm, seed)
            row.update(config_hash=C.fingerprint(cfg), levels_expected=cfg.prune.levels + 1,
                       refused="")
        except C.ConfigError as error:
            row.update(config_hash="", levels_expected=np.nan, refused=str(error))
        rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "model", "arm", "seed", "config_hash",
                                       "levels_expected", "refused"])


def describe_left_out(sel: Selection) -> str:
    """The profile's datasets the selection leaves out, and whether their files are here."""
    from .data import local_files_missing
    lines = []
    for dataset in C.PROFILE_GRIDS[sel.profile].datasets:
        if dataset in sel.datasets:
            continue
        missing = local_files_missing(dataset)
        why = (f"its files {', '.join(missing)} are not available here (not in LTH_DATA_MIRROR "
               "or data/raw, and nothing was downloaded)" if missing else "its files are here")
        lines.append(f"{DATASET_NAMES.get(dataset, dataset)} did not run: left out by the datasets "
                     f"parameter; {why}. None of its cells appear in any table or figure.")
    return "\n".join(lines) or "No dataset of the profile was left out."


def store(profile: str):
    from .store import Store
    return Store(C.results_dir(profile))


@dataclass
class Results:
    runs: pd.DataFrame
    epochs: pd.DataFrame
    layers: pd.DataFrame
    status: pd.DataFrame
    expected: pd.DataFrame


def load_results(sel: Selection, arms: Iterable[str] = C.ARMS) -> Results:
    """The store's tables, keeping only rows of the configurations the selection names (a store
    may hold runs made with other parameters; they are left out, not mixed in)."""
    st = store(sel.profile)
    expected = expected_cells(sel, arms)
    hashes = set(expected["config_hash"]) - {""}

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or "config_hash" not in frame:
            return frame
        return frame[frame["config_hash"].isin(hashes)].reset_index(drop=True)

    status = st.table("status")
    if not status.empty:
        status = status.merge(expected[["dataset", "model", "arm", "seed"]],
                              on=["dataset", "model", "arm", "seed"], how="inner")
    return Results(keep(st.runs()), keep(st.epochs()), keep(st.layers()), status, expected)


# ---------------------------------------------------------------------------------------------
# Training from a notebook
# ---------------------------------------------------------------------------------------------

def run_arms(sel: Selection, arms: Sequence[str], max_level: int | None = None,
             progress: bool = False) -> pd.DataFrame:
    """Train ``arms`` over the selection's grid (skipping what the store has); return the status.

    An arm whose configuration is refused (e.g. a rewind point past the end of training) does
    not stop the others: its cells are recorded in status.csv as skipped, with the reason.
    """
    from . import lottery
    st = store(sel.profile)
    frames, valid = [], []
    for arm in arms:  # refuse a bad arm before anything trains, and let the others run
        try:
            for d, m, s in itertools.product(sel.datasets, sel.models, sel.seeds):
                C.experiment(sel.profile, d, m, arm, s, **sel.overrides)
            valid.append(arm)
        except C.ConfigError as error:
            rows = [{"dataset": d, "model": m, "arm": arm, "seed": s, "config_hash": "",
                     "status": "skipped", "reason": f"configuration refused: {error}",
                     "levels_done": 0}
                    for d, m, s in itertools.product(sel.datasets, sel.models, sel.seeds)]
            st.record_status(rows)
            frames.append(pd.DataFrame(rows))
    if valid:
        frames.append(lottery.run_grid(sel.profile, datasets=sel.datasets, models=sel.models,
                                       arms=valid, seeds=sel.seeds, max_level=max_level,
                                       store=st, progress=progress, **sel.overrides))
    status = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    print(describe_status(status))
    return status


def describe_status(status: pd.DataFrame) -> str:
    """'All 8 cells ran.' or one line per skipped dataset/arm: 'AG News did not run: <reason>'."""
    if status is None or status.empty:
        return "No cells were run (the selection is empty)."
    done = status[status["status"] == "done"]
    skipped = status[status["status"] != "done"]
    lines = []
    if skipped.empty:
        lines.append(f"All {len(status)} cells ran (status 'done').")
    else:
        lines.append(f"{len(done)} of {len(status)} cells ran; {len(skipped)} did not.")
        for (dataset, reason), group in skipped.groupby(["dataset", "reason"], sort=True):
            what = sorted({f"{MODEL_NAMES.get(m, m)} {a}" for m, a in zip(group["model"], group["arm"])})
            lines.append(f"{DATASET_NAMES.get(dataset, dataset)} did not run "
                         f"({', '.join(what)}; seeds {sorted(set(group['seed'].astype(int)))}): {reason}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def dense_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Level 0, one row per (dataset, model, seed): every arm records the same dense network."""
    if runs.empty:
        return runs
    dense = runs[runs["level"] == 0]
    return dense.drop_duplicates(["dataset", "model", "seed"]).reset_index(drop=True)


def dense_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Dense accuracy per dataset × model: test (and validation) accuracy, mean ± 95% CI over
    seeds, in %, beside the study's dense accuracy."""
    dense = dense_runs(runs)
    rows = []
    for (dataset, model), g in dense.groupby(PAIR, sort=True):
        test, test_ci = confidence_interval(100 * g["test_acc"])
        val, val_ci = confidence_interval(100 * g["best_val_acc"])
        rows.append({"dataset": dataset, "model": model, "n_seeds": len(g),
                     "test_acc": test, "test_acc_ci": test_ci,
                     "test_acc_text": _fmt_ci(test, test_ci),
                     "val_acc": val, "val_acc_ci": val_ci,
                     "best_epoch": float(g["best_epoch"].mean()),
                     "epochs_run": float(g["epochs_run"].mean()),
                     "train_seconds": float(g["train_seconds"].mean()),
                     "n_params": int(g["n_params"].iloc[0])})
    table = pd.DataFrame(rows, columns=["dataset", "model", "n_seeds", "test_acc", "test_acc_ci",
                                        "test_acc_text", "val_acc", "val_acc_ci", "best_epoch",
                                        "epochs_run", "train_seconds", "n_params"])
    return table.merge(STUDY_TABLE[["dataset", "model", "study_dense_acc", "study_n_params"]],
                       on=PAIR, how="left")


def _best_per_seed(runs: pd.DataFrame, arm: str, criterion: str) -> pd.DataFrame:
    """Per (dataset, model, seed): the pruned level (≥ 1) of ``arm`` with the highest
    ``criterion`` (ties: the sparser level), and its test accuracy and sparsity."""
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)].dropna(subset=[criterion])
    if sub.empty:
        return pd.DataFrame(columns=["dataset", "model", "seed", "level", "test_acc", "remaining"])
    sub = sub.sort_values([*PAIR, "seed", criterion, "level"], ascending=[True, True, True, False, False])
    return sub.drop_duplicates([*PAIR, "seed"])[[*PAIR, "seed", "level", "test_acc", "remaining"]]


def study_view(runs: pd.DataFrame) -> pd.DataFrame:
    """The numbers as the reproduced study reported them, beside its published ones.

    Per dataset × model: the dense test accuracy; for the winning ticket, late rewinding (θk)
    and the study's "late rewinding" (``dense_rewinding``), the best pruned level's test
    accuracy and its sparsity.  The best level is chosen **on the test set** (the study's
    criterion: optimistic, since the same numbers pick and score it), per seed, then test
    accuracy and sparsity are averaged over seeds.  Accuracies and sparsities in %.
    """
    dense = dense_runs(runs)
    rows = []
    for (dataset, model), g in dense.groupby(PAIR, sort=True):
        row = {"dataset": dataset, "model": model, "n_seeds": len(g),
               "dense_acc": 100 * g["test_acc"].mean(), "n_params": int(g["n_params"].iloc[0])}
        for arm, prefix in (("winning_ticket", "ticket"), ("late_rewinding", "late_rewinding"),
                            ("dense_rewinding", "dense_rewinding")):
            best = _best_per_seed(runs, arm, "test_acc")
            best = best[(best["dataset"] == dataset) & (best["model"] == model)]
            row[f"{prefix}_acc"] = 100 * best["test_acc"].mean() if len(best) else np.nan
            row[f"{prefix}_sparsity"] = 100 * (1 - best["remaining"]).mean() if len(best) else np.nan
            row[f"{prefix}_levels"] = ",".join(str(int(v)) for v in best["level"]) if len(best) else ""
        rows.append(row)
    cols = ["dataset", "model", "n_seeds", "dense_acc", "n_params"] + [
        f"{p}_{s}" for p in ("ticket", "late_rewinding", "dense_rewinding")
        for s in ("acc", "sparsity", "levels")]
    view = pd.DataFrame(rows, columns=cols)
    return view.merge(STUDY_TABLE, on=PAIR, how="left")


def sound_view(runs: pd.DataFrame, arms: Sequence[str] | None = None,
               level: float = 0.95) -> pd.DataFrame:
    """The numbers chosen soundly, one row per dataset × model × arm (in %).

    - ``chosen_*``: per seed, the pruned level (≥ 1) with the highest **validation** accuracy;
      its test accuracy, mean ± t-interval over seeds (``chosen_acc``, ``chosen_ci``), and its
      mean sparsity.
    - ``match_std_sparsity``: the largest sparsity (over levels ≥ 1) whose mean test accuracy
      across seeds is within one standard deviation (across seeds) of the dense mean,
      i.e. ``mean ≥ dense_mean − dense_std``: criterion (a).  NaN with one seed (no std).
    - ``match_mean_sparsity``: the largest sparsity whose mean test accuracy is at least the
      dense mean: criterion (b).
    NaN sparsity: no level meets the criterion.
    """
    if runs.empty:
        return pd.DataFrame()
    arms = [a for a in (arms or C.ARMS) if a in set(runs["arm"])]
    dense = dense_runs(runs)
    by_level = summarise(runs[runs["level"] >= 1], [*PAIR, "arm", "level"], "test_acc", level)
    rows = []
    for (dataset, model), d in dense.groupby(PAIR, sort=True):
        dense_mean, dense_ci = confidence_interval(100 * d["test_acc"], level)
        dense_std = float((100 * d["test_acc"]).std(ddof=1)) if len(d) > 1 else float("nan")
        for arm in arms:
            best = _best_per_seed(runs, arm, "best_val_acc")
            best = best[(best["dataset"] == dataset) & (best["model"] == model)]
            if best.empty:
                continue
            acc, ci = confidence_interval(100 * best["test_acc"], level)
            levels = by_level[(by_level["dataset"] == dataset) & (by_level["model"] == model)
                              & (by_level["arm"] == arm)]
            means, sparsity = 100 * levels["mean"], 100 * (1 - levels["remaining"])
            ok_std = means >= dense_mean - dense_std if not pd.isna(dense_std) else None
            ok_mean = means >= dense_mean
            rows.append({
                "dataset": dataset, "model": model, "arm": arm, "n_seeds": len(best),
                "dense_acc": dense_mean, "dense_ci": dense_ci, "dense_std": dense_std,
                "chosen_levels": ",".join(str(int(v)) for v in best["level"]),
                "chosen_sparsity": 100 * (1 - best["remaining"]).mean(),
                "chosen_acc": acc, "chosen_ci": ci,
                "chosen_text": _fmt_ci(acc, ci),
                "match_std_sparsity": (float(sparsity[ok_std].max()) if ok_std is not None
                                       and ok_std.any() else np.nan),
                "match_mean_sparsity": float(sparsity[ok_mean].max()) if ok_mean.any() else np.nan,
            })
    return pd.DataFrame(rows)


def paired_difference(runs: pd.DataFrame, arm_a: str = "winning_ticket",
                      arm_b: str = "random_reinit", level: float = 0.95) -> pd.DataFrame:
    """Per dataset × model × pruned level: the test accuracy of ``arm_a`` minus ``arm_b`` on the
    same seed (same data order and dense network), mean and t-interval over seeds, in points."""
    cols = [*PAIR, "level", "remaining", "n", "diff", "ci", "ci_low", "ci_high"]
    a = runs[(runs["arm"] == arm_a) & (runs["level"] >= 1)]
    b = runs[(runs["arm"] == arm_b) & (runs["level"] >= 1)]
    if a.empty or b.empty:
        return pd.DataFrame(columns=cols)
    both = a.merge(b, on=[*PAIR, "seed", "level"], suffixes=("_a", "_b"))
    both["diff"] = 100 * (both["test_acc_a"] - both["test_acc_b"])
    rows = []
    for (dataset, model, lvl), g in both.groupby([*PAIR, "level"], sort=True):
        mean, half = confidence_interval(g["diff"], level)
        rows.append({"dataset": dataset, "model": model, "level": int(lvl),
                     "remaining": float(g["remaining_a"].mean()), "n": len(g), "diff": mean,
                     "ci": half, "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows, columns=cols)


def level_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) per dataset × model × arm × level: mean ± CI over seeds."""
    table = summarise(runs, [*PAIR, "arm", "level"], "test_acc")
    for col in ("mean", "std", "ci", "ci_low", "ci_high"):
        table[col] = 100 * table[col]
    table["remaining"] = 100 * table["remaining"]
    return table.rename(columns={"mean": "test_acc", "remaining": "remaining_pct"})


def missing_cells(runs: pd.DataFrame, status: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Every expected dataset × model × arm × seed cell that lacks some or all of its levels, and why.

    ``expected`` is :func:`expected_cells` (the profile grid with the notebook's parameters).
    The reason is the status table's (e.g. data unavailable), the configuration's refusal, or,
    for a cell nothing has tried, which notebook trains it.
    """
    cols = ["dataset", "model", "arm", "seed", "levels_found", "levels_expected", "state", "reason"]
    keys = ["dataset", "model", "arm", "seed"]
    if expected.empty:
        return pd.DataFrame(columns=cols)
    if not runs.empty and "config_hash" in expected:
        found = runs.groupby("config_hash")["level"].nunique()
    else:
        found = pd.Series(dtype=int)
    stat = {}
    if status is not None and not status.empty:
        for row in status.itertuples(index=False):
            stat[(row.dataset, row.model, row.arm, int(row.seed))] = row
    rows = []
    for cell in expected.itertuples(index=False):
        key = (cell.dataset, cell.model, cell.arm, int(cell.seed))
        n_found = int(found.get(cell.config_hash, 0)) if cell.config_hash else 0
        want = cell.levels_expected
        if cell.refused:
            state, reason = "missing", f"configuration refused: {cell.refused}"
        elif not pd.isna(want) and n_found >= want:
            continue
        else:
            s = stat.get(key)
            state = "missing" if n_found == 0 else "partial"
            if s is not None and s.status != "done":
                reason = str(s.reason)
            elif s is not None and str(s.config_hash) != cell.config_hash:
                reason = ("the store ran this cell with other parameters; not yet with these "
                          f"(run notebooks/{ARM_NOTEBOOK.get(cell.arm, '?')}.ipynb)")
            elif s is not None:
                reason = (f"status 'done' but only {n_found} of {int(want)} levels are in runs.csv "
                          "(a run limited by max_level, or interrupted)")
            else:
                reason = f"not run yet (run notebooks/{ARM_NOTEBOOK.get(cell.arm, '?')}.ipynb)"
        rows.append({"dataset": cell.dataset, "model": cell.model, "arm": cell.arm,
                     "seed": int(cell.seed), "levels_found": n_found,
                     "levels_expected": want, "state": state, "reason": reason})
    return pd.DataFrame(rows, columns=cols)


def describe_missing(missing: pd.DataFrame) -> str:
    if missing.empty:
        return "Every dataset × model × arm × seed cell of this selection has all its levels."
    lines = [f"{len(missing)} dataset × model × arm × seed cells lack results:"]
    for (dataset, model, arm, reason), g in missing.groupby(["dataset", "model", "arm", "reason"], sort=True):
        lines.append(f"- {pair_name(dataset, model)}, {arm}, seeds {sorted(g['seed'].astype(int))} "
                     f"({', '.join(sorted(set(g['state'])))}): {reason}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Model summary
# ---------------------------------------------------------------------------------------------

def model_summary(profile: str, dataset: str, model: str, **overrides) -> pd.DataFrame:
    """Parameter counts per tensor of the network a profile builds (on the prepared data's
    vocabulary), whether each is prunable under the configuration, and a total row."""
    from . import lottery
    from .masks import prunable_names
    from .models import build_model
    cfg = C.experiment(profile, dataset, model, **{k: v for k, v in overrides.items()
                                                   if k in C.OVERRIDES})
    data = lottery.load_data(cfg, progress=False)
    net = build_model(cfg.model, len(data.vocab), data.n_classes, init_seed=0)
    prunable = set(prunable_names(net, cfg.prune))
    rows = [{"dataset": dataset, "model": model, "tensor": name, "shape": "×".join(map(str, p.shape)),
             "n_params": int(p.numel()), "prunable": name in prunable}
            for name, p in net.named_parameters()]
    n_prunable = int(sum(r["n_params"] for r in rows if r["prunable"]))
    rows.append({"dataset": dataset, "model": model, "tensor": "total", "shape": "",
                 "n_params": int(sum(r["n_params"] for r in rows)), "prunable": ""})
    rows.append({"dataset": dataset, "model": model, "tensor": "total prunable", "shape": "",
                 "n_params": n_prunable, "prunable": ""})
    return pd.DataFrame(rows)


def model_summaries(sel: Selection) -> tuple[pd.DataFrame, list[str]]:
    """:func:`model_summary` for every dataset × model of a selection; datasets whose data
    cannot be had are listed as sentences instead."""
    from .data import DataUnavailable
    frames, notes = [], []
    for dataset in sel.datasets:
        for model in sel.models:
            try:
                frames.append(model_summary(sel.profile, dataset, model, **sel.overrides))
            except DataUnavailable as error:
                notes.append(f"{DATASET_NAMES.get(dataset, dataset)} {MODEL_NAMES.get(model, model)}: "
                             f"no model summary, the data is unavailable: {error}")
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["dataset", "model", "tensor", "shape", "n_params", "prunable"])
    return table, notes


def parameter_totals(summary: pd.DataFrame) -> pd.DataFrame:
    """Total and prunable parameter counts per dataset × model, beside the study's counts."""
    if summary.empty:
        return pd.DataFrame(columns=[*PAIR, "n_params", "n_prunable", "study_n_params"])
    total = summary[summary["tensor"] == "total"][[*PAIR, "n_params"]]
    prunable = summary[summary["tensor"] == "total prunable"][[*PAIR, "n_params"]]
    total = total.merge(prunable.rename(columns={"n_params": "n_prunable"}), on=PAIR, how="left")
    return total.merge(STUDY_TABLE[[*PAIR, "study_n_params"]], on=PAIR, how="left")


# ---------------------------------------------------------------------------------------------
# Mask overlap
# ---------------------------------------------------------------------------------------------

try:  # the masks module's definition, when it has one
    from .masks import jaccard
except Exception:  # noqa: BLE001
    def jaccard(m1: dict, m2: dict) -> float:
        """|A ∩ B| / |A ∪ B| of the survivors over every entry of the tensors both masks cover."""
        inter = union = 0
        for name in m1:
            if name in m2:
                a, b = m1[name].bool(), m2[name].bool()
                inter += int((a & b).sum())
                union += int((a | b).sum())
        return inter / union if union else 1.0


def random_jaccard(remaining: float) -> float:
    """The expected Jaccard index of two independent random masks keeping ``remaining``: p/(2-p)."""
    return remaining / (2 - remaining)


def mask_overlap(runs: pd.DataFrame, load_mask, arm: str = "winning_ticket") -> pd.DataFrame:
    """Jaccard overlap of ``arm``'s masks (``load_mask(config_hash, level)`` -> masks).

    Rows of kind ``across seeds``: every pair of seeds at the same level (≥ 1); rows of kind
    ``consecutive levels``: each seed's mask at level L against L - 1 (L ≥ 2, where both are
    pruned).  ``random`` is the reference: across seeds, the expected overlap of independent
    random masks of that sparsity, p / (2 - p); between consecutive levels, the overlap of a mask
    nested in the previous one (the ratio of their sizes), which IMP reaches by construction.
    """
    cols = [*PAIR, "kind", "level", "remaining", "pair", "jaccard", "random"]
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)]
    rows, cache = [], {}

    def mask(h, lvl):
        if (h, lvl) not in cache:
            cache[(h, lvl)] = load_mask(h, int(lvl))
        return cache[(h, lvl)]

    for (dataset, model, lvl), g in sub.groupby([*PAIR, "level"], sort=True):
        g = g.sort_values("seed")
        remaining = float(g["remaining"].mean())
        for (_, r1), (_, r2) in itertools.combinations(g.iterrows(), 2):
            rows.append({"dataset": dataset, "model": model, "kind": "across seeds",
                         "level": int(lvl), "remaining": remaining,
                         "pair": f"seeds {int(r1.seed)}-{int(r2.seed)}",
                         "jaccard": jaccard(mask(r1.config_hash, lvl), mask(r2.config_hash, lvl)),
                         "random": random_jaccard(remaining)})
        if lvl >= 2:
            prev = sub[(sub["dataset"] == dataset) & (sub["model"] == model) & (sub["level"] == lvl - 1)]
            for _, r in g.iterrows():
                if not (prev["config_hash"] == r.config_hash).any():
                    continue
                prev_remaining = float(prev["remaining"].mean())
                rows.append({"dataset": dataset, "model": model, "kind": "consecutive levels",
                             "level": int(lvl), "remaining": remaining,
                             "pair": f"seed {int(r.seed)}: L{int(lvl) - 1}-L{int(lvl)}",
                             "jaccard": jaccard(mask(r.config_hash, lvl - 1), mask(r.config_hash, lvl)),
                             # nested masks: |A∩B|/|A∪B| = |B|/|A| = remaining ratio
                             "random": remaining / prev_remaining if prev_remaining else np.nan})
        for key in [k for k in cache if k[1] < lvl - 1]:
            cache.pop(key)
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def _plt():
    import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg by itself
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def _panels(pairs: list[tuple[str, str]], title: str, sharey: bool = False, width: float = 4.6):
    plt, _ = _plt()
    n = max(len(pairs), 1)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows), squeeze=False,
                             sharey=sharey)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, axes[:n]


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    if frame.empty:
        return []
    return sorted({(d, m) for d, m in zip(frame["dataset"], frame["model"])})


def _empty_figure(title: str, message: str):
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    fig.suptitle(title)
    return fig


def _remaining_axis(ax, remaining: Iterable[float]) -> None:
    """Log-scaled fraction of weights remaining, decreasing from left to right, ticks in %."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    values = sorted({round(float(v), 6) for v in remaining if not pd.isna(v) and v > 0}, reverse=True)
    ax.set_xscale("log")
    if values:
        ticks = values if len(values) <= 8 else values[:: math.ceil(len(values) / 8)]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:.3g}"))
        lo, hi = min(values), max(values)
        ax.set_xlim(hi * 1.15, lo / 1.15)  # inverted: dense on the left
    ax.set_xlabel("weights remaining (%, log scale)")


def plot_accuracy_vs_remaining(runs: pd.DataFrame, arms: Sequence[str] = CONTROL_ARMS,
                               title: str = "Test accuracy vs weights remaining",
                               value: str = "test_acc", level: float = 0.95):
    """Mean test accuracy (%) over seeds against the fraction of weights remaining, one line per
    arm with a t-interval band (clipped to [0, 100] for display), one panel per dataset × model;
    dotted: the dense mean."""
    sub = runs[runs["arm"].isin(arms)] if not runs.empty else runs
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], value, level)
    for ax, (dataset, model) in zip(axes, pairs):
        t = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for arm in arms:
            a = t[t["arm"] == arm].sort_values("level")
            if a.empty:
                continue
            color = ARM_COLORS.get(arm)
            ax.plot(a["remaining"], 100 * a["mean"], marker="o", ms=3.5, color=color,
                    label=ARM_NAMES.get(arm, arm))
            band = a.dropna(subset=["ci"])
            if len(band):
                # drawn clipped to [0, 100]: with two seeds t_{0.975,1} = 12.7 and the raw
                # interval can pass 100%; the tables keep the unclipped bounds
                ax.fill_between(band["remaining"], 100 * band["ci_low"].clip(0, 1),
                                100 * band["ci_high"].clip(0, 1),
                                color=color, alpha=0.18, linewidth=0)
        dense = t[t["level"] == 0]
        if len(dense):
            ax.axhline(100 * dense["mean"].iloc[0], color="grey", ls=":", lw=1, label="dense")
        _remaining_axis(ax, t["remaining"])
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_name(dataset, model))
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    ncol = min(len(labels), 4)
    legend_rows = -(-len(labels) // ncol) if labels else 0
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.03 + 0.06 * legend_rows, 1, 1))  # room for the legend's rows
    return fig


def plot_early_stopping(runs: pd.DataFrame, arms: Sequence[str] = ("winning_ticket", "random_reinit"),
                        title: str = "Early-stopping epoch vs weights remaining"):
    """The epoch of the best validation loss (mean ± CI over seeds) against weights remaining."""
    sub = runs[runs["arm"].isin(arms)] if not runs.empty else runs
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], "best_epoch")
    for ax, (dataset, model) in zip(axes, pairs):
        t = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for arm in arms:
            a = t[t["arm"] == arm].sort_values("level")
            if a.empty:
                continue
            ax.errorbar(a["remaining"], a["mean"], yerr=a["ci"].fillna(0), marker="o", ms=3.5,
                        capsize=3, color=ARM_COLORS.get(arm), label=ARM_NAMES.get(arm, arm))
        _remaining_axis(ax, t["remaining"])
        ax.set_ylabel("best (early-stopping) epoch")
        ax.set_title(pair_name(dataset, model))
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_layer_remaining(layers: pd.DataFrame, arm: str = "winning_ticket",
                         title: str = "Weights remaining per tensor (winning ticket)"):
    """Per dataset × model, the fraction of each masked tensor that survives at each level
    (mean over seeds), log scale."""
    _, sns = _plt()
    sub = layers[layers["arm"] == arm] if not layers.empty else layers
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no layer table for this arm yet")
    fig, axes = _panels(pairs, title, width=6.4)
    for ax, (dataset, model) in zip(axes, pairs):
        t = sub[(sub["dataset"] == dataset) & (sub["model"] == model)]
        t = t.groupby(["tensor", "level"], as_index=False)["remaining"].mean()
        t["remaining (%)"] = 100 * t["remaining"]
        sns.lineplot(data=t, x="level", y="remaining (%)", hue="tensor", style="tensor",
                     markers=True, dashes=False, ax=ax)
        from matplotlib.ticker import FuncFormatter, MaxNLocator
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(pair_name(dataset, model))
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
                  ncol=1 if t["tensor"].nunique() <= 12 else 2)
    fig.tight_layout()
    return fig


def plot_mask_overlap(overlap: pd.DataFrame, title: str = "Winning-ticket mask overlap (Jaccard)"):
    """Jaccard index against weights remaining: across seeds and between consecutive levels,
    with the overlap two independent random masks would have (dashed)."""
    _, sns = _plt()
    pairs = _pairs(overlap)
    if not pairs:
        return _empty_figure(title, "no masks to compare yet (needs pruned levels; "
                                    "'across seeds' needs two seeds)")
    fig, axes = _panels(pairs, title)
    palette = {"across seeds": "#1f77b4", "consecutive levels": "#2ca02c"}
    for ax, (dataset, model) in zip(axes, pairs):
        t = overlap[(overlap["dataset"] == dataset) & (overlap["model"] == model)]
        for kind, g in t.groupby("kind"):
            m = g.groupby("remaining", as_index=False)[["jaccard", "random"]].mean()
            m = m.sort_values("remaining", ascending=False)
            ax.plot(m["remaining"], m["jaccard"], marker="o", ms=4, color=palette.get(kind), label=kind)
            reference = ("independent random masks" if kind == "across seeds"
                         else "nested mask (size ratio)")
            ax.plot(m["remaining"], m["random"], ls="--", lw=1, color=palette.get(kind),
                    label=f"{kind}: {reference}")
            sns.scatterplot(data=g, x="remaining", y="jaccard", color=palette.get(kind), alpha=0.4,
                            s=14, ax=ax, legend=False)
        _remaining_axis(ax, t["remaining"])
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("Jaccard index")
        ax.set_title(pair_name(dataset, model))
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------

def save_figure(fig, profile: str, name: str, dpi: int = 130) -> Path:
    """Write ``fig`` to figures/<profile>/<name>.png; return the path."""
    path = C.figures_dir(profile) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub Markdown table (no tabulate dependency); floats to ``digits`` decimals."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if pd.isna(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def save_table(frame: pd.DataFrame, profile: str, name: str) -> Path:
    """Write ``frame`` to results/<profile>/tables/<name>.csv and .md; return the CSV path."""
    folder = C.results_dir(profile) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / f"{name}.md").write_text(to_markdown(frame))
    return folder / f"{name}.csv"


# ---------------------------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------------------------

def describe_dense(table: pd.DataFrame) -> str:
    if table.empty:
        return "No dense network has finished yet."
    lines = []
    for row in table.itertuples(index=False):
        study = (f"; the study reported {row.study_dense_acc:.2f}%"
                 if not pd.isna(row.study_dense_acc) else "")
        lines.append(f"{pair_name(row.dataset, row.model)}: dense test accuracy "
                     f"{_fmt_ci(row.test_acc, row.test_acc_ci, unit='%')} over {row.n_seeds} seed(s), "
                     f"{row.n_params:,} parameters{study}.")
    return "\n".join(lines)


def describe_comparison(runs: pd.DataFrame, arm_a: str, arm_b: str) -> str:
    """Per dataset × model: at the sparsest level, arm_a minus arm_b (paired, 95% CI), and how
    many pruned levels have a CI entirely above / below zero."""
    diff = paired_difference(runs, arm_a, arm_b)
    if diff.empty:
        return f"No seed has both {arm_a} and {arm_b} at a pruned level yet."
    lines = []
    for (dataset, model), g in diff.groupby(PAIR, sort=True):
        last = g.sort_values("level").iloc[-1]
        above = int((g["ci_low"] > 0).sum())
        below = int((g["ci_high"] < 0).sum())
        lines.append(
            f"{pair_name(dataset, model)}: at {100 * last['remaining']:.3g}% of weights remaining, "
            f"{ARM_NAMES.get(arm_a, arm_a)} minus {ARM_NAMES.get(arm_b, arm_b)} is "
            f"{_fmt_ci(last['diff'], last['ci'], unit=' points')} (n={int(last['n'])} seeds); " + (
                f"over the {len(g)} pruned levels the 95% CI lies entirely above zero at {above} "
                f"and entirely below zero at {below}." if g["ci"].notna().any()
                else "with one seed there are no intervals."))
    return "\n".join(lines)


def describe_matches(sound: pd.DataFrame, arms: Sequence[str] | None = None) -> str:
    """Which arms keep up with dense, and to what sparsity, under both criteria."""
    if sound.empty:
        return "No pruned results yet."
    sub = sound if arms is None else sound[sound["arm"].isin(arms)]
    lines = []
    for row in sub.itertuples(index=False):
        def s(v):
            return "no level" if pd.isna(v) else f"up to {v:.1f}% sparsity"
        lines.append(f"{pair_name(row.dataset, row.model)}, {ARM_NAMES.get(row.arm, row.arm)}: "
                     f"level chosen on validation gives {_fmt_ci(row.chosen_acc, row.chosen_ci, unit='%')} "
                     f"test accuracy (dense {_fmt_ci(row.dense_acc, row.dense_ci, unit='%')}); within one std of dense: "
                     f"{'not defined with one seed' if pd.isna(row.dense_std) else s(row.match_std_sparsity)}; "
                     f"at or above the dense mean: {s(row.match_mean_sparsity)}.")
    return "\n".join(lines)


def describe_early_stopping(runs: pd.DataFrame, arm: str = "winning_ticket") -> str:
    sub = runs[runs["arm"] == arm] if not runs.empty else runs
    if sub.empty:
        return f"No {arm} results yet."
    lines = []
    for (dataset, model), g in sub.groupby(PAIR, sort=True):
        m = g.groupby("level").agg(epoch=("best_epoch", "mean"), remaining=("remaining", "mean"),
                                   epochs_run=("epochs_run", "max"))
        first, last = m.iloc[0], m.iloc[-1]
        lines.append(f"{pair_name(dataset, model)}: the best validation epoch averages "
                     f"{first.epoch:.1f} dense and {last.epoch:.1f} at {100 * last.remaining:.3g}% "
                     f"remaining (of at most {int(m['epochs_run'].max())} epochs run).")
    return "\n".join(lines)


def describe_layers(layers: pd.DataFrame, arm: str = "winning_ticket") -> str:
    sub = layers[layers["arm"] == arm] if not layers.empty else layers
    if sub.empty:
        return "No layer table yet."
    lines = []
    for (dataset, model), g in sub.groupby(PAIR, sort=True):
        last = g[g["level"] == g["level"].max()].groupby("tensor")["remaining"].mean()
        lines.append(f"{pair_name(dataset, model)} at level {int(g['level'].max())}: "
                     f"the tensors keep between {100 * last.min():.3g}% ({last.idxmin()}) and "
                     f"{100 * last.max():.3g}% ({last.idxmax()}) of their weights.")
    return "\n".join(lines)


def describe_overlap(overlap: pd.DataFrame) -> str:
    if overlap.empty:
        return "No masks to compare yet."
    lines = []
    for (dataset, model, kind), g in overlap.groupby([*PAIR, "kind"], sort=True):
        last = g[g["level"] == g["level"].max()]
        reference = ("independent random masks" if kind == "across seeds"
                     else "a mask nested in the previous level's")
        lines.append(f"{pair_name(dataset, model)}, {kind}, at {100 * last['remaining'].iloc[0]:.3g}% "
                     f"remaining: Jaccard {last['jaccard'].mean():.3f} against "
                     f"{last['random'].mean():.3f} for {reference}.")
    return "\n".join(lines)


def describe_study_vs_sound(study: pd.DataFrame, sound: pd.DataFrame) -> str:
    if study.empty:
        return "No results yet."
    lines = []
    for row in study.itertuples(index=False):
        s = sound[(sound["dataset"] == row.dataset) & (sound["model"] == row.model)
                  & (sound["arm"] == "winning_ticket")] if not sound.empty else sound
        sound_txt = (f"chosen on validation it is "
                     f"{_fmt_ci(s['chosen_acc'].iloc[0], s['chosen_ci'].iloc[0], unit='%')} at "
                     f"{s['chosen_sparsity'].iloc[0]:.1f}% sparsity" if len(s) else
                     "there is no validation-chosen ticket yet")
        lines.append(f"{pair_name(row.dataset, row.model)}: chosen on test (the study's way) the "
                     f"best ticket scores {row.ticket_acc:.2f}% at {row.ticket_sparsity:.1f}% "
                     f"sparsity (dense {row.dense_acc:.2f}%); {sound_txt}.")
    return "\n".join(lines)


def plot_training_curves(epochs: pd.DataFrame, level: int = 0, arm: str | None = None,
                         title: str = "Dense training: accuracy per epoch"):
    """Train / validation / test accuracy (%) per epoch at one level (mean over seeds), one
    panel per dataset × model.  Level 0 is the dense network every arm shares."""
    _, sns = _plt()
    sub = epochs[epochs["level"] == level] if not epochs.empty else epochs
    if arm is not None and not sub.empty:
        sub = sub[sub["arm"] == arm]
    if not sub.empty:  # level 0 is recorded under every arm: keep one copy per seed
        sub = sub.drop_duplicates(["dataset", "model", "seed", "epoch"])
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no epochs recorded at this level yet")
    fig, axes = _panels(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        t = sub[(sub["dataset"] == dataset) & (sub["model"] == model)]
        long = t.melt(id_vars=["seed", "epoch"], value_vars=["train_acc", "val_acc", "test_acc"],
                      var_name="split", value_name="accuracy")
        long["accuracy (%)"] = 100 * long["accuracy"]
        long["split"] = long["split"].str.replace("_acc", "", regex=False)
        sns.lineplot(data=long, x="epoch", y="accuracy (%)", hue="split", marker="o",
                     errorbar=None, ax=ax)
        ax.set_title(pair_name(dataset, model))
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def show_figure(fig, profile: str, name: str) -> None:
    """In a notebook: save the figure (:func:`save_figure`), display it once, and close it."""
    import matplotlib.pyplot as plt
    path = save_figure(fig, profile, name)
    try:
        from IPython.display import display
        display(fig)
    except ImportError:  # pragma: no cover - outside IPython there is nothing to show
        pass
    plt.close(fig)
    print(f"saved {C.display_path(path)}")


def show_table(frame: pd.DataFrame, profile: str | None = None, name: str | None = None,
               digits: int = 2) -> pd.DataFrame:
    """In a notebook: save the table when a name is given (:func:`save_table`), display it
    rounded, and return it."""
    if profile is not None and name is not None:
        print(f"saved {C.display_path(save_table(frame, profile, name))}")
    try:
        from IPython.display import display
        display(frame.round(digits) if not frame.empty else frame)
    except ImportError:  # pragma: no cover
        print(frame.to_string())
    return frame
