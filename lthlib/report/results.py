"""The store's tables restricted to a grid: only the rows of the configurations it names, up to
its number of levels (a run key leaves the number of levels out, so a run extended further
shares its folder, and the deeper levels are not this grid's)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from ..experiment.grid import CELL, Grid
from ..experiment.store import Store


@dataclass
class Results:
    """The store's tables restricted to a selection, what it expected, and the store itself."""
    runs: pd.DataFrame
    epochs: pd.DataFrame
    layers: pd.DataFrame
    status: pd.DataFrame
    expected: pd.DataFrame
    store: Store
    collapse: pd.DataFrame      # per masked tensor and level: what survives, what collapsed
    mask_distance: pd.DataFrame  # per early-bird level and dense epoch: the mask distance
    # per run level: the predicted class of every test example (empty for older stores)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_labels: pd.DataFrame = field(default_factory=pd.DataFrame)  # per test set: its true classes


def _keep(frame: pd.DataFrame, last_levels: pd.Series) -> pd.DataFrame:
    """The rows of the expected runs up to their last level (``last_levels``: config hash -> the
    last level expected; a branch trains its ``branch_levels`` only, e.g. 0, 2, 4, 5)."""
    if frame.empty or "config_hash" not in frame:
        return frame
    last = frame["config_hash"].map(last_levels)
    return frame[last.notna() & (frame["level"] <= last)].reset_index(drop=True)


def load_results(grid: Grid, arms: Iterable[str] | None = None) -> Results:
    """The store's tables, keeping only rows of the configurations the grid names (its
    arms, or ``arms``), up to its number of levels: a run key leaves the number of levels out,
    so a run extended further shares its folder, and the deeper levels are not this selection's."""
    st = Store.for_reading(grid.profile)
    expected = grid.expected(arms)
    levels = expected[expected["config_hash"] != ""].set_index("config_hash")["last_level"]
    status = st.table("status")
    if not status.empty:
        status = status.merge(expected[CELL], on=CELL, how="inner")
    return Results(_keep(st.runs(), levels), _keep(st.epochs(), levels), _keep(st.layers(), levels),
                   status, expected, st, _keep(st.table("collapse"), levels), _keep(st.table("mask_distance"), levels),
                   _keep(st.table("predictions"), levels), st.table("test_labels"))


def combine(parts: Iterable[Results]) -> Results:
    """Several grids' results as one (notebook 09: the main grid's and the family study's), each
    table the rows of all; the store is the first's (every grid of a profile shares it)."""
    parts = list(parts)
    if not parts:
        raise ValueError("combine needs at least one Results")
    tables = {name: pd.concat([getattr(p, name) for p in parts if not getattr(p, name).empty], ignore_index=True)
              if any(not getattr(p, name).empty for p in parts) else getattr(parts[0], name)
              for name in ("runs", "epochs", "layers", "status", "expected", "collapse", "mask_distance",
                           "predictions")}
    return Results(**tables, store=parts[0].store, test_labels=parts[0].test_labels)
