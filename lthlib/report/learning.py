"""Does a ticket learn faster, and does a verdict depend on the stopping rule (issue #28)?

The tables read each run's stopping (:mod:`lthlib.report.stopping`: one study's ``runs`` and
``epochs``, level 0 once per seed as ``dense``; the study's rule, the epoch of the lowest
validation loss, beside the epoch of the highest validation accuracy; the epoch cap).

Accuracy "at epoch e" is read only from runs that trained epoch e (nothing is carried forward
past a run's last epoch), and every such column has its ``n``.  Paired differences are the
ticket minus a control on the same seed (the controls of
:func:`lthlib.report.paired.comparisons`: dense at level 0, the re-inits of its mask, random
pruning), mean and t-interval over seeds; accuracies in % and differences in points.

- :func:`stopping_rules`             both rules per dataset × model × arm × level
- :func:`stopping_rule_differences`  ticket − control under each rule, side by side
- :func:`learns_faster`, :func:`learns_faster_differences`   early-stopping epoch and accuracy
  at fixed epochs, per arm and paired
- :func:`nearest_level`, :func:`at_level_nearest`   one level per dataset × model, for reading
- :func:`learning_tables`            all of them (and :func:`~lthlib.report.stopping.cap_binding`'s)
  by the names they are saved under
- :func:`describe_stopping_rules`    what the rules' differences say, in a sentence

:mod:`lthlib.report.stopping`'s functions are importable from here too (``learning.cap_binding``).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..experiment.arms import TICKET
from .labels import Protocols, pair_label
from .paired import DENSE, comparisons
from .stats import PAIR, confidence_interval
from .stopping import (
    CAP_LIMIT,
    GROUP,
    RUN,
    CapOf,
    cap_binding,
    describe_cap_binding,
    epoch_curves,
    per_run,
    profile_caps,
    runs_view,
    sorted_rows,
    study_rule_mismatches,
    with_caps,
)

__all__ = ["AT", "CAP_LIMIT", "at_epochs", "at_level_nearest", "cap_binding", "describe_cap_binding",
           "describe_stopping_rules", "epoch_curves", "learning_tables", "learns_faster", "learns_faster_differences",
           "nearest_level", "per_run", "profile_caps", "runs_view", "stopping_rule_differences", "stopping_rules",
           "study_rule_mismatches", "with_caps"]

#: the epochs :func:`learns_faster` reads accuracy at ("cap": each run's epoch cap)
AT = (1, 2, 4, "cap")
RULES_COLUMNS = [*GROUP, "remaining", "n", "loss_epoch", "acc_epoch", "n_differ", "loss_test_acc",
                 "acc_test_acc", "acc_minus_loss"]


# ---------------------------------------------------------------------------------------------
# Stopping rules
# ---------------------------------------------------------------------------------------------

def stopping_rules(runs: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × arm × level (level 0: ``dense``), means over seeds: the epoch each
    rule picks (``loss_epoch``: the study's, ``acc_epoch``: best validation accuracy), how many
    seeds' two epochs differ, the test accuracy (%) under each, and acc − loss (points)."""
    frame = per_run(runs, epochs)
    rows = []
    for key, g in frame.groupby(GROUP, sort=False):
        rows.append({**dict(zip(GROUP, key)), "remaining": float(g["remaining"].mean()), "n": len(g),
                     "loss_epoch": float(g["loss_epoch"].mean()), "acc_epoch": float(g["acc_epoch"].mean()),
                     "n_differ": int((g["loss_epoch"] != g["acc_epoch"]).sum()),
                     "loss_test_acc": 100 * float(g["loss_test_acc"].mean()),
                     "acc_test_acc": 100 * float(g["acc_test_acc"].mean()),
                     "acc_minus_loss": 100 * float((g["acc_test_acc"] - g["loss_test_acc"]).mean())})
    return sorted_rows(pd.DataFrame(rows, columns=RULES_COLUMNS))


