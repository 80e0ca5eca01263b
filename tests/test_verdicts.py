"""Verdicts: paired intervals over seeds that add the shared test set's variance, the level
chosen on validation, the primary family Holm-adjusted, per-class results from sklearn, and the
study's two tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import recall_score
from statsmodels.stats.multitest import multipletests

from lthlib.data.datasets import DATASETS
from lthlib.experiment.arms import ARMS, TICKET
from lthlib.experiment.store import encode_classes
from lthlib.report import figures, inference, paired, per_class, stats, tables, verdicts

from report_runs import DENSE, make_runs

REINIT = next(a.name for a in ARMS if a.mask_from == "trunk" and a.reset_to == "fresh_init" and a.trunk == TICKET)
KEPT = next(a.name for a in ARMS if a.reset_to == "fresh_init_keep_pretrained")
RANDOM = next(a.name for a in ARMS if a.mask_from == "random")
LATE = verdicts.late_study_arm()


def runs_for(ticket, reinit, random, **kw):
    return make_runs({TICKET: ticket, REINIT: reinit, RANDOM: random}, DENSE, **kw)


def correct(accuracy: float, n: int, rng) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rng.choice(n, int(round(accuracy * n)), replace=False)] = True
    return out


# --------------------------------------------------------------------------------------------
# One paired difference: t over seeds with the shared test set's variance
# --------------------------------------------------------------------------------------------

def test_identical_arms_give_a_zero_width_interval_at_zero_and_no_test():
    rng = np.random.default_rng(0)
    a = np.stack([correct(0.8, 500, rng) for _ in range(4)])
    row = inference.outcome_difference(a, a.copy())
    assert row["diff"] == 0 and row["ci_low"] == 0 and row["ci_high"] == 0
    assert np.isnan(row["p"]) and np.isnan(row["p_one_sided"])   # no spread: no test


def test_a_planted_five_point_difference_is_detected_through_the_test_sample():
    rng = np.random.default_rng(1)
    n, seeds = 2000, 4
    b = np.stack([correct(0.80, n, rng) for _ in range(seeds)])
    a = b.copy()
    for row in a:  # flip 5% of the examples to correct, among the wrong ones
        wrong = np.flatnonzero(~row)
        row[rng.choice(wrong, int(0.05 * n), replace=False)] = True
    got = inference.outcome_difference(a, b)
    assert got["diff"] == pytest.approx(5.0)
    # every seed gains exactly 5 points: the seeds alone give no width; the test set does
    assert got["t_low"] == pytest.approx(5.0) and got["t_high"] == pytest.approx(5.0)
    assert 0 < got["ci_low"] < 5 < got["ci_high"] and got["se_test"] > 0
    assert got["p_one_sided"] < 1e-3 and got["p"] == pytest.approx(2 * got["p_one_sided"])


def test_disagreeing_seeds_widen_the_interval_beyond_the_test_sample():
    rng = np.random.default_rng(2)
    b = np.stack([correct(0.8, 1000, rng) for _ in range(4)])
    a = b.copy()
    for shift, row in zip((0.0, 0.08, 0.0, 0.08), a):
        wrong = np.flatnonzero(~row)
        row[rng.choice(wrong, int(shift * 1000), replace=False)] = True
    got = inference.outcome_difference(a, b)
    assert got["diff"] == pytest.approx(4.0) and got["se_seeds"] > got["se_test"] > 0
    assert got["ci_low"] < got["t_low"] < 0 < 4 < got["t_high"] < got["ci_high"]   # not resolved: 2 of 4 seeds
    q = stats.t_quantile(0.975, 3)
    assert got["ci_high"] - got["diff"] == pytest.approx(q * np.hypot(got["se_seeds"], got["se_test"]))


# --------------------------------------------------------------------------------------------
# Holm, and the family
# --------------------------------------------------------------------------------------------

def test_holm_matches_statsmodels_and_keeps_nans():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    expected = multipletests(p[:4], method="holm")[1]
    got = paired.holm(p)
    assert np.allclose(got[:4], expected) and np.isnan(got[4])
    assert np.allclose(got[:4], [0.03, 0.06, 0.06, 0.02])


def test_the_primary_family_is_declared_and_only_its_rows_are_adjusted():
    assert [h.key for h in paired.PRIMARY_FAMILY] == ["matches_dense", "beats_reinit", "beats_random_pruning"]
    assert paired.PRIMARY_FAMILY[0].bound == -paired.MARGIN and paired.MARGIN == 1.0
    level = {lvl: [(0.82, 0.82), (0.83, 0.82), (0.84, 0.84)] for lvl in (1, 2)}
    control = {lvl: [(0.70, 0.7), (0.72, 0.7), (0.75, 0.7)] for lvl in (1, 2)}
    runs = pd.concat([runs_for(level, control, control, model=m) for m in ("cnn", "lstm")], ignore_index=True)
    table = paired.paired_differences(runs)
    primary = table[table["family"] == "primary"]
    assert len(primary) == 6   # 2 dataset × model × 3 hypotheses
    assert set(primary["interval_source"]) == {inference.SEEDS_ONLY}
    assert np.allclose(primary["p_holm"], multipletests(primary["p_one_sided"], method="holm")[1])
    assert table.loc[table["family"] == "exploratory", "p_holm"].isna().all()
    assert set(table["comparison"]) == {paired.VS_DENSE, paired.VS_REINIT, paired.VS_RANDOM}


def test_keep_embedding_reinit_is_compared_only_where_it_ran():
    spec = {TICKET: {1: [(0.8, 0.8)] * 3}, REINIT: {1: [(0.7, 0.7)] * 3}}
    without = paired.paired_differences(make_runs(spec, DENSE))
    assert paired.VS_KEPT not in set(without["comparison"])
    with_kept = paired.paired_differences(make_runs({**spec, KEPT: {1: [(0.75, 0.7)] * 3}}, DENSE))
    kept = with_kept[with_kept["comparison"] == paired.VS_KEPT]
    assert list(kept["reference"]) == [KEPT] and kept["diff"].iloc[0] == pytest.approx(5.0)
    assert kept["family"].iloc[0] == "exploratory"


def test_each_trunk_is_paired_with_its_own_reinit():
    assert (paired.VS_REINIT, LATE, next(a.name for a in ARMS if a.trunk == LATE)) in paired.comparisons(ARMS.names())
    for comparison, arm, reference in paired.comparisons(ARMS.names()):
        if comparison == paired.VS_REINIT:
            assert ARMS.get(reference).trunk == arm


# --------------------------------------------------------------------------------------------
# The level, chosen on validation
# --------------------------------------------------------------------------------------------

def test_level_is_chosen_on_validation_not_test():
    # dense (test, val) per seed: 0.80/0.82/0.84.  Level 2 matches on validation (paired diff 0)
    # but is poor on test; level 3 is best on test and fails on validation.
    ticket = {1: [(0.80, 0.80), (0.82, 0.82), (0.84, 0.84)],
              2: [(0.70, 0.80), (0.72, 0.82), (0.74, 0.84)],
              3: [(0.90, 0.70), (0.92, 0.72), (0.94, 0.74)]}
    control = {lvl: [(0.60, 0.6)] * 3 for lvl in (1, 2, 3)}
    runs = runs_for(ticket, control, control)
    chosen = paired.choose_level(runs)
    at = chosen[chosen["margin"] == paired.MARGIN].iloc[0]
    assert at["matched"] and at["level"] == 2
    row = verdicts.verdict_table(paired.paired_differences(runs), runs).iloc[0]
    assert row["level"] == 2 and row["vs_dense"] == pytest.approx(-10.0)
    assert not row["matches_dense"] and row["matched_on_validation"]
    assert row["vs_reinit"] == pytest.approx(12.0)


def test_no_matching_level_reports_the_level_nearest_13_percent():
    levels = range(1, 11)   # 0.8**9 = 13.4% remaining is the nearest to 13%
    ticket = {lvl: [(0.5, 0.5), (0.52, 0.5), (0.5, 0.52)] for lvl in levels}
    runs = runs_for(ticket, ticket, ticket)
    row = verdicts.verdict_table(paired.paired_differences(runs), runs).iloc[0]
    assert not row["matched_on_validation"] and row["level"] == 9 and not row["matches_dense"]
    assert row["study_claim"] == "does not hold" and row["study_sparsity"] == 36.0
    assert "no pruned level matches dense on validation" in verdicts.describe_verdicts(
        verdicts.verdict_table(paired.paired_differences(runs), runs))


def test_margin_sensitivity_and_a_matching_ticket():
    # the ticket trails dense by 0.6, 0.7 and 0.8 points on validation and test: the t lower
    # bound is -0.7 - 4.303 * 0.1 / sqrt(3) = -0.95, inside a 1 point margin, outside 0.5
    gaps = (0.006, 0.007, 0.008)
    ticket = {1: [(t - g, v - g) for (t, v), g in zip(DENSE, gaps)], 2: [(t - 0.05, v - 0.05) for t, v in DENSE]}
    control = {lvl: [(0.5, 0.5)] * 3 for lvl in (1, 2)}
    runs = runs_for(ticket, control, control)
    differences = paired.paired_differences(runs)
    row = verdicts.verdict_table(differences, runs).iloc[0]
    assert row["level"] == 1 and row["matches_dense"]
    assert not row["matches_0_5pt"] and row["matches_1pt"] and row["matches_2pt"]
    assert row["vs_reinit_verdict"] == "beats" and row["vs_random_pruning_verdict"] == "beats"
    answer = verdicts.answer_table(verdicts.verdict_table(differences, runs))
    assert answer["matches dense?"].iloc[0].startswith("yes, to 20.0% sparsity")


# --------------------------------------------------------------------------------------------
# With stored predictions
# --------------------------------------------------------------------------------------------

def _predictions(runs: pd.DataFrame, n: int = 400, n_classes: int = 4, seed: int = 0):
    """predictions.csv and test_labels.csv whose accuracies are each row's test_acc."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    rows = []
    for r in runs.itertuples(index=False):
        hit = correct(r.test_acc, n, np.random.default_rng([seed, int(r.seed), int(r.level), len(r.arm)]))
        predicted = np.where(hit, labels, (labels + 1) % n_classes)
        rows.append({"config_hash": r.config_hash, "level": r.level, "dataset": r.dataset, "model": r.model,
                     "arm": r.arm, "seed": r.seed, "data_hash": "d0",
                     "predicted": encode_classes(torch.as_tensor(predicted))})
    test_labels = pd.DataFrame([{"data_hash": "d0", "dataset": runs["dataset"].iloc[0], "protocol": "x",
                                 "labels": encode_classes(torch.as_tensor(labels))}])
    return pd.DataFrame(rows), test_labels


