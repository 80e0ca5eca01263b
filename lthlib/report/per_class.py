"""Per-class results from the stored test predictions: recall per class and the confusion matrix
(``sklearn.metrics``), for dense and for the winning ticket at its level chosen on validation,
pooled over seeds (every seed's test predictions together; the seeds share one test set).
Classes differ in difficulty (AG News has four), and a ticket can keep its mean accuracy while
losing one class."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, recall_score

from ..experiment.arms import TICKET
from .labels import class_names
from .paired import DENSE, MARGIN, ExampleOutcomes
from .stats import PAIR, confidence_interval

PER_CLASS_COLUMNS = [*PAIR, "network", "arm", "level", "remaining_pct", "class", "class_name", "n_seeds",
                     "support", "recall", "recall_ci", "recall_vs_dense"]
CONFUSION_COLUMNS = [*PAIR, "network", "arm", "level", "true", "predicted", "share"]


def _networks(chosen: pd.DataFrame, dataset: str, model: str, arm: str) -> list[tuple[str, str, int]]:
    """(network, arm, level): dense, then ``arm`` at its level chosen with :data:`MARGIN`."""
    pick = chosen[(chosen["dataset"] == dataset) & (chosen["model"] == model) & (chosen["margin"] == MARGIN)]
    return [(DENSE, DENSE, 0)] + ([(arm, arm, int(pick["level"].iloc[0]))] if len(pick) else [])


def _pooled(outcomes: ExampleOutcomes, dataset: str, model: str, arm: str, level: int, seeds) -> list:
    found = [outcomes.classes(dataset, model, arm, s, level) for s in seeds]
    return [f for f in found if f is not None]


def per_class(runs: pd.DataFrame, predictions: pd.DataFrame, test_labels: pd.DataFrame,
              chosen: pd.DataFrame, arm: str = TICKET) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-class table, confusion table) per dataset × model for dense and ``arm`` at its level
    in ``chosen`` (:func:`lthlib.report.paired.choose_level`), over the seeds that have both.

    The per-class table: the pooled recall of each class in % (``recall_score(average=None)``),
    the t half-width of the per-seed recalls, and for the ticket its pooled recall minus dense's
    (points).  The confusion table: ``confusion_matrix(normalize='true')``, in % of each true
    class, one row per (true, predicted) cell."""
    outcomes = ExampleOutcomes(predictions, test_labels)
    rows, cells = [], []
    if runs.empty or not outcomes:
        return pd.DataFrame(columns=PER_CLASS_COLUMNS), pd.DataFrame(columns=CONFUSION_COLUMNS)
    for (dataset, model), pair_runs in runs.groupby(PAIR, sort=True):
        networks = _networks(chosen, dataset, model, arm)
        seeds = sorted(set(pair_runs.loc[pair_runs["level"] == 0, "seed"].astype(int)))
        seeds = [s for s in seeds if all(outcomes.classes(dataset, model, a, s, lvl) is not None
                                         for _, a, lvl in networks)]
        if not seeds:
            continue
        k = 1 + max(int(max(t.max(), p.max())) for _, a, lvl in networks
                    for t, p in _pooled(outcomes, dataset, model, a, lvl, seeds))
        names, labels = class_names(dataset, k), list(range(k))
        dense_recall = None
        for network, a, lvl in networks:
            found = _pooled(outcomes, dataset, model, a, lvl, seeds)
            true, pred = np.concatenate([t for t, _ in found]), np.concatenate([p for _, p in found])
            recall = 100 * recall_score(true, pred, labels=labels, average=None, zero_division=0)
            per_seed = np.array([100 * recall_score(t, p, labels=labels, average=None, zero_division=0)
                                 for t, p in found])
            support = np.bincount(found[0][0], minlength=k)
            at = pair_runs[(pair_runs["level"] == lvl) & ((pair_runs["arm"] == a) | (lvl == 0))]
            remaining = 100 * float(at["remaining"].mean()) if len(at) else np.nan
            for c in labels:
                rows.append({"dataset": dataset, "model": model, "network": network, "arm": a, "level": lvl,
                             "remaining_pct": remaining, "class": c, "class_name": names[c],
                             "n_seeds": len(found), "support": int(support[c]), "recall": float(recall[c]),
                             "recall_ci": confidence_interval(per_seed[:, c])[1],
                             "recall_vs_dense": np.nan if dense_recall is None else float(recall[c] - dense_recall[c])})
            dense_recall = recall if dense_recall is None else dense_recall
            matrix = 100 * confusion_matrix(true, pred, labels=labels, normalize="true")
            cells += [{"dataset": dataset, "model": model, "network": network, "arm": a, "level": lvl,
                       "true": names[i], "predicted": names[j], "share": float(matrix[i, j])}
                      for i in labels for j in labels]
    return pd.DataFrame(rows, columns=PER_CLASS_COLUMNS), pd.DataFrame(cells, columns=CONFUSION_COLUMNS)