def _pairs(frame: pd.DataFrame, arms: Sequence[str]):
    """(comparison, arm, reference, rows): per seed and pruned level of ``arm``, its row and the
    reference's (same seed; dense: level 0), columns suffixed ``_a`` and ``_b``."""
    present = set(frame["arm"]) if not frame.empty else set()
    for comparison, arm, reference in comparisons(present):
        if arm not in arms or reference not in present:
            continue
        a = frame[(frame["arm"] == arm) & (frame["level"] >= 1)]
        b = frame[frame["arm"] == reference]
        on = [*PAIR, "seed"] + ([] if reference == DENSE else ["level"])
        b = b.drop(columns=["level"]) if reference == DENSE else b
        rows = a.merge(b, on=on, suffixes=("_a", "_b"))
        if len(rows):
            yield comparison, arm, reference, rows


def _interval(name: str, values: pd.Series, level: float) -> dict:
    mean, half = confidence_interval(values, level)
    return {name: mean, f"{name}_low": mean - half, f"{name}_high": mean + half}


def _sign(mean: float, low: float, high: float) -> int:
    """+1 / −1 where the interval excludes 0 on that side, 0 where it does not (or is NaN)."""
    return 1 if low > 0 else -1 if high < 0 else 0


def _paired_rows(frame: pd.DataFrame, arms: Sequence[str], measure: Callable[[pd.DataFrame], dict]) -> list[dict]:
    rows = []
    for comparison, arm, reference, both in _pairs(frame, arms):
        for lvl, g in both.groupby(["dataset", "model", "level"], sort=True):
            rows.append({"dataset": lvl[0], "model": lvl[1], "comparison": comparison, "arm": arm,
                         "reference": reference, "level": int(lvl[2]),
                         "remaining": float(g["remaining_a"].mean()), "n": len(g), **measure(g)})
    return rows


def stopping_rule_differences(runs: pd.DataFrame, epochs: pd.DataFrame, arms: Sequence[str] = (TICKET,),
                              level: float = 0.95) -> pd.DataFrame:
    """Per dataset × model × comparison × pruned level: ``arm`` − control (points), mean and
    t-interval over seeds, under the study's rule (``loss_rule``) and best validation accuracy
    (``acc_rule``) side by side; ``sign_flip``: the two means differ in sign (0 is a sign);
    ``interval_flip``: the intervals disagree on whether, and on which side, they exclude 0."""
    frame = per_run(runs, epochs)

    def measure(g: pd.DataFrame) -> dict:
        loss = _interval("loss_rule", 100 * (g["loss_test_acc_a"] - g["loss_test_acc_b"]), level)
        acc = _interval("acc_rule", 100 * (g["acc_test_acc_a"] - g["acc_test_acc_b"]), level)
        return {**loss, **acc, "sign_flip": bool(np.sign(loss["loss_rule"]) != np.sign(acc["acc_rule"])),
                "interval_flip": _sign(*loss.values()) != _sign(*acc.values())}
    columns = [*PAIR, "comparison", "arm", "reference", "level", "remaining", "n", "loss_rule", "loss_rule_low",
               "loss_rule_high", "acc_rule", "acc_rule_low", "acc_rule_high", "sign_flip", "interval_flip"]
    return pd.DataFrame(_paired_rows(frame, arms, measure), columns=columns)


# ---------------------------------------------------------------------------------------------
# Learning speed
# ---------------------------------------------------------------------------------------------

def _label(at: Any) -> str:
    return str(at)


