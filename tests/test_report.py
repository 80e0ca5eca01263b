"""The report layer on synthetic tables: selection criteria, intervals, figures, missing cells."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from lthlib import config as C
from lthlib import report as R

SEEDS = (0, 1, 2)
T_975_2 = 4.302652729911275  # t_{0.975, 2}


def make_runs(spec: dict, dense: dict, seeds=SEEDS, dataset="imdb", model="cnn") -> pd.DataFrame:
    """runs.csv rows: ``dense[seed] = (test, val)``; ``spec[arm][level] = [(test, val) per seed]``.
    Every arm gets the shared level-0 row, as the store writes it."""
    rows = []
    for arm, levels in spec.items():
        for seed_i, seed in enumerate(seeds):
            h = f"{arm}-{dataset}-{model}-{seed}"
            test0, val0 = dense[seed_i]
            rows.append(dict(dataset=dataset, model=model, arm=arm, seed=seed, level=0,
                             config_hash=h, remaining=1.0, test_acc=test0, best_val_acc=val0,
                             best_epoch=3, epochs_run=3, train_seconds=1.0, n_params=1000,
                             n_nonzero=1000, final_test_acc=test0, shared_from="dense"))
            for level, per_seed in levels.items():
                test, val = per_seed[seed_i]
                rows.append(dict(dataset=dataset, model=model, arm=arm, seed=seed, level=level,
                                 config_hash=h, remaining=0.8 ** level, test_acc=test,
                                 best_val_acc=val, best_epoch=1 + level % 3, epochs_run=3,
                                 train_seconds=1.0, n_params=1000,
                                 n_nonzero=int(1000 * 0.8 ** level), final_test_acc=test,
                                 shared_from=""))
    return pd.DataFrame(rows)


DENSE = [(0.80, 0.80), (0.82, 0.82), (0.84, 0.84)]  # mean 0.82, std 0.02


def same(test, val=0.5):
    return [(test, val)] * 3


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------

def test_confidence_interval_matches_a_hand_computation():
    mean, half = R.confidence_interval([0.80, 0.82, 0.84])
    assert mean == pytest.approx(0.82)
    assert half == pytest.approx(T_975_2 * 0.02 / math.sqrt(3), rel=1e-6)
    # 90%: t_{0.95, 4} = 2.131847
    values = [1.0, 2.0, 4.0, 7.0, 11.0]
    mean, half = R.confidence_interval(values, level=0.90)
    assert mean == pytest.approx(5.0)
    assert half == pytest.approx(2.131847 * np.std(values, ddof=1) / math.sqrt(5), rel=1e-5)


def test_confidence_interval_of_one_value_has_no_width_and_nans_are_dropped():
    mean, half = R.confidence_interval([0.7])
    assert mean == 0.7 and math.isnan(half)
    mean, half = R.confidence_interval([])
    assert math.isnan(mean) and math.isnan(half)
    assert R.confidence_interval([0.80, float("nan"), 0.82, 0.84]) == R.confidence_interval([0.80, 0.82, 0.84])


def test_t_quantile_without_scipy_is_close(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    assert R.t_quantile(0.975, 2) == pytest.approx(T_975_2, rel=1e-3)
    assert R.t_quantile(0.975, 60) == pytest.approx(2.000298, rel=1e-3)
    assert R.t_quantile(0.95, 10) == pytest.approx(1.812461, rel=1e-3)


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------

def _diverging_runs():
    """Test accuracy peaks at level 3, validation accuracy at level 1: the criteria disagree."""
    return make_runs({
        "winning_ticket": {1: same(0.81, 0.90), 2: same(0.82, 0.80), 3: same(0.86, 0.70)},
        "random_reinit": {1: same(0.70, 0.7), 2: same(0.65, 0.65), 3: same(0.60, 0.6)},
    }, DENSE)


def test_study_view_picks_the_best_level_on_test():
    view = R.study_view(_diverging_runs())
    row = view.iloc[0]
    assert row["dense_acc"] == pytest.approx(82.0)
    assert row["ticket_acc"] == pytest.approx(86.0)
    assert row["ticket_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 3))
    assert row["ticket_levels"] == "3,3,3"
    assert row["study_dense_acc"] == pytest.approx(87.04)  # beside the published numbers
    assert row["study_ticket_sparsity"] == pytest.approx(36.0)
    assert math.isnan(row["late_rewinding_acc"])  # no late-rewinding runs here


def test_study_view_averages_per_seed_choices():
    runs = make_runs({"winning_ticket": {1: [(0.90, 0), (0.70, 0), (0.70, 0)],
                                         2: [(0.80, 0), (0.80, 0), (0.85, 0)]}}, DENSE)
    row = R.study_view(runs).iloc[0]
    # seed 0 -> level 1 (0.90), seed 1 -> level 2 (0.80), seed 2 -> level 2 (0.85)
    assert row["ticket_acc"] == pytest.approx(100 * (0.90 + 0.80 + 0.85) / 3)
    assert row["ticket_sparsity"] == pytest.approx(100 * (0.2 + 0.36 + 0.36) / 3)
    assert row["ticket_levels"] == "1,2,2"


def test_sound_view_picks_the_level_on_validation():
    view = R.sound_view(_diverging_runs())
    row = view[view["arm"] == "winning_ticket"].iloc[0]
    assert row["chosen_levels"] == "1,1,1"
    assert row["chosen_acc"] == pytest.approx(81.0)
    assert row["chosen_sparsity"] == pytest.approx(20.0)
    assert row["chosen_ci"] == pytest.approx(0.0)  # the same value on every seed
    study = R.study_view(_diverging_runs()).iloc[0]
    assert study["ticket_acc"] != pytest.approx(row["chosen_acc"])


def test_sound_view_ci_is_a_t_interval_over_seeds():
    runs = make_runs({"winning_ticket": {1: [(0.80, 0.9), (0.82, 0.9), (0.84, 0.9)]}}, DENSE)
    row = R.sound_view(runs).iloc[0]
    assert row["chosen_acc"] == pytest.approx(82.0)
    assert row["chosen_ci"] == pytest.approx(T_975_2 * 2.0 / math.sqrt(3), rel=1e-6)
    assert row["dense_acc"] == pytest.approx(82.0)
    assert row["dense_std"] == pytest.approx(2.0)


def test_matches_dense_criteria():
    # dense mean 82, std 2.  Level 1 mean 83 (>= mean), level 2 mean 80.5 (within one std),
    # level 3 mean 79 (neither), level 4 mean 82.5 (>= mean again: the largest sparsity counts).
    runs = make_runs({"winning_ticket": {
        1: [(0.82, 0.5), (0.83, 0.5), (0.84, 0.5)],
        2: [(0.80, 0.5), (0.805, 0.5), (0.81, 0.5)],
        3: [(0.79, 0.5), (0.79, 0.5), (0.79, 0.5)],
        4: [(0.825, 0.5), (0.825, 0.5), (0.825, 0.5)],
        5: [(0.805, 0.5), (0.805, 0.5), (0.805, 0.5)],
        6: [(0.70, 0.5), (0.70, 0.5), (0.70, 0.5)]}}, DENSE)
    row = R.sound_view(runs).iloc[0]
    assert row["match_mean_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 4))
    assert row["match_std_sparsity"] == pytest.approx(100 * (1 - 0.8 ** 5))


def test_matches_dense_when_nothing_matches_and_with_one_seed():
    runs = make_runs({"winning_ticket": {1: same(0.5)}}, DENSE)
    row = R.sound_view(runs).iloc[0]
    assert math.isnan(row["match_mean_sparsity"]) and math.isnan(row["match_std_sparsity"])
    one = make_runs({"winning_ticket": {1: [(0.9, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))
    row = R.sound_view(one).iloc[0]
    assert math.isnan(row["match_std_sparsity"])  # no std with one seed
    assert row["match_mean_sparsity"] == pytest.approx(20.0)
    assert math.isnan(row["chosen_ci"])


def test_paired_difference_per_level():
    runs = make_runs({
        "winning_ticket": {1: [(0.81, 0), (0.82, 0), (0.83, 0)], 2: same(0.80)},
        "random_reinit": {1: [(0.80, 0), (0.80, 0), (0.80, 0)], 2: same(0.80)},
    }, DENSE)
    diff = R.paired_difference(runs, "winning_ticket", "random_reinit")
    assert list(diff["level"]) == [1, 2]  # level 0 is the same network for both
    first = diff.iloc[0]
    assert first["diff"] == pytest.approx(2.0)  # points: 1, 2, 3
    assert first["ci"] == pytest.approx(T_975_2 * 1.0 / math.sqrt(3), rel=1e-6)
    assert first["n"] == 3 and first["remaining"] == pytest.approx(0.8)
    assert diff.iloc[1]["diff"] == pytest.approx(0.0)
    assert R.paired_difference(runs, "winning_ticket", "random_pruning").empty
    assert "points" in R.describe_comparison(runs, "winning_ticket", "random_reinit")


def test_paired_difference_pairs_by_seed_not_by_position():
    a = make_runs({"winning_ticket": {1: [(0.9, 0), (0.8, 0), (0.7, 0)]}}, DENSE)
    b = make_runs({"random_reinit": {1: [(0.9, 0), (0.8, 0), (0.7, 0)]}}, DENSE)
    runs = pd.concat([a, b.iloc[::-1]], ignore_index=True)
    diff = R.paired_difference(runs)
    assert diff.iloc[0]["diff"] == pytest.approx(0.0)
    assert diff.iloc[0]["ci"] == pytest.approx(0.0)


def test_dense_table_counts_each_seed_once():
    runs = _diverging_runs()  # two arms, each with the shared level-0 rows
    table = R.dense_table(runs)
    assert len(table) == 1 and table.iloc[0]["n_seeds"] == 3
    assert table.iloc[0]["test_acc"] == pytest.approx(82.0)
    assert "IMDb CNN" in R.describe_dense(table)


def test_level_table_and_sentences_render():
    runs = _diverging_runs()
    levels = R.level_table(runs)
    assert set(levels["arm"]) == {"winning_ticket", "random_reinit"}
    assert levels[(levels["arm"] == "winning_ticket") & (levels["level"] == 3)]["test_acc"].iloc[0] == pytest.approx(86.0)
    sound = R.sound_view(runs)
    for text in (R.describe_matches(sound), R.describe_study_vs_sound(R.study_view(runs), sound),
                 R.describe_early_stopping(runs)):
        assert "IMDb CNN" in text


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------

def test_mask_overlap_across_seeds_and_levels():
    runs = make_runs({"winning_ticket": {1: same(0.8), 2: same(0.8)}}, DENSE, seeds=(0, 1, 2))
    base = torch.zeros(10, dtype=torch.bool)

    def load_mask(config_hash, level):
        seed = int(config_hash.rsplit("-", 1)[1])
        m = base.clone()
        if level == 1:  # seeds 0, 1 identical (8 of 10); seed 2 shifted by two
            m[2 * (seed == 2): 8 + 2 * (seed == 2)] = True
        else:  # nested in level 1
            m[2 * (seed == 2): 6 + 2 * (seed == 2)] = True
        return {"w": m, "b": torch.ones(2, dtype=torch.bool)}

    overlap = R.mask_overlap(runs, load_mask)
    seeds1 = overlap[(overlap["kind"] == "across seeds") & (overlap["level"] == 1)].set_index("pair")
    assert seeds1.loc["seeds 0-1", "jaccard"] == pytest.approx(1.0)
    assert seeds1.loc["seeds 0-2", "jaccard"] == pytest.approx((6 + 2) / (10 + 2))
    assert seeds1.loc["seeds 0-1", "random"] == pytest.approx(0.8 / 1.2)
    consecutive = overlap[overlap["kind"] == "consecutive levels"]
    assert len(consecutive) == 3 and set(consecutive["level"]) == {2}
    assert consecutive["jaccard"].iloc[0] == pytest.approx((6 + 2) / (8 + 2))
    assert "Jaccard" in R.describe_overlap(overlap)


def test_local_jaccard_agrees_with_the_masks_module():
    a = {"x": torch.tensor([True, True, False, False]), "y": torch.tensor([True])}
    b = {"x": torch.tensor([True, False, True, False]), "y": torch.tensor([True])}
    assert R.jaccard(a, b) == pytest.approx(2 / 4)
    assert R.random_jaccard(1.0) == 1.0


# --------------------------------------------------------------------------------------------
# Figures and files
# --------------------------------------------------------------------------------------------

@pytest.fixture
def out_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_FIGURES_DIR", str(tmp_path / "figures"))
    return tmp_path


def _all_arms_runs():
    spec = {arm: {1: same(0.81, 0.8), 2: [(0.78, 0.8), (0.80, 0.7), (0.79, 0.6)],
                  3: same(0.75, 0.7)} for arm in C.ARMS}
    frames = [make_runs(spec, DENSE, model=m) for m in ("cnn", "lstm")]
    return pd.concat(frames, ignore_index=True)


def _layers(runs):
    rows = []
    for r in runs.itertuples(index=False):
        for tensor, size, shrink in (("embedding.weight", 100, 1.0), ("fc.weight", 10, 0.9),
                                     ("fc.bias", 2, 1.1)):
            rows.append(dict(config_hash=r.config_hash, dataset=r.dataset, model=r.model, arm=r.arm,
                             seed=r.seed, level=r.level, tensor=tensor, size=size,
                             remaining=min(1.0, r.remaining * shrink)))
    return pd.DataFrame(rows)


def test_figures_render_and_save(out_dirs):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    runs = _all_arms_runs()
    overlap = R.mask_overlap(runs, lambda h, lvl: {"w": torch.arange(10) < int(10 * 0.8 ** lvl)})
    figures = {
        "controls": R.plot_accuracy_vs_remaining(runs, R.CONTROL_ARMS),
        "rewinding": R.plot_accuracy_vs_remaining(runs, R.REWIND_ARMS),
        "early_stopping": R.plot_early_stopping(runs),
        "layers": R.plot_layer_remaining(_layers(runs)),
        "overlap": R.plot_mask_overlap(overlap),
        "empty": R.plot_accuracy_vs_remaining(runs.iloc[:0]),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        path = R.save_figure(fig, "smoke", name)
        assert path == out_dirs / "figures" / "smoke" / f"{name}.png"
        assert path.stat().st_size > 1000
        plt.close(fig)
    ax = figures["controls"].axes[0]
    assert ax.get_xscale() == "log"
    left, right = ax.get_xlim()
    assert left > right  # dense on the left, sparser to the right
    assert len(ax.collections) >= 3  # a CI band per arm


def test_save_table_writes_csv_and_markdown(out_dirs):
    view = R.study_view(_all_arms_runs())
    path = R.save_table(view, "smoke", "study_view")
    assert path == out_dirs / "results" / "smoke" / "tables" / "study_view.csv"
    assert len(pd.read_csv(path)) == len(view)
    md = path.with_suffix(".md").read_text()
    assert md.startswith("| dataset | model |") and md.count("\n") == len(view) + 2


# --------------------------------------------------------------------------------------------
# Selections and missing cells
# --------------------------------------------------------------------------------------------

def test_selection_parses_papermill_strings():
    sel = R.selection("smoke", datasets='["synthetic"]', models="cnn,lstm", seeds="[0]",
                      levels="2", prune_fraction=None, epochs=2, rewind_point="None")
    assert sel.datasets == ["synthetic"] and sel.models == ["cnn", "lstm"] and sel.seeds == [0]
    assert sel.overrides == {"levels": 2, "epochs": 2}
    default = R.selection("smoke")
    assert default.seeds == list(C.PROFILE_GRIDS["smoke"].seeds) and default.overrides == {}
    with pytest.raises(C.ConfigError):
        R.selection("huge")


def test_expected_cells_use_the_stores_hashes_and_note_refusals():
    sel = R.selection("smoke", seeds="[0]", models="cnn", rewind_point="5ep")
    cells = R.expected_cells(sel, ["winning_ticket", "late_rewinding"])
    wt = cells[cells["arm"] == "winning_ticket"].iloc[0]
    assert wt["config_hash"] == C.fingerprint(C.experiment("smoke", "synthetic", "cnn", seed=0,
                                                           rewind_point="5ep"))
    assert wt["levels_expected"] == C.experiment("smoke", "synthetic", "cnn").prune.levels + 1
    late = cells[cells["arm"] == "late_rewinding"].iloc[0]
    assert late["config_hash"] == "" and "past the end" in late["refused"]


def test_missing_cells_say_why():
    sel = R.selection("smoke", models="cnn,lstm", seeds="[0,1]")
    arms = ["winning_ticket", "random_reinit", "late_rewinding"]
    expected = R.expected_cells(sel, arms)
    n_levels = int(expected["levels_expected"].iloc[0])
    h = expected.set_index(["model", "arm", "seed"])["config_hash"]
    rows = []
    for seed in (0, 1):  # cnn winning tickets complete
        rows += [{"config_hash": h[("cnn", "winning_ticket", seed)], "level": lvl} for lvl in range(n_levels)]
    rows += [{"config_hash": h[("cnn", "random_reinit", 0)], "level": lvl} for lvl in range(2)]  # partial
    runs = pd.DataFrame(rows)
    status = pd.DataFrame([
        {"dataset": "synthetic", "model": "lstm", "arm": "winning_ticket", "seed": s,
         "config_hash": h[("lstm", "winning_ticket", s)], "status": "skipped",
         "reason": "data unavailable: train.csv missing", "levels_done": 0} for s in (0, 1)] + [
        {"dataset": "synthetic", "model": "cnn", "arm": "random_reinit", "seed": 0,
         "config_hash": h[("cnn", "random_reinit", 0)], "status": "done", "reason": "",
         "levels_done": 2}])
    missing = R.missing_cells(runs, status, expected).set_index(["model", "arm", "seed"])
    assert ("cnn", "winning_ticket", 0) not in missing.index
    assert len(missing) == 2 * 3 * 2 - 2
    assert missing.loc[("lstm", "winning_ticket", 1), "reason"] == "data unavailable: train.csv missing"
    partial = missing.loc[("cnn", "random_reinit", 0)]
    assert partial["state"] == "partial" and partial["levels_found"] == 2
    assert "only 2 of" in partial["reason"]
    never = missing.loc[("cnn", "late_rewinding", 1)]
    assert never["state"] == "missing" and "04_late_rewinding" in never["reason"]
    text = R.describe_missing(missing.reset_index())
    assert "data unavailable" in text and "Synthetic LSTM" in text
    assert "has all its levels" in R.describe_missing(R.missing_cells(runs, status, expected.iloc[:0]))


def test_describe_status_names_skipped_datasets():
    status = pd.DataFrame([
        {"dataset": "imdb", "model": "cnn", "arm": "winning_ticket", "seed": 0, "status": "done", "reason": ""},
        {"dataset": "ag_news", "model": "cnn", "arm": "winning_ticket", "seed": 0, "status": "skipped",
         "reason": "data unavailable: train.csv not found"}])
    text = R.describe_status(status)
    assert "AG News did not run" in text and "train.csv not found" in text
    assert R.describe_status(status.iloc[:1]).startswith("All 1 cells ran")


def test_sentences_with_one_seed_say_there_is_no_interval():
    one = make_runs({"winning_ticket": {1: [(0.9, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))
    text = R.describe_matches(R.sound_view(one))
    assert "one seed" in text and "not defined with one seed" in text
    both = pd.concat([one, make_runs({"random_reinit": {1: [(0.7, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))])
    assert "no intervals" in R.describe_comparison(both, "winning_ticket", "random_reinit")
