"""Mask overlap: how alike an arm's masks are across seeds and across levels.

It reads masks, so it runs where the store's masks are (here, or a GPU machine whose bundle
hands back ``mask_overlap.csv``); the report reads the table.
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import pandas as pd

from ..nets.masks import Masks, jaccard
from .arms import TICKET

#: The key of one panel, one row of most tables: a dataset trained with a model (the report's too).
PAIR = ["dataset", "model"]
OVERLAP_COLUMNS = [*PAIR, "kind", "level", "remaining", "pair", "jaccard", "random"]


def _of_pair(frame: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    return frame[(frame["dataset"] == dataset) & (frame["model"] == model)]


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
