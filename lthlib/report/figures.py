"""The report's figures (matplotlib with seaborn's style), one panel per dataset × model.

Each function takes the store's tidy tables (or a table made from them) and returns a Figure;
an input with nothing to draw gives a small figure that says so.  Panels are titled by
:func:`lthlib.report.labels.pair_label` under the datasets' protocols (``protocols``, else the frame's
``protocol`` column).  Accuracies are drawn in %.

Where arms ran on different numbers of seeds, the legend says each arm's count ("winning ticket
(θ0), 8 seeds"; "…, 1 seed"; "…, 4–8 seeds" where panels differ), a line from one seed is
dashed, and a t-interval band is drawn only where at least :data:`MIN_BAND_SEEDS` seeds give it.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import pandas as pd

from ..experiment.arms import TICKET
from .labels import Protocols, arm_color, arm_label, pair_label, protocols_of
from .paired import MARGIN, VS_DENSE
from .savings import FILE_FORMS, TIMED_FORMS, form_label, runtime_label
from .stats import PAIR, summarise

OVERLAP_COLORS = {"across seeds": "#1f77b4", "consecutive levels": "#2ca02c"}
#: What each kind of mask overlap is compared with: its line style and legend label.
OVERLAP_REFERENCES = {
    "across seeds": ("--", "chance: independent random masks, p/(2−p)"),
    "consecutive levels": (":", "nested masks: the size ratio (IMP's are)"),
}
#: Fewer seeds draw no band: two seeds' t_{0.975,1} = 12.7 makes a band that swamps the panel.
MIN_BAND_SEEDS = 3


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


def _levels_of(remaining: Iterable[float], tolerance: float = 1.1) -> list[float]:
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


def _remaining_axis(ax, remaining: Iterable[float], max_labels: int = 8) -> None:
    """Log-scaled fraction of weights remaining, decreasing from left to right, in %: a tick at
    every level, at most ``max_labels`` of them labelled (evenly) so that no labels collide."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
    levels = _levels_of(remaining)
    ax.set_xscale("log")
    if levels:
        step = math.ceil(len(levels) / max_labels)
        ax.xaxis.set_major_locator(FixedLocator(levels))
        ax.xaxis.set_major_formatter(FixedFormatter(
            [f"{100 * v:.3g}" if i % step == 0 else "" for i, v in enumerate(levels)]))
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


def _arms_of(runs: pd.DataFrame, arms: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
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


def _one_seed(rows: pd.DataFrame) -> bool:
    return bool((rows["n"] <= 1).all())


def _band(ax, rows: pd.DataFrame, color) -> None:
    """The t-interval band (in %) where at least MIN_BAND_SEEDS seeds give it, drawn clipped to
    [0, 100] (the tables keep the unclipped bounds)."""
    shown = (rows["n"] >= MIN_BAND_SEEDS) & rows["ci"].notna()
    if shown.any():
        ax.fill_between(rows["remaining"], 100 * rows["ci_low"].clip(0, 1).where(shown),
                        100 * rows["ci_high"].clip(0, 1).where(shown), color=color, alpha=0.18, linewidth=0)


def _dense(runs: pd.DataFrame, value: str) -> pd.DataFrame:
    """Per dataset × model: the dense network's (level 0, shared by every arm) mean ``value``
    over the seeds shown, their number ``n`` and the first ``seed``."""
    level0 = runs[runs["level"] == 0].drop_duplicates([*PAIR, "seed"])
    return level0.groupby(PAIR).agg(mean=(value, "mean"), n=("seed", "nunique"), seed=("seed", "min"))


def _dense_label(dense: pd.DataFrame) -> str:
    """'dense, seed 0' for one seed everywhere; else 'dense mean, 8 seeds' (or '4–8 seeds')."""
    if (dense["n"] == 1).all() and dense["seed"].nunique() == 1:
        return f"dense, seed {int(dense['seed'].iloc[0])}"
    return f"dense mean, {seeds_text(dense['n'])}"


def _accuracy_panel(ax, table: pd.DataFrame, arms: Sequence[str], names: dict[str, str]) -> None:
    """One panel: a line per arm (dashed from one seed) with its t-interval band."""
    for arm in arms:
        rows = table[table["arm"] == arm].sort_values("level")
        if rows.empty:
            continue
        color = arm_color(arm)
        ax.plot(rows["remaining"], 100 * rows["mean"], marker="o", ms=3.5, color=color, label=names[arm],
                ls="--" if _one_seed(rows) else "-")
        _band(ax, rows, color)
    _remaining_axis(ax, table["remaining"])
    ax.set_ylabel("test accuracy (%)")


def _shared_legend(fig, axes, ncol: int | None = None, max_columns: int = 4) -> None:
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


def plot_accuracy_vs_remaining(runs: pd.DataFrame, arms: Sequence[str] | None = None,
                               title: str = "Test accuracy vs weights remaining", value: str = "test_acc",
                               level: float = 0.95, protocols: Protocols | None = None,
                               arm_names: Mapping[str, str] | None = None):
    """Mean test accuracy (%) over seeds against the fraction of weights remaining, one line per
    arm (its seed count in the legend; dashed from one seed) with a t-interval band where at
    least MIN_BAND_SEEDS seeds give one (clipped to [0, 100] for display), one panel per
    dataset × model; dotted: the dense mean over the seeds shown.  ``arm_names``: legend labels
    in place of the registry's, for some arms."""
    sub, arms = _arms_of(runs, arms)
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], value, level)
    legend = arm_seed_labels(table, arms, arm_names)
    dense = _dense(sub, value)
    for ax, (dataset, model) in zip(axes, pairs):
        _accuracy_panel(ax, _of_pair(table, dataset, model), arms, legend)
        if (dataset, model) in dense.index:
            ax.axhline(100 * dense.loc[(dataset, model), "mean"], color="grey", ls=":", lw=1,
                       label=_dense_label(dense))
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes)
    return fig


