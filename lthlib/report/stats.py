"""Statistics over seeds: t-intervals, per-group summaries, paired differences of two arms.

Every interval is Student's t: ``mean ± t_{(1+level)/2, n-1} · s / √n`` with the quantile from
:mod:`scipy.stats`.  One value has no spread, so its half-width is NaN, never 0.  Accuracies are
fractions in the store; :func:`paired_difference` reports points (percentage points).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..experiment.overlap import PAIR

SUMMARY_COLUMNS = ["n", "mean", "std", "ci", "ci_low", "ci_high", "remaining"]
PAIRED_COLUMNS = [*PAIR, "level", "remaining", "n", "diff", "ci", "ci_low", "ci_high"]


def t_quantile(q: float, df: int) -> float:
    """The q-quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(q, df))


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of the t-interval; NaNs are dropped.  One value: (value, NaN);
    none: (NaN, NaN)."""
    x = np.asarray([v for v in values if v is not None and not pd.isna(v)], dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) == 1:
        return mean, float("nan")
    return mean, t_quantile((1 + level) / 2, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))


def format_ci(mean: float, half: float, digits: int = 2, unit: str = "") -> str:
    """'82.00% ± 4.97%', or '82.00% (one seed, no interval)' when the half-width is NaN."""
    if pd.isna(mean):
        return "n/a"
    if pd.isna(half):
        return f"{mean:.{digits}f}{unit} (one seed, no interval)"
    return f"{mean:.{digits}f}{unit} ± {half:.{digits}f}{unit}"


def summarise(frame: pd.DataFrame, by: Sequence[str], value: str = "test_acc",
              level: float = 0.95) -> pd.DataFrame:
    """Per group: n, mean, std, the CI half-width and bounds of ``value``; the mean
    ``remaining`` too when the frame has it."""
    if frame.empty:
        return pd.DataFrame(columns=[*by, *SUMMARY_COLUMNS])
    rows = []
    for key, group in frame.groupby(list(by), sort=True):
        values = group[value].dropna()
        mean, half = confidence_interval(values, level)
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(n=int(len(values)), mean=mean,
                   std=float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                   ci=half, ci_low=mean - half, ci_high=mean + half)
        if "remaining" in group:
            row["remaining"] = float(group["remaining"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def paired_difference(runs: pd.DataFrame, arm_a: str, arm_b: str, level: float = 0.95) -> pd.DataFrame:
    """Per dataset × model × pruned level: the test accuracy of ``arm_a`` minus ``arm_b`` on the
    same seed (same data order and dense network), mean and t-interval over seeds, in points."""
    pruned = runs[runs["level"] >= 1] if not runs.empty else runs
    a, b = (pruned[pruned["arm"] == arm] if not pruned.empty else pruned for arm in (arm_a, arm_b))
    if a.empty or b.empty:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    both = a.merge(b, on=[*PAIR, "seed", "level"], suffixes=("_a", "_b"))
    both["diff"] = 100 * (both["test_acc_a"] - both["test_acc_b"])
    rows = []
    for (dataset, model, lvl), group in both.groupby([*PAIR, "level"], sort=True):
        mean, half = confidence_interval(group["diff"], level)
        rows.append({"dataset": dataset, "model": model, "level": int(lvl),
                     "remaining": float(group["remaining_a"].mean()), "n": len(group), "diff": mean,
                     "ci": half, "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)
