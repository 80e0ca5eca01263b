"""The report's figures (matplotlib with seaborn's style), one panel per dataset × model.

Each function takes the store's tidy tables (or a table made from them) and returns a Figure;
an input with nothing to draw gives a small figure that says so.  Panels are titled by
:func:`lthlib.report.labels.pair_label` under the datasets' protocols (``protocols``, else the frame's
``protocol`` column).  Accuracies are drawn in %.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import pandas as pd

from ..experiment.arms import TICKET
from .labels import Protocols, arm_color, arm_label, pair_label, protocols_of
from .paired import MARGIN, VS_DENSE
from .stats import PAIR, summarise

OVERLAP_COLORS = {"across seeds": "#1f77b4", "consecutive levels": "#2ca02c"}


def _plt():
    import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg by itself
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def _panels(pairs: list[tuple[str, str]], title: str, width: float = 4.6):
    plt, _ = _plt()
    n = max(len(pairs), 1)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.6 * nrows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, axes[:n]


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    if frame.empty:
        return []
    return sorted({(d, m) for d, m in zip(frame["dataset"], frame["model"])})


def _of_pair(frame: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    return frame[(frame["dataset"] == dataset) & (frame["model"] == model)]


def _labels(frame: pd.DataFrame, protocols: Protocols | None) -> dict[str, str]:
    return {**protocols_of(frame), **(protocols or {})}


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
        ax.set_xlim(max(values) * 1.15, min(values) / 1.15)  # inverted: dense on the left
    ax.set_xlabel("weights remaining (%, log scale)")


def _arms_of(runs: pd.DataFrame, arms: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """The rows of ``arms`` (None: every arm in the frame, in its order of appearance)."""
    if runs.empty:
        return runs, list(arms or ())
    arms = list(arms) if arms is not None else list(dict.fromkeys(runs["arm"]))
    return runs[runs["arm"].isin(arms)], arms


def _accuracy_panel(ax, table: pd.DataFrame, arms: Sequence[str]) -> None:
    """One panel: a line and a t-interval band per arm, and the dense mean dotted."""
    for arm in arms:
        rows = table[table["arm"] == arm].sort_values("level")
        if rows.empty:
            continue
        color = arm_color(arm)
        ax.plot(rows["remaining"], 100 * rows["mean"], marker="o", ms=3.5, color=color, label=arm_label(arm))
        band = rows.dropna(subset=["ci"])
        if len(band):
            # drawn clipped to [0, 100]: with two seeds t_{0.975,1} = 12.7 and the raw interval
            # can pass 100%; the tables keep the unclipped bounds
            ax.fill_between(band["remaining"], 100 * band["ci_low"].clip(0, 1),
                            100 * band["ci_high"].clip(0, 1), color=color, alpha=0.18, linewidth=0)
    dense = table[table["level"] == 0]
    if len(dense):
        ax.axhline(100 * dense["mean"].iloc[0], color="grey", ls=":", lw=1, label="dense")
    _remaining_axis(ax, table["remaining"])
    ax.set_ylabel("test accuracy (%)")


def _shared_legend(fig, axes, max_columns: int = 4) -> None:
    """One legend below the panels with every label any panel has, and room for its rows."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    ncol = max(1, min(len(labels), max_columns))
    legend_rows = -(-len(labels) // ncol) if labels else 0
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.03 + 0.06 * legend_rows, 1, 1))


def plot_accuracy_vs_remaining(runs: pd.DataFrame, arms: Sequence[str] | None = None,
                               title: str = "Test accuracy vs weights remaining", value: str = "test_acc",
                               level: float = 0.95, protocols: Protocols | None = None):
    """Mean test accuracy (%) over seeds against the fraction of weights remaining, one line per
    arm with a t-interval band (clipped to [0, 100] for display), one panel per dataset × model;
    dotted: the dense mean."""
    sub, arms = _arms_of(runs, arms)
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], value, level)
    for ax, (dataset, model) in zip(axes, pairs):
        _accuracy_panel(ax, _of_pair(table, dataset, model), arms)
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes)
    return fig


