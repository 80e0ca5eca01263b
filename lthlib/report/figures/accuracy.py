"""What accuracy a ticket keeps: against the weights remaining, paired against dense and the
other arms, per class (confusion matrices), and against the epochs its mask cost.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from ...experiment.arms import TICKET
from ..labels import Protocols, arm_color, arm_label, pair_label
from ..paired import MARGIN, VS_DENSE
from ..stats import PAIR, summarise
from .panels import (
    arm_seed_labels,
    arms_of,
    dodged,
    empty_figure,
    interval_band,
    of_pair,
    one_seed,
    pairs_of,
    panel_grid,
    plain_log_ticks,
    protocol_labels,
    remaining_axis,
    seeds_text,
    shared_legend,
    styled_pyplot,
)


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
                ls="--" if one_seed(rows) else "-")
        interval_band(ax, rows, color)
    remaining_axis(ax, table["remaining"])
    ax.set_ylabel("test accuracy (%)")


def plot_accuracy_vs_remaining(runs: pd.DataFrame, arms: Sequence[str] | None = None,
                               title: str = "Test accuracy vs weights remaining", value: str = "test_acc",
                               level: float = 0.95, protocols: Protocols | None = None,
                               arm_names: Mapping[str, str] | None = None):
    """Mean test accuracy (%) over seeds against the fraction of weights remaining, one line per
    arm (its seed count in the legend; dashed from one seed) with a t-interval band where at
    least MIN_BAND_SEEDS seeds give one (clipped to [0, 100] for display), one panel per
    dataset × model; dotted: the dense mean over the seeds shown.  ``arm_names``: legend labels
    in place of the registry's, for some arms."""
    sub, arms = arms_of(runs, arms)
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no results for these arms yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], value, level)
    legend = arm_seed_labels(table, arms, arm_names)
    dense = _dense(sub, value)
    for ax, (dataset, model) in zip(axes, pairs):
        _accuracy_panel(ax, of_pair(table, dataset, model), arms, legend)
        if (dataset, model) in dense.index:
            ax.axhline(100 * dense.loc[(dataset, model), "mean"], color="grey", ls=":", lw=1,
                       label=_dense_label(dense))
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes)
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
        x = dodged(g["total_epochs"], *places[arm][:2], step=step) if arm in places else g["total_epochs"]
        ax.plot(x, g["test_acc"], marker="o", ms=5, color=arm_color(arm), label=legend[arm],
                ls="--" if one_seed(g) else "-")
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
    pairs = pairs_of(price)
    if not pairs:
        return empty_figure(title, "no pruned results yet")
    names = protocol_labels(price, protocols)
    fig, axes = panel_grid(pairs, title)
    legend = arm_seed_labels(price, price["arm"].unique())
    for ax, (dataset, model) in zip(axes, pairs):
        _price_panel(ax, of_pair(price, dataset, model), legend)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes)
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
    intervals (t over seeds with the shared test set's variance added, or seeds only where it
    says so: :mod:`lthlib.report.inference`).  Solid grey: zero; dashed red: −``margin``, the
    non-inferiority margin of "matches dense"."""
    pairs = pairs_of(table)
    if not pairs:
        return empty_figure(title, "no pruned levels to compare yet")
    names = protocol_labels(table, protocols)
    fig, axes = panel_grid(pairs, title, width=6.4)
    for ax, (dataset, model) in zip(axes, pairs):
        sub = of_pair(table, dataset, model)
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
        remaining_axis(ax, sub["remaining"])
        ax.set_ylabel("difference (points)")
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes, max_columns=2)
    return fig


def plot_confusion(confusions: pd.DataFrame, title: str = "Confusion matrices (% of each true class)",
                   protocols: Protocols | None = None):
    """One heatmap per dataset × model × network (dense, and the ticket at its level chosen on
    validation) of :func:`lthlib.report.per_class.per_class`'s confusion table, normalised by
    row (true class)."""
    plt, sns = styled_pyplot()
    if confusions.empty:
        return empty_figure(title, "no stored test predictions yet")
    names = protocol_labels(confusions, protocols)
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
