"""The report's figures and files on synthetic runs: mask overlaps, every figure drawn and saved
(axes, ticks, legends that say each arm's seeds), and tables saved as CSV and Markdown."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lthlib.experiment import arms  # noqa: E402
from lthlib.experiment import overlap as mask_overlaps  # noqa: E402
from lthlib.experiment.arms import ARMS, TICKET  # noqa: E402
from lthlib.report import figures, labels, narrative, tables  # noqa: E402
from lthlib.report import notebook as report  # noqa: E402

from report_runs import DENSE, RANDOM_PRUNING, RANDOM_REINIT, diverging_runs, make_runs, same  # noqa: E402

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


def test_remaining_axis_labels_no_two_levels_that_sit_close():
    runs = make_runs({TICKET: {lvl: same(0.8) for lvl in range(1, 4)},
                      RANDOM_PRUNING: {lvl: same(0.7) for lvl in range(1, 4)}}, DENSE)
    runs["remaining"] = 0.45 ** runs["level"]
    runs.loc[(runs["arm"] == RANDOM_PRUNING) & (runs["level"] > 0), "remaining"] *= 1.18  # a transferred mask's level
    ax = figures.plot_accuracy_vs_remaining(runs).axes[0]
    ticks = ax.xaxis.get_major_locator()()
    labels = [ax.xaxis.get_major_formatter()(t, i) for i, t in enumerate(ticks)]
    assert len(ticks) == 7                          # a tick at every level of either arm
    assert labels[:3] == ["100", "53.1", ""] and [bool(label) for label in labels[3:]] == [True, False, True, False]


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
    runs = diverging_runs()
    report.show_paired_differences(runs, "smoke", [TICKET, RANDOM_REINIT, RANDOM_PRUNING])
    folder = out_dirs / "results" / "smoke" / "tables"
    assert len(pd.read_csv(folder / f"paired_{TICKET}_vs_{RANDOM_REINIT}.csv")) == 3
    assert not (folder / f"paired_{TICKET}_vs_{RANDOM_PRUNING}.csv").exists()  # empty: replaces nothing
    out = capsys.readouterr().out
    assert "IMDb CNN" in out      # the bookkeeping waits for the notebook's closing section
    assert f"nothing to save: table paired_{TICKET}_vs_{RANDOM_PRUNING} is empty" in report._BOOKKEEPING