def test_stored_predictions_add_the_test_sample_and_give_per_class_results():
    ticket = {1: [(0.80, 0.80), (0.82, 0.82), (0.84, 0.84)]}
    control = {1: [(0.60, 0.6)] * 3}
    runs = runs_for(ticket, control, control, dataset="ag_news")
    predictions, labels = _predictions(runs)
    table = paired.paired_differences(runs, predictions, labels)
    assert set(table["interval_source"]) == {inference.SEEDS_AND_TEST}
    row = table[table["comparison"] == paired.VS_REINIT].iloc[0]
    assert row["diff"] == pytest.approx(22.0, abs=0.3) and row["ci_low"] > 0 and row["n_examples"] == 400
    assert row["ci_low"] < row["t_low"] and row["t_high"] < row["ci_high"]   # both kept; the test set widens
    assert row["se_test"] > 0 and row["p_one_sided"] < 0.05
    # an older store: the predictions of one seed missing -> the seed-only t-interval, and said so
    partial = paired.paired_differences(runs, predictions[predictions["seed"] != 1], labels)
    assert set(partial["interval_source"]) == {inference.SEEDS_ONLY}
    seeds_only = partial[partial["comparison"] == paired.VS_REINIT].iloc[0]
    assert (seeds_only["ci_low"], seeds_only["ci_high"]) == (seeds_only["t_low"], seeds_only["t_high"])
    assert np.isnan(seeds_only["se_test"])

    by_class, confusions = per_class.per_class(runs, predictions, labels, paired.choose_level(runs))
    assert set(by_class["network"]) == {paired.DENSE, TICKET}
    assert list(by_class["class_name"].iloc[:4]) == DATASETS.get("ag_news").classes(None)
    outcomes = paired.ExampleOutcomes(predictions, labels)
    pooled = [outcomes.classes("ag_news", "cnn", TICKET, s, 1) for s in (0, 1, 2)]
    true, pred = np.concatenate([t for t, _ in pooled]), np.concatenate([p for _, p in pooled])
    expected = 100 * recall_score(true, pred, average=None)
    got = by_class[by_class["network"] == TICKET].sort_values("class")["recall"].to_numpy()
    assert np.allclose(got, expected)
    dense_cells = confusions[confusions["network"] == paired.DENSE]
    assert len(dense_cells) == 16
    assert np.allclose(dense_cells.groupby("true")["share"].sum(), 100)
    fig = figures.plot_confusion(confusions)
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= 2
    fig = figures.plot_paired_differences(table)
    assert fig.axes[0].get_xscale() == "log"


