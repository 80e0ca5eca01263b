"""Verdicts a reader can take away: per dataset × model and per IMP arm of the study, how sparse
a ticket gets while matching dense, whether it beats the random controls there, and whether the
reproduced study's conclusion holds at this scale.

The procedure, chosen so that the test set only reports:

1. **Which level.**  Level L of an arm *matches dense* when its mean **validation** accuracy
   over seeds is at least the dense mean minus one standard deviation of dense across seeds
   (criterion (a) of notebook 03, read on validation).  The arm's level is the sparsest such
   level; when none matches, the level nearest 13% remaining (where the study's tickets live)
   is reported instead, and the row says so.
2. **How good.**  At that level: the test accuracy, and the paired difference arm − dense on
   the same seed, mean and 95% t-interval over seeds, in points.
3. **Against the controls.**  Paired test differences arm − random re-init and arm − random
   pruning at that level.  An interval above zero *beats*, below zero *loses*; an interval
   that includes zero is **not resolved at this scale** (never "no effect").
4. **The study.**  Where the study's table has a number (the winning ticket), its ticket
   sparsity; its conclusion (a ticket matching dense at that sparsity) *holds* here when the
   arm matches at a sparsity at least that large, *holds only at lower sparsity* when it
   matches at some pruned level, and *does not hold* when no pruned level matches.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..experiment.arms import ARMS
from .labels import arm_label, pair_label
from .stats import PAIR, confidence_interval, format_ci, paired_difference
from .tables import dense_runs, study_arms, study_table

#: The level the issue's precision target reads: the one nearest this share remaining.
REFERENCE_REMAINING = 0.13


def control_arms() -> tuple[str, ...]:
    """The random controls a ticket is judged against: the control branches (not trunks):
    random re-init and random pruning."""
    return tuple(a.name for a in ARMS if a.family == "control" and not a.is_trunk)


def verdict_columns() -> list[str]:
    return [*PAIR, "arm", "n_seeds", "matched", "level", "remaining_pct", "sparsity_pct",
            "test_acc", "test_ci", "vs_dense", "vs_dense_ci",
            *[f"vs_{c}{s}" for c in control_arms() for s in ("", "_ci", "_verdict")],
            "study_sparsity", "study_ticket_acc", "study_dense_acc", "study_holds"]


def paired_to_dense(runs: pd.DataFrame, arm: str, metric: str) -> pd.DataFrame:
    """Per seed and pruned level of ``arm``: ``metric`` minus the same seed's dense value, in points."""
    dense = dense_runs(runs)[[*PAIR, "seed", metric]]
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)][[*PAIR, "seed", "level", "remaining", metric]]
    both = sub.merge(dense, on=[*PAIR, "seed"], suffixes=("", "_dense"))
    both["diff"] = 100 * (both[metric] - both[f"{metric}_dense"])
    return both


def matching_level(runs: pd.DataFrame, arm: str) -> tuple[int | None, bool]:
    """(level, matched): the sparsest level whose mean validation accuracy is within one dense
    std of the dense mean; else (the level nearest 13% remaining, False); (None, False) if none."""
    dense_val = 100 * dense_runs(runs)["best_val_acc"]
    sub = runs[(runs["arm"] == arm) & (runs["level"] >= 1)]
    if sub.empty:
        return None, False
    means = sub.groupby("level").agg(val=("best_val_acc", "mean"), remaining=("remaining", "mean"))
    tolerance = float(dense_val.std(ddof=1)) if len(dense_val) > 1 else 0.0
    ok = means[100 * means["val"] >= dense_val.mean() - tolerance]
    if len(ok):
        return int(ok.index.max()), True
    return int((means["remaining"] - REFERENCE_REMAINING).abs().idxmin()), False


def _paired_at(runs: pd.DataFrame, arm: str, other: str, level: int) -> tuple[float, float]:
    """(mean, half-width) of :func:`lthlib.report.stats.paired_difference` at one level."""
    diffs = paired_difference(runs, arm, other)
    at = diffs[diffs["level"] == level]
    return (float(at["diff"].iloc[0]), float(at["ci"].iloc[0])) if len(at) else (np.nan, np.nan)


def interval_verdict(mean: float, half: float) -> str:
    """'beats' / 'loses' when the 95% interval excludes zero; else not resolved at this scale."""
    if pd.isna(mean):
        return "not run"
    if pd.isna(half):
        return "one seed: no interval"
    if mean - half > 0:
        return "beats"
    if mean + half < 0:
        return "loses"
    return "not resolved at this scale"


def _study_holds(matched: bool, sparsity: float, study_sparsity: float) -> str:
    if pd.isna(study_sparsity):
        return "the study gives no number for this arm"
    if not matched:
        return "does not hold"
    return "holds" if sparsity >= study_sparsity - 1e-9 else "holds only at lower sparsity"