def plot_early_stopping(runs: pd.DataFrame, arms: Sequence[str] = (TICKET,),
                        title: str = "Early-stopping epoch vs weights remaining",
                        protocols: Protocols | None = None):
    """The epoch of the best validation loss (mean ± CI over seeds) against weights remaining."""
    sub, arms = _arms_of(runs, arms)
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], "best_epoch")
    for ax, (dataset, model) in zip(axes, pairs):
        t = _of_pair(table, dataset, model)
        for arm in arms:
            rows = t[t["arm"] == arm].sort_values("level")
            if len(rows):
                ax.errorbar(rows["remaining"], rows["mean"], yerr=rows["ci"].fillna(0), marker="o", ms=3.5,
                            capsize=3, color=arm_color(arm), label=arm_label(arm))
        _remaining_axis(ax, t["remaining"])
        ax.set_ylabel("best (early-stopping) epoch")
        ax.set_title(pair_label(dataset, model, names))
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _log_percent_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_layer_remaining(layers: pd.DataFrame, arm: str = TICKET, title: str | None = None,
                         protocols: Protocols | None = None):
    """Per dataset × model, the share of each masked tensor that survives at each level
    (mean over seeds), log scale."""
    _, sns = _plt()
    title = title or f"Weights remaining per tensor ({arm_label(arm)})"
    sub = layers[layers["arm"] == arm] if not layers.empty else layers
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no layer table for this arm yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title, width=6.4)
    for ax, (dataset, model) in zip(axes, pairs):
        t = _of_pair(sub, dataset, model).groupby(["tensor", "level"], as_index=False)["remaining"].mean()
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
    for kind, g in overlap.groupby("kind"):
        color = OVERLAP_COLORS.get(kind)
        means = g.groupby("remaining", as_index=False)[["jaccard", "random"]].mean()
        means = means.sort_values("remaining", ascending=False)
        ax.plot(means["remaining"], means["jaccard"], marker="o", ms=4, color=color, label=kind)
        reference = "independent random masks" if kind == "across seeds" else "nested mask (size ratio)"
        ax.plot(means["remaining"], means["random"], ls="--", lw=1, color=color, label=f"{kind}: {reference}")
        sns.scatterplot(data=g, x="remaining", y="jaccard", color=color, alpha=0.4, s=14, ax=ax, legend=False)
    _remaining_axis(ax, overlap["remaining"])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Jaccard index")


