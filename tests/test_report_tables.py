"""The report's tables on synthetic runs: confidence intervals and summaries, the study's and the
sound view (which level each picks), paired differences, the dense and level tables and their
sentences, and the committed quick tables re-rendered with the same numbers."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lthlib.data.datasets import DATASETS
from lthlib.experiment import arms
from lthlib.experiment.arms import ARMS, TICKET
from lthlib.report import narrative, stats, tables

from report_runs import DENSE, LATE_REWINDING, RANDOM_PRUNING, RANDOM_REINIT, diverging_runs, make_runs, same

ROOT = Path(__file__).resolve().parent.parent
T_975_2 = 4.302652729911275  # t_{0.975, 2}


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, level", [([0.80, 0.82, 0.84], 0.95), ([1.0, 2.0, 4.0, 7.0, 11.0], 0.90),
                                           ([0.5, 0.7], 0.99)])
def test_confidence_interval_is_scipys_t_interval(values, level):
    mean, half = stats.confidence_interval(values, level)
    low, high = scipy_stats.t.interval(level, len(values) - 1, loc=np.mean(values),
                                       scale=scipy_stats.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert (mean - half, mean + half) == pytest.approx((low, high), rel=1e-12)
    assert stats.confidence_interval([0.80, 0.82, 0.84])[1] == pytest.approx(T_975_2 * 0.02 / math.sqrt(3))


def test_confidence_interval_of_one_value_has_no_width_and_nans_are_dropped():
    mean, half = stats.confidence_interval([0.7])
    assert mean == 0.7 and math.isnan(half)
    mean, half = stats.confidence_interval([])
    assert math.isnan(mean) and math.isnan(half)
    with_nan = stats.confidence_interval([0.80, float("nan"), 0.82, 0.84])
    assert with_nan == stats.confidence_interval([0.80, 0.82, 0.84])
    assert stats.t_quantile(0.975, 2) == pytest.approx(T_975_2)
    assert stats.format_ci(82.0, float("nan"), unit="%") == "82.00% (one seed, no interval)"


def test_summarise_groups_and_keeps_remaining():
    runs = make_runs({TICKET: {1: [(0.80, 0), (0.82, 0), (0.84, 0)]}}, DENSE)
    table = stats.summarise(runs, ["arm", "level"])
    row = table[table["level"] == 1].iloc[0]
    assert row["n"] == 3 and row["mean"] == pytest.approx(0.82) and row["remaining"] == pytest.approx(0.8)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * row["ci"])
    assert list(stats.summarise(runs.iloc[:0], ["arm"]).columns)[:2] == ["arm", "n"]


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------

def test_study_table_comes_from_the_dataset_registry():
    table = tables.study_table().set_index(["dataset", "model"])
    for ds in DATASETS:
        for model, numbers in ds.study.items():
            assert table.loc[(ds.name, model), "study_ticket_acc"] == numbers.ticket_acc
            assert table.loc[(ds.name, model), "study_n_params"] == numbers.n_params
    assert len(table) == sum(len(ds.study) for ds in DATASETS)


def test_study_view_picks_the_best_level_on_test():
    view = tables.study_view(diverging_runs())
    row = view.iloc[0]
    assert row["dense_acc"] == pytest.approx(82.0)
    assert row["ticket_acc"] == pytest.approx(86.0)
    assert row["ticket_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 3))
    assert row["ticket_levels"] == "3,3,3"
    study = DATASETS.get("imdb").study["cnn"]
    assert row["study_dense_acc"] == pytest.approx(study.dense_acc)  # beside the published numbers
    assert row["study_ticket_sparsity"] == pytest.approx(study.ticket_sparsity)
    assert math.isnan(row[f"{LATE_REWINDING}_acc"])  # no late-rewinding runs here
    assert [prefix for _, prefix in tables.study_arms()][0] == "ticket"


def test_study_view_averages_per_seed_choices():
    runs = make_runs({TICKET: {1: [(0.90, 0), (0.70, 0), (0.70, 0)],
                               2: [(0.80, 0), (0.80, 0), (0.85, 0)]}}, DENSE)
    row = tables.study_view(runs).iloc[0]
    # seed 0 -> level 1 (0.90), seed 1 -> level 2 (0.80), seed 2 -> level 2 (0.85)
    assert row["ticket_acc"] == pytest.approx(100 * (0.90 + 0.80 + 0.85) / 3)
    assert row["ticket_sparsity"] == pytest.approx(100 * (0.2 + 0.36 + 0.36) / 3)
    assert row["ticket_levels"] == "1,2,2"


def test_sound_view_picks_the_level_on_validation():
    view = tables.sound_view(diverging_runs())
    row = view[view["arm"] == TICKET].iloc[0]
    assert row["chosen_levels"] == "1,1,1"
    assert row["chosen_acc"] == pytest.approx(81.0)
    assert row["chosen_sparsity"] == pytest.approx(20.0)
    assert row["chosen_ci"] == pytest.approx(0.0)  # the same value on every seed
    study = tables.study_view(diverging_runs()).iloc[0]
    assert study["ticket_acc"] != pytest.approx(row["chosen_acc"])


def test_sound_view_ci_is_a_t_interval_over_seeds():
    runs = make_runs({TICKET: {1: [(0.80, 0.9), (0.82, 0.9), (0.84, 0.9)]}}, DENSE)
    row = tables.sound_view(runs).iloc[0]
    assert row["chosen_acc"] == pytest.approx(82.0)
    assert row["chosen_ci"] == pytest.approx(T_975_2 * 2.0 / math.sqrt(3), rel=1e-6)
    assert row["dense_acc"] == pytest.approx(82.0)
    assert row["dense_std"] == pytest.approx(2.0)


def test_matches_dense_criteria():
    # dense mean 82, std 2.  Level 1 mean 83 (>= mean), level 2 mean 80.5 (within one std),
    # level 3 mean 79 (neither), level 4 mean 82.5 (>= mean again: the largest sparsity counts).
    runs = make_runs({TICKET: {
        1: [(0.82, 0.5), (0.83, 0.5), (0.84, 0.5)],
        2: [(0.80, 0.5), (0.805, 0.5), (0.81, 0.5)],
        3: [(0.79, 0.5), (0.79, 0.5), (0.79, 0.5)],
        4: [(0.825, 0.5), (0.825, 0.5), (0.825, 0.5)],
        5: [(0.805, 0.5), (0.805, 0.5), (0.805, 0.5)],
        6: [(0.70, 0.5), (0.70, 0.5), (0.70, 0.5)]}}, DENSE)
    row = tables.sound_view(runs).iloc[0]
    assert row["match_mean_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 4))
    assert row["match_std_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 5))


def test_matches_dense_when_nothing_matches_and_with_one_seed():
    runs = make_runs({TICKET: {1: same(0.5)}}, DENSE)
    row = tables.sound_view(runs).iloc[0]
    assert math.isnan(row["match_mean_sparsity"]) and math.isnan(row["match_std_sparsity"])
    one = make_runs({TICKET: {1: [(0.9, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))
    row = tables.sound_view(one).iloc[0]
    assert math.isnan(row["match_std_sparsity"])  # no std with one seed
    assert row["match_mean_sparsity"] == pytest.approx(20.0)
    assert math.isnan(row["chosen_ci"])


def test_sound_view_orders_arms_trunks_first():
    runs = make_runs({arm: {1: same(0.8)} for arm in (RANDOM_PRUNING, LATE_REWINDING, TICKET)}, DENSE)
    assert list(tables.sound_view(runs)["arm"]) == [TICKET, LATE_REWINDING, RANDOM_PRUNING]


def test_paired_difference_per_level():
    runs = make_runs({
        TICKET: {1: [(0.81, 0), (0.82, 0), (0.83, 0)], 2: same(0.80)},
        RANDOM_REINIT: {1: [(0.80, 0), (0.80, 0), (0.80, 0)], 2: same(0.80)},
    }, DENSE)
    diff = stats.paired_difference(runs, TICKET, RANDOM_REINIT)
    assert list(diff["level"]) == [1, 2]  # level 0 is the same network for both
    first = diff.iloc[0]
    assert first["diff"] == pytest.approx(2.0)  # points: 1, 2, 3
    assert first["ci"] == pytest.approx(T_975_2 * 1.0 / math.sqrt(3), rel=1e-6)
    assert first["n"] == 3 and first["remaining"] == pytest.approx(0.8)
    assert diff.iloc[1]["diff"] == pytest.approx(0.0)
    assert stats.paired_difference(runs, TICKET, RANDOM_PRUNING).empty
    assert "points" in narrative.describe_comparison(runs, TICKET, RANDOM_REINIT)


def test_paired_difference_pairs_by_seed_not_by_position():
    a = make_runs({TICKET: {1: [(0.9, 0), (0.8, 0), (0.7, 0)]}}, DENSE)
    b = make_runs({RANDOM_REINIT: {1: [(0.9, 0), (0.8, 0), (0.7, 0)]}}, DENSE)
    runs = pd.concat([a, b.iloc[::-1]], ignore_index=True)
    diff = stats.paired_difference(runs, TICKET, RANDOM_REINIT)
    assert diff.iloc[0]["diff"] == pytest.approx(0.0)
    assert diff.iloc[0]["ci"] == pytest.approx(0.0)


def test_dense_table_counts_each_seed_once():
    table = tables.dense_table(diverging_runs())  # two arms, each with the shared level-0 rows
    assert len(table) == 1 and table.iloc[0]["n_seeds"] == 3
    assert table.iloc[0]["test_acc"] == pytest.approx(82.0)
    assert "IMDb CNN" in narrative.describe_dense(table)


def test_level_table_and_sentences_render():
    runs = diverging_runs()
    levels = tables.level_table(runs)
    assert set(levels["arm"]) == {TICKET, RANDOM_REINIT}
    ticket3 = levels[(levels["arm"] == TICKET) & (levels["level"] == 3)]
    assert ticket3["test_acc"].iloc[0] == pytest.approx(86.0)
    assert ticket3["remaining_pct"].iloc[0] == pytest.approx(100 * 0.8 ** 3)
    sound = tables.sound_view(runs)
    for text in (narrative.describe_matches(sound),
                 narrative.describe_study_vs_sound(tables.study_view(runs), sound),
                 narrative.describe_early_stopping(runs),
                 narrative.describe_against(runs, [TICKET, RANDOM_REINIT])):
        assert "IMDb CNN" in text
    assert ARMS.get(RANDOM_REINIT).display in narrative.describe_against(runs, [TICKET, RANDOM_REINIT])


def test_committed_quick_tables_re_render_with_the_same_numbers():
    """results/quick/tables were written from results/quick/runs.csv, restricted to the runs of
    notebooks 01-05's grid (the store holds notebook 07's transfer study too: its cells are in
    transfer_status.csv, the grid's in status.csv); the tables re-render from it with the same
    numbers and columns."""
    folder = ROOT / "results" / "quick"
    if not (folder / "runs.csv").exists():
        pytest.skip("no committed quick results")
    from lthlib.experiment.store import read_csv
    runs = read_csv(folder / "runs.csv")
    grid = set(read_csv(folder / "status.csv")["config_hash"])
    runs = runs[runs["config_hash"].isin(grid)].reset_index(drop=True)

    def of(arms):
        return runs[runs["arm"].isin(arms)].reset_index(drop=True)

    rewinding, imp = arms.comparison("rewind"), of(arms.comparison("imp"))   # notebook 05's arms
    expected = {"dense_accuracy": tables.dense_table(imp), "study_view": tables.study_view(imp),
                "sound_view": tables.sound_view(imp), "accuracy_by_level": tables.level_table(imp),
                "study_view_winning_ticket": tables.study_view(of([TICKET])),
                "sound_view_winning_ticket": tables.sound_view(of([TICKET]), [TICKET]),
                "study_view_rewinding": tables.study_view(of(rewinding)),
                "sound_view_rewinding": tables.sound_view(of(rewinding), rewinding)}
    for arm in (RANDOM_REINIT, RANDOM_PRUNING):
        expected[f"paired_{TICKET}_vs_{arm}"] = stats.paired_difference(runs, TICKET, arm)
    from lthlib.report import paired, verdicts
    predictions, labels = read_csv(folder / "predictions.csv"), read_csv(folder / "test_labels.csv")
    predictions = predictions[predictions["config_hash"].isin(set(runs["config_hash"]))]
    expected["paired_differences"] = paired.paired_differences(imp, predictions, labels)
    expected["verdicts"] = verdicts.verdict_table(expected["paired_differences"], imp)
    expected["answer"] = verdicts.answer_table(expected["verdicts"], {"ag_news": "test_resplit"})
    expected["reference_intervals"] = verdicts.reference_intervals(imp)
    for name, table in expected.items():
        committed = pd.read_csv(folder / "tables" / f"{name}.csv")
        rendered = pd.read_csv(io.StringIO(table.to_csv(index=False)))
        pd.testing.assert_frame_equal(rendered, committed, rtol=1e-12, obj=name)
