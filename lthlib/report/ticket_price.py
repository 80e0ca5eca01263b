"""What a ticket costs to find, and whether its mask still carries signal: the tables of
notebook 06 ("Tickets without the full price").

- :func:`price_table`        accuracy and the price of each mask (epochs of training spent to
                             find it) per arm and level, beside IMP's winning ticket
- :func:`collapse_table`     per arm and level: fully pruned tensors, dead units, collapsed layers
- :func:`critical_sparsity`  per arm: the first sparsity at which any seed's network collapses
- :func:`early_bird_table`   when the early-bird mask settled, at what price, and its accuracy
                             beside the IMP ticket at the same sparsity
- :func:`mask_distances`     the early-bird mask distance over dense training, per level

All read the store's tidy tables (``runs``, ``collapse``, ``mask_distance``) only.
"""
from __future__ import annotations

import pandas as pd

from ..experiment.arms import TICKET, families, with_mask_from
from .stats import PAIR, confidence_interval, format_ci

PRICE_COLUMNS = [*PAIR, "arm", "level", "remaining", "n", "test_acc", "test_acc_ci", "test_acc_text",
                 "search_epochs", "train_epochs", "total_epochs"]


def cheap_arms() -> tuple[str, ...]:
    """The comparison of notebook 06: the IMP ticket, random pruning and every arm that finds
    its mask at (or near) initialisation."""
    return (TICKET, *with_mask_from("random"), *families("init"))


def price_table(runs: pd.DataFrame, arms: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per dataset × model × arm × level: % remaining, test accuracy (mean ± 95% CI over seeds,
    in %), the epochs spent finding the mask, the epochs training it, and their sum."""
    arms = arms or cheap_arms()
    chosen = runs[runs["arm"].isin(arms) & (runs["level"] >= 1)] if not runs.empty else runs
    rows = []
    for (dataset, model, arm, level), g in chosen.groupby([*PAIR, "arm", "level"], sort=True):
        mean, half = confidence_interval(100 * g["test_acc"])
        search, train = float(g["mask_search_epochs"].mean()), float(g["epochs_run"].mean())
        rows.append({"dataset": dataset, "model": model, "arm": arm, "level": int(level),
                     "remaining": 100 * float(g["remaining"].mean()), "n": len(g), "test_acc": mean,
                     "test_acc_ci": half, "test_acc_text": format_ci(mean, half),
                     "search_epochs": search, "train_epochs": train, "total_epochs": search + train})
    return pd.DataFrame(rows, columns=PRICE_COLUMNS)


def collapse_table(collapse: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × arm × level (over seeds): % remaining, tensors fully pruned (max
    over seeds), dead units (mean), collapsed weight tensors (max) and the share of seeds whose
    network is cut (no path from the tokens to the logits)."""
    if collapse.empty or runs.empty:
        return pd.DataFrame(columns=[*PAIR, "arm", "level", "remaining", "fully_pruned", "dead_units",
                                     "collapsed_tensors", "fully_pruned_tensors", "network_collapsed"])
    per_seed = collapse.groupby([*PAIR, "arm", "seed", "level"], sort=True).agg(
        fully_pruned=("fully_pruned", "sum"), dead_units=("dead_units", "sum"),
        collapsed_tensors=("collapsed", "sum"),
        fully_pruned_tensors=("tensor", lambda t: ", ".join(sorted(t[collapse.loc[t.index, "fully_pruned"]]))))
    per_seed = per_seed.reset_index().merge(runs[[*PAIR, "arm", "seed", "level", "remaining", "collapsed"]],
                                            on=[*PAIR, "arm", "seed", "level"], how="left")
    table = per_seed.groupby([*PAIR, "arm", "level"], sort=True).agg(
        remaining=("remaining", "mean"), fully_pruned=("fully_pruned", "max"),
        dead_units=("dead_units", "mean"), collapsed_tensors=("collapsed_tensors", "max"),
        fully_pruned_tensors=("fully_pruned_tensors", lambda t: "; ".join(sorted({x for x in t if x}))),
        network_collapsed=("collapsed", lambda c: float(c.astype(bool).mean())))
    table["remaining"] *= 100
    return table.reset_index()


def critical_sparsity(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × arm: the smallest pruned share (in %) at which any layer collapses
    (a weight tensor the input no longer reaches) in any seed; NaN where none does."""
    rows = []
    for (dataset, model, arm), g in table.groupby([*PAIR, "arm"], sort=True):
        hit = g[g["collapsed_tensors"] > 0]
        rows.append({"dataset": dataset, "model": model, "arm": arm,
                     "critical_sparsity": 100 - float(hit["remaining"].max()) if not hit.empty else float("nan"),
                     "sparsest_checked": 100 - float(g["remaining"].min()),
                     "first_pruned_away": _first_pruned_away(g)})
    return pd.DataFrame(rows)


def _first_pruned_away(levels: pd.DataFrame) -> str:
    """The tensors fully pruned at the first level where any is, e.g. 'fc.bias (at 50.0%)'."""
    hit = levels[levels["fully_pruned"] > 0].sort_values("level")
    if hit.empty:
        return ""
    first = hit.iloc[0]
    return f"{first['fully_pruned_tensors']} (at {100 - first['remaining']:.1f}% pruned)"


def early_bird_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × level: the share of seeds whose mask settled, the mean epoch it
    did, the epochs spent (early bird vs IMP), and both tickets' test accuracy (%) with the
    paired difference early bird − IMP ticket over seeds (points, 95% CI)."""
    if runs.empty:
        return pd.DataFrame()
    bird = runs[runs["arm"].isin(with_mask_from("early_magnitude")) & (runs["level"] >= 1)]
    ticket = runs[(runs["arm"] == TICKET) & (runs["level"] >= 1)]
    both = bird.merge(ticket, on=[*PAIR, "seed", "level"], suffixes=("", "_ticket"))
    rows = []
    for (dataset, model, level), g in both.groupby([*PAIR, "level"], sort=True):
        diff, half = confidence_interval(100 * (g["test_acc"] - g["test_acc_ticket"]))
        rows.append({"dataset": dataset, "model": model, "level": int(level),
                     "remaining": 100 * float(g["remaining"].mean()), "n": len(g),
                     "settled_share": float(g["early_bird_found"].astype(float).mean()),
                     "settled_epoch": float(pd.to_numeric(g["early_bird_epoch"], errors="coerce").mean()),
                     "early_bird_epochs": float(g["mask_search_epochs"].mean()),
                     "imp_epochs": float(g["mask_search_epochs_ticket"].mean()),
                     "early_bird_acc": 100 * float(g["test_acc"].mean()),
                     "ticket_acc": 100 * float(g["test_acc_ticket"].mean()),
                     "diff": diff, "diff_ci": half, "diff_text": format_ci(diff, half, unit=" pt")})
    return pd.DataFrame(rows)


def mask_distances(mask_distance: pd.DataFrame) -> pd.DataFrame:
    """Mean (over seeds) normalised Hamming distance between consecutive epochs' masks, per
    dataset × model × level (its target sparsity) × epoch."""
    if mask_distance.empty:
        return pd.DataFrame(columns=[*PAIR, "level", "remaining", "epoch", "distance"])
    table = mask_distance.groupby([*PAIR, "level", "step"], sort=True).agg(
        distance=("distance", "mean"), remaining=("target_remaining", "mean")).reset_index()
    table["remaining"] *= 100
    return table.rename(columns={"step": "epoch"})