def at_epochs(runs: pd.DataFrame, epochs: pd.DataFrame, at: Sequence[Any] = AT,
              cap_of: CapOf | str | None = None) -> pd.DataFrame:
    """:func:`per_run` with ``val_acc_at_<e>`` and ``test_acc_at_<e>`` (fractions) for each
    ``e`` of ``at``: the run's accuracies after epoch e, NaN where it stopped before.  "cap" is
    the run's epoch cap (``cap_of``; without it, the most epochs any run of its dataset × model ×
    arm trained at its kind of level, dense or pruned: a lower bound of the cap)."""
    frame = per_run(runs, epochs)
    if frame.empty:
        return frame
    if "cap" in at:
        if cap_of is not None:
            frame = with_caps(frame, cap_of)
        else:
            kind = [*PAIR, "arm", frame["level"] > 0]
            frame = frame.assign(cap=frame.groupby(kind)["epochs_run"].transform("max"))
    curve = epochs[[*RUN, "epoch", "val_acc", "test_acc"]]
    for e in at:
        wanted = frame[[*RUN]].assign(epoch=frame["cap"] if e == "cap" else int(e))
        got = wanted.merge(curve, on=[*RUN, "epoch"], how="left")
        frame[f"val_acc_at_{_label(e)}"] = got["val_acc"].to_numpy()
        frame[f"test_acc_at_{_label(e)}"] = got["test_acc"].to_numpy()
    return frame


