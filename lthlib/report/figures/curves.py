"""Training over epochs: the dense network's accuracy per epoch, and the early-stopping epoch
at every level.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from ...experiment.arms import TICKET
from ..labels import Protocols, arm_color, pair_label
from ..stats import PAIR, summarise
from .panels import (
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
