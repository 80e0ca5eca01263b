"""The report layer on synthetic tables: intervals, selection criteria, labels, figures, missing cells."""
from __future__ import annotations

import ast
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from lthlib.core.config import ConfigError, fingerprint, run_key  # noqa: E402
from lthlib.data.datasets import DATASETS  # noqa: E402
from lthlib.experiment import arms  # noqa: E402
from lthlib.experiment import overlap as mask_overlaps  # noqa: E402
from lthlib.experiment.arms import ARMS, TICKET, families  # noqa: E402
from lthlib.experiment.profiles import PROFILES, experiment  # noqa: E402
from lthlib.nets.models import MODELS  # noqa: E402
from lthlib.report import (
    figures,
    labels,
    narrative,
    stats,
    tables,  # noqa: E402
)
from lthlib.report import notebook as report

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)
T_975_2 = 4.302652729911275  # t_{0.975, 2}
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

def _diverging_runs():
    """Test accuracy peaks at level 3, validation accuracy at level 1: the criteria disagree."""
    return make_runs({
        TICKET: {1: same(0.81, 0.90), 2: same(0.82, 0.80), 3: same(0.86, 0.70)},
        RANDOM_REINIT: {1: same(0.70, 0.7), 2: same(0.65, 0.65), 3: same(0.60, 0.6)},
    }, DENSE)


def test_study_table_comes_from_the_dataset_registry():
    table = tables.study_table().set_index(["dataset", "model"])
    for ds in DATASETS:
        for model, numbers in ds.study.items():
            assert table.loc[(ds.name, model), "study_ticket_acc"] == numbers.ticket_acc
            assert table.loc[(ds.name, model), "study_n_params"] == numbers.n_params
    assert len(table) == sum(len(ds.study) for ds in DATASETS)


def test_study_view_picks_the_best_level_on_test():
    view = tables.study_view(_diverging_runs())
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
    view = tables.sound_view(_diverging_runs())
    row = view[view["arm"] == TICKET].iloc[0]
    assert row["chosen_levels"] == "1,1,1"
    assert row["chosen_acc"] == pytest.approx(81.0)
    assert row["chosen_sparsity"] == pytest.approx(20.0)
    assert row["chosen_ci"] == pytest.approx(0.0)  # the same value on every seed
    study = tables.study_view(_diverging_runs()).iloc[0]
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
    table = tables.dense_table(_diverging_runs())  # two arms, each with the shared level-0 rows
    assert len(table) == 1 and table.iloc[0]["n_seeds"] == 3
    assert table.iloc[0]["test_acc"] == pytest.approx(82.0)
    assert "IMDb CNN" in narrative.describe_dense(table)


