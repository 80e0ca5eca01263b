"""How many seeds: a power calculation on a finished run's seed-to-seed spread.

The seed is the unit of replication, so the number of seeds decides which differences a run can
resolve.  :func:`seed_spread` measures, per dataset × model, the standard deviation over seeds
of the primary paired differences (winning ticket − full re-init, − re-init keeping the
pretrained embedding, − random pruning, − dense; test accuracy, points) at every pruned level;
:func:`power_plan` turns the pooled spread into the seeds a paired t-test needs to resolve
``difference`` points one-sided at ``alpha`` with the given power (statsmodels' ``TTestPower``),
and the difference the seeds a profile actually runs resolve.  The quick profile's seeds
(:data:`lthlib.experiment.profiles.QUICK_SEEDS`) were chosen from this plan before the run it
governs; ``results/quick/tables/seed_power.csv`` keeps it, and the spread it read is kept beside
it (``seed_spread.csv``), since the run it came from is replaced by the new one.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.power import TTestPower

from ..experiment.arms import ARMS, TICKET
from .paired import DENSE, VS_RANDOM, comparisons
from .stats import PAIR

#: the difference the plan asks to resolve (points), its power and its one-sided level
DIFFERENCE, POWER, ALPHA = 2.0, 0.8, 0.025
#: the winning ticket's references (its re-inits, random pruning, and dense: level 0 of the same
#: seed), from the report's comparisons
CONTROLS = tuple(dict.fromkeys(ref for _, arm, ref in comparisons(ARMS.names()) if arm == TICKET and ref != TICKET))
#: the control whose runs mark a store's main grid (the transfer study has none)
GRID_MARKER = next(ref for comp, arm, ref in comparisons(ARMS.names()) if comp == VS_RANDOM and arm == TICKET)
SPREAD_COLUMNS = [*PAIR, "reference", "level", "remaining", "n_seeds", "sd"]
PLAN_COLUMNS = [*PAIR, "n_comparisons", "pooled_sd", "seeds_needed", "seeds_run", "resolvable_difference"]


def seed_spread(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset × model × control × pruned level: the standard deviation over seeds of the
    winning ticket's paired test-accuracy difference from the control (points)."""
    rows = []
    for (dataset, model), pair_runs in runs.groupby(PAIR, sort=True):
        ticket = pair_runs[(pair_runs["arm"] == TICKET) & (pair_runs["level"] >= 1)]
        dense = pair_runs[pair_runs["level"] == 0].drop_duplicates("seed").set_index("seed")["test_acc"]
        for reference in CONTROLS:
            for level, at in ticket.groupby("level", sort=True):
                a = at.set_index("seed")["test_acc"]
                b = dense if reference == DENSE else pair_runs[
                    (pair_runs["arm"] == reference) & (pair_runs["level"] == level)].set_index("seed")["test_acc"]
                diff = (100 * (a - b)).dropna()
                if len(diff) < 2:
                    continue
                rows.append({"dataset": dataset, "model": model, "reference": reference, "level": int(level),
                             "remaining": float(at["remaining"].mean()), "n_seeds": len(diff),
                             "sd": float(diff.std(ddof=1))})
    return pd.DataFrame(rows, columns=SPREAD_COLUMNS)


def seeds_needed(sd: float, difference: float = DIFFERENCE, power: float = POWER, alpha: float = ALPHA) -> int:
    """Seeds for a one-sided paired t-test to resolve ``difference`` with ``power`` (at least 2)."""
    if not sd > 0:
        return 2
    n = TTestPower().solve_power(effect_size=difference / sd, alpha=alpha, power=power, alternative="larger")
    return max(2, math.ceil(float(n)))


def resolvable_difference(sd: float, seeds: int, power: float = POWER, alpha: float = ALPHA) -> float:
    """The difference (points) ``seeds`` seeds resolve with ``power``, one-sided at ``alpha``."""
    if seeds < 2 or not sd > 0:
        return float("nan")
    effect = TTestPower().solve_power(nobs=seeds, alpha=alpha, power=power, alternative="larger")
    return float(effect) * sd


def power_plan(spread: pd.DataFrame, seeds_run: dict[str, int]) -> pd.DataFrame:
    """Per dataset × model: the pooled spread (root mean square of its comparisons' standard
    deviations), the seeds needed for :data:`DIFFERENCE` points at :data:`POWER`, the seeds the
    profile runs (``seeds_run``: dataset -> seeds) and the difference those resolve."""
    rows = []
    for (dataset, model), group in spread.groupby(PAIR, sort=True):
        pooled = float(np.sqrt(np.mean(group["sd"] ** 2)))
        run = int(seeds_run.get(dataset, 0))
        rows.append({"dataset": dataset, "model": model, "n_comparisons": len(group), "pooled_sd": pooled,
                     "seeds_needed": seeds_needed(pooled), "seeds_run": run,
                     "resolvable_difference": resolvable_difference(pooled, run)})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def primary_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of a store's runs.csv that belong to its main grid: per dataset, the data of its
    random-pruning runs (a store may also hold the transfer study's runs of the same dataset, on
    other data: a shared vocabulary, fewer examples)."""
    grid_data = runs.loc[runs["arm"] == GRID_MARKER, ["dataset", "data_hash"]].drop_duplicates()
    return runs.merge(grid_data, on=["dataset", "data_hash"])


def main(argv: list[str] | None = None) -> None:
    """``python -m lthlib.report.power RUNS_CSV OUT_DIR imdb=5 ag_news=8``: the seed plan
    (``seed_spread.csv``, ``seed_power.csv``) from a finished run's runs.csv, for the seeds given."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("runs_csv")
    parser.add_argument("out_dir")
    parser.add_argument("seeds", nargs="+", help="dataset=seeds the next run runs")
    args = parser.parse_args(argv)
    seeds = {name: int(n) for name, n in (pair.split("=") for pair in args.seeds)}
    spread = seed_spread(primary_runs(pd.read_csv(args.runs_csv)))
    out = Path(args.out_dir)
    spread.to_csv(out / "seed_spread.csv", index=False)
    power_plan(spread, seeds).to_csv(out / "seed_power.csv", index=False)
    print(power_plan(spread, seeds).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
