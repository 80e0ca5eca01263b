"""Training over epochs: the dense network's accuracy per epoch, the early-stopping epoch at
every level, and each arm's learning curve at one level (does a ticket learn faster?).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...experiment.arms import TICKET, comparison
from ..labels import Protocols, arm_color, pair_label
from ..learning import nearest_level
from ..paired import DENSE
from ..stats import PAIR, summarise
from ..stopping import epoch_curves
from .panels import (
    MIN_BAND_SEEDS,
    arm_seed_labels,
    arms_of,
    dodged,
    empty_figure,
    of_pair,
    one_seed,
    pairs_of,
    panel_grid,
    protocol_labels,
    remaining_axis,
    shared_legend,
    styled_pyplot,
)


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
    sub, arms = arms_of(runs, arms)
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no results for these arms yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title)
    table = summarise(sub, [*PAIR, "arm", "level"], "best_epoch")
    legend = arm_seed_labels(table, arms)
    for ax, (dataset, model) in zip(axes, pairs):
        t = of_pair(table, dataset, model)
        epochs = _epochs_trained(of_pair(sub, dataset, model))
        for i, arm in enumerate(arms):
            rows = t[t["arm"] == arm].sort_values("level")
            if len(rows):
                _epoch_bars(ax, rows, epochs, dodged(rows["remaining"], i, len(arms)), color=arm_color(arm),
                            label=legend[arm], ls="--" if one_seed(rows) else "-")
        remaining_axis(ax, t["remaining"])
        ax.set_ylim(0.5, epochs + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("best (early-stopping) epoch")
        ax.set_title(pair_label(dataset, model, names))
    shared_legend(fig, axes)
    return fig


def plot_training_curves(epochs: pd.DataFrame, level: int = 0, arm: str | None = None,
                         title: str = "Dense training: accuracy per epoch",
                         protocols: Protocols | None = None):
    """Train / validation / test accuracy (%) per epoch at one level (mean over seeds), one
    panel per dataset × model.  Level 0 is the dense network every arm shares."""
    _, sns = styled_pyplot()
    sub = epochs[epochs["level"] == level] if not epochs.empty else epochs
    if arm is not None and not sub.empty:
        sub = sub[sub["arm"] == arm]
    if not sub.empty:  # level 0 is recorded under every arm: keep one copy per seed
        sub = sub.drop_duplicates(["dataset", "model", "seed", "epoch"])
    pairs = pairs_of(sub)
    if not pairs:
        return empty_figure(title, "no epochs recorded at this level yet")
    names = protocol_labels(sub, protocols)
    fig, axes = panel_grid(pairs, title)
    for ax, (dataset, model) in zip(axes, pairs):
        long = of_pair(sub, dataset, model).melt(
            id_vars=["seed", "epoch"], value_vars=["train_acc", "val_acc", "test_acc"],
            var_name="split", value_name="accuracy")
        long["accuracy (%)"] = 100 * long["accuracy"]
        long["split"] = long["split"].str.replace("_acc", "", regex=False)
        sns.lineplot(data=long, x="epoch", y="accuracy (%)", hue="split", marker="o", errorbar=None, ax=ax)
        ax.set_title(pair_label(dataset, model, names))
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


#: the curves :func:`plot_learning_curves` draws by default: the ticket and its controls
LEARNING_ARMS = (DENSE, *comparison("control"))
_ACCURACY = {"val_acc": "validation accuracy (%)", "test_acc": "test accuracy (%)"}


def _learning_curve(ax, rows: pd.DataFrame, best: float, color, label: str, dashed: bool) -> None:
    """Mean accuracy (%) per epoch (dotted once some seeds have stopped: the mean of those
    still training), its t-interval band where at least MIN_BAND_SEEDS runs trained that
    epoch, and a diamond at the mean early-stopping epoch."""
    rows = rows.sort_values("epoch")
    every = rows["n"] == rows["n"].max()  # every seed still training: past it, the mean is of fewer
    last = int(every.to_numpy().nonzero()[0].max()) if every.any() else 0
    ax.plot(rows["epoch"].iloc[:last + 1], 100 * rows["mean"].iloc[:last + 1], color=color, label=label, lw=1.6,
            ls="--" if dashed else "-")
    if last + 1 < len(rows):
        ax.plot(rows["epoch"].iloc[last:], 100 * rows["mean"].iloc[last:], color=color, lw=1.0, ls=":", alpha=0.8)
    shown = (rows["n"] >= MIN_BAND_SEEDS) & rows["ci"].notna()
    if shown.any():
        ax.fill_between(rows["epoch"], 100 * rows["ci_low"].clip(0, 1).where(shown),
                        100 * rows["ci_high"].clip(0, 1).where(shown), color=color, alpha=0.15, linewidth=0)
    if not pd.isna(best):
        y = float(np.interp(best, rows["epoch"], 100 * rows["mean"]))
        ax.plot([best], [y], marker="D", ms=7, color=color, markeredgecolor="white", markeredgewidth=1, zorder=5)


def plot_learning_curves(epochs: pd.DataFrame, runs: pd.DataFrame, remaining: float = 0.2,
                         arms: Sequence[str] | None = None, value: str = "val_acc", title: str | None = None,
                         protocols: Protocols | None = None):
    """Accuracy (``value``: val_acc or test_acc, %) per epoch, one curve per arm (``dense``:
    level 0) at each dataset × model's level nearest ``remaining`` weights
    (:func:`lthlib.report.learning.nearest_level`), mean over the seeds that trained that epoch
    with a t-interval band (at least MIN_BAND_SEEDS of them), dotted once some seeds have
    stopped; a diamond marks each arm's mean early-stopping epoch (best validation loss).
    ``arms`` None: dense, the ticket and its controls, those present."""
    from matplotlib.ticker import MaxNLocator
    title = title or f"Learning curves near {100 * remaining:.3g}% of the weights remaining"
    curves = epoch_curves(runs, epochs)
    wanted = list(arms) if arms is not None else list(LEARNING_ARMS)
    curves = curves[curves["arm"].isin(wanted)] if not curves.empty else curves
    levels = nearest_level(runs, remaining)
    if not curves.empty:
        at = [levels.get((d, m)) for d, m in zip(curves["dataset"], curves["model"])]
        curves = curves[(curves["level"] == 0) | (curves["level"] == pd.Series(at, index=curves.index))]
    pairs = pairs_of(curves)
    if not pairs or not levels:
        return empty_figure(title, "no pruned level with recorded epochs yet")
    names = protocol_labels(runs, protocols)
    fig, axes = panel_grid(pairs, title, width=5.2)
    table = summarise(curves, [*PAIR, "arm", "level", "epoch"], value)
    best = curves.drop_duplicates([*PAIR, "arm", "seed"]).groupby([*PAIR, "arm"])["best_epoch"].mean()
    seeds = curves.groupby([*PAIR, "arm"])["seed"].nunique().rename("n").reset_index()
    present = [a for a in wanted if a in set(table["arm"])]
    legend = arm_seed_labels(seeds, present, {DENSE: "dense (level 0)"})
    for ax, (dataset, model) in zip(axes, pairs):
        t = of_pair(table, dataset, model)
        for arm in present:
            rows = t[t["arm"] == arm]
            if len(rows):
                color = "#333333" if arm == DENSE else arm_color(arm)
                _learning_curve(ax, rows, best.get((dataset, model, arm), np.nan), color, legend[arm],
                                dashed=bool(rows["n"].max() <= 1))
        level = levels[(dataset, model)]
        shown = of_pair(curves, dataset, model)
        share = shown.loc[shown["level"] == level, "remaining"].mean()
        ax.set_title(f"{pair_label(dataset, model, names)}\n{100 * share:.3g}% remaining (level {level})",
                     fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_ACCURACY.get(value, value))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].plot([], [], marker="D", ls="none", color="grey", markeredgecolor="white",
                  label="mean early-stopping epoch (dotted: some seeds had stopped)")
    shared_legend(fig, axes, max_columns=3)
    return fig
