"""What every figure shares: pyplot with seaborn's theme, a grid of panels (one per dataset ×
model), the log axis of weights remaining, seed counts in legends, t-interval bands, one legend
below the panels, and the small figure that says there is nothing to draw.

Where arms ran on different numbers of seeds, the legend says each arm's count ("winning ticket
(θ0), 8 seeds"; "…, 1 seed"; "…, 4–8 seeds" where panels differ), a line from one seed is
dashed, and a t-interval band is drawn only where at least :data:`MIN_BAND_SEEDS` seeds give it.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import pandas as pd

from ..labels import Protocols, arm_label, protocols_of

#: Fewer seeds draw no band: two seeds' t_{0.975,1} = 12.7 makes a band that swamps the panel.
MIN_BAND_SEEDS = 3


def styled_pyplot():
    import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg by itself
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def panel_grid(pairs: list[tuple[str, str]], title: str, width: float = 4.6):
    plt, _ = styled_pyplot()
    n = max(len(pairs), 1)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, axes[:n]


def pairs_of(frame: pd.DataFrame) -> list[tuple[str, str]]:
    if frame.empty:
        return []
    return sorted({(d, m) for d, m in zip(frame["dataset"], frame["model"])})


def of_pair(frame: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    return frame[(frame["dataset"] == dataset) & (frame["model"] == model)]


def protocol_labels(frame: pd.DataFrame, protocols: Protocols | None) -> dict[str, str]:
    return {**protocols_of(frame), **(protocols or {})}


def empty_figure(title: str, message: str):
    plt, _ = styled_pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    fig.suptitle(title)
    return fig


def levels_of(remaining: Iterable[float], tolerance: float = 1.1) -> list[float]:
    """The distinct fractions remaining, largest first; values within ``tolerance`` (a ratio) of
    the previous one are one level: arms prune to a level up to a few weights' rounding, and a
    GloVe embedding's never-trained zero rows count as pruned (``remaining`` counts non-zeros), so
    a transferred mask's level sits a few percent off the target's own.  Levels of 20% (the
    study's rate) are 1.25 apart."""
    values = sorted((float(v) for v in remaining if not pd.isna(v) and v > 0), reverse=True)
    groups: list[list[float]] = []
    for v in values:
        if groups and groups[-1][-1] / v < tolerance:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


def remaining_axis(ax, remaining: Iterable[float], max_labels: int = 8, label_gap: float = 1.2) -> None:
    """Log-scaled fraction of weights remaining, decreasing from left to right, in %: a tick at
    every level, at most ``max_labels`` of them labelled (evenly) and none within ``label_gap``
    (a ratio) of the last label, so that no labels collide (a transferred mask's levels sit
    within 1.2 of the target's own)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
    levels = levels_of(remaining)
    ax.set_xscale("log")
    if levels:
        step = math.ceil(len(levels) / max_labels)
        labels, last = [], math.inf
        for i, v in enumerate(levels):
            shown = i % step == 0 and last / v >= label_gap
            labels.append(f"{100 * v:.3g}" if shown else "")
            last = v if shown else last
        ax.xaxis.set_major_locator(FixedLocator(levels))
        ax.xaxis.set_major_formatter(FixedFormatter(labels))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(max(levels) * 1.15, min(levels) / 1.15)  # inverted: dense on the left
    ax.set_xlabel("weights remaining (%, log scale)")


def plain_log_ticks(axis) -> None:
    """Plain-number ticks (1, 2, 5, 10, …, thinned to the span) on a log axis, call after
    plotting, and no minor labels: matplotlib labels the minor ticks of an axis spanning less
    than a decade as '3×10¹', '4×10¹', and those collide."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    low, high = sorted(axis.get_view_interval())
    if not (low > 0 and high > low):
        return
    decades = math.log10(high / low)
    subs = (1, 2, 3, 5) if decades <= 1.5 else (1, 2, 5) if decades <= 2.5 else (1, 3) if decades <= 4 else (1,)
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
             for m in subs if low <= m * 10.0 ** e <= high]
    axis.set_major_locator(FixedLocator(ticks if len(ticks) >= 2 else [low, high]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(NullFormatter())


def arms_of(runs: pd.DataFrame, arms: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """The rows of ``arms`` (None: every arm in the frame, in its order of appearance)."""
    if runs.empty:
        return runs, list(arms or ())
    arms = list(arms) if arms is not None else list(dict.fromkeys(runs["arm"]))
    return runs[runs["arm"].isin(arms)], arms


def seeds_text(counts: Iterable[int]) -> str:
    """How many seeds: '1 seed', '8 seeds', or '4–8 seeds' where panels or levels differ."""
    counts = [int(c) for c in counts if not pd.isna(c)]
    if not counts:
        return "no seeds"
    low, high = min(counts), max(counts)
    return f"{low}–{high} seeds" if low != high else f"{low} seed" if low == 1 else f"{low} seeds"


def arm_seed_labels(table: pd.DataFrame, arms: Iterable[str], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """arm -> its legend label with its seed count, e.g. "random re-init (study's own IMP),
    1 seed", from a table with ``arm`` and ``n`` (seeds per row) columns; ``names`` overrides
    an arm's label (e.g. the winning ticket as "the target's own ticket")."""
    names = names or {}
    return {arm: f"{names.get(arm, arm_label(arm))}, {seeds_text(table.loc[table['arm'] == arm, 'n'])}"
            for arm in arms}


def one_seed(rows: pd.DataFrame) -> bool:
    return bool((rows["n"] <= 1).all())


def interval_band(ax, rows: pd.DataFrame, color) -> None:
    """The t-interval band (in %) where at least MIN_BAND_SEEDS seeds give it, drawn clipped to
    [0, 100] (the tables keep the unclipped bounds)."""
    shown = (rows["n"] >= MIN_BAND_SEEDS) & rows["ci"].notna()
    if shown.any():
        ax.fill_between(rows["remaining"], 100 * rows["ci_low"].clip(0, 1).where(shown),
                        100 * rows["ci_high"].clip(0, 1).where(shown), color=color, alpha=0.18, linewidth=0)


def shared_legend(fig, axes, ncol: int | None = None, max_columns: int = 4) -> None:
    """One legend below the panels with every label any panel has, and room for its rows."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    wide = max(map(len, labels), default=0) > 28
    ncol = ncol or max(1, min(len(labels), min(max_columns, 3) if wide else max_columns))
    legend_rows = -(-len(labels) // ncol) if labels else 0
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, (0.1 + 0.3 * legend_rows) / fig.get_figheight(), 1, 1))  # ~0.3 in per row


def dodged(x: pd.Series, i: int, k: int, step: float = 0.018) -> pd.Series:
    """``x`` shifted by ``step`` decades per place, ``k`` places centred (a log axis)."""
    return x * 10 ** (step * (i - (k - 1) / 2))
