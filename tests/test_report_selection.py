"""The report's selections and results: papermill strings parsed into a selection, the cells it
expects (the store's hashes), the results it loads, missing cells and the sentences that say why."""
from __future__ import annotations

import pandas as pd
import pytest

from lthlib.core.config import ConfigError, fingerprint, run_key
from lthlib.data.datasets import DATASETS
from lthlib.experiment import arms
from lthlib.experiment.arms import ARMS, TICKET
from lthlib.experiment.grid import Grid
from lthlib.experiment.profiles import PROFILES, experiment
from lthlib.report import labels, narrative, tables
from lthlib.report import notebook as report

from report_runs import LATE_REWINDING, RANDOM_PRUNING, RANDOM_REINIT, make_runs

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
    assert text.count("data unavailable: train.csv missing") == 1      # a reason is said once, its cells after it
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


def test_a_branch_s_later_levels_reach_the_tables():
    """A branch trains its branch_levels only (quick: 0, 2, 4, 5): counting them (4) must not cut
    the results at level 3, which dropped the controls at 16.8% and 10.7% from every table."""
    from lthlib.report.results import _keep
    frame = pd.DataFrame({"config_hash": ["b"] * 4 + ["t"] * 6, "level": [0, 2, 4, 5, 0, 1, 2, 3, 4, 5]})
    grid = Grid.of("quick", datasets=["imdb"], models=["cnn"], arms=[TICKET, RANDOM_REINIT], seeds=[0])
    expected = grid.expected().set_index("arm")
    assert expected.loc[RANDOM_REINIT, "last_level"] == 5 and expected.loc[RANDOM_REINIT, "levels_expected"] == 4
    assert expected.loc[TICKET, "last_level"] == 5
    kept = _keep(frame, pd.Series({"b": 5, "t": 3}))
    assert kept[kept.config_hash == "b"]["level"].tolist() == [0, 2, 4, 5]
    assert kept[kept.config_hash == "t"]["level"].tolist() == [0, 1, 2, 3]