def learns_faster(runs: pd.DataFrame, epochs: pd.DataFrame, at: Sequence[Any] = AT,
                  cap_of: CapOf | str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Per dataset × model × arm × level (level 0: ``dense``): the early-stopping epoch
    (``best_epoch``, mean ± t half-width over seeds) and the validation and test accuracy (%)
    after each epoch of ``at`` (mean over the ``n_at_<e>`` runs that trained that epoch;
    "cap": see :func:`at_epochs`)."""
    frame = at_epochs(runs, epochs, at, cap_of)
    rows = []
    for key, g in frame.groupby(GROUP, sort=False):
        mean, half = confidence_interval(g["best_epoch"], level)
        row = {**dict(zip(GROUP, key)), "remaining": float(g["remaining"].mean()), "n": len(g),
               "best_epoch": mean, "best_epoch_ci": half, "epochs_run": float(g["epochs_run"].mean())}
        for e in map(_label, at):
            reached = g[f"val_acc_at_{e}"].notna()
            row.update({f"val_acc_at_{e}": 100 * g.loc[reached, f"val_acc_at_{e}"].mean(),
                        f"test_acc_at_{e}": 100 * g.loc[reached, f"test_acc_at_{e}"].mean(),
                        f"n_at_{e}": int(reached.sum())})
        rows.append(row)
    columns = [*GROUP, "remaining", "n", "best_epoch", "best_epoch_ci", "epochs_run"] + [
        f"{what}_at_{e}" for e in map(_label, at) for what in ("val_acc", "test_acc", "n")]
    return sorted_rows(pd.DataFrame(rows, columns=columns))


def learns_faster_differences(runs: pd.DataFrame, epochs: pd.DataFrame, at: Sequence[int] = (1, 2, 4),
                              arms: Sequence[str] = (TICKET,), level: float = 0.95) -> pd.DataFrame:
    """Per dataset × model × comparison × pruned level, ``arm`` − control on the same seed,
    mean and t-interval over seeds: the early-stopping epoch (``best_epoch``, epochs; negative:
    the ticket stops earlier) and the validation and test accuracy after each epoch of ``at``
    (points; ``n_at_<e>``: the seeds where both runs trained epoch e)."""
    frame = at_epochs(runs, epochs, at)

    def measure(g: pd.DataFrame) -> dict:
        out = _interval("best_epoch", g["best_epoch_a"] - g["best_epoch_b"], level)
        for e in map(_label, at):
            for what in ("val_acc", "test_acc"):
                diff = 100 * (g[f"{what}_at_{e}_a"] - g[f"{what}_at_{e}_b"])
                out.update(_interval(f"{what}_at_{e}", diff, level))
            out[f"n_at_{e}"] = int((g[f"val_acc_at_{e}_a"].notna() & g[f"val_acc_at_{e}_b"].notna()).sum())
        return out
    columns = [*PAIR, "comparison", "arm", "reference", "level", "remaining", "n", "best_epoch", "best_epoch_low",
               "best_epoch_high"] + [f"{what}_at_{e}{end}" for e in map(_label, at)
                                     for what in ("val_acc", "test_acc") for end in ("", "_low", "_high")] + [
        f"n_at_{e}" for e in map(_label, at)]
    return pd.DataFrame(_paired_rows(frame, arms, measure), columns=columns)


# ---------------------------------------------------------------------------------------------
# For a notebook
# ---------------------------------------------------------------------------------------------

def nearest_level(runs: pd.DataFrame, remaining: float, arm: str = TICKET) -> dict[tuple[str, str], int]:
    """(dataset, model) -> the pruned level of ``arm`` (any arm where it did not run) whose mean
    weights remaining is nearest ``remaining`` (a fraction)."""
    pruned = runs[runs["level"] >= 1] if not runs.empty else runs
    out = {}
    for (dataset, model), g in pruned.groupby(PAIR, sort=True):
        own = g[g["arm"] == arm]
        means = (own if len(own) else g).groupby("level")["remaining"].mean()
        out[(dataset, model)] = int((means - remaining).abs().idxmin())
    return out


def at_level_nearest(table: pd.DataFrame, runs: pd.DataFrame, remaining: float, dense: bool = True) -> pd.DataFrame:
    """The rows of ``table`` at each dataset × model's :func:`nearest_level` (and level 0 when
    ``dense``): a table short enough to read beside its saved whole."""
    if table.empty:
        return table
    chosen = nearest_level(runs, remaining)
    keep = [chosen.get((d, m)) == lvl or (dense and lvl == 0)
            for d, m, lvl in zip(table["dataset"], table["model"], table["level"])]
    return table[keep].reset_index(drop=True)


def learning_tables(runs: pd.DataFrame, epochs: pd.DataFrame, cap_of: CapOf | str | None = None,
                    arms: Sequence[str] = (TICKET,)) -> dict[str, pd.DataFrame]:
    """Every table of this module by the name it is saved under (``report.show_table(table,
    profile, name)``); the cap tables and the accuracy at the cap need ``cap_of``."""
    tables = {"stopping_rules": stopping_rules(runs, epochs),
              "stopping_rule_differences": stopping_rule_differences(runs, epochs, arms),
              "learns_faster": learns_faster(runs, epochs, [e for e in AT if cap_of is not None or e != "cap"], cap_of),
              "learns_faster_differences": learns_faster_differences(runs, epochs, arms=arms)}
    if cap_of is not None:
        tables["cap_binding"] = cap_binding(runs, cap_of)
        tables["cap_binding_by_pair"] = cap_binding(runs, cap_of, by=[*PAIR, "arm"])
    return tables


def describe_stopping_rules(diffs: pd.DataFrame, protocols: Protocols | None = None) -> str:
    """Which ticket − control differences (:func:`stopping_rule_differences`) change sign, or
    whether their interval excludes 0, when the best validation accuracy picks the epoch."""
    if diffs.empty:
        return "No paired ticket − control differences to compare under the two stopping rules yet."
    flips = diffs[diffs["sign_flip"] | diffs["interval_flip"]]
    head = (f"Of {len(diffs)} paired differences (dataset × model × control × level), stopping at the best "
            f"validation accuracy instead of the lowest validation loss")
    if flips.empty:
        return f"{head} changes no mean's sign and no interval's side of 0."
    cases = "; ".join(f"{pair_label(r.dataset, r.model, protocols)} {r.comparison} level {r.level}: "
                      f"{r.loss_rule:+.2f} → {r.acc_rule:+.2f}"
                      f"{' (interval)' if r.interval_flip and not r.sign_flip else ''}" for r in flips.itertuples())
    return (f"{head} flips {int(flips['sign_flip'].sum())} mean's sign and {int(flips['interval_flip'].sum())} "
            f"interval's side of 0 (points, loss rule → accuracy rule): {cases}.")