def test_level_table_and_sentences_render():
    runs = _diverging_runs()
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
    notebooks 01-05's grid (the store holds notebook 07's transfer study too); the tables
    re-render from it with the same numbers and columns."""
    folder = ROOT / "results" / "quick"
    if not (folder / "runs.csv").exists():
        pytest.skip("no committed quick results")
    from lthlib.experiment.grid import selection
    from lthlib.experiment.store import read_csv
    runs = read_csv(folder / "runs.csv")
    expected = selection("quick", family="imp").expected()
    runs = runs[runs["config_hash"].isin(set(expected["config_hash"]))].reset_index(drop=True)

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
    expected["paired_differences"] = paired.paired_differences(imp, predictions, labels)  # the bootstrap
    expected["verdicts"] = verdicts.verdict_table(expected["paired_differences"], imp)
    expected["answer"] = verdicts.answer_table(expected["verdicts"], {"ag_news": "test_resplit"})
    expected["reference_intervals"] = verdicts.reference_intervals(imp)
    for name, table in expected.items():
        committed = pd.read_csv(folder / "tables" / f"{name}.csv")
        rendered = pd.read_csv(io.StringIO(table.to_csv(index=False)))
        pd.testing.assert_frame_equal(rendered, committed, rtol=1e-12, obj=name)


# --------------------------------------------------------------------------------------------
# Labels: registry names, protocols
# --------------------------------------------------------------------------------------------

def test_labels_come_from_the_registries_and_name_the_protocol():
    assert labels.dataset_label("imdb") == DATASETS.get("imdb").display
    resplit = labels.dataset_label("ag_news", "test_resplit")
    assert resplit == DATASETS.get("ag_news").display_name("test_resplit") and "re-split" in resplit
    pair = labels.pair_label("ag_news", "lstm", {"ag_news": "test_resplit"})
    assert pair == f"{resplit} {MODELS.get('lstm').display}"
    assert labels.dataset_label("not_registered") == "not_registered"
    assert labels.arm_label(TICKET) == ARMS.get(TICKET).display
    assert labels.arm_color(TICKET) == ARMS.get(TICKET).color


def test_comparisons_are_the_ticket_and_a_family():
    assert arms.comparison() == (TICKET,)
    assert arms.comparison("control") == (TICKET, *[a for a in families("control") if a != TICKET])
    assert arms.comparison("rewind")[1:] == families("rewind")
    assert set(arms.comparison("all")) == {a.name for a in ARMS if not a.transfers}
    assert [ARMS.get(a).is_trunk for a in arms.all_arms()] == sorted(
        (ARMS.get(a).is_trunk for a in arms.all_arms()), reverse=True)


def test_results_are_labelled_under_their_protocol():
    runs = make_runs({TICKET: {1: same(0.8)}, RANDOM_REINIT: {1: same(0.7)}}, DENSE, dataset="ag_news",
                     model="lstm", protocol="test_resplit")
    shown = labels.dataset_label("ag_news", "test_resplit")
    protocols = {"ag_news": "test_resplit"}
    assert shown in narrative.describe_comparison(runs, TICKET, RANDOM_REINIT)  # from the runs' column
    assert shown in narrative.describe_dense(tables.dense_table(runs), protocols)
    assert shown in narrative.describe_matches(tables.sound_view(runs), protocols=protocols)
    fig = figures.plot_accuracy_vs_remaining(runs)
    assert fig.axes[0].get_title().startswith(shown)
    status = pd.DataFrame([{"dataset": "ag_news", "model": "lstm", "arm": TICKET, "seed": 0,
                            "status": "skipped", "reason": "data unavailable"}])
    assert f"{shown} did not run" in narrative.describe_status(status, protocols)


def test_no_report_module_spells_out_a_registered_name():
    """Datasets, models and arms are looked up in their registries, never written out."""
    names = set(DATASETS.names()) | set(MODELS.names()) | set(ARMS.names())
    modules = sorted((ROOT / "lthlib" / "report").glob("*.py")) + [ROOT / "lthlib" / "experiment" / "grid.py"]
    assert len(modules) > 10
    for module in modules:
        tree = ast.parse(module.read_text())
        spelled = {node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)} & names
        assert not spelled, f"{module.relative_to(ROOT)} spells out {sorted(spelled)}"


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------

def test_mask_overlap_across_seeds_and_levels():
    runs = make_runs({TICKET: {1: same(0.8), 2: same(0.8)}}, DENSE, seeds=(0, 1, 2))
    base = torch.zeros(10, dtype=torch.bool)

    def load_mask(config_hash, level):
        seed = int(config_hash.rsplit("-", 1)[1])
        m = base.clone()
        if level == 1:  # seeds 0, 1 identical (8 of 10); seed 2 shifted by two
            m[2 * (seed == 2): 8 + 2 * (seed == 2)] = True
        else:  # nested in level 1
            m[2 * (seed == 2): 6 + 2 * (seed == 2)] = True
        return {"w": m, "b": torch.ones(2, dtype=torch.bool)}

    overlap = mask_overlaps.mask_overlap(runs, load_mask)
    seeds1 = overlap[(overlap["kind"] == "across seeds") & (overlap["level"] == 1)].set_index("pair")
    assert seeds1.loc["seeds 0-1", "jaccard"] == pytest.approx(1.0)
    assert seeds1.loc["seeds 0-2", "jaccard"] == pytest.approx((6 + 2) / (10 + 2))
    assert seeds1.loc["seeds 0-1", "random"] == pytest.approx(0.8 / 1.2)
    consecutive = overlap[overlap["kind"] == "consecutive levels"]
    assert len(consecutive) == 3 and set(consecutive["level"]) == {2}
    assert consecutive["jaccard"].iloc[0] == pytest.approx((6 + 2) / (8 + 2))
    assert consecutive["random"].iloc[0] == pytest.approx(0.8)  # nested: the size ratio
    assert "Jaccard" in narrative.describe_overlap(overlap)
    assert mask_overlaps.mask_overlap(runs.iloc[:0], load_mask).empty


def test_random_jaccard():
    assert mask_overlaps.random_jaccard(1.0) == 1.0
    assert mask_overlaps.random_jaccard(0.5) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------------
# Figures and files
# --------------------------------------------------------------------------------------------

@pytest.fixture
def out_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_FIGURES_DIR", str(tmp_path / "figures"))
    return tmp_path


def _all_arms_runs():
    spec = {arm: {1: same(0.81, 0.8), 2: [(0.78, 0.8), (0.80, 0.7), (0.79, 0.6)], 3: same(0.75, 0.7)}
            for arm in arms.all_arms()}
    return pd.concat([make_runs(spec, DENSE, model=m) for m in ("cnn", "lstm")], ignore_index=True)


def _layers(runs):
    rows = []
    for r in runs.itertuples(index=False):
        for tensor, size, shrink in (("embedding.weight", 100, 1.0), ("fc.weight", 10, 0.9),
                                     ("fc.bias", 2, 1.1)):
            rows.append(dict(config_hash=r.config_hash, dataset=r.dataset, model=r.model, arm=r.arm,
                             seed=r.seed, level=r.level, tensor=tensor, size=size,
                             remaining=min(1.0, r.remaining * shrink)))
    return pd.DataFrame(rows)


def _epochs(runs):
    dense = runs[runs["level"] == 0]
    return pd.DataFrame([dict(config_hash=r.config_hash, dataset=r.dataset, model=r.model, arm=r.arm,
                              seed=r.seed, level=0, epoch=e, train_acc=0.6 + 0.1 * e, val_acc=0.6 + 0.05 * e,
                              test_acc=0.6)
                         for r in dense.itertuples(index=False) for e in (1, 2, 3)])


def test_figures_render_and_save(out_dirs):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    runs = _all_arms_runs()
    overlap = mask_overlaps.mask_overlap(runs, lambda h, lvl: {"w": torch.arange(10) < int(10 * 0.8 ** lvl)})
    made = {
        "controls": figures.plot_accuracy_vs_remaining(runs, arms.comparison("control")),
        "rewinding": figures.plot_accuracy_vs_remaining(runs, arms.comparison("rewind")),
        "early_stopping": figures.plot_early_stopping(runs, arms.comparison("control")),
        "layers": figures.plot_layer_remaining(_layers(runs)),
        "overlap": figures.plot_mask_overlap(overlap),
        "curves": figures.plot_training_curves(_epochs(runs)),
        "empty": figures.plot_accuracy_vs_remaining(runs.iloc[:0]),
    }
    for name, fig in made.items():
        assert isinstance(fig, Figure)
        path = report.save_figure(fig, "smoke", name)
        assert path == out_dirs / "figures" / "smoke" / f"{name}.png"
        assert path.stat().st_size > 1000
        plt.close(fig)
    ax = made["controls"].axes[0]
    assert ax.get_xscale() == "log"
    left, right = ax.get_xlim()
    assert left > right  # dense on the left, sparser to the right
    assert len(ax.collections) >= len(arms.comparison("control"))  # a CI band per arm
    legend = [t.get_text() for t in made["controls"].legends[0].get_texts()]
    assert legend[:2] == [f"{ARMS.get(TICKET).display}, 3 seeds", f"{ARMS.get(RANDOM_REINIT).display}, 3 seeds"]


def _legend(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_accuracy_figure_says_each_arms_seeds_and_marks_one_seed_lines():
    runs = pd.concat([make_runs({TICKET: {1: same(0.8), 2: same(0.7)}}, DENSE),
                      make_runs({RANDOM_REINIT: {1: [(0.6, 0)], 2: [(0.5, 0)]}}, DENSE[:1], seeds=(0,)),
                      make_runs({RANDOM_PRUNING: {1: same(0.6)[:2], 2: [(0.5, 0), (0.6, 0)]}}, DENSE[:2],
                                seeds=(0, 1))], ignore_index=True)
    fig = figures.plot_accuracy_vs_remaining(runs, [TICKET, RANDOM_REINIT, RANDOM_PRUNING])
    legend = _legend(fig)
    assert f"{ARMS.get(TICKET).display}, 3 seeds" in legend
    assert f"{ARMS.get(RANDOM_REINIT).display}, 1 seed" in legend
    assert f"{ARMS.get(RANDOM_PRUNING).display}, 2 seeds" in legend
    assert "dense mean, 3 seeds" in legend  # over every seed shown, not the first arm's
    ax = fig.axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles[f"{ARMS.get(RANDOM_REINIT).display}, 1 seed"] == "--"
    assert styles[f"{ARMS.get(TICKET).display}, 3 seeds"] == "-"
    assert len(ax.collections) == 1  # a band for the 3-seed arm only: two seeds' t-band swamps a panel
    dense = next(line for line in ax.get_lines() if line.get_label().startswith("dense"))
    assert dense.get_ydata()[0] == pytest.approx(100 * np.mean([d[0] for d in DENSE]))
    one = make_runs({TICKET: {1: [(0.8, 0)]}}, DENSE[:1], seeds=(0,))
    assert "dense, seed 0" in _legend(figures.plot_accuracy_vs_remaining(one))


def test_seeds_text_counts_and_ranges():
    assert figures.seeds_text([1, 1]) == "1 seed"
    assert figures.seeds_text([8]) == "8 seeds"
    assert figures.seeds_text([8, 4, 8]) == "4–8 seeds"


def test_remaining_axis_keeps_a_tick_per_level_when_arms_round_differently():
    runs = make_runs({TICKET: {lvl: same(0.8) for lvl in range(1, 7)},
                      RANDOM_PRUNING: {lvl: same(0.7) for lvl in range(1, 7)}}, DENSE)
    apart = (runs["arm"] == RANDOM_PRUNING) & runs["level"].between(1, 3)
    runs.loc[apart, "remaining"] *= 1 + 1e-5  # a few weights' rounding apart, at some levels: still one level
    ax = figures.plot_accuracy_vs_remaining(runs).axes[0]
    ticks = ax.xaxis.get_major_locator()()
    assert len(ticks) == 7  # dense and six levels
    labels = [ax.xaxis.get_major_formatter()(t, i) for i, t in enumerate(ticks)]
    assert labels == [f"{100 * 0.8 ** lvl:.3g}" for lvl in range(7)]


def test_early_stopping_legend_is_outside_and_intervals_stay_in_the_epochs_trained():
    runs = make_runs({TICKET: {1: same(0.8), 2: same(0.8)}, RANDOM_REINIT: {1: same(0.7), 2: same(0.7)}}, DENSE)
    runs["best_epoch"] = runs["seed"].map({0: 1, 1: 3, 2: 3})  # raw interval about [-0.5, 5.2]
    fig = figures.plot_early_stopping(runs, [TICKET, RANDOM_REINIT])
    ax = fig.axes[0]
    assert ax.get_legend() is None and f"{ARMS.get(TICKET).display}, 3 seeds" in _legend(fig)
    bars = [seg for c in ax.collections for seg in c.get_segments()]
    assert bars and all(1 <= y <= 3 for seg in bars for y in seg[:, 1])  # epochs_run = 3
    assert ax.get_ylim() == (0.5, 3.5)


def test_layer_remaining_labels_only_major_ticks():
    from matplotlib.ticker import NullFormatter
    ax = figures.plot_layer_remaining(_layers(_all_arms_runs())).axes[0]
    assert isinstance(ax.yaxis.get_minor_formatter(), NullFormatter)
    low, high = ax.get_ylim()
    majors = [t for t in ax.yaxis.get_major_locator()() if low <= t <= high]
    assert {f"{t:.3g}"[0] for t in majors} <= {"1", "2", "5"}


def test_plain_log_ticks_are_plain_numbers_without_minor_labels():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([12, 160], [0, 1])
    ax.set_xscale("log")
    figures.plain_log_ticks(ax.xaxis)
    low, high = ax.get_xlim()
    labels = [ax.xaxis.get_major_formatter()(t, 0) for t in ax.xaxis.get_major_locator()() if low <= t <= high]
    assert labels == ["20", "30", "50", "100"]
    assert ax.xaxis.get_minor_formatter()(30, 0) == ""
    plt.close(fig)


def test_mask_overlap_draws_and_names_the_references_on_top():
    runs = make_runs({TICKET: {1: same(0.8), 2: same(0.8)}}, DENSE)
    overlap = mask_overlaps.mask_overlap(runs, lambda h, lvl: {"w": torch.arange(10) < int(10 * 0.8 ** lvl)})
    fig = figures.plot_mask_overlap(overlap)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    nested = lines[figures.OVERLAP_REFERENCES["consecutive levels"][1]]
    assert nested.get_zorder() > lines["consecutive levels"].get_zorder()
    assert nested.get_color() != lines["consecutive levels"].get_color()
    assert ax.get_legend() is None and nested.get_label() in _legend(fig)


def test_mask_distance_labels_y_on_the_first_column_only():
    distances = pd.DataFrame([dict(dataset="imdb", model=m, level=lvl, remaining=100 * 0.8 ** lvl, epoch=e,
                                   distance=0.01 * lvl / e) for m in ("cnn", "lstm") for lvl in (1, 2)
                              for e in (2, 3)])
    fig = figures.plot_mask_distance(distances, epsilon=0.1)
    left, right = fig.axes[:2]
    assert left.get_ylabel() and right.get_ylabel() == ""
    assert "ε = 0.1" in _legend(fig) and "80% kept" in _legend(fig)


def test_price_dodges_arms_at_one_cost_and_says_their_seeds():
    rows = [dict(dataset="imdb", model="cnn", arm=arm, level=lvl, n=n, test_acc=80 - lvl, total_epochs=total)
            for arm, n, cost in ((TICKET, 3, None), (RANDOM_PRUNING, 3, 3.0), ("snip", 1, 3.0), ("grasp", 1, 3.0))
            for lvl in (1, 2) for total in [cost or 3.0 * (lvl + 1)]]
    fig = figures.plot_price(pd.DataFrame(rows))
    ax = fig.axes[0]
    xs = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    strip = [x for label, x in xs.items() if not label.startswith(ARMS.get(TICKET).display)]
    assert len(set(strip)) == 3 and min(strip) < 3.0 < max(strip)  # side by side around x = 3
    assert f"{ARMS.get('snip').display}, 1 seed" in _legend(fig)


def test_the_recurrent_model_is_named_bilstm():
    assert labels.model_label("lstm") == "BiLSTM"
    runs = make_runs({TICKET: {1: same(0.8)}}, DENSE, model="lstm")
    assert figures.plot_accuracy_vs_remaining(runs).axes[0].get_title() == "IMDb BiLSTM"


def test_save_table_writes_csv_and_markdown(out_dirs):
    view = tables.study_view(_all_arms_runs())
    path = report.save_table(view, "smoke", "study_view")
    assert path == out_dirs / "results" / "smoke" / "tables" / "study_view.csv"
    assert len(pd.read_csv(path)) == len(view)
    md = path.with_suffix(".md").read_text()
    assert md.startswith("| dataset | model |") and md.count("\n") == len(view) + 2
    md = report.to_markdown(pd.DataFrame({"a": [1.234, float("nan")], "b": ["x|y", "z"]}))
    assert md.splitlines()[2:] == ["| 1.23 | x\\|y |", "|  | z |"]


def test_show_paired_differences_saves_one_table_per_arm(out_dirs, capsys):
    runs = _diverging_runs()
    report.show_paired_differences(runs, "smoke", [TICKET, RANDOM_REINIT, RANDOM_PRUNING])
    folder = out_dirs / "results" / "smoke" / "tables"
    assert len(pd.read_csv(folder / f"paired_{TICKET}_vs_{RANDOM_REINIT}.csv")) == 3
    assert not (folder / f"paired_{TICKET}_vs_{RANDOM_PRUNING}.csv").exists()  # empty: replaces nothing
    out = capsys.readouterr().out
    assert "IMDb CNN" in out and f"nothing to save: table paired_{TICKET}_vs_{RANDOM_PRUNING} is empty" in out


# --------------------------------------------------------------------------------------------
# Selections, results, missing cells
# --------------------------------------------------------------------------------------------

def test_selection_parses_papermill_strings():
    sel = report.selection("smoke", datasets='["synthetic"]', models="cnn,lstm", seeds="[0]",
                           levels="2", prune_fraction=None, epochs=2, rewind_point="None")
    assert sel.datasets == ["synthetic"] and sel.models == ["cnn", "lstm"] and sel.seeds == [0]
    assert sel.overrides == {"levels": 2, "epochs": 2}
    assert sel.arms == (TICKET,)
    default = report.selection("smoke")
    assert default.seeds == list(PROFILES.get("smoke").seeds) and default.overrides == {}
    assert report.selection("smoke", family="control").arms == arms.comparison("control")
    assert report.selection("smoke", arms=f"{TICKET},{RANDOM_PRUNING}", family="rewind").arms == (
        TICKET, RANDOM_PRUNING)
    assert report.selection("smoke").protocols == {"synthetic": DATASETS.get("synthetic").default_protocol}
    for bad in (dict(profile="huge"), dict(datasets="nope"), dict(arms="nope"), dict(no_such_parameter=1)):
        with pytest.raises(ConfigError):
            report.selection(**{"profile": "smoke", **bad})


def test_expected_cells_use_the_stores_hashes_and_note_refusals():
    sel = report.selection("smoke", seeds="[0]", models="cnn", rewind_point="5ep")
    cells = sel.expected([TICKET, LATE_REWINDING])
    wt = cells[cells["arm"] == TICKET].iloc[0]
    cfg = experiment("smoke", "synthetic", "cnn", seed=0, rewind_point="5ep")
    assert wt["config_hash"] == fingerprint(run_key(cfg, ARMS.get(TICKET).reads))
    assert wt["levels_expected"] == cfg.prune.levels + 1
    late = cells[cells["arm"] == LATE_REWINDING].iloc[0]
    assert late["config_hash"] == "" and "past the end" in late["refused"]


def test_load_results_keeps_the_selections_runs_and_levels(out_dirs):
    sel = report.selection("smoke", models="cnn", seeds="[0]", levels=1)
    wanted = sel.expected().iloc[0]["config_hash"]
    runs = make_runs({TICKET: {1: [(0.8, 0.8)], 2: [(0.7, 0.7)]}}, [(0.9, 0.9)], seeds=(0,),
                     dataset="synthetic")
    runs["config_hash"] = wanted
    other = runs.assign(config_hash="another")  # the same cell under other parameters
    folder = out_dirs / "results" / "smoke"
    folder.mkdir(parents=True)
    pd.concat([runs, other]).to_csv(folder / "runs.csv", index=False)
    results = report.load_results(sel)
    assert list(results.runs["level"]) == [0, 1]  # level 2 is a deeper run's, not this selection's
    assert set(results.runs["config_hash"]) == {wanted}
    assert results.epochs.empty and results.status.empty


def test_missing_cells_say_why():
    sel = report.selection("smoke", models="cnn,lstm", seeds="[0,1]")
    arms = [TICKET, RANDOM_REINIT, LATE_REWINDING]
    expected = sel.expected(arms)
    n_levels = int(expected["levels_expected"].iloc[0])
    h = expected.set_index(["model", "arm", "seed"])["config_hash"]
    rows = []
    for seed in (0, 1):  # cnn winning tickets complete
        rows += [{"config_hash": h[("cnn", TICKET, seed)], "level": lvl} for lvl in range(n_levels)]
    rows += [{"config_hash": h[("cnn", RANDOM_REINIT, 0)], "level": lvl} for lvl in range(2)]  # partial
    runs = pd.DataFrame(rows)
    status = pd.DataFrame([
        {"dataset": "synthetic", "model": "lstm", "arm": TICKET, "seed": s,
         "config_hash": h[("lstm", TICKET, s)], "status": "skipped",
         "reason": "data unavailable: train.csv missing", "levels_done": 0} for s in (0, 1)] + [
        {"dataset": "synthetic", "model": "cnn", "arm": RANDOM_REINIT, "seed": 0,
         "config_hash": h[("cnn", RANDOM_REINIT, 0)], "status": "done", "reason": "", "levels_done": 2}])
    missing = tables.missing_cells(runs, status, expected)
    assert list(missing.columns) == tables.MISSING_COLUMNS
    missing = missing.set_index(["model", "arm", "seed"])
    assert ("cnn", TICKET, 0) not in missing.index
    assert len(missing) == 2 * 3 * 2 - 2
    assert missing.loc[("lstm", TICKET, 1), "reason"] == "data unavailable: train.csv missing"
    partial = missing.loc[("cnn", RANDOM_REINIT, 0)]
    assert partial["state"] == "partial" and partial["levels_found"] == 2
    assert "only 2 of" in partial["reason"]
    never = missing.loc[("cnn", LATE_REWINDING, 1)]
    assert never["state"] == "missing" and ARMS.get(LATE_REWINDING).notebook in never["reason"]
    text = narrative.describe_missing(missing.reset_index())
    assert "data unavailable" in text and "Synthetic BiLSTM" in text
    none_missing = tables.missing_cells(runs, status, expected.iloc[:0])
    assert "has all its levels" in narrative.describe_missing(none_missing)


def test_describe_status_names_skipped_datasets():
    status = pd.DataFrame([
        {"dataset": "imdb", "model": "cnn", "arm": TICKET, "seed": 0, "status": "done", "reason": ""},
        {"dataset": "ag_news", "model": "cnn", "arm": TICKET, "seed": 0, "status": "skipped",
         "reason": "data unavailable: train.csv not found"}])
    text = narrative.describe_status(status)
    assert "AG News did not run" in text and "train.csv not found" in text
    assert narrative.describe_status(status.iloc[:1]).startswith("All 1 cells ran")
    assert "No cell" in narrative.describe_status(status.iloc[:0])


def test_describe_left_out_says_whether_the_files_are_here(monkeypatch):
    quick = PROFILES.get("quick")
    sel = report.selection("quick", datasets=quick.datasets[0])
    monkeypatch.setattr(narrative, "files_missing", lambda relpaths: list(relpaths))
    text = narrative.describe_left_out(sel)
    for dataset in quick.datasets[1:]:
        assert f"{labels.dataset_label(dataset, sel.protocols[dataset])} did not run" in text
    assert "not available here" in text
    assert narrative.describe_left_out(report.selection("smoke")) == "No dataset of the profile was left out."


def test_describe_arms_uses_the_registry():
    text = narrative.describe_arms(arms.comparison("control"))
    assert all(ARMS.get(a).description in text for a in arms.comparison("control"))


def test_sentences_with_one_seed_say_there_is_no_interval():
    one = make_runs({TICKET: {1: [(0.9, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))
    text = narrative.describe_matches(tables.sound_view(one))
    assert "one seed" in text and "not defined with one seed" in text
    both = pd.concat([one, make_runs({RANDOM_REINIT: {1: [(0.7, 0.5)]}}, [(0.8, 0.8)], seeds=(0,))])
    assert "no intervals" in narrative.describe_comparison(both, TICKET, RANDOM_REINIT)
