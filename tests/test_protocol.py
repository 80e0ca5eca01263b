"""The study's protocol on the CPU (issue #28): controls at chosen levels, decoupled weight decay,
the dense recipe chosen on validation, and the seeds from a power calculation."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from lthlib.core.config import ConfigError, TrainConfig, run_key
from lthlib.experiment.arms import run_hash
from lthlib.experiment.lineage import lineage
from lthlib.experiment.profiles import PROFILES, QUICK_CONTROL_LEVELS, QUICK_RECIPES, experiment
from lthlib.experiment.recipe import Sweep, choose, recipes, run_sweep
from lthlib.experiment.runner import run
from lthlib.experiment.store import Store
from lthlib.experiment.train import make_optimizer
from lthlib.report.power import power_plan, resolvable_difference, seed_spread, seeds_needed

TABLES = Path(__file__).resolve().parents[1] / "results" / "quick" / "tables"


# -- the schedule ---------------------------------------------------------------------------------

def test_quick_prunes_every_second_level_of_the_study_s_schedule_down_to_at_most_11_percent():
    cfg = experiment("quick", "imdb", "cnn")
    assert cfg.prune.fraction == pytest.approx(1 - 0.8 ** 2, abs=0.001)   # the study's 20%, twice
    assert cfg.prune.scope == "local" and cfg.prune.prunable == "all"
    assert (1 - cfg.prune.fraction) ** cfg.prune.levels <= 0.11
    remaining = [(1 - cfg.prune.fraction) ** level for level in QUICK_CONTROL_LEVELS]
    assert len(QUICK_CONTROL_LEVELS) >= 3 and QUICK_CONTROL_LEVELS[-1] == cfg.prune.levels
    assert remaining[0] == pytest.approx(0.41, abs=0.01) and remaining[1] == pytest.approx(0.168, abs=0.01)


def test_quick_s_epoch_cap_and_patience_leave_room_to_converge():
    for dataset in ("imdb", "ag_news"):
        train = experiment("quick", dataset, "cnn").train
        assert train.patience == 3 and train.epochs >= 40


def test_a_branch_trains_its_branch_levels_only_and_a_trunk_every_level(tmp_path):
    branch = experiment("quick", "imdb", "cnn", "random_reinit")
    trunk = experiment("quick", "imdb", "cnn", "winning_ticket")
    assert lineage(branch, tmp_path).own_levels() == list(QUICK_CONTROL_LEVELS)
    assert lineage(trunk, tmp_path).own_levels() == list(range(1, trunk.prune.levels + 1))
    assert lineage(branch, tmp_path).own_levels(max_level=3) == [QUICK_CONTROL_LEVELS[0]]
    # which levels a branch trains does not define any of them: the keys stay as they were
    assert run_key(branch) == run_key(experiment("quick", "imdb", "cnn", "random_reinit", branch_levels=()))


def test_branch_levels_are_pruned_levels():
    with pytest.raises(ConfigError, match="branch_levels"):
        experiment("smoke", "synthetic", "cnn", "random_reinit", branch_levels=[0, 2])


def test_a_smoke_branch_with_branch_levels_trains_those_levels_alone(tmp_path):
    store = Store(tmp_path)
    cfg = experiment("smoke", "synthetic", "cnn", "random_reinit", levels=3, branch_levels=[2], epochs=1)
    rows = run(cfg, store, progress=False)
    assert sorted(rows["level"]) == [0, 2]
    trunk_rows = store.runs().query("arm == 'winning_ticket'")
    assert sorted(trunk_rows["level"]) == [0, 1, 2]  # the trunk trained as far as the branch needs


# -- weight decay ---------------------------------------------------------------------------------

def test_weight_decay_is_decoupled_adamw_and_none_is_the_study_s_adam():
    params = [torch.nn.Parameter(torch.ones(3))]
    assert type(make_optimizer(params, 1e-3)) is torch.optim.Adam
    assert type(make_optimizer(params, 1e-3, 0.1)) is torch.optim.AdamW
    with pytest.raises(ConfigError, match="weight_decay"):
        TrainConfig(weight_decay=-1.0).validate()
    cfg = experiment("smoke", "synthetic", "cnn")
    assert "weight_decay" not in run_key(cfg)["train"]  # at its default: every old key stays
    assert run_hash(experiment("smoke", "synthetic", "cnn", weight_decay=0.1)) != run_hash(cfg)


def test_pruned_weights_stay_zero_under_weight_decay(tmp_path):
    cfg = experiment("smoke", "synthetic", "cnn", levels=1, epochs=1, weight_decay=0.5)
    run(cfg, Store(tmp_path), progress=False)
    folder = lineage(cfg, tmp_path).own
    masks, final = torch.load(folder.file(1, "mask.pt")), torch.load(folder.file(1, "final.pt"))
    for name, mask in masks.items():
        assert torch.count_nonzero(final[name][~mask.bool()]) == 0, name


# -- the dense recipe ------------------------------------------------------------------------------

def _sweep_row(dataset, lr, wd, val):
    return {"dataset": dataset, "model": "cnn", "lr": lr, "weight_decay": wd, "best_val_acc": val}


def test_the_recipe_rule_reads_validation_and_prefers_less_regularisation_within_a_tie():
    table = pd.DataFrame([_sweep_row("a", 1e-3, 0.0, 80.0), _sweep_row("a", 1e-3, 0.1, 80.2),
                          _sweep_row("a", 5e-3, 1.0, 81.0), _sweep_row("b", 1e-3, 0.0, 70.0),
                          _sweep_row("b", 5e-3, 0.1, 70.1), _sweep_row("b", 2e-3, 0.0, 69.9)])
    picked = choose(table).set_index("dataset")
    assert (picked.loc["a", "lr"], picked.loc["a", "weight_decay"]) == (5e-3, 1.0)   # 0.8 better: no tie
    assert (picked.loc["b", "lr"], picked.loc["b", "weight_decay"]) == (1e-3, 0.0)   # a tie: no decay, best val


def test_the_sweep_trains_dense_networks_the_grid_then_reuses(tmp_path):
    store = Store(tmp_path)
    table = run_sweep("smoke", ["synthetic"], ["cnn"], store, sweep=Sweep((1e-2,), (0.0, 0.1)), workers=1)
    assert len(table) == 2 and table["chosen"].sum() == 1 and set(table["weight_decay"]) == {0.0, 0.1}
    assert (table["epochs_run"] <= table["cap"]).all()
    pick = table[table["chosen"]].iloc[0]
    grid_cfg = experiment("smoke", "synthetic", "cnn", lr=pick["lr"], weight_decay=pick["weight_decay"])
    trunk = lineage(grid_cfg, tmp_path)
    assert trunk.dense.is_done(0)  # the chosen point's dense network is the grid's, trained once


def test_quick_trains_every_arm_with_the_recipe_its_committed_sweep_chose():
    sweep = pd.read_csv(TABLES / "dense_sweep.csv")
    assert recipes(sweep) == QUICK_RECIPES
    for (dataset, model), recipe in QUICK_RECIPES.items():
        for arm in ("winning_ticket", "random_reinit", "random_pruning"):
            train = experiment("quick", dataset, model, arm).train
            assert (train.lr, train.weight_decay) == (recipe["lr"], recipe["weight_decay"])


# -- seeds -----------------------------------------------------------------------------------------

def test_seeds_needed_resolve_the_difference_and_fewer_do_not():
    for sd in (1.0, 2.5, 5.0):
        n = seeds_needed(sd)
        assert resolvable_difference(sd, n) <= 2.0 < resolvable_difference(sd, n - 1)
    assert seeds_needed(5.0) > seeds_needed(1.0)


def test_seed_spread_is_the_standard_deviation_of_the_paired_differences():
    rows = []
    for seed, (ticket, reinit) in enumerate([(0.80, 0.78), (0.82, 0.78), (0.84, 0.78)]):
        rows += [{"dataset": "d", "model": "cnn", "arm": "winning_ticket", "seed": seed, "level": 0,
                  "test_acc": 0.85, "remaining": 1.0},
                 {"dataset": "d", "model": "cnn", "arm": "winning_ticket", "seed": seed, "level": 1,
                  "test_acc": ticket, "remaining": 0.5},
                 {"dataset": "d", "model": "cnn", "arm": "random_reinit", "seed": seed, "level": 1,
                  "test_acc": reinit, "remaining": 0.5}]
    spread = seed_spread(pd.DataFrame(rows)).set_index("reference")
    assert spread.loc["random_reinit", "sd"] == pytest.approx(2.0)
    assert spread.loc["dense", "sd"] == pytest.approx(2.0)


def test_quick_runs_the_seeds_its_committed_power_plan_chose():
    spread, plan = pd.read_csv(TABLES / "seed_spread.csv"), pd.read_csv(TABLES / "seed_power.csv")
    quick = PROFILES.get("quick")
    primary = ("winning_ticket", "random_reinit", "random_reinit_keep_glove", "random_pruning")
    runs = {d: len(quick.seeds_for("winning_ticket", d)) for d in quick.datasets}
    for dataset in quick.datasets:
        assert all(len(quick.seeds_for(arm, dataset)) == runs[dataset] >= 5 for arm in primary)
    again = power_plan(spread, runs)
    pd.testing.assert_frame_equal(again, plan, check_dtype=False)


# -- the level the primary family is read at ------------------------------------------------------

def test_the_ticket_s_level_is_chosen_where_its_controls_ran():
    from lthlib.report.paired import choose_level, control_levels
    rows = []
    for seed, noise in enumerate((0.000, 0.002, -0.002)):
        rows.append({"dataset": "d", "model": "cnn", "arm": "winning_ticket", "seed": seed, "level": 0,
                     "best_val_acc": 0.80 + noise, "test_acc": 0.8, "remaining": 1.0})
        for level, val in ((1, 0.80), (2, 0.80), (3, 0.80), (4, 0.70)):
            rows.append({"dataset": "d", "model": "cnn", "arm": "winning_ticket", "seed": seed, "level": level,
                         "best_val_acc": val + noise / 2, "test_acc": 0.8, "remaining": 0.8 ** level})
        for arm in ("random_reinit", "random_pruning"):
            rows += [{"dataset": "d", "model": "cnn", "arm": arm, "seed": seed, "level": level, "best_val_acc": 0.7,
                      "test_acc": 0.7, "remaining": 0.8 ** level} for level in (2, 4)]
    runs = pd.DataFrame(rows)
    assert control_levels(runs) == {2, 4}
    chosen = choose_level(runs, margins=(1.0,)).iloc[0]
    assert (chosen["level"], bool(chosen["matched"])) == (2, True)  # level 3 matches too, but has no controls
    ticket_only = runs[runs["arm"] == "winning_ticket"]
    assert choose_level(ticket_only, margins=(1.0,)).iloc[0]["level"] == 3


def test_a_sweep_that_chose_another_recipe_stops_before_the_grid_trains(monkeypatch):
    from lthlib.core.config import ConfigError
    from lthlib.experiment import profiles
    from lthlib.experiment.recipe import check_choice
    table = pd.read_csv(TABLES / "dense_sweep.csv")
    check_choice("quick", table)   # the committed sweep chose what the profile trains with
    monkeypatch.setitem(profiles.QUICK_RECIPES, ("imdb", "cnn"), {"lr": 1e-3, "weight_decay": 0.0})
    with pytest.raises(ConfigError, match="imdb cnn: the sweep chose"):
        check_choice("quick", table)
    check_choice("smoke", table)   # a profile without recipes takes the sweep as exploratory