def _dodged(x: pd.Series, i: int, k: int, step: float = 0.018) -> pd.Series:
    """``x`` shifted by ``step`` decades per place, ``k`` places centred (a log axis)."""
    return x * 10 ** (step * (i - (k - 1) / 2))


def _epoch_bars(ax, rows: pd.DataFrame, epochs: float, x: pd.Series, **style) -> None:
    """Mean ± CI error bars, the interval clipped to the possible epochs [1, ``epochs``]."""
    low = (rows["mean"] - rows["ci"]).clip(lower=1)
    high = (rows["mean"] + rows["ci"]).clip(upper=epochs)
    yerr = [(rows["mean"] - low).fillna(0).clip(lower=0), (high - rows["mean"]).fillna(0).clip(lower=0)]
    ax.errorbar(x, rows["mean"], yerr=yerr, marker="o", ms=3.5, capsize=3, **style)


def _epochs_trained(runs: pd.DataFrame) -> float:
    """The most epochs any run of the frame trained (the last possible early-stopping epoch)."""
    return float(pd.concat([runs["epochs_run"], runs["best_epoch"]]).max())


def plot_early_stopping(runs: pd.DataFrame, arms: Sequence[str] = (TICKET,),
                        title: str = "Early-stopping epoch vs weights remaining",
                        protocols: Protocols | None = None):
    """The epoch of the best validation loss (mean ± CI over seeds, the interval clipped to the
    epochs trained) against weights remaining, arms dodged sideways, one legend below."""
    from matplotlib.ticker import MaxNLocator
    sub, arms = _arms_of(runs, arms)
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no results for these arms yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], "best_epoch")
    legend = arm_seed_labels(table, arms)
    for ax, (dataset, model) in zip(axes, pairs):
        t = _of_pair(table, dataset, model)
        epochs = _epochs_trained(_of_pair(sub, dataset, model))
        for i, arm in enumerate(arms):
            rows = t[t["arm"] == arm].sort_values("level")
            if len(rows):
                _epoch_bars(ax, rows, epochs, _dodged(rows["remaining"], i, len(arms)), color=arm_color(arm),
                            label=legend[arm], ls="--" if _one_seed(rows) else "-")
        _remaining_axis(ax, t["remaining"])
        ax.set_ylim(0.5, epochs + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("best (early-stopping) epoch")
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes)
    return fig


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
    _remaining_axis(ax, overlap["remaining"])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Jaccard index")