def _verdict_row(runs: pd.DataFrame, arm: str, study: dict) -> dict | None:
    level, matched = matching_level(runs, arm)
    if level is None:
        return None
    at = paired_to_dense(runs, arm, "test_acc")
    at = at[at["level"] == level]
    test, test_ci = confidence_interval(100 * at["test_acc"])
    vs_dense, vs_dense_ci = confidence_interval(at["diff"])
    remaining = 100 * float(at["remaining"].mean())
    row = {"dataset": at["dataset"].iloc[0], "model": at["model"].iloc[0], "arm": arm, "n_seeds": len(at),
           "matched": matched, "level": level, "remaining_pct": remaining, "sparsity_pct": 100 - remaining,
           "test_acc": test, "test_ci": test_ci, "vs_dense": vs_dense, "vs_dense_ci": vs_dense_ci}
    for control in control_arms():
        mean, half = _paired_at(runs, arm, control, level)
        row.update({f"vs_{control}": mean, f"vs_{control}_ci": half,
                    f"vs_{control}_verdict": interval_verdict(mean, half)})
    ticket_study = arm == study_arms()[0][0]
    row.update(study_sparsity=study.get("study_ticket_sparsity", np.nan) if ticket_study else np.nan,
               study_ticket_acc=study.get("study_ticket_acc", np.nan) if ticket_study else np.nan,
               study_dense_acc=study.get("study_dense_acc", np.nan))
    row["study_holds"] = _study_holds(matched, row["sparsity_pct"], row["study_sparsity"])
    return row


def verdict_table(runs: pd.DataFrame, arms: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per dataset × model × arm (default: the study's IMP arms) with the verdicts of
    the module's procedure.  Accuracies, sparsities and differences in % / points."""
    if runs.empty:
        return pd.DataFrame(columns=verdict_columns())
    arms = [a for a in (arms or [name for name, _ in study_arms()]) if a in set(runs["arm"])]
    studies = {(r["dataset"], r["model"]): r for r in study_table().to_dict("records")}
    rows = [_verdict_row(pair_runs, arm, studies.get(key, {}))
            for key, pair_runs in runs.groupby(PAIR, sort=True) for arm in arms]
    return pd.DataFrame([r for r in rows if r is not None], columns=verdict_columns())


def _points(mean: float, half: float) -> str:
    if pd.isna(half):
        return f"{mean:+.2f} points (one seed, no interval)"
    return f"{mean:+.2f} ± {half:.2f} points"


def _against(row, control: str) -> str:
    verdict = getattr(row, f"vs_{control}_verdict")
    name = arm_label(control)
    if verdict == "not run":
        return f"{name} did not run here"
    points = _points(getattr(row, f"vs_{control}"), getattr(row, f"vs_{control}_ci"))
    if verdict == "beats":
        return f"beats {name} ({points})"
    if verdict == "loses":
        return f"loses to {name} ({points})"
    return f"against {name} is {verdict} ({points})"


def describe_verdict(row, protocols=None) -> str:
    """One sentence block per verdict row (see :func:`verdict_table`)."""
    where = f"{row.sparsity_pct:.1f}% sparsity ({row.remaining_pct:.3g}% remaining)"
    if row.matched:
        head = f"matches dense up to {where}, chosen on validation"
    else:
        head = f"matches dense at no pruned level; at {where}"
    study = ""
    if not pd.isna(row.study_sparsity):
        study = (f" The study: {row.study_ticket_acc:.2f}% at {row.study_sparsity:.1f}% sparsity "
                 f"(dense {row.study_dense_acc:.2f}%); its conclusion {row.study_holds} at this scale.")
    return (f"{pair_label(row.dataset, row.model, protocols)}, {arm_label(row.arm)}: {head}: test "
            f"{format_ci(row.test_acc, row.test_ci, unit='%')}, {_points(row.vs_dense, row.vs_dense_ci)} "
            f"against dense on the same seed (n={row.n_seeds}). There it "
            + " and ".join(_against(row, control) for control in control_arms()) + f".{study}")


def describe_verdicts(table: pd.DataFrame, protocols=None) -> str:
    if table.empty:
        return "No pruned results yet."
    return "\n".join(describe_verdict(row, protocols) for row in table.itertuples(index=False))


def reference_intervals(runs: pd.DataFrame, arm: str | None = None,
                        control: str | None = None) -> pd.DataFrame:
    """The paired ``arm`` − ``control`` test difference (default: winning ticket − random
    re-init) at each dataset × model's level nearest 13% remaining: the report's precision
    check (a 95% half-width of 2.5 points or less)."""
    arm = arm or study_arms()[0][0]
    control = control or control_arms()[0]
    diffs = paired_difference(runs, arm, control)
    if diffs.empty:
        return diffs
    nearest = (diffs["remaining"] - REFERENCE_REMAINING).abs()
    picked = diffs.loc[nearest.groupby([diffs["dataset"], diffs["model"]]).idxmin()]
    return picked.assign(arm=arm, control=control, remaining=100 * picked["remaining"]).reset_index(drop=True)