def test_one_seed_gives_no_interval_and_no_verdict_even_with_predictions():
    runs = make_runs({TICKET: {1: [(0.9, 0.9)]}, REINIT: {1: [(0.6, 0.6)]}, RANDOM: {1: [(0.6, 0.6)]}},
                     [(0.8, 0.8)], seeds=(0,))
    predictions, labels = _predictions(runs)
    table = paired.paired_differences(runs, predictions, labels)
    assert set(table["interval_source"]) == {inference.ONE_SEED}
    assert table["ci_low"].isna().all() and table["p_one_sided"].isna().all() and table["diff"].notna().all()
    row = verdicts.verdict_table(table, runs).iloc[0]
    assert row["vs_reinit_verdict"] == "one seed: no interval" == row["vs_random_pruning_verdict"]
    assert row["vs_reinit_kept_verdict"] == "not run"


def test_recall_on_a_tiny_example_equals_sklearn():
    true, pred = np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 0, 2])
    runs = make_runs({TICKET: {1: [(5 / 7, 0.5)]}}, [(5 / 7, 0.5)], seeds=(0,))
    predictions = pd.DataFrame([{"config_hash": "h", "level": lvl, "dataset": "imdb", "model": "cnn", "arm": TICKET,
                                 "seed": 0, "data_hash": "d", "predicted": "".join(chr(48 + c) for c in pred)}
                                for lvl in (0, 1)])
    labels = pd.DataFrame([{"data_hash": "d", "dataset": "imdb", "protocol": "study",
                            "labels": "".join(chr(48 + c) for c in true)}])
    chosen = pd.DataFrame([{"dataset": "imdb", "model": "cnn", "margin": paired.MARGIN, "level": 1}])
    by_class, _ = per_class.per_class(runs, predictions, labels, chosen)
    dense = by_class[by_class["network"] == paired.DENSE]
    assert np.allclose(dense["recall"], 100 * recall_score(true, pred, average=None))
    assert list(dense["class_name"]) == ["0", "1", "2"]   # IMDb has two names, three classes here


