"""Learning speed and stopping rules (lthlib.report.learning) on runs and epochs made in code,
where every answer is known: the two stopping rules' epochs and the ticket − control differences
under each, when the epoch cap bound, the accuracy at fixed epochs, the learning-curve figure;
and the committed quick tables, whose runs.csv test accuracy is the study's rule's epoch's."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lthlib.experiment.arms import TICKET  # noqa: E402
from lthlib.experiment.profiles import experiment  # noqa: E402
from lthlib.report import figures, learning  # noqa: E402
from lthlib.report.paired import DENSE, VS_DENSE, VS_REINIT  # noqa: E402
from lthlib.report.stats import confidence_interval  # noqa: E402

from report_runs import RANDOM_PRUNING, RANDOM_REINIT  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "results" / "quick"


def network(arm, seed, level, val_loss, val_acc, test_acc, dataset="imdb", model="cnn"):
    """One trained network: its runs.csv row (the study's rule: the epoch of the lowest
    validation loss, ties to the earliest) and its epochs.csv rows."""
    config_hash = f"{arm}-{dataset}-{model}-{seed}"
    best = min(range(len(val_loss)), key=lambda i: (val_loss[i], i))
    row = dict(dataset=dataset, model=model, arm=arm, seed=seed, level=level, config_hash=config_hash,
               remaining=0.5 ** level, epochs_run=len(val_loss), best_epoch=best + 1, test_acc=test_acc[best],
               best_val_acc=val_acc[best], shared_from="dense" if level == 0 else "")
    epochs = [dict(config_hash=config_hash, dataset=dataset, model=model, arm=arm, seed=seed, level=level,
                   epoch=e + 1, val_loss=val_loss[e], val_acc=val_acc[e], test_acc=test_acc[e])
              for e in range(len(val_loss))]
    return row, epochs


def tables(*networks):
    runs = pd.DataFrame([row for row, _ in networks])
    epochs = pd.DataFrame([e for _, rows in networks for e in rows])
    return runs, epochs


def falling(n, start=1.0):
    """A validation loss that falls every epoch (the best epoch is the last)."""
    return [start - 0.1 * e for e in range(n)]


# --------------------------------------------------------------------------------------------
# Stopping rules
# --------------------------------------------------------------------------------------------

def test_the_two_rules_pick_their_own_epochs_ties_to_the_earliest():
    # lowest loss at epoch 2 (test 0.65); best accuracy at epoch 3 (test 0.70)
    diverging = network(TICKET, 0, 1, [0.5, 0.4, 0.45], [0.70, 0.72, 0.75], [0.60, 0.65, 0.70])
    # accuracy tied at epochs 1 and 3: the earliest; loss tied at 2 and 3: the earliest
    tied = network(TICKET, 1, 1, [0.5, 0.3, 0.3], [0.80, 0.70, 0.80], [0.61, 0.62, 0.63])
    runs, epochs = tables(diverging, tied)
    per = learning.per_run(runs, epochs).set_index("seed")
    assert (per.loc[0, "loss_epoch"], per.loc[0, "loss_test_acc"]) == (2, 0.65)
    assert (per.loc[0, "acc_epoch"], per.loc[0, "acc_test_acc"]) == (3, 0.70)
    assert (per.loc[1, "loss_epoch"], per.loc[1, "acc_epoch"], per.loc[1, "acc_test_acc"]) == (2, 1, 0.61)
    assert learning.study_rule_mismatches(runs, epochs).empty
    table = learning.stopping_rules(runs, epochs).iloc[0]
    assert table["n"] == 2 and table["n_differ"] == 2
    assert table["loss_test_acc"] == pytest.approx(100 * (0.65 + 0.62) / 2)
    assert table["acc_test_acc"] == pytest.approx(100 * (0.70 + 0.61) / 2)
    assert table["acc_minus_loss"] == pytest.approx(table["acc_test_acc"] - table["loss_test_acc"])


def test_a_mismatch_with_runs_csv_is_reported():
    runs, epochs = tables(network(TICKET, 0, 1, [0.5, 0.4], [0.7, 0.7], [0.6, 0.65]))
    assert learning.study_rule_mismatches(runs, epochs).empty
    wrong = runs.assign(test_acc=0.6)
    assert len(learning.study_rule_mismatches(wrong, epochs)) == 1
    assert len(learning.study_rule_mismatches(runs, epochs.iloc[:1])) == 1  # an epoch missing


def test_level_zero_is_dense_once_per_seed_and_two_studies_are_refused():
    dense = [0.5, 0.4], [0.7, 0.8], [0.7, 0.8]
    runs, epochs = tables(network(TICKET, 0, 0, *dense), network(RANDOM_REINIT, 0, 0, *dense),
                          network(TICKET, 0, 1, *dense))
    view = learning.runs_view(runs)
    assert sorted(view["arm"]) == sorted([DENSE, TICKET]) and len(view) == 2
    assert view.loc[view["arm"] == DENSE, "trained_as"].iloc[0] == TICKET
    twice = pd.concat([runs, runs.assign(config_hash="other study")])
    with pytest.raises(ValueError, match="mixes studies"):
        learning.runs_view(twice)


def test_stopping_rule_differences_side_by_side_and_a_flipped_sign():
    nets = []
    for seed in range(3):
        nets.append(network(TICKET, seed, 0, [0.5, 0.4], [0.7, 0.8], [0.70, 0.70]))
        # ticket: loss rule at epoch 2 (0.80), accuracy rule at epoch 1 (0.74)
        nets.append(network(TICKET, seed, 1, [0.5, 0.4], [0.9, 0.8], [0.74, 0.80 + 0.01 * seed]))
        # re-init: the two rules agree (epoch 2): 0.77
        nets.append(network(RANDOM_REINIT, seed, 1, [0.5, 0.4], [0.7, 0.8], [0.60, 0.77]))
    runs, epochs = tables(*nets)
    diffs = learning.stopping_rule_differences(runs, epochs).set_index("comparison")
    assert set(diffs.index) == {VS_DENSE, VS_REINIT}
    reinit = diffs.loc[VS_REINIT]
    mean, half = confidence_interval([100 * (0.80 + 0.01 * s - 0.77) for s in range(3)])
    assert reinit["loss_rule"] == pytest.approx(mean) and reinit["loss_rule_low"] == pytest.approx(mean - half)
    assert reinit["acc_rule"] == pytest.approx(-3.0) and reinit["n"] == 3 and reinit["level"] == 1
    assert reinit["sign_flip"] and reinit["interval_flip"]  # loss: > 0 excluded from 0; acc: -3 exactly
    dense = diffs.loc[VS_DENSE]  # against the same seed's level 0 (0.70 under both rules)
    assert dense["reference"] == DENSE and dense["acc_rule"] == pytest.approx(4.0)
    assert not dense["sign_flip"]
    said = learning.describe_stopping_rules(diffs.reset_index())
    assert "flips 1 mean's sign" in said and "IMDb CNN vs own re-init level 1: +4.00 → -3.00" in said
    assert "changes no mean's sign" in learning.describe_stopping_rules(diffs.reset_index().iloc[:1])


# --------------------------------------------------------------------------------------------
# The epoch cap
# --------------------------------------------------------------------------------------------

def cap_runs():
    """Cap 5, patience 2, one arm: bound with the best at the cap; stopped by patience exactly at
    the cap; stopped by patience before it; bound one epoch after its best."""
    return tables(network(TICKET, 0, 1, falling(5), [0.5] * 5, [0.5] * 5),
                  network(TICKET, 1, 1, [0.5, 0.4, 0.3, 0.35, 0.36], [0.5] * 5, [0.5] * 5),
                  network(TICKET, 2, 1, [0.5, 0.3, 0.4, 0.4], [0.5] * 4, [0.5] * 4),
                  network(TICKET, 3, 1, [0.5, 0.4, 0.35, 0.3, 0.31], [0.5] * 5, [0.5] * 5))[0]


@pytest.mark.parametrize("cap_of", [{("imdb", "cnn"): (5, 2)}, {TICKET: (5, 2)},
                                    lambda dataset, model, arm, seed: (5, 2)])
def test_cap_binding_counts_runs_that_ran_into_the_cap_with_patience_left(cap_of):
    table = learning.cap_binding(cap_runs(), cap_of).iloc[0]
    assert (table["arm"], table["n_runs"], table["n_cap_bound"], table["n_best_at_cap"]) == (TICKET, 4, 2, 1)
    assert table["share"] == 0.5 and not table["within_limit"]
    assert learning.cap_binding(cap_runs(), {TICKET: (5, None)}).iloc[0]["n_cap_bound"] == 3  # no patience
    assert learning.cap_binding(cap_runs(), {TICKET: (6, 2)}).iloc[0]["n_cap_bound"] == 0
    assert "winning ticket (θ0) 50% (2/4)" in learning.describe_cap_binding(learning.cap_binding(cap_runs(), cap_of))
    with pytest.raises(ValueError, match="past its cap"):
        learning.cap_binding(cap_runs(), {TICKET: (4, 2)})


def test_the_cap_of_a_config_is_the_arms_fine_tuning_reads_its_own():
    cfg = experiment("smoke", "synthetic", "cnn", "fine_tuning")
    assert cfg.finetune_epochs < cfg.train.epochs
    dense, pruned = cfg.train.epochs, cfg.finetune_epochs
    runs, _ = tables(network("fine_tuning", 0, 0, falling(dense), [0.5] * dense, [0.5] * dense),
                     network("fine_tuning", 0, 1, falling(pruned), [0.5] * pruned, [0.5] * pruned))
    capped = learning.with_caps(learning.runs_view(runs), lambda d, m, a, s: cfg).set_index("level")
    assert capped.loc[0, "cap"] == cfg.train.epochs and capped.loc[1, "cap"] == cfg.finetune_epochs
    assert capped["cap_bound"].all()
    by_profile = learning.profile_caps("smoke")("synthetic", "cnn", "fine_tuning", 0)
    assert by_profile.train.epochs == cfg.train.epochs


# --------------------------------------------------------------------------------------------
# Learning speed
# --------------------------------------------------------------------------------------------

def speed_runs():
    """A ticket at 0.80 validation accuracy after epoch 1, stopped after epoch 3 (best at 1);
    its re-init reaching 0.80 only at epoch 4, bound by the cap of 5."""
    nets = []
    for seed in range(3):
        nets.append(network(TICKET, seed, 0, falling(5), [0.5, 0.6, 0.7, 0.8, 0.8], [0.5] * 5))
        nets.append(network(TICKET, seed, 1, [0.3, 0.4, 0.5], [0.80 + 0.01 * seed, 0.8, 0.8], [0.78, 0.79, 0.8]))
        nets.append(network(RANDOM_REINIT, seed, 1, falling(5), [0.5, 0.6, 0.7, 0.8, 0.85],
                            [0.5, 0.6, 0.7, 0.8, 0.85]))
    return tables(*nets)


def test_learns_faster_reads_accuracy_only_from_runs_that_trained_the_epoch():
    runs, epochs = speed_runs()
    table = learning.learns_faster(runs, epochs, cap_of={("imdb", "cnn"): (5, 2)}).set_index("arm")
    ticket, reinit = table.loc[TICKET], table.loc[RANDOM_REINIT]
    assert ticket["best_epoch"] == 1 and reinit["best_epoch"] == 5 and ticket["n"] == 3
    assert ticket["val_acc_at_1"] == pytest.approx(81.0) and reinit["val_acc_at_4"] == pytest.approx(80.0)
    assert ticket["n_at_2"] == 3 and ticket["n_at_4"] == 0 and math.isnan(ticket["val_acc_at_4"])
    assert ticket["n_at_cap"] == 0 and reinit["n_at_cap"] == 3 and reinit["test_acc_at_cap"] == pytest.approx(85.0)
    assert table.loc[DENSE, "level"] == 0 and table.index[0] == DENSE
    # without cap_of, "cap" is the most epochs any run of the arm trained at its kind of level
    assert learning.learns_faster(runs, epochs).set_index("arm").loc[TICKET, "n_at_cap"] == 3


def test_learns_faster_differences_pair_seeds_that_both_trained_the_epoch():
    runs, epochs = speed_runs()
    diffs = learning.learns_faster_differences(runs, epochs).set_index("comparison")
    reinit = diffs.loc[VS_REINIT]
    assert reinit["best_epoch"] == -4 and reinit["n"] == 3
    mean, half = confidence_interval([100 * (0.80 + 0.01 * s - 0.5) for s in range(3)])
    assert reinit["val_acc_at_1"] == pytest.approx(mean) and reinit["val_acc_at_1_high"] == pytest.approx(mean + half)
    assert reinit["test_acc_at_2"] == pytest.approx(19.0) and reinit["n_at_2"] == 3
    assert reinit["n_at_4"] == 0 and math.isnan(reinit["val_acc_at_4"])
    assert diffs.loc[VS_DENSE, "best_epoch"] == -4  # dense was best at its last epoch, 5


def test_learning_tables_by_name_and_the_level_nearest_a_share():
    runs, epochs = speed_runs()
    named = learning.learning_tables(runs, epochs, {TICKET: (5, 2), RANDOM_REINIT: (5, 2)})
    assert set(named) == {"stopping_rules", "stopping_rule_differences", "learns_faster",
                          "learns_faster_differences", "cap_binding", "cap_binding_by_pair"}
    assert "n_at_cap" in named["learns_faster"]
    assert "cap_binding" not in learning.learning_tables(runs, epochs)
    assert learning.nearest_level(runs, 0.4) == {("imdb", "cnn"): 1}
    short = learning.at_level_nearest(named["learns_faster"], runs, 0.4, dense=False)
    assert set(short["level"]) == {1}


# --------------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------------

def test_learning_curves_draw_every_arm_and_mark_the_early_stopping_epoch():
    runs, epochs = speed_runs()
    runs = pd.concat([runs, runs[runs["arm"] == RANDOM_REINIT].assign(arm=RANDOM_PRUNING, level=2)])
    fig = figures.plot_learning_curves(epochs, runs, remaining=0.5)
    labels = fig.legends[0].texts
    assert any("winning ticket" in t.get_text() and "3 seeds" in t.get_text() for t in labels)
    assert any("early-stopping" in t.get_text() for t in labels)
    ax = fig.axes[0]
    assert "level 1" in ax.get_title() and ax.get_xlabel() == "epoch"
    diamonds = [line for line in ax.lines if line.get_marker() == "D" and len(line.get_xdata())]
    assert sorted(float(d.get_xdata()[0]) for d in diamonds) == [1.0, 5.0, 5.0]  # ticket, re-init, dense
    empty = figures.plot_learning_curves(epochs.iloc[:0], runs.iloc[:0])
    assert any("no pruned level" in t.get_text() for t in empty.axes[0].texts)


# --------------------------------------------------------------------------------------------
# The committed quick tables
# --------------------------------------------------------------------------------------------

def test_committed_quick_test_accuracy_is_the_lowest_validation_loss_epochs():
    """Every runs.csv row of the committed quick store (both studies): best_epoch is the epoch
    of the lowest validation loss in epochs.csv, test_acc that epoch's test accuracy, exactly,
    and epochs.csv holds every epoch run."""
    if not (QUICK / "runs.csv").exists():
        pytest.skip("no committed quick results")
    from lthlib.experiment.store import read_csv
    runs, epochs = read_csv(QUICK / "runs.csv"), read_csv(QUICK / "epochs.csv")
    assert len(runs) > 0
    mismatches = learning.study_rule_mismatches(runs, epochs, tolerance=0.0)
    assert mismatches.empty, mismatches[["config_hash", "level", "best_epoch", "loss_epoch", "test_acc"]]
    with pytest.raises(ValueError, match="mixes studies"):  # the IMP grid and the transfer study
        learning.per_run(runs, epochs)


def test_a_budget_no_longer_than_the_patience_is_fixed_not_a_binding_cap():
    """Quick's fine-tuning trains 2 epochs with patience 3: early stopping cannot act before its
    budget ends, so reaching it is the arm's definition, reported apart, not a cap that binds."""
    table = learning.cap_binding(cap_runs(), {TICKET: (5, 5)}).iloc[0]
    assert (table["n_cap_bound"], table["n_fixed_budget"], table["within_limit"]) == (0, 4, True)
    assert "fixed budget" in learning.describe_cap_binding(learning.cap_binding(cap_runs(), {TICKET: (5, 5)}))