def plot_mask_overlap(overlap: pd.DataFrame, title: str | None = None, protocols: Protocols | None = None):
    """Jaccard index against weights remaining: across seeds and between consecutive levels,
    with what two independent random masks (dashed) and a nested mask (dotted) would give,
    drawn on top in black; one legend below the panels."""
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
    _shared_legend(fig, axes, ncol=2)  # each kind above its reference
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
    pairs = _pairs(distances)
    if not pairs:
        return _empty_figure(title, "no early-bird masks yet")
    _, sns = _plt()
    names = _labels(distances, protocols)
    fig, axes = _panels(pairs, title)
    levels = sorted(distances["level"].unique())
    colors = dict(zip(levels, sns.color_palette(n_colors=len(levels))))
    kept = distances.groupby("level")["remaining"].mean()
    for ax, (dataset, model) in zip(axes, pairs):
        for level, g in _of_pair(distances, dataset, model).groupby("level"):
            g = g.sort_values("epoch")
            ax.plot(g["epoch"], g["distance"], marker="o", ms=4, color=colors[level], label=f"{kept[level]:.3g}% kept")
        if epsilon is not None:
            ax.axhline(epsilon, color="grey", ls="--", lw=1, label=f"ε = {epsilon:g}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("dense training epoch")
        ax.set_title(pair_label(dataset, model, names))
    _ylabel_first_column(axes, "mask distance to previous epoch")
    _shared_legend(fig, axes)
    return fig


def _strips(sub: pd.DataFrame) -> dict[str, tuple[int, int, float]]:
    """arm -> (place, count, x) for the arms drawn as vertical strips (every level at the same
    price, e.g. every mask found at no search cost) sharing one x with another: those get dodged."""
    xs = sub.groupby("arm", sort=False)["total_epochs"].agg(["min", "max"])
    strips = xs[xs["max"] <= xs["min"] * 1.001]
    places: dict[str, tuple[int, int, float]] = {}
    for x, arms in strips.groupby(strips["min"].round(6)).groups.items():
        if len(arms) > 1:
            places.update({arm: (i, len(arms), float(x)) for i, arm in enumerate(arms)})
    return places


def _price_panel(ax, sub: pd.DataFrame, legend: dict[str, str], step: float = 0.03) -> None:
    """One panel: a line per arm through its levels; arms sharing one x (e.g. no search) drawn
    side by side on a shaded strip around that x."""
    places = _strips(sub)
    for arm, g in sub.groupby("arm", sort=False):
        g = g.sort_values("level")
        x = _dodged(g["total_epochs"], *places[arm][:2], step=step) if arm in places else g["total_epochs"]
        ax.plot(x, g["test_acc"], marker="o", ms=5, color=arm_color(arm), label=legend[arm],
                ls="--" if _one_seed(g) else "-")
    for x, k in {(x, k) for _, k, x in places.values()}:
        half = 10 ** (step * k / 2)
        ax.axvspan(x / half, x * half, color="0.5", alpha=0.12, lw=0, zorder=0,
                   label="(shaded: same cost, side by side)")
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("epochs spent (finding the mask + training it)")


def plot_price(price: pd.DataFrame, title: str = "Accuracy against the epochs spent on the ticket",
               protocols: Protocols | None = None):
    """Test accuracy (%) against the epochs spent finding the mask and training it (log x), one
    line per arm through its levels (its seed count in the legend), one panel per dataset ×
    model; arms whose every level costs the same (no search) are drawn side by side on a
    shaded strip centred on that cost."""
    pairs = _pairs(price)
    if not pairs:
        return _empty_figure(title, "no pruned results yet")
    names = _labels(price, protocols)
    fig, axes = _panels(pairs, title)
    legend = arm_seed_labels(price, price["arm"].unique())
    for ax, (dataset, model) in zip(axes, pairs):
        _price_panel(ax, _of_pair(price, dataset, model), legend)
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
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))  # room for the title (~0.45 in)
    return fig


# ---------------------------------------------------------------------------------------------
# What a ticket saves (notebook 08): the tables of lthlib.deploy.measure
# ---------------------------------------------------------------------------------------------

#: one colour per deployable form (tab10's)
FORM_COLORS = {"dense_fp32": "#7f7f7f", "sparse_fp32": "#1f77b4", "sparse_fp32_csr": "#17becf",
               "sparse_fp16": "#2ca02c", "onnx_fp32": "#ff7f0e", "onnx_int8": "#d62728"}


