"""Verdicts: the level is chosen on validation, the controls are judged by paired intervals,
and an interval that includes zero is reported as not resolved."""
import pandas as pd
import pytest

from lthlib.experiment.arms import TICKET
from lthlib.report import verdicts
from tests.test_report import DENSE, make_runs

REINIT, RANDOM = verdicts.control_arms()


def per_seed(*pairs):
    return list(pairs)


def runs_for(ticket, reinit, random):
    return make_runs({TICKET: ticket, REINIT: reinit, RANDOM: random}, DENSE)


def test_controls_come_from_the_registry():
    assert (REINIT, RANDOM) == ("random_reinit", "random_pruning")


def test_level_is_the_sparsest_matching_on_validation_not_test():
    # dense val: mean 0.82, std 0.02 -> levels with mean val >= 0.80 match
    ticket = {1: per_seed((0.80, 0.81), (0.82, 0.81), (0.84, 0.81)),
              2: per_seed((0.70, 0.80), (0.72, 0.80), (0.74, 0.80)),   # matches on val, poor on test
              3: per_seed((0.90, 0.70), (0.90, 0.70), (0.90, 0.70))}   # best on test, fails on val
    control = {lvl: per_seed((0.60, 0.6), (0.61, 0.6), (0.62, 0.6)) for lvl in (1, 2, 3)}
    table = verdicts.verdict_table(runs_for(ticket, control, control), arms=[TICKET])
    row = table.iloc[0]
    assert row["matched"] and row["level"] == 2
    assert row["sparsity_pct"] == pytest.approx(100 * (1 - 0.8 ** 2))
    assert row["vs_dense"] == pytest.approx(-10.0)
    assert row[f"vs_{REINIT}"] == pytest.approx(11.0) and row[f"vs_{REINIT}_verdict"] == "beats"


def test_intervals_that_include_zero_are_not_resolved_and_below_zero_lose():
    ticket = {1: per_seed((0.80, 0.82), (0.82, 0.82), (0.84, 0.82))}
    noisy = {1: per_seed((0.78, 0.5), (0.84, 0.5), (0.83, 0.5))}       # diffs +2, -2, +1
    better = {1: per_seed((0.85, 0.5), (0.87, 0.5), (0.90, 0.5))}      # diffs -5, -5, -6
    row = verdicts.verdict_table(runs_for(ticket, noisy, better), arms=[TICKET]).iloc[0]
    assert row[f"vs_{REINIT}_verdict"] == "not resolved at this scale"
    assert row[f"vs_{RANDOM}_verdict"] == "loses"
    text = verdicts.describe_verdicts(verdicts.verdict_table(runs_for(ticket, noisy, better), arms=[TICKET]))
    assert "not resolved at this scale" in text and "loses to random pruning" in text
    assert "no effect" not in text


def test_no_matching_level_reports_the_level_nearest_13_percent_and_the_study_does_not_hold():
    levels = range(1, 11)   # 0.8**9 = 13.4% remaining is the nearest to 13%
    ticket = {lvl: per_seed((0.5, 0.5), (0.5, 0.5), (0.5, 0.5)) for lvl in levels}
    table = verdicts.verdict_table(runs_for(ticket, ticket, ticket), arms=[TICKET])
    row = table.iloc[0]
    assert not row["matched"] and row["level"] == 9
    assert row["study_holds"] == "does not hold" and row["study_sparsity"] == 36.0
    assert "matches dense at no pruned level" in verdicts.describe_verdicts(table)


def test_study_conclusion_holds_only_at_lower_sparsity_when_the_match_is_less_sparse():
    assert verdicts._study_holds(True, 20.0, 36.0) == "holds only at lower sparsity"
    assert verdicts._study_holds(True, 48.8, 36.0) == "holds"
    assert verdicts._study_holds(True, 48.8, float("nan")).startswith("the study gives no number")


def test_reference_intervals_pick_the_level_nearest_13_percent():
    levels = range(1, 11)
    ticket = {lvl: per_seed((0.8, 0.8), (0.8, 0.8), (0.8, 0.8)) for lvl in levels}
    reinit = {lvl: per_seed((0.7, 0.8), (0.72, 0.8), (0.74, 0.8)) for lvl in levels}
    picked = verdicts.reference_intervals(runs_for(ticket, reinit, reinit))
    assert list(picked["level"]) == [9]
    assert picked["diff"].iloc[0] == pytest.approx(8.0) and picked["remaining"].iloc[0] == pytest.approx(100 * 0.8 ** 9)


def test_empty_runs_give_an_empty_table_with_its_columns():
    table = verdicts.verdict_table(pd.DataFrame())
    assert table.empty and "study_holds" in table.columns
