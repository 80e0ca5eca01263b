"""How long notebooks 00-05 of the quick profile take from an empty store, from a pilot's runs.

    python benchmarks/quick_budget.py STORE_ROOT [--sweep results/quick/tables/dense_sweep.csv]
        [--pilot-set prune_fraction=0.2 levels=10 "branch_levels=[3,7,10]" epochs=40]

A pilot trains a few cells of the quick grid (e.g. seed 0 of the primary arms) into a store;
this reads every finished level's ``metrics.json`` there and projects the whole grid as the
profile sets it now (``--pilot-set``: the parameters the pilot ran with where they differ, e.g.
another schedule; issue #28's pilot ran 10 levels of 20%, the profile now runs 5 of 36%):

- per (dataset, model): seconds per epoch (the pilot's ``train_seconds / epochs_run``, which
  includes the validation and test passes) and, per arm, the mean epochs a level ran; an arm
  the pilot did not run borrows a measured one of its kind (a trunk: the winning ticket's; a
  branch: the random re-init's);
- the networks the profile trains: every arm of notebooks 01-05 (``comparison("imp")``) on its
  seeds and datasets (:meth:`Profile.seeds_for`), each at the levels its lineage trains (a
  trunk every level, a branch its ``branch_levels``), the shared dense network once per seed;
- notebook 01's recipe sweep: each point's ``epochs_run`` from the sweep table, at the pilot's
  seconds per epoch (the chosen point is the seed-0 dense network, not counted twice).

Worker-seconds are divided by the workers (two on the 2-core CPU): an upper bound on packing,
so the printed wall time is a lower bound before the notebooks' own overhead (data preparation,
tables, figures, mask overlaps: a few minutes).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lthlib.core.parameters import parse_all  # noqa: E402
from lthlib.experiment.arms import TICKET, arm, comparison, run_hash  # noqa: E402
from lthlib.experiment.lineage import lineage  # noqa: E402
from lthlib.experiment.profiles import PROFILES, experiment  # noqa: E402


def grid_hashes(profile: str, **overrides) -> set[str]:
    """The run hashes of every cell of notebooks 01-05's grid under ``profile`` (and overrides)."""
    entry, hashes = PROFILES.get(profile), set()
    for dataset in entry.datasets:
        for model in entry.models:
            for name in comparison("imp"):
                for seed in entry.seeds_for(name, dataset):
                    try:
                        hashes.add(run_hash(experiment(profile, dataset, model, name, seed, **overrides)))
                    except Exception:  # an arm that does not apply to the model
                        continue
    return hashes


def pilot_levels(store: Path, profile: str, **overrides) -> pd.DataFrame:
    """The finished levels in ``store`` that belong to the profile's grid with the pilot's
    ``overrides`` (a sweep's other recipes and runs on other data are left out)."""
    rows = [json.loads(path.read_text())["row"] for path in store.glob("runs/*/level_*/metrics.json")]
    frame = pd.DataFrame(rows)
    return frame[frame["config_hash"].isin(grid_hashes(profile, **overrides)) & (frame["epochs_run"] > 0)]


def seconds_per_epoch(levels: pd.DataFrame) -> dict:
    """(dataset, model) -> seconds per epoch of its pruned levels (the pilot's conditions: two
    trainings at once), or of its dense ones where none is pruned yet."""
    out = {}
    for pair, group in levels.groupby(["dataset", "model"]):
        pruned = group[group["level"] >= 1]
        use = pruned if len(pruned) else group
        out[pair] = float(use["train_seconds"].sum() / use["epochs_run"].sum())
    return out


def epochs_of(levels: pd.DataFrame) -> dict:
    """(dataset, model, arm) -> mean epochs of its pruned levels; (dataset, model, 'dense') too."""
    out = levels[levels["level"] >= 1].groupby(["dataset", "model", "arm"])["epochs_run"].mean().to_dict()
    dense = levels[levels["level"] == 0].drop_duplicates("config_hash")
    out.update({(d, m, "dense"): e for (d, m), e in dense.groupby(["dataset", "model"])["epochs_run"].mean().items()})
    return out


def borrowed(epochs: dict, dataset: str, model: str, name: str) -> float:
    stand_in = TICKET if arm(name).is_trunk else "random_reinit"
    return epochs.get((dataset, model, name), epochs.get((dataset, model, stand_in), float("nan")))


def grid_epochs(profile: str, epochs: dict) -> dict:
    """(dataset, model) -> epochs the grid trains (dense once per seed, every arm's levels)."""
    entry, out = PROFILES.get(profile), defaultdict(float)
    for dataset in entry.datasets:
        for model in entry.models:
            dense_seeds = set()
            for name in comparison("imp"):
                for seed in entry.seeds_for(name, dataset):
                    try:
                        cfg = experiment(profile, dataset, model, name, seed)
                    except Exception:  # an arm that does not apply to the model
                        continue
                    dense_seeds.add(seed)
                    levels = len(lineage(cfg, ROOT).own_levels())
                    out[(dataset, model)] += levels * borrowed(epochs, dataset, model, name)
            out[(dataset, model)] += len(dense_seeds) * epochs.get((dataset, model, "dense"), float("nan"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--sweep", type=Path, default=ROOT / "results" / "quick" / "tables" / "dense_sweep.csv")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pilot-set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="the parameters the pilot ran with, where they differ from the profile's")
    args = parser.parse_args()
    pilot = parse_all(dict(pair.split("=", 1) for pair in args.pilot_set))
    levels = pilot_levels(args.store, args.profile, **pilot)
    per_epoch = seconds_per_epoch(levels)
    grid = grid_epochs(args.profile, epochs_of(levels))
    sweep = pd.read_csv(args.sweep) if args.sweep.exists() else pd.DataFrame(columns=["dataset", "model"])
    total = 0.0
    print(f"{'pair':<16}{'s/epoch':>9}{'grid epochs':>13}{'sweep epochs':>14}{'worker-min':>12}")
    for (dataset, model), n_epochs in sorted(grid.items()):
        rows = sweep[(sweep["dataset"] == dataset) & (sweep["model"] == model)]
        swept = float(rows.loc[~rows.get("chosen", False).astype(bool), "epochs_run"].sum()) if len(rows) else 0.0
        seconds = per_epoch.get((dataset, model), float("nan")) * (n_epochs + swept)
        total += seconds
        print(f"{dataset + ' ' + model:<16}{per_epoch.get((dataset, model), float('nan')):>9.2f}"
              f"{n_epochs:>13.0f}{swept:>14.0f}{seconds / 60:>12.1f}")
    print(f"training: {total / 60:.1f} worker-minutes, {total / 60 / args.workers:.1f} minutes on {args.workers} "
          "workers (before the notebooks' own overhead)")


if __name__ == "__main__":
    main()