def _through_levels(ax, rows: pd.DataFrame, x: pd.Series, color: str | None, label: str | None,
                    hollow: bool = False, line: bool = True) -> None:
    """One form's points through its levels (a line in level order), level 0 (dense) a star."""
    acc = 100 * rows["test_acc"]
    face = "white" if hollow else color
    if line:
        ax.plot(x, acc, color=color, lw=1.2, alpha=0.8, zorder=2)
    pruned, dense = rows["level"] > 0, rows["level"] == 0
    ax.scatter(x[pruned], acc[pruned], s=28, facecolor=face, edgecolor=color, linewidth=1.2, zorder=3, label=label)
    ax.scatter(x[dense], acc[dense], s=150, marker="*", facecolor=face, edgecolor=color, linewidth=1.2, zorder=4)


def _style_keys(ax, hollow: str | None = None) -> None:
    """Legend entries for the marker conventions (invisible points)."""
    ax.scatter([], [], s=150, marker="*", facecolor="grey", edgecolor="grey", label="dense network (level 0)")
    if hollow:
        ax.scatter([], [], s=28, facecolor="white", edgecolor="grey", label=hollow)


def plot_size_accuracy(forms: pd.DataFrame, title: str = "Size on disk against test accuracy",
                       protocols: Protocols | None = None):
    """Test accuracy (%) against bytes on disk (log x), one point per level and file form: filled
    and joined through the levels with zstd, hollow as written; the dense network (level 0) a
    star; the labels beside the sparse fp16 + zstd points: % of the weights remaining."""
    sub = forms[forms["form"].isin(FILE_FORMS)] if not forms.empty else forms
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no exported tickets measured yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title, width=5.8)
    for ax, (dataset, model) in zip(axes, pairs):
        panel = _of_pair(sub, dataset, model)
        for form in FILE_FORMS:
            rows = panel[panel["form"] == form].sort_values("level")
            if rows.empty:
                continue
            color = FORM_COLORS.get(form)
            _through_levels(ax, rows, rows["zstd_bytes"] / 1024, color, form_label(form))
            _through_levels(ax, rows, rows["bytes"] / 1024, color, None, hollow=True, line=False)
            if form == "sparse_fp16":
                for x, y, left in zip(rows["zstd_bytes"] / 1024, 100 * rows["test_acc"], rows["remaining"]):
                    ax.annotate(f"{100 * left:.3g}%", (x, y), textcoords="offset points", xytext=(-4, 6),
                                fontsize=7, color=color, ha="right")
        _style_keys(ax, hollow="as written (filled: with zstd)")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel("size on disk (KiB, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes, max_columns=4)
    return fig


def plot_latency_accuracy(forms: pd.DataFrame, batch: int = 1, title: str | None = None,
                          protocols: Protocols | None = None):
    """Test accuracy (%) against CPU latency at ``batch`` on one thread (p50, log x; the bar
    reaches p95), one point per level and runtime joined through the levels; the dense network
    (level 0) a star; the labels beside dense PyTorch's points: % of the weights remaining."""
    title = title or f"Latency on one CPU thread (batch {batch}) against test accuracy"
    p50, p95 = f"latency_b{batch}_p50_ms", f"latency_b{batch}_p95_ms"
    sub = forms[forms["form"].isin(TIMED_FORMS)].dropna(subset=[p50]) if not forms.empty else forms
    pairs = _pairs(sub)
    if not pairs:
        return _empty_figure(title, "no latencies measured yet")
    names = _labels(sub, protocols)
    fig, axes = _panels(pairs, title, width=5.8)
    for ax, (dataset, model) in zip(axes, pairs):
        panel = _of_pair(sub, dataset, model)
        for form in TIMED_FORMS:
            rows = panel[panel["form"] == form].sort_values("level")
            if rows.empty:
                continue
            color = FORM_COLORS.get(form)
            ax.hlines(100 * rows["test_acc"], rows[p50], rows[p95], color=color, alpha=0.35, lw=2, zorder=1)
            _through_levels(ax, rows, rows[p50], color, runtime_label(form))
            if form == TIMED_FORMS[0]:
                for x, y, left in zip(rows[p50], 100 * rows["test_acc"], rows["remaining"]):
                    ax.annotate(f"{100 * left:.3g}%", (x, y), textcoords="offset points", xytext=(-4, 6),
                                fontsize=7, color=color, ha="right")
        _style_keys(ax)
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel(f"latency per call at batch {batch} (ms, p50; bar to p95; log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    _shared_legend(fig, axes, max_columns=3)
    return fig