def plot_mask_overlap(overlap: pd.DataFrame, title: str | None = None, protocols: Protocols | None = None):
    """Jaccard index against weights remaining: across seeds and between consecutive levels,
    with the overlap two independent random masks would have (dashed)."""
    _, sns = _plt()
    title = title or f"Mask overlap (Jaccard): {arm_label(TICKET)}"
    pairs = _pairs(overlap)
    if not pairs:
        return _empty_figure(title, "no masks to compare yet (needs pruned levels; "
                                    "'across seeds' needs two seeds)")
    names = _labels(overlap, protocols)
    fig, axes = _panels(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        _overlap_panel(ax, sns, _of_pair(overlap, dataset, model))
        ax.set_title(pair_label(dataset, model, names))
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def plot_training_curves(epochs: pd.DataFrame, level: int = 0, arm: str | None = None,
                         title: str = "Dense training: accuracy per epoch",
                         protocols: Protocols | None = None):
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
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        long = _of_pair(sub, dataset, model).melt(
            id_vars=["seed", "epoch"], value_vars=["train_acc", "val_acc", "test_acc"],
            var_name="split", value_name="accuracy")
        long["accuracy (%)"] = 100 * long["accuracy"]
        long["split"] = long["split"].str.replace("_acc", "", regex=False)
        sns.lineplot(data=long, x="epoch", y="accuracy (%)", hue="split", marker="o", errorbar=None, ax=ax)
        ax.set_title(pair_label(dataset, model, names))
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def plot_mask_distance(distances: pd.DataFrame, epsilon: float | None = None,
                       title: str = "Early-bird masks: distance between consecutive epochs",
                       protocols: Protocols | None = None):
    """Normalised Hamming distance between the magnitude masks of consecutive dense epochs
    (mean over seeds), one line per target sparsity, one panel per dataset × model; dashed: ε."""
    pairs = _pairs(distances)
    if not pairs:
        return _empty_figure(title, "no early-bird masks yet")
    _, sns = _plt()
    names = _labels(distances, protocols)
    fig, axes = _panels(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        sub = _of_pair(distances, dataset, model).copy()
        sub["kept"] = sub["remaining"].map(lambda r: f"{r:.3g}% kept")
        sns.lineplot(data=sub, x="epoch", y="distance", hue="kept", marker="o", ax=ax, legend=True)
        if epsilon is not None:
            ax.axhline(epsilon, color="grey", ls="--", lw=1, label=f"ε = {epsilon:g}")
        ax.set_xlabel("dense training epoch")
        ax.set_ylabel("Hamming distance to the previous epoch's mask")
        ax.set_title(pair_label(dataset, model, names))
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_price(price: pd.DataFrame, title: str = "Accuracy against the epochs spent on the ticket",
               protocols: Protocols | None = None):
    """Test accuracy (%) against the epochs spent finding the mask and training it (log x), one
    line per arm through its levels, one panel per dataset × model."""
    pairs = _pairs(price)
    if not pairs:
        return _empty_figure(title, "no pruned results yet")
    names = _labels(price, protocols)
    fig, axes = _panels(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        sub = _of_pair(price, dataset, model)
        for arm, g in sub.groupby("arm", sort=False):
            g = g.sort_values("level")
            ax.plot(g["total_epochs"], g["test_acc"], marker="o", color=arm_color(arm), label=arm_label(arm))
        ax.set_xscale("log")
        ax.set_xlabel("epochs spent (finding the mask + training it)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes)
    return fig


def _difference_lines(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(comparison, arm, reference) of the paired-difference figure, in the table's order: each
    arm against dense only for the winning ticket (the rest are in the table)."""
    keys = table[["comparison", "arm", "reference"]].drop_duplicates()
    return [tuple(k) for k in keys.itertuples(index=False)
            if k.arm == TICKET or k.comparison != VS_DENSE]


def plot_paired_differences(table: pd.DataFrame, margin: float = MARGIN,
                            title: str = "Paired differences at every level (points, 95% intervals)",
                            protocols: Protocols | None = None):
    """The paired differences of :func:`lthlib.report.paired.paired_differences` against the
    fraction of weights remaining: the winning ticket against dense, its re-inits and random
    pruning, and every other trunk against the re-init of its own mask; bands: the table's
    intervals (bootstrap over seeds and test examples, or seeds only where it says so).  Solid
    grey: zero; dashed red: −``margin``, the non-inferiority margin of "matches dense"."""
    pairs = _pairs(table)
    if not pairs:
        return _empty_figure(title, "no pruned levels to compare yet")
    names = _labels(table, protocols)
    fig, axes = _panels(pairs, title, width=6.4)
    for ax, (dataset, model) in zip(axes, pairs):
        sub = _of_pair(table, dataset, model)
        for comparison, arm, reference in _difference_lines(sub):
            rows = sub[(sub["comparison"] == comparison) & (sub["arm"] == arm)
                       & (sub["reference"] == reference)].sort_values("level")
            color = arm_color(reference) if arm == TICKET and comparison != VS_DENSE else arm_color(arm)
            style = "-" if arm == TICKET else "--"
            label = f"{arm_label(arm)} − {arm_label(reference)}"
            ax.plot(rows["remaining"], rows["diff"], marker="o", ms=3.5, ls=style, color=color, label=label)
            band = rows.dropna(subset=["ci_low", "ci_high"])
            if len(band):
                ax.fill_between(band["remaining"], band["ci_low"], band["ci_high"], color=color, alpha=0.15,
                                linewidth=0)
        ax.axhline(0, color="grey", lw=1)
        ax.axhline(-margin, color="#d62728", ls=":", lw=1.2, label=f"−{margin:g} point (margin)")
        _remaining_axis(ax, sub["remaining"])
        ax.set_ylabel("difference (points)")
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes, max_columns=2)
    return fig


def plot_confusion(confusions: pd.DataFrame, title: str = "Confusion matrices (% of each true class)",
                   protocols: Protocols | None = None):
    """One heatmap per dataset × model × network (dense, and the ticket at its level chosen on
    validation) of :func:`lthlib.report.per_class.per_class`'s confusion table, normalised by
    row (true class)."""
    plt, sns = _plt()
    if confusions.empty:
        return _empty_figure(title, "no stored test predictions yet")
    names = _labels(confusions, protocols)
    panels = list(confusions[[*PAIR, "network", "level"]].drop_duplicates().itertuples(index=False))
    n_classes = confusions["true"].nunique()
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    size = 1.2 + 0.75 * n_classes
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * (size + 1.2), nrows * size), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, p in zip(axes, panels):
        sub = confusions[(confusions["dataset"] == p.dataset) & (confusions["model"] == p.model)
                         & (confusions["network"] == p.network) & (confusions["level"] == p.level)]
        order = list(dict.fromkeys(sub["true"]))
        grid = sub.pivot(index="true", columns="predicted", values="share").reindex(index=order, columns=order)
        sns.heatmap(grid, annot=True, fmt=".1f", vmin=0, vmax=100, cmap="Blues", cbar=False, square=True, ax=ax)
        what = arm_label(p.network) if p.level else "dense"
        level = f", level {p.level}" if p.level else ""
        ax.set_title(f"{pair_label(p.dataset, p.model, names)}: {what}{level}", fontsize="small")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
