"""runs.csv rows made in code for the report tests (test_report_*.py): ``make_runs`` writes the
rows the store would, for arms, levels and seeds given as (test, validation) accuracies."""
from __future__ import annotations

import pandas as pd

from lthlib.data.datasets import DATASETS
from lthlib.experiment.arms import ARMS, TICKET

SEEDS = (0, 1, 2)
RANDOM_REINIT = next(a.name for a in ARMS
                     if a.mask_from == "trunk" and a.reset_to == "fresh_init" and a.trunk == "winning_ticket")
RANDOM_PRUNING = next(a.name for a in ARMS if a.mask_from == "random")
LATE_REWINDING = next(a.name for a in ARMS if a.reset_to == "theta_k")


def make_runs(spec: dict, dense: list, seeds=SEEDS, dataset="imdb", model="cnn",
              protocol=None) -> pd.DataFrame:
    """runs.csv rows: ``dense[seed] = (test, val)``; ``spec[arm][level] = [(test, val) per seed]``.
    Every arm gets the shared level-0 row, as the store writes it."""
    protocol = protocol or DATASETS.get(dataset).default_protocol
    rows = []
    for arm, levels in spec.items():
        for seed_i, seed in enumerate(seeds):
            h = f"{arm}-{dataset}-{model}-{seed}"
            test0, val0 = dense[seed_i]
            common = dict(dataset=dataset, protocol=protocol, model=model, arm=arm, seed=seed, config_hash=h,
                          epochs_run=3, train_seconds=1.0, n_params=1000)
            rows.append(dict(common, level=0, remaining=1.0, test_acc=test0, best_val_acc=val0, best_epoch=3,
                             n_nonzero=1000, final_test_acc=test0, shared_from="dense"))
            for level, per_seed in levels.items():
                test, val = per_seed[seed_i]
                rows.append(dict(common, level=level, remaining=0.8 ** level, test_acc=test, best_val_acc=val,
                                 best_epoch=1 + level % 3, n_nonzero=int(1000 * 0.8 ** level),
                                 final_test_acc=test, shared_from=""))
    return pd.DataFrame(rows)


DENSE = [(0.80, 0.80), (0.82, 0.82), (0.84, 0.84)]  # mean 0.82, std 0.02


def same(test, val=0.5):
    return [(test, val)] * 3


def diverging_runs():
    """Test accuracy peaks at level 3, validation accuracy at level 1: the criteria disagree."""
    return make_runs({
        TICKET: {1: same(0.81, 0.90), 2: same(0.82, 0.80), 3: same(0.86, 0.70)},
        RANDOM_REINIT: {1: same(0.70, 0.7), 2: same(0.65, 0.65), 3: same(0.60, 0.6)},
    }, DENSE)
