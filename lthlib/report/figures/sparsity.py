"""The masks: weights remaining per tensor, how alike masks are (across seeds, across levels),
and how early-bird masks settle over dense training.
"""
from __future__ import annotations

import pandas as pd

from ...experiment.arms import TICKET
from ..labels import Protocols, arm_label, pair_label
from .panels import (
    empty_figure,
    of_pair,
    pairs_of,
    panel_grid,
    protocol_labels,
    remaining_axis,
    shared_legend,
    styled_pyplot,
)

OVERLAP_COLORS = {"across seeds": "#1f77b4", "consecutive levels": "#2ca02c"}


#: What each kind of mask overlap is compared with: its line style and legend label.
OVERLAP_REFERENCES = {
    "across seeds": ("--", "chance: independent random masks, p/(2−p)"),
    "consecutive levels": (":", "nested masks: the size ratio (IMP's are)"),
}


def _log_percent_axis(ax) -> None:
    """Log y in % with plain 1-2-5 labels (no minor labels: 20, 30, …, 90 collide); integer x."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_layer_remaining(layers: pd.DataFrame, arm: str = TICKET, title: str | None = None,
                         protocols: Protocols | None = None):
    """Per dataset × model, the share of each masked tensor that survives at each level
    (mean over seeds), log scale."""
    _, sns = styled_pyplot()
    title = title or f"Weights remaining per tensor ({arm_label(arm)})"
    sub = layers[layers["arm"] == arm] if not layers.empty else layers
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no layer table for this arm yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title, width=6.4)
    for ax, (dataset, model) in zip(axes, pairs):
        t = of_pair(sub, dataset, model).groupby(["tensor", "level"], as_index=False)["remaining"].mean()
        t["remaining (%)"] = 100 * t["remaining"]
        sns.lineplot(data=t, x="level", y="remaining (%)", hue="tensor", style="tensor",
                     markers=True, dashes=False, ax=ax)
        _log_percent_axis(ax)
        ax.set_title(pair_label(dataset, model, names))
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
                  ncol=1 if t["tensor"].nunique() <= 12 else 2)
    fig.tight_layout()
    return fig


def _overlap_panel(ax, sns, overlap: pd.DataFrame) -> None:
    """Per kind: the mean Jaccard index (line), each pair (dots), and what chance or nesting
    gives, in black on top (the nested reference lies on the consecutive-level data)."""
    for kind, g in overlap.groupby("kind"):
        color = OVERLAP_COLORS.get(kind)
        means = g.groupby("remaining", as_index=False)[["jaccard", "random"]].mean()
        means = means.sort_values("remaining", ascending=False)
        ax.plot(means["remaining"], means["jaccard"], marker="o", ms=4, lw=2.2, color=color, label=kind, zorder=2)
        sns.scatterplot(data=g, x="remaining", y="jaccard", color=color, alpha=0.4, s=14, ax=ax, legend=False)
        style, reference = OVERLAP_REFERENCES.get(kind, ("--", f"{kind}: reference"))
        ax.plot(means["remaining"], means["random"], ls=style, lw=1.6, color="black", label=reference, zorder=5)
    remaining_axis(ax, overlap["remaining"])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Jaccard index")


def plot_mask_overlap(overlap: pd.DataFrame, title: str | None = None, protocols: Protocols | None = None):
    """Jaccard index against weights remaining: across seeds and between consecutive levels,
    with what two independent random masks (dashed) and a nested mask (dotted) would give,
    drawn on top in black; one legend below the panels."""
    _, sns = styled_pyplot()
    title = title or f"Mask overlap (Jaccard): {arm_label(TICKET)}"
    pairs = pairs_of(overlap)
    if not pairs:
        return empty_figure(title, "no masks to compare yet (needs pruned levels; "
                                    "'across seeds' needs two seeds)")
    names = protocol_labels(overlap, protocols)
    fig, axes = panel_grid(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        _overlap_panel(ax, sns, of_pair(overlap, dataset, model))
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes, ncol=2)  # each kind above its reference
    return fig


def _ylabel_first_column(axes, label: str) -> None:
    """The y label on the first column only: a long label would run into the next panel."""
    for ax in axes:
        ax.set_ylabel(label if ax.get_subplotspec().is_first_col() else "")


def plot_mask_distance(distances: pd.DataFrame, epsilon: float | None = None,
                       title: str = "Early-bird masks: distance between consecutive epochs",
                       protocols: Protocols | None = None):
    """Normalised Hamming distance between the magnitude masks of consecutive dense epochs
    (mean over seeds), one line per target sparsity (the same colour in every panel), one panel
    per dataset × model; dashed: ε; one legend below."""
    from matplotlib.ticker import MaxNLocator
    pairs = pairs_of(distances)
    if not pairs:
        return empty_figure(title, "no early-bird masks yet")
    _, sns = styled_pyplot()
    names = protocol_labels(distances, protocols)
    fig, axes = panel_grid(pairs, title)
    levels = sorted(distances["level"].unique())
    colors = dict(zip(levels, sns.color_palette(n_colors=len(levels))))
    kept = distances.groupby("level")["remaining"].mean()
    for ax, (dataset, model) in zip(axes, pairs):
        for level, g in of_pair(distances, dataset, model).groupby("level"):
            g = g.sort_values("epoch")
            ax.plot(g["epoch"], g["distance"], marker="o", ms=4, color=colors[level], label=f"{kept[level]:.3g}% kept")
        if epsilon is not None:
            ax.axhline(epsilon, color="grey", ls="--", lw=1, label=f"ε = {epsilon:g}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("dense training epoch")
        ax.set_title(pair_label(dataset, model, names))
    _ylabel_first_column(axes, "mask distance to previous epoch")
    shared_legend(fig, axes)
    return fig
