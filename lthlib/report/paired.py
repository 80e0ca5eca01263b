"""Paired comparisons that carry the test sample's uncertainty, every level, and the report's
one family of primary comparisons.

**Pairs.**  Two arms of one dataset × model are compared on the same seed (the same dense
network, data order and test set): an arm at level L against dense (level 0 of the same seed),
a trunk against the re-initialisation of *its own* mask at level L (the winning ticket against
random re-init, and against re-init with the pretrained embedding kept where that arm ran; dense
rewinding and late rewinding against theirs), and the winning ticket against random pruning of
its per-tensor sparsity at level L.  :func:`comparisons` derives them from the arm registry.

**Intervals.**  The seed is the unit of replication (:mod:`lthlib.report.inference`).  Each
level's predicted class of every test example is in the store (``predictions.csv``), and every
seed is scored on the same test set, so the spread of the per-seed differences holds the
training noise but not the test set's sampling error: the standard error of the mean
difference adds the seed term ``s_d²/n`` and the test-sample term (the variance over test
examples of the seed-averaged per-example difference, over their number), and the 95% interval
and both p-values are Student's t with ``n − 1`` degrees of freedom (exact under the model,
not floored).  The interval is never narrower than the seed-only t-interval, kept beside it
(``t_low``, ``t_high``; the two standard errors ``se_seeds``, ``se_test``).  Rows whose
predictions are missing (stores written before they were recorded) fall back to the seed-only
t-interval; one seed gives no interval at all; ``interval_source`` says which.

**Which level.**  The winning ticket's level is chosen on **validation** (:func:`choose_level`):
the sparsest pruned level whose paired validation difference ticket − dense (``best_val_acc``,
same seed; validation predictions are not stored, so a t-interval over seeds) has its 95% lower
bound at or above −margin, among the levels where its controls ran too (a profile may train
them at a few levels: ``branch_levels``), so that the whole family is read at one level.  When
none qualifies the one nearest 13% remaining (where the study's tickets live) is reported
instead, and every table says no pruned level matched.  The test set then only reports.

**The primary family** (:data:`PRIMARY_FAMILY`), fixed before any result was read, and
Holm-adjusted together over every dataset × model (``statsmodels``' ``multipletests``); every
other row is exploratory and its ``p_holm`` is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from ..experiment.arms import ARMS, TICKET
from ..experiment.store import decode_classes
from .inference import LEVEL, ONE_SEED, SEEDS_AND_TEST, SEEDS_ONLY, outcome_difference, seed_level_difference
from .stats import PAIR, confidence_interval

#: The non-inferiority margin of "matches dense", in points of test accuracy.
MARGIN = 1.0
#: The margins of the sensitivity line.
MARGINS = (0.5, 1.0, 2.0)
#: The one-sided level of the primary family's tests, (1 − LEVEL) / 2 with LEVEL the two-sided
#: interval level (95%): a primary hypothesis is accepted exactly where the 95% interval's bound
#: would say so.
ALPHA = (1 - LEVEL) / 2
#: Where the report looks when no pruned level matches dense on validation.
REFERENCE_REMAINING = 0.13
#: The reference name of the dense network (level 0 of the same seed) in the tables.
DENSE = "dense"
#: The comparisons of :func:`comparisons`.
VS_DENSE, VS_REINIT, VS_KEPT, VS_RANDOM = ("vs dense", "vs own re-init", "vs own re-init, embedding kept",
                                           "vs random pruning")


@dataclass(frozen=True)
class Hypothesis:
    """One primary comparison: the winning ticket − ``reference`` at the level chosen on
    validation is greater than ``bound`` points (H0: the difference is at most ``bound``)."""
    key: str
    comparison: str   # the comparison (see :func:`comparisons`) it reads
    bound: float      # the null's boundary, in points
    text: str


#: The primary family, per dataset × model, at the winning ticket's level chosen on validation
#: with the :data:`MARGIN` of 1 point; decided before any result was looked at:
#:
#: (a) the winning ticket is non-inferior to dense: ticket − dense > −1 point;
#: (b) it beats the full random re-initialisation of its own mask: ticket − random re-init > 0;
#: (c) it beats random pruning of its per-tensor sparsity: ticket − random pruning > 0.
#:
#: Each is a one-sided t-test over seeds (n − 1 df) with the shared test set's variance added
#: (:func:`lthlib.report.inference.seed_level_difference`; seeds only where predictions are
#: missing; not floored), and the family's p-values — three per dataset × model, over all of
#: them — are Holm-adjusted and read at the one-sided level :data:`ALPHA` (2.5%, the lower
#: bound of a two-sided 95% interval).
PRIMARY_FAMILY = (
    Hypothesis("matches_dense", VS_DENSE, -MARGIN, f"ticket − dense > −{MARGIN:g} point (non-inferior)"),
    Hypothesis("beats_reinit", VS_REINIT, 0.0, "ticket − random re-init > 0"),
    Hypothesis("beats_random_pruning", VS_RANDOM, 0.0, "ticket − random pruning > 0"),
)

PAIRED_COLUMNS = [*PAIR, "comparison", "arm", "reference", "level", "remaining", "n_seeds", "n_examples",
                  "diff", "ci_low", "ci_high", "t_low", "t_high", "se_seeds", "se_test", "interval_source", "p",
                  "bound", "p_one_sided", "family", "hypothesis", "p_holm"]
CHOICE_COLUMNS = [*PAIR, "margin", "level", "remaining", "matched", "n_seeds", "val_diff", "val_low"]


# ---------------------------------------------------------------------------------------------
# Which arms are compared
# ---------------------------------------------------------------------------------------------

def _reinits(trunk: str, reset_to: str) -> list[str]:
    return [a.name for a in ARMS if a.mask_from == "trunk" and a.trunk == trunk and a.reset_to == reset_to]


def comparisons(arms) -> list[tuple[str, str, str]]:
    """(comparison, arm, reference) for the arms present (``reference`` :data:`DENSE` is the
    same seed's level 0): every arm against dense; every trunk against the re-init of its own
    mask (and the winning ticket against re-init with the pretrained embedding kept); the winning
    ticket against random pruning."""
    present = [a for a in ARMS.names() if a in set(arms)]
    out = [(VS_DENSE, arm, DENSE) for arm in present]
    for trunk in (a for a in present if ARMS.get(a).is_trunk):
        out += [(VS_REINIT, trunk, b) for b in _reinits(trunk, "fresh_init") if b in present]
        out += [(VS_KEPT, trunk, b)
                for b in _reinits(trunk, "fresh_init_keep_pretrained") if b in present]
    out += [(VS_RANDOM, TICKET, a.name) for a in ARMS
            if a.mask_from == "random" and a.trunk == TICKET and a.name in present and TICKET in present]
    return out


def reference_of(comparison: str) -> str | None:
    """The registry arm a primary comparison of the winning ticket reads (None: dense)."""
    found = [ref for comp, arm, ref in comparisons(ARMS.names()) if comp == comparison and arm == TICKET]
    return None if not found or found[0] == DENSE else found[0]


# ---------------------------------------------------------------------------------------------
# Per-example outcomes
# ---------------------------------------------------------------------------------------------

class ExampleOutcomes:
    """Whether each test example was classified correctly, per (dataset, model, arm, seed, level),
    from ``predictions.csv`` and ``test_labels.csv``; level 0 (dense) under any arm of the seed."""

    def __init__(self, predictions: pd.DataFrame | None, test_labels: pd.DataFrame | None):
        self._pred: dict[tuple, tuple[str, str]] = {}
        self._labels: dict[str, np.ndarray] = {}
        if predictions is None or predictions.empty or test_labels is None or test_labels.empty:
            return
        self._labels = {h: decode_classes(text) for h, text in zip(test_labels["data_hash"], test_labels["labels"])}
        for r in predictions.itertuples(index=False):
            key = (r.dataset, r.model, DENSE if int(r.level) == 0 else r.arm, int(r.seed), int(r.level))
            self._pred[key] = (r.predicted, r.data_hash)

    def __bool__(self) -> bool:
        return bool(self._pred)

    def classes(self, dataset: str, model: str, arm: str, seed: int, level: int):
        """(true, predicted) class arrays, or None when not stored."""
        found = self._pred.get((dataset, model, DENSE if level == 0 else arm, int(seed), int(level)))
        if found is None or found[1] not in self._labels:
            return None
        predicted, labels = decode_classes(found[0]), self._labels[found[1]]
        return (labels, predicted) if len(predicted) == len(labels) else None

    def correct(self, dataset: str, model: str, arm: str, seed: int, level: int) -> np.ndarray | None:
        got = self.classes(dataset, model, arm, seed, level)
        return None if got is None else got[0] == got[1]

    def data_hash(self, dataset: str, model: str, arm: str, seed: int, level: int) -> str | None:
        found = self._pred.get((dataset, model, DENSE if level == 0 else arm, int(seed), int(level)))
        return None if found is None else found[1]


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------

def _level_rows(runs: pd.DataFrame, arm: str, reference: str, level: int) -> pd.DataFrame:
    """One dataset × model's seeds with ``arm`` at ``level`` and ``reference`` (dense: level 0)."""
    a = runs[(runs["arm"] == arm) & (runs["level"] == level)]
    if reference == DENSE:
        b = runs[runs["level"] == 0].drop_duplicates("seed")
    else:
        b = runs[(runs["arm"] == reference) & (runs["level"] == level)]
    cols = ["seed", "test_acc", "best_val_acc", "remaining"]
    return a[cols].merge(b[cols], on="seed", suffixes=("_a", "_b")).sort_values("seed")


def _shared_outcomes(outcomes: ExampleOutcomes, dataset: str, model: str, arm: str, reference: str,
                     level: int, seeds: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(seeds, test examples) correctness of ``arm`` and ``reference`` (dense: level 0), or None
    unless every seed of both is stored, on one test set."""
    ref_level = 0 if reference == DENSE else level
    a = [outcomes.correct(dataset, model, arm, s, level) for s in seeds]
    b = [outcomes.correct(dataset, model, reference, s, ref_level) for s in seeds]
    hashes = {outcomes.data_hash(dataset, model, arm, s, level) for s in seeds} | {
        outcomes.data_hash(dataset, model, reference, s, ref_level) for s in seeds}
    if any(x is None for x in a + b) or len(hashes) != 1 or len({len(x) for x in a + b}) != 1:
        return None
    return np.stack(a), np.stack(b)


def compare(runs: pd.DataFrame, outcomes: ExampleOutcomes, arm: str, reference: str, level: int,
            bound: float = 0.0) -> dict | None:
    """One row of :func:`paired_differences` for one dataset × model's ``runs``: the seed-level
    interval with the shared test set's variance where predictions are stored
    (:func:`lthlib.report.inference.outcome_difference`), else seeds only."""
    both = _level_rows(runs, arm, reference, level)
    if both.empty:
        return None
    dataset, model = runs["dataset"].iloc[0], runs["model"].iloc[0]
    seeds = both["seed"].astype(int).tolist()
    shared = _shared_outcomes(outcomes, dataset, model, arm, reference, level, seeds)
    if shared is None:
        found = {**seed_level_difference(100 * (both["test_acc_a"] - both["test_acc_b"]).to_numpy(), 0.0, bound),
                 "se_test": np.nan}
        source, n_examples = SEEDS_ONLY, np.nan
    else:
        found = outcome_difference(*shared, bound)
        source, n_examples = SEEDS_AND_TEST, shared[0].shape[1]
    return {"dataset": dataset, "model": model, "arm": arm, "reference": reference, "level": int(level),
            "remaining": float(both["remaining_a"].mean()), "n_seeds": len(seeds), "n_examples": n_examples,
            **found, "interval_source": ONE_SEED if len(seeds) < 2 else source, "bound": bound}


# ---------------------------------------------------------------------------------------------
# The level, chosen on validation
# ---------------------------------------------------------------------------------------------

def validation_differences(runs: pd.DataFrame, arm: str = TICKET, level: float = LEVEL,
                           reference: str = DENSE) -> pd.DataFrame:
    """Per dataset × model × pruned level of ``arm``: the paired validation difference arm −
    ``reference`` (dense: level 0; ``best_val_acc``, same seed, points), mean and t lower bound
    over seeds."""
    rows = []
    for (dataset, model), pair_runs in runs.groupby(PAIR, sort=True):
        sub = pair_runs[(pair_runs["arm"] == arm) & (pair_runs["level"] >= 1)]
        for lvl in sorted(sub["level"].unique()):
            both = _level_rows(pair_runs, arm, reference, int(lvl))
            mean, half = confidence_interval(100 * (both["best_val_acc_a"] - both["best_val_acc_b"]), level)
            rows.append({"dataset": dataset, "model": model, "level": int(lvl),
                         "remaining": float(both["remaining_a"].mean()), "n_seeds": len(both),
                         "val_diff": mean, "val_low": mean - half})
    return pd.DataFrame(rows, columns=[*PAIR, "level", "remaining", "n_seeds", "val_diff", "val_low"])


def control_levels(runs: pd.DataFrame, arm: str = TICKET) -> set[int]:
    """The pruned levels of one dataset × model's ``arm`` at which every primary control of it
    that ran at all (its full re-init, random pruning) ran too: where the whole primary family
    can be read.  A profile may train its controls at a few levels only (``branch_levels``)."""
    levels = set(runs.loc[(runs["arm"] == arm) & (runs["level"] >= 1), "level"].astype(int))
    if arm != TICKET:
        return levels
    for hyp in PRIMARY_FAMILY:
        reference = reference_of(hyp.comparison)
        ran = runs.loc[(runs["arm"] == reference) & (runs["level"] >= 1), "level"] if reference else None
        if ran is not None and len(ran):
            levels &= set(ran.astype(int))
    return levels


def choose_level(runs: pd.DataFrame, arm: str = TICKET, margins=MARGINS, reference: str = DENSE) -> pd.DataFrame:
    """Per dataset × model and margin: among the levels where the primary family can be read
    (:func:`control_levels`), the sparsest whose paired validation difference of ``arm`` from
    ``reference`` (dense) has its 95% lower bound ≥ −margin (``matched``); else the one nearest
    13% remaining (``matched`` False).  A level with one seed has no bound, so it never
    qualifies.  Test accuracy plays no part."""
    val = validation_differences(runs, arm, reference=reference)
    rows = []
    for (dataset, model), g in val.groupby(PAIR, sort=True):
        readable = control_levels(runs[(runs["dataset"] == dataset) & (runs["model"] == model)], arm)
        g = g[g["level"].isin(readable)] if readable else g
        for margin in margins:
            ok = g[g["val_low"] >= -margin]
            pick = (ok.loc[ok["level"].idxmax()] if len(ok)
                    else g.loc[(g["remaining"] - REFERENCE_REMAINING).abs().idxmin()])
            rows.append({"dataset": dataset, "model": model, "margin": margin, "level": int(pick["level"]),
                         "remaining": float(pick["remaining"]), "matched": bool(len(ok)),
                         "n_seeds": int(pick["n_seeds"]), "val_diff": float(pick["val_diff"]),
                         "val_low": float(pick["val_low"])})
    return pd.DataFrame(rows, columns=CHOICE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels' ``multipletests``); NaNs stay NaN."""
    from statsmodels.stats.multitest import multipletests
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=ALPHA, method="holm")[1]
    return out


def _primary(table: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Mark the rows of :data:`PRIMARY_FAMILY` at each dataset × model's level chosen with
    :data:`MARGIN`, and Holm-adjust their one-sided p-values together."""
    table = table.assign(family="exploratory", hypothesis="", p_holm=np.nan)
    levels = {(r.dataset, r.model): r.level for r in chosen[chosen["margin"] == MARGIN].itertuples(index=False)}
    for hyp in PRIMARY_FAMILY:
        reference = reference_of(hyp.comparison) or DENSE
        at = np.array([levels.get((d, m)) == lvl for d, m, lvl in zip(table["dataset"], table["model"],
                                                                     table["level"])], dtype=bool)
        mask = (table["comparison"] == hyp.comparison) & (table["arm"] == TICKET) & (
            table["reference"] == reference) & at
        table.loc[mask, ["family", "hypothesis"]] = ["primary", hyp.text]
    primary = table["family"] == "primary"
    table.loc[primary, "p_holm"] = holm(table.loc[primary, "p_one_sided"])
    return table


def paired_differences(runs: pd.DataFrame, predictions: pd.DataFrame | None = None,
                       test_labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every comparison of :func:`comparisons` at every pruned level, per dataset × model: the
    difference in points, the interval (``interval_source``), the seed-only t-interval, the
    two-sided p-value, the one-sided p-value against ``bound`` (−:data:`MARGIN` for comparisons
    with dense, 0 otherwise), and for the rows of :data:`PRIMARY_FAMILY` the Holm-adjusted one."""
    if runs.empty:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    outcomes = ExampleOutcomes(predictions, test_labels)
    rows = []
    for _, pair_runs in runs.groupby(PAIR, sort=True):
        for comparison, arm, reference in comparisons(pair_runs["arm"].unique()):
            bound = -MARGIN if reference == DENSE else 0.0
            levels = sorted(pair_runs.loc[(pair_runs["arm"] == arm) & (pair_runs["level"] >= 1), "level"].unique())
            for level in levels:
                row = compare(pair_runs, outcomes, arm, reference, int(level), bound)
                if row is not None:
                    rows.append({"comparison": comparison, **row})
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c not in ("family", "hypothesis", "p_holm")])
    return _primary(table, choose_level(runs))[PAIRED_COLUMNS]


def at_level(table: pd.DataFrame, dataset: str, model: str, comparison: str, level: int,
             arm: str = TICKET) -> Mapping | None:
    """The row of :func:`paired_differences` for one comparison of ``arm`` at one level."""
    hit = table[(table["dataset"] == dataset) & (table["model"] == model) & (table["comparison"] == comparison)
                & (table["arm"] == arm) & (table["level"] == level)]
    return None if hit.empty else hit.iloc[0]


def describe_family() -> str:
    """The primary family and its correction, as declared in :data:`PRIMARY_FAMILY`."""
    lines = [f"Primary family (per dataset × model, at the winning ticket's level chosen on validation "
             f"with a {MARGIN:g} point margin; Holm over all of them, one-sided at {100 * ALPHA:g}%):"]
    lines += [f"- ({chr(ord('a') + i)}) {h.text}" for i, h in enumerate(PRIMARY_FAMILY)]
    lines.append("Every other row of the table is exploratory (p_holm empty).")
    return "\n".join(lines)