# --------------------------------------------------------------------------------------------
# The study's two tables
# --------------------------------------------------------------------------------------------

def test_the_late_rewinding_table_is_in_the_registry_and_read_by_dense_rewinding():
    assert ARMS.get(LATE).reset_to == "dense_final"
    late = tables.study_table(LATE).set_index(["dataset", "model"])
    assert late.loc[("imdb", "cnn"), "study_ticket_acc"] == 87.64
    assert late.loc[("ag_news", "lstm"), "study_ticket_sparsity"] == 73.8
    assert tables.study_table().set_index(["dataset", "model"]).loc[("imdb", "cnn"), "study_ticket_acc"] == 87.55
    ticket = {1: [(0.8, 0.8)] * 3, 2: [(0.8, 0.8)] * 3}
    runs = make_runs({TICKET: ticket, LATE: ticket}, DENSE)
    row = verdicts.verdict_table(paired.paired_differences(runs), runs).iloc[0]
    assert row["late_ticket_acc"] == 87.64 and row["late_level"] == 2   # 36% -> 48.8% needs level 2
    assert "gives no number" not in row["late_claim"]


def test_claims_use_the_margin():
    assert verdicts.claim_verdict(-0.9, 0.5) == "holds"
    assert verdicts.claim_verdict(-3.0, -1.5) == "does not hold"
    assert verdicts.claim_verdict(-1.5, 0.5) == "not resolved at this scale"
    assert verdicts.interval_verdict(0.5, 2.0) == "beats"
    assert verdicts.interval_verdict(0.5, 2.0, p_holm=0.2) == "not resolved at this scale"
    assert verdicts.interval_verdict(-2.0, -0.5) == "loses"
    assert verdicts.interval_verdict(np.nan, np.nan, np.nan, diff=3.0) == "one seed: no interval"
    assert verdicts.interval_verdict(np.nan, np.nan) == "not run"


def test_reference_intervals_pick_the_level_nearest_13_percent():
    levels = range(1, 11)
    ticket = {lvl: [(0.8, 0.8)] * 3 for lvl in levels}
    reinit = {lvl: [(0.7, 0.8), (0.72, 0.8), (0.74, 0.8)] for lvl in levels}
    picked = verdicts.reference_intervals(runs_for(ticket, reinit, reinit))
    assert list(picked["level"]) == [9]
    assert picked["diff"].iloc[0] == pytest.approx(8.0)


def test_empty_runs_give_empty_tables_with_their_columns():
    table = verdicts.verdict_table(paired.paired_differences(pd.DataFrame()), pd.DataFrame())
    assert table.empty and "study_claim" in table.columns and "matches_0_5pt" in table.columns
    assert verdicts.describe_answer(table).startswith("No pruned results")
